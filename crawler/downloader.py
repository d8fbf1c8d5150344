"""Scrapy's downloader, with per-slot concurrency that holds under the asyncio reactor.

Scrapy 2.19's ``Downloader._process_queue`` starts queued requests while
``slot.free_transfer_slots() > 0``, but a started request only enters
``slot.transferring`` when its download task first runs, which under the
asyncio reactor is a later loop iteration.  So whenever a download ends while
several requests wait in a slot, all of them start at once: measured here,
12 requests held 600 ms by the site with ``CONCURRENT_REQUESTS_PER_DOMAIN = 3``
reached it 9 at a time.  :class:`SlotReservingDownloader` gives every slot a
queue whose ``popleft`` puts the request in ``slot.transferring`` at once; the
download task adds it again (a set) and removes it when done, as before.

With a shared frontier (``CRAWLER_FRONTIER``), a request that leaves the slot's
queue also takes its place in the crawl-wide limits of
:class:`crawler.extensions.sharedpoliteness.SharedPoliteness` (every worker's
requests to the host, through Redis) right before it is sent, and gives it back
when its download ends.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader import Downloader

from crawler.extensions.sharedpoliteness import SharedPoliteness

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.core.downloader import Slot
    from scrapy.http import Response


class _ReservingQueue(deque[tuple["Request", Any]]):
    """A slot queue whose ``popleft`` reserves the slot's transfer place at once."""

    def __init__(self, slot: Slot) -> None:
        super().__init__(slot.queue)
        self._transferring = slot.transferring

    def popleft(self) -> tuple[Request, Any]:
        entry = super().popleft()
        self._transferring.add(entry[0])
        return entry


class SlotReservingDownloader(Downloader):
    _shared: SharedPoliteness | None = None
    _shared_known = False

    def _get_slot(self, request: Request, spider: Spider | None = None) -> tuple[str, Slot]:
        key, slot = super()._get_slot(request)
        if not isinstance(slot.queue, _ReservingQueue):
            slot.queue = _ReservingQueue(slot)
        return key, slot

    def _shared_politeness(self) -> SharedPoliteness | None:
        if not self._shared_known:  # looked up once: the extensions exist by the first download
            self._shared = SharedPoliteness.of(self.crawler)
            self._shared_known = getattr(self.crawler, "extensions", None) is not None
        return self._shared

    async def _download(self, slot: Slot, request: Request) -> Response:
        shared = self._shared_politeness()
        if shared is None:
            return await super()._download(slot, request)
        lease = await shared.acquire(request.meta[self.DOWNLOAD_SLOT], slot)
        try:
            return await super()._download(slot, request)
        finally:
            await shared.release(lease)
