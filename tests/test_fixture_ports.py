"""The tests' loopback ports (tests/ports.py): a held port refuses connections and
no other socket gets it, even one that sets SO_REUSEADDR and listens; ``listens``
tells the process that listens on a port from one that does not."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys

import pytest

from tests.ports import HeldPort, free_port, listens


def connect_error(port: int) -> int:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port))


@pytest.mark.parametrize("option", [None, socket.SO_REUSEADDR, socket.SO_REUSEPORT])
def test_a_held_port_refuses_connections_and_cannot_be_taken(option: int | None) -> None:
    with HeldPort() as held:
        assert connect_error(held.port) == errno.ECONNREFUSED
        with socket.socket() as other:
            if option is not None:
                other.setsockopt(socket.SOL_SOCKET, option, 1)
            with pytest.raises(OSError) as taken:
                other.bind(("127.0.0.1", held.port))
                other.listen()
            assert taken.value.errno == errno.EADDRINUSE
        assert connect_error(held.port) == errno.ECONNREFUSED
    with socket.create_server(("127.0.0.1", held.port)):  # released: free again
        assert connect_error(held.port) == 0


def test_the_closed_port_fixture_is_held(closed_port: int) -> None:
    assert connect_error(closed_port) == errno.ECONNREFUSED
    with socket.socket() as other, pytest.raises(OSError):
        other.bind(("127.0.0.1", closed_port))


def test_a_port_held_after_its_server_stopped_is_not_handed_out_again() -> None:
    """``reuse=True`` binds over the TIME_WAIT a server's closed connections leave;
    a bind to port 0 (with SO_REUSEADDR too) still never gets a bound port: 500
    binds get 500 other ports (if bound ports were handed out, two of 500 random
    picks among Linux's ~14,000 would meet with a probability over 99.9 %)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server closes first: TIME_WAIT on its side
    client.recv(1)
    client.close()
    with HeldPort(port, reuse=True) as held:
        assert connect_error(held.port) == errno.ECONNREFUSED
        others = [socket.socket() for _ in range(500)]
        try:
            for other in others:
                other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                other.bind(("127.0.0.1", 0))
            ports = {port} | {other.getsockname()[1] for other in others}
            assert len(ports) == 1 + len(others)
        finally:
            for other in others:
                other.close()


def test_listens_names_the_process_that_listens() -> None:
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        assert listens(os.getpid(), port)
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            assert not listens(child.pid, port)
        finally:
            child.kill()
            child.wait()
    assert not listens(os.getpid(), port)
    with HeldPort() as held:
        assert not listens(os.getpid(), held.port)  # bound, not listening
