"""Timers, scrolling and events of a render (crawler.browser.explore), real Chromium,
BrowserSession called directly against fixtures/tinysite/explore.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from parsel import Selector

from crawler.addon import framework_settings
from crawler.browser.config import BrowserConfig
from crawler.browser.explore import Exploration
from crawler.browser.request import BrowserOptions
from crawler.browser.session import BrowserSession, RenderSpec
from fixtures.tinysite import explore
from fixtures.tinysite.explore import ExploreApp
from fixtures.tinysite.server import TinySite
from tests.browser.conftest import browser_settings, needs_chromium

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crawler.browser.result import RenderResult

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def site() -> Iterator[TinySite]:
    with TinySite(apps=[ExploreApp()]) as server:
        yield server


class Renderer:
    """One started session and the settings it was built from."""

    def __init__(self, root: str, **settings: Any) -> None:
        self.settings = framework_settings(browser_settings(root, **settings))
        self.session = BrowserSession(BrowserConfig.from_settings(self.settings), 1).start()
        self.exploration = Exploration.from_settings(self.settings)

    def render(self, url: str) -> RenderResult:
        spec = RenderSpec(url=url, options=BrowserOptions(), explore=self.exploration)
        return self.session.render(spec)


@pytest.fixture
def renderer(browser_root: str) -> Iterator[Any]:
    made: list[Renderer] = []

    def make(**settings: Any) -> Renderer:
        made.append(Renderer(browser_root, **settings))
        return made[-1]

    yield make
    for r in made:
        r.session.quit()


def paths(result: RenderResult, kind: str) -> dict[str, str | None]:
    return {
        urlsplit(link.url).path: link.text for link in result.discovered if link.found_via == kind
    }


def hrefs(result: RenderResult) -> set[str]:
    return set(Selector(result.html).css("a::attr(href)").getall())


def test_a_timer_at_5_s_of_page_time_is_found_in_less_wall_time(
    renderer: Any, site: TinySite
) -> None:
    result = renderer().render(site.url("/explore/timers"))
    timers = [link for link in result.discovered if link.found_via == "timer"]
    assert {urlsplit(link.url).path for link in timers} == explore.TIMER_TARGETS | {
        explore.TIMER_5S
    }
    five = next(link for link in timers if explore.TIMER_5S in link.url)
    clocks = parse_qs(urlsplit(five.url).query)
    page_ms = int(clocks["now"][0])  # performance.now() when the timer fired
    date_ms = int(clocks["date"][0])  # Date.now() then, minus Date.now() at the script's start
    assert date_ms >= 5000 and page_ms >= 5000  # the page saw its 5 s pass, on both clocks
    assert result.elapsed * 1000 < page_ms  # ...in less wall time than that
    assert Selector(result.html).css("#late-content")  # the DOM is read after the timers
    assert result.counters["explore/timers_fired"] == 3


def test_timers_beyond_the_budget_wait_and_budget_0_is_real_time(
    renderer: Any, site: TinySite
) -> None:
    short = renderer(SELENIUM_TIMER_BUDGET=2).render(site.url("/explore/timers"))
    assert set(paths(short, "timer")) == {"/explore/target/timer-800"}
    assert not Selector(short.html).css("#late-content")
    real = renderer(SELENIUM_TIMER_BUDGET=0).render(site.url("/explore/timers"))
    assert paths(real, "timer") == {}
    assert "/explore/target/timer-800" not in hrefs(real)  # the render did not wait 0.8 s


def test_infinite_scroll_reaches_all_ten_pages(renderer: Any, site: TinySite) -> None:
    result = renderer().render(site.url("/explore/scroll"))
    scrolled = set(paths(result, "scroll"))
    first_page = {f"/explore/item/{n}" for n in range(1, explore.ITEMS_PER_PAGE + 1)}
    assert scrolled == explore.SCROLL_ITEMS - first_page  # page 1 came with the load
    assert "the end" in result.html
    assert result.counters["explore/scroll_steps"] >= explore.SCROLL_PAGES - 1


def test_scrolling_stops_at_its_budget(renderer: Any, site: TinySite) -> None:
    result = renderer(CRAWLER_EXPLORE_MAX_SCROLLS=3).render(site.url("/explore/scroll"))
    assert len(paths(result, "scroll")) == 3 * explore.ITEMS_PER_PAGE
    assert result.counters["explore/scroll_budget_exhausted"] == 1


def test_events_click_hover_and_fetch(renderer: Any, site: TinySite) -> None:
    result = renderer().render(site.url("/explore/handlers"))
    assert paths(result, "event") == explore.EVENT_TARGETS
    assert site.url("/explore/target/button-listener") not in {
        site.url(r.target) for r in site.requests_seen
    }  # navigations are recorded, not made
    assert "/explore/target/after-fetch" not in hrefs(result)  # the html: the DOM before events


def test_a_select_is_changed_to_each_option(renderer: Any, site: TinySite) -> None:
    result = renderer().render(site.url("/explore/select"))
    assert set(paths(result, "event")) == explore.SELECT_TARGETS
    assert "change select#colour=red" in paths(result, "event").values()


def test_a_delegated_pager_is_clicked(renderer: Any, site: TinySite) -> None:
    result = renderer().render(site.url("/explore/quotes?page=3"))
    events = [link for link in result.discovered if link.found_via == "event"]
    assert [urlsplit(link.url).query for link in events] == ["page=4"]


def test_identical_handlers_fire_once(renderer: Any, site: TinySite) -> None:
    result = renderer().render(site.url("/explore/same"))
    assert len(paths(result, "event")) == 1
    assert result.counters["explore/skipped_duplicate"] == 4


def test_budgets_per_page_and_per_page_type(renderer: Any, site: TinySite) -> None:
    per_page = renderer(CRAWLER_EXPLORE_MAX_EVENTS=2).render(site.url("/explore/handlers"))
    assert per_page.counters["explore/fired"] == 2
    assert per_page.counters["explore/budget_exhausted"] == 1
    typed = renderer(CRAWLER_EXPLORE_MAX_EVENTS_PER_TYPE=1)
    first = typed.render(site.url("/explore/quotes?page=1"))
    second = typed.render(site.url("/explore/quotes?page=2"))  # the same page type
    assert first.counters["explore/fired"] == 1
    assert "explore/fired" not in second.counters
    assert second.counters["explore/type_budget_exhausted"] == 1


def test_danger_is_never_fired(renderer: Any, site: TinySite) -> None:
    result = renderer(CRAWLER_FORMS="all").render(site.url("/explore/danger"))
    assert set(paths(result, "event")) == explore.DANGER_SAFE
    assert result.counters["explore/skipped_dangerous"] == 4
    assert result.counters["explore/skipped_login"] == 1
    assert "explore/skipped_post" not in result.counters  # POST allowed: Send is fired...
    seen = set(site.seen_paths())
    assert not seen & explore.DANGER_PATHS  # ...yet its POST navigation is never made
    assert "explore/post_navigations" in result.counters


def test_the_danger_pattern_can_be_extended(renderer: Any, site: TinySite) -> None:
    result = renderer(CRAWLER_DANGER_PATTERN=r"\bmore\b").render(site.url("/explore/danger"))
    assert set(paths(result, "event")) == {"/explore/target/after-post"}


def test_explore_none_leaves_events_and_scrolling_alone(renderer: Any, site: TinySite) -> None:
    off = renderer(CRAWLER_EXPLORE="none")
    assert off.exploration is None
    assert paths(off.render(site.url("/explore/handlers")), "event") == {}
    assert paths(off.render(site.url("/explore/scroll")), "scroll") == {}
