"""robots.txt read up to CRAWLER_ROBOTSTXT_MAXSIZE, the rest ignored (RFC 9309, 2.5):
a huge robots.txt costs neither memory nor its first rules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from crawler.downloadermiddlewares.robotstxtsize import whole_lines
from fixtures.tinysite.bigrobots import BigRobotsApp
from fixtures.tinysite.server import TinySite
from tests.crawltools import crawl_measured

if TYPE_CHECKING:
    from pathlib import Path

HUGE = 30 * 1024 * 1024  # bytes: under DOWNLOAD_MAXSIZE (32 MiB), read whole without the cap
# Peak RSS of the crawl process (KiB).  This crawl peaks near 105 MiB here with the cap,
# 220 MiB without it (the 30 MiB file and the copies Scrapy makes of it).
PEAK_LIMIT_KIB = 160 * 1024


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "until-close"])
def test_a_huge_robots_txt_is_read_up_to_the_limit_in_little_memory(
    tmp_path: Path, declare_length: bool
) -> None:
    with TinySite(apps=[BigRobotsApp(HUGE, declare_length=declare_length)]) as site:
        result, peak_kib = crawl_measured(site.url("/"), tmp_path, "--log-level", "INFO")
        seen = site.seen_paths()
    assert result.returncode == 0, result.stderr[-3000:]
    pages = result.by_path()
    # the rules of the first 500 KiB hold; the rule past them is not read
    assert "/early/x.html" not in seen
    assert result.stats["robotstxt/forbidden"] == 1
    assert pages["/late/x.html"]["status"] == 200
    assert pages["/open.html"]["status"] == 200
    # the spider's own robots.txt fetch (for the Sitemap: line) is cut too, and read
    assert pages["/from-sitemap.html"]["status"] == 200
    assert result.stats["robotstxt/truncated"] == 2
    assert result.stderr.count("only its first 512000 bytes are read") == 2
    assert peak_kib < PEAK_LIMIT_KIB, f"peak RSS {peak_kib / 1024:.0f} MiB"


def test_a_compressed_robots_txt_that_inflates_past_the_limit_is_dropped(tmp_path: Path) -> None:
    """A gzip bomb of a robots.txt: inflated up to the limit only, then dropped as
    Scrapy drops any response that inflates too far (no rules read: all allowed)."""
    with TinySite(apps=[BigRobotsApp(HUGE, gzip=True)]) as site:
        result, peak_kib = crawl_measured(site.url("/"), tmp_path, "--log-level", "INFO")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "exceeded DOWNLOAD_MAXSIZE (512000 B) during decompression" in result.stderr
    assert result.by_path()["/early/x.html"]["status"] == 200
    assert peak_kib < PEAK_LIMIT_KIB, f"peak RSS {peak_kib / 1024:.0f} MiB"


@pytest.mark.parametrize(
    ("body", "limit", "expected"),
    [
        (b"a\nb\nc\n", 10, b"a\nb\nc\n"),
        (b"Disallow: /a\nDisallow: /b\n", 16, b"Disallow: /a\n"),  # no half rule
        (b"Disallow: /a\r\nDisallow: /b\r\n", 16, b"Disallow: /a\r\n"),
        (b"x" * 20, 8, b"x" * 8),  # no line break: the first bytes
    ],
)
def test_whole_lines(body: bytes, limit: int, expected: bytes) -> None:
    assert whole_lines(body, limit) == expected
