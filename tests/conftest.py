"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from fixtures.tinysite.server import TinySite
from tests.pgserver import PostgresServer

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def tinysite() -> Iterator[TinySite]:
    """The tinysite with all default apps, on a free loopback port, for the whole session."""
    with TinySite() as site:
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
