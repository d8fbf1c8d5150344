"""A real ``crawler scheduler`` process for tests, and its history read from its state store."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.jobs.state import StateStore
from tests.crawltools import subprocess_env

if TYPE_CHECKING:
    from collections.abc import Callable


def write_jobs(directory: Path, text: str, cap: int = 4) -> Path:
    """``jobs.toml`` in ``directory`` with a ``[scheduler]`` table of a state
    store there, ``cap`` concurrent runs and a short stop grace, then ``text``."""
    path = directory / "jobs.toml"
    path.write_text(
        f'[scheduler]\nstore = "sqlite:///state.db"\nmax_concurrent_runs = {cap}\n'
        'stop_grace = "4s"\n\n' + text,
        encoding="utf-8",
    )
    return path


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` every 0.1 s until it returns something true; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def group_alive(pgid: int | None) -> bool:
    """Whether a live process (not a zombie: an orphan's parent may not reap
    it) is in the process group ``pgid``, from ``/proc``."""
    if not pgid:
        return False
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        fields = stat.rpartition(")")[2].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


class SchedulerProcess:
    """``python -m crawler.cli scheduler --jobs-file PATH``, its stderr in ``scheduler.log``."""

    def __init__(self, jobs_file: Path) -> None:
        self.jobs_file = jobs_file
        self.log = jobs_file.parent / "scheduler.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SchedulerProcess:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "crawler.cli",
                    "scheduler",
                    "--jobs-file",
                    str(self.jobs_file),
                ],
                cwd=self.jobs_file.parent,
                env=subprocess_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(lambda: "started:" in self.output() or self.proc.poll() is not None, 30, "start")
        assert self.proc.poll() is None, self.output()
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def history(jobs_file: Path, job: str | None = None) -> list[dict[str, Any]]:
    """The history rows (oldest first) in the state store of ``write_jobs``."""
    store = StateStore.open(f"sqlite:///{jobs_file.parent / 'state.db'}")
    try:
        return list(reversed(store.runs(job, limit=None)))
    finally:
        store.close()


def kill_leftovers(jobs_file: Path) -> list[int]:
    """Kill the process groups of runs still alive (a failed test's); their pgids."""
    if not (jobs_file.parent / "state.db").exists():
        return []
    left = [r["pgid"] for r in history(jobs_file) if group_alive(r["pgid"])]
    for pgid in left:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    return left
