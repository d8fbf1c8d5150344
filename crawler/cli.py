"""The ``crawler`` command line."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

from scrapy.exceptions import UsageError

from crawler.exceptions import ConfigError, StoreError
from crawler.redaction import redact_text
from crawler.runner import EXIT_INTERRUPTED

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell shows for a process killed so

#: Each command's name and module (whose ``add_parser(subparsers)`` adds it), in
#: the order of ``crawler --help``.  ``crawler COMMAND ...`` imports the module of
#: COMMAND only: the others' imports (YAML and APScheduler for ``jobs``, ...) are
#: CPU that every crawl would pay at start for nothing.
COMMANDS: dict[str, str] = {
    "crawl": "crawler.commands.crawl",
    "worker": "crawler.commands.worker",
    "extract": "crawler.commands.extract",
    "login": "crawler.commands.login",
    "runs": "crawler.commands.runs",
    "export": "crawler.commands.export",
    "report": "crawler.commands.report",
    "jobs": "crawler.commands.jobs",
    "scheduler": "crawler.commands.scheduler",
    "serve": "crawler.commands.serve",
}


class ArgumentParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose usage errors are one line, as
    every other error of the command line: ``error: <prog>: <message> (see
    <prog> --help)`` on standard error, exit code 2 (argparse's own code)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser: with ``command`` one of :data:`COMMANDS`, the
    parser of that command alone (what ``crawler COMMAND ...`` parses with: the
    same usage, help and errors for it); otherwise every command's (for
    ``crawler --help`` and an unknown command's error, which lists them all)."""
    parser = ArgumentParser(
        prog="crawler",
        description="Crawl sites with Scrapy, render JavaScript with Selenium, store results.",
    )
    subparsers = parser.add_subparsers(
        title="commands", metavar="COMMAND", required=True, parser_class=ArgumentParser
    )
    for name in [command] if command in COMMANDS else COMMANDS:
        importlib.import_module(COMMANDS[name]).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        return int(args.run(args))
    except (UsageError, ConfigError, StoreError) as e:
        # A message may quote a value the user gave (a feed URI, a store URL):
        # its passwords are masked here, whatever raised it.
        print(f"error: {redact_text(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C outside a crawl (which handles its own)
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of standard output went away (``crawler runs | head -2``): stop
        # quietly, as a Unix tool does.  Standard output is pointed at /dev/null so
        # that Python's flush at exit does not raise again (the recipe of Python's
        # documentation, "Note on SIGPIPE" in the signal module).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
