"""A real SSH server with its SFTP subsystem (paramiko), in threads of the test
process, on a free loopback port, serving a directory.

``SFTPTestServer(root)`` accepts ``USER`` with ``PASSWORD`` or with the
private key it writes to ``key_file``; paths are below ``root`` (``/`` and the
login directory are ``root``).  Its host key is new for each server;
``known_hosts_line`` is that key as OpenSSH's known_hosts file holds it.
Use it as a context manager; it stops when the block ends.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path
from typing import Any, Self

import paramiko
from paramiko.sftp import SFTP_OK

USER = "sfeeder"
PASSWORD = "sftp-Pa55word-plugh"


class _Server(paramiko.ServerInterface):
    def __init__(self, client_key: paramiko.PKey) -> None:
        self.client_key = client_key

    def get_allowed_auths(self, username: str) -> str:
        return "password,publickey"

    def check_auth_password(self, username: str, password: str) -> int:
        ok = (username, password) == (USER, PASSWORD)
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = username == USER and key == self.client_key
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class _Handle(paramiko.SFTPHandle):
    def stat(self) -> Any:
        try:
            return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))
        except OSError as e:
            return paramiko.SFTPServer.convert_errno(e.errno)


class _Root(paramiko.SFTPServerInterface):
    """The files of ``root``, as paramiko's own test stub serves them."""

    def __init__(self, server: paramiko.ServerInterface, root: str) -> None:
        super().__init__(server)
        self.root = root

    def _local(self, path: str) -> str:
        return self.root + self.canonicalize(path)

    def stat(self, path: str) -> Any:
        try:
            return paramiko.SFTPAttributes.from_stat(os.stat(self._local(path)))
        except OSError as e:
            return paramiko.SFTPServer.convert_errno(e.errno)

    lstat = stat

    def list_folder(self, path: str) -> Any:
        local = self._local(path)
        try:
            return [
                paramiko.SFTPAttributes.from_stat(os.stat(os.path.join(local, name)), name)
                for name in os.listdir(local)
            ]
        except OSError as e:
            return paramiko.SFTPServer.convert_errno(e.errno)

    def open(self, path: str, flags: int, attr: Any) -> Any:
        try:
            fd = os.open(self._local(path), flags, 0o644)
        except OSError as e:
            return paramiko.SFTPServer.convert_errno(e.errno)
        if flags & (os.O_WRONLY | os.O_RDWR):
            mode = "ab" if flags & os.O_APPEND else ("r+b" if flags & os.O_RDWR else "wb")
        else:
            mode = "rb"
        handle = _Handle(flags)
        handle.filename = path
        handle.readfile = handle.writefile = os.fdopen(fd, mode)
        return handle

    def mkdir(self, path: str, attr: Any) -> int:
        try:
            os.mkdir(self._local(path))
        except OSError as e:
            return paramiko.SFTPServer.convert_errno(e.errno)
        return SFTP_OK


class SFTPTestServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.host_key = paramiko.ECDSAKey.generate()
        self.client_key = paramiko.ECDSAKey.generate()
        self.key_file = root.parent / f"{root.name}-client-key"
        self.client_key.write_private_key_file(str(self.key_file))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._transports: list[paramiko.Transport] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key.get_name()} {self.host_key.get_base64()}\n"

    def url(self, path: str, user: str = USER) -> str:
        return f"sftp://{user}@127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(None)
            transport = paramiko.Transport(conn)
            transport.add_server_key(self.host_key)
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, _Root, str(self.root))
            self._transports.append(transport)
            with contextlib.suppress(paramiko.SSHException, EOFError, OSError):
                transport.start_server(server=_Server(self.client_key))

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for transport in self._transports:
            transport.close()
        self._listener.close()
