"""scrapy-redis's priority queue, whose pops are leases.

A request popped is moved, in one Lua script, from the queue to the worker's
lease hash (:meth:`crawler.frontier.shared.SharedCrawl.queue_many`), so a worker that
dies with it leaves it where another worker finds it and queues it again.

A request is encoded as scrapy-redis encodes it (``Request.to_dict`` with the
spider, then the scheduler's serializer), except that the names of its callback
and errback are looked up once per function
(:class:`~crawler.utils.requestdict.RequestDictEncoder`): a worker of a shared
crawl encodes every link its process has not seen, one to two a page
(bench/RESULTS.md, "Shared crawl, round 5").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy_redis.queue import PriorityQueue

from crawler.utils.requestdict import RequestDictEncoder

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scrapy import Request

    from crawler.frontier.shared import SharedCrawl


class LeasedPriorityQueue(PriorityQueue):
    """``PriorityQueue`` (sorted set, score minus the priority) with leased pops.

    ``shared`` must be set before :meth:`push_many_pop` is called (the scheduler does)."""

    shared: SharedCrawl | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._dicts = RequestDictEncoder(self.spider)

    def encode(self, request: Request) -> bytes:
        """``request`` as queued; raises what the serializer raises when it cannot be
        encoded (a callback that is not a spider method: ``ValueError``; pickle)."""
        return self._encode_request(request)

    def decode(self, data: bytes) -> Request:
        """The request :meth:`encode` gave ``data`` for; raises what the serializer
        raises for data it cannot read."""
        return self._decode_request(data)

    def _encode_request(self, request: Request) -> bytes:
        """scrapy-redis's encoding (``Request.to_dict(spider=...)``, serialised),
        the same dict, built by :meth:`to_dict`."""
        return self.serializer.dumps(self.to_dict(request))

    def to_dict(self, request: Request) -> dict[str, Any]:
        """What ``request.to_dict(spider=self.spider)`` returns
        (:class:`~crawler.utils.requestdict.RequestDictEncoder`)."""
        return self._dicts.to_dict(request)

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
