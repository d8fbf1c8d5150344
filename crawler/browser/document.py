"""What became of the main document a render navigated to, from DevTools events.

``driver.get`` does not say whether the navigation showed a page: a download
(``Content-Disposition: attachment``) leaves the browser on the *previous*
page, a redirect loop or an undecodable body shows Chrome's own error page
(``chrome-error://chromewebdata/``) with no exception, and a page-load timeout
does not say whether the document itself ever arrived.  The performance log's
``Network.*`` and ``Page.*`` events do; :func:`document_outcome` reads them.

Sources: Chrome DevTools Protocol, ``Network.requestWillBeSent`` (``type``
``Document``, ``frameId``; the request id stays the same across redirects),
``Network.responseReceived``, ``Network.loadingFailed`` (``errorText`` such as
``net::ERR_TOO_MANY_REDIRECTS``), ``Network.dataReceived`` /
``Network.loadingFinished`` (``encodedDataLength``, bytes on the wire),
``Page.downloadWillBegin``, ``Page.windowOpen``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

#: Document types the render returns as a DOM; any other is fetched over HTTP.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

#: Network errors the same request would only meet again: not retried.
PERMANENT_NET_ERRORS = frozenset(
    {
        "net::ERR_TOO_MANY_REDIRECTS",
        "net::ERR_CONTENT_DECODING_FAILED",
        "net::ERR_CONTENT_DECODING_INIT_FAILED",
        "net::ERR_INVALID_REDIRECT",
        "net::ERR_UNSAFE_REDIRECT",
        "net::ERR_UNSAFE_PORT",
        "net::ERR_INVALID_URL",
        "net::ERR_DISALLOWED_URL_SCHEME",
        "net::ERR_UNKNOWN_URL_SCHEME",
        "net::ERR_BLOCKED_BY_CLIENT",
        "net::ERR_BLOCKED_BY_RESPONSE",
        "net::ERR_INVALID_RESPONSE",
        "net::ERR_INVALID_HTTP_RESPONSE",
        "net::ERR_RESPONSE_HEADERS_MULTIPLE_LOCATION",
        "net::ERR_RESPONSE_HEADERS_MULTIPLE_CONTENT_LENGTH",
        "net::ERR_RESPONSE_HEADERS_MULTIPLE_CONTENT_DISPOSITION",
        "net::ERR_CONTENT_LENGTH_MISMATCH",
    }
)


@dataclass
class DocumentOutcome:
    """The main frame's navigation of one render.

    ``seen``: the log holds the document request (False: nothing to judge by,
    e.g. a same-document navigation or no DevTools); ``response``: the
    ``Network.responseReceived`` ``response`` dict of its last hop, or None;
    ``net_error``: its ``errorText`` when it failed; ``download``: Chrome made
    it a download; ``size``: bytes received for it so far (encoded, headers
    included when finished); ``windows_opened``: ``Page.windowOpen`` events.
    """

    seen: bool = False
    request_id: str | None = None
    response: dict[str, Any] | None = None
    net_error: str | None = None
    download: bool = False
    committed_later: bool = False  # another main-frame document replaced it
    size: int = 0
    windows_opened: int = 0

    @property
    def mime_type(self) -> str | None:
        if self.response is None:
            return None
        mime = self.response.get("mimeType")
        return str(mime).lower() if mime else None

    @property
    def not_rendered(self) -> str | None:
        """``"download"``, ``"non_html"``, ``"no_document"`` or None (the DOM is this page's)."""
        if not self.seen:
            return None
        if self.download:
            return "download"
        if self.net_error == "net::ERR_ABORTED" and not self.committed_later:
            # Chrome stopped the navigation itself (a 204, a download it did not
            # announce): the browser still shows the previous page.
            return "no_document"
        if self.net_error is None and self.mime_type not in (None, *HTML_TYPES):
            return "non_html"
        return None

    @property
    def failed(self) -> str | None:
        """The network error that left Chrome's error page in place, or None."""
        if self.net_error is None or self.net_error == "net::ERR_ABORTED" or self.download:
            return None
        return self.net_error

    @property
    def expected_size(self) -> int:
        """``Content-Length`` of the document's response (-1: not sent)."""
        headers = (self.response or {}).get("headers") or {}
        for name, value in headers.items():
            if name.lower() == "content-length":
                try:
                    return int(str(value).split(",")[0])
                except ValueError:
                    return -1
        return -1


def document_outcome(events: Iterable[dict[str, Any]], frame_id: str | None) -> DocumentOutcome:
    """Judge the first main-frame document request of the render's ``events``.

    ``frame_id`` is the main frame's id (Chromium: the window handle); None
    takes the first ``Document`` request without a parent frame check.
    """
    outcome = DocumentOutcome()
    url: str | None = None
    received = 0
    finished: int | None = None
    for message in events:
        method = message.get("method")
        params = message.get("params", {})
        if method == "Page.windowOpen":
            outcome.windows_opened += 1
            continue
        if method == "Page.downloadWillBegin":
            if params.get("frameId") == frame_id or frame_id is None:
                outcome.download = outcome.download or url is None or params.get("url") == url
            continue
        request_id = params.get("requestId")
        if method == "Network.requestWillBeSent" and params.get("type") == "Document":
            if frame_id is not None and params.get("frameId") != frame_id:
                continue
            if outcome.request_id is None:
                outcome.seen = True
                outcome.request_id = request_id
            elif request_id != outcome.request_id:
                outcome.committed_later = True
                continue
            url = params.get("request", {}).get("url", url)
            continue
        if request_id is None or request_id != outcome.request_id:
            continue
        if method == "Network.responseReceived":
            outcome.response = params.get("response") or {}
        elif method == "Network.dataReceived":
            received += int(params.get("encodedDataLength") or params.get("dataLength") or 0)
        elif method == "Network.loadingFinished":
            finished = int(params.get("encodedDataLength") or 0)
        elif method == "Network.loadingFailed":
            outcome.net_error = str(params.get("errorText") or "net::ERR_FAILED")
    outcome.size = max(received, finished or 0)
    return outcome


def net_error_from_message(message: str) -> str | None:
    """``net::ERR_NAME_NOT_RESOLVED`` from a driver error text, or None."""
    start = message.find("net::ERR_")
    if start < 0:
        return None
    end = start
    while end < len(message) and (message[end].isalnum() or message[end] in "_:"):
        end += 1
    return message[start:end]
