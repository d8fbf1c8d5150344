"""A crawl reaches no host but the site's: the cookie middleware's public-suffix
check (tldextract) reads the bundled list, it does not download it
(crawler.downloadermiddlewares.cookies).

The crawl runs as a user runs it, with ``https_proxy`` pointing at a loopback
socket that records every connection: tldextract fetches the Public Suffix List
over HTTPS with ``requests``, which obeys that variable, so a fetch is a
``CONNECT publicsuffix.org:443`` recorded here (and answered with nothing).  The
tldextract cache is an empty directory, so a list cached by an earlier run
cannot hide a fetch."""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING

import pytest

from fixtures.tinysite.server import SiteRequest, SiteResponse, TinySite, not_found
from tests.crawltools import read_store, run_crawler, subprocess_env

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class DomainCookieApp:
    """``/`` sets ``Set-Cookie: s=1; Domain=127.0.0.1`` (a ``Domain`` the cookie
    middleware checks against the Public Suffix List) and links to ``/next``."""

    prefix = "/"

    def handle(self, request: SiteRequest, site: TinySite) -> SiteResponse | None:
        if request.path == "/":
            body = '<html><head><title>home</title></head><a href="/next">next</a></html>'
            return SiteResponse(body=body, headers=[("Set-Cookie", "s=1; Domain=127.0.0.1")])
        if request.path == "/next":
            return SiteResponse(body="<html><head><title>next</title></head></html>")
        return not_found()


class ConnectionRecorder:
    """A loopback TCP listener that keeps the first bytes of every connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.received.append(conn.recv(1024))
                except OSError:
                    self.received.append(b"")

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def recorder() -> Iterator[ConnectionRecorder]:
    recorder = ConnectionRecorder()
    yield recorder
    recorder.close()


def test_a_crawl_with_domain_cookies_does_not_fetch_the_public_suffix_list(
    tmp_path: Path, recorder: ConnectionRecorder
) -> None:
    cache = tmp_path / "cache"
    env = {
        **subprocess_env(),
        "https_proxy": recorder.url,
        "HTTPS_PROXY": recorder.url,
        "TLDEXTRACT_CACHE": str(cache / "tldextract"),
        "XDG_CACHE_HOME": str(cache),
    }
    for name in ("no_proxy", "NO_PROXY", "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"):
        env.pop(name, None)
    with TinySite(apps=[DomainCookieApp()]) as site:
        db = tmp_path / "crawl.db"
        proc = run_crawler(
            "crawl",
            site.url("/"),
            "--store",
            f"sqlite:///{db}",
            "--render",
            "never",
            "--ignore-robots",
            cwd=tmp_path,
            env=env,
        )
        seen = site.requests_seen
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {page["url"] for page in read_store(db)[0]} == {site.url("/"), site.url("/next")}
    assert seen[-1].cookies == {"s": "1"}  # the cookie was taken and sent back
    # What a proxy is asked: `CONNECT host:443` or an absolute-form `GET http://...`.
    # An origin-form `GET /...` is some other test (pytest-xdist runs two at once)
    # reaching this port as a server it once saw there, not a proxied fetch.
    assert [r for r in recorder.received if not r.startswith(b"GET /")] == []
    assert "Traceback" not in proc.stderr
    assert "publicsuffix" not in proc.stderr
