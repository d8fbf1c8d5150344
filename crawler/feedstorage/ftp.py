"""``ftp://`` and ``ftps://`` feeds: Scrapy's FTP storage, with the login of
:func:`crawler.feedstorage.config.feed_login` (a password from the netrc file
or the environment, not only the URI), a timeout, one-line errors and a local
copy of a feed that could not be delivered (:mod:`crawler.feedstorage.delivery`).

As Scrapy's ``FTPFeedStorage``: ``STOR`` (overwrite) or ``APPE`` (the feed
option ``overwrite`` False: a resumed crawl appends to its JSON lines feed),
missing directories created (``scrapy.utils.ftp.ftp_makedirs_cwd``), passive
mode unless ``FEED_STORAGE_FTP_ACTIVE``, ``ftps://``: explicit TLS with the
server's certificate verified.  The path is the server's (its root is the FTP
user's home on most servers).
"""

from __future__ import annotations

import ftplib
import posixpath
from ssl import create_default_context
from typing import IO, TYPE_CHECKING, Any, ClassVar, Self

from scrapy.utils.ftp import ftp_makedirs_cwd

from crawler.feedstorage.config import FeedConfig
from crawler.feedstorage.delivery import DeliveringFeedStorage

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.feedstorage.config import FeedLogin


class FTPFeedStorage(DeliveringFeedStorage):
    """Scrapy's ``FTPFeedStorage`` (same name: same ``feedexport/*_count/FTPFeedStorage`` stats)."""

    default_port: ClassVar[int] = 21

    def __init__(
        self,
        uri: str,
        config: FeedConfig,
        use_active_mode: bool = False,
        *,
        feed_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(uri, config, feed_options=feed_options)
        self.tls = uri.lower().startswith("ftps:")
        self.use_active_mode = use_active_mode

    @classmethod
    def from_crawler(
        cls, crawler: Crawler, uri: str, *, feed_options: dict[str, Any] | None = None
    ) -> Self:
        storage = cls(
            uri,
            FeedConfig.from_settings(crawler.settings),
            use_active_mode=crawler.settings.getbool("FEED_STORAGE_FTP_ACTIVE"),
            feed_options=feed_options,
        )
        storage.crawler = crawler  # its stats name a feed not delivered
        return storage

    def _connect(self, login: FeedLogin) -> ftplib.FTP:
        """Connect and log in (TLS for ``ftps:``); the caller closes the connection."""
        timeout = self.config.timeout
        ftp = (
            ftplib.FTP_TLS(context=create_default_context(), timeout=timeout)
            if self.tls
            else ftplib.FTP(timeout=timeout)
        )
        try:
            ftp.connect(self.host, self.port)
            ftp.login(login.user, login.password or "")  # "": ftplib's anonymous login
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()
            if self.use_active_mode:
                ftp.set_pasv(False)
        except BaseException:
            ftp.close()
            raise
        return ftp

    def deliver(self, file: IO[bytes], login: FeedLogin) -> None:
        with self._connect(login) as ftp:
            dirname, filename = posixpath.split(self.path)
            ftp_makedirs_cwd(ftp, dirname)
            command = "STOR" if self.overwrite else "APPE"
            ftp.storbinary(f"{command} {filename}", file)

    def check(self, login: FeedLogin, directory: str) -> None:
        with self._connect(login) as ftp:
            ftp_makedirs_cwd(ftp, directory)

    def reason(self, error: Exception) -> str:
        if isinstance(error, ftplib.error_perm) and str(error).startswith("530"):
            return self.login_refused()
        if isinstance(error, ftplib.Error):  # the server's reply: "550 Permission denied."
            return f"{self.host}:{self.port} answered {str(error).strip()!r} for {self.path}"
        return super().reason(error)
