"""The frontier's Redis unreachable while a worker crawls: say it once, count it, give up.

One :class:`Outage` per worker (the scheduler's).  Every Redis call of the
scheduler that fails with a connection error (``redis.RedisError``,
``OSError``: refused, or no answer within ``CRAWLER_FRONTIER_SOCKET_TIMEOUT``
seconds, a ``redis.TimeoutError``) reports it with :meth:`Outage.failed`; the
next one that works with :meth:`Outage.ended`.  redis-py does not retry
(:func:`crawler.frontier.shared.client_options`): this is the retry.  The
first failure of an outage is logged (WARNING), then at most one line every
:data:`LOG_EVERY` seconds while it lasts, and one when it ends.  Once Redis
has failed for ``CRAWLER_FRONTIER_OUTAGE_TIMEOUT`` seconds without a call
that worked, :meth:`Outage.failed` answers ``True``: the scheduler closes the
spider with the finish reason :data:`crawler.outcome.FRONTIER_UNREACHABLE_REASON`,
a failed verdict.

Stats: ``frontier/redis_errors`` (failed calls), ``frontier/outages``
(outages begun), ``frontier/error`` (the last error, no password).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from crawler.redaction import redact_text, redact_url

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

#: Seconds between two log lines of one outage.
LOG_EVERY = 10.0


class Outage:
    """``url``: the frontier's Redis URL (logged without its password);
    ``timeout``: seconds of failures in a row after which to give up;
    ``stats``: the crawl's stats collector; ``clock``: monotonic seconds."""

    def __init__(
        self,
        url: str,
        timeout: float,
        stats: StatsCollector | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = redact_url(url)
        self.timeout = timeout
        self.stats = stats
        self.clock = clock
        self.since: float | None = None  # clock time of the outage's first failure
        self._logged = 0.0  # clock time of the outage's last log line

    @property
    def seconds(self) -> float:
        """How long the current outage has lasted (0.0 when Redis answers)."""
        return 0.0 if self.since is None else self.clock() - self.since

    def failed(self, error: BaseException) -> bool:
        """A Redis call failed with ``error``: ``True`` once Redis has failed for
        ``timeout`` seconds in a row (time to give up)."""
        now = self.clock()
        text = redact_text(f"{type(error).__name__}: {error}")
        if self.stats is not None:
            self.stats.inc_value("frontier/redis_errors")
            self.stats.set_value("frontier/error", text)
        if self.since is None:
            self.since = self._logged = now
            if self.stats is not None:
                self.stats.inc_value("frontier/outages")
            logger.warning(
                "The frontier's Redis at %s does not answer (%s): retrying for up to %g s",
                self.url,
                text,
                self.timeout,
            )
        elif now - self._logged >= LOG_EVERY:
            self._logged = now
            logger.warning(
                "The frontier's Redis at %s still does not answer after %.0f s (%s)",
                self.url,
                now - self.since,
                text,
            )
        return now - self.since >= self.timeout

    def ended(self) -> bool:
        """A Redis call worked: the outage, if any, is over.  Returns whether there was one."""
        if self.since is None:
            return False
        logger.warning(
            "The frontier's Redis at %s answers again after %.1f s", self.url, self.seconds
        )
        self.since = None
        return True
