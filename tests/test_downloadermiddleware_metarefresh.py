"""``MetaRefreshMiddleware``: Scrapy's meta refresh redirects, the same answer on every page,
pages that cannot hold one skipped before Scrapy's parsing."""

from __future__ import annotations

import pytest
from scrapy import Request, Spider
from scrapy.downloadermiddlewares.redirect import (
    MetaRefreshMiddleware as ScrapyMetaRefreshMiddleware,
)
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.test import get_crawler

from crawler.downloadermiddlewares.metarefresh import (
    HEAD_CHARACTERS,
    MetaRefreshMiddleware,
    may_refresh,
)
from crawler.runner import project_settings

URL = "http://example.com/a/page.html"
PAD = "<p>" + "x" * HEAD_CHARACTERS + "</p>"

BODIES = {
    "none": "<html><head><meta charset=utf-8><title>T</title></head><body>Hi</body></html>",
    "plain": '<meta http-equiv="refresh" content="0; url=/next">',
    "upper": '<META HTTP-EQUIV="REFRESH" CONTENT="0;URL=/next">',
    "long s": '<meta http-equiv="refre\u017fh" content="0; url=/next">',  # re.I folds it to s
    "numeric reference": '<meta http-equiv="&#114;efresh" content="0; url=/next">',
    "hex reference": '<meta http-equiv="&#x72;efresh" content="0; url=/next">',
    "in a comment": '<!-- <meta http-equiv="refresh" content="0; url=/next"> -->',
    "in a script": '<script><meta http-equiv="refresh" content="0; url=/next"></script>',
    "word only": "<p>Press F5 to refresh</p>",
    "too slow": '<meta http-equiv="refresh" content="600; url=/next">',
    "relative to base": '<base href="http://other.example/b/"><meta http-equiv="refresh" '
    'content="0;url=next">',
    "past the head": PAD + '<meta http-equiv="refresh" content="0; url=/next">',
    "entity past the head": PAD + '<meta http-equiv="&#114;efresh" content="0; url=/next">',
}


def middlewares() -> tuple[ScrapyMetaRefreshMiddleware, MetaRefreshMiddleware]:
    crawler = get_crawler(Spider)
    return (
        ScrapyMetaRefreshMiddleware.from_crawler(crawler),
        MetaRefreshMiddleware.from_crawler(crawler),
    )


def outcome(result: object) -> tuple[str, str]:
    """What a middleware did: passed the response on, or the redirect it made."""
    if isinstance(result, Request):
        return "redirect", result.url
    return "response", ""


@pytest.mark.parametrize("name", BODIES)
def test_same_answer_as_scrapys(name: str) -> None:
    scrapys, ours = middlewares()
    body = BODIES[name].encode("utf-8")
    theirs = scrapys.process_response(Request(URL), HtmlResponse(URL, body=body, encoding="utf-8"))
    mine = ours.process_response(Request(URL), HtmlResponse(URL, body=body, encoding="utf-8"))
    assert outcome(mine) == outcome(theirs)


def test_redirects_where_scrapy_does() -> None:
    _, ours = middlewares()
    expected = {
        "plain": ("redirect", "http://example.com/next"),
        "upper": ("redirect", "http://example.com/next"),
        "relative to base": ("redirect", "http://other.example/b/next"),
        "none": ("response", ""),
        "too slow": ("response", ""),
        "past the head": ("response", ""),
    }
    for name, answer in expected.items():
        result = ours.process_response(
            Request(URL), HtmlResponse(URL, body=BODIES[name].encode(), encoding="utf-8")
        )
        assert outcome(result) == answer, name


def test_skips_only_what_cannot_refresh() -> None:
    assert not may_refresh(BODIES["none"])
    assert not may_refresh(BODIES["past the head"])
    assert may_refresh(BODIES["word only"])  # Scrapy's parsing decides
    assert may_refresh(BODIES["upper"])
    assert may_refresh(PAD[: HEAD_CHARACTERS - 7] + "REFRESH")


def test_not_html_and_dont_redirect_pass_as_in_scrapy() -> None:
    _, ours = middlewares()
    body = BODIES["plain"].encode()
    text = TextResponse(URL, body=body, encoding="utf-8")
    assert ours.process_response(Request(URL), text) is text
    html = HtmlResponse(URL, body=body, encoding="utf-8")
    kept = Request(URL, meta={"dont_redirect": True})
    assert ours.process_response(kept, html) is html


def test_in_place_of_scrapys_in_the_framework_settings() -> None:
    middlewares = project_settings().getdict("DOWNLOADER_MIDDLEWARES")
    assert middlewares["crawler.downloadermiddlewares.metarefresh.MetaRefreshMiddleware"] == 580
    assert middlewares["scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware"] is None
