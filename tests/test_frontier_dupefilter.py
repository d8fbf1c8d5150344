"""crawler.frontier.dupefilter: the shared seen set and this worker's memory of it,
against a real ``redis-server``."""

from __future__ import annotations

import redis
from scrapy import Request, Spider
from scrapy.utils.test import get_crawler

from crawler.frontier.dupefilter import FrontierDupeFilter

KEY = "crawler:abc123:seen"


def _filter(redis_url: str, cache_size: int) -> FrontierDupeFilter:
    crawler = get_crawler(Spider)
    return FrontierDupeFilter(
        redis.Redis.from_url(redis_url),
        KEY,
        fingerprinter=crawler.request_fingerprinter,
        stats=crawler.stats,
        cache_size=cache_size,
    )


def _sadds(client: redis.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_sadd", {}).get("calls", 0))


def test_a_fingerprint_known_in_the_set_is_not_asked_again(redis_url: str) -> None:
    one, two = _filter(redis_url, cache_size=2), _filter(redis_url, cache_size=2)
    client = one.server
    client.config_resetstat()
    first, second, third = (Request(f"http://a.test/{n}") for n in range(3))
    assert not one.request_seen(first)
    assert one.request_seen(first)  # remembered: no round trip
    assert _sadds(client) == 1
    assert two.request_seen(Request("http://a.test/0"))  # another worker asks Redis
    assert _sadds(client) == 2
    assert not one.request_seen(second)
    assert not one.request_seen(third)  # the cache holds two: the first is forgotten
    assert one.request_seen(first)  # asked again, same answer
    assert _sadds(client) == 5
    assert one.stats is not None
    assert one.stats.get_value("frontier/seen_cache/hits") == 1
    assert client.scard(KEY) == 3


def test_without_a_cache_every_request_asks(redis_url: str) -> None:
    one = _filter(redis_url, cache_size=0)
    one.server.config_resetstat()
    request = Request("http://a.test/")
    assert [one.request_seen(request) for _ in range(3)] == [False, True, True]
    assert _sadds(one.server) == 3


def test_the_last_hop_of_a_redirect_to_a_known_page_is_let_through(redis_url: str) -> None:
    one = _filter(redis_url, cache_size=10)
    assert not one.request_seen(Request("http://a.test/target"))
    hop = Request("http://a.test/target", meta={"redirect_urls": ["http://a.test/old"]})
    assert not one.request_seen(hop)
    assert one.stats is not None
    assert one.stats.get_value("dupefilter/redirect_refetched") == 1
