"""Run one spider of the project through ``crawler.runner`` and exit with the crawl's exit code.

``python -m tests.spiderrun SPIDER [-a NAME=VALUE ...] [-s NAME=VALUE ...]``: the
spider's arguments and settings as ``scrapy crawl`` takes them; the crawl runs
with the project's settings in this process (its own: the reactor cannot be
restarted), and the last line of stdout is ``{"finish_reason": ..., "exit_code": ...}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from crawler.runner import project_settings, run_spider

if TYPE_CHECKING:
    from collections.abc import Sequence


def _pairs(values: list[str]) -> dict[str, str]:
    return dict(value.split("=", 1) for value in values)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.spiderrun")
    parser.add_argument("spider")
    parser.add_argument("-a", dest="arguments", action="append", default=[])
    parser.add_argument("-s", dest="settings", action="append", default=[])
    args = parser.parse_args(argv)
    outcome = run_spider(
        args.spider, project_settings(_pairs(args.settings)), **_pairs(args.arguments)
    )
    print(json.dumps({"finish_reason": outcome.finish_reason, "exit_code": outcome.exit_code}))
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
