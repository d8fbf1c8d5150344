"""The shared frontier's blocking Redis round trips (issue 13, round 3): a page's new
links are queued in one, and nothing is lost or crawled twice for it.

The first tests run one scheduler in a child process
(:mod:`tests.roundtriptools`), its round trips counted by a proxy; the last runs
two crawler processes whose Redis is 1 ms away (:class:`tests.redisproxy.DelayProxy`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from crawler.storage.sql import SqlStore
from fixtures.tinysite.catalog import CatalogApp
from fixtures.tinysite.server import TinySite
from tests.crawltools import subprocess_env
from tests.redisproxy import DelayProxy

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.redisserver import RedisServer

SIZE = 40  # catalog items
FAST = [
    "-s", "CRAWLER_FRONTIER_IDLE_TIMEOUT=1",
    "-s", "CRAWLER_FRONTIER_POLL_INTERVAL=0.1",
    "-s", "CRAWLER_FRONTIER_LEASE_TIMEOUT=2",
    "-s", "CRAWLER_STORE_FLUSH_INTERVAL=0.2",
    "-s", "CONCURRENT_REQUESTS=2",
]  # fmt: skip


def scenario(name: str) -> dict[str, Any]:
    """What ``python -m tests.roundtriptools name`` measured."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.roundtriptools", name],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.splitlines()[-1]))


def test_a_page_s_new_links_are_queued_in_one_round_trip() -> None:
    result = scenario("links")
    assert result["enqueue_trips"] == 0  # enqueue_request buffers
    assert result["flush_trips"] == 1  # the end of the turn: the 30 in one script
    assert result["queued"] == 30
    # 30 more and the engine's next pop in one turn: queued and popped in one
    assert result["page_trips"] == 1
    assert result["popped"]
    # duplicates found by the flush are filtered as the duplicate filter does;
    # a dont_filter request is queued all the same
    assert result["duplicates_queued"] == 2
    assert result["filtered"] == 1
    assert result["enqueued_stat"] == 1 + 60 + 2
    # a poll (every 0.1 s) is one round trip, plus the stats and the reclaim every 2 s
    polls = result["idle_seconds"] / 0.1 + 1
    assert result["idle_trips"] <= polls + 4, result


def test_new_requests_wait_the_flush_delay_and_go_together() -> None:
    result = scenario("delayed")
    assert result["early_trips"] == 0  # two turns of new requests, within the delay
    assert result["delayed_trips"] == 1  # the 20 in one script
    assert result["queued"] == 20


def test_requests_buffered_when_redis_stops_are_queued_once_it_is_back() -> None:
    result = scenario("outage")
    assert result["pending_down"] == 5  # still in this worker (__len__)
    assert result["redis_errors"] >= 1
    assert result["queued"] == 5  # the poll that reached Redis again queued them
    assert result["enqueued_stat"] == 5
    assert result["lost"] == 0


def test_a_queue_emptied_by_a_flush_is_not_a_finished_crawl() -> None:
    """An empty shared queue is also what a Redis that restarted empty (or was
    flushed) shows.  The crawl's keys were checked only with the stats, every 2 s:
    a worker reaching its idle timeout before that closed the lost crawl as
    ``finished`` (a CI run saw it).  The idle decision now checks them first."""
    result = scenario("flushed")
    assert result == {"done": False, "gave_up": True, "error": "Redis lost the crawl's keys"}


@pytest.fixture
def site() -> Iterator[TinySite]:
    with TinySite(apps=[CatalogApp(size=SIZE)]) as served:
        yield served


def test_two_processes_with_redis_1_ms_away_crawl_every_page_once(
    site: TinySite, redis_server: RedisServer, redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    cli = [sys.executable, "-m", "crawler.cli"]
    path = "/catalog/?delay=150"
    with DelayProxy(redis_server.port, 0.0005) as proxy:
        processes = [
            subprocess.Popen(
                [*cli, "worker", proxy.url(), "--wait", "60", *FAST],
                cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True,
            ),
            subprocess.Popen(
                [*cli, "crawl", site.url(path), "--frontier", proxy.url(),
                 "--store", postgres_url, "--progress", "off", *FAST],
                cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True,
            ),
        ]  # fmt: skip
        try:
            results = [p.communicate(timeout=120) for p in processes]
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
    for process, (_, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err[-3000:]
    served = Counter(r.target for r in site.requests_seen)
    pages = {f"/catalog/item/{n}.html?delay=150" for n in range(SIZE)} | {path}
    assert {p: served[p] for p in pages} == dict.fromkeys(pages, 1)  # each fetched once
    store = SqlStore.open(postgres_url, create=False)
    try:
        [run] = store.runs()
    finally:
        store.close()
    assert run["finish_reason"] == "finished"
    stats = run["stats"]
    assert isinstance(stats, dict)
    by_worker = stats["frontier/responses_by_worker"]
    assert len(by_worker) == 2 and all(by_worker.values()), by_worker  # both had a share
    assert proxy.round_trips > 0  # the crawl went through the proxy
