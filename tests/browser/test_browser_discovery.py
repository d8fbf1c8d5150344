"""Discovery from the live page (crawler.browser.discovery) on a real Chromium session."""

from __future__ import annotations

import tomllib
from typing import TYPE_CHECKING

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler

from crawler.addon import framework_settings
from crawler.browser.config import BrowserConfig
from crawler.browser.discovery import (
    is_hash_route,
    live_links,
    live_links_script,
    page_url,
    requested_urls,
)
from crawler.browser.request import BrowserOptions, Click
from crawler.browser.session import BrowserSession, RenderSpec
from crawler.fingerprint import HashRouteFingerprinter
from crawler.items import Link
from fixtures.tinysite.livedom import LiveDomApp
from fixtures.tinysite.scripted import ScriptedApp
from fixtures.tinysite.server import TinySite
from tests.browser.conftest import REPO, browser_settings, needs_chromium

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crawler.browser.result import RenderResult


@pytest.fixture(scope="module")
def live_site() -> Iterator[TinySite]:
    with TinySite(apps=[LiveDomApp(), ScriptedApp()]) as server:
        yield server


@pytest.fixture(scope="module")
def other_origin() -> Iterator[TinySite]:
    """The same pages on another port: another origin for the browser."""
    with TinySite(apps=[LiveDomApp()]) as server:
        yield server


@pytest.fixture
def session(browser_root: str) -> Iterator[BrowserSession]:
    config = BrowserConfig.from_settings(framework_settings(browser_settings(browser_root)))
    session = BrowserSession(config, 1).start()
    yield session
    session.quit()


def render(session: BrowserSession, url: str) -> RenderResult:
    return session.render(RenderSpec(url=url, options=BrowserOptions()))


def relative(site: TinySite, links: list[Link]) -> list[tuple[str, str]]:
    return [(link.found_via, link.url.replace(site.base_url, "")) for link in links]


def test_hash_routes_and_page_urls() -> None:
    assert is_hash_route("http://a/app#!/about")
    assert is_hash_route("http://a/app#/contact")
    assert not is_hash_route("http://a/doc#section")
    assert not is_hash_route("http://a/doc")
    assert page_url("http://a/doc#section") == "http://a/doc"
    assert page_url("http://a/app#!/about") == "http://a/app#!/about"
    for url in ("data:text/plain,x", "blob:http://a/1", "chrome://version", "javascript:go()"):
        assert page_url(url) is None


def test_the_script_ships_as_package_data() -> None:
    assert "shadowRoot" in live_links_script()
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    assert "js/*.js" in package_data["crawler.browser"]


def test_fingerprint_keeps_the_fragment_of_hash_routes_only() -> None:
    fingerprinter = HashRouteFingerprinter.from_crawler(get_crawler())

    def fp(url: str, **meta: object) -> bytes:
        return fingerprinter.fingerprint(Request(url, meta=meta))

    assert fp("http://a/app#!/about") == fp("http://a/app#!/contact") == fp("http://a/app")
    assert fp("http://a/app#!/about", hash_route=True) != fp("http://a/app#!/x", hash_route=True)
    assert fp("http://a/app#!/about", hash_route=True) != fp("http://a/app")
    assert fp("http://a/app#!/about", hash_route=True) == fp("http://a/app#!/about", hash_route=1)


@needs_chromium
def test_open_shadow_roots_are_walked(session: BrowserSession, live_site: TinySite) -> None:
    result = render(session, live_site.url("/live/shadow"))
    assert relative(live_site, live_links(session.driver)) == [
        ("script", "/live/target/shadow"),
        ("script", "/live/target/shadow-nested"),
    ]  # the closed root's link is out of reach
    assert "/live/target/shadow" not in result.html  # page_source has no shadow roots
    assert [link.text for link in result.discovered] == ["in shadow", "nested shadow"]


@needs_chromium
def test_declarative_shadow_dom_lost_by_page_source_is_found(
    session: BrowserSession, live_site: TinySite
) -> None:
    result = render(session, live_site.url("/live/declarative"))
    assert "/live/target/declarative" not in result.html
    assert "/live/target/declarative" in (result.raw_html or "")
    assert relative(live_site, result.discovered) == [("script", "/live/target/declarative")]


@needs_chromium
def test_frameset_documents_and_their_links(session: BrowserSession, live_site: TinySite) -> None:
    render(session, live_site.url("/live/frameset"))
    links = live_links(session.driver)
    assert relative(live_site, links) == [
        ("frame", "/live/frame/left"),
        ("script", "/live/target/in-frame"),  # resolved against the frame's <base>
        ("frame", "/live/frame/right"),
    ]
    assert links[1].text == "In the frame"  # trimmed, whitespace collapsed


@needs_chromium
def test_nested_iframes_and_the_requests_that_loaded_them(
    session: BrowserSession, live_site: TinySite
) -> None:
    result = render(session, live_site.url("/live/iframe"))
    assert relative(live_site, live_links(session.driver)) == [
        ("frame", "/live/frame/inner"),
        ("script", "/live/target/in-iframe"),
        ("frame", "/live/frame/nested"),  # added by the frame's own script
        ("script", "/live/target/in-nested"),
    ]
    assert session._log is not None
    assert relative(live_site, requested_urls(session._log)) == [
        ("frame", "/live/frame/inner"),
        ("frame", "/live/frame/nested"),
    ]
    assert relative(live_site, result.discovered)[-2:] == [
        ("frame", "/live/frame/inner"),
        ("frame", "/live/frame/nested"),
    ]


@needs_chromium
def test_a_cross_origin_frame_gives_its_src_only(
    session: BrowserSession, live_site: TinySite, other_origin: TinySite
) -> None:
    render(session, live_site.url(f"/live/iframe-cross?port={other_origin.port}"))
    assert live_links(session.driver) == [
        Link(other_origin.url("/live/frame/inner"), "frame", None)
    ]


@needs_chromium
def test_xhr_gets_are_found_posts_counted_resources_skipped(
    session: BrowserSession, live_site: TinySite
) -> None:
    result = render(session, live_site.url("/live/xhr"))
    assert result.discovered == [Link(live_site.url("/live/api/items?page=2"), "xhr", "XHR")]
    assert {k: v for k, v in result.counters.items() if k.startswith("discovery/")} == {
        "discovery/skipped_method/POST": 1
    }
    seen = live_site.seen_paths()
    assert {"/live/asset/dot.png", "/live/asset/site.css", "/live/api/log"} <= set(seen)


@needs_chromium
def test_fetch_is_found(session: BrowserSession, live_site: TinySite) -> None:
    result = render(session, live_site.url("/live/fetch"))
    assert relative(live_site, result.discovered) == [("xhr", "/live/api/feed?since=1")]


@needs_chromium
def test_a_navigation_by_script_is_found_an_http_redirect_is_not(
    session: BrowserSession, live_site: TinySite
) -> None:
    result = render(session, live_site.url("/live/navigate"))
    assert result.url == live_site.url("/live/target/navigated")
    assert relative(live_site, result.discovered) == [("script", "/live/target/navigated")]
    redirected = render(session, live_site.url("/js/redirect-http"))
    assert redirected.url == live_site.url("/js/landing")
    assert redirected.discovered == []


@needs_chromium
def test_where_the_requests_own_click_went_is_the_response_not_a_discovery(
    session: BrowserSession, live_site: TinySite
) -> None:
    spec = RenderSpec(
        url=live_site.url("/live/"),
        options=BrowserOptions(actions=(Click("a[href='/live/shadow']", wait_for="#host"),)),
    )
    result = session.render(spec)
    assert result.url == live_site.url("/live/shadow")
    assert relative(live_site, result.discovered) == [
        ("script", "/live/target/shadow"),
        ("script", "/live/target/shadow-nested"),
    ]


@needs_chromium
def test_hash_routes_keep_their_fragment_and_render_their_route(
    session: BrowserSession, live_site: TinySite
) -> None:
    app = render(session, live_site.url("/live/app"))
    assert relative(live_site, app.discovered) == [
        ("script", "/live/app#!/about"),
        ("script", "/live/app#/contact"),
    ]
    about = render(session, live_site.url("/live/app#!/about"))
    assert ("script", "/live/target/route-about") in relative(live_site, about.discovered)
    # The same document, another route: a fresh load, not a hashchange.
    contact = render(session, live_site.url("/live/app#/contact"))
    assert ("script", "/live/target/route-contact") in relative(live_site, contact.discovered)
    assert contact.status_known and contact.raw_html is not None


@needs_chromium
def test_a_page_that_breaks_the_walk_is_noted_not_fatal(
    session: BrowserSession, live_site: TinySite
) -> None:
    result = render(session, live_site.url("/live/broken-walk"))
    assert result.discovered == []
    assert len(result.notes) == 1 and result.notes[0].startswith("live links not read: ")
    assert render(session, live_site.url("/live/fetch")).discovered  # the session goes on
