"""A real FTP server (pyftpdlib) in a thread of the test process, on a free loopback port.

``FTPTestServer(root)`` serves two users, each with a home directory below
``root``: ``USER`` / ``PASSWORD`` may write, ``READONLY`` / ``PASSWORD`` may
only list and read.  Use it as a context manager; it stops when the block ends.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Self

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

USER = "feeder"
READONLY = "reader"
PASSWORD = "ftp-Pa55word-xyzzy"


class FTPTestServer:
    def __init__(self, root: Path) -> None:
        self.home = root / USER
        self.readonly_home = root / READONLY
        self.home.mkdir(parents=True, exist_ok=True)
        self.readonly_home.mkdir(parents=True, exist_ok=True)
        authorizer = DummyAuthorizer()
        authorizer.add_user(USER, PASSWORD, str(self.home), perm="elradfmwMT")
        authorizer.add_user(READONLY, PASSWORD, str(self.readonly_home), perm="elr")
        # a refused login answers at once (pyftpdlib waits 3 s against password guessing)
        attrs = {"authorizer": authorizer, "auth_failed_timeout": 0}
        handler = type("Handler", (FTPHandler,), attrs)
        self.server = FTPServer(("127.0.0.1", 0), handler)
        self.port: int = self.server.address[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        # as pyftpdlib's own test server: poll in steps, close in the serving thread
        while not self._stop.is_set():
            self.server.ioloop.loop(0.05, blocking=False)
        self.server.close_all()

    def url(self, path: str, user: str = USER) -> str:
        return f"ftp://{user}@127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
