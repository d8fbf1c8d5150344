"""The report of a ``crawler extract`` run: it says what kind of run it is, and
its failures agree with its verdict (it records items, not pages, so a report
that counted failed pages from the ``pages`` table said "0 pages failed" under
"failed: start_url_failed")."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest

from crawler.report import render_report
from crawler.storage.sql import SqlStore
from tests.crawltools import run_crawler

if TYPE_CHECKING:
    from pathlib import Path


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/item.html":
            self.send_error(404)
            return
        body = b"<html><head><title>An item</title></head><body>x</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A served page's URL on a free loopback port."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/item.html"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def dead_url(closed_port: int) -> str:
    """A URL on a port nobody listens on (held for the test: see tests/ports.py)."""
    return f"http://127.0.0.1:{closed_port}/nothing.html"


def report_of_extract(tmp_path: Path, *urls: str) -> str:
    db = tmp_path / "x.db"
    proc = run_crawler(
        "extract", *urls, "--field", "t=css:title", "-o", f"sqlite:///{db}", cwd=tmp_path
    )
    assert "item(s) stored in" in proc.stderr, proc.stderr[-3000:]
    store = SqlStore.open(f"sqlite:///{db}", create=False)
    try:
        return " ".join(render_report(store, 1, plotlyjs="p.js").split())
    finally:
        store.close()


def summary_value(html: str, label: str) -> str:
    found = re.search(rf"<b>([^<]*)</b><span>{label}</span>", html)
    assert found is not None, label
    return found.group(1)


def test_a_failed_extraction_says_why_and_counts_its_failures(
    tmp_path: Path, dead_url: str
) -> None:
    url = dead_url
    html = report_of_extract(tmp_path, url)
    assert "An extraction (crawler extract): items from a list of URLs" in html
    assert summary_value(html, "verdict").startswith("failed: start_url_failed")
    assert summary_value(html, "pages failed") == "1"
    assert summary_value(html, "pages") == "0"
    assert f"<b>start_url_failed</b>: the start URL {url} gave no page: Connection" in html
    assert "1 page request failed; this run recorded no page for it" in html


def test_an_extraction_counts_its_pages_from_its_verdict(
    tmp_path: Path, server: str, dead_url: str
) -> None:
    dead = dead_url
    html = report_of_extract(tmp_path, server, dead)
    assert summary_value(html, "verdict") == "failed: start_url_failed"  # each URL is a start
    assert f"<b>start_url_failed</b>: the start URL {dead} gave no page" in html
    assert summary_value(html, "pages") == "1"
    assert summary_value(html, "items") == "1"
    assert summary_value(html, "pages failed") == "1"
