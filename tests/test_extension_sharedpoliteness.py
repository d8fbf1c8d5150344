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
import os
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import Spider
from scrapy.core.downloader import Slot
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.browser.politeness import NavigationGate, Ticket
from crawler.default_settings import CRAWLER_FRONTIER_SOCKET_TIMEOUT
from crawler.extensions import sharedpoliteness
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
        # crawler.settings's default (get_crawler gives Scrapy's defaults only)
        "CRAWLER_FRONTIER_SOCKET_TIMEOUT": CRAWLER_FRONTIER_SOCKET_TIMEOUT,
        "DOWNLOADER": "crawler.downloader.SlotReservingDownloader",
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


def test_warns_when_plain_downloads_cannot_take_part(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        _worker(_settings("redis://127.0.0.1:1/0"))
    assert not caplog.records
    with caplog.at_level(logging.WARNING):
        _worker(
            _settings("redis://127.0.0.1:1/0") | {"DOWNLOADER": "scrapy.core.downloader.Downloader"}
        )
    assert "DOWNLOADER is scrapy.core.downloader.Downloader" in caplog.text


def test_concurrency_and_delay_across_two_workers(redis_url: str) -> None:
    one, two = _worker(_settings(redis_url)), _worker(_settings(redis_url))
    slot = Slot(concurrency=2, delay=0.0, jitter=0.0)

    async def scenario() -> tuple[bool, float, float]:
        held = [await one.acquire(HOST, slot), await two.acquire(HOST, slot)]
        third = asyncio.ensure_future(two.acquire(HOST, slot))
        await asyncio.sleep(0.3)
        full = third.done()  # two leases held by two workers: the slot is full
        other_host = await asyncio.wait_for(two.acquire("localhost", slot), 5)  # not full
        await two.release(other_host)
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


def test_a_place_given_back_goes_with_the_next_ask_or_soon(
    redis_url: str, redis_server: RedisServer
) -> None:
    """A release is not a round trip of its own: the slot's next ask removes it in
    Redis (so it is granted at once), else a pipelined removal within RELEASE_DELAY."""
    one = _worker(_settings(redis_url))
    slot = Slot(concurrency=1, delay=0.0, jitter=0.0)
    key = f"crawler:test:politeness:{HOST}:leases"
    client = redis_server.client()

    async def scenario() -> tuple[list[bytes], str, int]:
        first = await one.acquire(HOST, slot)
        await one.release(first)
        again = await one.acquire(HOST, slot)  # the slot's one place: given back above
        assert again is not None
        held = client.zrange(key, 0, -1)
        await one.release(again)
        await asyncio.sleep(0.2)  # no more asks: removed on its own
        left = client.zcard(key)
        await one.spider_closed()
        return held, again.id, left

    client.config_resetstat()
    held, again, left = asyncio.run(scenario())
    assert held == [again.encode()]
    assert left == 0
    assert one.crawler.stats.get_value("crawler/shared_politeness/waits") is None
    assert one.crawler.stats.get_value("crawler/shared_politeness/leases") == 2
    assert "cmdstat_zrem" in client.info("commandstats")


def test_a_place_given_back_while_the_slot_has_room_waits_longer_for_an_ask(
    redis_url: str, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the slot had room for the other workers at the last grant (places left
    outnumber those given back), a place given back waits ROOMY_RELEASE_DELAY (here
    1 s) for the slot's next ask; on a slot that was full, RELEASE_DELAY."""
    monkeypatch.setattr(sharedpoliteness, "ROOMY_RELEASE_DELAY", 1.0)
    one = _worker(_settings(redis_url))
    client = redis_server.client()

    def held(host: str) -> int:
        return int(client.zcard(f"crawler:test:politeness:{host}:leases"))

    async def scenario() -> list[int]:
        seen = []
        lease = await one.acquire(HOST, Slot(concurrency=4, delay=0.0, jitter=0.0))
        await one.release(lease)  # 3 places left for the others
        await asyncio.sleep(0.3)
        seen.append(held(HOST))  # still counted: it waits for an ask
        await asyncio.sleep(1.0)
        seen.append(held(HOST))  # removed on its own
        lease = await one.acquire("full", Slot(concurrency=1, delay=0.0, jitter=0.0))
        await one.release(lease)  # the slot was full
        await asyncio.sleep(0.3)
        seen.append(held("full"))
        await one.spider_closed()
        return seen

    assert asyncio.run(scenario()) == [1, 0, 0]


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
        assert await worker.acquire(HOST, slot) is None  # within the outage: not asked
        await worker.spider_closed()

    with caplog.at_level(logging.WARNING):
        asyncio.run(scenario())
    assert worker.crawler.stats.get_value("crawler/shared_politeness/redis_errors") == 1
    assert worker.crawler.stats.get_value("crawler/shared_politeness/unasked") == 1
    warnings = [r for r in caplog.records if "Shared politeness: Redis failed" in r.getMessage()]
    assert len(warnings) == 1  # once


def test_each_outage_is_warned_once_and_its_end_said(
    redis_url: str, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis killed, back, killed again: one warning per outage, not one per crawl
    (the second was silent), and a line when it answers again, as the frontier's
    own outages (crawler.frontier.outage).  The outage ends at the first ask that
    works: a probe, one socket timeout after the last failure."""
    probe_interval = 0.5
    worker = _worker({**_settings(redis_url), "CRAWLER_FRONTIER_SOCKET_TIMEOUT": probe_interval})
    slot = Slot(concurrency=1, delay=0.0, jitter=0.0)

    async def scenario() -> None:
        try:
            for _ in range(2):
                lease = await worker.acquire(HOST, slot)
                assert lease is not None
                await worker.release(lease)
                redis_server.kill()
                assert await worker.acquire(HOST, slot) is None  # refused: the outage begins
                assert await worker.acquire(HOST, slot) is None  # not asked
                redis_server.start()
                await asyncio.sleep(probe_interval)  # the next ask is a probe
            assert await worker.acquire(HOST, slot) is not None
        finally:
            if redis_server.process is None or redis_server.process.poll() is not None:
                redis_server.start()
            await worker.spider_closed()

    with caplog.at_level(logging.WARNING):
        asyncio.run(scenario())
    said = [r.getMessage() for r in caplog.records if r.name.endswith("sharedpoliteness")]
    failed = [m for m in said if "Shared politeness: Redis failed" in m]
    back = [m for m in said if "Shared politeness: Redis answers again" in m]
    assert len(failed) == 2 and len(back) == 2, said
    assert worker.crawler.stats.get_value("crawler/shared_politeness/outages") == 2


def test_a_frozen_redis_fails_an_ask_within_the_socket_timeout_then_asks_go_ahead(
    redis_url: str, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A hung Redis (SIGSTOP: connections accepted, no answer) fails a download's
    ask (asyncio client) after CRAWLER_FRONTIER_SOCKET_TIMEOUT, not retried: it goes
    ahead, counted (before, it waited 10 s).  Then, the outage begun, downloads and
    navigations go ahead at once without asking (before, each waited the socket
    timeout in turn), except one probe per socket timeout, which waits it: here a
    render's navigation turn (the browser thread's client).  Once Redis answers, the
    next probe gets a lease and ends the outage."""
    timeout = 1.0
    worker = _worker({**_settings(redis_url), "CRAWLER_FRONTIER_SOCKET_TIMEOUT": timeout})
    slot = Slot(concurrency=1, delay=0.0, jitter=0.0)
    stats = worker.crawler.stats
    took: dict[str, float] = {}

    def since(started: float) -> float:
        return time.monotonic() - started

    async def scenario() -> None:
        await worker.release(await worker.acquire(HOST, slot))  # connected
        redis_server.freeze()
        try:
            started = time.monotonic()
            assert await worker.acquire(HOST, slot) is None
            took["first ask"] = since(started)
            started = time.monotonic()
            for _ in range(5):
                assert await worker.acquire(HOST, slot) is None
            await asyncio.to_thread(worker.navigation_turn, HOST, 0.0)  # a browser thread
            took["5 asks and a navigation"] = since(started)
            assert stats.get_value("crawler/shared_politeness/unasked") == 6
            assert stats.get_value("crawler/shared_politeness/redis_errors") == 1
            await asyncio.sleep(timeout)
            started = time.monotonic()
            await asyncio.to_thread(worker.navigation_turn, HOST, 0.0)  # the probe
            took["probe"] = since(started)
            assert stats.get_value("crawler/shared_politeness/redis_errors") == 2
            started = time.monotonic()
            assert await worker.acquire(HOST, slot) is None  # the probe just failed
            took["ask after the probe"] = since(started)
        finally:
            redis_server.thaw()
        await asyncio.sleep(timeout)
        # Redis answers again, and ran the asks given up on: the lease one granted then
        # (to no one) goes with this ask, instead of holding the slot for 15 s.
        started = time.monotonic()
        assert await worker.acquire(HOST, slot) is not None
        took["probe, Redis back"] = since(started)
        await worker.spider_closed()

    with caplog.at_level(logging.WARNING):
        asyncio.run(scenario())
    assert timeout - 0.1 <= took["first ask"] < timeout + 1.5, took
    assert timeout - 0.1 <= took["probe"] < timeout + 1.5, took
    assert took["5 asks and a navigation"] < 0.2 and took["ask after the probe"] < 0.1, took
    assert took["probe, Redis back"] < 0.5, took
    assert stats.get_value("crawler/shared_politeness/unasked") == 7
    assert stats.get_value("crawler/shared_politeness/outages") == 1
    assert "Shared politeness: Redis answers again" in caplog.text


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
        went = time.monotonic()
        stats = _finish(processes, workers)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    hits = sorted(site.hits, key=lambda hit: hit.start)
    assert len(hits) == 12
    # All three had opened their spiders and were waiting for `go` (the ready
    # files): on their own, each would have sent its first 2 pages at once.
    assert min(hit.start for hit in hits) > went
    assert max(hit.concurrent for hit in hits) == 2
    gaps = [b.start - a.start for a, b in itertools.pairwise(hits)]
    # Spaced on Redis's clock when granted; a worker sends some time after its
    # grant (its downloader middlewares, three crawling processes on two cores:
    # 78 ms seen on a quiet machine), so the site sees gaps shorter by that.
    # Unshared, the first pages would be 0 apart.
    assert min(gaps) >= 0.2 - 0.1, gaps
    assert all(s["crawler/shared_politeness/leases"] == 5 for s in stats)  # robots.txt too
    # Counted: the workers' requests waited for each other (how often varies).
    assert sum(s.get("crawler/shared_politeness/waits", 0) for s in stats) >= 2


def test_killed_worker_frees_its_places(
    redis_url: str, redis_server: RedisServer, site: RecordingSite, tmp_path: Path
) -> None:
    """A worker process holding both places of the host is SIGKILLed: its leases
    are renewed past their 2 s while it lives, and another worker gets a place
    within the lease time after the kill, not before its leases expire."""
    settings = _settings(redis_url, prefix="crawler:kill", lease=2) | {
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
        "ROBOTSTXT_OBEY": False,
    }
    stuck, go = tmp_path / "stuck.json", tmp_path / "go"
    process = start_worker(
        site.url, pages=2, tag="stuck", stats=stuck, settings=settings, query="?hold=60", go=go
    )
    leases = f"crawler:kill:politeness:{HOST}:leases"
    try:
        _wait_ready([stuck], [process])
        go.touch()
        deadline = time.monotonic() + 30
        while len(site.hits_of("stuck")) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(2.5)  # longer than a lease: the living worker renews its leases
        assert redis_server.client().zcard(leases) == 2
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        killed = time.monotonic()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    other = _worker(settings)

    async def take_a_place() -> float:
        lease = await other.acquire(HOST, Slot(concurrency=2, delay=0.0, jitter=0.0))
        waited = time.monotonic() - killed
        assert lease is not None
        await other.spider_closed()
        return waited

    waited = asyncio.run(take_a_place())
    # Renewed every 2/3 s: its leases had up to 2 s left when it died (4/3 s or
    # more unless a renewal came late on this loaded machine); freed at once: ~0.05 s.
    assert 0.7 <= waited <= 2 + 1.0
    assert other.crawler.stats.get_value("crawler/shared_politeness/waits") == 1
    assert redis_server.client().zcard(leases) == 0  # the other's lease given back


def test_render_navigations_take_turns_across_workers(redis_url: str) -> None:
    """Renders: each worker's browser threads take the shared turn right before
    navigating (crawler.browser.politeness.NavigationGate), 0.2 s apart."""
    workers = [_worker(_settings(redis_url)) for _ in range(2)]
    begun: list[float] = []

    def browse(worker: SharedPoliteness) -> None:
        gate = NavigationGate()  # one per worker process
        for _ in range(3):
            navigation = gate.navigation(Ticket(HOST, 0.2, turn=worker.navigation_turn))
            assert navigation is not None
            navigation.begin()
            begun.append(time.monotonic())
            navigation.end(None)

    threads = [threading.Thread(target=browse, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for worker in workers:
        asyncio.run(worker.spider_closed())
    begun.sort()
    assert len(begun) == 6
    # Spaced on Redis's clock; measured here after each thread got its turn back
    # (a thread of a loaded machine can be late by some ms).  Unshared: 0 apart.
    assert min(b - a for a, b in itertools.pairwise(begun)) >= 0.2 - 0.05
    waits = [
        worker.crawler.stats.get_value("crawler/shared_politeness/waits", 0) for worker in workers
    ]
    assert sum(waits) >= 1  # the other worker's turns are waited for in Redis
