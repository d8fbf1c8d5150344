"""``crawler worker REDIS_URL``: join a shared crawl (``crawler crawl --frontier``).

The worker reads the crawl's options from Redis (:mod:`crawler.frontier.shared`:
spider arguments, settings without secrets, the store URL without its
password), adds its own ``-s`` settings and ``--store`` (secrets come from its
environment or options), checks that its store holds the crawl's run (else it
refuses, creating nothing there: :func:`_check_crawl_store`), and crawls from
the shared queue into the same run until the crawl is done
(:mod:`crawler.frontier.scheduler`).  The last worker to close finishes the run
with every worker's stats and prints its verdict.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import UsageError

from crawler.commands.crawl import (
    STORE_PASSWORD_HINT,
    WORKER,
    check_frontier_store,
    redis_url_argument,
    report_crawl,
    set_logstats_interval,
)
from crawler.commands.options import add_scrapy_options, scrapy_overrides, write_usage_outcome
from crawler.exceptions import (
    ConfigError,
    CrawlNotJoinableError,
    StoreError,
    StoreNotFoundError,
)
from crawler.frontier.shared import (
    DEAD,
    FINISHED,
    JOINABLE,
    MISSING,
    SharedCrawl,
    connect,
    crawl_prefix,
    crawl_status,
    crawl_statuses,
    frontier_overrides,
)
from crawler.outcome import (
    CONFIG_ERROR,
    FRONTIER_UNREACHABLE_REASON,
    STORE_FAILED,
    outcome_file,
)
from crawler.pipelines.store import check_store_opens
from crawler.redaction import redact_text, redact_url
from crawler.runner import check_spider_settings, project_settings, run_spider
from crawler.settingscheck import check_types
from crawler.storage.sql import SqlStore, check_store_url, display_url

if TYPE_CHECKING:
    from scrapy.settings import Settings

WAIT_POLL = 0.2  # seconds between two looks for the crawl to join (--wait)
# Seconds a worker waits for the crawl's run id (the starter records it when its store
# pipeline opens, a second or two after it published the crawl): SharedCrawl.claim_run's.
RUN_WAIT = 60.0
# libpq's message when the server asks for a password and none was given.
NO_PASSWORD = "no password supplied"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "worker",
        help="join a shared crawl (crawler crawl --frontier) and crawl from its queue",
        description="Crawl pages from the shared queue of a crawl started with `crawler "
        "crawl --frontier REDIS_URL`, into the same run of the same store, until the "
        "queue stays empty and no worker has a request in flight.",
    )
    p.add_argument(
        "redis_url",
        type=redis_url_argument,
        metavar="REDIS_URL",
        help="redis://HOST:PORT/DB (DB 0 when left out; a password: in REDISCLI_AUTH, as "
        "for redis-cli)",
    )
    p.add_argument(
        "--crawl",
        metavar="ID",
        default=None,
        help="the crawl to join (printed by crawler crawl --frontier); default: the only "
        "crawl running on this Redis database",
    )
    p.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help="the store URL (default: the crawl's, without its password: PostgreSQL "
        "reads one from PGPASSWORD or ~/.pgpass); it must hold the crawl's run",
    )
    p.add_argument(
        "--wait",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait up to SECONDS for the crawl to start (workers started before "
        "`crawler crawl --frontier`; default: 0, fail at once)",
    )
    add_scrapy_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    try:
        settings, spider_arguments = _prepare(args)
    except (UsageError, ConfigError, StoreError) as e:  # exit code 2 (crawler.cli)
        code = STORE_FAILED if isinstance(e, StoreError) else CONFIG_ERROR
        write_usage_outcome(args, e, started, code)
        raise
    outcome = run_spider("site", settings, preflight=False, **spider_arguments)
    return report_crawl(outcome, settings, started)


def _prepare(args: argparse.Namespace) -> tuple[Settings, dict[str, Any]]:
    # Redis's answers are awaited CRAWLER_FRONTIER_SOCKET_TIMEOUT seconds (this worker's -s)
    local = project_settings(scrapy_overrides(args))
    check_types(local, "CRAWLER_FRONTIER_SOCKET_TIMEOUT")
    timeout = local.getfloat("CRAWLER_FRONTIER_SOCKET_TIMEOUT")
    client = connect(args.redis_url, timeout, option="REDIS_URL")  # a ConfigError naming it
    import redis  # imported by connect(): a worker always has a frontier

    try:
        return _join(client, args)
    except (redis.ConnectionError, redis.TimeoutError) as e:  # down or hung since the ping
        raise ConfigError(
            f"the frontier's Redis at {redact_url(args.redis_url)} stopped answering while "
            f"this worker joined ({redact_text(str(e)).rstrip('.')}): start it again, or "
            "check that it is reachable"
        ) from None


def _join(client: Any, args: argparse.Namespace) -> tuple[Settings, dict[str, Any]]:
    """The settings and spider arguments of the crawl this worker joins (``--crawl``,
    or the only one running, waited for up to ``--wait`` seconds), its store checked."""
    deadline = time.monotonic() + max(args.wait, 0.0)
    while True:
        try:
            crawl_id, options = _crawl_to_join(client, args)
        except CrawlNotJoinableError:
            raise  # finished, or dead: waiting does not help
        except ConfigError as e:
            if time.monotonic() >= deadline:
                if args.wait > 0:
                    raise ConfigError(f"{e} (after waiting {args.wait:g} s)") from None
                raise
            time.sleep(WAIT_POLL)
        else:
            break
    shown = redact_url(args.redis_url)
    overrides: dict[str, Any] = dict(options["settings"])
    overrides.update(scrapy_overrides(args))  # this worker's -s last: it wins
    overrides["CRAWLER_STORE_URL"] = check_store_url(args.store or options["store"])
    overrides.update(frontier_overrides(args.redis_url, crawl_id))
    settings = project_settings(overrides)
    set_logstats_interval(settings)
    outcome_file(settings)
    spider_arguments = dict(options["spider_arguments"])
    check_spider_settings(options.get("spider", "site"), settings, spider_arguments)
    check_frontier_store(settings, WORKER)
    resumed = _check_crawl_store(client, crawl_id, options, settings)  # creates nothing
    try:
        check_store_opens(settings)
    except StoreError as e:
        raise _with_password_hint(e) from None
    if resumed is not None:
        _reopen_run(settings, resumed)
        print(
            f"Crawl {crawl_id}'s run {resumed} stopped when the frontier's Redis did not "
            f"answer ({FRONTIER_UNREACHABLE_REASON}): this worker resumes it",
            file=sys.stderr,
        )
    print(f"Joining crawl {crawl_id} in {shown}", file=sys.stderr)
    return settings, spider_arguments


def _crawl_to_join(client: Any, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The id and options of the crawl to join: ``--crawl``, or the only one running
    (:data:`~crawler.frontier.shared.JOINABLE`); a
    :class:`~crawler.exceptions.ConfigError` when there is none to join yet, a
    :class:`~crawler.exceptions.CrawlNotJoinableError` when ``--crawl``'s finished.
    A crawl no process works on any more (killed, or stopped at once by a second
    Ctrl-C) is never chosen without ``--crawl``; named with it, this worker takes it
    over: the dead workers' leases go back to the queue, and it finishes the run
    (if the run is still open in the store: :func:`_check_crawl_store`)."""
    crawl_id = args.crawl or _only_crawl(client, args.redis_url)
    shown = redact_url(args.redis_url)
    status = crawl_status(client, crawl_id)
    if status == MISSING:
        raise ConfigError(f"no crawl {crawl_id} in {shown}: see `crawler crawl --frontier`")
    if status == FINISHED:
        raise CrawlNotJoinableError(
            f"the crawl {crawl_id} in {shown} has finished: nothing to join"
        )
    if status == DEAD:  # only when named with --crawl (_only_crawl skips dead ones)
        print(
            f"No process works on the crawl {crawl_id} in {shown} any more: this worker "
            "takes it over",
            file=sys.stderr,
        )
    options = SharedCrawl(client, crawl_prefix(crawl_id), "").options()
    if options is None:  # expired since
        raise ConfigError(f"no crawl {crawl_id} in {shown}: see `crawler crawl --frontier`")
    return crawl_id, options


def _only_crawl(client: Any, url: str) -> str:
    """The id of the only joinable crawl on the Redis at ``url`` (dead ones are not
    counted, but named when none is joinable); else a
    :class:`~crawler.exceptions.ConfigError`."""
    statuses = crawl_statuses(client)
    crawls = [c for c, status in statuses.items() if status in JOINABLE]
    if len(crawls) == 1:
        return crawls[0]
    if not crawls:
        dead = [c for c, status in statuses.items() if status == DEAD]
        gone = (
            f" (no process works on {', '.join(dead)} any more: take one over with --crawl "
            "ID, or start a new crawl)"
            if dead
            else ""
        )
        raise ConfigError(f"no crawl is running in {redact_url(url)}: nothing to join{gone}")
    raise ConfigError(
        f"{len(crawls)} crawls are running in {redact_url(url)} ({', '.join(crawls)}): "
        "choose one with --crawl ID"
    )


def _seconds(text: str) -> float:
    """``--wait``'s value: seconds, not negative (an :class:`argparse.ArgumentTypeError`)."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes seconds, not {text!r}") from None
    if not seconds >= 0:  # NaN too
        raise argparse.ArgumentTypeError(f"takes seconds (0 or more), not {text!r}")
    return seconds


def _crawl_run(client: Any, crawl_id: str) -> int:
    """The id of the crawl's run in its store, once the process that started the
    crawl recorded it (in ``meta``, :meth:`SharedCrawl.claim_run`); a
    :class:`~crawler.exceptions.ConfigError` after :data:`RUN_WAIT` seconds
    without one, or when the crawl finished meanwhile."""
    shared = SharedCrawl(client, crawl_prefix(crawl_id), "")
    deadline = time.monotonic() + RUN_WAIT
    while True:
        raw = client.hget(shared.key("meta"), "run_id")
        if raw:
            return int(raw)
        if shared.state() != "running":
            raise ConfigError(f"the crawl {crawl_id} has finished: nothing to join")
        if time.monotonic() >= deadline:
            raise ConfigError(
                f"crawl {crawl_id}: no run in the store after {RUN_WAIT:g} s (the "
                "process that started it did not create one)"
            )
        time.sleep(WAIT_POLL)


def _check_crawl_store(
    client: Any, crawl_id: str, options: dict[str, Any], settings: Settings
) -> int | None:
    """Refuse a store that is not the crawl's, before anything is created in it;
    the run's id when it is to be resumed, else None.

    The worker's store (``--store``, else the crawl's URL without its password)
    must hold the crawl's run, unfinished, of the crawl's spider and start URL: a
    URL names a database as one machine reaches it (``localhost`` on another
    machine is another server), so the run is what tells.  The store is opened
    without creating tables (``create=False``); any mismatch is a
    :class:`~crawler.exceptions.ConfigError` naming both stores, passwords
    masked.  A server that wants a password and got none: a
    :class:`~crawler.exceptions.StoreError` saying how to give one.  A run that
    finished as ``frontier_unreachable`` (its workers gave up on Redis, which
    answers again with the crawl) is resumed: its id is returned, and
    :func:`_reopen_run` opens it again."""
    url = str(settings.get("CRAWLER_STORE_URL"))
    run_id = _crawl_run(client, crawl_id)
    spider = options.get("spider", "site")
    start_url = options["spider_arguments"].get("start_url")
    crawls = f"crawl {crawl_id}'s store {display_url(options['store'])} (run {run_id})"

    def refuse(why: str) -> ConfigError:
        return ConfigError(
            f"the store {display_url(url)} is not {crawls}: {why}; leave --store out or "
            "give the crawl's store as this machine reaches it"
        )

    try:
        store = SqlStore.open(url, create=False, timeout=settings.getfloat("CRAWLER_STORE_TIMEOUT"))
    except StoreNotFoundError:
        raise refuse("it has no crawler tables") from None
    except StoreError as e:
        raise _with_password_hint(e) from None
    try:
        run = store.run(run_id)
    finally:
        store.close()
    if run is None:
        raise refuse(f"it has no run {run_id}")
    if run["spider"] != spider or run["start_url"] != start_url:
        raise refuse(f"its run {run_id} is of {run['spider']} from {run['start_url']}")
    if run["finished_at"] is not None and run["finish_reason"] == FRONTIER_UNREACHABLE_REASON:
        return run_id
    if run["finished_at"] is not None:  # the right store: the crawl is over
        raise ConfigError(
            f"crawl {crawl_id}'s run {run_id} in {display_url(url)} has finished "
            f"({run['finish_reason']}): nothing to join; start a new crawl"
        )


def _reopen_run(settings: Settings, run_id: int) -> None:
    """Open the run again (:meth:`~crawler.storage.sql.SqlStore.reopen_run`); a
    worker that reopened it meanwhile leaves it open, as wanted."""
    store = SqlStore.open(
        settings["CRAWLER_STORE_URL"],
        create=False,
        timeout=settings.getfloat("CRAWLER_STORE_TIMEOUT"),
    )
    try:
        store.reopen_run(run_id, FRONTIER_UNREACHABLE_REASON)
    finally:
        store.close()


def _with_password_hint(error: StoreError) -> StoreError:
    """``error``, with how to give the store's password when libpq says it needs one
    (the crawl's store URL in Redis has none)."""
    if NO_PASSWORD not in str(error):
        return error
    return StoreError(f"{error}: give the store's password in {STORE_PASSWORD_HINT}")
