"""Settings and logins of the feed storages that deliver to a server
(:mod:`crawler.feedstorage.ftp`, :mod:`crawler.feedstorage.sftp`).

A password never has to be in a feed URI (where it shows in the process list,
the shell's history and a job file).  :func:`feed_login` looks it up, in order:

1. the URI's own password (``ftp://user:password@host/``), accepted as Scrapy
   accepts it, masked in every log, and warned about (:func:`warn_uri_password`);
2. the netrc file (``CRAWLER_FEED_NETRC``, default ``~/.netrc``: the format of
   ftp(1), curl's ``--netrc`` and Python's :mod:`netrc`): the ``machine`` entry
   of the host (or ``default``) whose ``login`` is the URI's user, or any login
   when the URI names none;
3. the environment variable named by ``CRAWLER_FEED_PASSWORD_ENV`` (default
   ``CRAWLER_FEED_PASSWORD``), for the URI's user.

The password found is registered with the log masker
(:data:`crawler.redaction.MASKER`) before anything connects, and is never put
in settings, stats or a message.
"""

from __future__ import annotations

import logging
import netrc
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.exceptions import FeedConfigError
from crawler.redaction import MASKER, redact_url

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedLogin:
    """Who to log in as: ``user`` (``""``: none, anonymous FTP or the local
    user for SFTP), ``password`` (``None``: none found) and where the password
    came from (``source``, for messages: ``"the URI"``, the netrc path or
    ``"$NAME"``)."""

    user: str
    password: str | None
    source: str

    def __repr__(self) -> str:  # never the password, whatever prints it
        password = "'***'" if self.password else None
        return f"FeedLogin(user={self.user!r}, password={password}, source={self.source!r})"


@dataclass(frozen=True)
class FeedConfig:
    """The ``CRAWLER_FEED_*`` settings: ``netrc`` (a path, ``None``: ``~/.netrc``
    if it exists), ``password_env`` (a variable name), the SFTP ``key_file``
    and ``known_hosts`` (paths, ``None``: ssh's defaults), ``host_key_check``,
    ``timeout`` (seconds) and ``undelivered_dir`` (``None``: the working directory)."""

    netrc: str | None
    password_env: str
    key_file: str | None
    known_hosts: str | None
    host_key_check: bool
    timeout: float
    undelivered_dir: str | None

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> FeedConfig:
        """Raises :class:`~crawler.exceptions.FeedConfigError` for a netrc,
        key or known_hosts file that is set but missing, or a netrc file that
        does not parse (no network, no secret read into a message)."""
        config = cls(
            netrc=settings.get("CRAWLER_FEED_NETRC") or None,
            password_env=settings.get("CRAWLER_FEED_PASSWORD_ENV") or "CRAWLER_FEED_PASSWORD",
            key_file=settings.get("CRAWLER_FEED_SFTP_KEY_FILE") or None,
            known_hosts=settings.get("CRAWLER_FEED_SFTP_KNOWN_HOSTS") or None,
            host_key_check=settings.getbool("CRAWLER_FEED_SFTP_HOST_KEY_CHECK"),
            timeout=settings.getfloat("CRAWLER_FEED_TIMEOUT"),
            undelivered_dir=settings.get("CRAWLER_FEED_UNDELIVERED_DIR") or None,
        )
        for name, path in (
            ("CRAWLER_FEED_NETRC", config.netrc),
            ("CRAWLER_FEED_SFTP_KEY_FILE", config.key_file),
            ("CRAWLER_FEED_SFTP_KNOWN_HOSTS", config.known_hosts),
        ):
            if path is not None and not Path(path).expanduser().is_file():
                raise FeedConfigError(f"{name}: no file {path}")
        if config.key_file is not None:
            check_key_file(config.key_file)
        if config.netrc is not None:
            read_netrc(config.netrc)
        return config


def check_key_file(path: str) -> None:
    """Raise :class:`~crawler.exceptions.FeedConfigError` naming ``path`` when it is
    not a private key paramiko reads (OpenSSH, PEM; RSA, ECDSA, Ed25519): found
    when the settings are checked, not when the feed is sent at the end of the
    crawl.  A key protected by a passphrase is a key (the passphrase is the feed
    password, :func:`feed_login`); it is not decrypted here."""
    import paramiko  # only for a crawl that names a key

    try:
        paramiko.PKey.from_path(Path(path).expanduser())
    except paramiko.PasswordRequiredException:
        return
    except (paramiko.SSHException, ValueError, UnicodeDecodeError) as e:
        reason = f" ({e})" if isinstance(e, paramiko.SSHException) else ""
        raise FeedConfigError(
            f"CRAWLER_FEED_SFTP_KEY_FILE: {path} is not a private key paramiko can "
            f"read{reason}: give the private key file (such as ~/.ssh/id_ed25519), "
            "not the .pub file"
        ) from None
    except OSError as e:
        raise FeedConfigError(
            f"CRAWLER_FEED_SFTP_KEY_FILE: {path} cannot be read: {e.strerror or e}"
        ) from None


def read_netrc(path: str | None) -> netrc.netrc | None:
    """The netrc file at ``path`` (``None``: ``~/.netrc``, or ``None`` when it
    does not exist).  Python checks the permissions of the default file only
    (not readable by others when it holds a password).  Raises
    :class:`~crawler.exceptions.FeedConfigError` naming the file and line."""
    if path is None and not (Path.home() / ".netrc").is_file():
        return None
    try:
        return netrc.netrc(None if path is None else str(Path(path).expanduser()))
    except netrc.NetrcParseError as e:  # its message may quote a password: left out
        raise FeedConfigError(
            f"the netrc file {e.filename} does not parse at line {e.lineno}: each entry is "
            "'machine HOST login USER password PASSWORD' (netrc(5)), and a file holding "
            "passwords must not be readable by others"
        ) from None
    except OSError as e:
        raise FeedConfigError(f"the netrc file {path} cannot be read: {e.strerror}") from None


def feed_login(
    uri: str,
    host: str,
    user: str,
    uri_password: str | None,
    config: FeedConfig,
    environ: Mapping[str, str] = os.environ,
) -> FeedLogin:
    """The login for ``host`` (the user and password of the feed URI ``uri``,
    percent-decoded), looked up as the module says, and registered with the log
    masker.  Raises :class:`~crawler.exceptions.FeedConfigError` for a netrc
    file that cannot be read."""
    if uri_password:
        found = FeedLogin(user, uri_password, "the URI")
    else:
        found = _netrc_login(host, user, config) or FeedLogin(
            user, environ.get(config.password_env) or None, f"${config.password_env}"
        )
    if found.password:
        MASKER.add(found.password)
    logger.debug(
        "Feed %s: user %r, password %s",
        redact_url(uri),
        found.user,
        f"from {found.source}" if found.password else "none",
    )
    return found


def _netrc_login(host: str, user: str, config: FeedConfig) -> FeedLogin | None:
    parsed = read_netrc(config.netrc)
    if parsed is None:
        return None
    entry = parsed.authenticators(host)
    if entry is None:
        return None
    login, _, password = entry
    if user and login and login != user:
        return None  # another account on that host: not this user's password
    return FeedLogin(user or login, password or None, config.netrc or "~/.netrc")


def password_warning(uri: str, host: str, config: FeedConfig) -> str:
    """What to say about ``uri``, which carries its password: where it belongs."""
    return (
        f"the feed URI {redact_url(uri)} holds a password, which shows in the process "
        f"list, the shell's history and job files: put it in {config.netrc or '~/.netrc'} "
        f"(machine {host} login USER password ...) or the environment variable "
        f"{config.password_env} instead"
    )


def warn_uri_password(uri: str, host: str, config: FeedConfig) -> None:
    """Log :func:`password_warning`."""
    logger.warning("%s", password_warning(uri, host, config))
