"""Every exception the framework raises.

Download errors subclass Scrapy's own (``DownloadFailedError``,
``DownloadTimeoutError``), so the default ``RETRY_EXCEPTIONS`` retry them.
Messages name what failed and on which URL; they never carry cookie values.
"""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadFailedError,
    DownloadTimeoutError,
    DropItem,
    IgnoreRequest,
)


class ConfigError(ValueError):
    """The configuration is wrong: a setting, a spider argument, a spec file, a store URL.

    Raised before anything is crawled where possible.  The message is one line
    that names the setting (or argument, or file) and what is allowed; the
    ``crawler`` command and ``scrapy crawl`` print it as ``error: ...`` and
    exit with code 2.  Every more specific configuration error subclasses it.
    """


class BrowserConfigError(ConfigError):
    """A ``SELENIUM_*`` setting is invalid or conflicts with another one."""


class BrowserNotFoundError(BrowserConfigError):
    """No browser or driver executable to render with (looked up at the first render).

    A configuration error, not a download error: it is not retried, and the
    browser middleware reports it once per crawl and counts every render it
    fails (``selenium/render_failures/browser_not_found``).
    """


class BrowserError(DownloadFailedError):
    """A page could not be rendered by the browser (retried by default)."""


class BrowserStartError(BrowserError):
    """A browser session could not be started."""


class BrowserNodesDownError(BrowserStartError):
    """Every remote browser node (``SELENIUM_REMOTE_URL``) is out: each failed
    and waits out ``SELENIUM_REMOTE_COOLDOWN``.  The message names each node
    (host and port, never its credentials) and why it was taken out; counted in
    ``selenium/render_failures/nodes_down``, and the crawl's verdict fails
    (``browser_nodes_down``)."""


class BrowserCrashedError(BrowserError):
    """The browser or its driver died or hung during a render; the session was replaced."""


class BrowserTimeoutError(DownloadTimeoutError):
    """A render took too long: the page load or a ``wait_for`` condition timed out."""


class BrowserPageLoadTimeoutError(BrowserTimeoutError):
    """The main document did not arrive within the page-load timeout.

    A page whose document arrived but whose load event never fired is not an
    error: loading is stopped and the DOM read as it is (a note says so).
    """


class BrowserWaitTimeoutError(BrowserTimeoutError):
    """A ``wait_for`` condition (of the request or of an action) never became true."""


class BrowserPageError(IgnoreRequest):
    """The page loaded but an action or script of the request failed (not retried)."""


class BrowserNetError(BrowserError):
    """The browser could not load the main document: a network error such as
    ``net::ERR_CONNECTION_REFUSED`` (``net_error``; retried, as Scrapy retries
    refused connections and failed DNS lookups)."""

    def __init__(self, message: str, net_error: str) -> None:
        super().__init__(message)
        self.net_error = net_error


class BrowserPermanentNetError(BrowserPageError):
    """A network error that the same request would only meet again (a redirect
    loop, a body that does not decode): recorded with ``net_error``, not retried."""

    def __init__(self, message: str, net_error: str) -> None:
        super().__init__(message)
        self.net_error = net_error


class BrowserResponseTooLargeError(DownloadCancelledError):
    """The rendered main document is larger than ``DOWNLOAD_MAXSIZE`` (or the
    request's ``download_maxsize``): loading was stopped (not retried)."""


class BrowserPoolClosedError(DownloadCancelledError):
    """The browser pool is shutting down; the render was not started."""


class FormConfigError(ConfigError):
    """A ``CRAWLER_FORM*`` setting (or the spider argument behind it) is invalid."""


class SchedulerLockedError(ConfigError):
    """Another ``crawler scheduler`` holds the lock of the job state store (it
    runs those jobs; two would run each job twice).  The message names it."""


class ReportError(ConfigError):
    """A run report cannot be made: the store has no such run, or no runs at all
    (``crawler report``, :func:`crawler.report.render_report`).  The message names
    the run and the store and says what to do; ``crawler`` prints it on one line
    and exits with code 2."""


class CrawlNotJoinableError(ConfigError):
    """The shared crawl a ``crawler worker`` asked for will never be joinable: it
    finished, or no process works on it any more (:mod:`crawler.frontier.shared`).
    Refused at once, ``--wait`` or not; the message says what to do."""


class StoreError(Exception):
    """A store could not be opened or written; the message names the store."""


class InvalidItem(DropItem):
    """An extracted item with field errors, dropped by the validation pipeline.

    ``kind`` says why in one word (``missing_required``, ``conversion``), for
    stats; the message has every field's error.  The store keeps these items
    in its ``rejects`` table.
    """

    def __init__(
        self, message: str, kind: str, errors: dict[str, Any] | None = None, log_level: str = "INFO"
    ) -> None:
        super().__init__(message, log_level=log_level)
        self.kind = kind
        self.errors = dict(errors or {})


class DuplicateItem(DropItem):
    """An item identical to one already seen in this run (same spec, key and data)."""

    def __init__(self, message: str, log_level: str = "DEBUG") -> None:
        super().__init__(message, log_level=log_level)


class LinksRecorded(DropItem):
    """A :class:`~crawler.items.PageLinks` item at the end of the pipelines: it is
    the store's ``links`` table, not an item for feeds or item counts."""

    def __init__(self, message: str, log_level: str = "DEBUG") -> None:
        super().__init__(message, log_level=log_level)


class LoginConfigError(ConfigError):
    """A ``CRAWLER_LOGIN_*`` or cookies-file setting is missing, invalid or unreadable."""


class LoginError(Exception):
    """Logging in failed; the message names the login URL and never holds the password."""

    def __init__(self, login_url: str, reason: str) -> None:
        self.login_url = login_url
        self.reason = reason
        super().__init__(f"login at {login_url} failed: {reason}")


class StoreUrlError(ConfigError, StoreError):
    """A store URL that cannot be right: a bare path, an unknown scheme, a malformed URL.

    A configuration error (exit code 2) that is also a :class:`StoreError`, so
    code that opens stores catches it with the rest.  The message lists the
    forms a store URL takes.
    """


class StoreNotFoundError(StoreError):
    """A store that should exist does not (``crawler runs``, ``crawler export``).

    Raised instead of creating an empty store: reading never creates one.
    """


class JobDirError(ConfigError):
    """A job directory (``JOBDIR``, ``--job-dir``) that cannot be used: its journal
    cannot be opened, or it holds another crawl or one that finished.  The
    message names the directory, what it holds and what to do."""


class FeedConfigError(ConfigError):
    """A feed delivery setting (``CRAWLER_FEED_*``) names a file that cannot be
    used: a netrc, known_hosts or key file that is missing or does not parse."""


class FeedDeliveryError(OSError):
    """A feed file could not be delivered to its server (``ftp://``, ``sftp://``):
    unreachable, login refused, unknown host key, permission denied.

    An ``OSError``, as a local feed file that cannot be written is, so the
    feed export's failure path (``feedexport/failed_count/<storage>``, exit
    code 1) and its one-line log treat both alike.  The message is one line
    that names the redacted URI, what failed and what to do; it never holds
    the password.
    """


class ScrapydError(Exception):
    """A Scrapyd server refused or failed a request (:mod:`crawler.scrapyd`): it
    could not be reached, it refused the credentials, it answered with an error
    status or with ``{"status": "error"}``.  The message is one line that names
    the server (its URL without credentials) and the endpoint, and never holds
    the password."""
