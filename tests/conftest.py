"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fixtures.tinysite.server import TinySite
from tests.crawltools import REPO_ROOT
from tests.pgserver import PostgresServer

if TYPE_CHECKING:
    from collections.abc import Iterator


def _user_files() -> dict[str, float]:
    """What a crawl run from the repository root would write there: the default
    store and fallback files, with their modification times."""
    found = [*REPO_ROOT.glob("crawl.db*"), *REPO_ROOT.glob("unwritten-*.jsonl")]
    return {path.name: path.stat().st_mtime for path in found}


@pytest.fixture(scope="session", autouse=True)
def _repository_root_left_alone() -> Iterator[None]:
    """No test writes the user's own ``crawl.db`` (or fallback files) in the
    repository root: every test crawl names a store in its temp dir."""
    before = _user_files()
    yield
    assert _user_files() == before, "a test wrote crawl.db or unwritten-*.jsonl in the repo root"


@pytest.fixture(autouse=True)
def _tmp_path_searchable(request: pytest.FixtureRequest) -> None:
    """As root, a crawl's browsers run as a uid of their own
    (:mod:`crawler.browser.confine`) and must pass through the dirs above their
    ``SELENIUM_TEMP_DIR``: the test's ``tmp_path`` and pytest's dirs above it
    (made 0700) become 0711, searchable but not listable."""
    if "tmp_path" in request.fixturenames:
        searchable(request.getfixturevalue("tmp_path"))


def searchable(path: str | Path) -> None:
    """As root: ``path`` and the dirs above it below /tmp made searchable by others."""
    if os.geteuid() != 0:
        return
    path = Path(path)
    for directory in (path, *path.parents):
        if directory == Path(directory.anchor) or str(directory) == "/tmp":
            break
        mode = directory.stat().st_mode
        if not mode & 0o001:
            directory.chmod((mode & 0o7777) | 0o011)


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
