"""AnchorExtractor (crawler.discovery.anchors) answers as Scrapy's LinkExtractor, cached or not."""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse
from scrapy.linkextractors import LinkExtractor

from crawler.discovery.anchors import AnchorExtractor
from crawler.discovery.screen import UrlScreen

# Every kind of href the memo treats differently: absolute http(s), absolute
# paths, protocol-relative, relative, dot segments, fragments, other schemes,
# whitespace, non-ASCII (encoded per page encoding), bogus, duplicates.
HREFS = (
    "http://x.test/abs.html",
    "https://other.test/a?b=1#frag",
    "HTTP://X.test/Upper",
    "/root.html",
    "/root.html?q=a b",
    "/a/./b/../c.html",
    "//cdn.test/p.html",
    "rel.html",
    "../up.html",
    "?only=query",
    "",
    "#top",
    "#!/route",
    "  /padded.html \n",
    "/caf\u00e9.html?q=\u00e9",
    "mailto:someone@x.test",
    "javascript:void(0)",
    "tel:+123",
    "ftp://files.test/f",
    "http://[::1",
    "http://x.test:99999/bad-port",
    "/root.html",
    "http:relative-with-scheme.html",
    "https://other.test/empty-query?",  # urljoin with the page scheme: kept or dropped
    "http://x.test/caf\u00e9?q=\u00e9",
)


def body(hrefs: tuple[str, ...], base: str | None = None) -> str:
    head = f'<base href="{base}">' if base else ""
    links = "".join(
        f'<p><a href="{h}" rel="{"nofollow" if i % 3 == 0 else ""}">link <b>{i}</b></a></p>'
        for i, h in enumerate(hrefs)
    )
    return (
        f"<html><head>{head}</head><body>{links}"
        f'<map><area href="/area.html"><area nohref></map><a>no href</a>'
        f'<div><a href="/inner.html"><span>nested</span> text</a></div></body></html>'
    )


PAGES = (
    ("http://x.test/d/p.html", None, "utf-8"),
    ("http://x.test/d/other/q.html?x=1", None, "utf-8"),  # other path: cached hrefs reused
    ("https://x.test/d/p.html", None, "utf-8"),  # other page scheme
    ("http://y.test/p.html", None, "utf-8"),  # other host
    ("http://x.test/d/p.html", "http://base.test/b/", "utf-8"),
    ("https://x.test/d/p.html", "http://base.test/b/", "utf-8"),  # base and page schemes differ
    ("http://x.test/d/p.html", "/rooted/base/", "utf-8"),
    ("http://x.test/d/p.html", "ftp://files.test/dir/", "utf-8"),  # not cached
    ("http://x.test/d/p.html", None, "latin-1"),  # other encoding
    ("http://x.test/d/p.html", None, "cp1251"),
)


def extract(extractor: LinkExtractor, url: str, base: str | None, encoding: str) -> list:
    html = body(HREFS, base).encode(encoding, "xmlcharrefreplace")
    return extractor.extract_links(HtmlResponse(url, body=html, encoding=encoding))


@pytest.mark.parametrize("rounds", [1, 2])
def test_same_links_and_counts_as_scrapy(rounds: int) -> None:
    """Page after page with one extractor each (the second round all from the memo)."""
    counted_scrapy: list[str] = []
    counted_ours: list[str] = []
    scrapy = LinkExtractor(
        deny_extensions=[], process_value=UrlScreen(counted_scrapy.append), unique=True
    )
    ours = AnchorExtractor(UrlScreen(counted_ours.append))
    for _ in range(rounds):
        for url, base, encoding in PAGES:
            expected = extract(scrapy, url, base, encoding)
            assert extract(ours, url, base, encoding) == expected, (url, base, encoding)
            assert expected  # the page has links at all
    assert counted_ours == counted_scrapy
    assert "crawler/links/skipped_scheme/mailto" in counted_ours
    assert len(ours.link_extractor.resolved) > 0


def test_memo_is_bounded_and_still_right() -> None:
    ours = AnchorExtractor(UrlScreen(), cache_size=3)
    scrapy = LinkExtractor(deny_extensions=[], process_value=UrlScreen(), unique=True)
    for url, base, encoding in PAGES:
        assert extract(ours, url, base, encoding) == extract(scrapy, url, base, encoding)
    assert len(ours.link_extractor.resolved) == 3


def test_link_texts_are_plain_strings() -> None:
    """Not lxml's "smart" strings, which keep their element and its whole document
    alive as long as the link's text is (Scrapy's extractor gives those)."""
    links = extract(AnchorExtractor(UrlScreen()), "http://x.test/d/p.html", None, "utf-8")
    assert links and all(type(link.text) is str for link in links)
    assert any(link.text for link in links)
