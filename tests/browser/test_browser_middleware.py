"""SeleniumMiddleware in real crawls (each in its own process, real Chromium)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from tests.browser.conftest import browser_settings, needs_chromium, run_crawl
from tests.ports import free_port, listens

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

pytestmark = needs_chromium


def by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in result["results"]}


def test_browser_request_gets_what_it_asked_for(
    site: TinySite, browser_root: str, tmp_path: Path
) -> None:
    requests = [
        {
            "id": "links",
            "url": site.url("/js/links"),
            "browser": {
                "wait_for": "a.scripted",
                "screenshot": True,
                "script": "return Array.from(document.querySelectorAll('a.scripted'), a => a.href)",
            },
        },
        {
            "id": "form",
            "url": site.url("/js/form"),
            "browser": {
                "actions": [
                    {"fill": "#q", "value": "blue shoes"},
                    {"click": "#go", "wait_for": "//div[@id='out' and @class='filled']"},
                ]
            },
        },
        {
            "id": "missing",
            "url": site.url("/js/missing"),
            "browser": True,
            "meta": {"handle_httpstatus_all": True},
        },
        {"id": "headers", "url": site.url("/js/headers"), "browser": True},
        {"id": "moved", "url": site.url("/js/redirect-http"), "browser": {"wait_for": "#landed"}},
        {"id": "plain", "url": site.url("/js/links")},
    ]
    result = run_crawl(tmp_path, requests, browser_settings(browser_root))
    assert result["errors"] == []
    got = by_id(result)

    links = got["links"]
    assert links["rendered"] and "rendered" in links["flags"]
    assert links["script_result"] == [site.url(f"/js/plain?n={i}") for i in (1, 2, 3)]
    assert links["screenshot_png"]
    assert links["body"].count('class="scripted"') == 3

    assert 'class="filled">you typed: blue shoes</div>' in got["form"]["body"]

    missing = got["missing"]
    assert missing["status"] == 404 and missing["status_known"]
    assert missing["headers"]["X-Fixture"] == ["missing"]
    headers = got["headers"]
    assert headers["status"] == 200
    assert headers["headers"]["X-Fixture"] == ["custom"]
    assert headers["headers"]["X-Multi"] == ["one", "two"]

    assert got["moved"]["url"] == site.url("/js/landing")

    plain = got["plain"]  # no meta key: Scrapy's own download, untouched
    assert not plain["rendered"] and plain["flags"] == []
    assert 'class="scripted"' not in plain["body"]
    assert result["stats"]["selenium/renders"] == 5


def test_wait_for_that_never_matches_is_a_timeout_error(
    site: TinySite, browser_root: str, tmp_path: Path
) -> None:
    requests = [
        {
            "id": "never",
            "url": site.url("/js/links"),
            "browser": {"wait_for": "#never", "wait_timeout": 1},
        }
    ]
    settings = browser_settings(browser_root, RETRY_ENABLED=False)
    result = run_crawl(tmp_path, requests, settings, timeout=30)
    assert result["results"] == []
    [error] = result["errors"]
    assert error["error"] == "BrowserWaitTimeoutError"
    assert "DownloadTimeoutError" in error["mro"]
    assert "'#never' did not match" in error["message"]
    assert "within 1 s" in error["message"]
    assert result["stats"]["selenium/render_failures/wait_timeout"] == 1


def test_cookies_go_both_ways_and_user_agent_is_shared(
    site: TinySite, browser_root: str, tmp_path: Path
) -> None:
    echo = site.url("/js/echo-cookies")
    requests = [
        # A cookie set by a plain HTTP response is sent by the browser.
        {
            "id": "http-sets",
            "url": site.url("/js/set-cookie-http"),
            "meta": {"cookiejar": 1},
            "then": [{"id": "render-echo", "url": echo, "browser": True, "meta": {"cookiejar": 1}}],
        },
        # A cookie set by page JavaScript is sent by a later plain request.
        {
            "id": "js-sets",
            "url": site.url("/js/set-cookie-js"),
            "browser": True,
            "meta": {"cookiejar": 2},
            "then": [{"id": "http-echo", "url": echo, "meta": {"cookiejar": 2}}],
        },
    ]
    settings = browser_settings(browser_root, USER_AGENT="crawler-test/1.0 (+cookies)")
    got = by_id(run_crawl(tmp_path, requests, settings))

    def cookies(record: dict[str, Any]) -> dict[str, str]:
        match = re.search(r'<pre id="cookies">(.*?)</pre>', record["body"]) or re.search(
            r"<pre id='cookies'>(.*?)</pre>", record["body"]
        )
        assert match, record["body"]
        return json.loads(match.group(1).replace("&quot;", '"'))

    assert cookies(got["render-echo"]) == {"httpcookie": "fromhttp"}
    assert cookies(got["http-echo"]) == {"jscookie": "fromjs"}
    assert got["render-echo"]["rendered"] and not got["http-echo"]["rendered"]
    for record in (got["render-echo"], got["http-echo"]):
        assert "crawler-test/1.0 (+cookies)</pre>" in record["body"]


def test_cookie_deleted_in_the_browser_leaves_the_jar(
    site: TinySite, browser_root: str, tmp_path: Path
) -> None:
    echo = site.url("/js/echo-cookies")

    def chain(jar: int, forget: str) -> dict[str, Any]:
        # plain response sets httpcookie -> rendered page deletes it -> plain echo
        return {
            "id": f"set-{jar}",
            "url": site.url("/js/set-cookie-http"),
            "meta": {"cookiejar": jar},
            "then": [
                {
                    "id": f"forget-{jar}",
                    "url": site.url(f"{forget}?name=httpcookie"),
                    "browser": True,
                    "meta": {"cookiejar": jar},
                    "then": [{"id": f"echo-{jar}", "url": echo, "meta": {"cookiejar": jar}}],
                }
            ],
        }

    requests = [
        chain(1, "/js/forget-cookie-js"),  # page script deletes it
        chain(2, "/js/forget-cookie-http"),  # the rendered document's Set-Cookie does
        chain(3, "/js/plain"),  # nothing deletes it
    ]
    got = by_id(run_crawl(tmp_path, requests, browser_settings(browser_root)))
    assert got["forget-1"]["rendered"] and got["forget-2"]["rendered"]
    assert _echoed_cookies(got["echo-1"]) == {}
    assert _echoed_cookies(got["echo-2"]) == {}
    assert _echoed_cookies(got["echo-3"]) == {"httpcookie": "fromhttp"}


def _echoed_cookies(record: dict[str, Any]) -> dict[str, str]:
    match = re.search(r"<pre id=.cookies.>(.*?)</pre>", record["body"])
    assert match, record["body"]
    return json.loads(html.unescape(match.group(1)))


def test_render_waits_for_requests_the_page_starts_after_load(
    site: TinySite, browser_root: str, tmp_path: Path
) -> None:
    late_link = '<div id="late"><a href="/js/plain?n=late">'  # as the DOM serialises it
    requests = [
        # The page's load handler fetches a page the site holds 500 ms, then
        # writes a link: the default settle waits for it; settle=0 does not.
        {"id": "settled", "url": site.url("/js/fetch-late?ms=500"), "browser": True},
        {"id": "unsettled", "url": site.url("/js/fetch-late?ms=500"), "browser": {"settle": 0}},
        # The held request outlives SELENIUM_SETTLE_TIMEOUT: read the DOM anyway.
        {"id": "busy", "url": site.url("/js/fetch-late?ms=4000"), "browser": True},
    ]
    settings = browser_settings(browser_root, SELENIUM_SETTLE_TIMEOUT=1.5)
    result = run_crawl(tmp_path, requests, settings)
    got = by_id(result)
    assert late_link in got["settled"]["body"]
    assert late_link not in got["unsettled"]["body"]
    assert late_link not in got["busy"]["body"]  # read before the held request ended
    assert result["stats"]["selenium/settle_timeouts"] == 1


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "chromedriver exited"
        try:
            with urllib.request.urlopen(url + "/status", timeout=1) as answer:
                # Ours, not another test's chromedriver that took the port first.
                ready = json.load(answer)["value"]["ready"]
                if ready and listens(proc.pid, urllib.parse.urlsplit(url).port or 0):
                    return
        except OSError:
            pass
        time.sleep(0.05)  # polling the server's own readiness endpoint
    raise AssertionError(f"chromedriver at {url} not ready in {timeout} s")


def test_remote_webdriver_renders_through_a_chromedriver_server(
    site: TinySite, browser_root: str, tmp_path: Path
) -> None:
    port = free_port()
    home = os.path.join(browser_root, "remote")
    os.makedirs(home)
    # Short: Chromium's singleton socket lives under TMPDIR (Unix socket paths <= 107 bytes).
    tmp = tempfile.mkdtemp(prefix="cbr-")
    env = dict(os.environ, HOME=home, TMPDIR=tmp, SE_OFFLINE="true")
    server = subprocess.Popen(
        [
            shutil.which("chromedriver") or "chromedriver",
            f"--port={port}",
            "--allowed-ips=127.0.0.1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        remote = f"http://127.0.0.1:{port}"
        _wait_ready(remote, server)
        settings = browser_settings(browser_root, SELENIUM_REMOTE_URL=remote, SELENIUM_POOL_SIZE=1)
        requests = [
            {
                "id": "links",
                "url": site.url("/js/links"),
                "browser": {"wait_for": "a.scripted", "script": "return document.title"},
            },
            {
                "id": "set",
                "url": site.url("/js/set-cookie-http"),
                "then": [{"id": "echo", "url": site.url("/js/echo-cookies"), "browser": True}],
            },
            {
                "id": "missing",
                "url": site.url("/js/missing"),
                "browser": True,
                "meta": {"handle_httpstatus_all": True},
            },
        ]
        result = run_crawl(tmp_path, requests, settings)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    assert result["errors"] == [], result["errors"][0]["message"]
    got = by_id(result)
    assert got["links"]["rendered"] and got["links"]["script_result"] == "Links"
    assert got["links"]["body"].count('class="scripted"') == 3
    assert "httpcookie" in got["echo"]["body"]  # the add_cookie fallback without DevTools
    # No DevTools: headers are unknown; the status comes from Navigation Timing.
    assert got["missing"]["status_known"] is False
    assert got["missing"]["status"] == 404
