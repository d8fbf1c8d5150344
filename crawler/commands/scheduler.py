"""``crawler scheduler``: run the jobs of a job file on their schedules until stopped."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from crawler.commands.jobs import add_jobs_file_option, open_jobs
from crawler.commands.options import LOG_LEVELS
from crawler.exceptions import ConfigError
from crawler.jobs.scheduler import Scheduler

if TYPE_CHECKING:
    import argparse


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "scheduler",
        help="run the job file's jobs on their schedules until stopped (SIGTERM, Ctrl-C)",
        description="A long-running process: each run of a job is a crawl in its own "
        "process group, with its own log file and job directory under runs_dir. State "
        "and history live in the job file's [scheduler] store, so a restarted scheduler "
        "catches up missed runs and resumes interrupted ones per the jobs' policies. "
        "SIGTERM or Ctrl-C stops it gracefully: running crawls are interrupted "
        "(resumable), a second signal kills them.",
    )
    add_jobs_file_option(p)
    p.add_argument("--log-level", default="INFO", choices=LOG_LEVELS)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s [scheduler] %(levelname)s: %(message)s",
    )
    jobs, store = open_jobs(args)
    if not jobs.jobs:
        store.close()
        raise ConfigError(
            f"{jobs.path}: no jobs: a scheduler would have nothing to run "
            "(add a [jobs.NAME] table; see README, 'Scheduled jobs')"
        )
    try:
        return Scheduler(jobs, store).run()
    finally:
        store.close()
