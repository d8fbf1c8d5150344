"""What the dashboard shows of a crawl store: runs, a run's summary, its pages and items.

Read-only queries on :class:`~crawler.storage.sql.SqlStore`'s tables.  Listings
are paginated, :data:`PAGE_SIZE` rows a page; searches are SQL ``LIKE`` through
SQLAlchemy's ``icontains(..., autoescape=True)``, so ``%`` and ``_`` in what a
user types match themselves.  Secrets are masked again on the way out
(:func:`crawler.redaction.redact_mapping` for stats and settings,
:func:`~crawler.redaction.redact_text` for URLs and messages), although the
store already drops them: what a run records may come from an older version.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, cast, func, or_, select

from crawler.commands.runs import items_written, run_status
from crawler.jobs.config import format_duration
from crawler.redaction import redact_mapping, redact_text
from crawler.storage.schema import items, links, pages

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.sql import Select

    from crawler.storage.sql import SqlStore

#: Rows per page of every listing.
PAGE_SIZE = 100
#: The longest search text (``?q=``, characters); longer is a :class:`BadQuery`
#: (SQLite refuses LIKE patterns over 50,000 bytes, and a long one is slow to match).
MAX_QUERY = 200
#: The log tail: at most this many bytes from the end of the file, and lines of it.
LOG_TAIL_BYTES = 256 * 1024
LOG_TAIL_LINES = 1000
#: ``?status=`` of the pages listing: a code (``404``), a class (``4xx``) or ``none``.
STATUS_FILTER = re.compile(r"(?P<code>[1-5]\d\d)|(?P<cls>[1-5])xx|(?P<none>none)", re.I)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class BadQuery(ValueError):
    """A query parameter the listing does not take (shown to the user, status 400)."""


@dataclass(frozen=True)
class Listing:
    """One page of a listing: its ``rows``, its 1-based ``page`` number, and
    whether a next page exists."""

    rows: list[dict[str, Any]]
    page: int
    has_next: bool


def utc_text(moment: datetime | None) -> str:
    """``moment`` as ``YYYY-mm-dd HH:MM:SS`` UTC (SQLite hands back naive UTC); ``-``."""
    if moment is None:
        return "-"
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.strftime(TIME_FORMAT)


def duration_text(started: datetime | None, finished: datetime | None) -> str:
    """``1m 5s``-style duration between two moments; ``-`` when one is missing."""
    if started is None or finished is None:
        return "-"
    seconds = (_aware(finished) - _aware(started)).total_seconds()
    return format_duration(round(max(seconds, 0.0), 1))


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _page_window(page: int) -> tuple[int, int]:
    """``(limit, offset)`` of 1-based ``page``: one row more than shown, to tell
    whether a next page exists."""
    return PAGE_SIZE + 1, (max(page, 1) - 1) * PAGE_SIZE


def _listing(rows: list[dict[str, Any]], page: int) -> Listing:
    return Listing(rows[:PAGE_SIZE], max(page, 1), len(rows) > PAGE_SIZE)


def list_runs(store: SqlStore, page: int = 1) -> Listing:
    """The runs, newest first: id, spider, start URL, started (UTC text), duration,
    status (the verdict, :func:`crawler.commands.runs.run_status`), finish reason,
    pages, items written."""
    limit, offset = _page_window(page)
    rows = [
        {
            "id": r["id"],
            "spider": r["spider"],
            "start_url": redact_text(r["start_url"] or ""),
            "started": utc_text(r["started_at"]),
            "duration": duration_text(r["started_at"], r["finished_at"]),
            "status": run_status(r),
            "finish_reason": r["finish_reason"] or "running?",
            "pages": r["pages"],
            "item_count": items_written(r),
        }
        for r in store.runs(limit, offset)
    ]
    return _listing(rows, page)


def run_summary(store: SqlStore, run_id: int) -> dict[str, Any] | None:
    """Run ``run_id``'s row for the run page, or ``None`` when the store has none:
    its fields as text, pages by status and by ``found_via``, items and rejects by
    spec, and its stats and settings as sorted ``(name, JSON text)`` pairs, masked."""
    run = store.run(run_id)
    if run is None:
        return None
    stats = run["stats"] if isinstance(run["stats"], dict) else {}
    settings = run["settings"] if isinstance(run["settings"], dict) else {}
    counted = {**run, "items": sum(n for _, n, _ in store.spec_counts(run_id))}
    return {
        "id": run["id"],
        "spider": run["spider"],
        "start_url": redact_text(run["start_url"] or ""),
        "started": utc_text(run["started_at"]),
        "finished": utc_text(run["finished_at"]),
        "duration": duration_text(run["started_at"], run["finished_at"]),
        "status": run_status(run),
        "finish_reason": run["finish_reason"] or "running?",
        "items_written": items_written(counted),
        "by_status": [
            ("no response" if s is None else str(s), n)
            for s, n in store.page_counts(run_id, "status")
        ],
        "by_found_via": store.page_counts(run_id, "found_via"),
        "specs": store.spec_counts(run_id),
        "links": link_counts(store, run_id),
        "stats": _pairs(redact_mapping(stats)),
        "settings": _pairs(redact_mapping(settings)),
    }


def link_counts(store: SqlStore, run_id: int) -> list[tuple[str, int]]:
    """The links run ``run_id`` recorded, as ``(what, count)``: ``followed`` (requested)
    first, then each reason one was not (:mod:`crawler.traps`), most frequent first."""
    query = (
        select(links.c.refused, func.count())
        .where(links.c.run_id == run_id)
        .group_by(links.c.refused)
        .order_by(links.c.refused.is_not(None), func.count().desc(), links.c.refused)
    )
    with store.engine.connect() as conn:
        return [(reason or "followed", n) for reason, n in conn.execute(query)]


def _pairs(values: dict[str, Any]) -> list[tuple[str, str]]:
    """Sorted ``(name, value)``: strings as they are, anything else as JSON."""
    return [
        (str(name), value if isinstance(value, str) else json.dumps(value, default=str))
        for name, value in sorted(values.items(), key=lambda kv: str(kv[0]))
    ]


def status_condition(text: str) -> Any:
    """The ``WHERE`` condition of ``?status=``: ``404``, ``4xx`` or ``none``
    (no response); ``None`` for an empty value.  :class:`BadQuery` otherwise."""
    text = text.strip()
    if not text:
        return None
    match = STATUS_FILTER.fullmatch(text)
    if match is None:
        raise BadQuery(
            f"status takes a code (404), a class (4xx) or none (no response), not {text!r}"
        )
    if match["code"]:
        return pages.c.status == int(match["code"])
    if match["cls"]:
        low = int(match["cls"]) * 100
        return pages.c.status.between(low, low + 99)
    return pages.c.status.is_(None)


def _checked_query(q: str) -> str:
    """``q``, or a :class:`BadQuery` when it is longer than :data:`MAX_QUERY`."""
    if len(q) > MAX_QUERY:
        raise BadQuery(f"the search text is {len(q):,} characters long: give at most {MAX_QUERY}")
    return q


def search_pages(
    store: SqlStore, run_id: int, q: str = "", status: str = "", page: int = 1
) -> Listing:
    """Pages of run ``run_id`` by URL, whose URL or title contains ``q`` (case
    insensitive) and whose status matches ``status`` (:func:`status_condition`).
    :class:`BadQuery` for a ``q`` over :data:`MAX_QUERY` characters."""
    query: Select[Any] = select(pages).where(pages.c.run_id == run_id)
    if _checked_query(q):
        query = query.where(
            pages.c.url.icontains(q, autoescape=True) | pages.c.title.icontains(q, autoescape=True)
        )
    condition = status_condition(status)
    if condition is not None:
        query = query.where(condition)
    limit, offset = _page_window(page)
    query = query.order_by(pages.c.url).limit(limit).offset(offset)
    with store.engine.connect() as conn:
        found = [dict(r) for r in conn.execute(query).mappings()]
    rows = [
        {
            "url": redact_text(r["url"]),
            "final_url": redact_text(r["final_url"]) if r["final_url"] != r["url"] else None,
            "status": "-" if r["status"] is None else r["status"],
            "title": r["title"] or "",
            "depth": r["depth"],
            "found_via": r["found_via"],
            "rendered": bool(r["rendered"]),
            "fetched_at": r["fetched_at"],
            "error": redact_text(r["error"]) if r["error"] else None,
        }
        for r in found
    ]
    return _listing(rows, page)


def search_items(
    store: SqlStore, run_id: int, q: str = "", spec: str = "", page: int = 1
) -> Listing:
    """Items last written by run ``run_id`` (the items table keeps one row per
    spec and key, updated by later runs), by spec and key, whose URL or data (as
    JSON text) contains ``q`` (case insensitive for ASCII letters), of ``spec``
    when given."""
    query: Select[Any] = select(items).where(items.c.run_id == run_id)
    if _checked_query(q):
        # The data is stored as JSON text: "é" as "\u00e9", '"' as '\"'; both forms match.
        data = cast(items.c.data, String)
        query = query.where(
            or_(
                items.c.url.icontains(q, autoescape=True),
                *(data.icontains(form, autoescape=True) for form in {q, json.dumps(q)[1:-1]}),
            )
        )
    if spec:
        query = query.where(items.c.spec == spec)
    limit, offset = _page_window(page)
    query = query.order_by(items.c.spec, items.c.key).limit(limit).offset(offset)
    with store.engine.connect() as conn:
        found = [dict(r) for r in conn.execute(query).mappings()]
    rows = [
        {
            "spec": r["spec"],
            "url": redact_text(r["url"]) if r["url"] else None,
            "data": json.dumps(r["data"], indent=1, ensure_ascii=False, default=str),
            "first_run_id": r["first_run_id"],
            "updated": utc_text(r["updated_at"]),
        }
        for r in found
    ]
    return _listing(rows, page)


def item_specs(store: SqlStore, run_id: int) -> list[str]:
    """The specs of the items run ``run_id`` last wrote (the ``?spec=`` choices)."""
    query = (
        select(items.c.spec).where(items.c.run_id == run_id).group_by(items.c.spec).order_by("spec")
    )
    with store.engine.connect() as conn:
        return [spec for (spec,) in conn.execute(query)]


def tail(path: Path, max_bytes: int = LOG_TAIL_BYTES, max_lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last lines of the text file ``path`` (at most ``max_lines``, from at most
    its last ``max_bytes``; a line cut by that window is dropped), undecodable
    bytes replaced, each masked with :func:`~crawler.redaction.redact_text`.
    ``OSError`` when it cannot be read."""
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - max_bytes))
        data = f.read(max_bytes)
    lines = data.decode("utf-8", "replace").splitlines()
    if size > max_bytes and lines:
        lines = lines[1:]
    return [redact_text(line) for line in lines[-max_lines:]]
