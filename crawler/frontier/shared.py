"""One crawl shared by several processes through Redis: keys, leases, liveness, the run.

Every key of a crawl lives under its prefix ``crawler:<crawl id>``
(``CRAWLER_FRONTIER_PREFIX``):

``<prefix>:meta``
    hash: ``options`` (JSON: spider, spider arguments, settings minus secrets,
    store URL without its password), ``state`` (``running``/``finished``),
    ``published`` (Redis's clock, seconds), ``run_id`` once the store has a run,
    ``seeded`` once the start request is queued.
``<prefix>:requests``
    sorted set: scrapy-redis's priority queue (score: minus the priority).
``<prefix>:seen``
    set: the fingerprints (20 bytes, Scrapy's request fingerprinter) of every
    request scheduled.
``<prefix>:lease:<worker>``
    hash: the requests a worker popped and has not finished (field
    ``<sequence>:<score>``, value the queued bytes).
``<prefix>:alive:<worker>``
    string with an expiry of ``CRAWLER_FRONTIER_LEASE_TIMEOUT`` seconds, renewed
    every ``CRAWLER_FRONTIER_POLL_INTERVAL``: a worker whose key expired is dead,
    and the next worker to look puts its leased requests back in the queue.
``<prefix>:workers`` / ``<prefix>:active``
    sets: the workers holding leases (live ones) / that have not closed yet.
``<prefix>:stats``
    hash: each worker's Scrapy stats (JSON), published while it runs and when it
    closes; the last worker to close merges them (:func:`merge_stats`) into the run.
    A worker that closes while others are still ``active`` waits until each has
    closed, renewed its ``alive`` key or let it expire (:meth:`SharedCrawl.close`):
    a killed one does not keep the run from being finished.

While a crawl runs its keys expire ``CRAWLER_FRONTIER_KEY_TTL`` seconds (a day)
after the last refresh, which each live worker makes with its stats every 2 s
(:meth:`SharedCrawl.publish_stats`): a crawl whose processes all died (SIGKILL,
Redis down at their close) leaves nothing for ever.  A finished crawl keeps only
``meta``, ``finished`` and ``run_claim``, for :data:`FINISHED_TTL`.
:func:`crawl_statuses` tells a crawl someone works on from a dead one.

Every multi-key step is one Lua script, so two workers never see half of it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from crawler.default_settings import CRAWLER_FRONTIER_SOCKET_TIMEOUT
from crawler.exceptions import ConfigError
from crawler.redaction import MASKER, NOT_SECRET_NAME, SECRET_NAME, redact_text, redact_url

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    import redis
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

#: The key prefix of every crawl: ``crawler:<crawl id>``.
PREFIX_ROOT = "crawler"
#: Set of the crawl ids started on a Redis database (for ``crawler worker`` without --crawl).
CRAWLS_KEY = f"{PREFIX_ROOT}:crawls"
#: Seconds a finished crawl's ``meta`` hash stays in Redis (its other keys go at once).
FINISHED_TTL = 7 * 24 * 3600
#: Seconds after its publication a crawl with no live worker yet counts as starting
#: (joinable), not dead: its starter joins it once Scrapy opens (a few seconds).
START_GRACE = 120.0
#: What :func:`crawl_statuses` says of a crawl: a process works on it, it was just
#: published, no process works on it any more, it finished, its ``meta`` is gone.
RUNNING, STARTING, DEAD, FINISHED, MISSING = "running", "starting", "dead", "finished", "missing"
#: The statuses of a crawl a worker may join.
JOINABLE = frozenset({RUNNING, STARTING})
#: The Redis password when the URL has none: redis-cli's own variable (Redis 5.0.3+,
#: ``man redis-cli``; a password given in its ``-u`` URL or ``-a`` wins, as here).
#: Kept out of the URL, it is not in shell history, ``ps`` or the crawl's settings.
PASSWORD_ENV = "REDISCLI_AUTH"

# Queue many requests (each unless its fingerprint was seen), then pop the best ones
# and lease them to the worker: KEYS seen, queue, lease hash, sequence; ARGV how
# many to pop (0: none), then four per request: fingerprint ('' to queue it without
# the seen set: dont_filter), score, the request's bytes, '1' to queue it even if
# seen.  Returns {one 1/0 a request: its fingerprint was added (1 without one),
# field, request, field, request...}.
_QUEUE_POP = """
local out = {}
for i = 2, #ARGV, 4 do
  local added = 1
  if ARGV[i] ~= '' then added = redis.call('SADD', KEYS[1], ARGV[i]) end
  if added == 1 or ARGV[i + 3] == '1' then
    redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i + 2])
  end
  table.insert(out, added)
end
if tonumber(ARGV[1]) > 0 then
  local r = redis.call('ZPOPMIN', KEYS[2], ARGV[1])
  for i = 1, #r, 2 do
    local field = redis.call('INCR', KEYS[4]) .. ':' .. r[i + 1]
    redis.call('HSET', KEYS[3], field, r[i])
    table.insert(out, field)
    table.insert(out, r[i])
  end
end
return out
"""

# Put back in the queue the requests leased to a worker that it does not know it
# holds (a pop it gave up on, run by Redis after all): KEYS lease hash, queue; ARGV
# the fields the worker holds.  Returns how many were put back.
_REQUEUE_UNKNOWN = """
local known = {}
for i = 1, #ARGV do known[ARGV[i]] = true end
local f = redis.call('HGETALL', KEYS[1])
local requeued = 0
for i = 1, #f, 2 do
  if not known[f[i]] then
    redis.call('ZADD', KEYS[2], string.match(f[i], ':(.*)$'), f[i + 1])
    redis.call('HDEL', KEYS[1], f[i])
    requeued = requeued + 1
  end
end
return requeued
"""

# Renew a worker's liveness: KEYS alive, workers; ARGV worker, ttl (ms).
_BEAT = """
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

# A worker's stats, and the crawl's keys kept CRAWLER_FRONTIER_KEY_TTL longer, unless
# the crawl finished (its keys then live FINISHED_TTL): KEYS finished, stats, the keys
# to keep after it; ARGV worker, its stats (JSON), ttl (ms).  Returns 1 when published.
_PUBLISH = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
for i = 2, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
return 1
"""

# A worker's poll in one round trip: its liveness renewed (_BEAT), the leases it is
# done with released, then the leases of every worker whose liveness key expired put
# back in the queue, and what is queued and leased counted: KEYS alive, workers, lease
# hash, queue, active; ARGV worker, ttl (ms), prefix, the lease fields to release...
# Returns {queued, leased, requeued, dead workers...}.
_POLL = """
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
for i = 4, #ARGV, 1000 do
  redis.call('HDEL', KEYS[3], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
local requeued, leased, dead = 0, 0, {}
for _, w in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local lease = ARGV[3] .. ':lease:' .. w
  if redis.call('EXISTS', ARGV[3] .. ':alive:' .. w) == 0 then
    local f = redis.call('HGETALL', lease)
    for i = 1, #f, 2 do
      redis.call('ZADD', KEYS[4], string.match(f[i], ':(.*)$'), f[i + 1])
      requeued = requeued + 1
    end
    redis.call('DEL', lease)
    redis.call('SREM', KEYS[2], w)
    redis.call('SREM', KEYS[5], w)
    table.insert(dead, w)
  else
    leased = leased + redis.call('HLEN', lease)
  end
end
local result = {redis.call('ZCARD', KEYS[4]), leased, requeued}
for _, w in ipairs(dead) do table.insert(result, w) end
return result
"""

# A worker closes: KEYS stats, active, finished, workers, alive, lease, queue;
# ARGV worker, its stats (JSON).  Its leases go back to the queue (a worker
# closed early: --max-pages, Ctrl-C).  Nothing when the crawl finished
# already (a worker that joined it late).  Returns every worker's stats when it is
# the last one (and only to it), else nil.
_CLOSE = """
if redis.call('EXISTS', KEYS[3]) == 1 then return nil end
local f = redis.call('HGETALL', KEYS[6])
for i = 1, #f, 2 do
  redis.call('ZADD', KEYS[7], string.match(f[i], ':(.*)$'), f[i + 1])
end
redis.call('DEL', KEYS[6], KEYS[5])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SREM', KEYS[2], ARGV[1])
if redis.call('SCARD', KEYS[2]) > 0 then return nil end
if redis.call('SET', KEYS[3], ARGV[1], 'NX') == false then return nil end
return redis.call('HGETALL', KEYS[1])
"""


# A closed worker that was not the last finds out whether it is after all: KEYS active,
# workers, queue, finished, stats; ARGV prefix, worker.  Each worker still active whose
# liveness key expired (killed) is taken out, its leases put back.  Returns {0, requeued}
# when another worker finished the crawl, {1, requeued} while others are active, else (the
# last) {2, requeued, every worker's stats...}.
_LAST = """
if redis.call('EXISTS', KEYS[4]) == 1 then return {0, 0} end
local requeued = 0
for _, w in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. ':alive:' .. w) == 0 then
    local lease = ARGV[1] .. ':lease:' .. w
    local f = redis.call('HGETALL', lease)
    for i = 1, #f, 2 do
      redis.call('ZADD', KEYS[3], string.match(f[i], ':(.*)$'), f[i + 1])
      requeued = requeued + 1
    end
    redis.call('DEL', lease)
    redis.call('SREM', KEYS[1], w)
    redis.call('SREM', KEYS[2], w)
  end
end
if redis.call('SCARD', KEYS[1]) > 0 then return {1, requeued} end
if redis.call('SET', KEYS[4], ARGV[2], 'NX') == false then return {0, requeued} end
local out = {2, requeued}
for _, v in ipairs(redis.call('HGETALL', KEYS[5])) do table.insert(out, v) end
return out
"""

#: Seconds between two looks of a closing worker at the workers still active.
CLOSE_POLL = 0.1


# A worker joins unless the crawl finished: KEYS finished, active; ARGV worker.
_JOIN = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""


def env_password(url: str) -> str | None:
    """The password for the Redis at ``url`` from :data:`PASSWORD_ENV`: ``None`` when
    the URL has one (it wins) or the variable is unset or empty.  Every client of
    the frontier's Redis logs in with it; this process's logs mask it from then on
    (:data:`crawler.redaction.MASKER`)."""
    if urlsplit(url).password is not None:
        return None
    password = os.environ.get(PASSWORD_ENV) or None
    MASKER.add(password)
    return password


def joinable_url(url: str) -> tuple[str, bool]:
    """``url`` as a ``crawler worker`` command line may show it: without its
    password, and whether the workers need one (from the URL or
    :data:`PASSWORD_ENV`), which they take from :data:`PASSWORD_ENV`."""
    return store_without_password(url), bool(urlsplit(url).password or env_password(url))


def client_options(timeout: float, *, asynchronous: bool = False) -> dict[str, Any]:
    """The redis-py options of every client of the frontier's Redis: ``timeout``
    seconds (``CRAWLER_FRONTIER_SOCKET_TIMEOUT``) to connect and for each answer,
    and no retry of redis-py's own (``retry_on_timeout`` off, ``Retry`` of 0
    retries; ``asynchronous``: the ``redis.asyncio`` one).  A call to a Redis
    that is down or hung thus fails within ``timeout`` with a
    ``redis.ConnectionError`` / ``redis.TimeoutError``, and the caller's outage
    handling is the retry (:mod:`crawler.frontier.outage`): these calls run on
    the crawl's reactor thread, which a retrying call would hold for minutes."""
    from redis.backoff import NoBackoff

    if asynchronous:
        from redis.asyncio.retry import Retry as AsyncRetry

        retry: Any = AsyncRetry(NoBackoff(), 0)
    else:
        from redis.retry import Retry

        retry = Retry(NoBackoff(), 0)
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry_on_timeout": False,
        "retry": retry,
    }


def connect(
    url: str, timeout: float = CRAWLER_FRONTIER_SOCKET_TIMEOUT, option: str = "--frontier"
) -> redis.Redis:
    """A client of the Redis at ``url`` (``redis://HOST:PORT/DB``), pinged once;
    the password is the URL's, else :data:`PASSWORD_ENV`'s (:func:`env_password`).
    Each call fails after ``timeout`` seconds without an answer
    (:func:`client_options`: ``CRAWLER_FRONTIER_SOCKET_TIMEOUT``), not retried.

    Raises :class:`~crawler.exceptions.ConfigError` naming the server (its
    password masked) when it cannot be reached, does not answer within
    ``timeout`` or refuses the login, with a
    hint that fits the error and names where the URL was given (``option``:
    ``--frontier`` for ``crawler crawl``, ``REDIS_URL`` for ``crawler worker``)."""
    # Here, not at the top: every crawl imports this module, few have a frontier.
    import redis

    shown = redact_url(url)
    where = option if option.endswith("URL") else f"{option} URL"
    password = env_password(url)
    try:
        client = redis.Redis.from_url(
            url,
            password=password,  # the URL's own, when it has one, wins (redis-py)
            **client_options(timeout),
        )
        client.ping()
    except ValueError as e:
        raise ConfigError(
            f"{option} {shown}: not a Redis URL ({e}): give redis://HOST:PORT/DB"
        ) from None
    except redis.AuthenticationError as e:
        if password is not None:
            hint = f"check the password in {PASSWORD_ENV}"
        elif urlsplit(url).password is None:
            hint = f"it needs a password: set {PASSWORD_ENV} to it"
        else:
            hint = f"check the password in {option} (or leave it out and set {PASSWORD_ENV} to it)"
        raise ConfigError(
            f"the frontier's Redis at {shown} refused the login ({_sentence(e)}): {hint}"
        ) from None
    except redis.TimeoutError as e:  # hung (its host frozen, a partition) or overloaded
        raise ConfigError(
            f"the frontier's Redis at {shown} did not answer within {timeout:g} s "
            f"({_sentence(e)}; CRAWLER_FRONTIER_SOCKET_TIMEOUT): check that it runs and "
            f"is reachable, or give another {where}"
        ) from None
    except redis.ConnectionError as e:
        raise ConfigError(
            f"cannot reach the frontier's Redis at {shown} ({_sentence(e)}): start "
            f"redis-server there or give another {where}"
        ) from None
    except redis.RedisError as e:  # the server answered with an error (a DB out of range)
        raise ConfigError(
            f"the frontier's Redis at {shown} refused the connection ({_sentence(e)}): "
            f"check {option} (redis://HOST:PORT/DB)"
        ) from None
    return client


def _sentence(error: BaseException) -> str:
    """``error``'s text without its final period (it is put inside a sentence), no
    secrets (:func:`crawler.redaction.redact_text`)."""
    return redact_text(str(error)).strip().rstrip(".") or type(error).__name__


def new_crawl_id() -> str:
    """A fresh crawl id: 12 hexadecimal digits."""
    return uuid.uuid4().hex[:12]


def crawl_prefix(crawl_id: str) -> str:
    return f"{PREFIX_ROOT}:{crawl_id}"


def default_worker_id() -> str:
    """``<host>-<pid>-<random>``: unique among the workers of a crawl."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


_WORKER_ID: list[str] = []


def _process_worker_id() -> str:
    """One :func:`default_worker_id` for every component of this process."""
    if not _WORKER_ID:
        _WORKER_ID.append(default_worker_id())
    return _WORKER_ID[0]


def frontier_overrides(url: str, crawl_id: str, worker: str | None = None) -> dict[str, Any]:
    """The settings that make a crawl process a worker of the shared crawl ``crawl_id``
    on the Redis at ``url``."""
    return {
        "CRAWLER_FRONTIER": url,
        "CRAWLER_FRONTIER_PREFIX": crawl_prefix(crawl_id),
        "CRAWLER_FRONTIER_WORKER": worker or default_worker_id(),
        "SCHEDULER": "crawler.frontier.scheduler.FrontierScheduler",
    }


#: Settings a worker never takes from the crawl's options: its own files and logging.
LOCAL_SETTINGS = frozenset(
    {
        "CRAWLER_OUTCOME_FILE",
        "CRAWLER_STORE_URL",
        "FEEDS",
        "JOBDIR",
        "LOG_FILE",
        "LOG_LEVEL",
        *frontier_overrides("", "").keys(),
    }
)


def shareable_settings(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` without the settings whose names look secret
    (:data:`crawler.redaction.SECRET_NAME`): what a worker may read from Redis.
    A worker takes those from its own environment and ``-s`` options."""
    return {
        name: value
        for name, value in overrides.items()
        if not (SECRET_NAME.search(name) and not NOT_SECRET_NAME.search(name))
        and name not in LOCAL_SETTINGS
    }


def store_without_password(url: str) -> str:
    """``url`` with its password taken out (a worker gives its own: ``--store``, or
    PostgreSQL's ``PGPASSWORD`` / ``~/.pgpass``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class SharedCrawl:
    """The Redis side of one process of a shared crawl (``CRAWLER_FRONTIER``).

    ``client``: a Redis client; ``prefix``: ``crawler:<crawl id>``; ``worker``:
    this process's id (``CRAWLER_FRONTIER_WORKER``); ``lease_timeout``:
    ``CRAWLER_FRONTIER_LEASE_TIMEOUT``; ``key_ttl``: ``CRAWLER_FRONTIER_KEY_TTL``
    (seconds).
    """

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        worker: str,
        lease_timeout: float = 30.0,
        key_ttl: float = 86400.0,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.worker = worker
        self.lease_timeout = lease_timeout
        self.key_ttl = key_ttl
        self._queue_pop = client.register_script(_QUEUE_POP)
        self._beat = client.register_script(_BEAT)
        self._poll = client.register_script(_POLL)
        self._close = client.register_script(_CLOSE)
        self._join = client.register_script(_JOIN)
        self._last = client.register_script(_LAST)
        self._requeue_unknown = client.register_script(_REQUEUE_UNKNOWN)
        self._publish = client.register_script(_PUBLISH)

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> SharedCrawl | None:
        """The shared crawl of ``settings``, or ``None`` without ``CRAWLER_FRONTIER``."""
        url = settings.get("CRAWLER_FRONTIER")
        if not url:
            return None
        worker = settings.get("CRAWLER_FRONTIER_WORKER") or _process_worker_id()
        return cls(
            connect(url, settings.getfloat("CRAWLER_FRONTIER_SOCKET_TIMEOUT")),
            settings.get("CRAWLER_FRONTIER_PREFIX"),
            worker,
            settings.getfloat("CRAWLER_FRONTIER_LEASE_TIMEOUT"),
            settings.getfloat("CRAWLER_FRONTIER_KEY_TTL"),
        )

    @property
    def crawl_id(self) -> str:
        return self.prefix.rpartition(":")[2]

    def key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    @property
    def queue_key(self) -> str:
        return self.key("requests")

    @property
    def lease_key(self) -> str:
        return self.key(f"lease:{self.worker}")

    @property
    def _ttl_ms(self) -> int:
        return int(self.key_ttl * 1000)

    def _kept_keys(self) -> list[str]:
        """The keys a live worker keeps from expiring (every key of the crawl but
        the other workers' leases, which their own workers keep, and the keys that
        expire by themselves: ``alive:*``, ``politeness:*``)."""
        names = ("stats", "meta", "requests", "seen", "lease_seq", "run_claim", "workers", "active")
        return [*(self.key(name) for name in names), self.lease_key]

    # -- the crawl's options ------------------------------------------------

    def publish(self, options: Mapping[str, Any]) -> None:
        """Record a new crawl's options (JSON-able) for the workers that join it, with
        the time (Redis's clock: the machines' clocks may differ) and an expiry of
        :attr:`key_ttl` seconds (renewed by its workers)."""
        seconds, micros = self.client.time()
        pipe = self.client.pipeline()
        pipe.hset(
            self.key("meta"),
            mapping={
                "options": json.dumps(options),
                "state": RUNNING,
                "published": f"{seconds + micros / 1e6:.3f}",
            },
        )
        pipe.pexpire(self.key("meta"), self._ttl_ms)
        pipe.sadd(CRAWLS_KEY, self.crawl_id)
        pipe.execute()

    def options(self) -> dict[str, Any] | None:
        raw = self.client.hget(self.key("meta"), "options")
        return json.loads(raw) if raw else None

    def state(self) -> str | None:
        raw = self.client.hget(self.key("meta"), "state")
        return raw.decode() if raw else None

    def exists(self) -> bool:
        """Whether the crawl's ``meta`` key is in Redis (gone: Redis lost the crawl)."""
        return bool(self.client.exists(self.key("meta")))

    def mark_seeded(self) -> None:
        """The start request is queued; the keys made so far (queue, seen set) get
        their expiry now, not at the next stats publication."""
        pipe = self.client.pipeline()
        pipe.hset(self.key("meta"), "seeded", "1")
        for name in self._kept_keys():
            pipe.pexpire(name, self._ttl_ms)
        pipe.execute()

    def seeded(self) -> bool:
        return bool(self.client.hexists(self.key("meta"), "seeded"))

    # -- liveness and leases -------------------------------------------------

    def join(self) -> bool:
        """Count this worker as alive and not closed; ``False`` when the crawl has
        finished already (nothing to join)."""
        joined = self._join(keys=[self.key("finished"), self.key("active")], args=[self.worker])
        if joined:
            self.heartbeat()
        return bool(joined)

    def heartbeat(self) -> None:
        self._beat(
            keys=[self.key(f"alive:{self.worker}"), self.key("workers")],
            args=[self.worker, int(self.lease_timeout * 1000)],
        )

    def requeue_unknown(self, held: Iterable[str]) -> int:
        """Put back in the queue the requests leased to this worker whose lease
        fields are not in ``held`` (those it holds); returns how many.

        A pop that timed out here may still run in Redis (the command was sent:
        a Redis that hung, then resumed, runs it), leasing requests this worker
        never got: a live worker's leases never expire, and the crawl would
        never look idle.  The scheduler calls it after a failed pop and every few
        seconds."""
        return int(self._requeue_unknown(keys=[self.lease_key, self.queue_key], args=list(held)))

    def queue_many(
        self, requests: Sequence[tuple[bytes | None, float, bytes, bool]], pop: int = 0
    ) -> tuple[list[bool], list[tuple[str, bytes]]]:
        """Queue each of ``requests`` (fingerprint, or ``None`` to queue it without
        the seen set; score, minus its priority; bytes; force), in order: its
        fingerprint is added to the seen set and, if it was not there (or with
        force: the last hop of a redirect), the request is queued.  Then lease
        the ``pop`` best queued requests (0: none) to this worker.  One round trip
        for all.  Returns whether each fingerprint was added (``True`` without
        one), and what was popped, best first, with the lease fields."""
        args: list[bytes | float | int | str] = [pop]
        for fingerprint, score, data, force in requests:
            args += [fingerprint or b"", score, data, int(force)]
        result = self._queue_pop(
            keys=[self.key("seen"), self.queue_key, self.lease_key, self.key("lease_seq")],
            args=args,
        )
        count = len(requests)
        added = [bool(flag) for flag in result[:count]]
        rest = result[count:]
        return added, [(rest[i].decode(), rest[i + 1]) for i in range(0, len(rest), 2)]

    def release(self, fields: Iterable[str]) -> None:
        """The leased requests ``fields`` are done (their pages handled, the requests
        they led to queued)."""
        fields = list(fields)
        if fields:
            self.client.hdel(self.lease_key, *fields)

    def poll(self, released: Iterable[str]) -> tuple[int, int, int, list[str]]:
        """:meth:`heartbeat`, :meth:`release` of ``released``, then the survey of the
        crawl, in this order, in one round trip (one script): the leases of dead
        workers (their liveness key expired) go back to the queue first.  Returns
        (queued requests, leased requests of live workers, requests put back from
        dead workers, the dead workers)."""
        result = self._poll(
            keys=[
                self.key(f"alive:{self.worker}"),
                self.key("workers"),
                self.lease_key,
                self.queue_key,
                self.key("active"),
            ],
            args=[self.worker, int(self.lease_timeout * 1000), self.prefix, *released],
        )
        queued, leased, requeued, *dead = result
        return int(queued), int(leased), int(requeued), [w.decode() for w in dead]

    def publish_stats(self, stats: Mapping[str, Any]) -> None:
        """Publish this worker's ``stats`` and keep the crawl's keys :attr:`key_ttl`
        seconds longer (the scheduler calls it every 2 s): one round trip.  Nothing
        once the crawl finished (its keys then expire in :data:`FINISHED_TTL`)."""
        self._publish(
            keys=[self.key("finished"), *self._kept_keys()],
            args=[self.worker, _dumps(stats), self._ttl_ms],
        )

    # -- the store's run -----------------------------------------------------

    def claim_run(self, create: Callable[[], int], wait: float = 60.0) -> int:
        """The id of the crawl's run: ``create()`` makes it when this is the first
        process to ask, the others wait for it (``wait`` seconds at most; then a
        :class:`~crawler.exceptions.ConfigError`)."""
        raw = self.client.hget(self.key("meta"), "run_id")
        if raw:
            return int(raw)
        if self.client.set(self.key("run_claim"), self.worker, nx=True, px=self._ttl_ms):
            run_id = create()
            self.client.hset(self.key("meta"), "run_id", run_id)
            return run_id
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            raw = self.client.hget(self.key("meta"), "run_id")
            if raw:
                return int(raw)
            time.sleep(0.1)
        raise ConfigError(
            f"crawl {self.crawl_id}: no run in the store after {wait:g} s (the process "
            "that started it did not create one)"
        )

    def close(self, stats: Mapping[str, Any]) -> dict[str, dict[str, Any]] | None:
        """This worker is done: its leases go back to the queue, its ``stats`` are
        published; the last worker of the crawl gets every worker's stats, by
        worker (and
        the crawl's queue, seen set and leases are deleted), the others ``None``.

        Other workers still active may be dead (SIGKILL) with a liveness key not
        expired yet: this one waits (:meth:`_wait_for_others`, blocking, at most
        their keys' time to live) until each has closed, renewed its key (alive:
        it finishes the crawl) or expired (dead: taken out), and is the last when
        only dead ones were left."""
        result = self._close(
            keys=[
                self.key("stats"),
                self.key("active"),
                self.key("finished"),
                self.key("workers"),
                self.key(f"alive:{self.worker}"),
                self.lease_key,
                self.queue_key,
            ],
            args=[self.worker, _dumps(stats)],
        )
        if result is None:
            result = self._wait_for_others()
            if result is None:
                return None
        everyone = {result[i].decode(): json.loads(result[i + 1]) for i in range(0, len(result), 2)}
        self._forget()
        return everyone

    def _wait_for_others(self) -> list[bytes] | None:
        """After :meth:`close`: every worker's stats (flat, as ``HGETALL``) when the
        workers still active all turn out dead, ``None`` when one is alive or
        another worker finished the crawl.  A worker is alive when its liveness
        key's time to live goes up between two looks (renewed every
        ``CRAWLER_FRONTIER_POLL_INTERVAL``), dead when the key is gone; waits at
        most the longest time to live seen first, plus a second."""
        keys = [
            self.key("active"),
            self.key("workers"),
            self.queue_key,
            self.key("finished"),
            self.key("stats"),
        ]
        before: dict[bytes, int] = {}
        deadline: float | None = None
        while True:
            status, requeued, *result = self._last(keys=keys, args=[self.prefix, self.worker])
            if requeued:
                logger.warning(
                    "%d requests leased by dead workers of crawl %s are queued again",
                    requeued,
                    self.crawl_id,
                )
            if status == 0:
                return None
            if status == 2:
                return list(result)
            others = sorted(self.client.smembers(self.key("active")))
            pipe = self.client.pipeline()
            for worker in others:
                pipe.pttl(self.key(f"alive:{worker.decode()}"))
            ttls = dict(zip(others, pipe.execute(), strict=True))  # ms; -2: gone
            if any(ttl == -1 or ttl > before.get(w, ttl) for w, ttl in ttls.items()):
                return None  # renewed (or never expires): alive, it finishes the crawl
            before = ttls
            now = time.monotonic()
            if deadline is None:
                deadline = now + max([0, *ttls.values()]) / 1000 + 1.0
            if now >= deadline:
                return None
            time.sleep(CLOSE_POLL)

    def _forget(self) -> None:
        """The finished crawl's queue, seen set, leases and stats go; what a late
        worker reads to learn that it finished stays (for :data:`FINISHED_TTL`)."""
        keep = {self.key(name).encode() for name in ("meta", "finished", "run_claim")}
        names = [k for k in self.client.scan_iter(match=f"{self.prefix}:*") if k not in keep]
        pipe = self.client.pipeline()
        if names:
            pipe.delete(*names)
        # Not when Redis lost the crawl (restarted empty): a new meta would tell the
        # other workers that the crawl is still there, and they would crawl on.
        if self.client.exists(self.key("meta")):
            pipe.hset(self.key("meta"), "state", "finished")
        for name in keep:
            pipe.expire(name, FINISHED_TTL)
        pipe.srem(CRAWLS_KEY, self.crawl_id)
        pipe.execute()


def crawl_status(client: redis.Redis, crawl_id: str, start_grace: float = START_GRACE) -> str:
    """What the crawl ``crawl_id`` is: :data:`RUNNING` (a worker's ``alive`` key
    lives), :data:`STARTING` (published less than ``start_grace`` seconds ago, by
    Redis's clock, no worker has joined it, nothing queued), :data:`DEAD`
    (neither: its processes were killed or lost Redis at their close; its keys
    expire within ``CRAWLER_FRONTIER_KEY_TTL``), :data:`FINISHED`, or
    :data:`MISSING` (no ``meta``: never published, or expired).  Two round trips."""
    prefix = crawl_prefix(crawl_id)
    pipe = client.pipeline()
    pipe.hmget(f"{prefix}:meta", "state", "published", "seeded")
    pipe.smembers(f"{prefix}:workers")  # a killed worker stays in it
    pipe.time()
    (state, published, seeded), workers, (seconds, micros) = pipe.execute()
    if state is None:
        return MISSING
    if state.decode() != RUNNING:
        return FINISHED
    if workers:
        pipe = client.pipeline()
        for worker in workers:
            pipe.exists(f"{prefix}:alive:{worker.decode()}")
        return RUNNING if any(pipe.execute()) else DEAD
    age = seconds + micros / 1e6 - float(published or 0)
    return STARTING if not seeded and age < start_grace else DEAD


def crawl_statuses(client: redis.Redis) -> dict[str, str]:
    """The :func:`crawl_status` of each crawl listed on this Redis database (by id,
    sorted); the ids whose crawl finished or whose ``meta`` is gone are taken out
    of the list (:data:`CRAWLS_KEY`)."""
    statuses = {c.decode(): "" for c in sorted(client.smembers(CRAWLS_KEY))}
    for crawl_id in statuses:
        statuses[crawl_id] = crawl_status(client, crawl_id)
    gone = [c for c, status in statuses.items() if status in (FINISHED, MISSING)]
    if gone:
        client.srem(CRAWLS_KEY, *gone)
    return {c: status for c, status in statuses.items() if c not in gone}


def running_crawls(client: redis.Redis) -> list[str]:
    """The ids of the crawls on this Redis database a worker may join: a live
    worker works on them, or they were just published (:data:`JOINABLE`)."""
    return [c for c, status in crawl_statuses(client).items() if status in JOINABLE]


# How the stats of the workers of one run merge (merge_stats).  Stats that are
# facts of one process, not counters, are never added up:
_EARLIEST = ("start_time", "outcome/started_at")  # the run started with its first worker
_LATEST = ("finish_time",)  # ... and finished with its last
_MAXIMUM_MARKS = ("/max", "max_")  # a name holding one of these, or ending in "_max":
_MAXIMUM_PREFIXES = ("memusage/",)  # the largest (memory is each process's own)
# The same in every worker (the crawl's): the last worker's, else the first one's.
_SAME = ("store/run_id", "frontier/crawl_id")
# Rates and times the merge computes again from the merged counts and span.
_RECOMPUTED = (
    "elapsed_time_seconds",
    "outcome/elapsed_seconds",
    "responses_per_minute",
    "items_per_minute",
)
# The verdict each process recorded on its own part (crawler.outcome.record_verdict):
# dropped, the last worker judges the merged counts once (crawler.outcome.rejudge).
_VERDICT = ("outcome/status", "outcome/error_ratio")
_VERDICT_PREFIX = "outcome/failed/"


def _is_maximum(name: str) -> bool:
    return (
        any(mark in name for mark in _MAXIMUM_MARKS)
        or name.endswith("_max")
        or name.startswith(_MAXIMUM_PREFIXES)
    )


def _dropped(name: str) -> bool:
    return name in _RECOMPUTED or name in _VERDICT or name.startswith(_VERDICT_PREFIX)


def merge_stats(everyone: Mapping[str, dict[str, Any]], last: Mapping[str, Any]) -> dict[str, Any]:
    """One run's stats from its workers' (``everyone``, by worker id; ``last``: the stats of the
    worker that closes last, whose finish reason is the run's).

    Only counters add up (pages, items, bytes, log counts...).  The facts of one
    process do not: ``start_time`` and ``outcome/started_at`` are the earliest,
    ``finish_time`` the latest, maxima (a name with ``/max``, ``max_``, ending
    in ``_max``, and every ``memusage/*``) the largest, ``store/run_id`` and
    other values that are not numbers the last worker's (else the first
    worker's that has one).  ``elapsed_time_seconds`` and
    ``outcome/elapsed_seconds`` are the seconds from the earliest start to the
    latest finish, ``responses_per_minute`` / ``items_per_minute`` the merged
    counts over them.  Each worker's own verdict (``outcome/status``,
    ``outcome/error_ratio``, ``outcome/failed/*``) is left out: the caller
    judges the merged counts (:func:`crawler.outcome.rejudge`).
    ``frontier/workers`` counts the workers, ``frontier/responses_by_worker``
    gives each one's responses."""
    merged: dict[str, Any] = {}
    for stats in everyone.values():
        for name, value in stats.items():
            if _dropped(name):
                continue
            if name not in merged:
                merged[name] = value
            elif name in _EARLIEST:
                merged[name] = min(merged[name], value)
            elif name in _LATEST:
                merged[name] = max(merged[name], value)
            elif name in _SAME:
                continue
            elif _is_number(value) and _is_number(merged[name]):
                if _is_maximum(name):
                    merged[name] = max(merged[name], value)
                else:
                    merged[name] = merged[name] + value
    for name, value in json.loads(_dumps(last)).items():
        if _dropped(name) or name in _EARLIEST + _LATEST:
            continue
        if name in _SAME or not _is_number(value):
            merged[name] = value
    for name in ("start_time", "finish_time"):  # datetimes again, as Scrapy's own stats
        if isinstance(merged.get(name), str):
            try:
                merged[name] = datetime.fromisoformat(merged[name])
            except ValueError:
                del merged[name]
    start, finish = merged.get("start_time"), merged.get("finish_time")
    if isinstance(start, datetime) and isinstance(finish, datetime):
        elapsed = (finish - start).total_seconds()
        merged["elapsed_time_seconds"] = elapsed
        merged["outcome/elapsed_seconds"] = round(elapsed, 3)
        if elapsed > 0:  # as Scrapy's LogStats computes them at the close
            minutes = elapsed / 60
            merged["responses_per_minute"] = merged.get("response_received_count", 0) / minutes
            merged["items_per_minute"] = merged.get("item_scraped_count", 0) / minutes
    merged["frontier/workers"] = len(everyone)
    merged["frontier/responses_by_worker"] = {
        worker: stats.get("response_received_count", 0) for worker, stats in everyone.items()
    }
    return merged


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _dumps(stats: Mapping[str, Any]) -> str:
    """Stats as JSON: datetimes as ISO text (they compare in order), others as text."""
    return json.dumps(
        dict(stats), default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)
    )
