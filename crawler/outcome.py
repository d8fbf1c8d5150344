"""When a crawl counts as failed, its exit code, and the outcome file a scheduler reads.

The verdict is computed from a crawl's stats and settings (:func:`judge`), by
the same rules for ``crawler crawl``, ``scrapy crawl`` and ``crawler extract``.
A crawl **fails** (exit code 1) for each of these reasons (``Reason.code``):

* ``start_url_failed``: a start request (Scrapy's ``is_start_request``: the
  site spider's start URL, each URL of ``crawler extract``) ended with no
  response (refused, timed out, forbidden by robots.txt) or with an HTTP
  status >= 400, 4xx included (a wrong URL, a blocked crawler, a login wall),
  after Scrapy's retries and redirects;
* ``no_pages`` / ``too_few_pages``: fewer than ``CRAWLER_MIN_PAGES`` (default 1)
  pages with a response, whatever their status (robots.txt, sitemaps and the
  login's pages do not count);
* ``no_items`` / ``too_few_items``: fewer than ``CRAWLER_MIN_ITEMS`` items
  (:func:`items_of`: the site spider's page records are not items);
* ``too_many_errors``: the share of pages in error (no response, or HTTP >= 400)
  among the pages requested is above ``CRAWLER_MAX_ERROR_RATIO`` (1.0, off);
* ``frontier_unreachable``: a worker of a shared crawl (``CRAWLER_FRONTIER``)
  stopped because its Redis did not answer for ``CRAWLER_FRONTIER_OUTAGE_TIMEOUT``
  seconds (:mod:`crawler.frontier.outage`);
* ``login_failed``, ``store_failed`` (the store could not be written, or rows
  were lost), ``feed_failed`` (an output file could not be written);
* ``browser_nodes_down``: renders failed because every remote browser node
  (``SELENIUM_REMOTE_URL``) was down (``selenium/render_failures/nodes_down``;
  the site spider may have kept those pages over plain HTTP, unrendered);
* ``stopped``: any other finish reason that is not a clean one
  (:data:`crawler.runner.CLEAN_REASONS`).

A crawl stopped by Ctrl-C or SIGTERM (finish reason ``shutdown``) is
``interrupted`` (exit code 130), neither a success nor a failure.  The pages
and errors are counted during the crawl by
:class:`crawler.downloadermiddlewares.outcome.OutcomeMiddleware`, which also
records the verdict in the stats the store keeps (``outcome/status``,
``outcome/failed/<code>``).

With ``CRAWLER_OUTCOME_FILE`` set, the command removes the previous run's file
as it starts (:func:`outcome_file`) and writes the verdict there as it exits
(:func:`write_outcome`, atomically: a temporary file renamed), a JSON object::

    {"status": "failed", "exit_code": 1,
     "reasons": [{"code": "start_url_failed", "message": "..."}],
     "finish_reason": "finished", "run_id": 3, "store": "sqlite:///crawl.db",
     "pages": 0, "items": 0, "errors": 1, "error_ratio": 1.0,
     "rendered": 0, "unchanged": 0,
     "started_at": "2026-12-01T13:00:00+00:00", "finished_at": "...",
     "elapsed_seconds": 1.8}

which :func:`read_outcome` reads back.  Messages never hold a secret: URLs and
errors go through :mod:`crawler.redaction`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import UsageError

from crawler.redaction import redact_text, redact_url
from crawler.utils.files import check_output_file

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

SUCCEEDED = "succeeded"
FAILED = "failed"
INTERRUPTED = "interrupted"
STATUSES = (SUCCEEDED, FAILED, INTERRUPTED)

EXIT_SUCCEEDED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # a usage or configuration error, before crawling
EXIT_INTERRUPTED = 130

# Reason codes
START_URL_FAILED = "start_url_failed"
NO_PAGES = "no_pages"
TOO_FEW_PAGES = "too_few_pages"
NO_ITEMS = "no_items"
TOO_FEW_ITEMS = "too_few_items"
TOO_MANY_ERRORS = "too_many_errors"
LOGIN_FAILED = "login_failed"
STORE_FAILED = "store_failed"
FEED_FAILED = "feed_failed"
STOPPED = "stopped"
CONFIG_ERROR = "config_error"
BROWSER_NODES_DOWN = "browser_nodes_down"
FRONTIER_UNREACHABLE = "frontier_unreachable"
# The finish reason of a worker whose frontier's Redis stopped answering (crawler.frontier)
FRONTIER_UNREACHABLE_REASON = FRONTIER_UNREACHABLE
FRONTIER_ERROR_STAT = "frontier/error"  # the last Redis error (crawler.frontier.scheduler)
FRONTIER_KEYS_LOST = "Redis lost the crawl's keys"  # that error when the crawl is gone from Redis
INTERRUPTED_REASON = "interrupted"

# Finish reasons that mean "the crawl did what it was asked" (crawler.runner)
CLEAN_REASONS = (
    "finished",
    "closespider_pagecount",
    "closespider_itemcount",
    "closespider_timeout",
)
SHUTDOWN_REASON = "shutdown"  # Scrapy's, on Ctrl-C / SIGTERM
_SAID_ELSEWHERE = (
    "login_failed",
    "store_error",
    "no_items",
    "too_few_items",
    FRONTIER_UNREACHABLE_REASON,
)

# Stats the outcome middleware counts (crawler.downloadermiddlewares.outcome)
PAGES_STAT = "outcome/pages"  # page requests that got a response, any status
NO_RESPONSE_STAT = "outcome/no_response"  # page requests that ended with none
HTTP_ERRORS_STAT = "outcome/http_errors"  # page responses with a status >= 400
START_URL_STAT = "outcome/start_url/url"  # the first start request that failed
START_STATUS_STAT = "outcome/start_url/status"  # its HTTP status (>= 400)
START_ERROR_STAT = "outcome/start_url/error"  # why it got no response
START_FAILED_STAT = "outcome/start_urls_failed"  # start requests that failed
ITEMS_STAT = "outcome/items"  # items scraped that are not page records
# Pages the store holds for the run at the close (crawler.pipelines.store): what the
# run's summary counts, a redirect's response included; the live line's last state
STORED_PAGES_STAT = "store/pages"
STATUS_STAT = "outcome/status"  # the verdict at the close, for the store's runs row
FAILED_STAT_PREFIX = "outcome/failed/"  # + reason code: 1
ERROR_RATIO_STAT = "outcome/error_ratio"
STARTED_AT_STAT = "outcome/started_at"  # the run's start, ISO-8601 (a resume's first segment)
ELAPSED_STAT = "outcome/elapsed_seconds"  # seconds the run crawled, over its segments
# Other components' stats the outcome file reports
RENDERED_STAT = "selenium/renders"
NODES_DOWN_STAT = "selenium/render_failures/nodes_down"  # renders with no browser node up
NODES_DOWN_ERROR_STAT = "selenium/nodes_down_error"  # the last such error (redacted)
UNCHANGED_STAT = "incremental/unchanged"  # pages an incremental re-crawl found unchanged
FEED_FAILED_PREFIX = "feedexport/failed_count/"
# Feeds a server did not take: [{"uri": redacted URI, "kept": local copy or None}]
# (crawler.feedstorage.delivery)
UNDELIVERED_STAT = "feedexport/undelivered"


@dataclass(frozen=True)
class Reason:
    """One reason a crawl failed: a code (see the module) and a sentence, no secrets."""

    code: str
    message: str


@dataclass(frozen=True)
class Criteria:
    """The thresholds of a successful crawl (``CRAWLER_MIN_PAGES``,
    ``CRAWLER_MIN_ITEMS``, ``CRAWLER_MAX_ERROR_RATIO``; checked by the settings
    check, :mod:`crawler.settingscheck`)."""

    min_pages: int = 1
    min_items: int = 0
    max_error_ratio: float = 1.0

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Criteria:
        return cls(
            min_pages=settings.getint("CRAWLER_MIN_PAGES", 1),
            min_items=settings.getint("CRAWLER_MIN_ITEMS", 0),
            max_error_ratio=settings.getfloat("CRAWLER_MAX_ERROR_RATIO", 1.0),
        )


LOG_PREFIX = "Crawl outcome: "
_LOG_LINE = re.compile(
    r"\] INFO: Crawl outcome: (succeeded|failed|interrupted)"
    r"(?: \(([\w, ]+)\))?(?:: ([^\r\n]*))?\r?$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Verdict:
    status: str  # one of STATUSES
    reasons: tuple[Reason, ...]

    @property
    def exit_code(self) -> int:
        return {SUCCEEDED: EXIT_SUCCEEDED, INTERRUPTED: EXIT_INTERRUPTED}.get(
            self.status, EXIT_FAILED
        )

    def log_line(self) -> str:
        """The verdict as the crawl logs it when the spider closes (INFO, just before
        Scrapy's ``Spider closed (REASON)``), which :meth:`parse_log_line` reads back
        (:meth:`crawler.scrapyd.ScrapydClient.verdict`: Scrapyd keeps only the log)::

            Crawl outcome: failed (start_url_failed, no_pages): the start URL ... gave no page
            Crawl outcome: succeeded
        """
        if not self.reasons:
            return f"{LOG_PREFIX}{self.status}"
        codes = ", ".join(reason.code for reason in self.reasons)
        message = " ".join(self.reasons[0].message.split())  # one line
        return f"{LOG_PREFIX}{self.status} ({codes}): {message}"

    @classmethod
    def parse_log_line(cls, text: str) -> Verdict | None:
        """The last verdict :meth:`log_line` wrote in ``text`` (a log, or its end);
        the first reason has its message, the others ``"see the log"``.  None
        when there is none (a crawl that died, or a log from before the line)."""
        found = _LOG_LINE.findall(text)
        if not found:
            return None
        status, codes, message = found[-1]
        reasons = tuple(
            Reason(code, message if i == 0 and message else "see the log")
            for i, code in enumerate(c.strip() for c in codes.split(",") if c.strip())
        )
        return cls(status, reasons)

    def error_line(self) -> str | None:
        """One line for stderr, ``error: MESSAGE (crawl failed: CODE, ...)`` with the
        first reason's message and every reason's code; ``None`` unless failed."""
        if self.status != FAILED or not self.reasons:
            return None
        codes = ", ".join(reason.code for reason in self.reasons)
        return f"error: {self.reasons[0].message} (crawl failed: {codes})"


def failed_feeds(stats: Mapping[str, Any]) -> int:
    """How many feed files Scrapy could not write (``feedexport/failed_count/<storage>``)."""
    return sum(int(n) for key, n in stats.items() if key.startswith(FEED_FAILED_PREFIX))


def error_counts(stats: Mapping[str, Any]) -> tuple[int, int, float]:
    """``(pages, errors, error_ratio)``: pages with a response, pages in error (no
    response or HTTP >= 400), and errors / pages requested (0.0 when none was)."""
    pages = int(stats.get(PAGES_STAT, 0))
    no_response = int(stats.get(NO_RESPONSE_STAT, 0))
    errors = no_response + int(stats.get(HTTP_ERRORS_STAT, 0))
    requested = pages + no_response
    return pages, errors, (errors / requested if requested else 0.0)


def items_of(stats: Mapping[str, Any]) -> int:
    """Items a crawl yielded: ``outcome/items`` (Scrapy's ``item_scraped_count``
    without the site spider's page records), else ``item_scraped_count``."""
    return int(stats.get(ITEMS_STAT, stats.get("item_scraped_count", 0)))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _feeds_message(feeds: int, stats: Mapping[str, Any]) -> str:
    """``feed_failed``'s sentence: the feeds not delivered by name, with their local
    copies (``feedexport/undelivered``), and how many others failed (a local file)."""
    named = [f for f in stats.get(UNDELIVERED_STAT) or () if isinstance(f, dict)]
    if not named:
        return f"{feeds} output file(s) could not be written (see the log)"
    shown = [
        redact_url(str(f.get("uri"))) + (f" (records kept in {f['kept']})" if f.get("kept") else "")
        for f in named
    ]
    message = f"{feeds} output file(s) could not be written: {', '.join(shown)}"
    others = feeds - len(named)
    if others > 0:
        message += f", and {_plural(others, 'other')} (see the log)"
    return message


def frontier_unreachable(stats: Mapping[str, Any]) -> Reason:
    """The reason a process of a shared crawl that stopped as ``frontier_unreachable``
    failed, from its ``stats`` (``frontier/error``: the last Redis error, no password)."""
    return Reason(FRONTIER_UNREACHABLE, redact_text(_frontier_message(stats)))


def _frontier_message(stats: Mapping[str, Any]) -> str:
    error = stats.get(FRONTIER_ERROR_STAT)
    said = f" ({error})" if error else ""
    message = f"the frontier's Redis failed{said}: the crawl stopped before it was done"
    crawl_id = stats.get("frontier/crawl_id")
    if crawl_id and error != FRONTIER_KEYS_LOST:
        message += (
            f"; once Redis answers again, `crawler worker REDIS_URL --crawl {crawl_id}` resumes it"
        )
        lost = stats.get("frontier/requests_lost")
        if lost:
            message += f" (without the {lost} requests it could not keep: frontier/requests_lost)"
    return message


def _start_url_reason(stats: Mapping[str, Any]) -> Reason | None:
    url = redact_url(str(stats.get(START_URL_STAT, "")))
    error, status = stats.get(START_ERROR_STAT), stats.get(START_STATUS_STAT)
    if error:
        message = f"the start URL {url} gave no page: {error}"
    elif status:
        message = f"the start URL {url} answered HTTP {status}"
    else:
        return None
    others = int(stats.get(START_FAILED_STAT, 1)) - 1
    if others > 0:
        message += f" (and {_plural(others, 'other start URL')} failed)"
    return Reason(START_URL_FAILED, message)


def judge(
    stats: Mapping[str, Any], criteria: Criteria, finish_reason: str | None = None
) -> Verdict:
    """The verdict on a crawl from its ``stats`` (``finish_reason`` overrides the
    one in the stats: the store may end a run with ``store_error`` later).
    Reasons in order of what to fix first: login, store, feeds, start URL,
    pages, items, errors, another finish reason."""
    finish = finish_reason if finish_reason is not None else stats.get("finish_reason")
    reasons: list[Reason] = []
    if finish == "login_failed":
        reasons.append(Reason(LOGIN_FAILED, str(stats.get("login/error") or "the login failed")))
    if stats.get("store/error") or stats.get("store/rows_lost") or finish == "store_error":
        message = stats.get("store/error") or stats.get("store/fallback_error")
        reasons.append(Reason(STORE_FAILED, str(message or "the store could not be written")))
    feeds = failed_feeds(stats)
    if feeds:
        reasons.append(Reason(FEED_FAILED, _feeds_message(feeds, stats)))
    if finish == FRONTIER_UNREACHABLE_REASON:
        reasons.append(frontier_unreachable(stats))
    if finish == SHUTDOWN_REASON:
        interrupted = Reason(INTERRUPTED_REASON, "the crawl was interrupted (Ctrl-C or SIGTERM)")
        return Verdict(INTERRUPTED, tuple(_redacted([interrupted, *reasons])))
    nodes_down = int(stats.get(NODES_DOWN_STAT, 0))
    if nodes_down:
        error = stats.get(NODES_DOWN_ERROR_STAT) or "every remote browser node was down"
        reasons.append(
            Reason(BROWSER_NODES_DOWN, f"{_plural(nodes_down, 'render')} failed: {error}")
        )
    start = _start_url_reason(stats)
    if start is not None:
        reasons.append(start)
    pages, errors, ratio = error_counts(stats)
    counted = PAGES_STAT in stats  # the outcome middleware is on (crawler/settings.py)
    if counted and pages < criteria.min_pages:
        if pages == 0:
            reasons.append(Reason(NO_PAGES, "the crawl got no page"))
        else:
            reasons.append(
                Reason(
                    TOO_FEW_PAGES,
                    f"the crawl got {_plural(pages, 'page')}, fewer than "
                    f"CRAWLER_MIN_PAGES={criteria.min_pages}",
                )
            )
    items = items_of(stats)
    if items < criteria.min_items or finish in ("no_items", "too_few_items"):
        code = NO_ITEMS if items == 0 else TOO_FEW_ITEMS
        wanted = (
            f", fewer than CRAWLER_MIN_ITEMS={criteria.min_items}" if criteria.min_items else ""
        )
        reasons.append(Reason(code, f"the crawl yielded {_plural(items, 'item')}{wanted}"))
    if ratio > criteria.max_error_ratio:
        reasons.append(
            Reason(
                TOO_MANY_ERRORS,
                f"{errors} of {pages + int(stats.get(NO_RESPONSE_STAT, 0))} pages ended in an "
                f"error ({ratio:.0%}), more than CRAWLER_MAX_ERROR_RATIO="
                f"{criteria.max_error_ratio:g}",
            )
        )
    if finish and finish not in CLEAN_REASONS and finish not in _SAID_ELSEWHERE:
        reasons.append(Reason(STOPPED, f"the crawl stopped early (finish reason {finish})"))
    return Verdict(FAILED if reasons else SUCCEEDED, tuple(_redacted(reasons)))


def _redacted(reasons: list[Reason]) -> list[Reason]:
    return [Reason(r.code, redact_text(r.message)) for r in reasons]


def record_verdict(stats: Any, verdict: Verdict, ratio: float) -> None:
    """Put ``verdict`` in a crawl's stats collector: ``outcome/status``,
    ``outcome/failed/<code>`` = 1 per reason, ``outcome/error_ratio``."""
    stats.set_value(STATUS_STAT, verdict.status)
    stats.set_value(ERROR_RATIO_STAT, round(ratio, 4))
    for reason in verdict.reasons:
        if reason.code != INTERRUPTED_REASON:
            stats.set_value(FAILED_STAT_PREFIX + reason.code, 1)


def rejudge(stats: Any, criteria: Criteria, finish_reason: str | None = None) -> Verdict:
    """Judge again the stats in a crawl's stats collector ``stats`` and record the
    verdict there (:func:`judge`, :func:`record_verdict`): for the merged stats of
    a shared crawl's workers, whose own verdicts on their parts the merge left
    out (:func:`crawler.frontier.shared.merge_stats`).  Stale ``outcome/failed/*``
    keys go first."""
    values = {k: v for k, v in stats.get_stats().items() if not k.startswith(FAILED_STAT_PREFIX)}
    stats.set_stats(values)
    verdict = judge(values, criteria, finish_reason)
    record_verdict(stats, verdict, error_counts(values)[2])
    return verdict


def recorded_verdict(stats: dict[str, Any]) -> str | None:
    """The verdict :func:`record_verdict` left in a run's stored stats, as one
    phrase: ``succeeded``, ``failed: CODE, ...``, ``interrupted``; None for a run
    without one (still going, or crawled by an older version)."""
    status = stats.get(STATUS_STAT)
    if not status:
        return None
    codes = [
        key.removeprefix(FAILED_STAT_PREFIX) for key in stats if key.startswith(FAILED_STAT_PREFIX)
    ]
    return f"{status}: {', '.join(codes)}" if status == FAILED and codes else str(status)


def recorded_reasons(stats: dict[str, Any]) -> tuple[Reason, ...]:
    """The reasons of a failed verdict :func:`record_verdict` left in a run's
    stored stats (``outcome/failed/<code>``), each with the sentence the stats
    still allow (the start URL's error, the login's, the store's, counts); no
    secrets.  Empty for a run that did not fail or has no verdict."""
    reasons: list[Reason] = []
    pages, errors, ratio = error_counts(stats)
    requested = pages + int(stats.get(NO_RESPONSE_STAT, 0))
    items = items_of(stats)
    for key in stats:
        if not key.startswith(FAILED_STAT_PREFIX):
            continue
        code = key.removeprefix(FAILED_STAT_PREFIX)
        if code == START_URL_FAILED:
            start = _start_url_reason(stats)
            message = start.message if start else "the start URL gave no page"
        elif code == LOGIN_FAILED:
            message = str(stats.get("login/error") or "the login failed")
        elif code == STORE_FAILED:
            message = str(stats.get("store/error") or "the store could not be written")
        elif code == FEED_FAILED:
            message = _feeds_message(failed_feeds(stats), stats)
        elif code == FRONTIER_UNREACHABLE:
            message = _frontier_message(stats)
        elif code == NO_PAGES:
            message = "the crawl got no page"
        elif code == TOO_FEW_PAGES:
            message = f"the crawl got {_plural(pages, 'page')}, fewer than CRAWLER_MIN_PAGES"
        elif code in (NO_ITEMS, TOO_FEW_ITEMS):
            message = f"the crawl yielded {_plural(items, 'item')}"
        elif code == TOO_MANY_ERRORS:
            message = f"{errors} of {requested} pages ended in an error ({ratio:.0%})"
        elif code == STOPPED:
            message = f"the crawl stopped early (finish reason {stats.get('finish_reason')})"
        else:
            message = code
        reasons.append(Reason(code, message))
    return tuple(_redacted(reasons))


@dataclass(frozen=True)
class CrawlOutcomeReport:
    """The outcome file's content (see the module for the JSON)."""

    status: str
    exit_code: int
    reasons: tuple[Reason, ...] = ()
    finish_reason: str = ""
    run_id: int | None = None
    store: str | None = None  # redacted URL
    pages: int = 0
    items: int = 0
    errors: int = 0
    error_ratio: float = 0.0
    rendered: int = 0
    unchanged: int = 0
    started_at: str = ""  # ISO-8601, UTC
    finished_at: str = ""  # ISO-8601, UTC
    elapsed_seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["reasons"] = [{"code": r.code, "message": r.message} for r in self.reasons]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CrawlOutcomeReport:
        """Raises ``ValueError`` / ``TypeError`` / ``KeyError`` for data of another shape."""
        status = data["status"]
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        reasons = tuple(Reason(str(r["code"]), str(r["message"])) for r in data["reasons"])
        run_id = data.get("run_id")
        store = data.get("store")
        return cls(
            status=status,
            exit_code=int(data["exit_code"]),
            reasons=reasons,
            finish_reason=str(data.get("finish_reason") or ""),
            run_id=int(run_id) if run_id is not None else None,
            store=str(store) if store is not None else None,
            pages=int(data.get("pages", 0)),
            items=int(data.get("items", 0)),
            errors=int(data.get("errors", 0)),
            error_ratio=float(data.get("error_ratio", 0.0)),
            rendered=int(data.get("rendered", 0)),
            unchanged=int(data.get("unchanged", 0)),
            started_at=str(data.get("started_at") or ""),
            finished_at=str(data.get("finished_at") or ""),
            elapsed_seconds=float(data.get("elapsed_seconds", 0.0)),
        )


def _iso(value: Any, default: datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return default


def report_for(
    stats: Mapping[str, Any],
    verdict: Verdict,
    *,
    store: str | None = None,
    started_at: datetime | None = None,
) -> CrawlOutcomeReport:
    """The outcome of a crawl that ran (``stats``: Scrapy's; ``store``: the store URL,
    redacted here; ``started_at``: when the command started, for a crawl whose
    stats have no ``start_time``).  A resumed run's start and time crawled are
    its own (``outcome/started_at``, ``outcome/elapsed_seconds``), not the last
    segment's."""
    now = datetime.now(UTC)
    started = _iso(stats.get("start_time"), started_at or now)
    run_start = stats.get(STARTED_AT_STAT)  # a resumed run's first start
    if run_start:
        with contextlib.suppress(ValueError):  # not a date: the segment's start
            started = _iso(datetime.fromisoformat(str(run_start)), started)
    finished = _iso(stats.get("finish_time"), now)
    elapsed = stats.get(ELAPSED_STAT)
    if elapsed is None:
        elapsed = max((finished - started).total_seconds(), 0.0)
    pages, errors, ratio = error_counts(stats)
    run_id = stats.get("store/run_id")
    return CrawlOutcomeReport(
        status=verdict.status,
        exit_code=verdict.exit_code,
        reasons=verdict.reasons,
        finish_reason=str(stats.get("finish_reason") or ""),
        run_id=int(run_id) if run_id is not None else None,
        store=redact_url(store) if store and run_id is not None else None,
        pages=pages,
        items=items_of(stats),
        errors=errors,
        error_ratio=round(ratio, 4),
        rendered=int(stats.get(RENDERED_STAT, 0)),
        unchanged=int(stats.get(UNCHANGED_STAT, 0)),
        started_at=started.isoformat(),
        finished_at=finished.isoformat(),
        elapsed_seconds=round(float(elapsed), 3),
    )


def usage_report(
    message: str,
    code: str = CONFIG_ERROR,
    *,
    exit_code: int = EXIT_USAGE,
    started_at: datetime | None = None,
) -> CrawlOutcomeReport:
    """The outcome of a command that stopped before crawling (by default exit code 2:
    a usage or configuration error)."""
    now = datetime.now(UTC)
    started = started_at or now
    return CrawlOutcomeReport(
        status=FAILED,
        exit_code=exit_code,
        reasons=(Reason(code, redact_text(message)),),
        finish_reason="not_started",
        started_at=started.isoformat(),
        finished_at=now.isoformat(),
        elapsed_seconds=round((now - started).total_seconds(), 3),
    )


def outcome_file(settings: BaseSettings) -> str | None:
    """``CRAWLER_OUTCOME_FILE``, checked: a ``UsageError`` now for a file that cannot
    be written (:func:`crawler.utils.files.check_output_file`), not at the end.

    The previous run's outcome there is removed now, as the crawl starts: a run
    killed before it writes its own (SIGKILL, a crash, the machine going down)
    leaves no outcome rather than the last run's ``succeeded``.  Raises
    ``UsageError`` when it cannot be removed."""
    path = settings.get("CRAWLER_OUTCOME_FILE")
    if not path:
        return None
    check_output_file(str(path))
    try:
        Path(path).unlink(missing_ok=True)
    except OSError as e:
        raise UsageError(
            f"CRAWLER_OUTCOME_FILE: cannot remove the previous outcome file {path}: "
            f"{e.strerror or e}"
        ) from e
    return str(path)


def conclude(
    stats: Mapping[str, Any],
    settings: BaseSettings,
    *,
    started_at: datetime | None = None,
    also: tuple[Reason, ...] = (),
) -> Verdict:
    """The verdict on a crawl that ran (:func:`judge`, plus the command's own
    reasons ``also``), written to ``CRAWLER_OUTCOME_FILE`` if set (an error
    writing it is logged: the exit code still tells)."""
    verdict = judge(stats, Criteria.from_settings(settings))
    codes = {reason.code for reason in verdict.reasons}
    also = tuple(reason for reason in also if reason.code not in codes)
    if also and verdict.status != INTERRUPTED:
        verdict = Verdict(FAILED, (*verdict.reasons, *_redacted(list(also))))
    path = settings.get("CRAWLER_OUTCOME_FILE")
    if path:
        store = settings.get("CRAWLER_STORE_URL")
        report = report_for(stats, verdict, store=store, started_at=started_at)
        try:
            write_outcome(path, report)
        except OSError as e:
            logger.error("Cannot write the outcome file %s: %s", path, e.strerror or e)
    return verdict


def write_outcome(path: str | os.PathLike[str], report: CrawlOutcomeReport) -> None:
    """Write ``report`` as JSON to ``path`` atomically: a temporary file in the same
    directory, flushed to disk, then renamed over ``path`` (a reader sees the old
    file or the new one, never half of one).  Raises ``OSError``."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(report.to_json(), f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_outcome(path: str | os.PathLike[str]) -> CrawlOutcomeReport | None:
    """The outcome file at ``path``; ``None`` when it is missing, unreadable or not
    an outcome (bad JSON, another shape)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        report = CrawlOutcomeReport.from_json(data)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if not math.isfinite(report.error_ratio):
        return None
    return report
