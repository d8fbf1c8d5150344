"""scrapy-redis's priority queue, whose pops are leases.

A request popped is moved, in one Lua script, from the queue to the worker's
lease hash (:meth:`crawler.frontier.shared.SharedCrawl.queue_many`), so a worker that
dies with it leaves it where another worker finds it and queues it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy_redis.queue import PriorityQueue

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scrapy import Request

    from crawler.frontier.shared import SharedCrawl


class LeasedPriorityQueue(PriorityQueue):
    """``PriorityQueue`` (sorted set, score minus the priority) with leased pops.

    ``shared`` must be set before :meth:`push_many_pop` is called (the scheduler does)."""

    shared: SharedCrawl | None = None

    def encode(self, request: Request) -> bytes:
        """``request`` as queued; raises what the serializer raises when it cannot be
        encoded (a callback that is not a spider method: ``ValueError``; pickle)."""
        return self._encode_request(request)

    def push_many_pop(
        self, requests: Sequence[tuple[bytes | None, float, bytes, bool]], pop: int = 0
    ) -> tuple[list[bool], list[tuple[str, Request]]]:
        """Queue ``requests`` (fingerprint or ``None``, score, :meth:`encode`'s bytes,
        force) and lease the ``pop`` best requests, in one round trip
        (:meth:`~crawler.frontier.shared.SharedCrawl.queue_many`): whether each
        fingerprint was added, and the requests popped with their lease fields."""
        assert self.shared is not None
        added, popped = self.shared.queue_many(requests, pop)
        return added, [(field, self._decode_request(data)) for field, data in popped]

    def pop(self, timeout: int = 0) -> Any:
        """A pop without its lease field could never be released: :meth:`push_many_pop`."""
        raise NotImplementedError("LeasedPriorityQueue pops with push_many_pop()")
