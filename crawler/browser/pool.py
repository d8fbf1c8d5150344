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

Remote nodes (``SELENIUM_REMOTE_URL``: chromedriver servers, Selenium servers,
Grids): a new session goes to the least loaded node that is up and under its
session cap (sessions / cap, the pool size for a node without one; ties in the
order given).  A node is taken out for ``SELENIUM_REMOTE_COOLDOWN`` seconds when
a session cannot be created on it, or when a session dies and the node does not
answer ``GET /status`` (:func:`~crawler.browser.driver.node_unreachable`): its
idle sessions are dropped without a word to it, and the render that met the
death starts again on another node, in the same worker thread and politeness
turn (no render is lost, nothing reaches Scrapy).  After the cool-down the
node gets new sessions again.  With every node out, a render fails with
:class:`~crawler.exceptions.BrowserNodesDownError` naming each node and why.

A session dropped unasked may still have its browser running on the node (a
node that froze, or whose network went away, and came back).  The pool keeps
their WebDriver session ids and deletes them (W3C "Delete Session":
:func:`~crawler.browser.driver.delete_session`) when a new session next starts
on that node, and when the pool closes if the node answers ``/status`` then
(a node that does not costs the close one probe, ``PROBE_TIMEOUT``, nodes side
by side); those it could not delete are named in a warning at close.

Events per node: ``nodes/<host:port>/<sessions_started | session_start_failures
| renders | sessions_lost | taken_out | lost_sessions_deleted |
lost_sessions_left>``; ``renders_moved`` counts renders started again elsewhere.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import fail
from twisted.internet.threads import deferToThread, deferToThreadPool
from twisted.python.threadpool import ThreadPool

from crawler.browser.politeness import NavigationGate
from crawler.exceptions import (
    BrowserNodesDownError,
    BrowserNotFoundError,
    BrowserPoolClosedError,
    BrowserStartError,
)
from crawler.redaction import redact_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorCore, IReactorThreads

    from crawler.browser.config import BrowserConfig, RemoteNode
    from crawler.browser.politeness import Ticket
    from crawler.browser.result import RenderResult, RenderSpec
    from crawler.browser.session import BrowserSession

logger = logging.getLogger(__name__)

# "[Errno 111] Connection refused" inside urllib3's and Selenium's longer messages.
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\"()]+")


def _node_error(exc: BaseException) -> str:
    """Why a node failed, short: the socket error, else the cause's first line."""
    from crawler.browser.actions import first_line  # Selenium: imported on first use

    cause = exc.__cause__ or exc
    text = first_line(cause)
    found = _ERRNO.search(text)
    if found is not None:
        return found.group(0).strip()
    return f"{type(cause).__name__}: {text}"


@dataclass
class _NodeState:
    """A remote node's load and health, guarded by the pool's lock."""

    node: RemoteNode
    sessions: int = 0  # live sessions on it, starting ones included
    down_until: float = 0.0  # time.monotonic(); later than now: out
    error: str | None = None  # why it was last taken out; None once it works again

    def load(self, pool_size: int) -> float:
        return self.sessions / (self.node.max_sessions or pool_size)

    def full(self) -> bool:
        return bool(self.node.max_sessions) and self.sessions >= self.node.max_sessions


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
        self._nodes = {node.label: _NodeState(node) for node in config.remote_nodes}
        # node label -> WebDriver session ids dropped unasked, to delete once it answers
        self._lost: dict[str, list[str]] = {}
        self._closing = False
        self._shut_down = False  # shutdown_blocking ran (or runs)
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
        lost: set[str] = set()  # nodes that went away under this render
        while True:
            session = self._checkout(lost)
            keep = gone = False
            try:
                result = session.render(spec, self._gate.navigation(ticket))
                keep = not session.broken
                if session.node is not None:
                    self._node_event(session.node, "renders")
                return result
            except BaseException as e:
                keep = not session.broken
                gone = not keep and self._node_gone(session, e)
                if not gone:
                    raise
                assert session.node is not None
                lost.add(session.node.label)
                self._event("renders_moved")
                logger.warning(
                    "browser node %s went away while rendering %s: rendering it on another node",
                    session.node.label,
                    spec.url,
                )
            finally:
                if gone:
                    self._abandon(session)
                else:
                    self._checkin(session, keep)

    def _checkout(self, lost: set[str] | frozenset[str] = frozenset()) -> BrowserSession:
        """An idle session, or a new one (on the least loaded node that is up and not in
        ``lost``).  Raises :class:`BrowserNodesDownError` when no node is left."""
        # Selenium and the session code load with the first browser, not with the
        # pool (a crawl that never renders never imports them), and before the lock.
        from crawler.browser.session import BrowserSession

        while True:
            with self._changed:
                node: _NodeState | None = None
                while not self._idle:
                    if self._starting < self.config.concurrent_starts:
                        if not self._nodes:
                            break
                        node = self._pick_node(lost)  # raises when every node is out
                        if node is not None:
                            break
                    if self.closing:
                        raise BrowserPoolClosedError(
                            "browser pool closed while waiting for a browser"
                        )
                    self._changed.wait(0.5)  # re-checks closing (Ctrl-C sets it with no notify)
                if self._idle:
                    return self._idle.pop()
                self._starting += 1
                session = BrowserSession(
                    self.config, next(self._ids), node.node if node is not None else None
                )
                self._sessions.add(session)
                if node is not None:
                    node.sessions += 1
            if self._start(session, node):
                return session
            assert node is not None
            lost = {*lost, node.node.label}  # the next node, if there is one

    def _start(self, session: BrowserSession, node: _NodeState | None) -> bool:
        """Start ``session``; False when its remote node failed to (the node is out)."""
        try:
            session.start()
        except (BrowserStartError, BrowserNotFoundError) as e:
            self._forget(session)
            session.quit()
            self._remember_lost(session)  # it may have dropped its node's session unasked
            self._event("session_start_failures")
            if node is None:
                raise
            self._node_event(node.node, "session_start_failures")
            self._take_out(node, _node_error(e))
            return False
        finally:
            with self._changed:
                self._starting -= 1
                self._changed.notify()
        if self._closing:
            # close() may have swept the sessions while this one was starting.
            self._discard(session)
            raise BrowserPoolClosedError("browser pool closed while a browser was starting")
        self._event("sessions_started")
        if node is not None:
            self._node_event(node.node, "sessions_started")
            if node.error is not None:
                node.error = None
                logger.info("browser node %s is back", node.node.label)
            self._delete_lost(node.node)
        logger.debug("browser session %d started", session.session_id)
        return True

    def _pick_node(self, lost: set[str] | frozenset[str]) -> _NodeState | None:
        """The least loaded node that is up, not ``lost`` and not full; None when every
        such node is full.  Called with the lock held."""
        now = time.monotonic()
        up = [n for n in self._nodes.values() if n.down_until <= now and n.node.label not in lost]
        if not up:
            raise BrowserNodesDownError(self._nodes_down_message(now))
        free = [n for n in up if not n.full()]
        if not free:
            return None
        return min(free, key=lambda n: n.load(self.config.pool_size))  # min: first of ties

    def _nodes_down_message(self, now: float) -> str:
        states = []
        for n in self._nodes.values():
            if n.down_until > now:
                states.append(
                    f"{n.node.label} ({n.error or 'failed'}; tried again in "
                    f"{n.down_until - now:.0f} s)"
                )
            else:
                states.append(f"{n.node.label} (went away during this render)")
        return (
            f"no remote browser node to render on: {len(self._nodes)} of "
            f"{len(self._nodes)} are down: {', '.join(states)}; check SELENIUM_REMOTE_URL "
            "and the nodes"
        )

    def _node_gone(self, session: BrowserSession, error: BaseException) -> bool:
        """Whether the broken ``session`` died with its remote node (taken out if so):
        the node is out already, or does not answer ``/status``."""
        node = session.node
        if node is None:
            return False
        state = self._nodes[node.label]
        if state.down_until > time.monotonic():
            return True
        from crawler.browser.driver import node_unreachable  # loaded with the session

        reason = node_unreachable(node.url)
        if reason is None:
            return False  # the browser died, not the node: Scrapy retries
        self._take_out(state, f"{reason} (after {type(error).__name__})")
        return True

    def _take_out(self, state: _NodeState, error: str) -> None:
        """Take a node out for the cool-down; drop its idle sessions unasked."""
        error = redact_text(error)
        with self._changed:
            was_up = state.down_until <= time.monotonic()
            state.down_until = time.monotonic() + self.config.remote_cooldown
            state.error = error
            dropped = [s for s in self._idle if s.node is state.node]
            self._changed.notify_all()
        for session in dropped:
            self._abandon(session)
            self._node_event(state.node, "sessions_lost")
        if was_up:
            self._node_event(state.node, "taken_out")
            logger.warning(
                "browser node %s is out for %g s: %s",
                state.node.label,
                self.config.remote_cooldown,
                error,
            )

    def _checkin(self, session: BrowserSession, keep: bool) -> None:
        limit = self.config.max_pages_per_session
        node = self._nodes.get(session.node.label) if session.node is not None else None
        if not keep:
            self._event("session_restarts")
            logger.info("browser session %d broke; it will be replaced", session.session_id)
            self._discard(session)
        elif self.closing or (node is not None and node.down_until > time.monotonic()):
            self._discard(session)
        elif limit and session.pages >= limit:
            self._event("sessions_recycled")
            self._discard(session)
        else:
            with self._changed:
                self._idle.append(session)
                self._changed.notify()

    def _forget(self, session: BrowserSession) -> None:
        """The pool no longer holds ``session`` (idempotent); its node's count drops."""
        with self._changed:
            if session not in self._sessions:
                return
            self._sessions.discard(session)
            if session in self._idle:
                self._idle.remove(session)
            if session.node is not None:
                self._nodes[session.node.label].sessions -= 1
            self._changed.notify()

    def _discard(self, session: BrowserSession) -> None:
        self._forget(session)
        session.quit()

    def _abandon(self, session: BrowserSession) -> None:
        """Drop a session of a node that does not answer, unasked; remember its id."""
        self._forget(session)
        session.abandon()
        self._remember_lost(session)

    def _remember_lost(self, session: BrowserSession) -> None:
        if session.abandoned_id is None or session.node is None:
            return
        with self._lock:
            self._lost.setdefault(session.node.label, []).append(session.abandoned_id)
        session.abandoned_id = None

    def _delete_lost(self, node: RemoteNode) -> int:
        """Delete the sessions dropped unasked on ``node``, which answers again; stop at
        the first it does not answer (those left are kept).  Returns how many are left."""
        with self._lock:
            ids = self._lost.pop(node.label, [])
        if not ids:
            return 0
        from crawler.browser.driver import delete_session  # loaded with the session

        for done, session_id in enumerate(ids):
            reason = delete_session(node.url, session_id)
            if reason is not None:
                left = ids[done:]
                with self._lock:
                    self._lost.setdefault(node.label, [])[:0] = left
                logger.debug(
                    "browser node %s did not answer a session delete: %s",
                    node.label,
                    redact_text(reason),
                )
                return len(left)
            self._node_event(node, "lost_sessions_deleted")
        logger.info(
            "browser node %s: deleted %d browser session(s) dropped while it did not answer",
            node.label,
            len(ids),
        )
        return 0

    def _delete_all_lost(self) -> None:
        """At close: delete the sessions dropped unasked on every node that answers
        ``/status`` now (side by side); warn about those left."""
        with self._lock:
            nodes = [self._nodes[label] for label, ids in self._lost.items() if ids]
        if not nodes:  # no Selenium import for a crawl that rendered nothing
            return
        from crawler.browser.driver import node_unreachable

        def clean(state: _NodeState) -> None:
            if node_unreachable(state.node.url) is None:
                self._delete_lost(state.node)

        cleaners = [
            threading.Thread(target=clean, args=(state,), name="selenium-delete") for state in nodes
        ]
        for cleaner in cleaners:
            cleaner.start()
        for cleaner in cleaners:
            cleaner.join()
        with self._lock:
            left = {label: ids for label, ids in self._lost.items() if ids}
        for label, ids in left.items():
            for _ in ids:
                self._node_event(self._nodes[label].node, "lost_sessions_left")
            logger.warning(
                "browser node %s does not answer: %d browser session(s) dropped while it "
                "was away may still run there (WebDriver session ids: %s); the node's own "
                "session timeout, if it has one, ends them",
                label,
                len(ids),
                ", ".join(ids),
            )

    def _node_event(self, node: RemoteNode, name: str) -> None:
        self._event(f"nodes/{node.label}/{name}")

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
        """The thread half of :meth:`close` (blocks; never call it on the reactor thread).
        Calling it again does nothing."""
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
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
        self._delete_all_lost()
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
