"""Options every crawling command shares: ``-s NAME=VALUE``, ``--log-level``, output files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.exceptions import UsageError
from w3lib.url import file_uri_to_path

if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping

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


def check_output_file(output: str) -> None:
    """Raise :class:`UsageError` when the local file ``output`` (a path or a
    ``file:`` URI, as ``-o`` takes) cannot be written: its directory does not
    exist or is not writable, or ``output`` is a directory, a dangling link or
    a file we may not write.

    Scrapy would create a missing directory; a typo in it is far more likely
    than a wish for a new one.  A feed that cannot be opened would otherwise be
    a traceback in the log of a crawl that ends as if all went well.  Remote
    feeds (``s3://``...), ``stdout:`` and ``-`` pass, and so do paths below a
    ``%(name)s`` placeholder, which Scrapy fills in.
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
            return _check_directory(output, directory)
        directory /= part
    _check_directory(output, directory)
    if "%(" in path.name:
        return
    if path.is_dir():
        raise UsageError(f"cannot write {output}: it is a directory")
    if path.is_symlink() and not path.exists():
        target = os.readlink(path)
        raise UsageError(f"cannot write {output}: it links to {target}, which is not there")
    existed = path.exists()
    try:  # what permissions say is not the whole story (root, read-only mounts, /sys)
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666))
    except OSError as e:
        raise UsageError(f"cannot write {output}: {e.strerror}") from None
    if not existed:
        path.unlink(missing_ok=True)


def _check_directory(output: str, directory: Path) -> None:
    if not directory.is_dir():
        raise UsageError(f"cannot write {output}: the directory {directory} does not exist")


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
