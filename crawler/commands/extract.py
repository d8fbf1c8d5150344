"""``crawler extract URL ...``: items from a few pages, now, as JSON lines, a file or a store.

``-o`` takes a feed file (``.jsonl``, ``.json``, ``.csv``, ``.xml``: every row,
through Scrapy's feed exports; a path, or a URI of Scrapy's feed storages such
as ``ftp://`` or ``s3://``, passed on as it is) or a store URL
(``sqlite:///PATH``, ``postgresql://...``: items upserted, rejects and a run
row, as a crawl stores them).  A bare path ending in ``.db``, ``.sqlite`` or
``.sqlite3`` is refused with the store URL to write
(:func:`crawler.storage.sql.check_store_url`).  With ``-o FILE``, feeds given
with ``-s FEEDS=...`` are written too (without ``-o`` they replace standard
output); two outputs to one file are an error.

Logging in works as for ``crawler crawl`` (``--login``, ``--cookies``: the
login middleware).  The run fails (exit code 1) when a URL gives no page,
when one leads to a login page, or when nothing at all was extracted; each
says why on stderr.  The rest of a crawl's verdict applies too (the store,
feeds, ``CRAWLER_MIN_PAGES``...: :mod:`crawler.outcome`), and so does
``CRAWLER_OUTCOME_FILE``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.exceptions import UsageError
from scrapy.settings import default_settings as scrapy_default_settings

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
    add_scrapy_options,
    failed_feeds,
    has_scheme,
    merge_feeds,
    output_feed,
    scrapy_overrides,
    write_usage_outcome,
)
from crawler.exceptions import ConfigError, StoreError
from crawler.extract.engines import ENGINE_NAMES
from crawler.extract.inline import DEFAULT_NAME, spec_sources
from crawler.extract.loader import load_spec_sources
from crawler.outcome import (
    LOGIN_FAILED,
    NO_ITEMS,
    START_URL_FAILED,
    Reason,
    conclude,
    outcome_file,
)
from crawler.pipelines.store import unwritten_summary
from crawler.redaction import redact_url
from crawler.runner import project_settings, run_spider
from crawler.settings import FEED_STORAGES as framework_feed_storages
from crawler.storage.sql import SqlStore, check_store_url, display_url, looks_like_store
from crawler.utils.url import check_url, read_url_file

if TYPE_CHECKING:
    from crawler.runner import CrawlOutcome

ITEM_CLASS = "crawler.extract.result.ExtractedItem"
# URIs -o takes as feeds, though they look like store URLs ("://"): Scrapy's storages.
# Scrapy's storages and the framework's (crawler.settings: sftp, ftps).
FEED_STORAGE_SCHEMES = tuple(
    s for s in {**scrapy_default_settings.FEED_STORAGES_BASE, **framework_feed_storages} if s
)
PROGRESS_MIN_URLS = 10  # fewer URLs than this: no live progress line
NOT_FOR_FILES = ("crawler.pipelines.dedup.DedupPipeline", "crawler.pipelines.store.StorePipeline")

EXAMPLES = """examples:
  crawler extract https://example.org/a https://example.org/b --field title=css:h1
  crawler extract URL --item 'css:li.product' --field name=css:h2 \\
      --field 'price=css:.price::text' --field 'links[]=css:a::attr(href)' -o out.csv
  crawler extract --from-file urls.txt --spec product.yaml -o sqlite:///items.db
  crawler extract https://bank.example/payments --spec payments.yaml \\
      --login https://bank.example/login --username alice --password-env BANK_PASSWORD
"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "extract",
        help="extract items from some pages now (no crawl)",
        description="Fetch the given URLs (no links followed) and print one JSON line per "
        "page, or per --item match, with the fields asked for.  SELECTOR is css:EXPR or "
        "xpath:EXPR; CSS may end in ::text or ::attr(name), and without either a field "
        "takes the matched element's whole text.  NAME=SELECTOR takes the first match, "
        "NAME[]=SELECTOR every match as a list.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("urls", nargs="*", metavar="URL")
    p.add_argument("--from-file", metavar="FILE", help="also the URLs in FILE, one a line")
    p.add_argument(
        "--spec",
        action="append",
        default=[],
        metavar="FILE",
        help="a spec file (YAML or TOML; repeatable); its url pattern chooses the pages",
    )
    p.add_argument("--item", metavar="SELECTOR", help="one row per element SELECTOR matches")
    p.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="NAME=SELECTOR",
        help="a field of the inline spec (repeatable); NAME[]=SELECTOR for a list",
    )
    p.add_argument(
        "--name",
        default=DEFAULT_NAME,
        help=f"the inline spec's name, stored with its items (default: {DEFAULT_NAME})",
    )
    p.add_argument(
        "--render",
        choices=RENDER_MODES,
        default=None,
        help="render pages in a browser: never (default), auto (when a page needs it) or always",
    )
    p.add_argument("--engine", choices=ENGINE_NAMES, default="lxml", help="default: lxml")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE|STORE",
        help=f"write to a feed FILE ({', '.join(FEED_SUFFIXES)}; a path, or a URI Scrapy's "
        "feeds take: s3://, ftp://, sftp://, file:...) or to a store URL (sqlite:///PATH, "
        "postgresql://...) instead of stdout",
    )
    p.add_argument(
        "--ignore-robots", action="store_true", help="do not obey robots.txt (obeyed by default)"
    )
    add_scrapy_options(
        p,
        log_level="WARNING",
        log_help="Scrapy's log on stderr (default: WARNING, so stdout is only the JSON lines)",
    )
    add_login_options(p, with_login_url=True)
    add_cookies_option(p)
    p.set_defaults(run=run)


def is_store(output: str | None) -> bool:
    """Whether the ``-o`` value ``output`` is a store (``sqlite:///...``, a path
    ending in ``.db``...), not a feed (a path, or a URI of Scrapy's feed
    storages: ``ftp://``, ``s3://``, ``file:``...)."""
    if output is None or not looks_like_store(output):
        return False
    return urlsplit(output).scheme not in FEED_STORAGE_SCHEMES


def _output_settings(output: str | None) -> dict[str, Any]:
    if output is None:
        return {"FEEDS": {"stdout:": {"format": "jsonlines", "item_classes": [ITEM_CLASS]}}}
    if is_store(output):
        return {"CRAWLER_STORE_URL": check_store_url(output)}
    if not has_scheme(output) and Path(output).suffix.lower() not in FEED_SUFFIXES:
        raise UsageError(
            f"cannot tell the format of {output}: use a file ending in "
            f"{', '.join(FEED_SUFFIXES)}, or a store URL (sqlite:///PATH, postgresql://...)"
        )
    uri, feed = output_feed(output, ITEM_CLASS)
    return {"FEEDS": {uri: feed}}


def settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {
        "CRAWLER_EXTRACT_ENGINE": args.engine,
    }
    if args.ignore_robots:
        overrides["ROBOTSTXT_OBEY"] = False
    overrides.update(_output_settings(args.output))
    if args.cookies:
        overrides["CRAWLER_COOKIES_FILE"] = args.cookies
    overrides.update(login_settings(args, args.login))
    given = scrapy_overrides(args)
    if args.output is not None and not is_store(args.output) and "FEEDS" in given:
        # -o FILE and -s FEEDS=...: both written (without -o, -s FEEDS replaces stdout)
        options = dict.fromkeys(overrides["FEEDS"], "-o")
        given["FEEDS"] = merge_feeds(overrides["FEEDS"], given["FEEDS"], options)
    overrides.update(given)  # -s last: it wins
    return overrides


def _login_advice(settings: dict[str, Any]) -> str:
    login_url = settings.get("CRAWLER_LOGIN_URL")
    if login_url:
        user = settings.get("CRAWLER_LOGIN_USERNAME")
        return f"even after logging in at {login_url} as {user}: that account may not see it"
    cookies = settings.get("CRAWLER_COOKIES_FILE")
    if cookies:
        return (
            f"the session in {cookies} may have expired: save a new one with "
            "`crawler login LOGIN_URL --username USER --save-cookies FILE`, or use --login"
        )
    return (
        "log in first: --login LOGIN_URL --username USER --password-env VAR, or --cookies "
        "FILE saved by `crawler login LOGIN_URL --username USER --save-cookies FILE`"
    )


def _nothing_extracted(stats: dict[str, Any], specs: list[Any]) -> str:
    pages = stats.get("extract/no_items", 0)
    if not stats.get("extract/pages"):
        wanted = "; ".join(
            f"spec {spec.name!r} takes URLs matching {spec.url!r}" for spec in specs if spec.url
        )
        wanted = f" ({wanted})" if wanted else ""
        return (
            f"error: nothing extracted: no spec's url pattern matched the {pages} page(s){wanted}"
        )
    return (
        f"error: nothing extracted from the {pages} page(s) fetched: the item selector matched "
        "nothing or every field was empty; check the selectors (--item, --field or the spec)"
    )


def report(
    outcome: CrawlOutcome,
    output: str | None,
    settings: dict[str, Any] | None = None,
    specs: list[Any] | None = None,
) -> list[str]:
    """What to tell the user on stderr after the run (nothing when all went well to stdout).

    ``settings`` are the run's (for the login advice), ``specs`` its
    :class:`~crawler.extract.spec.ItemSpec` s (for what their url patterns want).
    """
    stats = outcome.stats
    settings = settings or {}
    lines = []
    if outcome.finish_reason == "login_failed":
        lines.append(f"error: {stats.get('login/error') or 'the login failed'}")
    if stats.get("store/error"):
        lines.append(f"error: {stats['store/error']}")
    failed = stats.get("extract/urls_failed", 0)
    if failed:
        lines.append(f"warning: {failed} URL(s) gave no page to extract from (see above)")
    login_pages = stats.get("extract/login_pages", 0)
    if login_pages:
        first = stats.get("extract/first_login_page", "")
        lines.append(
            f"error: {login_pages} URL(s) led to a login page ({first}); {_login_advice(settings)}"
        )
    elif stats.get("extract/no_items") and not stats.get("extract/pages_with_items"):
        lines.append(_nothing_extracted(stats, specs or []))
    else:
        unmatched = stats.get("extract/pages_unmatched", 0)
        if unmatched:
            lines.append(f"warning: {unmatched} page(s) matched no spec's url pattern")
        empty = stats.get("extract/no_items", 0) - unmatched
        if empty > 0:
            lines.append(f"warning: {empty} page(s) matched a spec but gave no item")
    prefix = "validate/dropped/"
    dropped = {k.removeprefix(prefix): n for k, n in stats.items() if k.startswith(prefix)}
    to_store = is_store(output)
    if dropped:
        where = "kept in the store's rejects table" if to_store else "left out"
        kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(dropped.items()))
        lines.append(f"warning: {sum(dropped.values())} invalid item(s) {where} ({kinds})")
    rows = stats.get("item_scraped_count", 0)
    if to_store and not stats.get("store/error"):
        lines.append(
            f"{rows} item(s) stored in {display_url(output)} (run {stats.get('store/run_id')})"
        )
    elif failed_feeds(stats):
        shown = redact_url(output) if output else "standard output"
        lines.append(f"error: {shown} could not be written (see the log)")
    elif output and not to_store:
        lines.append(f"{rows} row(s) written to {redact_url(output)}")
    unwritten = unwritten_summary(stats)
    if unwritten:  # the last line: rows the store did not take, saved and lost
        lines.append(unwritten)
    return lines


def failed(outcome: CrawlOutcome) -> bool:
    """Whether the extraction failed a user: a URL gave no page or a login page,
    nothing was extracted at all, or the output (a file or the store) could not
    be written."""
    stats = outcome.stats
    nothing = stats.get("extract/no_items") and not stats.get("extract/pages_with_items")
    return bool(
        stats.get("extract/urls_failed")
        or stats.get("extract/login_pages")
        or nothing
        or failed_feeds(stats)
        or stats.get("store/error")
        or stats.get("store/rows_lost")
    )


def own_reasons(outcome: CrawlOutcome) -> tuple[Reason, ...]:
    """The reasons :func:`failed` sees that :func:`crawler.outcome.judge` may not:
    URLs that led to a login page, nothing extracted, a URL that gave no page
    (for :func:`crawler.outcome.conclude`, which keeps one reason per code)."""
    stats = outcome.stats
    reasons = []
    if stats.get("extract/login_pages"):
        first = stats.get("extract/first_login_page", "")
        message = f"{stats['extract/login_pages']} URL(s) led to a login page ({first})"
        reasons.append(Reason(LOGIN_FAILED, message))
    if stats.get("extract/no_items") and not stats.get("extract/pages_with_items"):
        reasons.append(Reason(NO_ITEMS, "nothing extracted"))
    if stats.get("extract/urls_failed"):
        message = f"{stats['extract/urls_failed']} URL(s) gave no page to extract from"
        reasons.append(Reason(START_URL_FAILED, message))
    return tuple(reasons)


def run(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    try:
        return _run(args, started)
    except (UsageError, ConfigError, StoreError) as e:  # exit code 2 (crawler.cli)
        write_usage_outcome(args, e, started)
        raise
    finally:
        forget_prompted_password()


def _run(args: argparse.Namespace, started: datetime) -> int:
    urls = list(args.urls)
    if args.from_file:
        urls += read_url_file(args.from_file)
    if not urls:
        raise UsageError("give at least one URL, or --from-file FILE")
    for url in urls:
        check_url(url)
    if args.item and not args.field:
        raise UsageError("--item needs at least one --field NAME=SELECTOR")
    if not args.spec and not args.field:
        raise UsageError(
            "say what to extract: --spec FILE, or --field NAME=SELECTOR "
            "(with --item SELECTOR for one row per match)"
        )
    sources = spec_sources(args.spec, args.item, args.field, args.name)  # bad specs fail here
    overrides = settings_from_args(args)
    if len(urls) < PROGRESS_MIN_URLS or (args.output is None and sys.stdout.isatty()):
        # A few URLs take a moment; JSON lines on the terminal would tear the line.
        overrides.setdefault("CRAWLER_PROGRESS", "off")  # -s CRAWLER_PROGRESS=... wins
    to_store = is_store(args.output)
    if to_store:
        SqlStore.open(args.output).close()  # a StoreError now, naming the store
    settings = project_settings(overrides)
    outcome_file(settings)  # one that cannot be written: an error now
    check_login_settings(settings)
    if not to_store:
        # Files and stdout get every row found, one per page or per --item match: no
        # store, no dedup (a store keeps one row per key anyway).  Taken out of the
        # chain rather than disabled by their settings, which would log warnings.
        pipelines = {**settings.getdict("ITEM_PIPELINES"), **dict.fromkeys(NOT_FOR_FILES)}
        settings.set("ITEM_PIPELINES", pipelines, priority="cmdline")
    outcome = run_spider(
        "extract",
        settings,
        urls=urls,
        spec=args.spec,
        item=args.item,
        fields=args.field,
        spec_name=args.name,
        render=args.render,
    )
    lines = report(outcome, args.output, overrides, load_spec_sources(sources))
    for line in lines:
        print(line, file=sys.stderr)
    verdict = conclude(outcome.stats, settings, started_at=started, also=own_reasons(outcome))
    error = verdict.error_line()
    # The verdict's one error line (README "When a crawl counts as failed"), unless
    # the report above already said why in an error line of its own (a login page,
    # nothing extracted, an output not written): a URL that gave no page is only a
    # warning there, a threshold (-s CRAWLER_MIN_PAGES...) not said at all.
    if error and not any(line.startswith("error: ") for line in lines):
        print(error, file=sys.stderr)
    return verdict.exit_code
