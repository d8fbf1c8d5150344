"""Loopback ports for tests that run beside other tests (``make test``: two
pytest-xdist workers, each a process of its own).

Two habits are unsafe there:

* "A port nobody listens on": bind port 0, close the socket, then connect to
  the number expecting ``ECONNREFUSED``.  Once closed, the port is free: the
  other worker's next server (which binds port 0 too) can get it, and the test
  then talks to that server instead of meeting a refused connection.
  :class:`HeldPort` keeps the socket *bound but not listening* instead: a
  connection to it is refused (the kernel answers RST), and no other socket can
  bind the port while it is held, even with ``SO_REUSEADDR`` or
  ``SO_REUSEPORT`` (Linux: a bind conflicts with any bound socket that did not
  set the same option, see ``inet_csk_bind_conflict``), so the held socket sets
  neither.  Use the :func:`closed_port` fixture, or ``with HeldPort() as held:``
  for more than one port.
* Telling a server process a port from :func:`free_port`: the port is free
  again from the moment it is returned until the server binds it.  The servers
  the tests start fail to start if another socket took it (and say so), and
  whoever polls them for readiness checks that the server answering is the one
  it started (:func:`listens`).  A test that needs a port for a server it
  starts *later* holds it with :class:`HeldPort` and releases it just before the
  start; a server a test kills holds its port until it starts again
  (``HeldPort(port, reuse=True)``).

The fixed ports 1 and 9 that some tests give as never-fetched or dead URLs are
safe from both: the kernel hands out ports of ``ip_local_port_range`` only
(32768-60999 here), and no test binds them.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, for a server that must be given its port
    (``redis-server --port``, ``pg_ctl -o -p``, chromedriver ``--port``): see the
    module's docstring for the window in which another socket can take it."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a TCP socket listening on ``port`` (any
    address; Linux ``/proc/net/tcp`` and ``tcp6``, where state ``0A`` is LISTEN).

    A readiness probe that got an answer on ``port`` may have reached another
    test's server that took the port first (the server it started then fails to
    bind it and exits): this tells the two apart.
    """
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:  # no IPv6
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rpartition(":")[2], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:  # the process ended
        return False
    for name in names:
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}") in inodes:
                return True
        except OSError:  # the descriptor was closed meanwhile
            continue
    return False


class HeldPort:
    """A TCP socket bound to ``127.0.0.1:port`` (``port`` 0: any free one) that
    never listens: a connection to :attr:`port` is refused and no other socket
    can bind it until :meth:`release`.

    ``reuse``: set ``SO_REUSEADDR``, to hold the port of a server just stopped
    (the ``TIME_WAIT`` of its connections makes a plain bind fail for a minute).
    Then the kernel still never hands the port out to a bind to port 0 (how every
    port of the tests is found), but a socket told this number that sets
    ``SO_REUSEADDR`` too could bind it and listen.

    Raises ``OSError`` (``EADDRINUSE``) if ``port`` is given and taken.
    """

    def __init__(self, port: int = 0, *, reuse: bool = False) -> None:
        # Without SO_REUSEADDR / SO_REUSEPORT: with either set, another socket
        # told the port that sets it too could bind the port and listen on it.
        self._socket: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if reuse:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((LOOPBACK, port))
        except OSError:
            self._socket.close()
            raise
        self.port: int = int(self._socket.getsockname()[1])

    @property
    def held(self) -> bool:
        return self._socket is not None

    def url(self, scheme: str = "http", path: str = "/") -> str:
        """``scheme://127.0.0.1:port/path``: a URL whose connections are refused."""
        return f"{scheme}://{LOOPBACK}:{self.port}{path}"

    def release(self) -> None:
        """Free the port (for a server started right after); idempotent."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> HeldPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port whose connections are refused for the whole test, and that
    no server (of this test run or another) can take meanwhile."""
    with HeldPort() as held:
        yield held.port
