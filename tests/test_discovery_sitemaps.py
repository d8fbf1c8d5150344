"""robots.txt Sitemap: lines and sitemap files (crawler.discovery.sitemaps)."""

from __future__ import annotations

import gzip

import pytest
from scrapy.http import Response, TextResponse, XmlResponse

from crawler.discovery.sitemaps import InvalidSitemap, SitemapReader, robots_sitemaps
from fixtures.tinysite.discovery import sitemap_index, urlset

ROOT = "http://x.test"


def test_robots_sitemap_lines_resolved_once_each() -> None:
    body = (
        b"User-agent: *\nDisallow: /p/\nSitemap: /a.xml\nsitemap: http://x.test/b.xml.gz\n"
        b"Sitemap: /a.xml\n"
    )
    response = TextResponse(f"{ROOT}/robots.txt", body=body)
    assert robots_sitemaps(response) == [f"{ROOT}/a.xml", f"{ROOT}/b.xml.gz"]


def test_a_urlset_with_alternates_and_a_sitemap_index() -> None:
    pages = urlset([f"{ROOT}/1", f"{ROOT}/2"], {f"{ROOT}/2": [("de", f"{ROOT}/2.de")]})
    read = SitemapReader().read(XmlResponse(f"{ROOT}/s.xml", body=pages.encode()))
    assert (read.kind, read.urls) == ("urlset", [f"{ROOT}/1", f"{ROOT}/2", f"{ROOT}/2.de"])
    index = sitemap_index([f"{ROOT}/a.xml.gz"]).encode()
    read = SitemapReader().read(XmlResponse(f"{ROOT}/i.xml", body=index))
    assert (read.kind, read.urls) == ("sitemapindex", [f"{ROOT}/a.xml.gz"])


def test_a_gzip_file_is_decompressed_within_download_maxsize() -> None:
    body = gzip.compress(urlset([f"{ROOT}/{n}" for n in range(200)]).encode())
    response = Response(f"{ROOT}/s.xml.gz", body=body)
    assert len(SitemapReader(max_size=100_000).read(response).urls) == 200
    with pytest.raises(InvalidSitemap, match=r"more than DOWNLOAD_MAXSIZE \(1000 bytes\)"):
        SitemapReader(max_size=1000).read(response)


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (
            TextResponse(f"{ROOT}/sitemap.xml", body=b"<html><body>Not found</body></html>"),
            "root element is <html>",
        ),
        (Response(f"{ROOT}/sitemap.xml", body=b""), "not XML"),
        (Response(f"{ROOT}/s.xml.gz", body=b"\x1f\x8b\x08broken"), "broken gzip data"),
        (
            TextResponse(f"{ROOT}/feed", body=b"x", headers={"Content-Type": "text/plain"}),
            "content type is text/plain",
        ),
    ],
)
def test_what_is_no_sitemap_says_why(response: Response, reason: str) -> None:
    with pytest.raises(InvalidSitemap, match=reason):
        SitemapReader().read(response)
