"""The ``links`` table of a rendered crawl of the book's site: every discovery once,
with the most telling ``found_via``, forms included (fixtures/tinysite/classic.py)."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tests.crawltools import crawl
from tests.test_spider_site_render import BROWSER_OPTIONS

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_rendered_links_are_recorded_once_and_forms_too(tinysite: TinySite, tmp_path: Path) -> None:
    (tmp_path / "browsers").mkdir()
    result = crawl(
        tinysite.url("/"),
        tmp_path,
        "--render",
        "always",
        "-s",
        f"SELENIUM_TEMP_DIR={tmp_path / 'browsers'}",
        *BROWSER_OPTIONS,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with sqlite3.connect(result.db) as db:
        rows = db.execute("select source, url, found_via from links").fetchall()
    kinds: dict[tuple[str, str], set[str]] = defaultdict(set)
    for source, url, found_via in rows:
        kinds[(_path(source), _path(url))].add(found_via)
    # the served HTML's links are "link", not also "script" (the live DOM has them too)
    assert kinds[("/", "/page1.html")] == {"link"}
    assert not [key for key, found in kinds.items() if "script" in found and len(found) > 1]
    # the links the book's page writes with JavaScript are "script"
    assert kinds[("/", "/page5.html")] == {"script"}
    # where the search form leads is a discovery of its page
    assert {url for (source, url), found in kinds.items() if "form" in found} >= {
        "/search.html?q=A"
    }
