"""Scenarios of one frontier scheduler in a child process, its round trips counted.

``python -m tests.roundtriptools SCENARIO`` starts its own ``redis-server``
(:class:`tests.redisserver.RedisServer`) and a counting
:class:`tests.redisproxy.DelayProxy` before it, installs Scrapy's asyncio
reactor (a child process: the test process installs none), opens a
:class:`~crawler.frontier.scheduler.FrontierScheduler` of a real crawler and
engine on the proxy, runs ``SCENARIO`` in the asyncio loop (the scheduler's
end-of-turn flush and its poll run there, as in a crawl), and prints what it
measured as one JSON object on stdout.  ``tests/test_frontier_roundtrips.py``
runs them.

``links``
    The start request queued, then 30 new requests, as a page's callback
    yields them, then the end of the turn:
    ``enqueue_trips`` (during the 30 calls), ``flush_trips`` (by the end of the
    turn), ``queued`` (the shared queue's length then), then 30 more and a
    ``next_request`` in the same turn: ``page_trips``, ``popped``; then one URL
    twice and once more with ``dont_filter`` in one turn: ``duplicates_queued``,
    ``filtered`` (``dupefilter/filtered``), ``enqueued_stat``; then a second
    of polls: ``idle_trips`` in ``idle_seconds``.
``delayed``
    With ``CRAWLER_FRONTIER_FLUSH_DELAY`` 0.2 s (polls every 10 s: none meanwhile),
    the start request queued, then 10 new requests, a turn, 10 more, a turn:
    ``early_trips`` (by then), then 0.3 s: ``delayed_trips``, ``queued`` (the 20).
``flushed``
    The start request queued, then Redis flushed (the crawl's keys gone, its queue
    as empty as a finished crawl's) and a second of polls with a 0.3 s idle
    timeout: ``done`` (the scheduler called the crawl done), ``gave_up``
    (it closes as ``frontier_unreachable``), ``error`` (``frontier/error``).
``outage``
    5 new requests buffered, Redis killed before the turn ends, started again
    (empty) two seconds later: ``pending_down`` (the scheduler's length while
    Redis is down), ``queued`` (the shared queue once the poll queued them),
    ``redis_errors``, ``lost``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from scrapy import Request, Spider
from scrapy.utils.reactor import install_reactor
from scrapy.utils.test import get_crawler

from crawler import default_settings
from crawler.frontier.scheduler import FrontierScheduler
from crawler.frontier.shared import frontier_overrides
from tests.redisproxy import DelayProxy
from tests.redisserver import RedisServer

CRAWL = "abc123abc123"
QUEUE = f"crawler:{CRAWL}:requests"


class _Spider(Spider):
    name = "roundtrips"


def _scheduler(url: str, **overrides: Any) -> FrontierScheduler:
    """A scheduler on ``url``, the frontier's defaults but a flush at the end of the
    turn (``CRAWLER_FRONTIER_FLUSH_DELAY`` 0) and a poll every 0.1 s; ``overrides``
    (setting names) win."""
    # The frontier's own defaults (get_crawler gives Scrapy's only; the add-on would
    # also start the shared politeness, whose Redis calls the proxy would count).
    frontier = {k: v for k, v in vars(default_settings).items() if k.startswith("CRAWLER_FRONTIER")}
    settings = {
        **frontier,
        **frontier_overrides(url, CRAWL, "worker-1"),
        "CRAWLER_FRONTIER_SOCKET_TIMEOUT": 1.0,
        "CRAWLER_FRONTIER_POLL_INTERVAL": 0.1,
        "CRAWLER_FRONTIER_IDLE_TIMEOUT": 60.0,
        "CRAWLER_FRONTIER_FLUSH_DELAY": 0.0,
        "LOG_LEVEL": "WARNING",
        **overrides,
    }
    crawler = get_crawler(_Spider, settings)
    crawler._apply_settings()
    crawler.engine = crawler._create_engine()
    spider = _Spider.from_crawler(crawler)
    crawler.spider = spider
    scheduler = FrontierScheduler.from_crawler(crawler)
    scheduler.open(spider)
    return scheduler


async def _turns(count: int = 3) -> None:
    """Let the asyncio loop run ``count`` turns (the scheduler's flush is one)."""
    for _ in range(count):
        await asyncio.sleep(0)


async def links(redis_server: RedisServer, proxy: DelayProxy) -> dict[str, Any]:
    scheduler = _scheduler(proxy.url())
    client = redis_server.client()
    # The start request: the first flush also loads the script (NOSCRIPT, SCRIPT LOAD)
    # and marks the crawl seeded.
    assert scheduler.enqueue_request(Request("http://a.test/"))
    await _turns()
    proxy.reset()
    for n in range(30):
        assert scheduler.enqueue_request(Request(f"http://a.test/page/{n}"))
    enqueue_trips = proxy.reset()
    await _turns()
    flush_trips = proxy.reset()
    queued = client.zcard(QUEUE) - 1
    for n in range(30, 60):
        scheduler.enqueue_request(Request(f"http://a.test/page/{n}"))
    popped = scheduler.next_request()
    page_trips = proxy.reset()
    # Found twice in one turn, and again without the filter
    for request in (
        Request("http://a.test/twice"),
        Request("http://a.test/twice"),
        Request("http://a.test/twice", dont_filter=True),
    ):
        assert scheduler.enqueue_request(request)
    before = client.zcard(QUEUE)
    await _turns()
    duplicates_queued = client.zcard(QUEUE) - before
    # Polls with nothing to queue or release (every 0.1 s), once the first ones
    # loaded their scripts, reclaimed and published the stats
    await asyncio.sleep(0.5)
    proxy.reset()
    started = time.monotonic()
    await asyncio.sleep(1.0)
    idle_trips = proxy.reset()
    idle_seconds = time.monotonic() - started
    scheduler.close("finished")
    return {
        "enqueue_trips": enqueue_trips,
        "flush_trips": flush_trips,
        "queued": queued,
        "page_trips": page_trips,
        "popped": popped is not None,
        "duplicates_queued": duplicates_queued,
        "filtered": scheduler.stats.get_value("dupefilter/filtered", 0),
        "idle_trips": idle_trips,
        "idle_seconds": idle_seconds,
        "enqueued_stat": scheduler.stats.get_value("scheduler/enqueued/redis"),
    }


async def delayed(redis_server: RedisServer, proxy: DelayProxy) -> dict[str, Any]:
    scheduler = _scheduler(
        proxy.url(), CRAWLER_FRONTIER_FLUSH_DELAY=0.2, CRAWLER_FRONTIER_POLL_INTERVAL=10.0
    )
    client = redis_server.client()
    # The start request: the first flush loads the script and marks the crawl seeded.
    assert scheduler.enqueue_request(Request("http://a.test/"))
    await asyncio.sleep(0.3)
    proxy.reset()
    for batch in (range(10), range(10, 20)):
        for n in batch:
            assert scheduler.enqueue_request(Request(f"http://a.test/page/{n}"))
        await _turns()
    early_trips = proxy.reset()
    await asyncio.sleep(0.3)
    delayed_trips = proxy.reset()
    queued = client.zcard(QUEUE) - 1
    scheduler.close("finished")
    return {"early_trips": early_trips, "delayed_trips": delayed_trips, "queued": queued}


async def outage(redis_server: RedisServer, proxy: DelayProxy) -> dict[str, Any]:
    scheduler = _scheduler(proxy.url())
    for n in range(5):
        assert scheduler.enqueue_request(Request(f"http://a.test/page/{n}"))
    redis_server.kill()
    await _turns()  # the flush fails: the requests wait in the scheduler
    pending_down = len(scheduler)
    await asyncio.sleep(2)  # polls fail too
    redis_server.start()
    client = redis_server.client()
    deadline = time.monotonic() + 15
    while client.zcard(QUEUE) < 5 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    queued = client.zcard(QUEUE)
    stats = scheduler.stats
    return {
        "pending_down": pending_down,
        "queued": queued,
        "redis_errors": stats.get_value("frontier/redis_errors", 0),
        "lost": stats.get_value("frontier/requests_lost", 0),
        "enqueued_stat": stats.get_value("scheduler/enqueued/redis"),
    }


async def flushed(redis_server: RedisServer, proxy: DelayProxy) -> dict[str, Any]:
    scheduler = _scheduler(proxy.url(), CRAWLER_FRONTIER_IDLE_TIMEOUT=0.3)
    client = redis_server.client()
    assert scheduler.enqueue_request(Request("http://a.test/"))
    await asyncio.sleep(0.3)  # queued, the crawl marked seeded, the first stats published
    client.flushall()  # the queue is empty now, as at the end of a crawl
    await asyncio.sleep(1.0)  # the idle timeout, within the stats' interval (2 s)
    result = {
        "done": scheduler._done,
        "gave_up": scheduler._gave_up,
        "error": scheduler.stats.get_value("frontier/error"),
    }
    scheduler.close("finished")
    return result


SCENARIOS = {"links": links, "delayed": delayed, "outage": outage, "flushed": flushed}


def main(argv: list[str]) -> None:
    [name] = argv
    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    redis_server = RedisServer().start()
    try:
        with DelayProxy(redis_server.port, 0.0) as proxy:
            loop = asyncio.get_event_loop()
            result = loop.run_until_complete(SCENARIOS[name](redis_server, proxy))
    finally:
        redis_server.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
