"""Forms at their edges, crawled: dangerous defaults, loops whose pages change, token
pagers, dialog buttons, required fields (``fixtures/tinysite/formedges.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from fixtures.tinysite import formedges as fe
from tests.crawltools import CrawlResult, crawl
from tests.test_spider_site_render import BROWSER_OPTIONS

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.formlab import Submission
    from fixtures.tinysite.server import TinySite


@dataclass
class EdgeCrawl:
    result: CrawlResult
    submissions: list[Submission]

    def to(self, path: str) -> list[Submission]:
        return [s for s in self.submissions if s.path == path]

    @property
    def stats(self) -> dict[str, int]:
        return self.result.stats


def edge_crawl(site: TinySite, tmp_path: Path, *options: str) -> EdgeCrawl:
    app = fe.formedges_app(site)
    app.clear()
    result = crawl(site.url(fe.INDEX_PATH), tmp_path, *options, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.runs[-1]["finish_reason"] == "finished"  # by itself
    return EdgeCrawl(result, app.submissions)


@pytest.fixture(scope="module")
def http_get(tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory) -> EdgeCrawl:
    return edge_crawl(tinysite, tmp_path_factory.mktemp("edges-get"))


@pytest.fixture(scope="module")
def http_all(tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory) -> EdgeCrawl:
    return edge_crawl(tinysite, tmp_path_factory.mktemp("edges-all"), "--forms", "all")


@pytest.fixture(scope="module")
def rendered(tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory) -> EdgeCrawl:
    tmp = tmp_path_factory.mktemp("edges-rendered")
    return edge_crawl(
        tinysite,
        tmp,
        "--forms",
        "all",
        "--render",
        "always",
        *BROWSER_OPTIONS,
        "-s",
        f"SELENIUM_TEMP_DIR={tmp}",
    )


RUNS = ["http_get", "http_all", "rendered"]


@pytest.mark.parametrize("run", RUNS)
def test_dangerous_defaults_are_never_sent(run: str, request: pytest.FixtureRequest) -> None:
    crawl: EdgeCrawl = request.getfixturevalue(run)
    for submission in crawl.submissions:
        values = {v for _, v in submission.entries}
        assert not values & fe.DANGER_VALUES, submission.target
    # a person can still choose the safe option or radio
    assert [dict(s.entries) for s in crawl.to(fe.DANGER_ACTIONS[0])] == [{"do": "view"}]
    assert [dict(s.entries) for s in crawl.to(fe.DANGER_ACTIONS[1])] == [{"list": "stay"}]
    assert crawl.to(fe.DANGER_ACTIONS[2]) == crawl.to(fe.DANGER_ACTIONS[3]) == []
    assert crawl.stats["forms/skipped/dangerous"] >= 3


@pytest.mark.parametrize("run", ["http_get", "rendered"])
def test_a_refresh_whose_page_changes_every_time_is_cut(
    run: str, request: pytest.FixtureRequest
) -> None:
    crawl: EdgeCrawl = request.getfixturevalue(run)
    # CRAWLER_FORM_MAX_CHAIN submissions; in the browser each one loads the form's
    # page (a recorded GET of the previous result) before clicking
    assert len(crawl.to(fe.CLOCK_PATH)) == (25 if run == "http_get" else 2 * 25 - 1)
    assert crawl.stats["forms/chains_cut"] == 1


@pytest.mark.parametrize("run", ["http_all", "rendered"])
def test_a_token_pager_is_followed_to_its_end(run: str, request: pytest.FixtureRequest) -> None:
    crawl: EdgeCrawl = request.getfixturevalue(run)
    tokens = [dict(s.entries)["pageToken"].split("x")[0] for s in crawl.to(fe.PAGER_PATH)]
    assert sorted(tokens, key=lambda t: int(t[1:])) == [
        f"T{n}" for n in range(2, fe.PAGER_PAGES + 1)
    ]
    reached = {p["url"] for p in crawl.result.pages}
    assert all(
        any(url.endswith(fe.pager_item_path(n)) for url in reached)
        for n in range(1, fe.PAGER_PAGES + 1)
    )


@pytest.mark.parametrize("run", RUNS)
def test_a_cancel_button_does_not_make_a_dialog_form(
    run: str, request: pytest.FixtureRequest
) -> None:
    crawl: EdgeCrawl = request.getfixturevalue(run)
    assert [s.entries for s in crawl.to(fe.DIALOG_ACTION)] == [fe.DIALOG_FIELDS]


def test_an_empty_required_field_is_not_submitted_without_samples(http_get: EdgeCrawl) -> None:
    assert http_get.to(fe.REQUIRED_ACTION) == []
    assert http_get.stats["forms/skipped/required_empty"] == 1


@pytest.mark.parametrize("run", ["http_all", "rendered"])
def test_a_required_field_gets_a_sample_under_all(run: str, request: pytest.FixtureRequest) -> None:
    crawl: EdgeCrawl = request.getfixturevalue(run)
    assert [s.entries for s in crawl.to(fe.REQUIRED_ACTION)] == [[("q", "test")]]


@pytest.mark.parametrize("run", ["http_all", "rendered"])
def test_every_post_result_keeps_its_own_record(run: str, request: pytest.FixtureRequest) -> None:
    """Nine POSTs to pager.html: nine records beside the GET page's own, none replaced."""
    crawl: EdgeCrawl = request.getfixturevalue(run)
    pager = [p for p in crawl.result.pages if p["url"].split("#")[0].endswith(fe.PAGER_PATH)]
    posted = [p for p in pager if "#post-" in p["url"]]
    [page] = [p for p in pager if "#" not in p["url"]]
    assert (len(posted), page["found_via"], page["depth"]) == (fe.PAGER_PAGES - 1, "link", 1)
    assert {p["final_url"] for p in posted} == {page["url"]}
    assert sorted(p["title"] for p in posted) == sorted(
        f"Pager {n}" for n in range(2, fe.PAGER_PAGES + 1)
    )
