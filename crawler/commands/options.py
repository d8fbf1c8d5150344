"""Options every crawling command shares: ``-s NAME=VALUE``, ``--log-level``, output files."""

from __future__ import annotations

import argparse
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.exceptions import UsageError
from scrapy.settings import Settings
from w3lib.url import file_uri_to_path

from crawler.exceptions import ConfigError
from crawler.outcome import CONFIG_ERROR, usage_report, write_outcome
from crawler.outcome import failed_feeds as failed_feeds  # here before crawler.outcome
from crawler.redaction import redact_url
from crawler.settingscheck import set_settings
from crawler.utils.files import check_output_file

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    from scrapy.settings import BaseSettings

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: The feed formats of the commands that write files (``-o``, ``--output-items``,
#: ``crawler export --format``), by the name a user gives, and the
#: ``FEED_EXPORTERS`` name of Scrapy's exporter that writes them.
FEED_FORMATS = {"jsonl": "jsonlines", "json": "json", "csv": "csv", "xml": "xml"}
#: A file's suffix -> its format (a key of :data:`FEED_FORMATS`).
FEED_SUFFIXES = {".jsonl": "jsonl", ".jl": "jsonl", ".json": "json", ".csv": "csv", ".xml": "xml"}


def add_scrapy_options(
    parser: argparse.ArgumentParser, log_level: str = "INFO", log_help: str | None = None
) -> None:
    parser.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        dest="settings",
        help="set a Scrapy setting (repeatable)",
    )
    parser.add_argument("--log-level", default=log_level, choices=LOG_LEVELS, help=log_help)


def scrapy_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``LOG_LEVEL`` and every ``-s NAME=VALUE`` of the command line."""
    overrides: dict[str, Any] = {"LOG_LEVEL": args.log_level}
    for item in args.settings:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"-s takes NAME=VALUE, not {item!r}")
        overrides[name] = value
    return overrides


def has_scheme(output: str) -> bool:
    """Whether ``output`` is a URI (``s3://``, ``ftp://``, ``file:``, ``stdout:``...),
    which goes to Scrapy's feed storages as it is, rather than a path (a
    one-letter scheme is a Windows drive)."""
    return len(urlsplit(output).scheme) > 1


def output_feed(output: str, item_class: str) -> tuple[str, dict[str, Any]]:
    """The ``FEEDS`` entry (URI, feed options) that writes the ``item_class``
    items of a crawl to ``output``: a path, or a URI passed to Scrapy unchanged
    (``ftp://user@host/x.jsonl``, ``sftp://user@host/x.jsonl``: :mod:`crawler.feedstorage`;
    ``s3://bucket/x.csv``, ``file:///x.xml``).
    The format follows the suffix (:data:`FEED_SUFFIXES`).

    Raises :class:`UsageError` for a suffix no format has, or a local file that
    cannot be written (:func:`check_output_file`); the messages mask passwords.
    """
    path = urlsplit(output).path if has_scheme(output) else output
    fmt = FEED_SUFFIXES.get(PurePosixPath(path).suffix.lower())
    if fmt is None:
        raise UsageError(
            f"cannot tell the format of {redact_url(output)}: use a file ending in "
            f"{', '.join(FEED_SUFFIXES)}"
        )
    check_output_file(output)
    uri = output if has_scheme(output) else str(Path(output))
    return uri, {"format": FEED_FORMATS[fmt], "overwrite": True, "item_classes": [item_class]}


def output_target(uri: str) -> str:
    """What ``uri`` (a ``FEEDS`` key, an ``-o`` value) writes to: a local file's
    resolved path (for a path or a ``file:`` URI), else the URI itself; two
    feeds with one target would overwrite each other."""
    scheme = urlsplit(uri).scheme
    if scheme == "file":
        return str(Path(file_uri_to_path(uri)).resolve())
    if len(scheme) > 1:
        return uri
    return str(Path(uri).resolve())


def check_distinct_outputs(outputs: Iterable[tuple[str, str]]) -> None:
    """Raise :class:`~crawler.exceptions.ConfigError` when two of ``outputs``
    (pairs of the option that gave it, e.g. ``-o``, and the URI or path) write
    to one file (:func:`output_target`): only one of them would be kept."""
    seen: dict[str, tuple[str, str]] = {}
    for option, uri in outputs:
        target = output_target(uri)
        if target in seen:
            first_option, first = seen[target]
            raise ConfigError(
                f"{first_option} {redact_url(first)} and {option} {redact_url(uri)} "
                "write the same file, and one would overwrite the other: give each "
                "output its own file"
            )
        seen[target] = (option, uri)


def merge_feeds(
    feeds: Mapping[str, Mapping[str, Any]],
    given: Any,
    options: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``FEEDS`` of the command's output options (``feeds``) plus those given
    with ``-s FEEDS=...`` (``given``: a dict or its JSON text, or ``None``).

    ``options`` names the option each URI of ``feeds`` came from (``-o``), for
    the message.  Raises :class:`~crawler.exceptions.ConfigError` when ``given``
    is not a dict (or its JSON), or when a feed of each writes the same file.
    """
    if given is None:
        return dict(feeds)
    parsed = Settings()  # FEEDS a dict: JSON text is parsed, anything else refused
    set_settings(parsed, {"FEEDS": given})  # a ConfigError naming FEEDS
    extra = parsed.getdict("FEEDS")
    options = options or {}
    check_distinct_outputs(
        [*((options.get(uri, "output"), uri) for uri in feeds), *(("-s FEEDS", u) for u in extra)]
    )
    return {**feeds, **extra}


def add_criteria_options(parser: argparse.ArgumentParser) -> None:
    """``--min-pages``, ``--min-items``, ``--max-error-ratio``: when a crawl counts as
    failed (:mod:`crawler.outcome`)."""
    group = parser.add_argument_group(
        "success criteria", "A crawl that misses one of these exits with code 1."
    )
    group.add_argument(
        "--min-pages",
        type=_at_least_zero,
        metavar="N",
        help="fail with fewer than N pages with a response (CRAWLER_MIN_PAGES, default 1; "
        "robots.txt, sitemaps and login pages do not count)",
    )
    group.add_argument(
        "--min-items",
        type=_at_least_zero,
        metavar="N",
        help="fail with fewer than N items (CRAWLER_MIN_ITEMS, default 0: off)",
    )
    group.add_argument(
        "--max-error-ratio",
        type=_ratio,
        metavar="R",
        help="fail when more than this share (0 to 1) of the pages requested ended in an "
        "error: no response, or HTTP >= 400 (CRAWLER_MAX_ERROR_RATIO, default 1: off)",
    )


def _at_least_zero(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"takes a whole number >= 0, not {text!r}")
    return value


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"takes a number from 0 to 1, not {text!r}")
    return value


def criteria_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings of :func:`add_criteria_options`' options that were given."""
    names = {
        "min_pages": "CRAWLER_MIN_PAGES",
        "min_items": "CRAWLER_MIN_ITEMS",
        "max_error_ratio": "CRAWLER_MAX_ERROR_RATIO",
    }
    return {s: getattr(args, a) for a, s in names.items() if getattr(args, a, None) is not None}


def write_usage_outcome(
    args: argparse.Namespace,
    error: BaseException,
    started: datetime,
    code: str = CONFIG_ERROR,
    settings: BaseSettings | None = None,
) -> None:
    """With ``CRAWLER_OUTCOME_FILE`` set (``-s``, or the project's settings), the
    outcome of a command that stopped before crawling with ``error`` (exit code 2):
    status ``failed``, the reason ``code`` with the error's message.  Best effort:
    settings that cannot be read, or a file that cannot be written, leave none."""
    try:
        if settings is None:
            from crawler.runner import project_settings

            settings = project_settings(scrapy_overrides(args))
        path = settings.get("CRAWLER_OUTCOME_FILE")
        if path:
            write_outcome(path, usage_report(str(error), code, started_at=started))
    except Exception:
        return


def add_store_option(parser: argparse.ArgumentParser) -> None:
    """``--store URL`` of the commands that read a store (``runs``, ``export``)."""
    parser.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help="the store URL to read: sqlite:///PATH or postgresql://... "
        "(default: the project's CRAWLER_STORE_URL, sqlite:///crawl.db)",
    )


def store_url(args: argparse.Namespace, settings: BaseSettings) -> str:
    """``--store``, else the ``CRAWLER_STORE_URL`` of ``settings``."""
    return str(args.store or settings.get("CRAWLER_STORE_URL"))
