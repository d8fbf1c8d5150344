"""A TCP proxy that delays what it forwards, to put a loopback Redis "on another machine".

This kernel has no ``netem`` queueing discipline, so the delay is made in user
space: threads of the test (or benchmark) process accept connections on a
free loopback port, open one to the target for each, and forward every chunk
they read ``delay`` seconds later, in each direction, in order (threads and
``time.sleep``, not asyncio: its selector rounds timeouts up to whole
milliseconds, which would make 0.5 ms 1 ms or more).  A request and its
answer thus take ``2 * delay`` more than direct: the round-trip time (RTT) of a
Redis on another host (plus about 0.1 ms of the proxy's own, and a little
oversleep: measure it with PINGs).

It also counts **round trips**: a chunk from a client after the proxy last
forwarded it an answer (or its first chunk) starts one, so a pipeline or a
command sent in several chunks counts once, as the client waits once.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType


class DelayProxy:
    """Forwards ``127.0.0.1:<port>`` to ``host:target_port``, each chunk ``delay``
    seconds late in each direction (``delay`` 0: forwarded at once), on ``port``
    (0: a free one; another proxy's after it stopped, to bring a server "back").

    ``with DelayProxy(...) as proxy:`` starts and stops it; :attr:`round_trips`
    counts the round trips of every client since the start or the last
    :meth:`reset`."""

    def __init__(
        self, target_port: int, delay: float, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.host = host
        self.target_port = target_port
        self.delay = delay  # seconds, each direction
        self.round_trips = 0
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))  # 0: a free one
        self.port: int = self._listener.getsockname()[1]
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def reset(self) -> int:
        """The round trips counted so far; the count starts again at 0."""
        with self._lock:
            count, self.round_trips = self.round_trips, 0
        return count

    def start(self) -> DelayProxy:
        """Listen (daemon threads); connections are accepted once this returns."""
        self._listener.listen(64)
        self._spawn(self._accept)
        return self

    def stop(self) -> None:
        """Close the listening socket and every forwarded connection, end the threads."""
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((self.host, self.target_port), timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets |= {client, upstream}
            answered = [True]  # the client got an answer since its last chunk
            for source, target, up in ((client, upstream, True), (upstream, client, False)):
                chunks: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()
                self._spawn(self._read, source, chunks, answered, up)
                self._spawn(self._send, target, chunks, answered, up)

    def _read(
        self,
        source: socket.socket,
        chunks: queue.SimpleQueue[tuple[float, bytes]],
        answered: list[bool],
        upstream: bool,
    ) -> None:
        """Read chunks from ``source`` for :meth:`_send`, each with its due time."""
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if upstream and data and answered[0]:
                answered[0] = False
                with self._lock:
                    self.round_trips += 1
            chunks.put((time.monotonic() + self.delay, data))
            if not data:
                return

    def _send(
        self,
        target: socket.socket,
        chunks: queue.SimpleQueue[tuple[float, bytes]],
        answered: list[bool],
        upstream: bool,
    ) -> None:
        """Write each chunk to ``target`` once due; at the end (b""), close ``target``."""
        while True:
            due, data = chunks.get()
            if not data:
                with contextlib.suppress(OSError):
                    target.shutdown(socket.SHUT_WR)
                return
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if not upstream:
                answered[0] = True
            try:
                target.sendall(data)
            except OSError:
                return
