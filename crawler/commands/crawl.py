"""``crawler crawl START_URL``: crawl a site with the ``site`` spider and store every page."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.exceptions import UsageError
from scrapy.settings import SETTINGS_PRIORITIES

from crawler.browser.explore import EXPLORE_MODES
from crawler.browser.rendermode import RENDER_MODES
from crawler.commands.login import (
    add_cookies_option,
    add_login_options,
    check_login_settings,
    forget_prompted_password,
    login_settings,
)
from crawler.commands.options import (
    FEED_SUFFIXES,
    add_criteria_options,
    add_scrapy_options,
    check_distinct_outputs,
    criteria_overrides,
    merge_feeds,
    output_feed,
    scrapy_overrides,
    write_usage_outcome,
)
from crawler.exceptions import ConfigError, JobDirError, StoreError
from crawler.extract.loader import load_spec_sources
from crawler.feedstorage.preflight import preflight_feeds
from crawler.forms.policy import FORM_MODES
from crawler.frontier.shared import (
    PASSWORD_ENV,
    SharedCrawl,
    frontier_overrides,
    joinable_url,
    new_crawl_id,
    shareable_settings,
    store_without_password,
)
from crawler.journal import describe_job, job_meta
from crawler.outcome import (
    CONFIG_ERROR,
    FAILED,
    FRONTIER_UNREACHABLE_REASON,
    STORE_FAILED,
    Verdict,
    conclude,
    frontier_unreachable,
    outcome_file,
)
from crawler.pipelines.store import check_store_opens, unwritten_summary
from crawler.redaction import redact_url
from crawler.runner import CrawlOutcome, check_spider_settings, project_settings, run_spider
from crawler.storage.sql import SqlStore, check_store_url, display_url
from crawler.summary import run_summary

if TYPE_CHECKING:
    from scrapy.settings import Settings

FEED_SUFFIX_LIST = ", ".join(FEED_SUFFIXES)
APPENDABLE_FEED_FORMATS = ("jsonlines",)  # a resume appends to these (Scrapy's format names)
ITEM_CLASS = "crawler.extract.result.ExtractedItem"
PROGRESS_MODES = ("auto", "log", "off")  # CRAWLER_PROGRESS (crawler.extensions.progress)
# Seconds between progress log lines (Scrapy's LOGSTATS_INTERVAL, 60 by default: a short
# crawl said "Crawled 0 pages" and nothing more), unless the project or -s sets it.
CRAWL_LOGSTATS_INTERVAL = 10.0


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "crawl",
        help="crawl a site from a start URL and store every page",
        description="Follow links within the start URL's host, record every response "
        "(URL, status, content type, title, depth, how it was found) in the store "
        "and, with --output, in a feed file.",
    )
    p.add_argument("start_url", metavar="START_URL")
    p.add_argument(
        "--allow-domain",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="also follow links to DOMAIN (repeatable)",
    )
    p.add_argument(
        "--ignore-robots", action="store_true", help="do not obey robots.txt (obeyed by default)"
    )
    p.add_argument(
        "--max-pages",
        type=int,
        metavar="N",
        help="stop after N pages (Scrapy's CLOSESPIDER_PAGECOUNT; robots.txt and sitemaps do "
        "not count; responses in flight still land)",
    )
    p.add_argument(
        "--max-depth",
        type=int,
        metavar="N",
        help="do not follow links more than N hops from the start URL",
    )
    p.add_argument(
        "--render",
        choices=RENDER_MODES,
        default=None,
        help="render pages in a browser: never, auto (when a page needs it) "
        "or always (default: never)",
    )
    p.add_argument(
        "--explore",
        choices=EXPLORE_MODES,
        default=None,
        help="on rendered pages, fire what a user could click, hover or change and scroll "
        "while the page grows, never anything that looks like logout, delete, purchase or "
        "unsubscribe: none or safe (default: safe)",
    )
    p.add_argument(
        "--forms",
        choices=FORM_MODES,
        default=None,
        help="submit forms found on pages: none, get (GET forms, the default) or all "
        "(GET and POST); login and logout forms never",
    )
    p.add_argument(
        "--form-value",
        action="append",
        default=[],
        type=_form_value,
        metavar="NAME=VALUE",
        dest="form_values",
        help="submit VALUE in every form field called NAME (repeatable)",
    )
    p.add_argument(
        "--submit-forms",
        metavar="PATTERN",
        default=None,
        help="also submit POST forms whose action URL matches this regular expression",
    )
    p.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help="the store URL for runs, pages and items: sqlite:///PATH (a SQLite file, "
        "created if missing) or postgresql://USER@HOST/DB (default: sqlite:///crawl.db)",
    )
    p.add_argument(
        "-o",
        "--output",
        action="append",
        default=[],
        metavar="FILE",
        help=f"also write page records to FILE ({FEED_SUFFIX_LIST}; a path, or a URI "
        "Scrapy's feeds take: s3://, ftp://, sftp://, file:...; repeatable)",
    )
    p.add_argument(
        "--extract",
        action="append",
        default=[],
        metavar="SPEC_FILE",
        help="extract items with the spec(s) in SPEC_FILE (YAML or TOML) from every page "
        "whose URL the spec matches, into the store's items table (repeatable)",
    )
    p.add_argument(
        "--output-items",
        action="append",
        default=[],
        metavar="FILE",
        help=f"also write extracted items to FILE ({FEED_SUFFIX_LIST}; a path or a URI, as "
        "-o; repeatable)",
    )
    p.add_argument(
        "--job-dir",
        metavar="DIR",
        default=None,
        help="keep the crawl's state in DIR (Scrapy's JOBDIR, with a request journal) so "
        "that it can be resumed after Ctrl-C, an error or a kill: the same command again "
        "resumes it, writing to the same run",
    )
    p.add_argument(
        "--frontier",
        type=redis_url_argument,
        metavar="REDIS_URL",
        default=None,
        help="share the crawl's queue and seen requests in Redis (redis://HOST:PORT/DB) so "
        "that `crawler worker REDIS_URL` processes, here or on other machines, crawl it "
        "too, into the same run of a PostgreSQL --store (CRAWLER_FRONTIER); a Redis "
        "password is read from REDISCLI_AUTH when the URL has none",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="with --job-dir: resume the crawl DIR holds, and fail if it holds none",
    )
    p.add_argument(
        "--incremental",
        action="store_true",
        help="a re-crawl: ask the server whether each page changed since the latest run of "
        "this start URL in the store that succeeded with the same crawl options (ETag, "
        "Last-Modified, else the body's digest); unchanged pages are not parsed or rendered, "
        "their stored links are followed and their stored items carried "
        "(CRAWLER_INCREMENTAL)",
    )
    p.add_argument(
        "--progress",
        choices=PROGRESS_MODES,
        default=None,
        help="auto: one live line of pages, rate, queue, renders, errors and time when "
        "stderr is a terminal, else as log; log: a 'Progress:' log line every "
        f"LOGSTATS_INTERVAL seconds ({CRAWL_LOGSTATS_INTERVAL:g} by default here); off: "
        "neither (CRAWLER_PROGRESS; default: auto)",
    )
    add_criteria_options(p)
    add_scrapy_options(p)
    add_login_options(p, with_login_url=True)
    add_cookies_option(p)
    p.set_defaults(run=run)


def _form_value(text: str) -> str:
    name, sep, _ = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"takes NAME=VALUE, not {text!r}")
    return text


def settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if args.progress is not None:
        overrides["CRAWLER_PROGRESS"] = args.progress
    overrides.update({**criteria_overrides(args), **scrapy_overrides(args)})  # -s last: it wins
    if args.ignore_robots:
        overrides["ROBOTSTXT_OBEY"] = False
    if args.store is not None:  # a bare path is refused with the URL to write
        overrides["CRAWLER_STORE_URL"] = check_store_url(args.store)
    if args.extract:
        load_spec_sources(args.extract)  # a bad spec file: a SpecError before anything is crawled
        overrides["CRAWLER_EXTRACT_SPECS"] = args.extract
    outputs = [("-o", o, "crawler.items.PageRecord") for o in args.output]
    outputs += [("--output-items", o, ITEM_CLASS) for o in args.output_items]
    check_distinct_outputs((option, output) for option, output, _ in outputs)
    feeds: dict[str, Any] = {}
    options: dict[str, str] = {}
    for option, output, item_class in outputs:
        uri, feed = output_feed(output, item_class)
        feeds[uri], options[uri] = feed, option
    if feeds:  # with the feeds of -s FEEDS=..., if any
        overrides["FEEDS"] = merge_feeds(feeds, overrides.get("FEEDS"), options)
    if args.resume and not args.job_dir:
        raise UsageError("--resume needs --job-dir DIR: the job directory of the crawl")
    if args.job_dir:
        overrides["JOBDIR"] = args.job_dir
    if args.incremental:
        overrides["CRAWLER_INCREMENTAL"] = True
    if args.frontier:
        if args.job_dir:
            raise UsageError(
                "--frontier and --job-dir exclude each other: a shared crawl keeps its "
                "state in Redis (a killed worker loses nothing), not in a job directory"
            )
        if args.incremental:
            raise UsageError("--incremental is not supported with --frontier yet")
        overrides.update(frontier_overrides(args.frontier, new_crawl_id()))
    if args.cookies:
        overrides["CRAWLER_COOKIES_FILE"] = args.cookies
    overrides.update(login_settings(args, args.login))
    return overrides


def set_logstats_interval(settings: Settings) -> None:
    """:data:`CRAWL_LOGSTATS_INTERVAL` as ``LOGSTATS_INTERVAL`` (the seconds between
    ``Progress:`` log lines, :mod:`crawler.extensions.progress`), unless the
    project's settings module or ``-s`` set it (Scrapy's priorities)."""
    if (settings.getpriority("LOGSTATS_INTERVAL") or 0) < SETTINGS_PRIORITIES["project"]:
        settings.set("LOGSTATS_INTERVAL", CRAWL_LOGSTATS_INTERVAL, priority="project")


def _check_job_dir(settings: Settings, args: argparse.Namespace) -> None:
    """With --resume, a job directory that holds no crawl: a
    :class:`~crawler.exceptions.JobDirError` before anything starts (one of another
    crawl, finished, in use, of another store or with other arguments was refused
    by the settings check, :func:`crawler.journal.check_job_dir`).  A resume
    appends to JSON lines ``-o`` files (:func:`_resumed_feeds`)."""
    directory = Path(settings["JOBDIR"])
    meta = job_meta(directory)  # checked with the settings (crawler.settingscheck)
    if not meta.get("state"):
        if args.resume:
            raise JobDirError(f"--resume: the job directory {directory} holds no crawl to resume")
        return
    print(f"Resuming {describe_job(meta)} from {directory}", file=sys.stderr)
    feeds = settings.getdict("FEEDS")
    if feeds:
        settings.set("FEEDS", _resumed_feeds(feeds), priority="cmdline")


def _resumed_feeds(feeds: dict[str, Any]) -> dict[str, Any]:
    """JSON lines feeds are appended to by a resume; a JSON, XML or CSV file
    appended to would no longer parse (a second ``[``, XML declaration or header
    row), so those are written again with this segment's records, said once."""
    resumed = {}
    for uri, feed in feeds.items():
        if feed.get("format") in APPENDABLE_FEED_FORMATS:
            feed = {**feed, "overwrite": False}
        elif feed.get("overwrite", True):
            print(
                f"warning: {uri} ({feed.get('format')}) cannot be appended to and is "
                "rewritten with the records of this part of the run only: write JSON "
                "lines (.jsonl) for a crawl you may resume, or export the whole run "
                "from the store (crawler export)",
                file=sys.stderr,
            )
        resumed[uri] = feed
    return resumed


def run(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    try:
        try:
            settings, spider_arguments = _prepare(args)
        except (UsageError, ConfigError, StoreError) as e:  # exit code 2 (crawler.cli)
            code = STORE_FAILED if isinstance(e, StoreError) else CONFIG_ERROR
            write_usage_outcome(args, e, started, code)
            raise
        return _crawl(settings, spider_arguments, started)
    finally:
        forget_prompted_password()


def _prepare(args: argparse.Namespace) -> tuple[Settings, dict[str, Any]]:
    """The crawl's settings and spider arguments, checked, and its store opened once
    (a :class:`~crawler.exceptions.StoreError` naming the store now, not a crawl
    that stops at once)."""
    overrides = settings_from_args(args)
    settings = project_settings(overrides)
    set_logstats_interval(settings)
    outcome_file(settings)  # one that cannot be written: an error now
    spider_arguments: dict[str, Any] = {"start_url": args.start_url}
    if args.allow_domain:
        spider_arguments["allow_domains"] = args.allow_domain
    for name in ("max_pages", "max_depth", "render", "forms", "submit_forms", "explore"):
        if getattr(args, name) is not None:
            spider_arguments[name] = getattr(args, name)
    if args.form_values:
        spider_arguments["form_values"] = args.form_values
    # the settings and the spider's arguments, before the store is opened (and created)
    check_spider_settings("site", settings, spider_arguments)
    check_login_settings(settings)
    if settings.get("JOBDIR"):
        _check_job_dir(settings, args)
    preflight_feeds(settings)  # ftp/sftp feeds: login, host key, directory, before the store
    shared = None
    if settings.get("CRAWLER_FRONTIER"):
        check_frontier_store(settings)
        shared = SharedCrawl.from_settings(settings)  # Redis unreachable: a ConfigError now
    check_store_opens(settings)
    if shared is not None:
        _publish_crawl(shared, settings, overrides, spider_arguments)
    return settings, spider_arguments


#: The command of a shared crawl's workers, as :func:`check_frontier_store` names it.
WORKER = "crawler worker"


def check_frontier_store(settings: Settings, command: str = "--frontier") -> None:
    """A shared crawl writes to one PostgreSQL store: a SQLite file (on each worker's
    machine, or one file for processes that wait on each other's write lock) is
    refused with a :class:`~crawler.exceptions.ConfigError` whose hint names
    ``command``'s options (``--frontier``: ``crawler crawl``; :data:`WORKER`)."""
    if not settings.getbool("CRAWLER_STORE_ENABLED"):
        raise ConfigError(
            f"{command} needs the store (CRAWLER_STORE_ENABLED): the workers' run is "
            "finished there by the last of them"
        )
    url = str(settings.get("CRAWLER_STORE_URL"))
    if url.lower().startswith("postgresql"):
        return
    if command == WORKER:
        raise ConfigError(
            f"{WORKER} writes to the crawl's PostgreSQL store, not {display_url(url)}: "
            "leave --store out (the crawl's store) or give the crawl's store as this "
            "machine reaches it (--store postgresql://USER@HOST/DB)"
        )
    raise ConfigError(
        f"{command} needs a PostgreSQL store that every worker reaches, not "
        f"{display_url(url)}: give --store postgresql://USER@HOST/DB"
    )


def redis_url_argument(text: str) -> str:
    """``text`` (a ``--frontier`` or ``REDIS_URL`` value) when its database is a
    number or left out (redis-py's default: DB 0); else an
    :class:`argparse.ArgumentTypeError` (redis-py reads ``redis://HOST:PORT/abc``
    as DB 0, silently).  The rest is checked by connecting
    (:func:`crawler.frontier.shared.connect`)."""
    try:
        parts = urlsplit(text)
    except ValueError:  # connect() says what is wrong with it
        return text
    database = parts.path.strip("/")
    if parts.scheme in ("redis", "rediss") and database and not database.isdigit():
        raise argparse.ArgumentTypeError(
            f"{redact_url(text)}: the database {database!r} is not a number: give "
            "redis://HOST:PORT/DB with DB a number (0 when left out)"
        )
    return text


def _publish_crawl(
    shared: SharedCrawl,
    settings: Settings,
    overrides: dict[str, Any],
    spider_arguments: dict[str, Any],
) -> None:
    """The new shared crawl's options in Redis, and its id on standard error."""
    options = {
        "spider": "site",
        "spider_arguments": spider_arguments,
        "settings": shareable_settings(overrides),
        "store": store_without_password(str(settings.get("CRAWLER_STORE_URL"))),
    }
    shared.publish(json.loads(json.dumps(options, default=str)))
    url, password = joinable_url(settings["CRAWLER_FRONTIER"])  # no password: pasteable
    needs = f", the Redis password in {PASSWORD_ENV}" if password else ""
    if store_needs_password(str(settings.get("CRAWLER_STORE_URL"))):
        needs += f", the store's password in {STORE_PASSWORD_HINT}"
    print(
        f"Shared crawl {shared.crawl_id} in {url}: join it with "
        f"`crawler worker {url} --crawl {shared.crawl_id}`{needs}",
        file=sys.stderr,
    )


#: How a worker gives the store's password, which the crawl's options in Redis
#: leave out (:func:`~crawler.frontier.shared.store_without_password`): libpq's
#: own variable and file (PostgreSQL's "The Password File"), or its ``--store``.
STORE_PASSWORD_HINT = "PGPASSWORD or ~/.pgpass (or --store with the password in its URL)"


def store_needs_password(url: str) -> bool:
    """Whether this process gave the PostgreSQL store at ``url`` a password that a
    worker must give too: one in the URL, or in ``PGPASSWORD`` (libpq's, which a
    worker on another machine does not have).  ``~/.pgpass`` cannot be told
    apart from a server that asks for none: not counted."""
    return bool(urlsplit(url).password or os.environ.get("PGPASSWORD"))


def _crawl(settings: Settings, spider_arguments: dict[str, Any], started: datetime) -> int:
    outcome = run_spider("site", settings, preflight=False, **spider_arguments)  # _prepare
    return report_crawl(outcome, settings, started)


def report_crawl(outcome: CrawlOutcome, settings: Settings, started: datetime) -> int:
    """Print the run's summary and verdict; the exit code.  A worker of a shared
    crawl that is not the last to close has no run to judge: its exit code is by
    its finish reason alone (:func:`crawler.runner.exit_code_for`), and one that
    stopped as ``frontier_unreachable`` prints the ``error:`` line the last
    worker's verdict gives for it."""
    last_worker = outcome.stats.get("frontier/last_worker")
    if settings.get("CRAWLER_FRONTIER") and outcome.stats.get("frontier/joined_finished"):
        # It finished between this worker's check at join and its scheduler's open.
        print(
            f"The crawl {outcome.stats.get('frontier/crawl_id')} finished as this worker "
            "joined it: nothing to do",
            file=sys.stderr,
        )
        return outcome.exit_code
    if settings.get("CRAWLER_FRONTIER") and last_worker is None and outcome.run_id is not None:
        # Stopped without leaving the crawl (a second Ctrl-C: Scrapy's unclean
        # shutdown): not known to be last, so no run to report or judge.
        crawl_id = outcome.stats.get("frontier/crawl_id")
        url, password = joinable_url(settings["CRAWLER_FRONTIER"])
        needs = f", the Redis password in {PASSWORD_ENV}" if password else ""
        print(
            f"This worker stopped before leaving crawl {crawl_id} (finish reason: "
            f"{outcome.finish_reason}): its requests in flight go back to the queue once "
            f"its heartbeat expires (CRAWLER_FRONTIER_LEASE_TIMEOUT, "
            f"{settings.getfloat('CRAWLER_FRONTIER_LEASE_TIMEOUT'):g} s); run "
            f"{outcome.run_id} stays open for the crawl's other workers to finish, or join "
            f"it with `crawler worker {url} --crawl {crawl_id}`{needs}",
            file=sys.stderr,
        )
        return outcome.exit_code
    if settings.get("CRAWLER_FRONTIER") and last_worker is False:
        print(
            f"This worker is done; the last worker of crawl "
            f"{outcome.stats.get('frontier/crawl_id')} finishes run {outcome.run_id}",
            file=sys.stderr,
        )
        if outcome.finish_reason == FRONTIER_UNREACHABLE_REASON:
            stopped = Verdict(FAILED, (frontier_unreachable(outcome.stats),))
            print(stopped.error_line(), file=sys.stderr)
        return outcome.exit_code
    store_url = settings.get("CRAWLER_STORE_URL")
    error = outcome.stats.get("store/error")
    if outcome.run_id is not None and not error:
        store = SqlStore.open(store_url, timeout=settings.getfloat("CRAWLER_STORE_TIMEOUT"))
        try:
            print(run_summary(store, outcome.run_id))
            print(f"\nStored in {display_url(store_url)}")
        finally:
            store.close()
    verdict = conclude(outcome.stats, settings, started_at=started)
    line = verdict.error_line()
    if line:
        print(line, file=sys.stderr)
    unwritten = unwritten_summary(outcome.stats)
    if unwritten:  # the last line: rows the store did not take, saved and lost
        print(unwritten, file=sys.stderr)
    return verdict.exit_code
