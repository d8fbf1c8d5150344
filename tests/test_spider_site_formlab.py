"""Forms to the HTML standard, crawled: the exact request the server received for each.

Three crawls of the form lab (``fixtures/tinysite/formlab.py``), none with
``--max-pages``: over HTTP under the default ``--forms get``, over HTTP with
``--forms all``, and in Chromium (``--render always --forms all``), where
forms are read from the live page and submitted by clicking.  Each test
checks what the lab recorded: method, path, query, content type and body
fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from fixtures.tinysite import formlab as fl
from tests.browser.conftest import processes_under
from tests.crawltools import CrawlResult, crawl
from tests.test_spider_site_render import BROWSER_OPTIONS

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite


@dataclass
class LabCrawl:
    result: CrawlResult
    submissions: list[fl.Submission]

    def to(self, path: str, method: str | None = None) -> list[fl.Submission]:
        return [
            s for s in self.submissions if s.path == path and (method is None or s.method == method)
        ]

    def one(self, path: str) -> fl.Submission:
        [submission] = self.to(path)
        return submission

    def reached(self) -> set[str]:
        return {
            urlsplit(p["url"]).path
            for p in self.result.pages
            if urlsplit(p["url"]).path.startswith(fl.REACHED_PREFIX) and p["status"] == 200
        }

    @property
    def stats(self) -> dict[str, int]:
        return self.result.stats


def lab_crawl(site: TinySite, tmp_path: Path, *options: str) -> LabCrawl:
    lab = fl.formlab_app(site)
    lab.clear()
    result = crawl(site.url(fl.INDEX_PATH), tmp_path, *options, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.runs[-1]["finish_reason"] == "finished"  # by itself: no page budget
    return LabCrawl(result, lab.submissions)


@pytest.fixture(scope="module")
def http_get(tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory) -> LabCrawl:
    return lab_crawl(tinysite, tmp_path_factory.mktemp("lab-get"))


@pytest.fixture(scope="module")
def http_all(tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory) -> LabCrawl:
    return lab_crawl(tinysite, tmp_path_factory.mktemp("lab-all"), "--forms", "all")


@pytest.fixture(scope="module")
def browser_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lab-browsers")


@pytest.fixture(scope="module")
def rendered(
    tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory, browser_dir: Path
) -> LabCrawl:
    return lab_crawl(
        tinysite,
        tmp_path_factory.mktemp("lab-rendered"),
        "--forms",
        "all",
        "--render",
        "always",
        *BROWSER_OPTIONS,
        "-s",
        f"SELENIUM_TEMP_DIR={browser_dir}",
    )


def query_of(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


# -- form owners, fieldsets, selects: HTTP and rendered alike ---------------------------


@pytest.mark.parametrize("run", ["http_get", "http_all", "rendered"])
def test_form_owners(run: str, request: pytest.FixtureRequest) -> None:
    lab: LabCrawl = request.getfixturevalue(run)
    owner = lab.one(fl.OWNER_ACTION)
    # the control outside the form joined by form="f" is sent, the one inside
    # that names form b is not, the outside submit button is the submitter
    assert (owner.method, owner.entries) == ("GET", fl.OWNER_FIELDS)
    assert lab.one(fl.OWNER_B_ACTION).entries == fl.OWNER_B_FIELDS
    sent = {name for s in lab.submissions for name, _ in s.entries}
    assert not sent & fl.OWNER_NEVER_SENT


@pytest.mark.parametrize("run", ["http_get", "rendered"])
def test_a_form_inside_a_table(run: str, request: pytest.FixtureRequest) -> None:
    """Rendered, the parser foster-parents the form out of the table: its fields
    are joined to it only in the live page, never in the serialised HTML."""
    lab: LabCrawl = request.getfixturevalue(run)
    table = lab.one(fl.TABLE_ACTION)
    assert (table.method, table.entries) == ("GET", fl.TABLE_FIELDS)
    assert fl.reached_path("table") in lab.reached()


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("http_get", fl.SELECT_FIELDS),
        # Chromium also sends the select inside the <datalist> (the standard does not)
        ("rendered", fl.SELECT_FIELDS_CHROMIUM),
    ],
)
def test_selects_datalists_and_fieldsets(
    run: str, expected: list[tuple[str, str]], request: pytest.FixtureRequest
) -> None:
    lab: LabCrawl = request.getfixturevalue(run)
    submitted = [s.entries for s in lab.to(fl.SELECT_ACTION)]
    if run == "rendered":  # --forms all: the empty input takes its datalist's first suggestion
        expected = [(n, "red" if n == "colour" else v) for n, v in expected]
    assert expected in submitted  # the defaults
    # and each other option of each select, one control at a time: the multiple
    # select with one option alone
    tags = sorted(
        tuple(v for n, v in entries if n == "tags")
        for entries in submitted
        if dict(entries).get("size") == "s"
    )
    assert ("red", "blue") in tags
    enabled = ("red", "green", "blue")  # grey and sepia are disabled
    assert [t for t in tags if len(t) == 1] == sorted((t,) for t in enabled)
    sent = {name for s in lab.to(fl.SELECT_ACTION) for name, _ in s.entries}
    assert not sent & fl.SELECT_NEVER_SENT - {"colour_pick"}
    fieldset = lab.one(fl.FIELDSET_ACTION)
    assert fieldset.entries == fl.FIELDSET_FIELDS  # the first legend is not disabled


@pytest.mark.parametrize("run", ["http_get", "rendered"])
def test_the_forms_encoding_and_charset_fields(run: str, request: pytest.FixtureRequest) -> None:
    lab: LabCrawl = request.getfixturevalue(run)
    assert lab.one(fl.CHARSET_ACTION).raw_query.decode() == fl.CHARSET_QUERY
    assert lab.one(fl.CHARSET_UTF8_ACTION).raw_query.decode() == fl.CHARSET_UTF8_QUERY


# -- encodings ---------------------------------------------------------------------


@pytest.mark.parametrize("run", ["http_all", "rendered"])
def test_multipart_and_text_plain_posts(run: str, request: pytest.FixtureRequest) -> None:
    lab: LabCrawl = request.getfixturevalue(run)
    multipart = lab.one(fl.MULTIPART_ACTION)
    assert (multipart.method, multipart.content_type) == ("POST", "multipart/form-data")
    assert multipart.fields == fl.MULTIPART_FIELDS
    assert multipart.files == fl.MULTIPART_FILES
    plain = lab.one(fl.PLAIN_ACTION)
    assert (plain.method, plain.content_type, plain.body) == ("POST", "text/plain", fl.PLAIN_BODY)
    assert {fl.reached_path("multipart"), fl.reached_path("plain")} <= lab.reached()


def test_get_crawls_post_nothing(http_get: LabCrawl) -> None:
    assert [s.path for s in http_get.submissions if s.method == "POST"] == []
    assert http_get.stats["forms/skipped/policy"] >= 4  # multipart, plain, aspnet, refresh


# -- submitters ------------------------------------------------------------------------


@pytest.mark.parametrize("run", ["http_get", "http_all", "rendered"])
def test_every_safe_submit_button_is_tried(run: str, request: pytest.FixtureRequest) -> None:
    lab: LabCrawl = request.getfixturevalue(run)
    assert lab.one(fl.SUBMIT_DEFAULT_ACTION).entries == fl.SUBMIT_DEFAULT_FIELDS
    assert lab.one(fl.SUBMIT_BLANK_ACTION).entries == fl.SUBMIT_BLANK_FIELDS
    image = lab.one(fl.SUBMIT_IMAGE_ACTION)
    assert tuple(n for n, _ in image.entries) == fl.SUBMIT_IMAGE_NAMES
    x, y = (int(v) for n, v in image.entries if n in ("map.x", "map.y"))
    assert 0 <= x < fl.PIXEL_SIZE[0] and 0 <= y < fl.PIXEL_SIZE[1]
    alt = lab.to(fl.SUBMIT_ALT_ACTION)
    if run == "http_get":
        assert alt == []  # formmethod=post: not under --forms get
    else:
        [posted] = alt
        assert (posted.method, posted.content_type) == ("POST", "multipart/form-data")
        assert posted.fields == fl.SUBMIT_ALT_FIELDS
    assert lab.to(fl.DELETE_ACTION) == []  # the "Delete" button is never clicked
    assert lab.stats["forms/skipped/dangerous"] >= 2  # it, and the filter's "Delete all"


# -- option exploration, volatile fields, budgets -----------------------------------------


@pytest.mark.parametrize("run", ["http_get", "rendered"])
def test_each_option_once_one_field_at_a_time(run: str, request: pytest.FixtureRequest) -> None:
    lab: LabCrawl = request.getfixturevalue(run)
    filters = lab.to(fl.FILTER_ACTION)
    tried = [(dict(s.entries)["cat"], dict(s.entries)["sort"]) for s in filters]
    # the defaults and each other option once, one field varied at a time; delete-all never
    assert sorted(tried) == sorted(fl.FILTER_ONE_AT_A_TIME)
    assert lab.reached() >= fl.FILTER_REACHED_PATHS


@pytest.mark.parametrize("run", ["http_all", "rendered"])
def test_an_aspnet_postback_is_submitted_a_bounded_number_of_times(
    run: str, request: pytest.FixtureRequest
) -> None:
    lab: LabCrawl = request.getfixturevalue(run)
    posts = lab.to(fl.ASPNET_SEARCH_PATH, "POST")
    # the default ("-- choose --", which posts back) and each other category once;
    # the postback's fresh __VIEWSTATE does not make its copy of the form new
    cats = sorted(dict(p.fields)[fl.ASPNET_CAT_FIELD] for p in posts)
    assert cats == sorted([fl.ASPNET_DEFAULT_CAT, *fl.ASPNET_CATS])
    assert [name for name, _ in posts[0].fields] == list(fl.ASPNET_FIELD_NAMES)
    assert lab.reached() >= fl.ASPNET_REACHED_PATHS


@pytest.mark.parametrize("run", ["http_get", "rendered"])
def test_a_volatile_hidden_field_is_learned(run: str, request: pytest.FixtureRequest) -> None:
    lab: LabCrawl = request.getfixturevalue(run)
    if run == "rendered":  # --forms all types a sample into q: the search has results
        assert fl.LOOP_REACHED_PATH in lab.reached()
        return
    loop = lab.to(fl.LOOP_PATH)
    # the first visit, then one submission: its result is a copy of the page with
    # another "state", learned as volatile, so the copy's form is not new
    assert len(loop) == 2
    assert lab.stats["forms/volatile_learned"] == 1


@pytest.mark.parametrize("run", ["http_all", "rendered"])
def test_a_form_leading_nowhere_new_stops(run: str, request: pytest.FixtureRequest) -> None:
    lab: LabCrawl = request.getfixturevalue(run)
    posts = lab.to(fl.REFRESH_PATH, "POST")
    assert len(posts) == 3  # CRAWLER_FORM_MAX_REPEATS
    assert lab.stats["forms/exhausted"] == 1


@pytest.mark.parametrize("run", ["http_get", "http_all", "rendered"])
def test_a_multi_step_form_is_followed_step_by_step(
    run: str, request: pytest.FixtureRequest
) -> None:
    lab: LabCrawl = request.getfixturevalue(run)
    assert lab.reached() >= fl.WIZARD_REACHED_PATHS
    steps = lab.to(fl.WIZARD_STEP3_PATH)
    assert sorted((dict(s.entries)["kind"], dict(s.entries)["size"]) for s in steps) == sorted(
        (k, s) for k in fl.WIZARD_KINDS for s in fl.WIZARD_SIZES
    )


# -- typed values ------------------------------------------------------------------------


def test_empty_fields_stay_empty_under_get(http_get: LabCrawl) -> None:
    typed = http_get.one(fl.TYPED_ACTION)
    assert typed.entries == fl.TYPED_FIELDS  # range 5, colour #000000, "abc" sanitized


@pytest.mark.parametrize("run", ["http_all", "rendered"])
def test_all_types_valid_samples(run: str, request: pytest.FixtureRequest) -> None:
    lab: LabCrawl = request.getfixturevalue(run)
    typed = lab.one(fl.TYPED_ACTION)
    values = dict(typed.entries)
    assert fl.typed_problem(typed.entries) is None
    for name in ("email", "number", "date", "url", "tel", "search", "text"):
        assert values[name], name
    low, high = fl.TYPED_NUMBER_RANGE
    assert low <= int(values["number"]) <= high
    assert values["date"] >= fl.TYPED_DATE_MIN
    assert fl.reached_path("typed") in lab.reached()


def test_rendered_forms_were_clicked_in_the_browser(rendered: LabCrawl, browser_dir: Path) -> None:
    assert rendered.stats["forms/submitted_in_browser"] >= 20
    assert "forms/browser_fallback/value_not_typeable" not in rendered.stats
    assert processes_under(str(browser_dir)) == []  # no browser left behind


def test_urls_are_what_the_standard_serialises(http_get: LabCrawl) -> None:
    owner = http_get.one(fl.OWNER_ACTION)
    assert owner.target == fl.OWNER_URL
    assert query_of(fl.OWNER_URL) == fl.OWNER_FIELDS
    assert urlencode(fl.TABLE_FIELDS) in http_get.one(fl.TABLE_ACTION).target
