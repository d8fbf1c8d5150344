"""Options every crawling command shares: ``-s NAME=VALUE`` and ``--log-level``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import UsageError

if TYPE_CHECKING:
    import argparse

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
