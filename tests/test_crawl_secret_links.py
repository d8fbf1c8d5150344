"""A crawled site that links to URLs holding secrets: a user name and password
(``http://bob:PASSWORD@127.0.0.1:PORT/...``) and secret query parameters
(``?password=...&api_key=...``), and a page title with a token.

The crawl refuses the link with a password on one masked line and a stat (no
traceback: Scrapy's robots.txt middleware logged ``ValueError: invalid hostname:
bob:PASSWORD@127.0.0.1`` as an ERROR with the password), and neither its log
nor the report (the whole HTML file: tables, links, chart labels, the JSON
data block) holds any of the secrets.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.crawltools import CrawlResult, crawl, run_crawler

PASSWORD = "s3cretpw"
QUERY_PASSWORD = "pw999"
API_KEY = "KEYZ9x"
TITLE_TOKEN = "TOKQ77t"
SECRETS = (PASSWORD, QUERY_PASSWORD, API_KEY, TITLE_TOKEN)
QUERY = f"password={QUERY_PASSWORD}&api_key={API_KEY}"


class _Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        port = self.server.server_address[1]
        path = self.path.partition("?")[0]
        if path == "/":
            body = (
                "<html><head><title>Index</title></head><body>"
                f'<a href="http://bob:{PASSWORD}@127.0.0.1:{port}/q.html?{QUERY}">with password</a>'
                f'<a href="/q.html?{QUERY}">secret query</a>'
                '<a href="/ok.html">ok</a></body></html>'
            )
        elif path in ("/q.html", "/ok.html"):
            title = f"Search token={TITLE_TOKEN}" if path == "/q.html" else "OK"
            body = f"<html><head><title>{title}</title></head><body>hello</body></html>"
        else:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The site's start URL, served on a free loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Crawled:
    result: CrawlResult
    report: str  # the whole HTML file


@pytest.fixture(scope="module")
def crawled(site: str, tmp_path_factory: pytest.TempPathFactory) -> Crawled:
    tmp = tmp_path_factory.mktemp("secret-links")
    result = crawl(site, tmp, "--progress", "off", "-s", "LOG_LEVEL=DEBUG", timeout=90)
    output = tmp / "report.html"
    proc = run_crawler(
        "report", "latest", "--store", f"sqlite:///{result.db}", "-o", str(output), cwd=tmp
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return Crawled(result, output.read_text(encoding="utf-8"))


def test_a_link_with_a_password_is_refused_on_one_masked_line(crawled: Crawled) -> None:
    result = crawled.result
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stderr
    assert "Traceback" not in log and "invalid hostname" not in log, log[-3000:]
    assert " ERROR: " not in log, log[-3000:]
    for secret in SECRETS:
        assert secret not in log, secret
    [line] = [line for line in log.splitlines() if "Not following http://bob:" in line]
    assert "http://bob:***@127.0.0.1:" in line and "WARNING" in line
    assert "userinfo: the URL holds a user name or password" in line
    assert result.stats["crawler/links/refused/userinfo"] == 1
    # the link is recorded with the reason, its password masked
    conn = sqlite3.connect(result.db)
    refused = conn.execute("select url, refused from links where refused is not null").fetchall()
    conn.close()
    assert [(url.split("@")[0], reason.split(":")[0]) for url, reason in refused] == [
        ("http://bob:***", "userinfo")
    ]
    # the page with a secret query was crawled (and stored as it is: the store is the user's)
    assert any(QUERY_PASSWORD in page["url"] for page in result.pages)


def test_the_report_holds_no_secret_anywhere(crawled: Crawled) -> None:
    html = crawled.report
    for secret in SECRETS:
        assert secret not in html, (secret, html[html.find(secret) - 300 : html.find(secret) + 50])
    assert "password=***" in html and "api_key=***" in html  # the URLs are there, masked
    assert "bob:***@127.0.0.1" in html  # the refused link, in the traps table
    assert "token=***" in html  # the title
