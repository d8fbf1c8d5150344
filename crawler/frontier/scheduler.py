"""scrapy-redis's scheduler for a crawl shared by several processes (``CRAWLER_FRONTIER``).

The queue (:class:`~crawler.frontier.queue.LeasedPriorityQueue`) and the
duplicate filter (:class:`~crawler.frontier.dupefilter.FrontierDupeFilter`)
live in Redis under ``CRAWLER_FRONTIER_PREFIX`` (:mod:`crawler.frontier.shared`
lists the keys).  What this adds to scrapy-redis:

* **Leases.** A request popped stays in this worker's lease hash until Scrapy's
  engine is done with it — downloaded, its callback run and the requests it
  yielded queued — which is checked every ``CRAWLER_FRONTIER_POLL_INTERVAL``
  seconds against the engine's requests in progress, *and* the store has
  committed the rows it gave (its page record waits in the store's buffer up to
  ``CRAWLER_STORE_BATCH_SIZE`` rows / ``CRAWLER_STORE_FLUSH_INTERVAL`` seconds:
  :meth:`~crawler.pipelines.store.StorePipeline.commit_mark`), as the request
  journal of ``JOBDIR`` marks a request done only once its record is committed.
  A worker killed before its batch was written thus leaves the requests of the
  lost rows leased, and they are crawled again.  The worker renews its
  liveness key as often; when it stops doing so for
  ``CRAWLER_FRONTIER_LEASE_TIMEOUT`` seconds (killed, frozen), any other worker
  puts its leased requests back in the queue.
* **When to stop** (scrapy-redis's workers wait forever, or stop at the first
  empty pop): the scheduler reports pending requests until the shared queue is
  empty *and* no live worker holds a lease, without a break, for
  ``CRAWLER_FRONTIER_IDLE_TIMEOUT`` seconds; then the spider closes as
  ``finished``, once one more round trip has found the crawl's ``meta`` key (an
  empty queue is also what a Redis that restarted empty shows: that crawl closes as
  ``frontier_unreachable``).  Before the start request is queued the crawl never
  counts as done.
* **Wake-ups.** While the shared queue has requests and this engine has room,
  the engine is asked to pull them at every poll, not at its 5-second heartbeat.
* **Round trips.** Each Redis call blocks the reactor thread for one round
  trip (about 0.1 ms on loopback, a network RTT to another host).  A request
  this worker knows is in the seen set (``CRAWLER_FRONTIER_SEEN_CACHE``) is
  dropped without asking Redis.  Any other is encoded at once (one that cannot
  be: below) and waits in a write-behind buffer: the whole buffer is checked
  against the seen set and queued by one script ``CRAWLER_FRONTIER_FLUSH_DELAY``
  seconds after the first request of it was buffered (0: at the end of the reactor
  turn; :class:`~scrapy.utils.reactor.CallLaterOnce`), and before each pop, poll
  release and close (the lease of a page is released only once the requests it
  yielded are in Redis).  The pop and that flush are one script, and a flush
  while this worker has no popped request left and the engine has room pops
  too: a page whose links are queued and whose successor is leased costs one
  round trip.  A poll's heartbeat, release and survey are one script
  (:meth:`~crawler.frontier.shared.SharedCrawl.poll`).  A request popped is
  known seen from then on, whichever worker
  queued it; requests are leased :data:`POP_BATCH` at a time (those the engine
  has not asked for yet wait here, leased, and count as in flight).
  A request found in the seen set by the flush is dropped as the duplicate
  filter drops one (logged, ``dupefilter/filtered``), but ``enqueue_request``
  has already answered ``True`` for it: Scrapy's ``request_dropped`` signal is
  not sent for it (nothing of this project listens to it).
* A request that cannot be serialised (its callback is not a spider method)
  stays in this process (a local queue served first), counted in
  ``frontier/unserializable``.
* **The spool.** A worker that stops as ``frontier_unreachable`` (Redis did not
  answer) with requests it found but could not queue writes them, encoded as
  queued, to a file under
  ``CRAWLER_FRONTIER_SPOOL_DIR/<crawl id>/`` (``frontier/spooled``; a relative
  directory is under the one the command runs in).  The next process of the
  crawl to open from that directory, with Redis answering (``crawler worker
  REDIS_URL --crawl ID``), queues them through the seen set like any request it
  finds and deletes the file once Redis has them (``frontier/spool_queued``);
  while Redis does not answer the file stays for the next one.  The spool's
  directories are made private (0700, files 0600), and a spool that is not this
  user's own and private is neither written nor read: its files are pickles,
  which can run code.  Requests that
  cannot be serialised, and those of a worker stopped otherwise during an
  outage (Ctrl-C: its run is finished as ``shutdown``, which no worker
  resumes), are lost with the process, counted in ``frontier/requests_lost``.

* **Redis unreachable** (:mod:`crawler.frontier.outage`): a failed call is
  logged once per outage (then every 10 s at most), counted, and tried again at
  the next poll (during an outage, one every ``CRAWLER_FRONTIER_SOCKET_TIMEOUT``
  seconds at most, none once the spider is closing); a request to queue waits
  in this worker until Redis answers (while an outage lasts, only the poll asks
  Redis).  A call fails when Redis refuses the connection or does not answer
  within ``CRAWLER_FRONTIER_SOCKET_TIMEOUT`` seconds (hung: its host frozen, a
  network partition), never retried by redis-py
  (:func:`~crawler.frontier.shared.client_options`): it runs on the reactor
  thread, blocked meanwhile.  A call that timed out may still run once Redis
  resumes (a pop's leases: see below).
  After ``CRAWLER_FRONTIER_OUTAGE_TIMEOUT`` seconds without an answer the
  spider closes with the finish reason ``frontier_unreachable`` (a failure),
  as it does when the crawl's ``meta`` key is gone (Redis restarted empty),
  checked every :data:`STATS_INTERVAL` seconds and before the crawl is called
  done.  A release Redis did not answer
  is sent again.  A pop whose answer was lost (Redis hung past the socket
  timeout, then ran it) leased requests this worker never got: after a failed
  pop, and every :data:`STATS_INTERVAL` seconds, the leases Redis holds for
  this worker that it does not hold are queued again
  (:meth:`~crawler.frontier.shared.SharedCrawl.requeue_unknown`).

Stats: ``frontier/leased``, ``frontier/released``, ``frontier/requeued``
(requests of dead workers put back by this one), ``frontier/reclaimed`` (this
worker's own lost leases put back), ``frontier/dead_workers``,
``frontier/redis_errors``, ``frontier/outages``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

import redis
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.reactor import CallLaterOnce
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from crawler.frontier.dupefilter import FrontierDupeFilter
from crawler.frontier.outage import Outage
from crawler.frontier.queue import LeasedPriorityQueue
from crawler.frontier.shared import SharedCrawl
from crawler.outcome import FRONTIER_KEYS_LOST, FRONTIER_UNREACHABLE_REASON
from crawler.utils.files import private_path_problem

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler

    from crawler.pipelines.store import StorePipeline

logger = logging.getLogger(__name__)

#: Requests leased from the shared queue in one round trip; those not asked for
#: yet wait in this worker, leased (a kill or a close puts them back in the queue).
POP_BATCH = 4

#: Seconds between two publications of this worker's stats to Redis (a killed
#: worker's counters are those of its last one).
STATS_INTERVAL = 2.0

#: Stat set when this worker closes while Redis does not answer (an outage under way).
UNREACHABLE_AT_CLOSE = "frontier/unreachable_at_close"

#: What a Redis that cannot be reached, or cannot serve the crawl, raises: redis-py
#: wraps most socket errors (its AuthenticationError is a ConnectionError); a Redis
#: that answers with an error (``OOM`` past ``maxmemory``, ``READONLY`` after a
#: failover: a ``ResponseError``) fails the crawl's calls as surely, and counts as an
#: outage too (logged once, given up on after the outage timeout).
REDIS_DOWN = (redis.RedisError, OSError)


class _Pending(NamedTuple):
    """A request in the write-behind buffer, encoded, to queue at the next flush."""

    request: Request
    fingerprint: bytes | None  # None: dont_filter, queued without the seen set
    score: float  # minus its priority
    data: bytes  # LeasedPriorityQueue.encode's
    force: bool  # the last hop of a redirect: queued even if seen


class FrontierScheduler(Scheduler):
    queue: LeasedPriorityQueue
    df: FrontierDupeFilter

    def __init__(
        self,
        crawler: Crawler,
        shared: SharedCrawl,
        poll_interval: float,
        idle_timeout: float,
        outage: Outage | None = None,
        retry_interval: float = 0.0,
        flush_delay: float = 0.0,
        spool_dir: str | os.PathLike[str] = "frontier-spool",
    ) -> None:
        super().__init__(
            server=shared.client,
            persist=True,  # the last worker clears the crawl's keys (SharedCrawl.close)
            queue_key=shared.queue_key,
            dupefilter_key=shared.key("seen"),
        )
        self.crawler = crawler
        self.stats = crawler.stats
        self.shared = shared
        self.poll_interval = poll_interval  # seconds
        self.idle_timeout = idle_timeout  # seconds
        self._leases: dict[str, Request] = {}  # lease field -> the request popped
        # requests the engine is done with whose rows wait for the store's batch number
        # (StorePipeline.commit_mark): (batch, lease field), in order
        self._uncommitted: deque[tuple[int, str]] = deque()
        self._unreleased: list[str] = []  # lease fields whose release Redis did not answer
        self._reclaim_due = False  # a pop failed: Redis may have leased what we never got
        self._reclaimed = 0.0  # monotonic time of the last reclaim
        self._store: StorePipeline | None = None
        self._local: deque[Request] = deque()  # requests that cannot be shared
        # leased from the shared queue, not handed to the engine yet: (lease field, request)
        self._popped: deque[tuple[str, Request]] = deque()
        self._done = False  # the whole crawl is done: close
        self._late = False  # joined a crawl that had finished
        self._idle_since: float | None = None  # monotonic time the crawl looked idle
        self._published = 0.0  # monotonic time of the last stats publication
        self._seeded = False  # the start request is queued (by any process)
        self._seed_due = False  # queued one, and marking the crawl seeded failed
        self._loop: task.LoopingCall | None = None
        self._warned = False  # about the engine's requests in progress
        self.outage = outage or Outage("", 60.0, crawler.stats)
        self._unqueued: deque[Request] = deque()  # to queue once Redis answers again
        self._gave_up = False  # Redis did not answer for the outage timeout: closing
        # seconds between two polls during an outage (the socket timeout): a hung Redis
        # holds the reactor for each failed call, at most half of the time then
        self.retry_interval = retry_interval
        self._failed_at = 0.0  # monotonic time the last failed call ended
        self._queued = 0  # requests in the shared queue at the last poll
        self._buffer: list[_Pending] = []  # to queue at the next flush (write-behind)
        self.flush_delay = flush_delay  # seconds from the first buffered request to the flush
        self._flush_call: CallLaterOnce[None] = CallLaterOnce(self._flush_soon)
        # requests this worker could not queue are left here at close (the spool)
        self.spool = (Path(spool_dir) / quote(shared.crawl_id, safe="")).absolute()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        shared = SharedCrawl.from_settings(settings)
        if shared is None:
            raise NotConfigured("FrontierScheduler needs CRAWLER_FRONTIER (a redis:// URL)")
        return cls(
            crawler,
            shared,
            settings.getfloat("CRAWLER_FRONTIER_POLL_INTERVAL"),
            settings.getfloat("CRAWLER_FRONTIER_IDLE_TIMEOUT"),
            Outage(
                settings.get("CRAWLER_FRONTIER"),
                settings.getfloat("CRAWLER_FRONTIER_OUTAGE_TIMEOUT"),
                crawler.stats,
            ),
            settings.getfloat("CRAWLER_FRONTIER_SOCKET_TIMEOUT"),
            settings.getfloat("CRAWLER_FRONTIER_FLUSH_DELAY"),
            settings.get("CRAWLER_FRONTIER_SPOOL_DIR") or "frontier-spool",
        )

    def open(self, spider: Spider) -> None:
        # scrapy-redis's open, without its "Resuming crawl" line (Spider.log, deprecated):
        # joining a crawl with queued requests is the normal case here.
        self.spider = spider
        self.queue = LeasedPriorityQueue(
            server=self.server, spider=spider, key=self.queue_key, serializer=self.serializer
        )
        self.df = FrontierDupeFilter.from_spider(spider)
        self.queue.shared = self.shared
        from crawler.pipelines.store import StorePipeline  # it imports this module lazily

        self._store = self.crawler.get_item_pipeline(StorePipeline)
        if not self.shared.join():
            logger.warning("The crawl %s has finished: nothing to do", self.shared.crawl_id)
            self.stats.set_value("frontier/joined_finished", True)
            self._done = self._late = True
        self._seeded = self.shared.seeded()
        self.stats.set_value("frontier/crawl_id", self.shared.crawl_id)
        self.stats.set_value("frontier/worker", self.shared.worker)
        if not self._late:
            self._queue_spool()
        self._loop = task.LoopingCall(self._poll)
        self._loop.start(self.poll_interval, now=False)

    def close(self, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._flush_call.cancel()
        # Redis down (an outage under way, or this call fails): this worker's leases
        # expire, and another worker queues their requests again.
        if self.outage.since is None:  # else no call to wait a socket timeout for
            try:
                self._enqueue_unqueued()  # an outage just over, not polled since
                self._flush()
                if not self._seeded and not self._late:
                    # Closed before its start request was queued (a store error...): the
                    # workers waiting for it may close when idle.
                    self.shared.mark_seeded()
                self._release_done()
            except REDIS_DOWN as e:
                self.outage.failed(e)
        if self.outage.since is not None:
            # read by the store's close (StorePipeline): no call to Redis then, which
            # could still run once it resumes and close the crawl there
            self.stats.set_value(UNREACHABLE_AT_CLOSE, True)
        self._unqueue_buffer()
        spooled = self._write_spool(self._unqueued) if reason == FRONTIER_UNREACHABLE_REASON else 0
        lost = len(self._unqueued) - spooled + len(self._local)
        if lost:  # closing with Redis down (frontier_unreachable): no one will crawl them
            self.stats.set_value("frontier/requests_lost", lost)
            logger.error(
                "%d requests this worker found were never queued in the shared crawl "
                "(Redis did not answer, or they cannot be serialised): their pages are "
                "not crawled",
                lost,
            )
        super().close(reason)  # persist: nothing deleted

    def _write_spool(self, requests: deque[Request]) -> int:
        """Write ``requests`` (not queued: Redis did not answer) to a new file of the
        spool, encoded as the queue encodes them; returns how many it holds (0 when
        the file cannot be written: logged)."""
        blobs = []
        for request in requests:
            try:
                blobs.append(self.queue.encode(request))
            except Exception:  # cannot be serialised: counted lost
                continue
        if not blobs:
            return 0
        path = self.spool / f"{quote(self.shared.worker, safe='')}-{time.time_ns()}.pickle"
        part = path.with_suffix(".part")
        try:
            self.spool.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.spool.mkdir(mode=0o700, exist_ok=True)
            problem = self._spool_problem()
            if problem is not None:  # a reader would refuse it
                raise OSError(problem)
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pickle.dumps(blobs, protocol=pickle.HIGHEST_PROTOCOL))
            os.replace(part, path)
        except OSError as e:
            logger.error("Cannot keep the requests not queued in %s: %s", path, e)
            return 0
        self.stats.set_value("frontier/spooled", len(blobs))
        logger.warning(
            "%d requests this worker found could not be queued in the shared crawl (Redis "
            "did not answer): kept in %s; the next worker to join crawl %s from this "
            "directory queues them (crawler worker REDIS_URL --crawl %s)",
            len(blobs),
            path,
            self.shared.crawl_id,
            self.shared.crawl_id,
        )
        return len(blobs)

    def _queue_spool(self) -> None:
        """Queue the requests earlier processes of this crawl left in the spool (those
        Redis already has are dropped by the seen set); a file goes once Redis has
        its requests, and stays, with its requests dropped here, while Redis does not
        answer.  An unreadable file is logged and left, and so is one that is not this
        user's own and private (:func:`~crawler.utils.files.private_path_problem`, the
        spool's directories too): a pickle can run code."""
        if not os.path.lexists(self.spool):  # nothing kept for this crawl here
            return
        problem = self._spool_problem()
        if problem is not None:
            logger.error("Not reading the spool %s: %s", self.spool, problem)
            return
        try:
            paths = sorted(self.spool.glob("*.pickle"))
        except OSError:
            return
        queued = 0
        for path in paths:
            problem = private_path_problem(path, directory=False)
            if problem is not None:
                logger.error(
                    "Not reading the spool file %s (left there): it is %s, and a pickle "
                    "can run code",
                    path,
                    problem,
                )
                continue
            try:
                blobs = pickle.loads(path.read_bytes())
                requests = [self.queue.decode(blob) for blob in blobs]
            except FileNotFoundError:
                continue  # another worker queued it meanwhile
            except Exception as e:  # a damaged or foreign file
                logger.error(
                    "Cannot read the spool file %s (left there): %s: %s",
                    path,
                    type(e).__name__,
                    e,
                )
                continue
            for request in requests:
                self.enqueue_request(request)
            try:
                self._flush()
            except REDIS_DOWN as e:
                self._redis_failed(e)
                mine = {id(r) for r in requests}  # the file keeps them
                self._unqueued = deque(r for r in self._unqueued if id(r) not in mine)
                return
            path.unlink(missing_ok=True)
            queued += len(requests)
            logger.info("Queued the %d requests of %s", len(requests), path)
        if queued:
            self.stats.inc_value("frontier/spool_queued", queued)
            with contextlib.suppress(OSError):  # another file may have come meanwhile
                self.spool.rmdir()

    def _spool_problem(self) -> str | None:
        """Why the spool's directories are not this user's own and private, or None."""
        for directory in (self.spool.parent, self.spool):
            problem = private_path_problem(directory, directory=True)
            if problem is not None:
                return f"{directory} is {problem}"
        return None

    def __len__(self) -> int:
        """The shared queue's length at the last poll, plus this worker's requests
        waiting: no Redis call (the progress line asks at every redraw, on the
        reactor thread, Redis up or hung)."""
        return (
            self._queued
            + len(self._local)
            + len(self._popped)
            + len(self._unqueued)
            + len(self._buffer)
        )

    def enqueue_request(self, request: Request) -> bool:
        """Queue ``request`` unless its fingerprint is in the shared seen set: no
        Redis round trip here (see the module: the write-behind buffer, flushed
        ``flush_delay`` later in one round trip for all); a request this
        process knows was seen (:class:`FrontierDupeFilter`'s cache) is dropped at
        once (``False``)."""
        if self._done:  # a worker that joined a finished crawl (its start request)
            return False
        if self.outage.since is not None:  # Redis is down: the next poll that reaches it
            # queues it (one failed call per poll, not per link); one known seen is
            # dropped here, as ever (a long outage does not pile up duplicates)
            if not request.dont_filter and self._known_duplicate(
                request, self.df.request_fingerprint(request)
            ):
                return False
            self._unqueued.append(request)
            return True
        try:
            return self._enqueue(request)
        except REDIS_DOWN as e:  # queued once Redis answers again (_poll_once)
            self._unqueued.append(request)
            self._redis_failed(e)
            return True

    def _enqueue(self, request: Request) -> bool:
        """Put ``request`` in the write-behind buffer (and schedule its flush), or keep
        it in this process when it cannot be encoded; ``False``: a known duplicate.
        Calls Redis only for a request that cannot be encoded (its ``SADD``)."""
        fingerprint = None
        if not request.dont_filter:
            fingerprint = self.df.request_fingerprint(request)
            if self._known_duplicate(request, fingerprint):
                return False
        try:
            data = self.queue.encode(request)
        except Exception as e:  # to_dict (a callback not of the spider) or pickle
            if fingerprint is not None and self.df.request_seen(request):
                self.df.log(request, self.spider)
                return False
            self._keep_local(request, e)
            self._counted(1)
            return True
        redirected = bool(request.meta.get("redirect_urls"))
        self._buffer.append(_Pending(request, fingerprint, -request.priority, data, redirected))
        self._flush_call.schedule(self.flush_delay)
        return True

    def _flush(self, pop: int = 0) -> list[tuple[str, Request]]:
        """Queue the write-behind buffer in one round trip, and lease the ``pop`` best
        requests in the same one (:meth:`LeasedPriorityQueue.push_many_pop`); returns
        those.  Duplicates found are dropped as the duplicate filter drops them.  On
        any error the buffer's requests move to ``_unqueued`` (queued by the next poll
        Redis answers: nothing lost) and the error is raised."""
        pending, self._buffer = self._buffer, []
        if not pending and not pop:
            return []
        try:
            added, popped = self.queue.push_many_pop(
                [(p.fingerprint, p.score, p.data, p.force) for p in pending], pop
            )
        except Exception:
            self._unqueued.extendleft(reversed([p.request for p in pending]))
            raise
        queued = 0
        for item, was_added in zip(pending, added, strict=True):
            if item.fingerprint is not None:
                self.df.remember(item.fingerprint)
                if self.df.seen_after(item.request, was_added):
                    self.df.log(item.request, self.spider)
                    continue
            queued += 1
        self._counted(queued)
        return popped

    def _counted(self, queued: int) -> None:
        """``queued`` requests were queued (or kept here): count them; the first one
        of the crawl marks it seeded (the start request is queued)."""
        if not queued:
            return
        self.stats.inc_value("scheduler/enqueued/redis", queued)
        if not self._seeded:
            try:
                self.shared.mark_seeded()
            except REDIS_DOWN as e:  # queued all the same: the next poll marks it
                self._seed_due = True
                self._redis_failed(e)
                return
            self._seeded = True

    def _enqueue_unqueued(self) -> None:
        """Move the requests yielded while Redis was down to the write-behind buffer
        (each leaves ``_unqueued`` once :meth:`_enqueue` has it: a failure leaves the
        rest there)."""
        while self._unqueued:
            self._enqueue(self._unqueued[0])
            self._unqueued.popleft()

    def _unqueue_buffer(self) -> None:
        """Move the write-behind buffer to ``_unqueued`` without asking Redis."""
        self._unqueued.extend(p.request for p in self._buffer)
        self._buffer = []

    def _flush_soon(self) -> None:
        """``flush_delay`` after a request was buffered: queue the buffer, and lease
        :data:`POP_BATCH` more in the same round trip when this worker has none
        popped left and the engine has room (it asks for one soon)."""
        if not self._buffer:
            return
        if self.outage.since is not None:  # the next poll that reaches Redis queues them
            self._unqueue_buffer()
            return
        pop = POP_BATCH if not self._popped and not self._done and self._has_room() else 0
        try:
            self._popped.extend(self._flush(pop))
        except REDIS_DOWN as e:
            if pop:
                self._reclaim_due = True
            self._redis_failed(e)
        except Exception as e:  # queued by the next poll (_unqueued)
            logger.warning("Frontier flush failed: %s", e)
        else:
            if self._popped:
                self._wake_engine()

    def _has_room(self) -> bool:
        """Whether the engine would take another request now (Scrapy's
        ``needs_backout``; no engine yet: no)."""
        engine: Any = getattr(self.crawler, "engine", None)
        return engine is not None and engine.spider is not None and not engine.needs_backout()

    def _known_duplicate(self, request: Request, fingerprint: bytes) -> bool:
        """Whether ``request`` (fingerprint ``fingerprint``) is certainly in the shared
        seen set, asking no one (:meth:`FrontierDupeFilter.known`): then it is dropped
        as the duplicate filter drops one.  Never the last hop of a redirect."""
        if request.meta.get("redirect_urls") or not self.df.known(fingerprint):
            return False
        self.df.seen_after(request, added=False)  # seen: tells ScheduledUrls
        self.df.log(request, self.spider)
        return True

    def _keep_local(self, request: Request, error: Exception) -> None:
        self.stats.inc_value("frontier/unserializable")
        logger.warning(
            "Request %s cannot be shared with other workers (%s): it stays in this "
            "one, and a kill would lose it",
            request,
            error,
        )
        self._local.append(request)

    def next_request(self) -> Request | None:
        if self._local:
            return self._local.popleft()
        if not self._popped:
            if self.outage.since is not None:
                return None  # Redis is down: the next poll tries it (not every engine call)
            try:  # and queue the buffer: one round trip
                self._popped.extend(self._flush(POP_BATCH))
            except REDIS_DOWN as e:
                # Redis may have run the pop and its answer be lost: _reclaim
                self._reclaim_due = True
                self._redis_failed(e)
                return None
            if not self._popped:
                return None
        field, request = self._popped.popleft()
        if not request.dont_filter:  # queued by queue_many: its fingerprint is in the seen set
            self.df.remember(self.df.request_fingerprint(request))
        self._leases[field] = request
        self.stats.inc_value("scheduler/dequeued/redis")
        self.stats.inc_value("frontier/leased")
        return request

    def has_pending_requests(self) -> bool:
        """Until the whole crawl is done (see the module), not only this worker's part."""
        return (
            not self._done
            or bool(self._local)
            or bool(self._popped)
            or bool(self._unqueued)
            or bool(self._buffer)
        )

    # -- every CRAWLER_FRONTIER_POLL_INTERVAL seconds ---------------------------

    def _poll(self) -> None:
        if self.outage.since is not None and (
            time.monotonic() - self._failed_at < self.retry_interval or self._closing()
        ):
            return  # Redis is down: the engine's turn (downloads, Ctrl-C, closing) first
        try:
            self._poll_once()
        except REDIS_DOWN as e:  # try again at the next poll
            self._redis_failed(e)
        except Exception as e:
            logger.warning("Frontier poll failed: %s", e)
        else:
            self.outage.ended()

    def _redis_failed(self, error: BaseException) -> None:
        """A Redis call failed (:class:`~crawler.frontier.outage.Outage`); after the
        outage timeout, close the spider (``frontier_unreachable``)."""
        self._failed_at = time.monotonic()
        if self.outage.failed(error):
            self._give_up(
                "The frontier's Redis at %s did not answer for %g s "
                "(CRAWLER_FRONTIER_OUTAGE_TIMEOUT): closing before the crawl is done",
                self.outage.url,
                self.outage.timeout,
            )

    def _give_up(self, message: str, *args: Any) -> None:
        """Close the spider as ``frontier_unreachable`` (once), logging ``message``."""
        if self._gave_up:
            return
        self._gave_up = True
        logger.error(message, *args)
        engine: Any = getattr(self.crawler, "engine", None)
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason=FRONTIER_UNREACHABLE_REASON))

    def _keys_lost(self) -> None:
        """The crawl's ``meta`` key is gone (Redis restarted empty, or was flushed):
        its queue and seen set are lost; close as ``frontier_unreachable``."""
        self.stats.set_value("frontier/error", FRONTIER_KEYS_LOST)
        self._give_up(
            "The frontier's Redis at %s has lost the crawl %s (restarted empty? "
            "flushed?): closing before the crawl is done",
            self.outage.url,
            self.shared.crawl_id,
        )

    def _poll_once(self) -> None:
        if self._late:
            self._wake_engine()
            return
        shared = self.shared
        self._enqueue_unqueued()
        self._flush()  # before the release: the pages' requests are in Redis first
        now = time.monotonic()
        if self._reclaim_due or now - self._reclaimed >= STATS_INTERVAL:
            self._reclaim()  # before _releasable takes fields out of what it holds
        done = self._releasable()
        try:  # the heartbeat, the release and the survey: one round trip
            queued, leased, requeued, dead = shared.poll(done)
        except REDIS_DOWN:
            self._unreleased = done  # released at the next poll Redis answers
            raise
        if done:
            self.stats.inc_value("frontier/released", len(done))
        self._queued = queued
        if requeued or dead:
            self.stats.inc_value("frontier/requeued", requeued)
            self.stats.inc_value("frontier/dead_workers", len(dead))
            logger.warning(
                "Worker(s) %s stopped answering: %d requests they held are queued again",
                ", ".join(dead),
                requeued,
            )
        if now - self._published >= STATS_INTERVAL:
            self._published = now
            shared.publish_stats(self.stats.get_stats())
            if not shared.exists():
                self._keys_lost()
        if self._seed_due:
            shared.mark_seeded()
            self._seeded, self._seed_due = True, False
        if not self._seeded:
            self._seeded = shared.seeded()
        busy = (
            self._leases
            or self._uncommitted
            or self._unreleased
            or self._local
            or self._popped
            or self._unqueued
            or self._buffer
        )
        if queued or leased or busy or not self._seeded:
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = now
        elif now - self._idle_since >= self.idle_timeout and not (self._done or self._gave_up):
            if not shared.exists():
                # An empty queue is also what a Redis that restarted empty (or was
                # flushed) shows: never call that crawl done.
                self._keys_lost()
                return
            logger.info(
                "The shared queue of crawl %s has been empty, with no request in flight, "
                "for %g s: closing",
                shared.crawl_id,
                self.idle_timeout,
            )
            self._done = True
        if queued or self._popped or self._done:
            self._wake_engine()

    def _releasable(self) -> list[str]:
        """The lease fields of the requests the engine no longer has in progress
        and whose rows the store has committed (and of the releases Redis did not
        answer), taken out of what this worker holds: the caller releases them."""
        if self._leases:
            self._engine_done()
        done, self._unreleased = self._unreleased, []
        committed = self._store.committed if self._store is not None else 0
        while self._uncommitted and self._uncommitted[0][0] <= committed:
            done.append(self._uncommitted.popleft()[1])
        return done

    def _release_done(self) -> None:
        """Release the leases of :meth:`_releasable` (at close: the poll releases
        them with its heartbeat)."""
        done = self._releasable()
        if done:
            try:
                self.shared.release(done)
            except REDIS_DOWN:
                self._unreleased = done  # released at the next poll Redis answers
                raise
            self.stats.inc_value("frontier/released", len(done))

    def _reclaim(self) -> None:
        """Queue again the leases Redis holds for this worker that it does not know
        of (:meth:`SharedCrawl.requeue_unknown`): a pop whose answer was lost (a connection
        that timed out while Redis hung, after Redis ran it) leased requests nobody
        would fetch or release, and the crawl would never be idle.  After a failed
        pop, and every :data:`STATS_INTERVAL` seconds; stat ``frontier/reclaimed``."""
        held = [*self._leases, *(f for f, _ in self._popped)]
        held += [field for _, field in self._uncommitted] + self._unreleased
        reclaimed = self.shared.requeue_unknown(held)
        self._reclaim_due = False
        self._reclaimed = time.monotonic()
        if reclaimed:
            self.stats.inc_value("frontier/reclaimed", reclaimed)
            logger.warning(
                "%d requests leased to this worker by a pop whose answer was lost are queued again",
                reclaimed,
            )

    def _engine_done(self) -> None:
        """Move the requests the engine no longer has in progress from
        ``_leases`` to ``_uncommitted``, with the batch that holds their rows."""
        in_progress = self._in_progress()
        if in_progress is None:  # another Scrapy: release at the next poll (a kill may lose)
            if not self._warned:
                self._warned = True
                logger.warning(
                    "This Scrapy's engine does not show its requests in progress: leases "
                    "are released at the next poll, and a killed worker may lose requests"
                )
            in_progress = set()
        done = [field for field, request in self._leases.items() if request not in in_progress]
        # Their rows passed the item pipelines before the engine let them go.
        mark = self._store.commit_mark() if self._store is not None else 0
        for field in done:
            del self._leases[field]
            self._uncommitted.append((mark, field))

    def _in_progress(self) -> set[Request] | None:
        """The engine's requests between the scheduler and the end of their
        callback's output (Scrapy's ``ExecutionEngine._slot.inprogress``: no
        public API tells when a request is done with)."""
        engine: Any = getattr(self.crawler, "engine", None)
        slot = getattr(engine, "_slot", None)
        return getattr(slot, "inprogress", None)

    def _closing(self) -> bool:
        """Whether the engine is closing the spider (Scrapy's ``_slot.closing``, set
        while it waits for the requests in progress: no public API tells)."""
        engine: Any = getattr(self.crawler, "engine", None)
        return getattr(getattr(engine, "_slot", None), "closing", None) is not None

    def _wake_engine(self) -> None:
        engine: Any = getattr(self.crawler, "engine", None)
        slot = getattr(engine, "_slot", None)
        if slot is not None and (self._done or not engine.needs_backout()):
            slot.nextcall.schedule()
