"""The project's downloader keeps CONCURRENT_REQUESTS_PER_DOMAIN (Scrapy 2.19 overshoots it)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from fixtures.tinysite.scripted import ScriptedApp
from tests.crawltools import run_crawler

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite


def _scripted(site: TinySite) -> ScriptedApp:
    [app] = [app for app in site.apps if isinstance(app, ScriptedApp)]
    return app


@pytest.mark.parametrize(
    ("downloader", "keeps_the_limit"),
    [
        ("crawler.downloader.SlotReservingDownloader", True),
        # Scrapy's own, to show the test can tell: queued requests start
        # together (measured 9 and 12 at once).
        ("scrapy.core.downloader.Downloader", False),
    ],
)
def test_site_never_sees_more_than_the_domain_concurrency(
    tinysite: TinySite, tmp_path: Path, downloader: str, keeps_the_limit: bool
) -> None:
    scripted = _scripted(tinysite)
    scripted.reset()
    urls = [tinysite.url(f"/js/hold?ms=600&id=conc-{i}") for i in range(12)]
    done = run_crawler(
        "extract",
        *urls,
        "--field",
        "held=css:#held",
        "-s",
        "CONCURRENT_REQUESTS_PER_DOMAIN=3",
        "-s",
        f"DOWNLOADER={downloader}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 12
    assert len(scripted.hold_arrivals) == 12
    if keeps_the_limit:
        assert 2 <= scripted.hold_max_active <= 3
    else:
        assert scripted.hold_max_active > 3
