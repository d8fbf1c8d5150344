"""``crawler crawl --render always --incremental``: a re-crawl asks over HTTP first and
renders only the pages that changed (and the new ones); unchanged pages are not rendered."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

from fixtures.tinysite.server import TinySite
from fixtures.tinysite.versioned import VersionedCatalogApp
from tests.browser.conftest import needs_chromium
from tests.crawltools import run_crawler

if TYPE_CHECKING:
    from pathlib import Path

SIZE = 20
CHANGED = [1, 7]  # 7 sends no validators: its body is compared


@needs_chromium
def test_unchanged_pages_are_not_rendered_again(browser_root: str, tmp_path: Path) -> None:
    app = VersionedCatalogApp(size=SIZE)
    with TinySite(apps=[app]) as site:
        args = [
            "crawl",
            site.url("/catalog/"),
            "--render",
            "always",
            "--incremental",
            "--store",
            "sqlite:///crawl.db",
            *("-s", "CRAWLER_MAX_PAGES_PER_PATTERN=0", "-s", f"SELENIUM_TEMP_DIR={browser_root}"),
            *("-s", "SELENIUM_POOL_SIZE=2", "-s", "SELENIUM_ALLOWED_HOSTS=127.0.0.1"),
        ]
        first = run_crawler(*args, cwd=tmp_path)
        assert first.returncode == 0, first.stderr[-3000:]
        app.change(CHANGED)
        app.add_page(1, linked_from=5)
        second = run_crawler(*args, cwd=tmp_path)
        assert second.returncode == 0, second.stderr[-3000:]
    with sqlite3.connect(tmp_path / "crawl.db") as conn:
        stats = [json.loads(s) for (s,) in conn.execute("SELECT stats FROM runs ORDER BY id")]
        pages = {
            url.removeprefix(site.base_url): (rendered, unchanged)
            for url, rendered, unchanged in conn.execute(
                "SELECT url, rendered, unchanged FROM pages WHERE run_id = 2"
            )
        }
    assert stats[0]["selenium/renders"] == SIZE + 1
    changed = {"/catalog/item/1.html", "/catalog/item/5.html", "/catalog/item/7.html"}
    assert len(pages) == SIZE + 2
    # Rendered: the changed pages (asked over HTTP first) and the new one (never asked).
    assert {url for url, (rendered, _) in pages.items() if rendered} == {
        *changed,
        "/catalog/new/1.html",
    }
    assert {url for url, (_, unchanged) in pages.items() if not unchanged} == {
        *changed,
        "/catalog/new/1.html",
    }
    assert stats[1]["selenium/renders"] == len(changed) + 1
    assert stats[1]["incremental/renders_skipped"] == SIZE + 1 - len(changed)
    assert stats[1]["incremental/same_digest"] == 1  # item 17: no validators, same body
