"""A crawl's browsers die with it (SIGKILL included) and nobody else can drive them.

Real crawls (``crawler crawl`` and ``scrapy crawl site``) are killed while they
render; real sessions are probed by a page's script and by the ``nobody`` user.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from crawler.addon import framework_settings
from crawler.browser.config import BrowserConfig
from crawler.browser.confine import browser_user, isolation_unavailable
from crawler.browser.session import BrowserSession
from tests.browser.conftest import (
    browser_settings,
    find_process,
    is_browser_main,
    is_chromedriver,
    needs_chromium,
    private_dirs,
    processes_under,
)
from tests.crawltools import REPO_ROOT, subprocess_env

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

pytestmark = needs_chromium

# Pages the server holds 400 ms each: renders are in progress when the crawl dies.
SLOW_CATALOG = "/catalog/?size=200&delay=400"
BROWSER_OPTIONS = ("-s", "SELENIUM_ALLOWED_HOSTS=127.0.0.1", "-s", "SELENIUM_POOL_SIZE=2")
GONE_WITHIN = 5.0  # seconds the kernel gets to deliver the death signals


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def rendering_crawl(kind: str, site: TinySite, root: str, workdir: Path) -> subprocess.Popen[bytes]:
    """A crawl that renders every page, in its own session (so killpg spares pytest)."""
    options = ["-s", f"SELENIUM_TEMP_DIR={root}", *BROWSER_OPTIONS]
    if kind == "crawler":
        command = [sys.executable, "-m", "crawler.cli", "crawl", site.url(SLOW_CATALOG)]
        command += ["--store", f"sqlite:///{workdir / 'crawl.db'}", "--render", "always"]
        command += ["--forms", "none"]
        cwd = workdir
    else:
        command = [sys.executable, "-m", "scrapy", "crawl", "site"]
        command += ["-a", f"start_url={site.url(SLOW_CATALOG)}", "-s", "CRAWLER_RENDER=always"]
        command += ["-s", f"CRAWLER_STORE_URL=sqlite:///{workdir / 'crawl.db'}"]
        cwd = REPO_ROOT
    return subprocess.Popen(
        [*command, *options],
        cwd=cwd,
        env=subprocess_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("kind", "target"),
    [("crawler", "process"), ("crawler", "group"), ("scrapy", "process")],
)
def test_sigkill_of_a_rendering_crawl_leaves_no_browser(
    tinysite: TinySite, browser_root: str, tmp_path: Path, kind: str, target: str
) -> None:
    crawl = rendering_crawl(kind, tinysite, browser_root, tmp_path)
    try:
        # Both browsers up, and each has a page renderer: renders are in progress.
        wait_for(
            lambda: (
                len(find_process(browser_root, is_browser_main)) == 2
                and len(find_process(browser_root, lambda cmd: "--type=renderer" in cmd)) >= 4
            ),
            60,
            "two browsers rendering",
        )
        time.sleep(0.5)
        assert crawl.poll() is None, "the crawl ended before it was killed"
        dirs = private_dirs(browser_root)
        # two session dirs in browser_root, and (browser_root is deep) two short TMPDIRs
        assert len(dirs) == 4, dirs
        if kind == "crawler" and target == "process" and os.geteuid() == 0:
            # chromedriver and every Chromium process: the crawl's browser uid, not root
            browsers = [pid for pid, _ in processes_under(browser_root) if pid != crawl.pid]
            uids = {pid: process_uids(pid) for pid in browsers}
            assert len(uids) >= 8, uids
            assert len({ids for ids in uids.values() if ids is not None}) == 1, uids
            assert all(ids is None or 0 not in ids for ids in uids.values()), uids
        if target == "group":
            os.killpg(crawl.pid, signal.SIGKILL)
        else:
            os.kill(crawl.pid, signal.SIGKILL)
        crawl.wait()
        deadline = time.monotonic() + GONE_WITHIN
        while processes_under(browser_root) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_under(browser_root) == []
        # The killed crawl could not remove its dirs: the next browser start does.
        BrowserSession(browser_config(browser_root), 1).start().quit()
        assert [path for path in dirs if os.path.lexists(path)] == []
    finally:
        if crawl.poll() is None:
            os.killpg(crawl.pid, signal.SIGKILL)
            crawl.wait()


def process_uids(pid: int) -> tuple[int, ...] | None:
    """Real, effective, saved and filesystem uids of ``pid`` (None: gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return tuple(int(uid) for uid in line.split()[1:])
    except OSError:
        pass
    return None


def capabilities(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/status") as f:
        return {
            line.split(":")[0]: int(line.split()[1], 16) for line in f if line.startswith("Cap")
        }


def in_our_user_namespace(pid: int) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/ns/user") == os.readlink("/proc/self/ns/user")
    except OSError:
        return False


# -- confinement ---------------------------------------------------------------

needs_isolation = pytest.mark.skipif(
    isolation_unavailable() is not None,
    reason=f"chromedriver cannot be isolated here: {isolation_unavailable()}",
)


def browser_config(root: str) -> BrowserConfig:
    return BrowserConfig.from_settings(framework_settings(browser_settings(root)))


@pytest.fixture
def session(browser_root: str) -> Iterator[BrowserSession]:
    session = BrowserSession(browser_config(browser_root), 1).start()
    dirs = private_dirs(browser_root)
    assert len(dirs) == 2, dirs  # its session dir, and a short TMPDIR: browser_root is deep
    yield session
    session.quit()
    assert [path for path in dirs if os.path.lexists(path)] == []


def driver_port(session: BrowserSession) -> int:
    """The port chromedriver was told to listen on (as anyone can read it in ``ps``)."""
    assert session.handle is not None and session.handle.driver_pid is not None
    with open(f"/proc/{session.handle.driver_pid}/cmdline", "rb") as f:
        cmdline = f.read().decode()
    found = re.search(r"--port=(\d+)", cmdline)
    assert found, cmdline
    return int(found.group(1))


def new_session_body(root: str) -> str:
    """A W3C New Session that would start a root Chromium reading ``/etc/shadow``."""
    return json.dumps(
        {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": "/usr/bin/chromium",
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            f"--user-data-dir={root}/intruder",
                            "file:///etc/shadow",
                        ],
                    },
                }
            }
        }
    )


def listening_inodes() -> set[str]:
    """Socket inodes in LISTEN state in this network namespace (TCP, IPv4 and IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":  # TCP_LISTEN
                    inodes.add(fields[9])
    return inodes


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with_target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if with_target.startswith("socket:["):
                inodes.add(with_target[8:-1])
    except OSError:
        pass
    return inodes


@needs_isolation
def test_browsers_listen_on_no_port(session: BrowserSession, browser_root: str) -> None:
    session.driver.get("about:blank")
    processes = processes_under(browser_root)
    assert find_process(browser_root, is_chromedriver)
    listening = listening_inodes()
    listeners = [cmd for pid, cmd in processes if socket_inodes(pid) & listening]
    assert listeners == []


@needs_isolation
def test_a_page_script_cannot_reach_chromedriver(
    session: BrowserSession, tinysite: TinySite, browser_root: str
) -> None:
    port = driver_port(session)
    session.driver.get(tinysite.url("/"))
    browsers = find_process(browser_root, is_browser_main)
    outcome = session.driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        fetch(arguments[0], {method: "POST", body: arguments[1]})
          .then(r => r.text().then(t => done("answered " + r.status + " " + t.slice(0, 200))))
          .catch(e => done("refused " + e));
        """,
        f"http://127.0.0.1:{port}/session",
        new_session_body(browser_root),
    )
    assert outcome.startswith("refused"), outcome
    time.sleep(0.5)
    assert find_process(browser_root, is_browser_main) == browsers


@needs_isolation
def test_another_user_cannot_drive_or_read_the_browser(
    session: BrowserSession, browser_root: str
) -> None:
    port = driver_port(session)
    browsers = find_process(browser_root, is_browser_main)
    assert session.handle is not None
    profile = os.path.join(session.handle.temp_dirs[0], "profile")
    probe = f"""
import os, sys, urllib.request
try:
    os.listdir({profile!r})
    print("profile readable")
except OSError:
    print("profile private")
request = urllib.request.Request(
    "http://127.0.0.1:{port}/session", data=sys.stdin.buffer.read(), method="POST",
    headers={{"Content-Type": "application/json"}})
try:
    print("answered", urllib.request.urlopen(request, timeout=20).read()[:300])
except Exception as e:
    print("refused", type(e).__name__, e)
"""
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
    result = subprocess.run(
        [*as_nobody, "/usr/bin/python3", "-I", "-c", probe],
        input=new_session_body(browser_root).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    output = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert "profile private" in output
    assert "refused" in output, output
    assert find_process(browser_root, is_browser_main) == browsers


needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="not root: the browsers run as the crawl's own user"
)


@needs_root
def test_browsers_run_as_their_own_user(session: BrowserSession, browser_root: str) -> None:
    user = browser_user()
    assert user is not None
    session.driver.get("about:blank")
    processes = processes_under(browser_root)
    assert find_process(browser_root, is_chromedriver)
    assert len(find_process(browser_root, is_browser_main)) == 1
    for pid, cmd in processes:
        assert process_uids(pid) in ((user.uid,) * 4, None), cmd
        if in_our_user_namespace(pid):  # sandboxed zygotes hold caps in a userns of their own
            caps = capabilities(pid)
            assert caps["CapEff"] == caps["CapPrm"] == caps["CapAmb"] == 0, cmd
    assert session.handle is not None
    profile = os.stat(os.path.join(session.handle.temp_dirs[0], "profile"))
    assert (profile.st_uid, profile.st_mode & 0o777) == (user.uid, 0o700)
    # Chromium's own sandbox is back: no --no-sandbox where it works for the user
    browser = find_process(browser_root, is_browser_main)[0]
    with open(f"/proc/{browser}/cmdline", "rb") as f:
        assert (b"--no-sandbox" in f.read().split(b"\0")) is not user.sandbox


@needs_root
def test_the_browser_user_cannot_read_root_files(session: BrowserSession, tmp_path: Path) -> None:
    user = browser_user()
    assert user is not None
    secret = tmp_path / "secret.txt"
    secret.write_text("root only 4b1d")
    secret.chmod(0o600)
    # a real process of the browser uid (tmp_path is searchable: only the mode stops it)
    as_user = ["setpriv", *user.setpriv(), "--", "/bin/sh", "-c", 'exec cat "$0"', str(secret)]
    result = subprocess.run(as_user, capture_output=True, timeout=10, check=False)
    assert result.returncode != 0
    assert b"Permission denied" in result.stderr
    assert b"4b1d" not in result.stdout
    # and the browser asked for it
    session.driver.get(secret.as_uri())
    assert "4b1d" not in session.driver.page_source
