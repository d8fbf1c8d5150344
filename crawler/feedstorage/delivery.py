"""What the feed storages that deliver to a server share: the URI's parts, the
login (:func:`crawler.feedstorage.config.feed_login`), one-line errors, and a
local copy of a feed that could not be delivered.

As Scrapy's ``BlockingFeedStorage`` does, the feed is written to a local
temporary file during the crawl and sent when the feed closes (the end of the
crawl, or of a batch), in a thread.  When sending fails, Scrapy logs the
error, counts it (``feedexport/failed_count/<storage>``, which makes the
commands exit with code 1) and deletes the temporary file, so the records
would be lost to that feed: here they are copied first to
``CRAWLER_FEED_UNDELIVERED_DIR`` (default: the working directory) as
``undelivered-<UTC time>-<host>-<file name>``, and the error says where.
"""

from __future__ import annotations

import itertools
import os
import posixpath
import shutil
import socket
import threading
import time
from abc import abstractmethod
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import unquote, urlsplit

from scrapy.extensions.feedexport import BlockingFeedStorage

from crawler import childenv
from crawler.exceptions import FeedConfigError, FeedDeliveryError
from crawler.feedstorage.config import FeedConfig, FeedLogin, feed_login, warn_uri_password
from crawler.outcome import UNDELIVERED_STAT
from crawler.redaction import MASKER, redact_url

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

_STATS_LOCK = threading.Lock()  # the feeds' threads add to one stat


def forget_password_variable(config: FeedConfig) -> None:
    """Keep the password variable (``CRAWLER_FEED_PASSWORD_ENV``) out of the
    crawl's child processes (:func:`crawler.childenv.forget`) and its value
    out of the log, from the start of the crawl (the feed is sent at its end)."""
    value = os.environ.get(config.password_env)
    childenv.forget(name=config.password_env, value=value)
    MASKER.add(value)


def fixed_directory(path: str) -> str:
    """The directory of the feed ``path`` up to its first ``%(name)s`` parameter:
    ``/feeds/%(name)s/x.jsonl`` -> ``/feeds``; ``/feeds/x.jsonl`` -> ``/feeds``."""
    directory = posixpath.dirname(path)
    if "%(" in directory:
        directory = posixpath.dirname(directory[: directory.index("%(")]) or "/"
    return directory


class DeliveringFeedStorage(BlockingFeedStorage):
    """A feed storage that sends the finished feed file to ``scheme://[user@]host[:port]/path``.

    Subclasses set :attr:`default_port` and implement :meth:`deliver` (send
    ``file`` from its start; ``self.overwrite`` False: append) and may add
    to :meth:`reason` (an exception of theirs as one line).
    """

    default_port: ClassVar[int]

    def __init__(
        self, uri: str, config: FeedConfig, *, feed_options: dict[str, Any] | None = None
    ) -> None:
        parts = urlsplit(uri)
        self.shown = redact_url(uri)  # the URI as messages show it
        if not parts.hostname:
            raise ValueError(f"Got a storage URI without a hostname: {self.shown}")
        self.uri = uri
        self.host: str = parts.hostname
        self.port: int = parts.port or self.default_port
        self.user = unquote(parts.username or "")
        self.uri_password = None if parts.password is None else unquote(parts.password)
        self.path = unquote(parts.path)
        # Scrapy's FTP storage overwrites unless told not to (a resume appends)
        self.overwrite: bool = not feed_options or feed_options.get("overwrite", True)
        self.config = config
        self.login: FeedLogin | None = None  # looked up when the feed is sent
        self.kept: Path | None = None  # the local copy of a feed not delivered
        self.crawler: Crawler | None = None  # the crawl's (from_crawler), for its stats

    @classmethod
    def from_crawler(
        cls, crawler: Crawler, uri: str, *, feed_options: dict[str, Any] | None = None
    ) -> Self:
        config = FeedConfig.from_settings(crawler.settings)
        forget_password_variable(config)
        storage = cls(uri, config, feed_options=feed_options)
        storage.crawler = crawler  # its stats are set only when the crawl starts
        return storage

    def open(self, spider: Spider) -> IO[bytes]:
        if self.uri_password:
            warn_uri_password(self.uri, self.host, self.config)
        return super().open(spider)

    def _store_in_thread(self, file: IO[bytes]) -> None:
        self.send(file)

    def send(self, file: IO[bytes]) -> None:
        """Deliver ``file`` (a feed file, read from its start) in the calling
        thread, and close it (``crawler export -o URI`` calls it directly).

        Raises :class:`~crawler.exceptions.FeedDeliveryError` (one line, the
        password left out) after keeping a local copy of the file."""
        try:
            self.login = feed_login(self.uri, self.host, self.user, self.uri_password, self.config)
            file.seek(0)
            self.deliver(file, self.login)
        except Exception as e:
            kept = self._keep(file)
            self._record_failure()
            raise FeedDeliveryError(
                f"{self.shown} could not be delivered: {self.reason(e)}; {kept}"
            ) from e
        finally:
            file.close()

    @abstractmethod
    def deliver(self, file: IO[bytes], login: FeedLogin) -> None:
        """Send ``file`` (at its start) to the server as :attr:`path`."""

    @abstractmethod
    def check(self, login: FeedLogin, directory: str) -> None:
        """Connect and log in as :meth:`deliver` does (host key included), and make
        sure ``directory`` (a path of the URI's form) exists, creating it as
        :meth:`deliver` would; send nothing."""

    def preflight(self) -> None:
        """Check, before a crawl, that the feed can be delivered at its end: connect,
        log in, check the host key, and find or create the feed's directory (up to its
        first ``%(name)s`` parameter, which is filled in only when the feed is written).

        Raises :class:`~crawler.exceptions.FeedDeliveryError`: one line, as
        :meth:`send`'s, the password left out."""
        try:
            self.login = feed_login(self.uri, self.host, self.user, self.uri_password, self.config)
            self.check(self.login, fixed_directory(self.path))
        except Exception as e:
            raise FeedDeliveryError(f"{self.shown} cannot be delivered: {self.reason(e)}") from e

    def reason(self, error: Exception) -> str:
        """``error`` as the end of a one-line message that says what to do."""
        where = f"{self.host}:{self.port}"
        if isinstance(error, FeedConfigError):
            return str(error)
        if isinstance(error, socket.gaierror):
            return f"cannot resolve the host name {self.host}"
        if isinstance(error, ConnectionRefusedError):
            return f"{where} refused the connection (is the server running on that port?)"
        if isinstance(error, TimeoutError):
            return f"{where} did not answer within {self.config.timeout:g} s (CRAWLER_FEED_TIMEOUT)"
        if isinstance(error, OSError) and error.strerror:
            return f"{where}: {error.strerror}"
        return f"{where}: {error}"

    def login_refused(self) -> str:
        """The reason for a refused login: who, and where the password was looked for."""
        login = self.login
        user = (login.user if login else self.user) or self.anonymous_user()
        if login is not None and login.password:
            return f"the server refused the login of {user!r} with the password from {login.source}"
        return (
            f"the server refused the login of {user!r} without a password: put it in "
            f"{self.config.netrc or '~/.netrc'} (machine {self.host} login {user} "
            f"password ...) or the environment variable {self.config.password_env}"
        )

    def anonymous_user(self) -> str:
        """Who a URI without a user logs in as."""
        return "anonymous"

    def _keep(self, file: IO[bytes]) -> str:
        """Copy the feed file to the undelivered directory; say where (or why not)."""
        directory = Path(self.config.undelivered_dir or ".").expanduser().absolute()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        name = PurePosixPath(self.path).name or "feed"
        target = directory / f"undelivered-{stamp}-{self.host}-{name}"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            for n in itertools.count(2):  # never over another copy
                try:
                    kept = target.open("xb")
                    break
                except FileExistsError:
                    target = directory / f"undelivered-{stamp}-{self.host}-{n}-{name}"
            with kept:
                file.seek(0)
                shutil.copyfileobj(file, kept)
        except OSError as e:
            return f"its records could not be kept in {target} either: {e.strerror or e}"
        self.kept = target
        return f"its records were kept in {target}"

    def _record_failure(self) -> None:
        """Add this feed to the crawl's ``feedexport/undelivered`` stat (a list of
        ``{"uri": redacted URI, "kept": local copy or None}``), which the verdict's
        ``feed_failed`` message names (:func:`crawler.outcome.judge`)."""
        stats = self.crawler.stats if self.crawler is not None else None
        if stats is None:  # ``crawler export``: the error itself is the message
            return
        failure = {"uri": self.shown, "kept": str(self.kept) if self.kept else None}
        with _STATS_LOCK:  # feeds are sent in threads, side by side
            stats.set_value(UNDELIVERED_STAT, [*stats.get_value(UNDELIVERED_STAT, []), failure])
