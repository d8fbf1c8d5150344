"""A real Scrapyd 1.6 for the tests: its own temp dir, a free loopback port, basic auth.

Scrapyd runs deployed eggs in its own environment, where the project is not
installed: only its dependencies are.  The server runs in a virtual
environment made for it whose only packages are the test environment's
site-packages, added by a ``.pth`` path line, so that their own ``.pth`` files
(the editable install of this project among them) are not run: ``crawler``
and ``spiders`` can only come from the deployed egg.  Its config file
(``scrapyd.conf`` in its working directory) keeps eggs, logs, items and
databases in the temp dir.  The server and the crawls it starts share one
process group, stopped with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import requests

from tests.ports import free_port, listens

MAX_PROC = 1  # one crawl at a time: a second job stays pending


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without ``PYTHONPATH`` (the tests' own checkout on it
    would make the project importable beside the egg), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SCRAPY_SETTINGS_MODULE")}
    env.update(extra)
    return env


class ScrapydServer:
    username = "deployer"
    password = "Scrapyd-test-pw-7f3"

    def __init__(self, base: Path) -> None:
        self.dir = base
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.venv = base / "venv"
        self.logs_dir = base / "logs"
        self.items_dir = base / "items"
        self.eggs_dir = base / "eggs"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def _make_env(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(self.venv)],
            check=True,
            capture_output=True,
        )
        shared = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
        site = Path(
            sysconfig.get_path("purelib", vars={"base": str(self.venv), "platbase": str(self.venv)})
        )
        (site / "test-environment.pth").write_text("".join(f"{p}\n" for p in shared))

    def _write_config(self) -> None:
        (self.dir / "scrapyd.conf").write_text(
            "[scrapyd]\n"
            "bind_address = 127.0.0.1\n"
            f"http_port = {self.port}\n"
            f"username = {self.username}\n"
            f"password = {self.password}\n"
            f"eggs_dir = {self.eggs_dir}\n"
            f"logs_dir = {self.logs_dir}\n"
            f"items_dir = {self.items_dir}\n"
            f"dbs_dir = {self.dir / 'dbs'}\n"
            f"max_proc = {MAX_PROC}\n"
            "poll_interval = 0.1\n"
        )

    def start(self) -> ScrapydServer:
        self._make_env()
        self._write_config()
        # HOME: no ~/.scrapyd.conf of the user's; cwd: this dir's scrapyd.conf
        self._process = subprocess.Popen(
            [str(self.python), "-m", "scrapyd"],
            cwd=self.dir,
            env=clean_env(HOME=str(self.dir)),
            stdout=(self.dir / "scrapyd.out").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"Scrapyd exited:\n{self.output()}")
            with contextlib.suppress(requests.ConnectionError):
                answer = requests.get(
                    f"{self.url}/daemonstatus.json",
                    auth=(self.username, self.password),
                    timeout=5,
                )
                # Ours, not another test's server that took the port first.
                if answer.status_code == 200 and listens(self._process.pid, self.port):
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Scrapyd did not answer within 30 s:\n{self.output()}")

    def output(self) -> str:
        return (self.dir / "scrapyd.out").read_text(errors="replace")[-4000:]

    def processes(self) -> list[int]:
        """The pids of the server's process group: the server and its crawls."""
        if self._process is None:
            return []
        found = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                fields = Path("/proc", name, "stat").read_text().rpartition(")")[2].split()
            except OSError:  # the process ended
                continue
            if int(fields[2]) == self._process.pid and fields[0] != "Z":  # pgrp, after state
                found.append(int(name))
        return found

    def stop(self) -> list[int]:
        """SIGTERM to the server and its crawls; the pids still alive 15 s later
        (then killed), which should be none."""
        if self._process is None:
            return []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=15)
        deadline = time.monotonic() + 5
        while (left := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.1)
        if left:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=5)
        self._process = None
        return left
