"""``crawler crawl --render always``: pages reached only through events, timers and
scrolling, with real Chromium, and never anything dangerous (fixtures/tinysite/explore.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from fixtures.tinysite import explore
from tests.crawltools import CrawlResult, crawl
from tests.test_spider_site_render import BROWSER_OPTIONS, browser_processes

if TYPE_CHECKING:
    from fixtures.tinysite.server import TinySite


@pytest.fixture(scope="module")
def browser_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browsers")


def crawl_explore(site: TinySite, workdir: Path, browser_dir: Path, *options: str) -> CrawlResult:
    return crawl(
        site.url(explore.INDEX),
        workdir,
        "--render",
        "always",
        "-s",
        f"SELENIUM_TEMP_DIR={browser_dir}",
        *BROWSER_OPTIONS,
        *options,
        timeout=240,
    )


@pytest.fixture(scope="module")
def explored(
    tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory, browser_dir: Path
) -> CrawlResult:
    return crawl_explore(tinysite, tmp_path_factory.mktemp("explored"), browser_dir)


@pytest.fixture(scope="module")
def explored_gzip(
    tinysite_gzip: TinySite, tmp_path_factory: pytest.TempPathFactory, browser_dir: Path
) -> CrawlResult:
    return crawl_explore(tinysite_gzip, tmp_path_factory.mktemp("gzip"), browser_dir)


def found_via(result: CrawlResult) -> dict[str, str]:
    """``{path: found_via}``, the query dropped for the 5 s timer link (it holds clocks)."""
    out = {}
    for path, page in result.by_path().items():
        out[path.split("?")[0] if path.startswith(explore.TIMER_5S) else path] = page["found_via"]
    return out


def expected_found_via() -> dict[str, str]:
    expected = {p: "event" for p in explore.QUOTES_PATHS - {"/explore/quotes?page=1"}}
    expected |= {p: "event" for p in explore.EVENT_TARGETS}
    expected |= {p: "event" for p in explore.SELECT_TARGETS | explore.DANGER_SAFE}
    expected |= {p: "timer" for p in explore.TIMER_TARGETS | {explore.TIMER_5S}}
    expected |= {
        p: "scroll" for p in explore.SCROLL_ITEMS - {f"/explore/item/{n}" for n in range(1, 6)}
    }
    expected |= {f"/explore/item/{n}": "script" for n in range(1, 6)}  # written at load
    return expected


@pytest.mark.parametrize("which", ["explored", "explored_gzip"])
def test_exploring_reaches_every_target_with_how_it_was_found(
    which: str, request: pytest.FixtureRequest
) -> None:
    result: CrawlResult = request.getfixturevalue(which)
    assert result.returncode == 0, result.stderr
    got = found_via(result)
    for path, kind in expected_found_via().items():
        assert got.get(path) == kind, (path, got.get(path))
    stats = result.stats
    assert stats["explore/fired"] >= len(explore.EVENT_TARGETS)
    assert stats["explore/skipped_dangerous"] >= 4
    assert stats["explore/skipped_post"] >= 1
    assert stats["explore/skipped_login"] >= 1
    assert stats["explore/requests_refused"] >= 1  # the "Save draft" button's POST fetch


@pytest.mark.parametrize("which", ["explored", "explored_gzip"])
def test_nothing_dangerous_is_ever_requested(which: str, request: pytest.FixtureRequest) -> None:
    result: CrawlResult = request.getfixturevalue(which)
    site: TinySite = request.getfixturevalue("tinysite" if which == "explored" else "tinysite_gzip")
    assert result.returncode == 0, result.stderr
    seen = site.seen_paths()
    assert "/explore/danger" in seen and "/explore/target/danger-more" in seen  # explored
    assert not explore.DANGER_PATHS & set(seen)
    assert not [r for r in site.requests_seen if r.method == "POST" and "explore" in r.target]


def test_explore_none_finds_no_event_or_scroll_targets(
    tinysite: TinySite, tmp_path: Path, browser_dir: Path
) -> None:
    result = crawl_explore(tinysite, tmp_path, browser_dir, "--explore", "none")
    assert result.returncode == 0, result.stderr
    got = found_via(result)
    assert not set(got) & (set(explore.EVENT_TARGETS) | explore.SELECT_TARGETS)
    assert "/explore/quotes?page=2" not in got
    assert "/explore/item/6" not in got
    assert got["/explore/target/timer-3000"] == "timer"  # timers are the render's, not events
    assert "explore/fired" not in result.stats


def test_no_browser_left_behind(explored: CrawlResult, browser_dir: Path) -> None:
    assert explored.returncode == 0
    assert browser_processes(browser_dir) == []


def test_paths_are_unique_per_way_of_reaching_them() -> None:
    """Each target is reachable only one way (so found_via proves the way)."""
    groups = [
        set(explore.EVENT_TARGETS),
        explore.SELECT_TARGETS,
        explore.TIMER_TARGETS,
        explore.SCROLL_ITEMS,
        explore.DANGER_SAFE,
    ]
    everything = [p for g in groups for p in g]
    assert len(everything) == len(set(everything))
    assert all(urlsplit(p).path.startswith(explore.PREFIX) for p in everything)


def test_auto_renders_what_only_events_lead_on_from(
    tinysite: TinySite, tmp_path: Path, browser_dir: Path
) -> None:
    """``--render auto``: a click-driven pager adds no ``<a>`` to its page, and a page
    whose handlers are all inline (``<select onchange>``) has no ``<script>``; both
    are rendered all the same, so what their events reach is crawled."""
    result = crawl(
        tinysite.url(explore.INDEX),
        tmp_path,
        "--render",
        "auto",
        "-s",
        f"SELENIUM_TEMP_DIR={browser_dir}",
        *BROWSER_OPTIONS,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reached = found_via(result)
    assert {p: reached.get(p) for p in explore.QUOTES_PATHS - {"/explore/quotes?page=1"}} == {
        p: "event" for p in explore.QUOTES_PATHS - {"/explore/quotes?page=1"}
    }
    assert {p: reached.get(p) for p in explore.SELECT_TARGETS} == dict.fromkeys(
        explore.SELECT_TARGETS, "event"
    )
