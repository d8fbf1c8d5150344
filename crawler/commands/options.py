"""Options every crawling command shares: ``-s NAME=VALUE``, ``--log-level``, output files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.exceptions import UsageError
from w3lib.url import file_uri_to_path

if TYPE_CHECKING:
    import argparse

    from scrapy.settings import BaseSettings

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


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


def check_output_directory(output: str) -> None:
    """Raise :class:`UsageError` when the local file ``output`` (a path or a
    ``file:`` URI, as ``-o`` takes) would go into a directory that does not exist.

    Scrapy would create the directory; a typo in it is far more likely than a
    wish for a new one.  Remote feeds (``s3://``...), ``stdout:`` and ``-`` pass,
    and so do directories below a ``%(name)s`` placeholder, which Scrapy fills in.
    """
    scheme = urlsplit(output).scheme
    if output == "-" or scheme == "stdout":
        return
    if scheme == "file":
        path = Path(file_uri_to_path(output))
    elif len(scheme) > 1:  # s3://, ftp://...; one letter is a Windows drive
        return
    else:
        path = Path(output)
    directory = Path()
    for part in path.parent.parts:
        if "%(" in part:
            break
        directory /= part
    if not directory.is_dir():
        raise UsageError(f"cannot write {output}: the directory {directory} does not exist")


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
