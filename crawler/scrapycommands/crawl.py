"""``scrapy crawl`` in this project: Scrapy's command, with one-line errors and exit codes.

``COMMANDS_MODULE = "crawler.scrapycommands"`` (``crawler.settings``) makes it
replace the built-in one.  Differences:

* a setting value its setting does not take (``-s``, or the spider's
  ``custom_settings``; :func:`crawler.settingscheck.check_settings`: types,
  components named by import path, the components' own checks), a missing or
  bad spider argument (``scrapy crawl site`` without ``-a start_url``; the
  check builds the spider once with its arguments), an unknown spider name,
  ``-o``/``-O`` to a file that cannot be written (a directory: checked before
  Scrapy reads ``-o``), two outputs (``-o`` or ``FEEDS``) to one file, or a store that cannot be
  opened (when the spider keeps the store on): one line ``error: ...``
  and exit code 2, before Scrapy logs anything (``process_options`` runs before
  the ``CrawlerProcess``, which logs the banner, exists);
* a :class:`~crawler.exceptions.ConfigError` or Scrapy ``UsageError`` raised
  later, while the crawl is created: the same line and exit code, no traceback;
* otherwise the exit code is the crawl's verdict, by the rules of ``crawler
  crawl`` (:func:`crawler.outcome.judge`): 0 when it succeeded, 130 when
  interrupted, 1 when it failed (it fetched nothing, the start URL failed, the
  store, the login or a feed failed, a threshold was missed), with one line
  ``error: ...`` naming the reasons;
* with ``CRAWLER_OUTCOME_FILE`` set, the outcome is written there as the
  command exits (:mod:`crawler.outcome`), also after an error of the first
  two kinds (exit code 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.conf import arglist_to_dict
from twisted.internet.defer import Deferred

from crawler.commands.options import check_distinct_outputs
from crawler.exceptions import ConfigError, StoreError
from crawler.outcome import (
    CONFIG_ERROR,
    STOPPED,
    conclude,
    outcome_file,
    usage_report,
    write_outcome,
)
from crawler.pipelines.store import check_store_opens
from crawler.redaction import redact_text
from crawler.settingscheck import check_settings, set_settings
from crawler.utils.files import check_output_file

if TYPE_CHECKING:
    import argparse

    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

EXIT_USAGE = 2
_STARTED = datetime.now(UTC)  # the command starts with the process
USER_ERRORS = (ConfigError, UsageError)


def _fail(message: object, settings: BaseSettings | None = None) -> NoReturn:
    text = redact_text(str(message))
    print(f"error: {text}", file=sys.stderr)
    if settings is not None:
        _write_outcome_now(settings, text, CONFIG_ERROR, EXIT_USAGE)
    raise SystemExit(EXIT_USAGE)


def _write_outcome_now(settings: BaseSettings, message: str, code: str, exit_code: int) -> None:
    """The outcome file of a crawl that never ran, if ``CRAWLER_OUTCOME_FILE`` is set
    (best effort: an error is the one already said)."""
    path = settings.get("CRAWLER_OUTCOME_FILE")
    if not path:
        return
    report = usage_report(message, code, exit_code=exit_code, started_at=_STARTED)
    with contextlib.suppress(OSError):
        write_outcome(path, report)


def _errors_of(crawl: Deferred[Any] | asyncio.Task[Any]) -> list[BaseException]:
    """The exception a crawl ends with, once it ends (taken, so nothing logs it again)."""
    errors: list[BaseException] = []
    if isinstance(crawl, Deferred):

        def failed(failure: Failure) -> None:
            errors.append(failure.value)

        crawl.addErrback(failed)
    else:

        def done(task: asyncio.Task[Any]) -> None:
            if not task.cancelled() and task.exception() is not None:
                errors.append(task.exception())  # type: ignore[arg-type]

        crawl.add_done_callback(done)
    return errors


def _feed_uri(element: str, formats: set[str]) -> str:
    """The URI of an ``-o`` value, as Scrapy reads it: ``URI:FORMAT`` when what
    follows the last colon is a format, else the whole value (``-`` is stdout)."""
    uri, sep, fmt = element.rpartition(":")
    if sep and fmt in formats:
        return "stdout:" if uri == "-" else uri
    return element


class Command(ScrapyCrawlCommand):
    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        try:  # Scrapy says "Invalid -s value" without naming the setting
            set_settings(self.settings, arglist_to_dict(opts.set), priority="cmdline")
        except ConfigError as e:
            _fail(e)  # the outcome file's own setting may be the one refused
        except ValueError:
            pass  # not NAME=VALUE: Scrapy's own message says so
        try:  # before Scrapy parses -o, which has no word for a directory
            outcome_file(self.settings)
            self._check_outputs(opts)
        except USER_ERRORS as e:
            _fail(e, self.settings)
        super().process_options(args, opts)
        if len(args) != 1:
            return  # run() explains, as Scrapy does
        try:
            spidercls = get_spider_loader(self.settings).load(args[0])
        except KeyError:
            _fail(
                f"no spider named {args[0]!r} in this project (`scrapy list` shows them)",
                self.settings,
            )
        try:  # the spider is built once with its arguments, which it checks
            check_settings(self.settings, spidercls=spidercls, spider_arguments=opts.spargs)
            if opts.output or opts.overwrite_output:  # FEEDS is then theirs, parsed by Scrapy
                for uri in self.settings.getdict("FEEDS"):
                    check_output_file(uri)
            crawl_settings = self.settings.copy()
            spidercls.update_settings(crawl_settings)  # its custom_settings may turn it off
            check_store_opens(crawl_settings)
        except (*USER_ERRORS, StoreError) as e:
            _fail(e, self.settings)

    def _check_outputs(self, opts: argparse.Namespace) -> None:
        """Every local file of ``-o``/``-O`` can be written (:func:`check_output_file`),
        and no two outputs (``FEEDS`` included) write one file."""
        assert self.settings is not None
        option = "-O" if opts.overwrite_output else "-o"
        elements = opts.overwrite_output or opts.output or []
        formats = {k for k, v in self.settings.getwithbase("FEED_EXPORTERS").items() if v}
        uris = [_feed_uri(element, formats) for element in elements]
        for uri in uris:
            check_output_file(uri)
        check_distinct_outputs(
            [
                *((option, uri) for uri in uris),
                *(("FEEDS", u) for u in self.settings.getdict("FEEDS")),
            ]
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            super().run(args, opts)
            return
        assert self.crawler_process is not None
        crawler = self._create_crawler(args[0])
        errors = _errors_of(self.crawler_process.crawl(crawler, **opts.spargs))
        self.crawler_process.start()
        if errors:
            self.exitcode = self._report(errors[0], crawler.settings)
        elif self.crawler_process.bootstrap_failed:
            self.exitcode = 1
            _write_outcome_now(
                crawler.settings, "the crawl could not start (see the log)", STOPPED, 1
            )
        else:
            verdict = conclude(crawler.stats.get_stats(), crawler.settings, started_at=_STARTED)
            line = verdict.error_line()
            if line:
                print(line, file=sys.stderr)
            self.exitcode = verdict.exit_code

    @staticmethod
    def _report(error: BaseException, settings: BaseSettings) -> int:
        if isinstance(error, USER_ERRORS) and str(error):
            text = redact_text(str(error))
            print(f"error: {text}", file=sys.stderr)
            _write_outcome_now(settings, text, CONFIG_ERROR, EXIT_USAGE)
            return EXIT_USAGE
        logger.error("The crawl could not start: %r", error, exc_info=error)
        _write_outcome_now(settings, f"the crawl could not start: {error!r}", STOPPED, 1)
        return 1
