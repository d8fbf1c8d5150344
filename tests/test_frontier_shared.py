"""The Redis side of a shared crawl (:mod:`crawler.frontier.shared`) against a real
``redis-server``: leases, dead workers, the last worker, the run's id."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING

import pytest
import redis
from scrapy.statscollectors import StatsCollector
from scrapy.utils.test import get_crawler

from crawler.frontier.outage import Outage
from crawler.frontier.shared import (
    CRAWLS_KEY,
    DEAD,
    FINISHED,
    FINISHED_TTL,
    RUNNING,
    STARTING,
    SharedCrawl,
    connect,
    crawl_status,
    crawl_statuses,
    running_crawls,
    shareable_settings,
    store_without_password,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.redisserver import RedisServer

PREFIX = "crawler:abc123"


def worker(redis_url: str, name: str, lease_timeout: float = 30.0) -> SharedCrawl:
    return SharedCrawl(redis.Redis.from_url(redis_url), PREFIX, name, lease_timeout)


def pop_many(shared: SharedCrawl, count: int) -> list[tuple[str, bytes]]:
    """The ``count`` best queued requests, leased to ``shared``'s worker (one script)."""
    return shared.queue_many((), count)[1]


def pop(shared: SharedCrawl) -> tuple[str, bytes] | None:
    """The best queued request, leased to ``shared``'s worker, or ``None``."""
    popped = pop_many(shared, 1)
    return popped[0] if popped else None


@contextlib.contextmanager
def beating(shared: SharedCrawl, interval: float = 0.05) -> Iterator[None]:
    """``shared``'s heartbeat renewed every ``interval`` seconds, in a thread, as a
    live worker's scheduler does."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            shared.heartbeat()

    thread = threading.Thread(target=beat)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_a_pop_is_a_lease_until_released(redis_url: str) -> None:
    a = worker(redis_url, "a")
    a.join()
    a.client.zadd(a.queue_key, {b"late": 0, b"first": -10})  # score: minus the priority
    field, data = pop(a) or ("", b"")
    assert data == b"first"
    assert a.poll([]) == (1, 1, 0, [])  # one queued, one leased
    a.release([field])
    assert a.poll([]) == (1, 0, 0, [])


def test_pops_of_several_requests_lease_each_best_first(redis_url: str) -> None:
    a = worker(redis_url, "a")
    a.join()
    a.client.zadd(a.queue_key, {b"r1": -5, b"r2": 0, b"r3": 1})
    popped = pop_many(a, 2)
    assert [data for _, data in popped] == [b"r1", b"r2"]
    assert a.poll([]) == (1, 2, 0, [])
    assert [data for _, data in pop_many(a, 5)] == [b"r3"]
    assert pop_many(a, 5) == []
    a.release(field for field, _ in popped)
    assert a.poll([]) == (0, 1, 0, [])


def test_new_requests_are_checked_and_queued_at_once(redis_url: str) -> None:
    a = worker(redis_url, "a")
    added, popped = a.queue_many(
        [
            (b"fp1", -3, b"r1", False),
            (b"fp1", 0, b"r1 again", False),  # seen: not queued
            (b"fp1", 0, b"redirected", True),  # seen, queued anyway
            (None, 5, b"unfiltered", False),  # dont_filter: no fingerprint, queued
        ]
    )
    assert added == [True, False, False, True]
    assert popped == []
    assert a.client.smembers(a.key("seen")) == {b"fp1"}
    assert a.client.zrange(a.queue_key, 0, -1, withscores=True) == [
        (b"r1", -3.0),
        (b"redirected", 0.0),
        (b"unfiltered", 5.0),
    ]


def test_a_dead_workers_leases_go_back_to_the_queue(redis_url: str) -> None:
    dying, survivor = worker(redis_url, "dying", lease_timeout=0.2), worker(redis_url, "b")
    dying.join()
    survivor.join()
    dying.client.zadd(dying.queue_key, {b"r1": -5, b"r2": 0})
    assert pop(dying) is not None and pop(dying) is not None
    assert survivor.poll([]) == (0, 2, 0, [])  # alive: its leases count as in flight
    time.sleep(0.3)  # no heartbeat: its liveness key expires
    assert survivor.poll([]) == (2, 0, 2, ["dying"])
    # with their priorities
    assert survivor.client.zrange(survivor.queue_key, 0, -1, withscores=True) == [
        (b"r1", -5.0),
        (b"r2", 0.0),
    ]


def test_only_the_last_worker_gets_the_stats_and_the_keys_go(redis_url: str) -> None:
    a, b = worker(redis_url, "a"), worker(redis_url, "b")
    a.publish({"options": 1})
    a.join()
    b.join()
    b.client.zadd(b.queue_key, {b"r": 0})
    pop(b)
    with beating(b):  # alive: a does not wait for it to close
        started = time.monotonic()
        assert a.close({"pages": 1}) is None
        assert time.monotonic() - started < 2
    assert b.client.zcard(b.queue_key) == 0
    everyone = b.close({"pages": 2})  # its lease goes back, then the crawl is done
    assert everyone == {"a": {"pages": 1}, "b": {"pages": 2}}
    assert sorted(a.client.keys(f"{PREFIX}:*")) == [
        f"{PREFIX}:{name}".encode() for name in ("finished", "meta")
    ]
    assert a.state() == "finished"
    late = worker(redis_url, "late")
    assert not late.join()  # a finished crawl is not joined
    assert late.close({"pages": 0}) is None
    assert b"stats" not in b"".join(a.client.keys(f"{PREFIX}:*"))


def test_a_closing_worker_waits_for_a_dead_one_and_finishes(redis_url: str) -> None:
    """Killed, a worker stays active until its liveness key expires: the worker that
    closes then waits for that (not for the other's own lease timeout: its key's),
    puts back what it held and is the last."""
    a, dead = worker(redis_url, "a"), worker(redis_url, "dead", lease_timeout=0.5)
    a.publish({"options": 1})
    a.join()
    dead.join()
    dead.publish_stats({"pages": 3})
    dead.client.zadd(dead.queue_key, {b"r": 0})
    pop(dead)
    started = time.monotonic()
    everyone = a.close({"pages": 1})
    assert 0.3 < time.monotonic() - started < 2.5
    assert everyone == {"a": {"pages": 1}, "dead": {"pages": 3}}
    assert sorted(a.client.keys(f"{PREFIX}:*")) == [
        f"{PREFIX}:{name}".encode() for name in ("finished", "meta")
    ]


def test_one_run_for_every_worker(redis_url: str) -> None:
    created = []

    def create() -> int:
        created.append(1)
        return 42

    a, b = worker(redis_url, "a"), worker(redis_url, "b")
    assert a.claim_run(create) == 42
    assert b.claim_run(create) == 42
    assert created == [1]


def test_what_workers_may_read() -> None:
    shared = shareable_settings(
        {"HTTPAUTH_PASS": "x", "API_TOKEN": "y", "CRAWLER_COOKIES_FILE": "c.txt", "FEEDS": {}}
    )
    assert shared == {"CRAWLER_COOKIES_FILE": "c.txt"}
    assert store_without_password("postgresql://u:pw@db:5433/c") == "postgresql://u@db:5433/c"
    assert store_without_password("postgresql://u@db/c") == "postgresql://u@db/c"


def test_an_outage_is_logged_once_then_every_ten_seconds_and_gives_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    stats = StatsCollector(get_crawler())
    outage = Outage("redis://:pw-secret@127.0.0.1:1/0", 25.0, stats, clock=lambda: now[0])
    refused = redis.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    def outage_records() -> list[logging.LogRecord]:  # not Scrapy's, made by get_crawler()
        return [r for r in caplog.records if r.name == "crawler.frontier.outage"]

    with caplog.at_level(logging.WARNING, logger="crawler.frontier.outage"):
        for _ in range(50):  # 5 s of polls
            assert not outage.failed(refused)
            now[0] += 0.1
        assert len(outage_records()) == 1
        now[0] += 6  # 11 s
        assert not outage.failed(refused)
        assert len(outage_records()) == 2
        now[0] += 15  # 26 s
        assert outage.failed(refused)  # time to give up
        outage.ended()
        assert outage.seconds == 0.0
        assert not outage.failed(refused)  # a new outage
    assert len(outage_records()) == 5  # start, 11 s, 26 s, end, start again
    assert all("pw-secret" not in r.getMessage() for r in outage_records())
    assert stats.get_value("frontier/redis_errors") == 53
    assert stats.get_value("frontier/outages") == 2


def test_a_pop_given_up_on_that_redis_runs_later_is_queued_again(
    redis_url: str, redis_server: RedisServer
) -> None:
    """A pop that timed out against a hung Redis (SIGSTOP) was sent: Redis runs it
    when it resumes, leasing a request the worker never got, which no one would
    queue again while the worker lives.  requeue_unknown puts it back, and keeps
    the leases the worker holds."""
    a = SharedCrawl(connect(redis_url, timeout=0.5), PREFIX, "a")
    a.join()
    a.client.zadd(a.queue_key, {b"held": -10, b"lost": 0})
    [(held, _)] = pop_many(a, 1)
    redis_server.freeze()
    try:
        with pytest.raises(redis.TimeoutError):
            pop_many(a, 1)
    finally:
        redis_server.thaw()
    check = redis_server.client()
    deadline = time.monotonic() + 10
    while check.hlen(a.lease_key) < 2:  # the pop runs once Redis resumes
        assert time.monotonic() < deadline, "the pop never ran"
        time.sleep(0.02)
    assert check.zcard(a.queue_key) == 0
    assert a.requeue_unknown([held]) == 1
    assert check.zrange(a.queue_key, 0, -1) == [b"lost"]
    assert check.hkeys(a.lease_key) == [held.encode()]


def crawl_keys(client: redis.Redis) -> dict[str, int]:
    """The keys of the crawl :data:`PREFIX` (their names after it) and their time to
    live in milliseconds (``-1``: none)."""
    return {
        k.decode().removeprefix(f"{PREFIX}:"): int(client.pttl(k))
        for k in client.keys(f"{PREFIX}:*")
    }


def test_a_crawl_whose_workers_all_died_is_dead_and_its_keys_expire(redis_url: str) -> None:
    """Nothing cleans up after a crawl whose only worker was killed: its keys expire
    ``CRAWLER_FRONTIER_KEY_TTL`` after the worker's last stats publication (1 s
    here), and the list of crawls forgets it once its ``meta`` is gone."""
    a = SharedCrawl(redis.Redis.from_url(redis_url), PREFIX, "a", lease_timeout=0.3, key_ttl=1.5)
    client = a.client
    a.publish({"spider": "site"})
    assert crawl_status(client, "abc123") == STARTING  # published, nobody yet
    assert running_crawls(client) == ["abc123"]
    a.join()
    a.queue_many([(b"f" * 20, 0, b"first", False)])
    a.mark_seeded()
    a.queue_many([(b"g" * 20, 0, b"second", False)])
    pop(a)
    a.claim_run(lambda: 7)
    assert crawl_status(client, "abc123") == RUNNING
    a.publish_stats({"response_received_count": 1})  # every 2 s while it runs
    ttls = crawl_keys(client)
    assert set(ttls) == {
        "meta", "requests", "seen", "stats", "lease_seq", "lease:a", "run_claim", "workers",
        "active", "alive:a",
    }  # fmt: skip
    assert all(0 < ttl <= 1500 for ttl in ttls.values()), ttls
    # Killed: no close.  Its liveness key expires first: dead, not listed.
    time.sleep(0.4)
    assert crawl_status(client, "abc123") == DEAD
    assert running_crawls(client) == []
    assert crawl_statuses(client) == {"abc123": DEAD}
    time.sleep(1.2)
    assert crawl_keys(client) == {}
    assert crawl_statuses(client) == {}
    assert client.smembers(CRAWLS_KEY) == set()  # pruned


def test_a_live_worker_keeps_its_crawl_and_a_finished_one_keeps_a_week(redis_url: str) -> None:
    a = SharedCrawl(redis.Redis.from_url(redis_url), PREFIX, "a", key_ttl=1.0)
    client = a.client
    a.publish({"spider": "site"})
    a.join()
    a.queue_many([(b"f" * 20, 0, b"first", False)])
    a.mark_seeded()
    for _ in range(4):  # 2 s: longer than the keys' time to live, renewed
        a.publish_stats({})
        time.sleep(0.5)
    assert {"meta", "requests", "seen"} <= set(crawl_keys(client))
    assert crawl_status(client, "abc123") == RUNNING
    assert a.close({}) is not None  # the last worker: the crawl finished
    a.publish_stats({})  # late: keeps nothing, shortens nothing
    ttls = crawl_keys(client)
    assert set(ttls) == {"meta", "finished"}
    assert all(FINISHED_TTL * 1000 - 60_000 < ttl <= FINISHED_TTL * 1000 for ttl in ttls.values())
    assert crawl_status(client, "abc123") == FINISHED
    assert running_crawls(client) == []


def test_a_crawl_published_long_ago_that_nobody_joined_is_dead(redis_url: str) -> None:
    """Its starter died before it joined (or the crawl is older than ``published``)."""
    a = worker(redis_url, "a")
    a.publish({"spider": "site"})
    assert crawl_status(a.client, "abc123") == STARTING
    time.sleep(0.1)
    assert crawl_status(a.client, "abc123", start_grace=0.05) == DEAD
    a.client.hdel(a.key("meta"), "published")
    assert crawl_status(a.client, "abc123") == DEAD
