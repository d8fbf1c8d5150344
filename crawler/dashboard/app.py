"""The dashboard's Flask application, :func:`create_app`; ``crawler serve`` serves it.

Pages (all read-only, see :mod:`crawler.dashboard.security` for the guards):

* ``/``: the store's runs (newest first) and the job file's jobs;
* ``/runs/<id>``: a run's summary, counts, stats and settings (masked);
* ``/runs/<id>/report``: its HTML report (:func:`crawler.report.render_report`),
  ``?compare=RUN`` or ``?compare=none`` (default: the previous run of the same
  spider and start URL, :func:`crawler.report.previous_run_for`); a page saying
  so where ``crawler.report`` cannot be imported;
* ``/runs/<id>/log``: the tail of its log file, for a run a job started;
* ``/runs/<id>/pages?q=&status=&page=``, ``/runs/<id>/items?q=&spec=&page=``;
* ``/jobs/<name>``: a job's schedule and history;
* ``/static/plotly.min.js``: Plotly's bundle from the installed package.

Run ids in paths and ``?compare=`` are ASCII digits up to the largest value
of the store's ``runs.id`` column (:func:`max_run_id`; larger: 404), ``?page=`` is
clamped to ``1..``:data:`MAX_PAGE`, and search texts are at most
:data:`crawler.dashboard.data.MAX_QUERY` characters (400 otherwise).  Reports
render one at a time and the last few are kept (:mod:`crawler.dashboard.reports`).

Everything shown comes from other people's sites (titles, URLs, item data, log
lines): templates are Jinja2's with autoescaping on, and no view marks data safe.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.routing import IntegerConverter

from crawler.dashboard import data, security
from crawler.dashboard.jobs import JobsSource
from crawler.dashboard.reports import ReportCache, run_version
from crawler.exceptions import ConfigError, StoreError
from crawler.jobs.config import jobs_file_key, load_jobs_file
from crawler.redaction import MASKER, redact_text
from crawler.storage.sql import SqlStore, display_url

if TYPE_CHECKING:
    from flask.typing import ResponseReturnValue
    from werkzeug.exceptions import HTTPException
    from werkzeug.routing import Map

    from crawler.jobs.config import JobsFile

logger = logging.getLogger(__name__)

#: ``Cache-Control`` of ``/static/plotly.min.js``: a day, for this browser only.
PLOTLY_CACHE = "private, max-age=86400"
EXTENSION = "crawler_dashboard"
#: The largest integer SQLite stores, and PostgreSQL's ``BIGINT`` (``LIMIT``/``OFFSET``):
#: signed 64-bit.  A larger value raised OverflowError in the database driver (a 500).
MAX_ID = 2**63 - 1
#: The largest ``INTEGER`` of PostgreSQL (and of SQL databases but SQLite): 32-bit.
MAX_INT32 = 2**31 - 1
#: The last page number of a listing (its OFFSET stays within :data:`MAX_ID`).
MAX_PAGE = MAX_ID // data.PAGE_SIZE
ASCII_DIGITS = re.compile(r"[0-9]+")
#: ``Retry-After`` (seconds) of the 503 answered while other reports render.
REPORT_RETRY_AFTER = 5


class RunIdConverter(IntegerConverter):
    """``<id:run_id>``: ASCII digits only (werkzeug's ``int`` takes any Unicode
    digit, a fullwidth five among them), at most :data:`MAX_ID`; anything else
    does not match (404)."""

    regex = r"[0-9]+"

    def __init__(self, map: Map) -> None:
        super().__init__(map, max=MAX_ID)


@dataclass(frozen=True)
class DashboardConfig:
    """What ``crawler serve`` was given.

    ``store_url``: the crawl store (read, never created); ``jobs_file``: a job file
    whose jobs and history to show, or ``None``; ``token``: required on every
    request when set (``crawler serve`` sets one when not bound to loopback, or
    when its token variable is set); ``loopback``: bound to a loopback address
    (``host``), so ``Host`` headers are checked; ``store_timeout``: seconds,
    ``CRAWLER_STORE_TIMEOUT``; ``default_store``: the job file's state store when
    its ``[scheduler]`` names none (``CRAWLER_STORE_URL``).
    """

    store_url: str
    jobs_file: str | None = None
    token: str | None = None
    loopback: bool = True
    host: str = "127.0.0.1"
    store_timeout: float = 30.0
    default_store: str = "sqlite:///crawl.db"


class Dashboard:
    """The open stores of one application (``app.extensions["crawler_dashboard"]``)."""

    def __init__(self, config: DashboardConfig) -> None:
        self.config = config
        self.store = SqlStore.open(config.store_url, create=False, timeout=config.store_timeout)
        self._jobs: JobsSource | None = None
        self._jobs_key: tuple[int, int] | None = None
        self._jobs_lock = threading.Lock()
        self._retired: list[JobsSource] = []  # replaced sources, closed with the app
        try:
            if config.jobs_file is not None:
                self._jobs_key = jobs_file_key(Path(config.jobs_file))
                jobs = load_jobs_file(config.jobs_file, config.default_store)
                self._jobs = JobsSource(jobs, config.store_timeout)
        except BaseException:
            self.store.close()
            raise
        self._plotly: bytes | None = None
        self.reports = ReportCache()

    @property
    def jobs(self) -> JobsSource | None:
        """The job file's jobs, re-read when its (mtime, size) changed since the
        last look, as the scheduler does (:mod:`crawler.jobs.scheduler`): a job
        added while the dashboard runs shows on the next page.  A file that no
        longer validates (or was removed) keeps the jobs last read; its error is
        logged once per change."""
        if self._jobs is None or self.config.jobs_file is None:
            return self._jobs
        path = Path(self.config.jobs_file)
        with self._jobs_lock:
            key = jobs_file_key(path)
            if key is None or key == self._jobs_key:
                return self._jobs
            self._jobs_key = key
            try:
                new = load_jobs_file(path, self.config.default_store)
            except ConfigError as e:
                logger.error("the job file changed but is not valid; showing the old jobs: %s", e)
                return self._jobs
            self._jobs = self._replace_jobs(self._jobs, new)
            return self._jobs

    def _replace_jobs(self, old: JobsSource, new: JobsFile) -> JobsSource:
        if new.scheduler.store == old.jobs.scheduler.store:
            old.jobs = new  # same state store: keep it open
            return old
        self._retired.append(old)  # a request may still read it
        return JobsSource(new, self.config.store_timeout)

    @property
    def max_run_id(self) -> int:
        """The largest value the store's ``runs.id`` (an ``Integer`` column) holds:
        :data:`MAX_ID` in SQLite, :data:`MAX_INT32` elsewhere (PostgreSQL's
        ``integer``: a larger parameter is an "integer out of range" error)."""
        return MAX_ID if self.store.engine.dialect.name == "sqlite" else MAX_INT32

    @property
    def store_shown(self) -> str:
        return display_url(self.config.store_url)

    def plotly_js(self) -> bytes | None:
        """Plotly's bundle (``plotly.offline.get_plotlyjs()``), read once; ``None``
        without plotly."""
        if self._plotly is None:
            try:
                from plotly.offline import get_plotlyjs
            except ImportError:
                return None
            self._plotly = get_plotlyjs().encode()
        return self._plotly

    def close(self) -> None:
        self.store.close()
        for source in [*self._retired, self._jobs]:
            if source is not None:
                source.close()


def dashboard() -> Dashboard:
    """The :class:`Dashboard` of the application handling the request."""
    board: Dashboard = current_app.extensions[EXTENSION]
    return board


def create_app(config: DashboardConfig) -> Flask:
    """The dashboard application for ``config``; opens the store (and the job
    file) now: :class:`~crawler.exceptions.StoreError` (a missing store is not
    created) or :class:`~crawler.exceptions.ConfigError`.  Close them with
    ``app.extensions["crawler_dashboard"].close()``."""
    app = Flask(__name__)
    app.logger.addFilter(MASKER)  # an error's traceback may quote a URL with its password
    app.extensions[EXTENSION] = Dashboard(config)
    app.url_map.converters["id"] = RunIdConverter
    app.jinja_env.filters["href"] = http_href
    app.jinja_env.globals["page_url"] = page_url
    app.jinja_env.globals["max_query"] = data.MAX_QUERY
    app.before_request(_guard)
    app.after_request(security.add_headers)
    app.register_error_handler(404, _http_error)
    app.register_error_handler(405, _http_error)
    app.register_error_handler(400, _http_error)
    app.register_error_handler(500, _http_error)  # Flask logs the exception; no details shown
    app.register_error_handler(StoreError, _store_error)
    app.register_error_handler(data.BadQuery, _bad_query)
    app.add_url_rule("/", view_func=index)
    app.add_url_rule("/runs/<id:run_id>", view_func=run_page)
    app.add_url_rule("/runs/<id:run_id>/report", view_func=report_page)
    app.add_url_rule("/runs/<id:run_id>/log", view_func=log_page)
    app.add_url_rule("/runs/<id:run_id>/pages", view_func=pages_page)
    app.add_url_rule("/runs/<id:run_id>/items", view_func=items_page)
    app.add_url_rule("/jobs/<name>", view_func=job_page)
    app.add_url_rule("/static/plotly.min.js", view_func=plotly_js)
    app.add_url_rule("/favicon.ico", view_func=favicon)
    return app


def http_href(url: str | None) -> str | None:
    """``url`` when it is an http(s) URL to link to, else ``None`` (shown as text only)."""
    if url and urlsplit(url).scheme.lower() in ("http", "https"):
        return url
    return None


def page_url(endpoint: str, page: int, **params: Any) -> str:
    """The URL of page ``page`` of a listing, without empty query parameters."""
    kept = {name: value for name, value in params.items() if value not in ("", None)}
    return url_for(endpoint, **kept, page=page)


def _guard() -> ResponseReturnValue | None:
    """The checks of :mod:`crawler.dashboard.security`, before any view."""
    config = dashboard().config
    if config.loopback and not security.loopback_host_allowed(request.host, config.host):
        names = security.accepted_host_names(config.host)
        return _message(
            403,
            "Forbidden",
            f"This dashboard answers only to {', '.join(names[:-1])} and {names[-1]}.",
        )
    if security.refused_fetch_site(request.headers.get("Sec-Fetch-Site")):
        return _message(
            403,
            "Forbidden",
            "This dashboard does not answer requests that another site's page started "
            "(Sec-Fetch-Site: cross-site or same-site): open its address yourself "
            "(type or paste it, or use a bookmark).",
        )
    if request.method not in security.ALLOWED_METHODS:
        response = make_response(
            _message(405, "Method not allowed", "The dashboard is read-only: GET and HEAD only.")
        )
        response.headers["Allow"] = ", ".join(security.ALLOWED_METHODS)
        return response
    if config.token is not None:
        accepted, from_query = security.token_given(request, config.token)
        if not accepted:
            response = make_response(
                _message(
                    401,
                    "Token required",
                    "Open the URL crawler serve printed (with ?token=...), or send "
                    "Authorization: Bearer TOKEN.",
                )
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="crawler dashboard"'
            return response
        if from_query:
            response = redirect(security.url_without_token(request), code=303)
            response.set_cookie(
                security.TOKEN_COOKIE,
                security.cookie_value(config.token),
                httponly=True,
                samesite="Strict",
                path="/",
            )
            return response
    return None


def _message(status: int, title: str, text: str) -> ResponseReturnValue:
    return render_template("message.html", title=title, text=text), status


def _http_error(error: HTTPException) -> ResponseReturnValue:
    return _message(error.code or 500, error.name, error.description or "")


def _store_error(error: StoreError) -> ResponseReturnValue:
    return _message(503, "Store unavailable", redact_text(str(error)))


def _bad_query(error: data.BadQuery) -> ResponseReturnValue:
    return _message(400, "Bad request", str(error))


def _page_number() -> int:
    """``?page=``: ASCII digits, clamped to ``1..MAX_PAGE``; anything else is page 1."""
    text = request.args.get("page", "")
    if not ASCII_DIGITS.fullmatch(text):
        return 1
    return min(max(1, int(text)), MAX_PAGE)


def index() -> ResponseReturnValue:
    board = dashboard()
    runs = data.list_runs(board.store, _page_number())
    source = board.jobs
    return render_template(
        "index.html",
        runs=runs,
        jobs=source.overview() if source is not None else None,
        jobs_file=source.jobs.path if source is not None else None,
        store=board.store_shown,
    )


def _run_or_404(run_id: int, summary: bool = False) -> dict[str, Any]:
    """Run ``run_id``: its :func:`~crawler.dashboard.data.run_summary` with
    ``summary``, else only its ``id``; 404 when the store has no such run."""
    board = dashboard()
    store = board.store
    if run_id > board.max_run_id:
        abort(404, description="The store has no run of that number.")
    run = data.run_summary(store, run_id) if summary else store.run(run_id)
    if run is None:
        abort(404, description=f"The store has no run {run_id}.")
    shown: dict[str, Any] = run if summary else {"id": run["id"]}
    g.run = shown  # for an error page's link back to the run
    return shown


def run_page(run_id: int) -> ResponseReturnValue:
    run = _run_or_404(run_id, summary=True)
    board = dashboard()
    job_run = None
    source = board.jobs
    if source is not None:
        job_run = source.run_of_crawl(run_id, board.config.store_url)
    return render_template("run.html", run=run, job_run=job_run)


def report_page(run_id: int) -> ResponseReturnValue:
    _run_or_404(run_id)
    board = dashboard()
    try:
        report = importlib.import_module("crawler.report")
    except ImportError:
        return _message(
            200, "Report not available", "This installation has no run reports (crawler.report)."
        )
    compare = request.args.get("compare", "")
    compare_with: int | None
    if compare == "none":
        compare_with = None
    elif compare:
        if not ASCII_DIGITS.fullmatch(compare):
            raise data.BadQuery(f"compare takes a run id or none, not {compare[:40]!r}")
        compare_with = int(compare)
        if compare_with > board.max_run_id:
            return _message(404, "No report", "The store has no run of that number to compare.")
    else:
        previous = getattr(report, "previous_run_for", None)
        compare_with = previous(board.store, run_id) if previous is not None else None
    key = (
        run_id,
        compare_with,
        run_version(board.store, run_id),
        run_version(board.store, compare_with),
    )
    try:
        html = board.reports.get(
            key,
            lambda: report.render_report(
                board.store, run_id, compare_with=compare_with, plotlyjs="/static/plotly.min.js"
            ),
        )
    except (ConfigError, ValueError) as e:
        return _message(404, "No report", redact_text(str(e)))
    if html is None:
        response = make_response(
            _message(
                503,
                "Busy",
                "Another report is being rendered: reload this page in a few seconds.",
            )
        )
        response.headers["Retry-After"] = str(REPORT_RETRY_AFTER)
        return response
    response = make_response(html)
    response.headers["Content-Security-Policy"] = security.report_policy(
        importlib.import_module("crawler.report.html").REPORT_SCRIPT_HASH
    )
    return response


def log_page(run_id: int) -> ResponseReturnValue:
    run = _run_or_404(run_id)
    board = dashboard()
    job_run = None
    source = board.jobs
    if source is not None:
        job_run = source.run_of_crawl(run_id, board.config.store_url)
    lines: list[str] = []
    path = None
    if job_run is None:
        why = (
            "No log file was recorded for this run: only runs that a job started "
            "(crawler scheduler, crawler jobs run) have one"
            + ("." if source is not None else ", and no job file was given (--jobs-file).")
        )
    else:
        assert source is not None  # a history row comes from the job file's store
        path, reason = source.log_path(job_run)
        if path is not None:
            try:
                lines = data.tail(path)
            except OSError as e:
                path, reason = None, f"its log file cannot be read ({e.strerror})"
        why = f"No log to show: {reason}."
    return render_template(
        "log.html",
        run=run,
        job_run=job_run,
        path=path,
        why=why,
        lines=lines,
        max_lines=data.LOG_TAIL_LINES,
    )


def pages_page(run_id: int) -> ResponseReturnValue:
    run = _run_or_404(run_id)
    q = request.args.get("q", "")
    status = request.args.get("status", "")
    listing = data.search_pages(dashboard().store, run_id, q, status, _page_number())
    return render_template("pages.html", run=run, listing=listing, q=q, status=status)


def items_page(run_id: int) -> ResponseReturnValue:
    run = _run_or_404(run_id)
    q = request.args.get("q", "")
    spec = request.args.get("spec", "")
    store = dashboard().store
    listing = data.search_items(store, run_id, q, spec, _page_number())
    specs = data.item_specs(store, run_id)
    return render_template("items.html", run=run, listing=listing, q=q, spec=spec, specs=specs)


def job_page(name: str) -> ResponseReturnValue:
    board = dashboard()
    source = board.jobs
    if source is None or name not in source.jobs.jobs:
        abort(404, description="No such job in the job file.")
    overview = next(j for j in source.overview() if j["name"] == name)
    history = source.history(name)
    for row in history:  # link a crawl run only when it is in the store shown here
        row["linked"] = source.wrote_to(row, board.config.store_url)
    return render_template("job.html", job=overview, history=history)


def plotly_js() -> ResponseReturnValue:
    body = dashboard().plotly_js()
    if body is None:
        abort(404, description="plotly is not installed.")
    response = make_response(body)
    response.mimetype = "text/javascript"
    response.headers["Cache-Control"] = PLOTLY_CACHE
    response.add_etag()
    return response.make_conditional(request)


def favicon() -> ResponseReturnValue:
    """No icon (a browser asks for one on pages that name none, such as a report's)."""
    return "", 204
