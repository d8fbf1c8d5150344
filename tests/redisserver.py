"""A throwaway Redis server for tests: ``redis-server`` on a free loopback port.

No persistence (``--save ''``, no AOF), its own temp dir, stopped with SIGTERM
(SIGKILL after 10 s).  :meth:`RedisServer.kill` stops it at once, as a crash
would, and holds its port (:mod:`tests.ports`); :meth:`RedisServer.start` again
brings it back on the same port.  :meth:`RedisServer.freeze` stops it (SIGSTOP) as a
frozen host or a network partition would: connections open, nothing answers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.ports import HeldPort, free_port, listens


class RedisServer:
    """One ``redis-server`` process (Debian's ``redis-server`` package)."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run `make test` (it installs it)")
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="crawler-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._held: HeldPort | None = None  # the port, while killed

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=db)

    def start(self) -> RedisServer:
        """Start it and wait until it answers; raises ``RuntimeError`` with its log if
        it exits first (e.g. another socket took the port) or does not answer in 15 s."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self._held is not None:
            self._held.release()
            self._held = None
        command = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.dir),
            "--logfile", str(self.dir / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(redis.ConnectionError):
                # Ours, not another test's server that took the port first.
                if self.client().ping() and listens(self.process.pid, self.port):
                    return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.dir / "redis.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{log}")
            time.sleep(0.05)

    def flush(self) -> None:
        """Empty every database."""
        self.client().flushall()

    def kill(self) -> None:
        """Stop at once (SIGKILL), as a crash would.  Its port stays held (connections
        are refused, no other test's server takes it) until :meth:`start` or :meth:`stop`."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
            self._held = HeldPort(self.port, reuse=True)

    def freeze(self) -> None:
        """Stop it (SIGSTOP): the kernel still accepts connections to its port, and
        nothing answers, as with a frozen host or a network partition.  :meth:`thaw`
        (or :meth:`stop`) resumes it; a test that freezes it thaws it in a ``finally``."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume it after :meth:`freeze` (SIGCONT); harmless when it runs."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        self.thaw()  # a frozen server would not act on SIGTERM
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None
        if self._held is not None:
            self._held.release()
            self._held = None
        shutil.rmtree(self.dir, ignore_errors=True)
