"""Per-slot politeness for rendered requests.

A request rendered inside a downloader middleware never reaches Scrapy's
downloader slots, so ``CONCURRENT_REQUESTS_PER_DOMAIN``, ``DOWNLOAD_SLOTS``,
``DOWNLOAD_DELAY`` (with its jitter) and AutoThrottle would not apply to it.
:class:`RenderThrottle` applies them: it takes Scrapy's own slot object for
the request's slot key (same key, same concurrency, delay and jitter, and the
delay AutoThrottle adjusts), counts the renders running on that key, and
releases queued renders with reactor timers, never by sleeping.

Renders and plain downloads of one slot share its delay (both update and
respect ``slot.lastseen``) and its concurrency: a running render holds one
of the slot's transfer places (``slot.transferring``, the set Scrapy's
downloader counts its own downloads in), so neither kind starts while the
slot has ``CONCURRENT_REQUESTS_PER_DOMAIN`` of both running.  When a render
ends, the downloader's queue for the slot is processed again; when a plain
download ends (``request_left_downloader``), the queued renders are.  No more
renders are admitted than the pool has browsers, so renders waiting for a
browser do not hold transfer places that plain downloads could use.

A render's start is not its request to the site: a cold browser takes a second
or more to start, and longer again to send its first request.  So the delay is
enforced twice: the reactor-side :class:`RenderThrottle` releases at most one
render per delay, and the worker thread takes its turn at :class:`NavigationGate`
around the navigation, which keeps the requests themselves at least a delay
apart (the worker thread waits, never the reactor).  With a shared frontier the
ticket also carries the crawl-wide turn of
:mod:`crawler.extensions.sharedpoliteness`, taken at the same moment.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from time import monotonic
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy import Request
    from scrapy.core.downloader import Slot
    from scrapy.crawler import Crawler
    from scrapy.utils.asyncio import CallLaterResult


@dataclass(eq=False)
class _RenderSlot:
    slot: Slot
    active: int = 0
    lastseen: float = 0.0
    queue: deque[tuple[Request, Deferred[None]]] = field(default_factory=deque)
    timer: CallLaterResult | None = None


@dataclass(frozen=True)
class Ticket:
    """Permission to render on slot ``key``; navigate at least ``delay`` s after the last."""

    key: str
    delay: float
    request: Request | None = field(default=None, compare=False)
    #: With a shared frontier: ``turn(key, delay)`` blocks the worker thread until
    #: every worker's last start on ``key`` is ``delay`` s old, and takes the turn
    #: (:meth:`crawler.extensions.sharedpoliteness.SharedPoliteness.navigation_turn`).
    turn: Callable[[str, float], None] | None = field(default=None, compare=False)


class NavigationGate:
    """Thread-safe spacing of navigations per slot key (used from worker threads).

    While a slot has a delay, its navigations take turns: one at a time, each
    requested at least ``delay`` after the previous request left the browser.
    The send time comes from the browser (the performance log) when it reports
    it, else the moment the navigation began; a cold browser can take a second
    between ``get()`` and its request, so spacing the calls alone is not enough.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next: dict[str, float] = {}
        self._busy: set[str] = set()

    def navigation(self, ticket: Ticket | None) -> Navigation | None:
        if ticket is None or not ticket.delay:
            return None
        return Navigation(self, ticket)

    def _begin(self, ticket: Ticket) -> float:
        with self._cond:
            while ticket.key in self._busy:
                self._cond.wait()
            self._busy.add(ticket.key)
            at = self._next.get(ticket.key, 0.0)
        now = monotonic()
        if at > now:
            time.sleep(at - now)  # a worker thread waiting for its turn, not the reactor
        if ticket.turn is not None:
            ticket.turn(ticket.key, ticket.delay)  # every worker's turn (through Redis)
        return monotonic()

    def _end(self, ticket: Ticket, began: float, sent_wall_time: float | None) -> None:
        sent = began
        if sent_wall_time is not None:  # the browser's clock is the wall clock
            sent = max(began, monotonic() - (time.time() - sent_wall_time))
        with self._cond:
            self._next[ticket.key] = sent + ticket.delay
            self._busy.discard(ticket.key)
            self._cond.notify_all()


class Navigation:
    """One navigation's turn on its slot: ``begin()`` before ``get()``, then ``end()``."""

    def __init__(self, gate: NavigationGate, ticket: Ticket) -> None:
        self._gate = gate
        self._ticket = ticket
        self._began: float | None = None

    def begin(self) -> None:
        self._began = self._gate._begin(self._ticket)

    def end(self, sent_wall_time: float | None) -> None:
        """Always call after ``begin()``, also when the navigation failed."""
        if self._began is not None:
            self._gate._end(self._ticket, self._began, sent_wall_time)
            self._began = None


class RenderThrottle:
    """``ticket = await throttle.acquire(request)`` ... ``throttle.release(ticket)``."""

    def __init__(self, crawler: Crawler, max_renders: int) -> None:
        self.crawler = crawler
        # No more renders admitted than there are browsers: a render waiting for
        # a browser must not hold one of its slot's transfer places.
        self.max_renders = max_renders
        self._rendering = 0
        self._slots: dict[str, _RenderSlot] = {}
        crawler.signals.connect(self._download_left, signal=signals.request_left_downloader)

    async def acquire(self, request: Request) -> Ticket | None:
        """Wait until the request's slot allows one more render; ``None`` without an engine."""
        engine = self.crawler.engine
        if engine is None or engine.downloader is None:
            return None
        downloader = engine.downloader
        key, slot = downloader._get_slot(request)  # Scrapy's slot: settings and AutoThrottle
        request.meta[downloader.DOWNLOAD_SLOT] = key
        state = self._slots.get(key)
        if state is None:
            state = self._slots[key] = _RenderSlot(slot)
        else:
            state.slot = downloader.slots.get(key, state.slot)  # recreated after slot GC
        waiter: Deferred[None] = Deferred(lambda d: self._forget(state, d))
        state.queue.append((request, waiter))
        self._process(key)
        await maybe_deferred_to_future(waiter)
        return Ticket(key, state.slot.download_delay(), request)

    def slot(self, ticket: Ticket) -> Slot:
        """Scrapy's slot the ticket's render holds a place on (concurrency, delay)."""
        state = self._slots.get(ticket.key)
        if state is not None:
            return state.slot
        engine = self.crawler.engine
        assert engine is not None and engine.downloader is not None
        return engine.downloader.slots[ticket.key]

    def release(self, ticket: Ticket | None) -> None:
        if ticket is None:
            return
        key = ticket.key
        state = self._slots.get(key)
        if state is None:
            return
        state.active -= 1
        self._rendering -= 1
        if ticket.request is not None:
            state.slot.transferring.discard(ticket.request)
        self._wake_downloader(state.slot)
        if state.active <= 0 and not state.queue and state.timer is None:
            del self._slots[key]
        else:
            self._process(key)
        for other in [k for k, st in self._slots.items() if k != key and st.queue]:
            self._process(other)  # a browser is free for them too

    def _wake_downloader(self, slot: Slot) -> None:
        """Let plain downloads queued on ``slot`` take the transfer place a render left."""
        engine = self.crawler.engine
        if engine is not None and engine.downloader is not None:
            engine.downloader._process_queue(slot)

    def _download_left(self, request: Request) -> None:
        """A plain download ended: a render may take its transfer place."""
        key = request.meta.get("download_slot")
        if key in self._slots:
            self._process(key)

    def close(self) -> None:
        for state in self._slots.values():
            if state.timer is not None:
                state.timer.cancel()
                state.timer = None
            while state.queue:
                _, waiter = state.queue.popleft()
                waiter.cancel()
        self._slots.clear()

    def _forget(self, state: _RenderSlot, waiter: Deferred[None]) -> None:
        for queued in state.queue:
            if queued[1] is waiter:
                state.queue.remove(queued)
                break

    def _process(self, key: str) -> None:
        state = self._slots.get(key)
        if state is None or state.timer is not None:
            return
        slot = state.slot
        now = monotonic()
        delay = slot.download_delay()
        if delay:
            last = max(state.lastseen, slot.lastseen)
            penalty = delay - (now - last)
            if penalty > 0 and state.queue:
                state.timer = call_later(penalty, self._timer_fired, key)
                return
        while (
            state.queue
            and len(slot.transferring) < max(1, slot.concurrency)
            and self._rendering < self.max_renders
        ):
            request, waiter = state.queue.popleft()
            state.active += 1
            self._rendering += 1
            slot.transferring.add(request)  # counted with the slot's plain downloads
            state.lastseen = slot.lastseen = now
            waiter.callback(None)
            if delay:
                # One start per delay: come back when it has passed.
                if state.queue:
                    state.timer = call_later(delay, self._timer_fired, key)
                break

    def _timer_fired(self, key: str) -> None:
        state = self._slots.get(key)
        if state is None:
            return
        state.timer = None
        self._process(key)
