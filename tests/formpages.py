"""Form pages for the forms tests: HTML snippets served as pages by a tinysite app.

``FormPages`` is a tinysite app (``TinySite(apps=[pages])``) mounted at
``/formpages/``: :meth:`FormPages.add` registers a page (its ``<head>`` and
``<body>``, and the charset it is served in) and returns its path; every
request to ``/formpages/echo`` (any method, any query) is recorded in
:attr:`FormPages.received` and answered with a small page, so a test can
check what a browser sent when it submitted a form.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from fixtures.tinysite.server import SiteResponse, not_found

if TYPE_CHECKING:
    from fixtures.tinysite.server import SiteRequest, TinySite

PREFIX = "/formpages/"
ECHO_PATH = PREFIX + "echo"


def document(body: str, head: str = "", charset: str = "utf-8") -> str:
    """A whole page around ``body`` (standards mode, its charset declared)."""
    return (
        f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>Form</title>{head}'
        f"</head><body>{body}</body></html>"
    )


class FormPages:
    prefix = PREFIX

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: dict[str, tuple[bytes, str]] = {}
        self.received: list[SiteRequest] = []

    def add(self, name: str, body: str, head: str = "", charset: str = "utf-8") -> str:
        """Serve ``body`` at ``/formpages/<name>``; returns the path."""
        html = document(body, head, charset).encode(charset, "xmlcharrefreplace")
        with self._lock:
            self._pages[name] = (html, charset)
        return PREFIX + name

    def page_bytes(self, name: str) -> bytes:
        return self._pages[name][0]

    def handle(self, request: SiteRequest, site: TinySite) -> SiteResponse | None:
        name = request.path[len(PREFIX) :]
        if request.path == ECHO_PATH:
            with self._lock:
                self.received.append(request)
            return SiteResponse(body=document("<p id=echoed>received</p>"))
        found = self._pages.get(name)
        if found is None:
            return not_found()
        html, charset = found
        return SiteResponse(body=html, content_type=f"text/html; charset={charset}")
