"""Options every crawling command shares: ``-s NAME=VALUE``, ``--log-level``, output files."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.exceptions import UsageError
from scrapy.settings import Settings
from w3lib.url import file_uri_to_path

from crawler.exceptions import ConfigError
from crawler.redaction import redact_url
from crawler.settingscheck import set_settings
from crawler.utils.files import check_output_file

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterable, Mapping

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


def failed_feeds(stats: Mapping[str, Any]) -> int:
    """How many feed files Scrapy could not write, from a crawl's stats
    (``feedexport/failed_count/<storage>``)."""
    prefix = "feedexport/failed_count/"
    return sum(int(n) for key, n in stats.items() if key.startswith(prefix))


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
