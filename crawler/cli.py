"""The ``crawler`` command line."""

from __future__ import annotations

import argparse
import sys

from scrapy.exceptions import UsageError

from crawler.commands import crawl, export, extract, login, runs
from crawler.exceptions import ConfigError, StoreError

COMMANDS = (crawl, extract, login, runs, export)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crawler",
        description="Crawl sites with Scrapy, render JavaScript with Selenium, store results.",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (UsageError, ConfigError, StoreError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
