"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fixtures.tinysite.server import TinySite
from tests.crawltools import REPO_ROOT

# The store the dashboard tests read (a real crawl, built once per session).
from tests.dashboardtools import dashboard_data  # noqa: F401

# Fixtures of notification tests (real SMTP server, webhook receiver), for every test.
from tests.notifytools import smtp_server, smtp_tls_server, tls_ca, webhook_receiver  # noqa: F401
from tests.pgserver import PostgresServer

# A loopback port whose connections are refused, held for the test (for every test).
from tests.ports import closed_port  # noqa: F401
from tests.redisserver import RedisServer

# Two real crawls into one store for the run report's tests (session-wide).
from tests.reporttools import report_crawls  # noqa: F401

if TYPE_CHECKING:
    from collections.abc import Iterator


def _user_files() -> dict[str, float]:
    """What a crawl run from the repository root would write there: the default
    store, fallback files and copies of undelivered feeds, with their modification times."""
    found = [
        *REPO_ROOT.glob("crawl.db*"),
        *REPO_ROOT.glob("unwritten-*.jsonl"),
        *REPO_ROOT.glob("undelivered-*"),
    ]
    return {path.name: path.stat().st_mtime for path in found}


@pytest.fixture(scope="session", autouse=True)
def _repository_root_left_alone() -> Iterator[None]:
    """No test writes the user's own ``crawl.db`` (or fallback files) in the
    repository root: every test crawl names a store in its temp dir."""
    before = _user_files()
    yield
    assert _user_files() == before, "a test wrote crawl.db or fallback files in the repo root"


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# A test run started in the background by a non-interactive shell (`make test &`)
# inherits SIGINT ignored (POSIX: asynchronous lists ignore SIGINT and SIGQUIT), and
# so would every child a test stops with SIGINT: each pytest process starts with the
# default handlers, as a run from a terminal does.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _stop_signals_left_as_found(request: pytest.FixtureRequest) -> Iterator[None]:
    """No test leaves SIGINT or SIGTERM ignored or blocked in the pytest process.

    An ignored signal stays ignored across ``exec`` (and a blocked one stays
    blocked), and Python installs its Ctrl-C handler only when SIGINT is not
    ignored at start: every later child of this worker (a ``crawler serve`` or a
    stand-in crawl that a test stops with SIGINT) would then sleep on.  The
    signals are put back and a warning names the test, so the run stays
    meaningful and the culprit shows.
    """
    yield
    ignored = [s for s in _STOP_SIGNALS if signal.getsignal(s) is signal.SIG_IGN]
    blocked = [s for s in _STOP_SIGNALS if s in signal.pthread_sigmask(signal.SIG_BLOCK, [])]
    if not ignored and not blocked:
        return
    for signum in ignored:
        handler = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
        signal.signal(signum, handler)
    if blocked:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)
    names = ", ".join(signal.Signals(s).name for s in (*ignored, *blocked))
    warnings.warn(f"{request.node.nodeid} left {names} ignored or blocked (put back)", stacklevel=1)


class SearchableTempPathFactory:
    """``tmp_path_factory`` for root runs: dirs searchable by others (mode 0711).

    A root crawl's browsers run as a uid of their own
    (:mod:`crawler.browser.confine`) that must pass through the dirs above their
    ``SELENIUM_TEMP_DIR``.  pytest makes its dirs 0700 and resets its root dir
    to 0700 at the start of every session (chmod-ing them would race with other
    sessions), so the tests' dirs live below one of our own instead.
    """

    def __init__(self, base: Path) -> None:
        self._base = base

    def getbasetemp(self) -> Path:
        return self._base

    def mktemp(self, basename: str, numbered: bool = True) -> Path:
        if numbered:
            path = Path(tempfile.mkdtemp(prefix=basename, dir=self._base))
        else:
            path = self._base / basename
            path.mkdir()
        path.chmod(0o711)
        return path


@pytest.fixture(scope="session")
def tmp_path_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[pytest.TempPathFactory | SearchableTempPathFactory]:
    """pytest's, or as root a :class:`SearchableTempPathFactory` (removed at the end)."""
    if os.geteuid() != 0:
        yield tmp_path_factory
        return
    base = Path(tempfile.mkdtemp(prefix="crawler-tests-"))
    base.chmod(0o711)
    yield SearchableTempPathFactory(base)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def tmp_path(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory | SearchableTempPathFactory,
) -> Path:
    """A fresh dir per test from :func:`tmp_path_factory` (pytest's own keeps
    its dirs; ours are removed with the session)."""
    return tmp_path_factory.mktemp(re.sub(r"\W", "_", request.node.name)[:30], numbered=True)


@pytest.fixture(scope="session")
def tinysite() -> Iterator[TinySite]:
    """The tinysite with all default apps, on a free loopback port, for the whole session."""
    with TinySite() as site:
        yield site


@pytest.fixture(scope="session")
def tinysite_gzip() -> Iterator[TinySite]:
    """The same site, every body gzip-encoded for clients that accept it (session-wide)."""
    with TinySite(gzip=True) as site:
        yield site


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real Redis server on a free loopback port, for the session."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The test Redis server's URL (database 0), emptied before each test."""
    redis_server.flush()
    return redis_server.url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server in a temp dir on a free loopback port, for the session."""
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The test database, emptied before each test."""
    postgres_server.reset()
    return postgres_server.url
