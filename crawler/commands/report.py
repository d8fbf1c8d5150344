"""``crawler report RUN``: a run's HTML report (charts, errors, traps, changes) in one file.

The file needs no network to be viewed: Plotly's JavaScript is inside it
(:func:`crawler.report.render_report`).  By default the run is compared with
the latest earlier run of the same spider and start URL that finished
cleanly (:func:`crawler.report.previous_run_for`); ``--compare RUN2`` picks
another, ``--no-compare`` none.  ``-o -`` writes the HTML to standard output
(and the line that says so to standard error); otherwise the file's path is
printed on standard output.

Reading never creates a store: a missing one, an unknown run or an empty
store is one line on standard error and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from crawler.commands.options import add_store_option, store_url
from crawler.exceptions import ReportError
from crawler.runner import project_settings
from crawler.storage.sql import SqlStore
from crawler.utils.files import check_output_file


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report",
        help="write a run's HTML report (charts, errors, traps, changes since the previous run)",
        description="Write the report of run RUN as one self-contained HTML file: pages over "
        "time, response times, how pages were found, errors and traps, the site's structure, "
        "forms, logins, and what changed since an earlier run.",
    )
    p.add_argument("which", metavar="RUN", help="a run id (see `crawler runs`) or 'latest'")
    add_store_option(p)
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="the HTML file to write (default: report-RUN.html; '-': standard output)",
    )
    compare = p.add_mutually_exclusive_group()
    compare.add_argument(
        "--compare",
        metavar="RUN2",
        type=int,
        help="compare with run RUN2 (default: the latest earlier run of the same spider "
        "and start URL that finished cleanly)",
    )
    compare.add_argument("--no-compare", action="store_true", help="compare with no other run")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from crawler.report import previous_run_for, render_report
    from crawler.report.data import check_run, resolve_run

    to_stdout = args.output == "-"
    if args.output and not to_stdout:
        check_output_file(args.output)
    store = SqlStore.open(store_url(args, project_settings()), create=False)
    try:
        run_id = resolve_run(store, args.which)
        compare_with: int | None = None
        if args.compare is not None:
            if args.compare == run_id:
                raise ReportError(f"--compare {run_id} names run {run_id} itself: give another run")
            compare_with = int(check_run(store, args.compare)["id"])
        elif not args.no_compare:
            compare_with = previous_run_for(store, run_id)
        html = render_report(store, run_id, compare_with=compare_with)
    finally:
        store.close()
    compared = f", compared with run {compare_with}," if compare_with is not None else ""
    if to_stdout:
        sys.stdout.write(html)
        sys.stdout.flush()
        print(f"report of run {run_id}{compared} written to standard output", file=sys.stderr)
        return 0
    output = args.output or f"report-{run_id}.html"
    if not args.output:
        check_output_file(output)
    with open(output, "w", encoding="utf-8") as f:
        f.write(html)
    print(f"report of run {run_id}{compared} written to {output}", file=sys.stderr)
    print(output)
    return 0
