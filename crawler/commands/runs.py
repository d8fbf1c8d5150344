"""``crawler runs``: the latest runs in a store, with their verdict, counts and finish reason.

The status column is the verdict the run's stats keep (``outcome/status`` and
``outcome/failed/<code>``, :func:`crawler.outcome.record_verdict`):
``succeeded``, ``failed: start_url_failed, no_pages``, ``interrupted``; ``-``
for a run without a verdict (still going, or from before verdicts).

Reading never creates a store: a missing one is an error (exit code 2).
"""

from __future__ import annotations

import argparse
from typing import Any

from crawler.commands.options import add_store_option, store_url
from crawler.outcome import recorded_verdict
from crawler.runner import project_settings
from crawler.storage.sql import SqlStore
from crawler.summary import table


def _positive(text: str) -> int:
    """``--limit``'s value: a whole number of runs, at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"takes a whole number of runs, at least 1, not {text!r}")
    return value


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("runs", help="list the latest runs in a store")
    add_store_option(p)
    p.add_argument("-n", "--limit", type=_positive, default=20, help="how many runs (default 20)")
    p.set_defaults(run=run)


def items_written(run: dict[str, Any]) -> int:
    """Items the run wrote, from its stats: a later run that updates them takes over
    their rows, so counting rows would show 0.  Without stats (a run still going, or
    whose store failed) the rows it last wrote are counted."""
    stats = run["stats"] if isinstance(run["stats"], dict) else {}
    return int(stats.get("store/items_written", run["items"]))


def run_status(run: dict[str, Any]) -> str:
    """The run's verdict from its stats: ``succeeded``, ``failed: CODE, ...``, or ``-``."""
    stats = run["stats"] if isinstance(run["stats"], dict) else {}
    return recorded_verdict(stats) or "-"


def run(args: argparse.Namespace) -> int:
    store = SqlStore.open(store_url(args, project_settings()), create=False)
    try:
        listed = store.runs(args.limit)
        counts = [int(r["unchanged"] or 0) for r in listed]
        rows: list[tuple[Any, ...]] = [
            (
                r["id"],
                r["spider"],
                r["start_url"] or "-",
                r["started_at"].strftime("%Y-%m-%d %H:%M:%S") if r["started_at"] else "-",
                run_status(r),
                r["finish_reason"] or "running?",
                r["pages"],
                items_written(r),
                r["rejects"],
            )
            for r in listed
        ]
    finally:
        store.close()
    if not rows:
        print("no runs in this store yet")
        return 0
    headers = ["run", "spider", "start url", "started (UTC)", "status", "finish reason", "pages"]
    headers += ["items", "rejects"]
    if any(unchanged for unchanged in counts):
        # Incremental re-crawls: pages found unchanged since the baseline (not
        # parsed; their stored items were carried into the run).
        headers.insert(7, "unchanged")
        rows = [(*row[:7], n, *row[7:]) for row, n in zip(rows, counts, strict=True)]
    print(table(headers, rows))
    return 0
