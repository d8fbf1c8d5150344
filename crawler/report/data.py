"""What a run report shows, read from the store and reduced to plain values.

Everything here is plain Python (no plotting, no HTML), so it is tested on
small stores by itself: :func:`load_run` reads one run, the functions below
it group its pages and links the way the report's charts and tables show
them.  Values from the crawled sites (URLs, titles, errors, refusal reasons,
the start URL, text stats) are returned with their secrets masked
(:func:`crawler.redaction.redact_url` for URLs,
:func:`crawler.redaction.redact_text` for the rest: a password in a link,
``?password=``, ``&api_key=``...), so nothing the report shows or draws holds
one; escaping them is the page's business (:mod:`crawler.report.html`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import select

from crawler.exceptions import ReportError
from crawler.outcome import PAGES_STAT, Reason, error_counts, recorded_reasons, recorded_verdict
from crawler.redaction import redact_text, redact_url
from crawler.storage.schema import links, pages
from crawler.storage.sql import display_url

if TYPE_CHECKING:
    from collections.abc import Iterable

    from crawler.storage.sql import SqlStore

#: The stat a failed login leaves its message in (:mod:`crawler.login.middleware`):
#: the report shows it as a sentence, not in the table of counts.
LOGIN_ERROR_STAT = "login/error"
#: How many example URLs a table of errors, traps or changes shows per row.
EXAMPLES = 5
#: Status classes, in the order charts stack them.
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "no response")
NO_RESPONSE = "no response"
#: The columns of ``pages`` a report reads.
PAGE_FIELDS = (
    "url",
    "final_url",
    "status",
    "content_type",
    "title",
    "depth",
    "found_via",
    "rendered",
    "fetched_at",
    "error",
    "digest",
    "unchanged",
    "latency",
)


@dataclass
class RunData:
    """One run as the report sees it.

    ``run``: the ``runs`` row (``id``, ``spider``, ``start_url``, ``started_at``,
    ``finished_at``, ``finish_reason``, ``stats``); ``pages``: dicts of
    :data:`PAGE_FIELDS` (``latency`` in seconds, ``None`` when the store is older
    than the column); ``refused``: ``(url, source, reason)`` of the links the
    crawl did not follow (traps); ``items`` and ``rejects``: counts.
    """

    run: dict[str, Any]
    pages: list[dict[str, Any]]
    refused: list[tuple[str, str, str]] = field(default_factory=list)
    items: int = 0
    rejects: int = 0

    @property
    def stats(self) -> dict[str, Any]:
        stats = self.run.get("stats")
        return stats if isinstance(stats, dict) else {}

    @property
    def id(self) -> int:
        return int(self.run["id"])


@dataclass(frozen=True)
class Group:
    """A row of a table of errors, traps or changes: what, how many, example URLs
    (at most :data:`EXAMPLES`, each ``(url, title or None)``)."""

    label: str
    count: int
    examples: tuple[tuple[str, str | None], ...]


def resolve_run(store: SqlStore, run: str) -> int:
    """The id of run ``run`` (a run id, or ``latest``) in ``store``; a
    :class:`ReportError` naming the store when there is no such run."""
    shown = display_url(store.url)
    if run == "latest":
        latest = store.runs(1)
        if not latest:
            raise ReportError(f"store {shown} has no runs yet: crawl first (crawler crawl URL)")
        return int(latest[0]["id"])
    try:
        run_id = int(run)
    except ValueError:
        raise ReportError(f"RUN is a run id or 'latest', not {run!r} (see crawler runs)") from None
    check_run(store, run_id)
    return run_id


def check_run(store: SqlStore, run_id: int) -> dict[str, Any]:
    """The ``runs`` row of ``run_id``, or a :class:`ReportError`."""
    row = store.run(run_id)
    if row is None:
        raise ReportError(
            f"there is no run {run_id} in {display_url(store.url)} (see crawler runs)"
        )
    return row


def previous_run_for(store: SqlStore, run_id: int) -> int | None:
    """The run a report of ``run_id`` compares with: the latest earlier run of the
    same spider and canonical start URL that finished cleanly
    (:meth:`SqlStore.previous_run`); ``None`` when there is none.  A
    :class:`ReportError` for an unknown ``run_id``."""
    row = check_run(store, run_id)
    return store.previous_run(row["spider"], row["start_url"], before=run_id)


def load_run(store: SqlStore, run_id: int) -> RunData:
    """Read run ``run_id`` from ``store`` (a :class:`ReportError` if it has none).

    Reads the columns a store written by an older version has: the missing
    ones (``latency``, ``digest``...) are ``None``.
    """
    row = check_run(store, run_id)
    present = store.columns(pages.name)
    with store.engine.connect() as conn:
        columns = [pages.c[name] for name in PAGE_FIELDS if name in present]
        query = select(*columns).where(pages.c.run_id == run_id).order_by(pages.c.url)
        page_rows = [_masked_page(r) for r in conn.execute(query).mappings()]
        refused = [
            (redact_url(url), redact_url(source), redact_text(reason))
            for url, source, reason in conn.execute(
                select(links.c.url, links.c.source, links.c.refused)
                .where(links.c.run_id == run_id, links.c.refused.is_not(None))
                .order_by(links.c.url)
            )
        ]
    counts = store.spec_counts(run_id)
    return RunData(
        run=_masked_run(row),
        pages=page_rows,
        refused=refused,
        items=sum(n for _, n, _ in counts),
        rejects=sum(n for _, _, n in counts),
    )


#: Page fields that are URLs (masked as URLs) and free text (masked as text).
_URL_FIELDS = ("url", "final_url")
_TEXT_FIELDS = ("title", "error")


def _masked_page(row: Any) -> dict[str, Any]:
    """A ``pages`` row as a dict of :data:`PAGE_FIELDS`, its secrets masked."""
    page = {name: row.get(name) for name in PAGE_FIELDS}
    for name in _URL_FIELDS:
        if page[name]:
            page[name] = redact_url(str(page[name]))
    for name in _TEXT_FIELDS:
        if page[name]:
            page[name] = redact_text(str(page[name]))
    return page


def _masked_run(row: dict[str, Any]) -> dict[str, Any]:
    """A ``runs`` row with the secrets of its start URL and text stats masked."""
    run = dict(row)
    if run.get("start_url"):
        run["start_url"] = redact_url(str(run["start_url"]))
    stats = run.get("stats")
    if isinstance(stats, dict):
        run["stats"] = {
            redact_text(str(k)): redact_text(v) if isinstance(v, str) else v
            for k, v in stats.items()
        }
    return run


def status_class(status: int | None) -> str:
    """``2xx`` .. ``5xx`` for an HTTP status, ``no response`` for ``None`` (and
    for a status outside 200-599, which no chart has a class for)."""
    if status is None or not 200 <= status <= 599:
        return NO_RESPONSE
    return f"{status // 100}xx"


def fetched_time(page: dict[str, Any]) -> datetime | None:
    """When the page was recorded (``pages.fetched_at``, ISO 8601), as an aware
    UTC datetime; ``None`` if it does not parse."""
    try:
        when = datetime.fromisoformat(str(page["fetched_at"]))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def times_by_status_class(run_pages: Iterable[dict[str, Any]]) -> dict[str, list[datetime]]:
    """``{status class: [fetched_at, ...]}`` for every class of :data:`STATUS_CLASSES`
    that has pages, in that order."""
    found: dict[str, list[datetime]] = {name: [] for name in STATUS_CLASSES}
    for page in run_pages:
        when = fetched_time(page)
        if when is not None:
            found[status_class(page["status"])].append(when)
    return {name: times for name, times in found.items() if times}


_DIGITS = re.compile(r"\d+")


def url_pattern(url: str, start_host: str | None = None) -> str:
    """The path template a URL belongs to: its first two path segments with every
    run of digits as ``{n}``, ``/…`` when the path goes deeper, ``?…`` when it has
    a query; prefixed with the host when it is not ``start_host``.

    ``http://h/catalog/item/12.html?p=3`` -> ``/catalog/item/…?…``;
    ``http://h/page12.html`` -> ``/page{n}.html``.
    """
    parts = urlsplit(url)
    segments = parts.path.split("/")[1:] if parts.path.startswith("/") else [parts.path]
    kept = [_DIGITS.sub("{n}", segment) for segment in segments[:2]]
    pattern = "/" + "/".join(kept)
    if len(segments) > 2:
        pattern += "/…"
    if parts.query:
        pattern += "?…"
    host = parts.netloc.lower()
    if start_host is not None and host != start_host:
        pattern = f"{host}{pattern}"
    return pattern


def top_patterns(data: RunData, limit: int = 15) -> list[tuple[str, int]]:
    """The ``limit`` URL patterns with the most pages (:func:`url_pattern`), most first."""
    start_host = urlsplit(data.run.get("start_url") or "").netloc.lower() or None
    counts = Counter(url_pattern(page["url"], start_host) for page in data.pages)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def counts_by(run_pages: Iterable[dict[str, Any]], name: str) -> list[tuple[Any, int]]:
    """``(value, pages)`` of one page field, most pages first (ties by value)."""
    counts = Counter(page[name] for page in run_pages)
    return sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))


def depth_counts(run_pages: Iterable[dict[str, Any]]) -> list[tuple[int, int]]:
    """``(depth, pages)`` from depth 0 to the deepest, zeros included."""
    counts = Counter(int(page["depth"]) for page in run_pages)
    if not counts:
        return []
    return [(depth, counts.get(depth, 0)) for depth in range(max(counts) + 1)]


def latencies(run_pages: Iterable[dict[str, Any]]) -> dict[str, list[float]]:
    """Response times in milliseconds, ``{"plain": [...], "rendered": [...]}``
    (a rendered page's time is its render's); pages without one are left out."""
    found: dict[str, list[float]] = {"plain": [], "rendered": []}
    for page in run_pages:
        if page["latency"] is not None:
            found["rendered" if page["rendered"] else "plain"].append(page["latency"] * 1000)
    return found


def slowest(run_pages: Iterable[dict[str, Any]], limit: int = 10) -> list[dict[str, Any]]:
    """The ``limit`` pages with the longest latency, slowest first."""
    timed = [page for page in run_pages if page["latency"] is not None]
    return sorted(timed, key=lambda page: (-page["latency"], page["url"]))[:limit]


def histogram(values: Iterable[float], size: float, count: int) -> list[int]:
    """How many of ``values`` (>= 0) fall in each of ``count`` bins of width
    ``size`` from 0: ``[0, size)``, ``[size, 2 * size)``...; a value past the
    last bin's end is counted in the last.  The report draws these counts, not
    the values: its size does not grow with the pages of a run."""
    counts = [0] * count
    for value in values:
        counts[min(int(value // size), count - 1)] += 1
    return counts


def _group(keyed: Iterable[tuple[str, str, str | None]]) -> list[Group]:
    """``(label, url, title)`` triples as :class:`Group` s, most URLs first."""
    counts: Counter[str] = Counter()
    examples: dict[str, list[tuple[str, str | None]]] = {}
    for label, url, title in keyed:
        counts[label] += 1
        shown = examples.setdefault(label, [])
        if len(shown) < EXAMPLES:
            shown.append((url, title))
    return [
        Group(label, n, tuple(examples[label]))
        for label, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def error_kind(error: str) -> str:
    """What a stored error is, without its URL-specific details: the text before
    the first ``:`` (``TimeoutError: ...`` -> ``TimeoutError``), at most 80 characters."""
    return error.split(":", 1)[0].strip()[:80] or "error"


def error_groups(run_pages: Iterable[dict[str, Any]]) -> list[Group]:
    """Pages that failed: an error recorded (no page, by :func:`error_kind`), or an
    HTTP status of 400 and above (``HTTP 404``)."""

    def keyed() -> Iterable[tuple[str, str, str | None]]:
        for page in run_pages:
            if page["error"]:
                yield error_kind(page["error"]), page["url"], page["title"]
            elif page["status"] is not None and page["status"] >= 400:
                yield f"HTTP {page['status']}", page["url"], page["title"]

    return _group(keyed())


def trap_groups(refused: Iterable[tuple[str, str, str]]) -> list[Group]:
    """Links the crawl refused to follow (``links.refused``), by the reason's name
    (the text before ``:``: ``pattern_budget``, ``max_query_params``...)."""
    return _group((error_kind(reason), url, None) for url, _, reason in refused)


def stats_with_prefix(stats: dict[str, Any], *prefixes: str) -> list[tuple[str, Any]]:
    """The run's stats whose keys start with one of ``prefixes``, sorted by key."""
    return sorted((k, v) for k, v in stats.items() if k.startswith(prefixes))


def form_pages(run_pages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pages a submitted form led to (``found_via`` ``form``)."""
    return [page for page in run_pages if page["found_via"] == "form"]


def duration(run: dict[str, Any]) -> float | None:
    """Seconds from the run's start to its finish; ``None`` while it has none."""
    started, finished = run.get("started_at"), run.get("finished_at")
    if started is None or finished is None:
        return None
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    if finished.tzinfo is None:
        finished = finished.replace(tzinfo=UTC)
    return (finished - started).total_seconds()


def verdict(stats: dict[str, Any]) -> str:
    """The run's verdict (:mod:`crawler.outcome`): ``succeeded``, ``failed: CODE, ...``,
    ``interrupted``; ``unknown`` for a run without one (still going, or older)."""
    return recorded_verdict(stats) or "unknown"


#: What each spider of the framework's runs is, as the report's header says it.
RUN_KINDS = {
    "site": "a site crawl (crawler crawl): pages found from the start URL, each recorded",
    "extract": "an extraction (crawler extract): items from a list of URLs; it records "
    "items and the verdict's counts, not pages or links, so the page charts and tables are "
    "empty",
}


def run_kind(run: dict[str, Any]) -> str:
    """What kind of run ``run`` (a ``runs`` row) is, as a sentence (:data:`RUN_KINDS`)."""
    spider = str(run.get("spider") or "?")
    return RUN_KINDS.get(spider, f"a run of spider {spider}")


def pages_failed(data: RunData) -> int:
    """Page requests that ended in an error (no response, HTTP >= 400), as the
    verdict counted them (:func:`crawler.outcome.error_counts`, for a run with
    ``outcome/pages``), else the failed pages recorded (:func:`error_groups`):
    an extraction records no pages but its verdict counts its failures."""
    if PAGES_STAT in data.stats:
        return error_counts(data.stats)[1]
    return sum(group.count for group in error_groups(data.pages))


def pages_fetched(data: RunData) -> int:
    """Pages of the run: those recorded, or for a run that records none (an
    extraction), the page requests that got a response (``outcome/pages``)."""
    if data.pages or PAGES_STAT not in data.stats:
        return len(data.pages)
    return int(data.stats[PAGES_STAT])


def failure_reasons(stats: dict[str, Any]) -> tuple[Reason, ...]:
    """Why the run failed, per its stored verdict (:func:`crawler.outcome.recorded_reasons`)."""
    return recorded_reasons(stats)
