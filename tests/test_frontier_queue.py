"""The shared queue's encoding (:class:`crawler.frontier.queue.LeasedPriorityQueue`):
the same bytes as scrapy-redis's (``Request.to_dict`` with the spider), with the
names of callbacks looked up once per function, against a real Redis."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
import redis
from scrapy import Request, Spider
from scrapy.utils.request import request_from_dict
from scrapy_redis import picklecompat

from crawler.frontier.queue import LeasedPriorityQueue
from crawler.pagerequest import PageRequest


class _Spider(Spider):
    name = "q"

    def parse(self, response: Any) -> None:
        pass

    def other(self, response: Any) -> None:
        pass

    def failed(self, failure: Any) -> None:
        pass


def _queue(redis_url: str, spider: Spider) -> LeasedPriorityQueue:
    return LeasedPriorityQueue(
        server=redis.Redis.from_url(redis_url), spider=spider, key="q", serializer=picklecompat
    )


def _requests(spider: _Spider) -> list[Request]:
    return [
        Request("http://example.com/a", callback=spider.parse, errback=spider.failed),
        Request("http://example.com/b", callback=spider.other, meta={"depth": 3}, priority=5),
        Request("http://example.com/c"),  # no callback: None
        PageRequest("http://example.com/e", callback=spider.parse, dont_filter=True),
        Request("http://example.com/f", method="POST", body=b"x=1", headers={"X-A": "1"}),
    ]


def test_encode_is_scrapy_redis_encoding(redis_url: str) -> None:
    spider = _Spider()
    queue = _queue(redis_url, spider)
    for _ in range(2):  # looked up, then remembered: the same answer
        for request in _requests(spider):
            expected = request.to_dict(spider=spider)
            assert queue.to_dict(request) == expected
            assert pickle.loads(queue.encode(request)) == expected
            decoded = request_from_dict(pickle.loads(queue.encode(request)), spider=spider)
            assert (decoded.url, decoded.callback, decoded.errback, type(decoded)) == (
                request.url,
                request.callback,
                request.errback,
                type(request),
            )


def test_a_function_not_of_the_spider_is_refused(redis_url: str) -> None:
    spider = _Spider()
    queue = _queue(redis_url, spider)
    with pytest.raises(ValueError, match="not an instance method"):
        queue.encode(Request("http://example.com/", callback=lambda response: None))
    other = _Spider()  # another instance's method: Scrapy compares functions only
    assert queue.to_dict(Request("http://example.com/", callback=other.parse))["callback"] == (
        "parse"
    )


def test_a_name_rebound_on_the_spider_is_looked_up_again(redis_url: str) -> None:
    spider = _Spider()
    queue = _queue(redis_url, spider)
    request = Request("http://example.com/", callback=spider.other)
    assert queue.to_dict(request)["callback"] == "other"
    spider.other = spider.parse  # type: ignore[method-assign]
    # "other" names parse now: Scrapy finds other's function nowhere, nor does the cache
    with pytest.raises(ValueError, match="not an instance method"):
        request.to_dict(spider=spider)
    with pytest.raises(ValueError, match="not an instance method"):
        queue.to_dict(request)
    renamed = Request("http://example.com/", callback=spider.parse)
    assert queue.to_dict(renamed)["callback"] == renamed.to_dict(spider=spider)["callback"]
