"""Plain-text summaries of a stored run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from crawler.storage.sql import SqlStore


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A left-aligned text table."""
    cells = [[str(h) for h in headers]] + [["-" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_summary(store: SqlStore, run_id: int) -> str:
    run = store.run(run_id) or {}
    by_status = store.page_counts(run_id, "status")
    by_found_via = store.page_counts(run_id, "found_via")
    total = sum(n for _, n in by_status)
    lines = [
        f"Run {run_id} of {run.get('spider')} from {run.get('start_url')}: "
        f"{total} pages (finish reason: {run.get('finish_reason') or 'unknown'})",
        "",
        table(
            ["status", "pages"], [(s if s is not None else "no response", n) for s, n in by_status]
        ),
        "",
        table(["found via", "pages"], by_found_via),
    ]
    unchanged = dict(store.page_counts(run_id, "unchanged")).get(True, 0)
    if unchanged:  # an incremental re-crawl (crawler.incremental)
        lines += [
            "",
            f"{unchanged} of {total} pages unchanged since the previous run: not parsed, "
            "their stored links followed, their items kept as stored",
        ]
    specs = store.spec_counts(run_id)
    if specs:
        lines += ["", table(["items of spec", "stored", "rejected"], specs)]
    return "\n".join(lines)


def pages_table(store: SqlStore, run_id: int, base_url: str = "") -> str:
    rows = [
        (
            p["url"].removeprefix(base_url) or "/",
            p["status"],
            p["found_via"],
            "yes" if p["rendered"] else "no",
            p["title"],
        )
        for p in store.pages(run_id)
    ]
    return table(["url", "status", "found via", "rendered", "title"], rows)
