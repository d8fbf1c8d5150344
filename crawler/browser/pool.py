"""A pool of browser sessions driven by a dedicated Twisted thread pool.

``pool.render(spec)`` returns a Deferred fired in the reactor thread; the
WebDriver calls happen in one of ``SELENIUM_POOL_SIZE`` worker threads, each of
which takes an idle session (or starts one, lazily), renders, and gives it
back.  At most ``SELENIUM_CONCURRENT_STARTS`` browsers launch at once: a launch
is CPU-bound, so on a small machine four parallel launches all finish late,
while one at a time lets the first session render while the next one starts;
a worker waiting for its turn to launch takes a session that fell idle
meanwhile instead.  Sessions are recycled after ``SELENIUM_MAX_PAGES_PER_SESSION`` pages and
thrown away (quit, and killed if need be) when their browser crashed or hung.

:meth:`BrowserPool.close` sets a closing flag (queued renders then fail fast
with :class:`~crawler.exceptions.BrowserPoolClosedError` instead of starting
browsers), lets running renders finish for ``SELENIUM_SHUTDOWN_TIMEOUT``
seconds, kills the browsers that are still busy after that, joins the threads
and quits every browser.  It is idempotent, and :meth:`BrowserPool.install`
also runs it from a reactor "before shutdown" trigger, so Ctrl-C closes too.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import fail
from twisted.internet.threads import deferToThread, deferToThreadPool
from twisted.python.threadpool import ThreadPool

from crawler.browser.politeness import NavigationGate
from crawler.browser.session import BrowserSession
from crawler.exceptions import BrowserNotFoundError, BrowserPoolClosedError, BrowserStartError

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorCore, IReactorThreads

    from crawler.browser.config import BrowserConfig
    from crawler.browser.politeness import Ticket
    from crawler.browser.result import RenderResult, RenderSpec

logger = logging.getLogger(__name__)


class BrowserPool:
    def __init__(
        self,
        config: BrowserConfig,
        reactor: Any,
        on_event: Callable[[str], None] | None = None,
        stopping: Callable[[], bool] | None = None,
    ) -> None:
        self.config = config
        self.reactor: IReactorThreads = reactor
        self._on_event = on_event or (lambda name: None)
        # True once the crawl is stopping (Ctrl-C): renders not started yet
        # fail fast then, even before close() runs.
        self._stopping = stopping or (lambda: False)
        self._threads = ThreadPool(minthreads=0, maxthreads=config.pool_size, name="selenium")
        self._lock = threading.Lock()
        # Notified when a session falls idle, a launch ends, or the pool closes.
        self._changed = threading.Condition(self._lock)
        self._starting = 0
        self._rendering = 0  # renders in the worker threads now (render_blocking)
        self._idle: list[BrowserSession] = []
        self._sessions: set[BrowserSession] = set()  # every session not quit yet
        self._ids = itertools.count(1)
        self._gate = NavigationGate()
        self._closing = False
        self._closed: Deferred[None] | None = None
        self._trigger: Any = None

    @property
    def closing(self) -> bool:
        return self._closing or self._stopping()

    def install(self) -> None:
        """Start the threads and close the pool before the reactor shuts down."""
        self._threads.start()
        reactor: IReactorCore = self.reactor  # type: ignore[assignment]
        self._trigger = reactor.addSystemEventTrigger("before", "shutdown", self.close)

    def render(self, spec: RenderSpec, ticket: Ticket | None = None) -> Deferred[RenderResult]:
        """Render in a worker thread; with a ``ticket``, navigate no sooner than its slot allows."""
        if self.closing:
            return fail(BrowserPoolClosedError(f"browser pool closed; not rendering {spec.url}"))
        return deferToThreadPool(self.reactor, self._threads, self.render_blocking, spec, ticket)

    @property
    def rendering(self) -> int:
        """Renders in progress in the worker threads, at most ``pool_size``: taking
        or starting a browser, navigating, settling, exploring (not those still
        queued for a thread).  For the crawl's progress line
        (:mod:`crawler.extensions.progress`); read from any thread."""
        return self._rendering

    def sessions(self) -> list[BrowserSession]:
        """The live sessions (for tests and diagnostics)."""
        with self._lock:
            return list(self._sessions)

    # -- worker thread -------------------------------------------------------

    def render_blocking(self, spec: RenderSpec, ticket: Ticket | None = None) -> RenderResult:
        """The worker-thread half of :meth:`render`: WebDriver calls in the calling thread."""
        if self.closing:
            raise BrowserPoolClosedError(f"browser pool closed; not rendering {spec.url}")
        with self._lock:
            self._rendering += 1
        try:
            return self._render(spec, ticket)
        finally:
            with self._lock:
                self._rendering -= 1

    def _render(self, spec: RenderSpec, ticket: Ticket | None) -> RenderResult:
        session = self._checkout()
        keep = False
        try:
            result = session.render(spec, self._gate.navigation(ticket))
            keep = not session.broken
            return result
        except BaseException:
            keep = not session.broken
            raise
        finally:
            self._checkin(session, keep)

    def _checkout(self) -> BrowserSession:
        with self._changed:
            while not self._idle and self._starting >= self.config.concurrent_starts:
                if self.closing:
                    raise BrowserPoolClosedError("browser pool closed while waiting for a browser")
                self._changed.wait(0.5)  # re-checks closing (Ctrl-C sets it with no notify)
            if self._idle:
                return self._idle.pop()
            self._starting += 1
            session = BrowserSession(self.config, next(self._ids))
            self._sessions.add(session)
        try:
            session.start()
        except (BrowserStartError, BrowserNotFoundError):
            with self._changed:
                self._sessions.discard(session)
            session.quit()
            self._event("session_start_failures")
            raise
        finally:
            with self._changed:
                self._starting -= 1
                self._changed.notify()
        if self._closing:
            # close() may have swept the sessions while this one was starting.
            self._discard(session)
            raise BrowserPoolClosedError("browser pool closed while a browser was starting")
        self._event("sessions_started")
        logger.debug("browser session %d started", session.session_id)
        return session

    def _checkin(self, session: BrowserSession, keep: bool) -> None:
        limit = self.config.max_pages_per_session
        if not keep:
            self._event("session_restarts")
            logger.info("browser session %d broke; it will be replaced", session.session_id)
            self._discard(session)
        elif self.closing:
            self._discard(session)
        elif limit and session.pages >= limit:
            self._event("sessions_recycled")
            self._discard(session)
        else:
            with self._changed:
                self._idle.append(session)
                self._changed.notify()

    def _discard(self, session: BrowserSession) -> None:
        with self._lock:
            self._sessions.discard(session)
            if session in self._idle:
                self._idle.remove(session)
        session.quit()

    def _event(self, name: str) -> None:
        self.reactor.callFromThread(self._on_event, name)  # type: ignore[attr-defined]

    # -- shutdown ------------------------------------------------------------

    def close(self) -> Deferred[None]:
        """Stop the pool and every browser; safe to call many times and from triggers."""
        if self._closed is not None:
            return self._closed
        self._closing = True
        with self._changed:
            self._changed.notify_all()
        if self._trigger is not None:
            # Fails harmlessly when we are running as that very trigger.
            with contextlib.suppress(ValueError, KeyError):
                self.reactor.removeSystemEventTrigger(self._trigger)  # type: ignore[attr-defined]
            self._trigger = None
        self._closed = deferToThread(self.shutdown_blocking)
        return self._closed

    def shutdown_blocking(self) -> None:
        """The thread half of :meth:`close` (blocks; never call it on the reactor thread)."""
        self._closing = True
        # Idle browsers go at once; busy ones get shutdown_timeout to finish.
        with self._lock:
            idle, self._idle = self._idle, []
        self._discard_all(idle)
        stopper = threading.Thread(target=self._threads.stop, name="selenium-stop", daemon=True)
        stopper.start()
        stopper.join(self.config.shutdown_timeout)
        if stopper.is_alive():
            logger.warning(
                "browser renders still running after %g s; killing their browsers",
                self.config.shutdown_timeout,
            )
            for session in self.sessions():
                handle = session.handle
                if handle is not None:
                    handle.close()
            stopper.join()
        self._discard_all(self.sessions())
        logger.debug("browser pool closed")

    def _discard_all(self, sessions: list[BrowserSession]) -> None:
        """Quit several browsers side by side: each quit mostly waits on its browser."""
        quitters = [
            threading.Thread(target=self._discard, args=(session,), name="selenium-quit")
            for session in sessions
        ]
        for quitter in quitters:
            quitter.start()
        for quitter in quitters:
            quitter.join()
