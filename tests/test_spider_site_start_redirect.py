"""A start URL that redirects to another host (``example.com`` to
``www.example.com``): the crawl follows it and crawls that host as the site
(crawler.downloadermiddlewares.offsite); other pages' redirects to another host
stay refused, counted and named in the log.  On a real server: 127.0.0.1 and
``localhost`` are two hosts of the same loopback server."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from fixtures.tinysite.server import SiteRequest, SiteResponse, TinySite, not_found, redirect
from tests.crawltools import crawl

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PAGES = 5


class TwoHostsApp:
    """``/redir-other`` (302) and ``/refresh-other`` (meta refresh) send 127.0.0.1 to
    ``localhost``'s ``/page``, which links to ``/p1.html``...; ``/inner`` (on
    127.0.0.1) links to ``/redir-inner``, a 302 to ``localhost``."""

    prefix = "/"

    def handle(self, request: SiteRequest, site: TinySite) -> SiteResponse | None:
        other = f"http://localhost:{site.port}"
        path = request.path
        if path == "/redir-other":
            return redirect(f"{other}/page")
        if path == "/refresh-other":
            head = f'<meta http-equiv="refresh" content="0; url={other}/page">'
            return SiteResponse(body=f"<html><head>{head}<title>r</title></head></html>")
        if path == "/page":
            links = "".join(f'<a href="/p{i}.html">p{i}</a>' for i in range(1, PAGES + 1))
            return SiteResponse(body=f"<html><head><title>page</title></head>{links}</html>")
        if path.startswith("/p") and path.endswith(".html"):
            return SiteResponse(body=f"<html><head><title>{path}</title></head></html>")
        if path == "/inner":
            body = '<a href="/redir-inner">x</a><a href="/p1.html">p1</a>'
            return SiteResponse(body=f"<html><head><title>inner</title></head>{body}</html>")
        if path == "/redir-inner":
            return redirect(f"{other}/p2.html")
        return not_found()


@pytest.fixture(scope="module")
def two_hosts() -> Iterator[TinySite]:
    with TinySite(apps=[TwoHostsApp()], host="127.0.0.1") as site:
        yield site


OPTIONS = ("--render", "never", "--ignore-robots")


def _urls(pages: list[dict[str, object]]) -> set[tuple[str | None, str]]:
    return {(urlsplit(str(p["url"])).hostname, urlsplit(str(p["url"])).path) for p in pages}


@pytest.mark.parametrize("path", ["/redir-other", "/refresh-other"])
def test_a_start_url_redirecting_to_another_host_crawls_that_host(
    two_hosts: TinySite, tmp_path: Path, path: str
) -> None:
    result = crawl(two_hosts.url(path), tmp_path, *OPTIONS)
    assert result.returncode == 0, result.stderr[-3000:]
    urls = _urls(result.pages)
    assert ("localhost", "/page") in urls
    assert {("localhost", f"/p{i}.html") for i in range(1, PAGES + 1)} <= urls
    message = "the start URL redirected to localhost; crawling localhost too"
    assert result.stderr.count(message) == 1
    assert result.stats["offsite/start_redirect_hosts"] == 1


def test_another_pages_redirect_to_another_host_is_refused_and_named(
    two_hosts: TinySite, tmp_path: Path
) -> None:
    result = crawl(two_hosts.url("/inner"), tmp_path, *OPTIONS)
    assert result.returncode == 0, result.stderr[-3000:]
    urls = _urls(result.pages)
    assert ("127.0.0.1", "/p1.html") in urls
    assert not any(host == "localhost" for host, _ in urls)
    assert result.stats["offsite/redirects_refused"] == 1
    assert (
        f"Not following the redirect of {two_hosts.url('/redir-inner')} to "
        f"http://localhost:{two_hosts.port}/p2.html: another host "
        "(--allow-domain localhost follows it)"
    ) in result.stderr
    assert "crawling localhost too" not in result.stderr


def test_a_resumed_crawl_keeps_the_host_the_start_url_redirected_to(
    two_hosts: TinySite, tmp_path: Path
) -> None:
    """The start request is done when the crawl resumes: the host it redirected to
    comes back from the journal, and the resume's arguments still match the run's."""
    options = (*OPTIONS, "--job-dir", "job", "-s", "CONCURRENT_REQUESTS=1")
    first = crawl(two_hosts.url("/redir-other"), tmp_path, *options, "--max-pages", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert len(first.pages) < PAGES + 1
    resumed = crawl(two_hosts.url("/redir-other"), tmp_path, *options, "--max-pages", "50")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    urls = _urls(resumed.pages)
    assert {("localhost", f"/p{i}.html") for i in range(1, PAGES + 1)} <= urls
    assert "crawling localhost too" not in resumed.stderr  # not redirected again
