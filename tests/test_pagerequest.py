"""PageRequest (crawler.pagerequest): Scrapy's Request URLs, made safe once per URL."""

from __future__ import annotations

import pickle

import pytest
from scrapy import Request
from scrapy.utils.request import request_from_dict

from crawler.pagerequest import PageRequest

URLS = (
    "http://x.test/a b?q=é#frag",
    "http://x.test/caf%C3%A9",
    "HTTP://X.test/Upper/../p",
    "http://x.test/a b?q=é#frag",  # again: from the memo
    "about:blank",
)


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_urls_are_scrapys(encoding: str) -> None:
    for _ in range(2):
        for url in URLS:
            assert PageRequest(url, encoding=encoding).url == Request(url, encoding=encoding).url


def test_errors_and_verbatim_urls_are_scrapys() -> None:
    for _ in range(2):  # a bad URL is never remembered
        with pytest.raises(ValueError, match="Missing scheme"):
            PageRequest("/no/scheme")
        with pytest.raises(TypeError):
            PageRequest(b"http://x.test/")  # type: ignore[arg-type]
    verbatim = {"verbatim_url": True}
    assert PageRequest("http://x.test/a b", meta=verbatim).url == "http://x.test/a b"
    assert PageRequest("http://x.test/a b").url == "http://x.test/a%20b"


def test_replace_and_job_directory_round_trip() -> None:
    request = PageRequest("http://x.test/a b", meta={"found_via": "link"})
    moved = request.replace(url="http://x.test/c d")
    assert type(moved) is PageRequest
    assert moved.url == "http://x.test/c%20d"
    again = request_from_dict(pickle.loads(pickle.dumps(request.to_dict())))
    assert type(again) is PageRequest
    assert (again.url, again.meta) == (request.url, request.meta)
