"""``crawler crawl --forms none|get|all``: forms submitted or not, over HTTP and in Chromium."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from fixtures.tinysite import classic
from fixtures.tinysite import forms as area
from tests.browser.conftest import processes_under
from tests.crawltools import CrawlResult, crawl, run_crawler, run_scrapy
from tests.test_spider_site_render import BROWSER_OPTIONS

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

# The classic pages with the search results under the URL the form submits.
CLASSIC_WITH_SEARCH = (classic.WITH_FORMS_PATHS - {classic.SEARCH_PATH}) | {classic.SEARCH_URL}


class AreaCrawl:
    """A crawl of the forms area and the requests the server saw during it."""

    def __init__(self, site: TinySite, tmp_path: Path, *options: str) -> None:
        before = len(site.requests_seen)
        self.result = crawl(site.url(area.INDEX_PATH), tmp_path, *options)
        self.seen = site.requests_seen[before:]
        assert self.result.returncode == 0, self.result.stderr

    def paths(self) -> set[str]:
        """Paths (no query) of the HTML pages recorded with status 200."""
        return {urlsplit(p).path for p in self.result.html_paths()}

    def requested(self) -> set[str]:
        return {urlsplit(r.target).path for r in self.seen}

    def posts(self) -> list[str]:
        return [r.target for r in self.seen if r.method == "POST"]

    def found_via(self, target: str) -> str:
        return str(self.result.by_path()[target]["found_via"])

    @property
    def stats(self) -> dict[str, int]:
        return self.result.stats


def assert_nothing_unsafe(run: AreaCrawl) -> None:
    """No login form, logout link or sign-out form was ever requested."""
    assert not run.requested() & area.NEVER_PATHS
    assert not run.requested() & area.LOGOUT_PATHS
    assert run.stats["forms/skipped/login"] >= 1
    assert run.stats["forms/skipped/logout"] >= 1
    assert run.stats["crawler/links/skipped_logout"] >= 1


@pytest.fixture(scope="module")
def browser_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this module's crawls keep their browsers' HOME and TMPDIR (checked at the end)."""
    return tmp_path_factory.mktemp("browsers")


@pytest.fixture(scope="module")
def in_browser(browser_dir: Path) -> tuple[str, ...]:
    return (*BROWSER_OPTIONS, "-s", f"SELENIUM_TEMP_DIR={browser_dir}")


# -- the classic tinysite ----------------------------------------------------------------


@pytest.fixture(scope="module")
def classic_always(
    tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory, in_browser: tuple[str, ...]
) -> CrawlResult:
    return crawl(
        tinysite.url("/"),
        tmp_path_factory.mktemp("always"),
        "--render",
        "always",
        "--forms",
        "get",
        *in_browser,
    )


def test_render_always_forms_get_records_every_classic_page(classic_always: CrawlResult) -> None:
    result = classic_always
    assert result.returncode == 0, result.stderr
    # /further.html: the home page's script fetches it (XHR) and writes it in.
    assert result.html_paths() == CLASSIC_WITH_SEARCH | classic.SCRIPT_LINKS | {
        classic.FURTHER_PATH
    }
    found_via = {path: page["found_via"] for path, page in result.by_path().items()}
    assert found_via == {
        "/": "start",
        "/page1.html": "link",
        "/page2.html": "link",
        classic.SEARCH_URL: "form",
        "/page3.html": "link",
        "/page4.html": "link",
        "/page5.html": "script",
        "/page6.html": "script",
        classic.FURTHER_PATH: "xhr",
    }
    search = result.by_path()[classic.SEARCH_URL]
    assert (search["rendered"], search["depth"]) == (1, 1)
    assert search["final_url"] == search["url"]
    assert urlsplit(search["referer"]).path == "/"
    assert result.stats["forms/submitted_in_browser"] == 1


@pytest.mark.parametrize(
    ("forms", "expected"),
    [("get", CLASSIC_WITH_SEARCH), ("none", classic.GET_ONLY_PATHS)],
)
def test_render_never_submits_the_search_form_over_http(
    tinysite: TinySite, tmp_path: Path, forms: str, expected: frozenset[str]
) -> None:
    before = len(tinysite.requests_seen)
    result = crawl(tinysite.url("/"), tmp_path, "--render", "never", "--forms", forms)
    assert result.returncode == 0, result.stderr
    assert result.html_paths() == expected
    assert not any(page["rendered"] for page in result.pages)
    searched = [r for r in tinysite.requests_seen[before:] if r.target == classic.SEARCH_URL]
    assert len(searched) == (forms == "get")
    if forms == "get":
        assert result.by_path()[classic.SEARCH_URL]["found_via"] == "form"


def test_a_form_result_is_one_hop_deeper(tinysite: TinySite, tmp_path: Path) -> None:
    result = crawl(tinysite.url("/"), tmp_path, "--max-depth", "1")
    assert result.returncode == 0, result.stderr
    assert result.html_paths() == classic.GET_ONLY_PATHS | {classic.SEARCH_URL}
    assert result.by_path()[classic.SEARCH_URL]["depth"] == 1


# -- the forms area over HTTP ------------------------------------------------------------


@pytest.fixture(scope="module")
def area_get(tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory) -> AreaCrawl:
    return AreaCrawl(tinysite, tmp_path_factory.mktemp("get"), "--forms", "get")


@pytest.fixture(scope="module")
def area_all(tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory) -> AreaCrawl:
    return AreaCrawl(tinysite, tmp_path_factory.mktemp("all"), "--forms", "all")


def test_get_submits_get_forms_and_no_post(area_get: AreaCrawl) -> None:
    assert area_get.paths() == area.GET_FORMS_PATHS
    assert area_get.posts() == []
    assert area_get.found_via(area.FILTER_URL) == "form"
    assert area_get.found_via(area.NO_SCRIPT_URL) == "form"  # what the JS form does without JS
    assert area.JS_RESULT_PATH not in area_get.requested()
    # the filter form with its defaults and with each other colour; the JS form
    assert area_get.stats["forms/submitted/get"] == 4
    assert area_get.stats["forms/variants/submitted"] == 2
    assert area_get.stats["forms/skipped/policy"] == 1  # the feedback POST
    assert_nothing_unsafe(area_get)


def test_the_filter_form_repeated_on_its_results_is_submitted_once(area_get: AreaCrawl) -> None:
    filtered = [r for r in area_get.seen if urlsplit(r.target).path == area.RESULTS_PATH]
    # each colour once: the default (green) and the two other options, one at a time;
    # the forms on the three results pages are those same submissions again
    assert sorted(r.target for r in filtered) == sorted(
        f"{area.RESULTS_PATH}?colour={colour}&q={area.FILTER_TEXT}"
        for colour in area.FILTER_COLOURS
    )
    assert area_get.stats["forms/skipped/duplicate"] == 3 * 3


def test_all_posts_the_feedback_form_once_with_its_token(area_all: AreaCrawl) -> None:
    assert area_all.paths() == area.ALL_FORMS_PATHS
    assert area_all.posts() == [area.FEEDBACK_PATH]
    feedback = area_all.result.by_path()[area.FEEDBACK_PATH]
    assert (feedback["status"], feedback["found_via"]) == (200, "form")  # 403 without the token
    assert area_all.stats["forms/submitted/post"] == 1
    assert_nothing_unsafe(area_all)


def test_submit_forms_lets_a_matching_post_through_under_get(
    tinysite: TinySite, tmp_path: Path
) -> None:
    run = AreaCrawl(tinysite, tmp_path, "--forms", "get", "--submit-forms", r"/feedback$")
    assert run.posts() == [area.FEEDBACK_PATH]
    assert run.paths() == area.ALL_FORMS_PATHS
    assert_nothing_unsafe(run)


def test_supplied_values_are_submitted(tinysite: TinySite, tmp_path: Path) -> None:
    run = AreaCrawl(tinysite, tmp_path, "--form-value", "q=ships", "--form-value", "colour=red")
    submitted = {r.target for r in run.seen if "?" in r.target}
    assert submitted == {
        f"{area.RESULTS_PATH}?colour=red&q=ships",
        f"{area.NO_SCRIPT_PATH}?q=ships",
    }
    settings = json.loads(run.result.runs[-1]["settings"])
    assert settings["spider_arguments"]["form_values"] == {"q": "ships", "colour": "red"}


def test_scrapy_crawl_takes_the_form_arguments(tinysite: TinySite, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    before = len(tinysite.requests_seen)
    proc = run_scrapy(
        "crawl",
        "site",
        "-a",
        f"start_url={tinysite.url(area.INDEX_PATH)}",
        "-a",
        "forms=get",
        "-a",
        "form_values=q=ships,colour=blue",
        "-a",
        "submit_forms=feedback",
        "-s",
        f"CRAWLER_STORE_URL=sqlite:///{tmp_path / 'x.db'}",
        "-O",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    urls = {urlsplit(json.loads(line)["url"]) for line in out.read_text().splitlines()}
    targets = {u.path + (f"?{u.query}" if u.query else "") for u in urls}
    assert f"{area.RESULTS_PATH}?colour=blue&q=ships" in targets
    assert area.FEEDBACK_PATH in targets
    posts = [r.target for r in tinysite.requests_seen[before:] if r.method == "POST"]
    assert posts == [area.FEEDBACK_PATH]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--form-value", "q"), "takes NAME=VALUE"),
        (("--submit-forms", "(feedback"), "submit_forms must be a regular expression"),
        (("--forms", "some"), "invalid choice"),
    ],
)
def test_bad_form_options_are_refused(
    tinysite: TinySite, tmp_path: Path, options: tuple[str, ...], message: str
) -> None:
    proc = run_crawler(
        "crawl",
        tinysite.url("/"),
        "--store",
        f"sqlite:///{tmp_path / 'c.db'}",
        *options,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


# -- the forms area in Chromium ----------------------------------------------------------


@pytest.fixture(scope="module")
def area_browser_all(
    tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory, in_browser: tuple[str, ...]
) -> AreaCrawl:
    return AreaCrawl(
        tinysite,
        tmp_path_factory.mktemp("browser-all"),
        "--render",
        "always",
        "--forms",
        "all",
        *in_browser,
    )


@pytest.fixture(scope="module")
def area_browser_get(
    tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory, in_browser: tuple[str, ...]
) -> AreaCrawl:
    return AreaCrawl(
        tinysite,
        tmp_path_factory.mktemp("browser-get"),
        "--render",
        "always",
        "--forms",
        "get",
        "--form-value",
        "q=ships",
        *in_browser,
    )


def test_the_script_driven_form_reaches_its_result_in_the_browser(
    area_browser_all: AreaCrawl,
) -> None:
    run = area_browser_all
    assert run.paths() == area.BROWSER_ALL_FORMS_PATHS
    js_result = run.result.by_path()[area.JS_RESULT_URL]
    assert (js_result["found_via"], js_result["rendered"], js_result["depth"]) == ("form", 1, 1)
    assert area.NO_SCRIPT_PATH not in run.requested()
    assert run.posts() == [area.FEEDBACK_PATH]  # clicked in the browser, token and all
    assert run.result.by_path()[area.FEEDBACK_PATH]["status"] == 200
    # the filter form (default and two colours), the JS form, the feedback form
    assert run.stats["forms/submitted_in_browser"] == 5
    assert_nothing_unsafe(run)


def test_the_browser_types_supplied_values_and_posts_nothing_under_get(
    area_browser_get: AreaCrawl,
) -> None:
    run = area_browser_get
    assert run.paths() == area.BROWSER_GET_FORMS_PATHS
    assert run.posts() == []
    by_path = run.result.by_path()
    assert by_path[f"{area.JS_RESULT_PATH}?q=ships"]["found_via"] == "form"
    assert (
        by_path[f"{area.RESULTS_PATH}?colour={area.FILTER_COLOUR}&q=ships"]["found_via"] == "form"
    )
    assert_nothing_unsafe(run)


def test_in_place_and_failed_browser_submissions_keep_the_page_record(
    tinysite: TinySite, tmp_path: Path, in_browser: tuple[str, ...]
) -> None:
    result = crawl(
        tinysite.url(area.INLINE_PATH),
        tmp_path,
        "--render",
        "always",
        "-s",
        "SELENIUM_WAIT_TIMEOUT=1",
        *in_browser,
    )
    assert result.returncode == 0, result.stderr
    [page] = result.pages
    # one row per URL, the last write wins: "start" means no result overwrote it
    assert (page["found_via"], page["status"], page["error"]) == ("start", 200, None)
    stats = result.stats
    assert stats["forms/submitted_in_browser"] == 2
    assert stats["forms/results_in_place"] == 1  # "replace" swapped the body
    assert stats["forms/failed/BrowserWaitTimeoutError"] == 1  # "inert" did nothing
    assert stats["selenium/render_failures/wait_timeout"] == 1  # and was not clicked again
    assert "Submitting a form of" in result.stderr


def test_no_browser_is_left_after_form_crawls(
    classic_always: CrawlResult,
    area_browser_all: AreaCrawl,
    area_browser_get: AreaCrawl,
    browser_dir: Path,
) -> None:
    assert classic_always.returncode == 0
    assert processes_under(str(browser_dir)) == []
    assert list(browser_dir.iterdir()) == []  # the sessions' private dirs are gone too
