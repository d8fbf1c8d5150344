"""``sftp://[user@]host[:port]/path`` feeds, sent with paramiko (SSH File Transfer).

* **Path**: absolute on the server, as curl reads ``sftp://`` URLs;
  ``sftp://host/~/feeds/x.jsonl`` is relative to the login directory.
  Missing directories are created, as Scrapy's FTP storage creates them.
* **Overwrite**: the feed option ``overwrite`` (the default) truncates the
  file; ``False`` appends (a resumed crawl appends to its JSON lines feed).
* **Host key**: checked against ``CRAWLER_FEED_SFTP_KNOWN_HOSTS`` (default
  ``~/.ssh/known_hosts``, OpenSSH's format: add a server with ``ssh-keyscan
  -p PORT HOST >> ~/.ssh/known_hosts`` after checking its fingerprint); an
  unknown or changed key is refused.  ``CRAWLER_FEED_SFTP_HOST_KEY_CHECK =
  False`` accepts an unknown key (logged with its fingerprint), never a
  changed one.
* **Login**: the user of the URI (else of the netrc entry, else the local
  user, as ssh does); the private key ``CRAWLER_FEED_SFTP_KEY_FILE`` and/or the
  password of :func:`crawler.feedstorage.config.feed_login` (also the key's
  passphrase, as paramiko takes it); with neither, ssh-agent and ``~/.ssh/id_*``.
"""

from __future__ import annotations

import errno
import getpass
import logging
import posixpath
import shutil
from pathlib import Path
from typing import IO, TYPE_CHECKING, ClassVar

import paramiko

from crawler.feedstorage.delivery import DeliveringFeedStorage

if TYPE_CHECKING:
    from crawler.feedstorage.config import FeedLogin

logger = logging.getLogger(__name__)

#: Bytes of one write request (paramiko's largest is 32 KiB).
CHUNK = 32 * 1024


class UnknownHostKeyError(paramiko.SSHException):
    """The server's host key is in no known_hosts file."""


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """A key in no known_hosts file: refused, or accepted with a warning."""

    def __init__(self, check: bool) -> None:
        self.check = check

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        if self.check:
            raise UnknownHostKeyError(hostname, key.get_name(), key.fingerprint)
        logger.warning(
            "Accepting the unknown host key of %s (%s %s): CRAWLER_FEED_SFTP_HOST_KEY_CHECK is off",
            hostname,
            key.get_name(),
            key.fingerprint,
        )


class SFTPFeedStorage(DeliveringFeedStorage):
    """Sends a feed file over SFTP (registered in ``FEED_STORAGES`` as ``sftp``)."""

    default_port: ClassVar[int] = 22

    @property
    def known_hosts(self) -> Path:
        return Path(self.config.known_hosts or "~/.ssh/known_hosts").expanduser()

    @property
    def remote_path(self) -> str:
        """The path on the server: ``/~/x`` is ``x`` in the login directory."""
        return self.path[3:] if self.path.startswith("/~/") else self.path

    def anonymous_user(self) -> str:
        return getpass.getuser()

    def _connect(self, login: FeedLogin) -> tuple[paramiko.SSHClient, paramiko.SFTPClient]:
        """Connect, check the host key, log in and open the SFTP session; the caller
        closes the client."""
        timeout = self.config.timeout
        client = paramiko.SSHClient()
        try:
            if self.known_hosts.is_file():  # read, never written
                client.load_system_host_keys(str(self.known_hosts))
            client.set_missing_host_key_policy(_HostKeyPolicy(self.config.host_key_check))
            defaults = self.config.key_file is None and not login.password
            client.connect(
                self.host,
                self.port,
                username=login.user or self.anonymous_user(),
                password=login.password,
                key_filename=self.config.key_file,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                channel_timeout=timeout,
                allow_agent=defaults,
                look_for_keys=defaults,
            )
            sftp = client.open_sftp()
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(timeout)
        except BaseException:
            client.close()
            raise
        return client, sftp

    def deliver(self, file: IO[bytes], login: FeedLogin) -> None:
        client, sftp = self._connect(login)
        try:
            path = self.remote_path
            _makedirs(sftp, posixpath.dirname(path))
            with sftp.open(path, "wb" if self.overwrite else "ab") as remote:
                remote.set_pipelined(True)
                shutil.copyfileobj(file, remote, CHUNK)
        finally:
            client.close()

    def check(self, login: FeedLogin, directory: str) -> None:
        client, sftp = self._connect(login)
        try:
            if directory == "/~" or directory.startswith("/~/"):
                directory = directory[3:]  # in the login directory, as remote_path
            _makedirs(sftp, directory)
        finally:
            client.close()

    def reason(self, error: Exception) -> str:
        where = f"{self.host}:{self.port}"
        if isinstance(error, paramiko.ssh_exception.NoValidConnectionsError) and error.errors:
            error = next(iter(error.errors.values()))  # each address's socket error
        if isinstance(error, UnknownHostKeyError):
            hostname, kind, fingerprint = error.args
            return (
                f"the host key of {hostname} ({kind} {fingerprint}) is not in "
                f"{self.known_hosts}: check the fingerprint with the server's owner, "
                f"then add it (ssh-keyscan -p {self.port} {self.host} >> {self.known_hosts}), "
                "or set CRAWLER_FEED_SFTP_KNOWN_HOSTS"
            )
        if isinstance(error, paramiko.BadHostKeyException):
            return (
                f"the host key of {where} is not the one in {self.known_hosts}: the server "
                "was reinstalled, or another one answers in its place; nothing was sent"
            )
        if isinstance(error, paramiko.AuthenticationException):
            if self.config.key_file:
                return f"{self.login_refused()}, or the key {self.config.key_file}"
            return self.login_refused()
        if isinstance(error, PermissionError):
            return f"permission denied on {where} for {self.remote_path}"
        if isinstance(error, FileNotFoundError):
            return f"{where} has no {self.remote_path} (or no directory of it)"
        if isinstance(error, paramiko.SSHException):
            if self.config.key_file and "key" in str(error).lower():
                return f"the key {self.config.key_file}: {error}"
            return f"{where}: {error}"
        return super().reason(error)


def _makedirs(sftp: paramiko.SFTPClient, directory: str) -> None:
    """Create ``directory`` and its missing parents on the server."""
    if directory in ("", "/"):
        return
    try:
        sftp.stat(directory)
        return
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise
    _makedirs(sftp, posixpath.dirname(directory))
    sftp.mkdir(directory)
