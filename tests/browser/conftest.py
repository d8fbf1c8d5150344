"""Fixtures for the browser tests: the scripted tinysite, a temp root for the
browsers' private dirs, a process-table check, and a subprocess crawl runner."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crawler.browser.privatedirs import PREFIX, STAGING_PREFIX
from fixtures.tinysite.scripted import ScriptedApp
from fixtures.tinysite.server import TinySite

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

REPO = Path(__file__).resolve().parents[2]

needs_chromium = pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("chromedriver")),
    reason="chromium and chromedriver are not on PATH",
)


def processes_under(root: str) -> list[tuple[int, str]]:
    """Live processes whose HOME or TMPDIR is below ``root``, or whose command line
    names a path below it (the browsers of a test).

    Chromium's zygotes and renderers reuse their environment's memory for their
    long command lines: they are found by their ``--user-data-dir``.
    """
    found = []
    marks = (f"HOME={root}".encode(), f"TMPDIR={root}".encode())
    for pid, env in _environs():
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state == b"Z":
            continue  # already dead, waiting to be reaped by init
        if root in cmdline or any(var.startswith(mark) for var in env for mark in marks):
            found.append((pid, cmdline[:120]))
    return found


def _environs() -> Iterator[tuple[int, list[bytes]]]:
    """(pid, environment variables) of every process whose environment can be read."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                yield int(entry.name), f.read().split(b"\0")
        except OSError:
            continue  # gone, or not readable


def private_dirs(root: str) -> set[str]:
    """The private dirs of the browsers of ``root``: their session dirs (in ``root``)
    and the TMPDIRs their processes have (elsewhere where ``root`` is deep)."""
    found = {os.path.join(root, name) for name in os.listdir(root) if name.startswith(PREFIX)}
    for _pid, env in _environs():
        if any(var.startswith(f"HOME={root}/".encode()) for var in env):
            found |= {os.fsdecode(var[7:]) for var in env if var.startswith(b"TMPDIR=")}
    return found


def find_process(root: str, predicate: Callable[[str], bool]) -> list[int]:
    return [pid for pid, cmd in processes_under(root) if predicate(cmd)]


def is_browser_main(cmd: str) -> bool:
    executable = cmd.split(" ", 1)[0]
    return executable.endswith(("/chromium", "/chrome")) and "--type=" not in cmd


def is_chromedriver(cmd: str) -> bool:
    return cmd.split(" ", 1)[0].endswith("chromedriver")


@pytest.fixture(scope="module")
def scripted() -> ScriptedApp:
    return ScriptedApp()


@pytest.fixture(scope="module")
def site(scripted: ScriptedApp) -> Iterator[TinySite]:
    with TinySite(apps=[scripted]) as server:
        yield server


@pytest.fixture
def browser_root(tmp_path: Path) -> Iterator[str]:
    """Parent of every private dir the test's browsers get; checked at the end for
    processes and for the browsers' session dirs (other dirs, such as a remote
    node's, may stay)."""
    root = tmp_path / "browsers"
    root.mkdir()
    yield str(root)
    left = processes_under(str(root))
    for pid, _ in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"browser processes left behind: {left}"
    left_dirs = [name for name in os.listdir(root) if name.startswith((PREFIX, STAGING_PREFIX))]
    assert not left_dirs, f"browsers' private dirs left behind: {left_dirs}"


def browser_settings(root: str, **extra: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "SELENIUM_TEMP_DIR": root,
        "SELENIUM_POOL_SIZE": 2,
        "SELENIUM_ALLOWED_HOSTS": ["127.0.0.1"],  # offline: nothing else to resolve
        "SELENIUM_PAGE_LOAD_TIMEOUT": 15,
        "SELENIUM_WAIT_TIMEOUT": 5,
    }
    settings.update(extra)
    return settings


class CrawlFailed(AssertionError):
    pass


def run_crawl(
    tmp_path: Path,
    requests: list[dict[str, Any]],
    settings: dict[str, Any],
    timeout: float = 60,
    during: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> dict[str, Any]:
    """Run ``tests.browser.runner`` in its own process group; return its JSON output.

    ``during(process)`` runs in this process while the crawl runs (e.g. to kill a browser).
    """
    out = tmp_path / f"crawl-{len(list(tmp_path.glob('crawl-*.json')))}.json"
    spec_path = tmp_path / (out.stem + "-spec.json")
    spec_path.write_text(json.dumps({"requests": requests, "settings": settings, "out": str(out)}))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.browser.runner", str(spec_path)],
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        if during is not None:
            during(proc)
        output, _ = proc.communicate(timeout=timeout)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    log = Path(str(out) + ".log")
    if proc.returncode != 0 or not out.exists():
        tail = log.read_text()[-4000:] if log.exists() else ""
        raise CrawlFailed(f"crawl exited {proc.returncode}:\n{output.decode()[-4000:]}\n{tail}")
    result = json.loads(out.read_text())
    result["log"] = log.read_text() if log.exists() else ""
    return result
