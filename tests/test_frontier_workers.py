"""A crawl shared by several processes through Redis (``--frontier``, ``crawler worker``).

Real processes, a real ``redis-server`` (``redis_url``) and a real PostgreSQL
(``postgres_url``); the catalog app of the tinysite logs every request it answers.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
from scrapy.settings import Settings
from scrapy.statscollectors import StatsCollector
from scrapy.utils.test import get_crawler

from crawler.commands.crawl import report_crawl
from crawler.commands.worker import _check_crawl_store, _crawl_to_join
from crawler.downloadermiddlewares.outcome import OutcomeMiddleware
from crawler.exceptions import ConfigError
from crawler.frontier.shared import CRAWLS_KEY, FINISHED_TTL, merge_stats
from crawler.outcome import SUCCEEDED, Criteria, rejudge
from crawler.runner import CrawlOutcome
from crawler.storage.sql import SqlStore
from fixtures.tinysite.catalog import CatalogApp
from fixtures.tinysite.server import TinySite
from tests.clibatch import Command, run_commands
from tests.crawltools import subprocess_env
from tests.pgserver import PostgresServer
from tests.redisserver import RedisServer

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence


SIZE = 40  # catalog items: the index, 40 items, robots.txt and the sitemap
# Short timers so that the crawls end (and a dead worker is noticed) quickly.
FAST = [
    "-s", "CRAWLER_FRONTIER_IDLE_TIMEOUT=0.5",
    "-s", "CRAWLER_FRONTIER_POLL_INTERVAL=0.1",
    "-s", "CRAWLER_FRONTIER_LEASE_TIMEOUT=2",
    "-s", "CRAWLER_STORE_FLUSH_INTERVAL=0.2",
    # Two requests at a time per process, 150 ms each: every process has a share.
    "-s", "CONCURRENT_REQUESTS=2",
    "--progress", "off",
]  # fmt: skip
SECRET = "not-for-redis-5"  # a setting whose name says secret: never written to Redis
WORKER_FAST = [a for a in FAST if a not in ("--progress", "off")]


@pytest.fixture
def site() -> Iterator[TinySite]:
    with TinySite(apps=[CatalogApp(size=SIZE)]) as served:
        yield served


def start(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=cwd,
        env=env or subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_crawl(
    site: TinySite,
    path: str,
    frontier: str,
    store: str,
    *extra: str,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """``crawler crawl`` of ``path`` on the site with ``--frontier`` and ``--store``,
    the :data:`FAST` timers and ``extra`` options."""
    return start(
        "crawl", site.url(path), "--frontier", frontier, "--store", store, *FAST, *extra,
        cwd=cwd, env=env,
    )  # fmt: skip


def join_hint(starter: subprocess.Popen[str]) -> tuple[str, list[str], list[str]]:
    """The "Shared crawl ID in ...: join it with `crawler worker ...`" line the
    starting process prints, the lines before it, and the arguments of that
    command after ``crawler``."""
    assert starter.stderr is not None
    seen = []
    for line in starter.stderr:
        seen.append(line)
        if line.startswith("Shared crawl"):
            break
    hint = seen[-1]
    assert "Shared crawl" in hint, "".join(seen)[-3000:]
    [command] = hint.split("`")[1::2]
    return hint, seen, command.split()[1:]


def wait_for(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def kill_left(*processes: subprocess.Popen[str] | None) -> None:
    """Kill (and reap) those of ``processes`` still running: a test's cleanup."""
    for process in processes:
        if process is not None and process.poll() is None:
            process.kill()
            process.communicate()


def finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    """``process``'s exit code and stderr once it ended by itself."""
    code, _, err = finish_printed(process, timeout)
    return code, err


def finish_printed(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    """``process``'s exit code, stdout and stderr once it ended by itself."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        pytest.fail(f"a crawler process did not end by itself: {err[-3000:]}")
    return process.returncode, out, err


def run_shared(
    site: TinySite,
    redis_url: str,
    postgres_url: str,
    cwd: Path,
    path: str,
    workers: int,
    worker_args: Sequence[str] = (),
    starter_args: Sequence[str] = (),
) -> tuple[subprocess.Popen[str], list[subprocess.Popen[str]]]:
    """The starting process and ``workers`` worker processes of one shared crawl
    (started first, they wait for it); ``worker_args``/``starter_args``: more options."""
    joined = [
        start("worker", redis_url, "--wait", "60", *WORKER_FAST, *worker_args, cwd=cwd)
        for _ in range(workers)
    ]
    starter = start(
        "crawl", site.url(path), "--frontier", redis_url, "--store", postgres_url,
        "-s", "HTTPAUTH_USER=someone", "-s", f"HTTPAUTH_PASS={SECRET}",
        "-s", "HTTPAUTH_DOMAIN=example.invalid", *FAST, *starter_args, cwd=cwd,
    )  # fmt: skip
    return starter, joined


def stored(postgres_url: str) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    store = SqlStore.open(postgres_url, create=False)
    try:
        runs = store.runs()
        return runs, store.pages(runs[0]["id"]) if runs else []
    finally:
        store.close()


def test_three_processes_crawl_every_page_once_into_one_run(
    site: TinySite, redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    starter, workers = run_shared(site, redis_url, postgres_url, tmp_path, "/catalog/?delay=150", 2)
    printed = [finish_printed(p) for p in (starter, *workers)]
    results = [(code, err) for code, _, err in printed]
    for code, err in results:
        assert code == 0, err[-3000:]
    served = Counter(r.target for r in site.requests_seen)
    pages = {f"/catalog/item/{n}.html?delay=150" for n in range(SIZE)} | {"/catalog/?delay=150"}
    assert {p: served[p] for p in pages} == dict.fromkeys(pages, 1)  # each fetched once
    [run], rows = stored(postgres_url)
    assert {urlsplit(str(r["url"])).path + "?delay=150" for r in rows} >= pages
    assert run["finish_reason"] == "finished"
    stats = run["stats"]
    assert isinstance(stats, dict)
    assert stats["frontier/workers"] == 3
    assert stats["response_received_count"] == sum(served.values())
    # links to pages that went through the shared duplicate filter were dropped
    # before their request was built (crawler.scheduledurls), and counted as filtered
    assert 0 < stats["crawler/links/already_scheduled"] <= stats["dupefilter/filtered"]
    # every process fetched pages (the queue was shared, not crawled by the first alone)
    assert sum("This worker is done" in err for _, err in results) == 2
    by_worker = stats["frontier/responses_by_worker"]
    assert len(by_worker) == 3
    assert all(by_worker.values()), by_worker  # every process crawled a share
    client = redis.Redis.from_url(redis_url)
    assert client.keys("crawler:*:requests") == []  # the last worker cleared the crawl
    [meta] = client.keys("crawler:*:meta")
    options = client.hget(meta, "options")
    assert options and b"HTTPAUTH_PASS" not in options and SECRET.encode() not in options
    crawl_id = meta.decode().split(":")[1]
    assert stats["frontier/crawl_id"] == crawl_id  # the run's stats name the crawl
    # The run is judged once, on every worker's counts; its id is not summed
    assert stats["store/run_id"] == run["id"]
    assert stats["outcome/status"] == "succeeded", stats
    assert stats["outcome/pages"] == len(rows)
    [(_, summary, last_err)] = [p for p in printed if "This worker is done" not in p[2]]
    assert f"Run {run['id']} of site from {site.url('/catalog/?delay=150')}: " in summary
    assert "error:" not in last_err, last_err[-3000:]
    listed = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "runs", "--store", postgres_url],
        cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    [line] = [ln for ln in listed.splitlines() if ln.split()[:1] == [str(run["id"])]]
    assert " succeeded " in line and f" {len(rows)} " in line, listed
    late = argparse.Namespace(redis_url=redis_url, crawl=crawl_id)
    with pytest.raises(ConfigError, match=f"the crawl {crawl_id} in .* has finished"):
        _crawl_to_join(client, late)


def published(client: redis.Redis, pid: int) -> dict[str, object]:
    """The stats the worker process ``pid`` last published to Redis (``{}``: none yet)."""
    for key in client.keys("crawler:*:stats"):
        for worker, raw in client.hgetall(key).items():
            if f"-{pid}-" in worker.decode():
                return dict(json.loads(raw))
    return {}


def crawled_and_leasing(client: redis.Redis, pid: int) -> bool:
    """Whether the worker process ``pid`` has crawled pages (2 or more responses, its
    rows perhaps in its store's buffer) and holds leased requests."""
    crawled = int(published(client, pid).get("response_received_count", 0)) >= 2
    return crawled and any(client.hlen(k) for k in client.keys(f"crawler:*:lease:*-{pid}-*"))


def assert_every_page_stored_once(postgres_url: str, size: int = SIZE) -> dict[str, object]:
    """The run finished with every page of a catalog of ``size`` items in it, once;
    the run's row."""
    [run], rows = stored(postgres_url)
    paths = Counter(urlsplit(str(r["url"])).path for r in rows)
    items = {f"/catalog/item/{n}.html" for n in range(size)}
    assert {p: paths[p] for p in items} == dict.fromkeys(items, 1)
    assert run["finish_reason"] == "finished"
    assert isinstance(run["stats"], dict)
    return run


def test_a_killed_worker_loses_nothing(
    site: TinySite, redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    """Its pages crawled but not committed yet (the store's default batch of 1,000 rows,
    flushed every 30 s here) keep their leases: they are crawled again."""
    client = redis.Redis.from_url(redis_url)
    survivor, [victim] = run_shared(
        site, redis_url, postgres_url, tmp_path, "/catalog/?delay=400", 1,
        worker_args=["-s", "CRAWLER_STORE_FLUSH_INTERVAL=30"],
    )  # fmt: skip
    # The victim has crawled pages (their rows in its buffer) and holds leased requests.
    wait_for(lambda: crawled_and_leasing(client, victim.pid))
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    code, err = finish(survivor)
    assert code == 0, err[-3000:]
    run = assert_every_page_stored_once(postgres_url)
    assert run["stats"]["frontier/requeued"] >= 1  # type: ignore[index]


def test_a_killed_starter_leaves_the_run_to_the_last_worker(
    site: TinySite, redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    """The starter, SIGKILLed with nothing leased, is still counted alive (its key
    lives 8 s) when the worker closes: the worker waits for the key to expire, then
    finishes the run as the last worker."""
    client = redis.Redis.from_url(redis_url)
    starter, [worker] = run_shared(
        site, redis_url, postgres_url, tmp_path, "/catalog/?delay=400", 1,
        # the worker's leases outlive its pages by up to 3 s (its store's flush)
        worker_args=["-s", "CRAWLER_STORE_FLUSH_INTERVAL=3"],
        starter_args=["-s", "CRAWLER_FRONTIER_LEASE_TIMEOUT=8"],
    )  # fmt: skip

    def leased(pid: int) -> int:
        return sum(int(client.hlen(k)) for k in client.keys(f"crawler:*:lease:*-{pid}-*"))

    # The end of the crawl: nothing queued, the starter holds nothing, the worker does.
    wait_for(
        lambda: (
            leased(worker.pid) > 0
            and leased(starter.pid) == 0
            and not any(client.zcard(k) for k in client.keys("crawler:*:requests"))
        )
    )
    starter.send_signal(signal.SIGKILL)
    starter.wait()
    code, err = finish(worker)
    assert code == 0, err[-3000:]
    assert "This worker is done" not in err
    run = assert_every_page_stored_once(postgres_url)
    assert run["stats"]["frontier/workers"] == 2  # type: ignore[index]
    [meta] = client.keys("crawler:*:meta")
    crawl_id = meta.decode().split(":")[1]
    left = client.keys(f"crawler:{crawl_id}:*")
    assert {k.decode().rpartition(":")[2] for k in left} <= {"meta", "finished", "run_claim"}
    assert all(0 < client.ttl(k) <= FINISHED_TTL for k in left)
    assert client.smembers(CRAWLS_KEY) == set()


def test_a_crawl_killed_with_no_other_worker_is_dead_and_its_keys_expire(
    site: TinySite, redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    """A crawl whose only process was SIGKILLed (nothing cleans up: a review saw
    `crawler worker` count it as running, then fail on it): every key it left expires
    within CRAWLER_FRONTIER_KEY_TTL; once its liveness key expired, a worker without
    --crawl does not count it (one line saying so), and a live crawl beside it is the
    one joined; a worker given --crawl ID takes the dead crawl over and finishes its
    run, every page once."""
    client = redis.Redis.from_url(redis_url)
    victim = start_crawl(site, "/catalog/?delay=400", redis_url, postgres_url, cwd=tmp_path)
    _, _, command = join_hint(victim)
    dead_id = command[command.index("--crawl") + 1]
    wait_for(lambda: crawled_and_leasing(client, victim.pid))
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    ttls = {
        k.decode().removeprefix(f"crawler:{dead_id}:"): int(client.ttl(k))
        for k in client.keys(f"crawler:{dead_id}:*")
    }
    names = {name.split(":")[0] for name in ttls}
    assert {"meta", "requests", "seen", "stats", "lease", "run_claim", "workers"} <= names
    assert all(0 < ttl <= 86400 for ttl in ttls.values()), ttls  # none stays for ever
    wait_for(lambda: not client.keys(f"crawler:{dead_id}:alive:*"), timeout=10)

    only = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "worker", redis_url],
        cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert only.returncode == 2, only.stderr
    assert only.stderr.strip().splitlines() == [
        f"error: no crawl is running in {redis_url}: nothing to join (no process works on "
        f"{dead_id} any more: take one over with --crawl ID, or start a new crawl)"
    ]

    # Eight requests at a time (the victim's two places on the host are held until
    # their shared-politeness leases expire): the rest of the crawl, 400 ms a page.
    more = ("-s", "CONCURRENT_REQUESTS=8")
    taken = start("worker", redis_url, "--crawl", dead_id, *WORKER_FAST, *more, cwd=tmp_path)
    code, err = finish(taken)
    assert code == 0, err[-3000:]
    assert f"No process works on the crawl {dead_id} in {redis_url} any more" in err
    run = assert_every_page_stored_once(postgres_url)
    assert run["stats"]["frontier/requeued"] >= 1  # type: ignore[index]  # the victim's

    starter = start_crawl(site, "/catalog/?delay=150", redis_url, postgres_url, cwd=tmp_path)
    _, _, command = join_hint(starter)
    live_id = command[command.index("--crawl") + 1]
    joined = start("worker", redis_url, "--wait", "30", *WORKER_FAST, cwd=tmp_path)
    for process in (joined, starter):
        code, err = finish(process)
        assert code == 0, err[-3000:]
        if process is joined:
            assert f"Joining crawl {live_id} in {redis_url}" in err, err[-3000:]
    assert client.smembers(CRAWLS_KEY) == set()  # both finished


def test_refusals_are_one_line_and_exit_2(
    redis_url: str, postgres_url: str, tmp_path: Path, closed_port: int
) -> None:
    dead = f"redis://127.0.0.1:{closed_port}/0"
    start_url = "http://127.0.0.1:9/"
    shared = ["crawl", start_url, "--frontier", redis_url]
    wrong = redis_url.replace("redis://", "redis://crawlertest:wrong@")
    user = redis_url.replace("redis://", "redis://crawlertest@")  # the password from REDISCLI_AUTH
    cases = {
        "unreachable": (
            ["crawl", start_url, "--frontier", dead, "--store", postgres_url],
            f"error: cannot reach the frontier's Redis at {dead}",
        ),
        "sqlite": ([*shared, "--store", "sqlite:///crawl.db"], "--frontier needs a PostgreSQL"),
        "job dir": ([*shared, "--job-dir", "job"], "--frontier and --job-dir exclude each other"),
        "incremental": ([*shared, "--incremental"], "--incremental is not supported with"),
        "no crawl": (["worker", redis_url], f"no crawl is running in {redis_url}: nothing to"),
        "worker unreachable": (
            ["worker", dead],
            "error: cannot reach the frontier's Redis at redis://127.0.0.1:"
            f"{closed_port}/0 (Error 111 connecting to 127.0.0.1:{closed_port}. Connection "
            "refused): start redis-server there or give another REDIS_URL",
        ),
        "wrong password": (
            ["crawl", start_url, "--frontier", wrong, "--store", postgres_url],
            f"error: the frontier's Redis at {wrong.replace('wrong', '***')} refused the "
            "login (invalid username-password pair or user is disabled): check the "
            "password in --frontier",
        ),
        "worker wrong password": (
            ["worker", wrong],
            f"error: the frontier's Redis at {wrong.replace('wrong', '***')} refused the "
            "login (invalid username-password pair or user is disabled): check the "
            "password in REDIS_URL (or leave it out and set REDISCLI_AUTH to it)",
        ),
        "worker negative wait": (
            ["worker", redis_url, "--wait", "-1"],
            "error: crawler worker: argument --wait: takes seconds (0 or more), not '-1'",
        ),
        "worker waited": (
            ["worker", redis_url, "--wait", "0.3"],
            f"error: no crawl is running in {redis_url}: nothing to join (after waiting 0.3 s)",
        ),
        "worker database": (
            ["worker", f"{redis_url.rpartition('/')[0]}/abc"],
            "error: crawler worker: argument REDIS_URL: "
            f"{redis_url.rpartition('/')[0]}/abc: the database 'abc' is not a number",
        ),
        "frontier database": (
            [*shared[:3], f"{redis_url.rpartition('/')[0]}/abc", "--store", postgres_url],
            "argument --frontier: redis://",
        ),
        "worker no password": (["worker", user], "it needs a password: set REDISCLI_AUTH to it"),
        "env wrong password": (
            ["crawl", start_url, "--frontier", user, "--store", postgres_url],
            "check the password in REDISCLI_AUTH",
        ),
    }
    envs = {"env wrong password": {"REDISCLI_AUTH": "wrong-3c9e"}}
    client = redis.Redis.from_url(redis_url)
    client.acl_setuser("crawlertest", enabled=True, passwords=["+right"], keys="*")
    try:
        done = run_commands(
            {
                name: Command("crawler", args, cwd=tmp_path, env=envs.get(name, {}))
                for name, (args, _) in cases.items()
            },
            tmp_path,
        )
    finally:
        client.acl_deluser("crawlertest")
    for name, (_, message) in cases.items():
        assert done[name].returncode == 2, (name, done[name].stderr)
        [line] = done[name].stderr.strip().splitlines()
        assert line.startswith("error: ") and message in line, (name, line)
        assert ".:" not in line, (name, line)  # the error's own period, then the hint
        if name.startswith("worker"):  # `crawler worker` takes no --frontier
            assert "--frontier" not in line, (name, line)
        if "password" in name:  # the server is running: no use starting one
            assert "redis-server" not in line, (name, line)
        assert "wrong-3c9e" not in done[name].stderr, (name, line)
    assert redis.Redis.from_url(redis_url).keys("*") == []  # nothing was started


def tables(url: str) -> list[str]:
    """The tables of the PostgreSQL database at ``url`` (its public schema)."""
    parts = urlsplit(url)
    with psycopg.connect(
        host=parts.hostname, port=parts.port, user=parts.username, dbname=parts.path[1:]
    ) as conn:
        rows = conn.execute(
            "select table_name from information_schema.tables where table_schema = 'public'"
        ).fetchall()
    return sorted(r[0] for r in rows)


def test_a_worker_refuses_a_store_that_is_not_the_crawl_s(
    site: TinySite,
    redis_url: str,
    postgres_url: str,
    postgres_server: PostgresServer,
    tmp_path: Path,
) -> None:
    """A new user's review: a worker given another existing database created the
    tables there, crawled, failed on the run's foreign key and had the whole run
    recorded ``store_failed``.  Now it checks at join that its store holds the
    crawl's run, unfinished, of the same start URL, and otherwise refuses (one
    ``error:`` line naming both stores, passwords masked, exit 2) with nothing
    created there; the crawl goes on and succeeds."""
    empty = postgres_server.other_database("crawler_other")
    another = postgres_server.other_database("crawler_another")
    elsewhere = SqlStore.open(another)  # a store another crawl wrote to: run 1 of another site
    try:
        assert elsewhere.start_run("site", "http://elsewhere.invalid/", {}) == 1
    finally:
        elsewhere.close()
    with_password = empty.replace("postgres@", "postgres:store-pw-77e1@")
    starter = start_crawl(site, "/catalog/?delay=400", redis_url, postgres_url, cwd=tmp_path)
    try:
        worker = ["worker", redis_url, "--wait", "60", *WORKER_FAST]
        done = run_commands(
            {
                "empty": Command("crawler", [*worker, "--store", with_password], cwd=tmp_path),
                "another": Command("crawler", [*worker, "--store", another], cwd=tmp_path),
                "sqlite": Command(
                    "crawler", [*worker, "--store", "sqlite:///crawl.db"], cwd=tmp_path
                ),
            },
            tmp_path,
        )
        code, err = finish(starter)
    finally:
        kill_left(starter)
    [crawl_id] = [k.decode().split(":")[1] for k in redis.Redis.from_url(redis_url).keys("*:meta")]
    crawls = f"crawl {crawl_id}'s store {postgres_url} (run 1)"
    hint = "leave --store out or give the crawl's store as this machine reaches it"
    expected = {
        "empty": f"error: the store {empty.replace('postgres@', 'postgres:***@')} is not "
        f"{crawls}: it has no crawler tables; {hint}",
        "another": f"error: the store {another} is not {crawls}: its run 1 is of site from "
        f"http://elsewhere.invalid/; {hint}",
        "sqlite": "error: crawler worker writes to the crawl's PostgreSQL store, not "
        "sqlite:///crawl.db: leave --store out (the crawl's store) or give the crawl's "
        "store as this machine reaches it (--store postgresql://USER@HOST/DB)",
    }
    for name, line in expected.items():
        assert done[name].returncode == 2, (name, done[name].stderr[-3000:])
        assert done[name].stderr.strip().splitlines() == [line], name
        assert "store-pw-77e1" not in done[name].stderr + done[name].stdout
    assert tables(empty) == []  # nothing created in the wrong database
    assert not (tmp_path / "crawl.db").exists()
    assert code == 0, err[-3000:]
    assert "error:" not in err, err[-3000:]
    run = assert_every_page_stored_once(postgres_url)
    assert run["stats"]["frontier/workers"] == 1  # type: ignore[index]


def test_a_worker_refuses_a_crawl_whose_run_has_finished(redis_url: str, postgres_url: str) -> None:
    """The crawl's own store, its run finished while Redis still shows the crawl (a
    review: "the store X is not crawl C's store X (run 3): its run 3 has finished"):
    the line says the crawl is over, not that the store is another."""
    store = SqlStore.open(postgres_url)
    try:
        run_id = store.start_run("site", "http://example.invalid/", {})
        store.finish_run(run_id, "shutdown", {})
    finally:
        store.close()
    client = redis.Redis.from_url(redis_url)
    client.hset("crawler:c0ffee000001:meta", mapping={"run_id": run_id, "state": "running"})
    options = {
        "spider": "site",
        "spider_arguments": {"start_url": "http://example.invalid/"},
        "store": postgres_url,
    }
    settings = Settings({"CRAWLER_STORE_URL": postgres_url, "CRAWLER_STORE_TIMEOUT": 10})
    with pytest.raises(ConfigError) as refused:
        _check_crawl_store(client, "c0ffee000001", options, settings)
    assert str(refused.value) == (
        f"crawl c0ffee000001's run {run_id} in {postgres_url} has finished (shutdown): "
        "nothing to join; start a new crawl"
    )


def test_the_join_hint_says_how_to_give_the_store_s_password(
    site: TinySite,
    redis_url: str,
    postgres_url: str,
    postgres_server: PostgresServer,
    tmp_path: Path,
) -> None:
    """A new user's review: the starter's store URL had a password, the printed
    ``crawler worker`` command (rightly without it) led to ``fe_sendauth: no password
    supplied``.  The hint says how to give it (PGPASSWORD or ~/.pgpass, or --store),
    and so does the worker's error; with PGPASSWORD, that very command joins."""
    password = "pg-pw-51c0d2"
    user_url = postgres_server.password_user("crawlerpw", password)
    store = user_url.replace("crawlerpw@", f"crawlerpw:{password}@")
    starter = start_crawl(site, "/catalog/?delay=400", redis_url, store, cwd=tmp_path)
    joined: subprocess.Popen[str] | None = None
    try:
        hint, seen, command = join_hint(starter)
        assert hint.rstrip().endswith(
            "`, the store's password in PGPASSWORD or ~/.pgpass (or --store with the "
            "password in its URL)"
        ), hint
        assert command[:4] == ["worker", redis_url, "--crawl", command[3]], hint
        argv = [sys.executable, "-m", "crawler.cli", *command, *WORKER_FAST]
        refused = subprocess.run(
            argv, cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, check=False
        )
        joined = start(
            *command, *WORKER_FAST, cwd=tmp_path, env={**subprocess_env(), "PGPASSWORD": password}
        )
        code, out, err = finish_printed(starter)
        joined_code, joined_out, joined_err = finish_printed(joined)
    finally:
        kill_left(starter, joined)
    assert refused.returncode == 2, refused.stderr[-3000:]
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot open store {user_url}: "), line
    assert line.endswith(
        "fe_sendauth: no password supplied: give the store's password in PGPASSWORD or "
        "~/.pgpass (or --store with the password in its URL)"
    ), line
    assert code == 0, err[-3000:]
    assert joined_code == 0, joined_err[-3000:]
    run = assert_every_page_stored_once(postgres_url)
    assert run["stats"]["frontier/workers"] == 2  # type: ignore[index]
    said = "".join([*seen, out, err, refused.stderr, joined_out, joined_err])
    assert password not in said


def test_merged_stats_add_counts_and_span_the_workers() -> None:
    t0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
    first = {
        "start_time": t0.isoformat(),
        "finish_time": (t0 + timedelta(seconds=5)).isoformat(),
        "response_received_count": 3,
        "memusage/max": 10,
        "finish_reason": "finished",
    }
    last = {
        "start_time": t0 + timedelta(seconds=1),
        "finish_time": t0 + timedelta(seconds=9),
        "response_received_count": 4,
        "memusage/max": 7,
        "finish_reason": "shutdown",
        "store/run_id": 5,
    }
    published = {
        **last,
        "start_time": last["start_time"].isoformat(),  # type: ignore[attr-defined]
        "finish_time": last["finish_time"].isoformat(),  # type: ignore[attr-defined]
    }
    merged = merge_stats({"a": first, "b": published}, last)
    assert merged["response_received_count"] == 7  # counts add up
    assert merged["memusage/max"] == 10  # maxima do not
    assert merged["store/run_id"] == 5
    assert merged["responses_per_minute"] == 7 / (9 / 60)  # from the merged counts
    assert merged["finish_reason"] == "shutdown"  # the last worker's
    assert merged["start_time"] == t0
    assert merged["finish_time"] == t0 + timedelta(seconds=9)
    assert merged["elapsed_time_seconds"] == 9
    assert merged["frontier/workers"] == 2
    assert merged["frontier/responses_by_worker"] == {"a": 3, "b": 4}


def test_merged_stats_keep_each_process_s_facts_and_judge_the_run_once() -> None:
    """Three processes of run 1, one of which got no page: the run is run 1, and
    it succeeded (issue 13's review: ``Run 3 of None``, ``failed (no_pages)``)."""
    t0 = datetime(2026, 12, 1, 12, tzinfo=UTC)

    def worker(pages: int, seconds: int, memory: int) -> dict[str, object]:
        stats: dict[str, object] = {
            "start_time": (t0 + timedelta(seconds=seconds)).isoformat(),
            "finish_time": (t0 + timedelta(seconds=20)).isoformat(),
            "store/run_id": 1,
            "outcome/pages": pages,
            "outcome/http_errors": 0,
            "outcome/no_response": 0,
            "outcome/started_at": (t0 + timedelta(seconds=seconds)).isoformat(),
            "outcome/elapsed_seconds": 20 - seconds,
            "outcome/error_ratio": 0.0,
            "outcome/status": "succeeded" if pages else "failed",
            "memusage/startup": memory,
            "memusage/max": memory + 5,
            "request_depth_max": pages,
            "responses_per_minute": 99.0,
            "response_received_count": pages,
            "finish_reason": "finished",
        }
        if not pages:
            stats["outcome/failed/no_pages"] = 1
        return stats

    everyone = {"a": worker(10, 0, 50), "b": worker(0, 2, 70), "c": worker(5, 1, 60)}
    last = {**everyone["b"], "start_time": t0 + timedelta(seconds=2)}
    merged = merge_stats(everyone, last)
    assert merged["store/run_id"] == 1
    assert merged["outcome/pages"] == 15
    assert merged["memusage/startup"] == 70  # each process's own: the largest
    assert merged["memusage/max"] == 75
    assert merged["request_depth_max"] == 10
    assert merged["outcome/started_at"] == t0.isoformat()
    assert merged["outcome/elapsed_seconds"] == merged["elapsed_time_seconds"] == 20
    assert merged["responses_per_minute"] == 15 / (20 / 60)
    assert not [k for k in merged if k.startswith("outcome/failed/")]
    assert "outcome/status" not in merged and "outcome/error_ratio" not in merged
    collector = StatsCollector(get_crawler())
    collector.set_stats(merged)
    verdict = rejudge(collector, Criteria(), "finished")
    assert verdict.status == SUCCEEDED
    assert collector.get_value("outcome/status") == SUCCEEDED
    assert collector.get_value("outcome/error_ratio") == 0.0
    collector.set_value("outcome/failed/no_pages", 1)  # a stale verdict goes
    collector.set_value("outcome/pages", 0)
    verdict = rejudge(collector, Criteria(), "finished")
    assert [r.code for r in verdict.reasons] == ["no_pages"]


def test_a_worker_that_joined_a_finished_crawl_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The crawl finished between a worker's check at join and its scheduler's open
    (a review saw "Joining", then "has finished", then "the last worker of crawl ...
    finishes run 13"): it says there was nothing to do, and names no run to finish."""
    stats = {
        "frontier/joined_finished": True,
        "frontier/last_worker": False,
        "frontier/crawl_id": "3f2a9c1e7b40",
        "store/run_id": 13,
        "finish_reason": "finished",
    }
    settings = Settings({"CRAWLER_FRONTIER": "redis://127.0.0.1:1/0"})
    code = report_crawl(CrawlOutcome("finished", stats), settings, datetime.now(UTC))
    out, err = capsys.readouterr()
    assert code == 0
    assert out == ""
    assert err == "The crawl 3f2a9c1e7b40 finished as this worker joined it: nothing to do\n"


def test_a_worker_judges_its_own_part_without_the_run_s_thresholds() -> None:
    """A worker of a shared crawl that got no page does not log ``failed (no_pages)``:
    the run's page count is every worker's (the last one judges it)."""
    for frontier, status in (("redis://127.0.0.1:1/0", SUCCEEDED), (None, "failed")):
        crawler = get_crawler(settings_dict={"CRAWLER_FRONTIER": frontier})
        crawler.stats = StatsCollector(crawler)
        middleware = OutcomeMiddleware.from_crawler(crawler)
        middleware.spider_opened()
        middleware.spider_closed("finished")
        assert crawler.stats.get_value("outcome/status") == status, frontier


def test_redis_down_mid_crawl_stops_every_process_with_one_error_line(
    site: TinySite, redis_server: RedisServer, postgres_url: str, tmp_path: Path
) -> None:
    """Issue 13's review: Redis killed mid-crawl left every process polling forever,
    with asyncio tracebacks.  Now each gives up after the outage timeout: exit 1,
    one ``error:`` line naming the frontier, no traceback; the run is recorded failed."""
    redis_server.flush()
    url = redis_server.url
    client = redis.Redis.from_url(url)
    outage = ["-s", "CRAWLER_FRONTIER_OUTAGE_TIMEOUT=2"]
    worker = start("worker", url, "--wait", "60", *WORKER_FAST, *outage, cwd=tmp_path)
    starter = start_crawl(site, "/catalog/?delay=150", url, postgres_url, *outage, cwd=tmp_path)
    try:
        wait_for(lambda: len(client.keys("crawler:*:lease:*")) == 2)  # both crawl
        redis_server.kill()
        killed = time.monotonic()
        results = [finish_printed(p, timeout=30) for p in (starter, worker)]
        took = time.monotonic() - killed
    finally:
        kill_left(starter, worker)
        redis_server.start()
    assert took < 15, took  # 2 s of outage, then closing
    for code, _, err in results:
        assert code == 1, err[-3000:]
        assert "Traceback" not in err and "exception was never retrieved" not in err, err
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "frontier_unreachable" in errors[0], err[-3000:]
        # the outage is logged once, not at every poll
        assert err.count("does not answer (") == 1, err[-3000:]
    [run], _ = stored(postgres_url)
    assert run["finish_reason"] == "frontier_unreachable"
    assert run["stats"]["outcome/status"] == "failed"


def test_redis_back_empty_mid_crawl_fails_the_crawl(
    site: TinySite, redis_server: RedisServer, postgres_url: str, tmp_path: Path
) -> None:
    """Issue 13's review: Redis restarted empty mid-crawl, and the run was recorded
    ``succeeded`` with part of the pages.  Now the crawl stops as ``frontier_unreachable``."""
    redis_server.flush()
    url = redis_server.url
    client = redis.Redis.from_url(url)
    starter = start_crawl(
        site,
        "/catalog/?delay=150",
        url,
        postgres_url,
        "-s",
        "CRAWLER_FRONTIER_OUTAGE_TIMEOUT=60",
        cwd=tmp_path,
    )
    try:
        wait_for(lambda: len(client.keys("crawler:*:lease:*")) == 1)
        redis_server.kill()
        redis_server.start()  # empty: no snapshot was written
        code, _, err = finish_printed(starter, timeout=30)
    finally:
        kill_left(starter)
    assert code == 1, err[-3000:]
    assert "has lost the crawl" in err and "Traceback" not in err, err[-3000:]
    [run], _ = stored(postgres_url)
    assert run["finish_reason"] == "frontier_unreachable"


def test_a_redis_refusing_writes_for_a_while_is_an_outage(
    site: TinySite, redis_server: RedisServer, postgres_url: str, tmp_path: Path
) -> None:
    """Stop 24's review: a Redis past its ``maxmemory`` answers the crawl's scripts
    with ``OOM`` errors, which reached Scrapy as tracebacks (and a warning for each failed
    flush, up to 100 a second).  Now it is an outage like a Redis that does not
    answer: logged once, and the crawl goes on when it accepts writes again, every
    page once."""
    redis_server.flush()
    url = redis_server.url
    client = redis.Redis.from_url(url)
    starter = start_crawl(site, "/catalog/?delay=150", url, postgres_url, cwd=tmp_path)
    try:
        wait_for(lambda: len(client.keys("crawler:*:lease:*")) == 1)
        client.config_set("maxmemory", 1)  # the default policy: noeviction, writes fail
        time.sleep(2)
        client.config_set("maxmemory", 0)
        code, _, err = finish_printed(starter, timeout=60)
    finally:
        client.config_set("maxmemory", 0)
        kill_left(starter)
    assert code == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert err.count("does not answer (") == 1, err[-3000:]
    assert "maxmemory" in err, err[-3000:]  # the error, in the outage's line
    assert_every_page_stored_once(postgres_url)


def test_every_process_stops_when_redis_comes_back_empty(
    site: TinySite, redis_server: RedisServer, postgres_url: str, tmp_path: Path
) -> None:
    """Stop 24's review: Redis restarted empty under two processes.  The first to
    notice gave up, found itself the last worker (the restart had emptied the
    ``active`` set) and marked the crawl finished in a new ``meta``: the other then
    saw its crawl there still and crawled on with an empty seen set (376 pages
    fetched twice in the review).  Now each process stops as ``frontier_unreachable``."""
    redis_server.flush()
    url = redis_server.url
    client = redis.Redis.from_url(url)
    worker = start("worker", url, "--wait", "60", *WORKER_FAST, cwd=tmp_path)
    starter = start_crawl(site, "/catalog/?delay=400", url, postgres_url, cwd=tmp_path)
    try:
        wait_for(lambda: len(client.keys("crawler:*:lease:*")) == 2)  # both crawl
        redis_server.kill()
        redis_server.start()  # empty: no snapshot was written
        results = [finish_printed(p, timeout=30) for p in (starter, worker)]
    finally:
        kill_left(starter, worker)
    for code, _, err in results:
        assert code == 1, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "frontier_unreachable" in errors[0], err[-3000:]
    assert not client.keys("crawler:*:meta")  # no crawl made up again
    [run], _ = stored(postgres_url)
    assert run["finish_reason"] == "frontier_unreachable"


def test_every_process_that_loses_the_frontier_prints_one_error_line(
    site: TinySite, redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    """A worker that stopped as ``frontier_unreachable`` but was not the last to
    close printed no ``error:`` line (only the last one, which gives the run's
    verdict, did).  Here the crawl's ``meta`` key goes while Redis answers (as when
    it restarts empty, without the race of a restart): both processes stop, one of
    them not last; each prints the same line and exits 1."""
    client = redis.Redis.from_url(redis_url)
    worker = start("worker", redis_url, "--wait", "60", *WORKER_FAST, cwd=tmp_path)
    starter = start_crawl(site, "/catalog/?delay=150", redis_url, postgres_url, cwd=tmp_path)
    try:
        wait_for(lambda: len(client.keys("crawler:*:lease:*")) == 2)  # both crawl
        [meta] = client.keys("crawler:*:meta")
        client.delete(meta)
        results = [finish_printed(p, timeout=30) for p in (starter, worker)]
    finally:
        kill_left(starter, worker)
    lines = []
    for code, _, err in results:
        assert code == 1, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, err[-3000:]
        lines.append(errors[0])
    assert sum("This worker is done" in err for _, _, err in results) == 1  # one not last
    assert lines[0] == lines[1], lines
    assert "frontier_unreachable" in lines[0] and "lost the crawl's keys" in lines[0], lines


@pytest.mark.parametrize("given", ["REDISCLI_AUTH", "url"])
def test_a_redis_password_from_rediscli_auth_and_a_pasteable_join_hint(
    given: str, site: TinySite, redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    """A Redis password in the URL ends up in shell history and ``ps``: redis-cli's
    REDISCLI_AUTH gives it instead, to ``--frontier`` and ``crawler worker`` (and the
    shared politeness).  The hint printed to join the crawl holds no password (not
    ``:***@``, which cannot be pasted) and names REDISCLI_AUTH; a worker started with
    that very command and the variable crawls.  The password is nowhere: output,
    Redis, the run's stats."""
    password = "redis-pw-3c9e41"
    client = redis.Redis.from_url(redis_url)
    client.acl_setuser(
        "crawlerpw", enabled=True, passwords=[f"+{password}"], keys="*", commands=["+@all"]
    )
    joinable = redis_url.replace("redis://", "redis://crawlerpw@")
    frontier = joinable.replace("@", f":{password}@") if given == "url" else joinable
    env = {**subprocess_env(), "REDISCLI_AUTH": password}
    starter = start_crawl(
        site,
        "/catalog/?delay=150",
        frontier,
        postgres_url,
        cwd=tmp_path,
        env=env if given == "REDISCLI_AUTH" else None,
    )
    worker: subprocess.Popen[str] | None = None
    try:
        hint, seen, command = join_hint(starter)
        assert hint.rstrip().endswith(", the Redis password in REDISCLI_AUTH"), hint
        assert command[:4] == ["worker", joinable, "--crawl", command[3]], hint
        worker = start(*command, *WORKER_FAST, cwd=tmp_path, env=env)
        code, out, err = finish_printed(starter)
        worker_code, worker_out, worker_err = finish_printed(worker)
    finally:
        kill_left(starter, worker)
        options = [client.hget(k, "options") for k in client.keys("crawler:*:meta")]
        client.acl_deluser("crawlerpw")
    assert code == 0, err[-3000:]
    assert worker_code == 0, worker_err[-3000:]
    assert "Joining crawl" in worker_err
    run = assert_every_page_stored_once(postgres_url)
    stats = run["stats"]
    assert stats["frontier/workers"] == 2  # type: ignore[index]
    # the shared politeness logs in with it too
    assert stats["crawler/shared_politeness/leases"] > 0, stats  # type: ignore[index]
    assert "crawler/shared_politeness/redis_errors" not in stats, stats
    assert ":***@" not in hint
    said = "".join([hint, *seen, out, err, worker_out, worker_err, json.dumps(run, default=str)])
    assert password not in said
    assert options and all(password.encode() not in (o or b"") for o in options)


def test_a_worker_forced_to_stop_prints_no_run_summary(
    site: TinySite, redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    """A second Ctrl-C stops a worker at once (Scrapy's unclean shutdown): it never
    leaves the crawl in Redis, so it does not know whether it is last.  It printed the
    run's summary and verdict as if it were (a run still being crawled, "shutdown");
    now it says it stopped without leaving, and the run is the others' to finish: its
    leases go back to the queue when its heartbeat expires, every page once."""
    client = redis.Redis.from_url(redis_url)
    # Its rows wait in its store's buffer (flushed every 30 s), so it holds the leases
    # of the pages it crawled until it stops: the moment to stop it cannot be missed
    # (its stats are published every 2 s; a 1 s flush released them in between).  20
    # items, 1.5 s each, 2 at a time per process: requests are still queued when it is
    # stopped, so it has some in flight (with 8, the queue could be empty then: its
    # graceful close had nothing to wait for and ended before the second Ctrl-C).
    starter, [worker] = run_shared(
        site, redis_url, postgres_url, tmp_path, "/catalog/?size=20&delay=1500", 1,
        worker_args=["-s", "CRAWLER_STORE_FLUSH_INTERVAL=30"],
    )  # fmt: skip
    try:
        wait_for(lambda: crawled_and_leasing(client, worker.pid))
        worker.send_signal(signal.SIGINT)
        time.sleep(0.05)  # its requests (1.5 s each: a loaded machine) still in flight
        worker.send_signal(signal.SIGINT)
        code, out, err = finish_printed(worker, timeout=30)
        starter_code, _, starter_err = finish_printed(starter)
    finally:
        kill_left(starter, worker)
    assert "forcing unclean shutdown" in err, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert "Run " not in out and "Stored in" not in out, out
    assert not [line for line in err.splitlines() if line.startswith("error: ")], err[-3000:]
    assert "stopped before leaving crawl" in err, err[-3000:]
    assert code == 130, err[-3000:]
    assert starter_code == 0, starter_err[-3000:]
    assert_every_page_stored_once(postgres_url, size=20)  # its leases went back (or were done)


def test_the_only_process_forced_to_stop_leaves_the_run_to_a_joining_worker(
    site: TinySite, redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    """A second Ctrl-C on the crawl's only process: it finished the run ("shutdown")
    while its message said a joining worker would, and that worker was then refused
    (the run had finished).  Now the run stays open, and the command the message
    gives joins the crawl and finishes it: every page once.  Pages take 1.5 s, so
    the first Ctrl-C's graceful close cannot end before the second one on a loaded
    machine (at 400 ms, it did once: the run then finished as "shutdown", rightly)."""
    client = redis.Redis.from_url(redis_url)
    starter = start_crawl(
        site, "/catalog/?size=8&delay=1500", redis_url, postgres_url, cwd=tmp_path
    )
    joined: subprocess.Popen[str] | None = None
    try:
        wait_for(lambda: crawled_and_leasing(client, starter.pid))
        starter.send_signal(signal.SIGINT)
        time.sleep(0.05)
        starter.send_signal(signal.SIGINT)
        code, out, err = finish_printed(starter, timeout=30)
        [run], _ = stored(postgres_url)
        assert run["finished_at"] is None, run
        [line] = [line for line in err.splitlines() if "stopped before leaving" in line]
        [command] = line.split("`")[1::2]
        assert command.startswith(f"crawler worker {redis_url} --crawl "), line
        joined = start(*command.split()[1:], *WORKER_FAST, cwd=tmp_path)
        joined_code, _, joined_err = finish_printed(joined)
    finally:
        kill_left(starter, joined)
    assert code == 130, err[-3000:]
    assert "Run " not in out, out
    assert joined_code == 0, joined_err[-3000:]
    assert_every_page_stored_once(postgres_url, size=8)


def test_leases_of_a_pop_whose_answer_was_lost_are_queued_again(
    site: TinySite, redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    """Redis hung past the client's socket timeout ran a pop the worker then never
    heard back from: its requests sat in the worker's lease hash, nobody fetched or
    released them, and the crawl never became idle (a new-user review: 597 of 601
    pages, then nothing, for ever).  Here the test pops for the crawling process, in
    its lease hash, as that lost pop did: the crawl still ends, every page once."""
    client = redis.Redis.from_url(redis_url)
    starter = start_crawl(site, "/catalog/?delay=150", redis_url, postgres_url, cwd=tmp_path)
    try:
        wait_for(lambda: client.keys("crawler:*:lease:*") and client.keys("crawler:*:requests"))
        [lease_key] = client.keys("crawler:*:lease:*")
        [queue_key] = client.keys("crawler:*:requests")
        wait_for(lambda: client.zcard(queue_key) >= 2)
        lost = client.zpopmin(queue_key, 2)
        for n, (data, score) in enumerate(lost):  # a field as the pop script makes it
            client.hset(lease_key, f"{900000 + n}:{score:g}", data)
        code, err = finish(starter)
    finally:
        kill_left(starter)
    assert code == 0, err[-3000:]
    run = assert_every_page_stored_once(postgres_url)
    assert run["stats"]["frontier/reclaimed"] == 2  # type: ignore[index]


# A Redis that hangs (its host frozen, a network partition: SIGSTOP here) instead of
# refusing connections.  Every Redis call fails after CRAWLER_FRONTIER_SOCKET_TIMEOUT
# seconds, not retried by redis-py: before, each call on the reactor thread waited
# 10 s twice, so the crawl ignored its outage timeout and Ctrl-C for minutes.  These
# tests set it to 1 s (the default is 3 s): the bounds below are in socket timeouts.
SOCKET_TIMEOUT = 1.0
FROZEN = ("-s", f"CRAWLER_FRONTIER_SOCKET_TIMEOUT={SOCKET_TIMEOUT:g}")


@contextmanager
def frozen_crawl(
    site: TinySite,
    redis_server: RedisServer,
    postgres_url: str,
    cwd: Path,
    *extra: str,
    delay_ms: int = 150,
    leased: int = 1,
) -> Iterator[subprocess.Popen[str]]:
    """A one-process shared crawl of the catalog (``delay_ms`` a page, a socket timeout
    of :data:`SOCKET_TIMEOUT`, ``extra``: more options), given once it crawls
    (``leased`` requests popped from Redis and not finished: 1, its start request, the
    index, being fetched) and its Redis is frozen (SIGSTOP); on the way out Redis is
    thawed, then the crawl killed if it still runs."""
    redis_server.flush()
    url = redis_server.url
    client = redis.Redis.from_url(url)
    starter = start_crawl(
        site, f"/catalog/?delay={delay_ms}", url, postgres_url, *FROZEN, *extra, cwd=cwd
    )
    try:
        # it crawls: the worker's lease hash holds its popped requests
        wait_for(lambda: sum(map(client.hlen, client.keys("crawler:*:lease:*"))) >= leased)
        redis_server.freeze()
        yield starter
    finally:
        redis_server.thaw()
        kill_left(starter)


def test_redis_frozen_mid_crawl_stops_the_crawl_after_the_outage_timeout(
    site: TinySite, redis_server: RedisServer, postgres_url: str, tmp_path: Path
) -> None:
    """Exit 1 with one ``error:`` line (``frontier_unreachable``), no traceback, the
    outage logged once.  The bound: the outage begins one socket timeout after the
    freeze (the first call waits that long); during an outage the poll asks Redis
    once every socket timeout (blocked one, waiting one), so it gives up at most two
    timeouts after the outage timeout; closing waits for one failed call of the
    store's close of the worker and one of the shared politeness (the scheduler
    makes none once closing in an outage): 3 s + 5 socket timeouts, plus 5 s for a
    loaded machine (measured: 12.5 s with an outage timeout of 5 s and socket
    timeouts of 3 s).  The index, fetched meanwhile (400 ms), links 10 new items: they
    could not be queued; the crawl keeps them in its spool and says so.  Once Redis
    answers again, the worker the crawl's message names, started from the same
    directory, queues them and finishes the crawl: every page once."""
    outage = ("-s", "CRAWLER_FRONTIER_OUTAGE_TIMEOUT=3")
    with frozen_crawl(site, redis_server, postgres_url, tmp_path, *outage, delay_ms=400) as starter:
        frozen = time.monotonic()
        code, _, err = finish_printed(starter, timeout=120)
        took = time.monotonic() - frozen
    assert took < 3 + 5 * SOCKET_TIMEOUT + 5, took
    assert code == 1, err[-3000:]
    assert "Traceback" not in err and "exception was never retrieved" not in err, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "frontier_unreachable" in errors[0], err[-3000:]
    assert err.count("does not answer (TimeoutError") == 1, err[-3000:]
    [run], _ = stored(postgres_url)
    assert run["finish_reason"] == "frontier_unreachable"
    stats = run["stats"]
    assert isinstance(stats, dict)
    assert "frontier/requests_lost" not in stats, stats
    spooled = stats["frontier/spooled"]
    assert spooled >= 10, stats
    [line] = [line for line in err.splitlines() if "could not be queued" in line]
    assert f"{spooled} requests this worker found could not be queued" in line, line
    [spool] = (tmp_path / "frontier-spool").glob("*/*.pickle")
    [command] = [c for c in line.split("(")[-1:] if c.startswith("crawler worker")]
    crawl_id = spool.parent.name
    assert command == f"crawler worker REDIS_URL --crawl {crawl_id})", line
    assert f"`crawler worker REDIS_URL --crawl {crawl_id}` resumes it" in errors[0], errors
    # Redis answers again (thawed): a worker joins from this directory.
    joined = start("worker", redis_server.url, "--crawl", crawl_id, *WORKER_FAST, cwd=tmp_path)
    try:
        joined_code, _, joined_err = finish_printed(joined, timeout=120)
    finally:
        kill_left(joined)
    assert joined_code == 0, joined_err[-3000:]
    queued_lines = [line for line in joined_err.splitlines() if "Queued the" in line]
    assert len(queued_lines) == 1, joined_err[-5000:]
    [queued] = queued_lines
    assert f"Queued the {spooled} requests of /" in queued and spool.name in queued, queued
    assert not spool.exists()
    run = assert_every_page_stored_once(postgres_url)
    assert run["stats"]["frontier/spool_queued"] == spooled, run["stats"]  # type: ignore[index]


def test_ctrl_c_stops_a_crawl_whose_redis_is_frozen(
    site: TinySite, redis_server: RedisServer, postgres_url: str, tmp_path: Path
) -> None:
    """SIGINT is acted on within a few seconds (the outage timeout is 60 s): the call
    under way fails within a socket timeout, then closing waits for one failed call
    of the store's close of the worker and one of the shared politeness: 3 socket
    timeouts, plus 3 s for a loaded machine (measured: 5.3 s with socket timeouts of
    3 s)."""
    with frozen_crawl(site, redis_server, postgres_url, tmp_path) as starter:
        # A Redis call is under way (the poll asks every 0.1 s) and has not failed yet.
        time.sleep(SOCKET_TIMEOUT / 2)
        starter.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        code, _, err = finish_printed(starter, timeout=120)
        took = time.monotonic() - interrupted
    assert took < 3 * SOCKET_TIMEOUT + 3, took
    assert "Traceback" not in err, err[-3000:]
    assert "frontier_unreachable" not in err, err[-3000:]  # stopped by Ctrl-C, not the outage
    [run], _ = stored(postgres_url)
    assert run["finish_reason"] == "shutdown", code


def test_ctrl_c_with_requests_queued_on_a_host_whose_redis_is_frozen(
    site: TinySite, redis_server: RedisServer, postgres_url: str, tmp_path: Path
) -> None:
    """At least 11 requests popped from Redis and not finished (the catalog's pages, in
    the downloader), one at a time on the host, 400 ms each, when Redis freezes; then
    Ctrl-C.  Once the first
    ask for the host's shared place has failed, the others go ahead with the worker's
    own politeness without asking (a review: each waited a socket timeout in turn, the
    crawl took 25 s to stop).  The bound, from the freeze: the first ask fails within
    a socket timeout; the queued pages take 11 x 0.4 s, during which one probe (a
    socket timeout after that failure) holds the host's one place for another; closing
    waits for one failed call of the store's close of the worker and one of the shared
    politeness: 4 socket timeouts + 4.4 s, plus 5 s for a loaded machine (13.4 s;
    measured: 15.9 and 16.0 s with socket timeouts of 3 s).  Before, each queued
    request waited a socket timeout in turn before its 0.4 s: 11 x 1.4 s and more
    (37.0 s measured with socket timeouts of 3 s)."""
    one_at_a_time = (
        "-s", "CONCURRENT_REQUESTS=16", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
    )  # fmt: skip
    with frozen_crawl(
        site, redis_server, postgres_url, tmp_path, *one_at_a_time, delay_ms=400, leased=11
    ) as starter:
        frozen = time.monotonic()
        time.sleep(0.5)  # the host's next request asks Redis
        starter.send_signal(signal.SIGINT)
        code, _, err = finish_printed(starter, timeout=120)
        took = time.monotonic() - frozen
    assert took < 4 * SOCKET_TIMEOUT + 11 * 0.4 + 5, took
    assert "Traceback" not in err, err[-3000:]
    [run], _ = stored(postgres_url)
    assert run["finish_reason"] == "shutdown", code
    stats = run["stats"]
    assert stats["crawler/shared_politeness/unasked"] >= 5, stats  # type: ignore[index]


def test_a_frozen_redis_at_start_is_one_error_line_within_the_socket_timeout(
    redis_server: RedisServer, tmp_path: Path, closed_port: int
) -> None:
    """``crawler crawl --frontier`` and ``crawler worker`` ping Redis first: a frozen
    one is an ``error:`` line after one socket timeout (plus the command's start),
    exit 2, as for a Redis that is down."""
    url = redis_server.url
    store = "postgresql://nobody@127.0.0.1:9/none"  # never opened: Redis is asked first

    def both(redis_url: str) -> tuple[float, list[tuple[int, str]]]:
        started = time.monotonic()
        crawl = ("crawl", "http://127.0.0.1:9/", "--frontier", redis_url, "--store", store)
        processes = [
            start(*crawl, *FROZEN, cwd=tmp_path),
            start("worker", redis_url, *FROZEN, cwd=tmp_path),
        ]
        results = [finish(p, timeout=120) for p in processes]
        return time.monotonic() - started, results

    # The same two commands against a Redis that is down (refused at once): what
    # starting them costs on this machine now (1-3 s, more when it is loaded).
    down, refused = both(f"redis://127.0.0.1:{closed_port}/0")
    assert [code for code, _ in refused] == [2, 2]
    redis_server.freeze()
    try:
        took, results = both(url)
    finally:
        redis_server.thaw()
    # About one socket timeout more than that, not redis-py's default (none: forever)
    assert took < down + SOCKET_TIMEOUT + 3, (took, down)
    for (code, err), option in zip(results, ("--frontier URL", "REDIS_URL"), strict=True):
        assert code == 2, err[-3000:]
        [line] = err.strip().splitlines()
        assert line == (
            f"error: the frontier's Redis at {url} did not answer within 1 s (Timeout "
            "reading from socket; CRAWLER_FRONTIER_SOCKET_TIMEOUT): check that it runs "
            f"and is reachable, or give another {option}"
        ), line


def test_a_worker_waiting_to_join_when_redis_hangs_is_one_error_line(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Redis stops answering after a worker's first ping, while it waits for a crawl
    to join (``--wait``): one ``error:`` line within a socket timeout or two, exit 2,
    no traceback (a review: redis-py's TimeoutError came out as a traceback)."""
    redis_server.flush()
    client = redis.Redis.from_url(redis_server.url)
    worker = start("worker", redis_server.url, "--wait", "60", *FROZEN, cwd=tmp_path)
    try:
        # It pinged Redis and looks for a crawl (SMEMBERS of the crawls' set) every 0.2 s.
        wait_for(
            lambda: (
                worker.poll() is not None
                or any(c["cmd"] == "smembers" for c in client.client_list())
            )
        )
        assert worker.poll() is None
        redis_server.freeze()
        frozen = time.monotonic()
        code, err = finish(worker, timeout=60)
        took = time.monotonic() - frozen
    finally:
        redis_server.thaw()
        kill_left(worker)
    assert took < 2 * SOCKET_TIMEOUT + 3, took
    assert code == 2, err[-3000:]
    [line] = err.strip().splitlines()
    assert line.startswith(
        f"error: the frontier's Redis at {redis_server.url} stopped answering while this "
        "worker joined (Timeout reading from socket"
    ), line


def test_a_crawl_goes_on_when_its_frozen_redis_resumes(
    site: TinySite, redis_server: RedisServer, postgres_url: str, tmp_path: Path
) -> None:
    """Redis hung for longer than a socket timeout, then resumed (within the outage
    timeout): the outage is logged and its end said, and the crawl finishes with
    every page stored once (a pop given up on that Redis ran after all is queued
    again: SharedCrawl.requeue_unknown)."""
    with frozen_crawl(site, redis_server, postgres_url, tmp_path) as starter:
        time.sleep(SOCKET_TIMEOUT + 1)
        redis_server.thaw()
        code, err = finish(starter, timeout=120)
    assert code == 0, err[-3000:]
    assert err.count("does not answer (TimeoutError") == 1, err[-3000:]
    assert "answers again after" in err, err[-3000:]
    assert_every_page_stored_once(postgres_url)
