"""``crawler serve`` as a user runs it: a real server process on a free port.

On loopback: Host names other than localhost/127.0.0.1/[::1] are refused (403),
writes are refused (405), the security headers are on every answer, Plotly's
bundle is cached.  On 0.0.0.0: no request gets through without the token
(401), the bearer header, the ``?token=`` link (a cookie, then a redirect that
drops it) and the environment variable work, and the token is printed once.
SIGTERM and SIGINT stop it (exit 0, port closed).  Startup errors are one line,
exit code 2.  Requests another site's page started (``Sec-Fetch-Site``) are
refused; concurrent requests for a big report render it once and leave ``/`` fast.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
import requests

from crawler.storage.sql import SqlStore
from tests.clibatch import Command, run_commands
from tests.crawltools import subprocess_env
from tests.dashboardtools import serving
from tests.test_dashboard_app import page_row

if TYPE_CHECKING:
    from pathlib import Path

    from tests.dashboardtools import DashboardData, ServeProcess


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def http() -> requests.Session:
    """A client without cookies, that ignores proxy variables (loopback is direct)."""
    session = requests.Session()
    session.trust_env = False
    return session


def request(
    server: ServeProcess,
    path: str = "/",
    method: str = "GET",
    at: str = "127.0.0.1",
    **kwargs: Any,
) -> requests.Response:
    """``method`` ``path`` of ``server`` at address ``at``."""
    with http() as session:
        return session.request(
            method, server.base(at) + path, timeout=10, allow_redirects=False, **kwargs
        )


def get(server: ServeProcess, path: str = "/", **kwargs: Any) -> requests.Response:
    return request(server, path, **kwargs)


def test_on_loopback_foreign_host_names_and_writes_are_refused(
    dashboard_data: DashboardData,
) -> None:
    data = dashboard_data
    with serving("--store", data.store_url, cwd=data.workdir) as server:
        assert server.url == f"http://127.0.0.1:{server.port}/"
        home = get(server)
        assert home.status_code == 200
        assert f'href="/runs/{data.run_id}"' in home.text
        assert 'href="/jobs/tiny"' in home.text  # no --jobs-file: the cwd's jobs.toml
        headers = home.headers
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "script-src 'self';" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["Cache-Control"] == "no-store"
        for host in (f"localhost:{server.port}", f"[::1]:{server.port}", "127.0.0.1"):
            assert get(server, headers={"Host": host}).status_code == 200, host
        for host in (f"evil.example:{server.port}", "127.0.0.1.evil.example", "10.0.0.1"):
            refused = get(server, headers={"Host": host})
            assert refused.status_code == 403, host
            assert "/runs/" not in refused.text
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            answer = request(server, "/", method)
            assert answer.status_code == 405, method
            assert answer.headers["Allow"] == "GET, HEAD"
        assert request(server, f"/runs/{data.run_id}", "HEAD").status_code == 200
        plotly = get(server, "/static/plotly.min.js")
        assert plotly.status_code == 200
        assert plotly.headers["Content-Type"].startswith("text/javascript")
        assert plotly.headers["Cache-Control"] == "private, max-age=86400"
        again = get(
            server, "/static/plotly.min.js", headers={"If-None-Match": plotly.headers["ETag"]}
        )
        assert again.status_code == 304
        assert get(server, "/runs/999").status_code == 404
        assert get(server, f"/runs/{data.run_id}/pages?status=2xy").status_code == 400
        code, _, err = server.stop(signal.SIGTERM)
    assert code == 0, err
    assert "dashboard stopped" in err
    assert not port_open(server.port)


def test_off_loopback_every_request_needs_the_token(dashboard_data: DashboardData) -> None:
    data = dashboard_data
    with serving("--store", data.store_url, "--host", "0.0.0.0", cwd=data.workdir) as server:
        url, _, token = server.url.partition("/?token=")
        assert url == f"http://{socket.gethostname()}:{server.port}"  # the machine's name
        assert len(token) >= 40, server.first_line
        for path in (
            "/",
            f"/runs/{data.run_id}",
            f"/runs/{data.run_id}/pages",
            "/static/plotly.min.js",
        ):
            refused = get(server, path)
            assert refused.status_code == 401, path
            assert refused.headers["WWW-Authenticate"].startswith("Bearer")
            assert "/runs/" not in refused.text
        for wrong in ("Bearer " + token[:-1] + "x", "Bearer ", "Basic " + token, token):
            assert get(server, headers={"Authorization": wrong}).status_code == 401, wrong
        assert get(server, "/?token=" + token[:-1]).status_code == 401
        assert get(server, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        # Any Host header: names are not checked off loopback, the token is.
        assert (
            get(server, headers={"Authorization": f"Bearer {token}", "Host": "x"}).status_code
            == 200
        )
        # The link printed: a cookie, and a redirect to the URL without the token.
        link = get(server, f"/runs/{data.run_id}/pages?q=evil&token={token}&page=1")
        assert link.status_code == 303
        assert link.headers["Location"] == f"/runs/{data.run_id}/pages?q=evil&page=1"
        cookie = link.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert token not in cookie
        session = http()
        session.cookies.update(link.cookies)
        followed = session.get(server.base() + link.headers["Location"], timeout=10)
        assert followed.status_code == 200 and "Pages of run" in followed.text
        bearer = {"Authorization": f"Bearer {token}"}
        assert request(server, "/", "POST", headers=bearer).status_code == 405
        code, out, err = server.stop(signal.SIGINT)
    assert code == 0, err
    assert token not in out + err  # printed once, in the first line only
    assert not port_open(server.port)


def test_a_token_in_the_environment_is_required_on_loopback_too(
    dashboard_data: DashboardData, tmp_path: Path
) -> None:
    """Other users of the machine reach 127.0.0.1 too: with the variable set, the
    token is required there as well (and the Host check still applies)."""
    data = dashboard_data
    secret = "env-token-" + "x" * 30
    env = {**subprocess_env(), "DASH_TOKEN": secret}
    with serving(
        "--store", data.store_url, "--token-env", "DASH_TOKEN", cwd=tmp_path, env=env
    ) as server:
        assert secret not in server.first_line
        assert server.first_line.endswith("(token: $DASH_TOKEN)")
        assert get(server).status_code == 401
        bearer = {"Authorization": f"Bearer {secret}"}
        home = get(server, headers=bearer)
        assert home.status_code == 200
        assert "No job file" in home.text  # no --jobs-file, no jobs.toml in the cwd
        assert get(server, headers={**bearer, "Host": "evil.example"}).status_code == 403
        code, out, err = server.stop()
    assert code == 0
    assert secret not in out + err


def test_startup_errors_are_one_line_and_exit_2(
    dashboard_data: DashboardData, tmp_path: Path
) -> None:
    store = ("--store", dashboard_data.store_url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        cases = {
            "does not exist": ("--store", "sqlite:///nothing-here.db"),
            "is a path, not a store URL": ("--store", "nothing-here.db"),
            "no job file missing.toml": (*store, "--jobs-file", "missing.toml"),
            "takes a port number": (*store, "--port", "70000"),
            f"cannot listen on 127.0.0.1:{port}: Address already in use (another program "
            "uses the port?": (*store, "--port", port),
            # waitress raised ValueError("Invalid host/port specified.") with a traceback.
            "cannot listen on nosuch.invalid:0: ": (*store, "--host", "nosuch.invalid"),
            "--host takes an address or a host name, not ''": (*store, "--host", ""),
            "--host takes an address or a host name, not '[]'": (*store, "--host", "[]"),
            # TEST-NET-3 (RFC 5737): never an address of this machine: EADDRNOTAVAIL.
            "cannot listen on 203.0.113.9:0: Cannot assign requested address (not an "
            "address of this machine": (*store, "--host", "203.0.113.9"),
        }
        commands = {  # a --port in a case's arguments comes later: it wins
            m: Command("crawler", ["serve", "--port", "0", *args], cwd=tmp_path)
            for m, args in cases.items()
        }
        short = "x" * 15
        commands["the token in $SHORT_TOKEN has 15 characters: give at least 16"] = Command(
            "crawler",
            ["serve", *store, "--token-env", "SHORT_TOKEN", "--port", "0"],
            cwd=tmp_path,
            env={"SHORT_TOKEN": short},
        )
        done = run_commands(commands, tmp_path)
    for message, result in done.items():
        assert result.returncode == 2, (message, result.stderr)
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stdout == ""
    assert short not in "".join(r.stderr for r in done.values())


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize("host", ["[::1]", "::1"])
def test_an_ipv6_address_is_printed_in_brackets_once(
    dashboard_data: DashboardData, host: str
) -> None:
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    with serving(
        "--store", dashboard_data.store_url, "--host", host, cwd=dashboard_data.workdir
    ) as server:
        assert server.url == f"http://[::1]:{server.port}/"  # was http://[[::1]]:PORT/
        home = get(server, at="[::1]")
        assert home.status_code == 200


def test_requests_other_sites_started_are_refused(dashboard_data: DashboardData) -> None:
    """An <img src="http://127.0.0.1:8400/runs/1/report"> on any web page: the browser
    says where the request comes from (Sec-Fetch-Site); only the dashboard's own pages
    and what the user opened (none) are answered.  The 403 page names the Host names
    accepted, with the address bound to."""
    data = dashboard_data
    report = f"/runs/{data.run_id}/report"
    with serving("--store", data.store_url, "--host", "127.0.0.2", cwd=data.workdir) as server:
        for site in ("cross-site", "same-site", "Cross-Site"):
            refused = get(server, report, at="127.0.0.2", headers={"Sec-Fetch-Site": site})
            assert refused.status_code == 403, site
            assert "another site" in refused.text and "<script" not in refused.text
            assert refused.headers["Cross-Origin-Resource-Policy"] == "same-origin"
        for site in ("same-origin", "none", None):
            headers = {"Sec-Fetch-Site": site} if site else {}
            answer = get(server, report, at="127.0.0.2", headers=headers)
            assert answer.status_code == 200, site
            assert answer.headers["Cross-Origin-Resource-Policy"] == "same-origin"
            assert answer.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        wrong = get(server, at="127.0.0.2", headers={"Host": "evil.example"})
        assert wrong.status_code == 403
        assert "localhost, 127.0.0.1, [::1] and 127.0.0.2" in wrong.text


def test_concurrent_report_requests_render_once_and_leave_the_index_fast(
    tmp_path: Path,
) -> None:
    """12 requests at once for the report of a 5,000-page run (~1 s to render):
    without a lock and a cache they rendered 12 times on every server thread and
    ``/`` waited behind them (55 s for a big store); now one renders, a few wait for
    it, the others get 503 with Retry-After, ``/`` stays fast throughout, and the
    report is then served from the cache."""
    store_url = f"sqlite:///{tmp_path / 'big.db'}"
    store = SqlStore.open(store_url)
    try:
        run_id = store.start_run("site", "http://h/", {})
        rows = [page_row(f"http://h/p{i:05d}", title=f"Page {i}") for i in range(5000)]
        store.write_batch(run_id, page_rows=rows)
        store.finish_run(run_id, "finished", {})
    finally:
        store.close()
    with serving("--store", store_url, cwd=tmp_path) as server:
        assert get(server).status_code == 200  # imports done before the burst
        index_times: list[float] = []
        with ThreadPoolExecutor(12) as pool:
            started = threading.Barrier(13)

            def fetch_report() -> requests.Response:
                started.wait()
                return get(server, f"/runs/{run_id}/report")

            burst = [pool.submit(fetch_report) for _ in range(12)]
            started.wait()
            while not all(f.done() for f in burst):
                begun = time.perf_counter()
                assert get(server).status_code == 200
                index_times.append(time.perf_counter() - begun)
            answers = [f.result() for f in burst]
        statuses = sorted(a.status_code for a in answers)
        assert set(statuses) <= {200, 503}, statuses
        assert 200 in statuses
        assert all(a.headers["Retry-After"] for a in answers if a.status_code == 503)
        assert index_times, "the reports were answered before / was asked"
        assert max(index_times) < 1.5, index_times
        begun = time.perf_counter()
        again = [get(server, f"/runs/{run_id}/report") for _ in range(12)]
        cached = time.perf_counter() - begun
        assert [a.status_code for a in again] == [200] * 12
        assert {a.text for a in again} == {a.text for a in answers if a.status_code == 200}
        assert cached < 1.5, cached
