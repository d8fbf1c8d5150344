"""A store for the dashboard tests, built once by a real crawl, and a real ``crawler serve``.

:func:`dashboard_data` (a session fixture, imported by ``tests/conftest.py``):
a tinysite with a hostile area (:class:`HostileTitlesApp`: a title that is a
script tag, an item whose name is an ``<img onerror>`` attribute breakout, a 404),
a job file with one job crawling it with an extraction spec, and one
``crawler jobs run`` of that job: a crawl store with a run, pages and items, and
a state store whose history row records the run's log file.

:class:`ServeProcess`: ``python -m crawler.cli serve ... --port 0`` in its own
session, the URL read from the first line it prints.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from fixtures.tinysite.classic import ClassicApp
from fixtures.tinysite.server import SiteResponse, TinySite, not_found
from tests.crawltools import run_crawler, subprocess_env
from tests.jobstools import write_jobs

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fixtures.tinysite.server import SiteRequest

HOSTILE_TITLE = "<script>alert(1)</script>"
HOSTILE_NAME = '"><img src=x onerror=alert(2)>'
ITEM_NAMES = (HOSTILE_NAME, "Plain widget 100%_off")
SPEC = """\
name: gadget
url: /evil/item/\\d+\\.html
key: [name]
fields:
  name:
    selector: css:h1
    required: true
  price:
    selector: css:.price
    process: [float]
"""
JOB = "tiny"
#: Seconds ``crawler serve`` may take to print its URL.
START_TIMEOUT = 30


class HostileTitlesApp:
    """``/evil/``: a page titled :data:`HOSTILE_TITLE` linking to two item pages
    (``/evil/item/1.html`` named :data:`HOSTILE_NAME`), a missing page (404) and
    the classic tinysite's home."""

    prefix = "/evil/"

    def handle(self, request: SiteRequest, site: TinySite) -> SiteResponse | None:
        if request.path == "/evil/":
            links = "".join(
                f'<a href="{href}">{text}</a> '
                for href, text in (
                    ("/evil/item/1.html", "one"),
                    ("/evil/item/2.html", "two"),
                    ("/evil/missing.html", "gone"),
                    ("/", "home"),
                )
            )
            title = HOSTILE_TITLE.replace("<", "&lt;")
            return SiteResponse(body=f"<html><head><title>{title}</title></head>{links}</html>")
        match = re.fullmatch(r"/evil/item/([12])\.html", request.path)
        if match:
            name = ITEM_NAMES[int(match[1]) - 1].replace("&", "&amp;").replace("<", "&lt;")
            return SiteResponse(
                body=f"<html><head><title>{name}</title></head><h1>{name}</h1>"
                f'<p class="price">{match[1]}9.5</p></html>'
            )
        return not_found()


@dataclass(frozen=True)
class DashboardData:
    """What :func:`dashboard_data` built: the crawl store, the job file, the run
    the job's crawl wrote, and the start URL."""

    store_url: str
    jobs_file: Path
    run_id: int
    start_url: str
    workdir: Path


@pytest.fixture(scope="session")
def dashboard_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardData]:
    workdir = tmp_path_factory.mktemp("dashboard")
    (workdir / "gadget.yaml").write_text(SPEC, encoding="utf-8")
    with TinySite(apps=[ClassicApp(), HostileTitlesApp()]) as site:
        start = site.url("/evil/")
        jobs_file = write_jobs(
            workdir,
            f'[jobs.{JOB}]\ncrawl = "{start}"\nstore = "sqlite:///crawl.db"\n'
            'schedule = { every = "6h" }\n\n'
            f'[jobs.{JOB}.options]\nrender = "never"\nextract = ["gadget.yaml"]\n',
        )
        done = run_crawler("jobs", "run", JOB, "--jobs-file", str(jobs_file), cwd=workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    yield DashboardData(f"sqlite:///{workdir / 'crawl.db'}", jobs_file, 1, start, workdir)


class ServeProcess:
    """``crawler serve`` as a user starts it, in its own session (a failed test kills it)."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "serve", "--port", "0", *args],
            cwd=cwd,
            env=subprocess_env() if env is None else env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        self.first_line = self.proc.stdout.readline().strip() if ready else ""
        if not self.first_line.startswith("Dashboard: "):
            self.kill()
            raise AssertionError(f"crawler serve did not start: {self.proc.stderr.read()}")  # type: ignore[union-attr]
        self.url = self.first_line.removeprefix("Dashboard: ").split(" ")[0]
        self.port = int(re.search(r":(\d+)/", self.url)[1])  # type: ignore[index]

    def base(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 10) -> tuple[int, str, str]:
        """Send ``signum``; the exit code, the rest of stdout, and stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.communicate(timeout=10)


@contextlib.contextmanager
def serving(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Iterator[ServeProcess]:
    """A :class:`ServeProcess`, killed at the end if still running."""
    server = ServeProcess(*args, cwd=cwd, env=env)
    try:
        yield server
    finally:
        server.kill()
