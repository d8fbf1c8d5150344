"""Per-host concurrency and delay shared by every worker of a crawl, through Redis.

Scrapy's downloader keeps ``CONCURRENT_REQUESTS_PER_DOMAIN`` and the delay
(``DOWNLOAD_DELAY`` with its jitter, AutoThrottle's, and the robots.txt
``Crawl-delay`` that :mod:`crawler.downloadermiddlewares.crawldelay` puts in
the slot) per process: N workers of one crawl (``CRAWLER_FRONTIER``) would
ask a site N times as much.  With a frontier, :class:`SharedPoliteness` holds
them across all workers, per downloader slot key (the host, or
``meta["download_slot"]``), with two keys under ``CRAWLER_FRONTIER_PREFIX``:

``<prefix>:politeness:<slot>:leases``
    a sorted set of the requests being downloaded or rendered on the slot, by
    any worker: member ``<lease id>``, score the Redis time (ms) when the lease
    expires.  A worker renews its leases every third of
    ``CRAWLER_FRONTIER_POLITENESS_LEASE``; a worker that died stops renewing,
    and its leases no longer count once they expire: a dead process frees its
    slots after at most that many seconds.
``<prefix>:politeness:<slot>:next``
    the Redis time (ms) before which no request of the slot may start: the last
    start plus that request's delay (``Slot.download_delay()``: the delay
    AutoThrottle and the Crawl-delay set, with Scrapy's jitter).

Both are read and written by one Lua script (:data:`ACQUIRE`), atomic in Redis
and timed by Redis's own clock (``TIME``), so the clocks of the workers'
machines do not matter.  The script grants a lease only when fewer than the
slot's concurrency are held and the next start time has come; otherwise it
tells how long to wait.  In each process, one request per slot asks at a time
(the others wait their turn behind it, in order); waits are ``asyncio.sleep``,
never the reactor blocked.  A place given back is free at once for this
process's next request of the slot, whose ask removes it in Redis in the same
script; one not taken along so is removed within :data:`RELEASE_DELAY` (one
pipelined round trip for all of them), so a release costs no round trip of its own.
While the slot had room for the other workers at this worker's last grant, even
with the places it has given back still counted, these wait up to
:data:`ROOMY_RELEASE_DELAY` for that ask instead: at a few ms a page, the next ask
comes later than :data:`RELEASE_DELAY` (a cProfile of a zero-latency crawl: a
removal of its own for 0.97 of the pages), and a place counted a little longer
only makes the limits stricter.

Where it applies: plain downloads ask in
:class:`crawler.downloader.SlotReservingDownloader` just before the download
handler sends the request (after Scrapy's own slot queue, so the shared delay
is kept between the requests as sent), and hold their lease until the download
ends.  Renders (:class:`crawler.browser.middleware.SeleniumMiddleware`) take a
lease without the delay once their local slot place is granted
(:mod:`crawler.browser.politeness`) and hold it until the render ends; the
delay is taken by the browser's worker thread right before it navigates
(:meth:`SharedPoliteness.navigation_turn`, :data:`TURN`), as the local
``NavigationGate`` does, since a cold browser can take a second to send its
request.

Redis unreachable while crawling (refused, or no answer within
``CRAWLER_FRONTIER_SOCKET_TIMEOUT`` seconds, never retried by redis-py:
:func:`crawler.frontier.shared.client_options`): the request goes ahead with
this process's own politeness only, counted (an ask that timed out may still be
run by Redis once it resumes: the lease it grants then goes with the slot's next
ask, as one given back).  From then on, the outage begun, the next requests and
navigations go ahead at once the same way, without asking, except one probe at
most every socket timeout (:meth:`SharedPoliteness._may_ask`): otherwise each
would wait a socket timeout in turn, one per slot at a time (a review: a queue of
requests took 25 s to drain after Ctrl-C, at 0.3 pages/s).  Each outage is
warned about once, at its first failed call, and said over at the first call
that works again, a probe or any other (as the frontier's own:
:mod:`crawler.frontier.outage`).

Stats: ``crawler/shared_politeness/leases`` (granted),
``crawler/shared_politeness/waits`` (requests that had to wait),
``crawler/shared_politeness/wait_seconds`` (their total wait),
``crawler/shared_politeness/leases_lost`` (a lease found expired when renewed:
the worker was stalled longer than the lease), ``crawler/shared_politeness/redis_errors``
(failed calls), ``crawler/shared_politeness/outages`` (outages begun),
``crawler/shared_politeness/unasked`` (requests and navigations that went ahead
during an outage without asking Redis).

Off (``NotConfigured``) without ``CRAWLER_FRONTIER`` or with
``CRAWLER_FRONTIER_POLITENESS = False``.  Plain downloads need the project's
``DOWNLOADER`` (``crawler.settings`` sets it); another one is warned about.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.misc import load_object

from crawler.default_settings import CRAWLER_FRONTIER_SOCKET_TIMEOUT
from crawler.frontier.shared import client_options, env_password
from crawler.redaction import redact_text
from crawler.utils.lru import Lru

if TYPE_CHECKING:
    from typing import Self

    import redis
    import redis.asyncio
    from redis.commands.core import AsyncScript
    from redis.commands.core import Script as SyncScript
    from scrapy.core.downloader import Slot
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: KEYS: leases, next.  ARGV: lease id, concurrency, delay (ms), lease time (ms),
#: ``1`` to wait for the next start time (``0``: a render's place, its delay is
#: taken at its navigation by :data:`TURN`), then the ids of this worker's leases
#: of the slot given back since its last ask (removed first).  Returns ``{1, free}``
#: when the lease is granted (``free``: the places left on the slot then, every
#: worker's leases counted), ``{0, wait ms}`` when not.
ACQUIRE = """
for i = 6, #ARGV do
  redis.call('ZREM', KEYS[1], ARGV[i])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, math.max(1, tonumber(first[2]) - now)}
end
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if ARGV[5] == '1' and nxt > now then
  return {0, nxt - now}
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
local delay = tonumber(ARGV[3])
if delay > 0 then
  redis.call('SET', KEYS[2], now + delay, 'PX', delay)
end
return {1, tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1])}
"""

#: KEYS: next.  ARGV: delay (ms).  The delay part of :data:`ACQUIRE` alone (a
#: render's navigation, whose place is already held): ``0`` when the turn is
#: taken, else the ms to wait.
TURN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if nxt > now then
  return nxt - now
end
local delay = tonumber(ARGV[1])
if delay > 0 then
  redis.call('SET', KEYS[1], now + delay, 'PX', delay)
end
return 0
"""

#: KEYS: leases keys; ARGV: lease time (ms), then one lease id per key.
#: Extends the leases still held; returns how many were gone (expired).
RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local lost = 0
for i, key in ipairs(KEYS) do
  local score = redis.call('ZSCORE', key, ARGV[i + 1])
  if score and tonumber(score) > now then
    redis.call('ZADD', key, 'XX', now + ttl, ARGV[i + 1])
    redis.call('PEXPIRE', key, ttl)
  else
    redis.call('ZREM', key, ARGV[i + 1])
    lost = lost + 1
  end
end
return lost
"""

#: Longest sleep between two asks while a slot is full (seconds): a lease
#: released by another worker is seen within this.
POLL_INTERVAL = 0.05

#: Longest a place given back waits (seconds) before it is removed from Redis on
#: its own: the next ask of its slot by this worker, usually sooner, takes it
#: along (one round trip for both).
RELEASE_DELAY = 0.005

#: The same (seconds) while the slot had room for the others at this worker's last
#: grant on it, the places it gave back since counted (:meth:`SharedPoliteness.release`):
#: the poll interval of a worker waiting for a place.
ROOMY_RELEASE_DELAY = POLL_INTERVAL
#: Slots whose places left at the last grant a worker remembers (an int each).
FREE_SLOTS = 10_000

STATS = "crawler/shared_politeness"


@dataclass(eq=False)
class _Turn:
    """This process's requests of one slot, asking Redis one at a time, in order."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    #: Set when this process gives a place of the slot back: the one asking
    #: again at once instead of at its next poll.
    freed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class _Scripts:
    acquire: AsyncScript
    renew: AsyncScript


@dataclass(frozen=True)
class Lease:
    """One request's place on slot ``slot``, held in Redis under ``key`` as ``id``."""

    slot: str
    key: str
    id: str


class SharedPoliteness:
    """``lease = await shared.acquire(key, slot)`` ... ``await shared.release(lease)``."""

    def __init__(
        self,
        crawler: Crawler,
        url: str,
        prefix: str,
        lease_time: float,
        socket_timeout: float = CRAWLER_FRONTIER_SOCKET_TIMEOUT,
    ) -> None:
        self.crawler = crawler
        self.url = url
        self.prefix = prefix
        self.lease_ms = max(1, round(lease_time * 1000))
        # seconds to connect and for each answer, no retry (client_options): a Redis
        # down or hung fails the ask (the request goes ahead, counted) within this
        self.socket_timeout = socket_timeout
        self._client: redis.asyncio.Redis | None = None
        self._loaded: _Scripts | None = None
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._numbers = itertools.count(1)
        self._held: dict[str, Lease] = {}  # lease id -> lease
        self._turns: dict[str, _Turn] = {}  # slot key -> this process's requests asking
        self._heartbeat: asyncio.Task[None] | None = None
        # leases key -> ids of leases given back, not yet removed in Redis
        self._releasing: dict[str, list[str]] = {}
        self._flush_timer: asyncio.TimerHandle | None = None
        self._flush_at = 0.0  # the loop's time the timer fires
        # slot key -> the places left on it at this worker's last grant (ACQUIRE), for
        # the slots used last (a forgotten one: RELEASE_DELAY)
        self._free: Lru[str, int] = Lru(FREE_SLOTS)
        self._flushes: set[asyncio.Task[None]] = set()
        self._down_since: float | None = None  # monotonic time this outage's first failure
        # During an outage: monotonic time from which an ask may probe Redis again
        self._next_probe = 0.0
        self._outage_lock = threading.Lock()  # failures come from worker threads too
        self._stats_lock = threading.Lock()
        # The browsers' worker threads' own client (redis-py's sync one is thread-safe).
        self._sync_lock = threading.Lock()
        self._sync_client: redis.Redis | None = None
        self._sync_turn: SyncScript | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        url = settings.get("CRAWLER_FRONTIER")
        if not url:
            raise NotConfigured  # no frontier, the usual case: silent (with a message, a warning)
        if not settings.getbool("CRAWLER_FRONTIER_POLITENESS"):
            raise NotConfigured("shared politeness is off (CRAWLER_FRONTIER_POLITENESS)")
        prefix = settings.get("CRAWLER_FRONTIER_PREFIX") or "crawler:default"
        lease_time = settings.getfloat("CRAWLER_FRONTIER_POLITENESS_LEASE")
        from crawler.downloader import SlotReservingDownloader  # it imports this module

        downloader = load_object(settings["DOWNLOADER"])
        if not issubclass(downloader, SlotReservingDownloader):
            logger.warning(
                "Shared politeness holds for rendered pages only: plain downloads ask "
                "for their place in crawler.downloader.SlotReservingDownloader, and "
                "DOWNLOADER is %s",
                settings["DOWNLOADER"],
            )
        extension = cls(
            crawler, url, prefix, lease_time, settings.getfloat("CRAWLER_FRONTIER_SOCKET_TIMEOUT")
        )
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    @classmethod
    def of(cls, crawler: Crawler) -> SharedPoliteness | None:
        """The crawl's instance, ``None`` when it is off (no frontier) or before
        the extensions are built; callers keep the answer once it is found."""
        if getattr(crawler, "extensions", None) is None:
            return None
        return crawler.get_extension(cls)

    def _keys(self, slot_key: str) -> tuple[str, str]:
        base = f"{self.prefix}:politeness:{slot_key}"
        return f"{base}:leases", f"{base}:next"

    def _redis(self) -> redis.asyncio.Redis:
        import redis.asyncio  # with the first client: crawls without a frontier never load it

        if self._client is None:
            # Created in the running loop (the asyncio reactor's), where it is used.
            self._client = redis.asyncio.from_url(
                self.url,
                password=env_password(self.url),
                **client_options(self.socket_timeout, asynchronous=True),
            )
        return self._client

    def _scripts(self) -> _Scripts:
        if self._loaded is None:
            client = self._redis()
            self._loaded = _Scripts(client.register_script(ACQUIRE), client.register_script(RENEW))
        return self._loaded

    async def spider_opened(self) -> None:
        self._heartbeat = asyncio.ensure_future(self._renew_forever())

    async def spider_closed(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        for lease in list(self._held.values()):
            await self.release(lease)
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        await self._flush_releases()
        if self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = self._loaded = None
        with self._sync_lock:
            if self._sync_client is not None:
                self._sync_client.close()
                self._sync_client = self._sync_turn = None

    async def acquire(self, slot_key: str, slot: Slot, *, delay: bool = True) -> Lease | None:
        """Wait (without blocking the reactor) until every worker together holds
        fewer than ``slot.concurrency`` leases on ``slot_key`` and (with ``delay``)
        its delay since the last start has passed; then hold one.  ``None`` if
        Redis failed (the request goes ahead under this process's own politeness)."""
        import redis

        if not self._may_ask():  # before the turn: not queued behind a probe
            return None
        probe = self._down_since is not None  # this one's first ask is the probe
        leases_key, next_key = self._keys(slot_key)
        lease = Lease(slot_key, leases_key, f"{self._owner}:{next(self._numbers)}")
        # One draw of the jitter, as Scrapy's downloader draws one per request.
        delay_ms = max(0, round(slot.download_delay() * 1000)) if delay else 0
        turn = self._turns.get(slot_key)
        if turn is None:
            turn = self._turns[slot_key] = _Turn()
        turn.users += 1
        started = time.monotonic()
        waited = False
        released: list[str] = []
        try:
            async with turn.lock:
                while True:
                    if probe:
                        probe = False
                    elif not self._may_ask():  # an outage begun while this one waited
                        return None
                    turn.freed.clear()
                    concurrency = max(1, slot.concurrency)
                    released = self._releasing.pop(leases_key, [])
                    args = (lease.id, concurrency, delay_ms, self.lease_ms, int(delay), *released)
                    granted, wait_ms = await self._scripts().acquire(
                        keys=(leases_key, next_key), args=args
                    )
                    self._redis_answered()
                    if granted:
                        self._free.put(slot_key, int(wait_ms))  # granted: the places left
                        break
                    waited = True
                    # Another worker's release is seen at the next poll, ours at once.
                    with contextlib.suppress(TimeoutError):
                        timeout = min(int(wait_ms) / 1000, POLL_INTERVAL)
                        await asyncio.wait_for(turn.freed.wait(), timeout)
        except (redis.RedisError, OSError) as e:
            if isinstance(e, redis.TimeoutError):
                # Sent to a Redis that hung: it may run the script when it resumes and
                # grant the lease, which the slot's next ask removes (as one given back).
                self._releasing.setdefault(leases_key, []).extend([*released, lease.id])
            self._redis_failed(e)
            return None
        finally:
            turn.users -= 1
            if not turn.users:
                del self._turns[slot_key]
        self._held[lease.id] = lease
        self._count("leases")
        if waited:
            self._count_wait(time.monotonic() - started)
        return lease

    def navigation_turn(self, slot_key: str, delay: float) -> None:
        """Block this (worker) thread until every worker's last start on
        ``slot_key`` is ``delay`` seconds old, and start now: a render's delay,
        taken right before its browser navigates (:mod:`crawler.browser.politeness`).
        Redis failing: the navigation goes ahead (counted, warned once), as the
        next ones do during the outage without asking (:meth:`_may_ask`)."""
        import redis

        _, next_key = self._keys(slot_key)
        delay_ms = max(0, round(delay * 1000))
        started = time.monotonic()
        waited = False
        try:
            with self._sync_lock:
                if self._sync_client is None:
                    self._sync_client = redis.Redis.from_url(
                        self.url,
                        password=env_password(self.url),
                        **client_options(self.socket_timeout),
                    )
                    self._sync_turn = self._sync_client.register_script(TURN)
                turn = self._sync_turn
            assert turn is not None
            while True:
                if not self._may_ask():  # an outage begun while this one waited
                    return
                wait_ms = int(turn(keys=[next_key], args=[delay_ms]))
                self._redis_answered()
                if not wait_ms:
                    break
                waited = True
                time.sleep(wait_ms / 1000)  # a worker thread, never the reactor
        except (redis.RedisError, OSError) as e:
            self._redis_failed(e)
            return
        if waited:
            self._count_wait(time.monotonic() - started)

    def _count(self, name: str, value: float = 1) -> None:
        # Also called from the browsers' worker threads: one writer at a time.
        if self.crawler.stats is not None:
            with self._stats_lock:
                self.crawler.stats.inc_value(f"{STATS}/{name}", value)

    def _count_wait(self, seconds: float) -> None:
        self._count("waits")
        self._count("wait_seconds", seconds)

    async def release(self, lease: Lease | None) -> None:
        """Give the place back: at once for this worker's requests of the slot, and
        in Redis with the next ask of the slot or within :data:`RELEASE_DELAY`
        (also after a failed download); within :data:`ROOMY_RELEASE_DELAY` while the
        places left at the slot's last grant outnumber those given back since."""
        if lease is None or self._held.pop(lease.id, None) is None:
            return
        releasing = self._releasing.setdefault(lease.key, [])
        releasing.append(lease.id)
        roomy = (self._free.get(lease.slot) or 0) > len(releasing)
        loop = asyncio.get_running_loop()
        at = loop.time() + (ROOMY_RELEASE_DELAY if roomy else RELEASE_DELAY)
        if self._flush_timer is not None and at < self._flush_at:
            self._flush_timer.cancel()  # sooner than the one set
            self._flush_timer = None
        if self._flush_timer is None:
            self._flush_timer = loop.call_at(at, self._flush_soon)
            self._flush_at = at
        turn = self._turns.get(lease.slot)
        if turn is not None:
            turn.freed.set()

    def _flush_soon(self) -> None:
        self._flush_timer = None
        task = asyncio.ensure_future(self._flush_releases())
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush_releases(self) -> None:
        """Remove the places given back (and not taken along by an ask) in Redis:
        one pipelined round trip."""
        import redis

        pending, self._releasing = self._releasing, {}
        if not pending:
            return
        try:
            pipe = self._redis().pipeline(transaction=False)
            for key, ids in pending.items():
                pipe.zrem(key, *ids)
            await pipe.execute()
        except (redis.RedisError, OSError) as e:
            self._redis_failed(e)  # the leases expire by themselves
        else:
            self._redis_answered()

    async def _renew_forever(self) -> None:
        import redis

        interval = self.lease_ms / 3000
        while True:
            await asyncio.sleep(interval)
            held = list(self._held.values())
            if not held:
                continue
            try:
                lost = await self._scripts().renew(
                    keys=[lease.key for lease in held],
                    args=[self.lease_ms, *(lease.id for lease in held)],
                )
            except (redis.RedisError, OSError) as e:
                self._redis_failed(e)
                continue
            self._redis_answered()
            if lost:
                self._count("leases_lost", int(lost))

    def _may_ask(self) -> bool:
        """Whether a request or navigation asks Redis: always, but during an outage
        only as a probe, at most one every ``socket_timeout`` seconds from the last
        probe's start or the last failure; else ``False``, counted (``unasked``), and
        it goes ahead with this worker's own politeness at once."""
        if self._down_since is None:  # the usual case, without the lock
            return True
        with self._outage_lock:
            if self._down_since is None:
                return True
            now = time.monotonic()
            if now >= self._next_probe:
                self._next_probe = now + self.socket_timeout
                return True
        self._count("unasked")
        return False

    def _redis_failed(self, error: Exception) -> None:
        """A Redis call failed: counted; warned about when it begins an outage.
        The next probe (:meth:`_may_ask`) is one socket timeout after it."""
        self._count("redis_errors")
        with self._outage_lock:
            now = time.monotonic()
            self._next_probe = now + self.socket_timeout
            if self._down_since is not None:
                return
            self._down_since = now
        self._count("outages")
        logger.warning(
            "Shared politeness: Redis failed (%s); requests go ahead with this "
            "worker's own per-host limits until it answers again",
            redact_text(f"{type(error).__name__}: {error}"),
            extra={"spider": self.crawler.spider},
        )

    def _redis_answered(self) -> None:
        """A Redis call worked: the outage, if any, is over (said once)."""
        if self._down_since is None:  # the usual case, without the lock
            return
        with self._outage_lock:
            if self._down_since is None:
                return
            seconds = time.monotonic() - self._down_since
            self._down_since = None
        logger.warning(
            "Shared politeness: Redis answers again after %.1f s; per-host limits are "
            "shared across workers again",
            seconds,
            extra={"spider": self.crawler.spider},
        )
