"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from fixtures.tinysite.server import TinySite

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def tinysite() -> Iterator[TinySite]:
    """The tinysite with all default apps, on a free loopback port, for the whole session."""
    with TinySite() as site:
        yield site
