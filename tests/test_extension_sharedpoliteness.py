"""crawler.extensions.sharedpoliteness: per-host limits held by all workers, in Redis.

The first tests drive two instances in one process (two workers, as Redis
sees them); the last ones run worker processes against a site that records
when each page request started and how many were in progress.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import Spider
from scrapy.core.downloader import Slot
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.extensions.sharedpoliteness import SharedPoliteness
from tests.politenesstools import RecordingSite, start_worker

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator
    from pathlib import Path

    from tests.redisserver import RedisServer

HOST = "127.0.0.1"


def _settings(url: str, prefix: str = "crawler:test", lease: float = 15) -> dict[str, Any]:
    return {
        "CRAWLER_FRONTIER": url,
        "CRAWLER_FRONTIER_PREFIX": prefix,
        "CRAWLER_FRONTIER_POLITENESS": True,
        "CRAWLER_FRONTIER_POLITENESS_LEASE": lease,
    }


def _worker(settings: dict[str, Any]) -> SharedPoliteness:
    crawler = get_crawler(Spider, settings)
    return SharedPoliteness.from_crawler(crawler)


@pytest.fixture
def site() -> Iterator[RecordingSite]:
    recording = RecordingSite()
    yield recording
    recording.close()


@pytest.mark.parametrize(
    "settings",
    [{}, {"CRAWLER_FRONTIER": "redis://127.0.0.1:1/0", "CRAWLER_FRONTIER_POLITENESS": False}],
)
def test_off_without_a_frontier(settings: dict[str, Any]) -> None:
    with pytest.raises(NotConfigured):
        _worker(settings)


def test_concurrency_and_delay_across_two_workers(redis_url: str) -> None:
    one, two = _worker(_settings(redis_url)), _worker(_settings(redis_url))
    slot = Slot(concurrency=2, delay=0.0, jitter=0.0)

    async def scenario() -> tuple[bool, float, float]:
        held = [await one.acquire(HOST, slot), await two.acquire(HOST, slot)]
        third = asyncio.ensure_future(two.acquire(HOST, slot))
        await asyncio.sleep(0.3)
        full = third.done()  # two leases held by two workers: the slot is full
        started = time.monotonic()
        await one.release(held[0])
        lease = await third
        freed_after = time.monotonic() - started
        assert lease is not None
        await two.release(held[1])
        await two.release(lease)
        # A delay between starts, whichever worker starts them.
        slow = Slot(concurrency=8, delay=0.25, jitter=0.0)
        starts = []
        for worker in (one, two, one, two):
            started_lease = await worker.acquire("slow", slow)
            starts.append(time.monotonic())
            await worker.release(started_lease)
        for worker in (one, two):
            await worker.spider_closed()
        return full, min(b - a for a, b in itertools.pairwise(starts)), freed_after

    full, gap, freed_after = asyncio.run(scenario())
    assert not full
    assert freed_after < 0.25  # seen within the poll interval, not at the lease's end
    assert gap >= 0.24  # Redis's clock in ms
    # one: its two places, then starts 1 and 3 of the slow slot (3 waited);
    # two: the third place (waited) and starts 2 and 4 (waited).
    assert one.crawler.stats.get_value("crawler/shared_politeness/leases") == 3
    assert one.crawler.stats.get_value("crawler/shared_politeness/waits") == 1
    assert two.crawler.stats.get_value("crawler/shared_politeness/waits") == 3


def test_a_dead_workers_leases_expire(redis_url: str, redis_server: RedisServer) -> None:
    """A worker that stops renewing (here: never started its heartbeat) frees its places."""
    dead = _worker(_settings(redis_url, lease=0.6))
    alive = _worker(_settings(redis_url, lease=0.6))
    slot = Slot(concurrency=1, delay=0.0, jitter=0.0)

    async def scenario() -> float:
        assert await dead.acquire(HOST, slot) is not None
        started = time.monotonic()
        lease = await alive.acquire(HOST, slot)
        waited = time.monotonic() - started
        await alive.release(lease)
        await alive.spider_closed()
        dead._held.clear()
        await dead.spider_closed()
        return waited

    waited = asyncio.run(scenario())
    assert 0.45 <= waited <= 0.6 + 0.5
    assert redis_server.client().keys("crawler:test:politeness:*:leases") == []


def test_redis_unreachable_goes_ahead_counted(caplog: pytest.LogCaptureFixture) -> None:
    worker = _worker(_settings("redis://127.0.0.1:1/0"))
    slot = Slot(concurrency=1, delay=0.0, jitter=0.0)

    async def scenario() -> None:
        assert await worker.acquire(HOST, slot) is None
        assert await worker.acquire(HOST, slot) is None
        await worker.spider_closed()

    with caplog.at_level(logging.WARNING):
        asyncio.run(scenario())
    assert worker.crawler.stats.get_value("crawler/shared_politeness/redis_errors") == 2
    warnings = [r for r in caplog.records if "Shared politeness: Redis failed" in r.getMessage()]
    assert len(warnings) == 1  # once


def _wait_ready(workers: list[Path], processes: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + 90
    while not all(path.with_suffix(".ready").exists() for path in workers):
        for process, path in zip(processes, workers, strict=True):
            if process.poll() is not None:
                raise AssertionError(path.with_suffix(".log").read_text()[-3000:])
        assert time.monotonic() < deadline, "workers did not open their spiders"
        time.sleep(0.05)


def _finish(processes: list[subprocess.Popen[str]], workers: list[Path]) -> list[dict[str, Any]]:
    for process, path in zip(processes, workers, strict=True):
        code = process.wait(120)
        assert code == 0, path.with_suffix(".log").read_text()[-3000:]
    return [json.loads(path.read_text()) for path in workers]


def test_three_workers_share_crawl_delay_and_concurrency(
    redis_url: str, site: RecordingSite, tmp_path: Path
) -> None:
    """3 processes, 4 pages each held 0.6 s by the site, CONCURRENT_REQUESTS_PER_DOMAIN=2
    and a robots.txt Crawl-delay of 0.2 s: the site sees at most 2 at once and
    starts at least 0.2 s apart, as from one process."""
    site.robots = "User-agent: *\nCrawl-delay: 0.2\n"
    site.hold = 0.6
    settings = _settings(redis_url, prefix="crawler:three") | {"CONCURRENT_REQUESTS_PER_DOMAIN": 2}
    go = tmp_path / "go"
    workers = [tmp_path / f"w{i}.json" for i in range(3)]
    processes = [
        start_worker(site.url, pages=4, tag=f"w{i}", stats=path, settings=settings, go=go)
        for i, path in enumerate(workers)
    ]
    try:
        _wait_ready(workers, processes)
        go.touch()
        stats = _finish(processes, workers)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    hits = sorted(site.hits, key=lambda hit: hit.start)
    assert len(hits) == 12
    spans = [
        (min(h.start for h in mine), max(h.start for h in mine))
        for mine in map(site.hits_of, ("w0", "w1", "w2"))
    ]
    # The workers ran at the same time (else the limits would hold by themselves).
    assert max(first for first, _ in spans) < min(last for _, last in spans)
    assert max(hit.concurrent for hit in hits) == 2
    gaps = [b.start - a.start for a, b in itertools.pairwise(hits)]
    assert min(gaps) >= 0.2 - 0.02, gaps
    assert all(s["crawler/shared_politeness/leases"] == 5 for s in stats)  # robots.txt too
    assert sum(s.get("crawler/shared_politeness/waits", 0) for s in stats) >= 8


def test_killed_worker_frees_its_places(
    redis_url: str, redis_server: RedisServer, site: RecordingSite, tmp_path: Path
) -> None:
    """A worker holding both places of the host is SIGKILLed: the other worker
    waits while it lives (its leases renewed past their 2 s), then starts within
    the lease time after the kill."""
    settings = _settings(redis_url, prefix="crawler:kill", lease=2) | {
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
        "ROBOTSTXT_OBEY": False,
    }
    stuck, other = tmp_path / "stuck.json", tmp_path / "other.json"
    go_stuck, go_other = tmp_path / "go-stuck", tmp_path / "go-other"
    processes = [
        start_worker(
            site.url,
            pages=2,
            tag="stuck",
            stats=stuck,
            settings=settings,
            query="?hold=60",
            go=go_stuck,
        ),
        start_worker(site.url, pages=3, tag="other", stats=other, settings=settings, go=go_other),
    ]
    try:
        _wait_ready([stuck, other], processes)
        go_stuck.touch()
        deadline = time.monotonic() + 30
        while len(site.hits_of("stuck")) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        go_other.touch()
        time.sleep(3)  # longer than a lease: the living worker renews its leases
        assert site.hits_of("other") == []
        leases = redis_server.client().zcard(f"crawler:kill:politeness:{HOST}:leases")
        assert leases == 2
        processes[0].kill()
        killed = time.monotonic()
        processes[0].wait()
        (other_stats,) = _finish(processes[1:], [other])
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    first = min(hit.start for hit in site.hits_of("other"))
    # Renewed every 2/3 s: its leases had between 4/3 and 2 s left when it died.
    assert 1.2 <= first - killed <= 2 + 1.0
    assert len(site.hits_of("other")) == 3
    assert other_stats["crawler/shared_politeness/waits"] >= 1
