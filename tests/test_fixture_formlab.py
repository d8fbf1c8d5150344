"""The tinysite form lab (/formlab/), driven over real HTTP with requests and urllib.

Each endpoint must record exactly the request that arrived and refuse the
wrong ones; crawl tests build on these records.
"""

from __future__ import annotations

import re
import threading
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin, urlsplit

import lxml.html
import pytest
import requests

from fixtures.tinysite import formlab as fl
from fixtures.tinysite.server import TinySite

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fixtures.tinysite.formlab import FormLabApp, Submission


@pytest.fixture
def lab(tinysite: TinySite) -> Iterator[FormLabApp]:
    """The session site's form lab, with nothing recorded yet."""
    app = fl.formlab_app(tinysite)
    app.clear()
    yield app
    app.clear()


def get(site: TinySite, target: str, **kwargs: Any) -> requests.Response:
    return requests.get(site.url(target), timeout=10, allow_redirects=False, **kwargs)


def post(site: TinySite, target: str, **kwargs: Any) -> requests.Response:
    return requests.post(site.url(target), timeout=10, allow_redirects=False, **kwargs)


def only(lab: FormLabApp, path: str) -> Submission:
    [sub] = lab.submissions_to(path)
    return sub


def links(response: requests.Response) -> list[str]:
    """Paths of the page's links, resolved against its URL."""
    doc = lxml.html.fromstring(response.content, base_url=response.url)
    return [urlsplit(urljoin(response.url, a.get("href"))).path for a in doc.xpath("//a[@href]")]


def hidden(response: requests.Response, name: str) -> str:
    doc = lxml.html.fromstring(response.content)
    [value] = doc.xpath(f"//input[@type='hidden'][@name='{name}']/@value")
    return str(value)


# --- the pages ----------------------------------------------------------------------------


def test_index_links_every_case_page_and_each_serves_html(tinysite: TinySite) -> None:
    assert get(tinysite, "/formlab").headers["Location"] == fl.INDEX_PATH
    index = get(tinysite, fl.INDEX_PATH)
    assert index.status_code == 200
    assert links(index) == list(fl.CASE_PAGES)
    for page in fl.CASE_PAGES:
        response = get(tinysite, page)
        assert response.status_code == 200, page
        assert response.headers["Content-Type"].startswith("text/html"), page


def test_every_form_on_the_case_pages_targets_a_recorded_action(tinysite: TinySite) -> None:
    """The markup and the constants agree: each action and formaction is recorded."""
    targets = set()
    for page in fl.CASE_PAGES:
        response = get(tinysite, page)
        doc = lxml.html.fromstring(response.content)
        for attr in doc.xpath("//form/@action | //*[@formaction]/@formaction"):
            targets.add(urlsplit(urljoin(response.url, attr)).path)
    assert targets == fl.RECORDED_PATHS - {fl.WIZARD_STEP3_PATH}  # step 3's form is on step 2


def test_pixel_is_a_png_of_the_stated_size(tinysite: TinySite) -> None:
    response = get(tinysite, fl.PIXEL_PATH)
    assert response.headers["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(response.content[16:20], "big")
    height = int.from_bytes(response.content[20:24], "big")
    assert (width, height) == fl.PIXEL_SIZE


def test_the_table_page_keeps_the_markup_the_parser_foster_parents(tinysite: TinySite) -> None:
    assert '<table><form action="/formlab/echo/table" method="get"><tr>' in (
        get(tinysite, fl.TABLE_PAGE).text
    )


def test_the_multipart_textarea_default_has_a_bare_newline(tinysite: TinySite) -> None:
    doc = lxml.html.fromstring(get(tinysite, fl.MULTIPART_PAGE).content)
    [notes] = doc.xpath("//textarea[@name='notes']")
    assert notes.text.strip("\n") == "line one\nline two"  # CRLF only once submitted


# --- recording ----------------------------------------------------------------------------


def test_a_get_submission_is_recorded_as_sent_and_links_its_dead_end(
    tinysite: TinySite, lab: FormLabApp
) -> None:
    response = get(tinysite, fl.OWNER_URL)
    assert response.status_code == 200
    assert links(response) == [fl.reached_path("owner")]
    sub = only(lab, fl.OWNER_ACTION)
    assert (sub.method, sub.query, sub.fields, sub.content_type) == ("GET", fl.OWNER_FIELDS, [], "")
    assert sub.entries == fl.OWNER_FIELDS
    assert sub.target == fl.OWNER_URL
    reached = get(tinysite, fl.reached_path("owner"))
    assert reached.status_code == 200
    assert links(reached) == []


def test_a_form_owned_by_the_second_form_is_recorded_in_tree_order(
    tinysite: TinySite, lab: FormLabApp
) -> None:
    assert get(tinysite, fl.OWNER_B_URL).status_code == 200
    assert only(lab, fl.OWNER_B_ACTION).query == [("to_b", "x"), ("b_own", "4")]
    assert lab.submissions_to(fl.OWNER_ACTION) == []


def test_repeated_names_and_empty_values_keep_their_order(
    tinysite: TinySite, lab: FormLabApp
) -> None:
    get(tinysite, fl.SELECT_URL)
    get(tinysite, fl.FIELDSET_URL)
    assert only(lab, fl.SELECT_ACTION).query == fl.SELECT_FIELDS
    assert only(lab, fl.FIELDSET_ACTION).query == fl.FIELDSET_FIELDS


def test_multipart_fields_and_files_are_recorded_in_body_order(
    tinysite: TinySite, lab: FormLabApp
) -> None:
    parts = [
        (name, ("", b"", "application/octet-stream") if name == "upload" else (None, value))
        for name, value in fl.MULTIPART_FIELDS
    ]
    response = post(tinysite, fl.MULTIPART_ACTION, files=parts)
    assert response.status_code == 200
    assert links(response) == [fl.reached_path("multipart")]
    sub = only(lab, fl.MULTIPART_ACTION)
    assert sub.content_type == "multipart/form-data"
    assert sub.fields == fl.MULTIPART_FIELDS  # the CRLF and the é survive
    assert sub.files == fl.MULTIPART_FILES
    assert b'filename=""' in sub.body


def test_a_chosen_file_is_recorded_with_its_name_type_and_bytes(
    tinysite: TinySite, lab: FormLabApp
) -> None:
    content = b"\x00binary\r\n\xff"
    post(
        tinysite,
        fl.MULTIPART_ACTION,
        data={"title": "Lamp"},
        files={"upload": ("notes.bin", content, "application/x-thing")},
    )
    sub = only(lab, fl.MULTIPART_ACTION)
    assert sub.fields == [("title", "Lamp"), ("upload", "notes.bin")]
    assert sub.files == [("upload", "notes.bin", "application/x-thing", content)]


@pytest.mark.parametrize(
    "action", [fl.MULTIPART_ACTION, fl.SUBMIT_ALT_ACTION], ids=["multipart", "submit-alt"]
)
def test_multipart_endpoints_refuse_other_encodings_and_methods(
    tinysite: TinySite, lab: FormLabApp, action: str
) -> None:
    urlencoded = post(tinysite, action, data={"q": "lamp", "go": "alt"})
    assert urlencoded.status_code == 415
    assert "multipart/form-data" in urlencoded.text
    assert get(tinysite, f"{action}?q=lamp").status_code == 405
    no_boundary = post(tinysite, action, data=b"x", headers={"Content-Type": "multipart/form-data"})
    assert no_boundary.status_code == 400
    recorded = lab.submissions_to(action)
    assert [(s.method, s.content_type) for s in recorded] == [
        ("POST", "application/x-www-form-urlencoded"),
        ("GET", ""),
        ("POST", "multipart/form-data"),
    ]
    assert recorded[0].fields == [("q", "lamp"), ("go", "alt")]  # recorded even when refused
    assert recorded[2].problem


def test_text_plain_is_split_into_lines_at_the_first_equals_sign(
    tinysite: TinySite, lab: FormLabApp
) -> None:
    headers = {"Content-Type": "text/plain; charset=UTF-8"}
    response = post(tinysite, fl.PLAIN_ACTION, data=fl.PLAIN_BODY, headers=headers)
    assert response.status_code == 200
    sub = only(lab, fl.PLAIN_ACTION)
    assert (sub.content_type, sub.charset) == ("text/plain", "UTF-8")
    assert sub.fields == fl.PLAIN_FIELDS
    assert sub.body == fl.PLAIN_BODY


def test_text_plain_endpoint_refuses_urlencoded(tinysite: TinySite, lab: FormLabApp) -> None:
    assert post(tinysite, fl.PLAIN_ACTION, data=dict(fl.PLAIN_FIELDS)).status_code == 415
    assert only(lab, fl.PLAIN_ACTION).fields == fl.PLAIN_FIELDS  # urlencoded, parsed as such


def test_concurrent_submissions_are_all_recorded(tinysite: TinySite, lab: FormLabApp) -> None:
    def send(n: int) -> None:
        get(tinysite, f"{fl.OWNER_ACTION}?n={n}")

    threads = [threading.Thread(target=send, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = sorted(int(sub.query[0][1]) for sub in lab.submissions_to(fl.OWNER_ACTION))
    assert sent == list(range(20))


# --- refusals of wrong submissions ------------------------------------------------------


def test_table_form_needs_both_cells(tinysite: TinySite, lab: FormLabApp) -> None:
    assert get(tinysite, fl.TABLE_URL).status_code == 200
    refused = get(tinysite, f"{fl.TABLE_ACTION}?t2=b")
    assert refused.status_code == 400
    assert "t1" in refused.text
    assert [s.query for s in lab.submissions_to(fl.TABLE_ACTION)] == [
        fl.TABLE_FIELDS,
        [("t2", "b")],
    ]


def test_submitters_each_reach_their_own_page(tinysite: TinySite, lab: FormLabApp) -> None:
    assert links(get(tinysite, fl.SUBMIT_DEFAULT_URL)) == [fl.reached_path("submit-default")]
    alt = post(
        tinysite, fl.SUBMIT_ALT_ACTION, files=[(n, (None, v)) for n, v in fl.SUBMIT_ALT_FIELDS]
    )
    assert links(alt) == [fl.reached_path("submit-alt")]
    assert links(get(tinysite, fl.SUBMIT_BLANK_URL)) == [fl.reached_path("submit-blank")]
    image = get(tinysite, f"{fl.SUBMIT_IMAGE_ACTION}?q=lamp&map.x=3&map.y=12")
    assert links(image) == [fl.reached_path("submit-image")]
    assert only(lab, fl.SUBMIT_DEFAULT_ACTION).query == fl.SUBMIT_DEFAULT_FIELDS
    assert only(lab, fl.SUBMIT_ALT_ACTION).fields == fl.SUBMIT_ALT_FIELDS
    assert only(lab, fl.SUBMIT_BLANK_ACTION).query == fl.SUBMIT_BLANK_FIELDS
    assert [n for n, _ in only(lab, fl.SUBMIT_IMAGE_ACTION).query] == list(fl.SUBMIT_IMAGE_NAMES)
    assert lab.submissions_to(fl.DELETE_ACTION) == []


@pytest.mark.parametrize("query", ["q=lamp", "q=lamp&map.x=3", "q=lamp&map.x=a&map.y=1"])
def test_image_submitter_needs_integer_coordinates(
    tinysite: TinySite, lab: FormLabApp, query: str
) -> None:
    assert get(tinysite, f"{fl.SUBMIT_IMAGE_ACTION}?{query}").status_code == 400


def test_the_delete_button_is_recorded_when_it_arrives(tinysite: TinySite, lab: FormLabApp) -> None:
    get(tinysite, f"{fl.DELETE_ACTION}?{urlencode(fl.DELETE_FIELDS)}")
    assert only(lab, fl.DELETE_ACTION).query == fl.DELETE_FIELDS


def test_typed_defaults_and_valid_samples_are_accepted(tinysite: TinySite, lab: FormLabApp) -> None:
    assert get(tinysite, fl.TYPED_URL).status_code == 200
    samples = {
        "email": "crawler@example.com",
        "number": "3",
        "date": "2020-01-01",
        "url": "https://example.com/",
        "tel": "+44 20-7946 0000",
        "search": "lamp",
        "text": "lamp",
        "vol": "10",
        "c": "#a0b1c2",
        "bad": "-1.5e2",
    }
    assert get(tinysite, f"{fl.TYPED_ACTION}?{urlencode(samples)}").status_code == 200
    assert [s.query for s in lab.submissions_to(fl.TYPED_ACTION)] == [
        fl.TYPED_FIELDS,
        list(samples.items()),
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("email", "crawler"),
        ("number", "10"),
        ("number", "3.5"),
        ("number", "x"),
        ("date", "2019-12-31"),
        ("date", "2020-02-30"),
        ("date", "01/01/2020"),
        ("url", "/relative"),
        ("url", "ftp://example.com/"),
        ("tel", "call me"),
        ("vol", ""),
        ("vol", "11"),
        ("c", ""),
        ("c", "red"),
        ("bad", "abc"),
    ],
)
def test_typed_refuses_an_invalid_value_naming_the_field(
    tinysite: TinySite, lab: FormLabApp, name: str, value: str
) -> None:
    fields = dict(fl.TYPED_FIELDS) | {name: value}
    response = get(tinysite, f"{fl.TYPED_ACTION}?{urlencode(fields)}")
    assert response.status_code == 400
    assert f"'{name}'" in response.text
    assert only(lab, fl.TYPED_ACTION).query == list(fields.items())


def test_typed_refuses_a_missing_empty_field(tinysite: TinySite, lab: FormLabApp) -> None:
    fields = [(n, v) for n, v in fl.TYPED_FIELDS if n != "tel"]
    response = get(tinysite, f"{fl.TYPED_ACTION}?{urlencode(fields)}")
    assert response.status_code == 400
    assert "'tel'" in response.text
    assert "missing" in response.text


# --- option exploration -------------------------------------------------------------------


def test_each_filter_combination_links_its_own_page(tinysite: TinySite, lab: FormLabApp) -> None:
    reached = set()
    for cat, sort in sorted(fl.FILTER_ONE_AT_A_TIME):
        response = get(
            tinysite, f"{fl.FILTER_ACTION}?{urlencode({'cat': cat, 'sort': sort, 'q': ''})}"
        )
        assert response.status_code == 200
        [path] = links(response)
        assert path == fl.filter_reached_path(cat, sort)
        reached.add(path)
    assert reached == fl.FILTER_REACHED_PATHS
    assert len(reached) == len(fl.FILTER_CATS) + len(fl.FILTER_SORTS) - 1
    assert get(tinysite, fl.FILTER_URL).status_code == 200
    assert lab.submissions_to(fl.FILTER_ACTION)[-1].query == fl.FILTER_FIELDS


def test_filter_refuses_values_the_form_does_not_offer(tinysite: TinySite, lab: FormLabApp) -> None:
    assert get(tinysite, f"{fl.FILTER_ACTION}?cat=boats&sort=price&q=").status_code == 400
    assert get(tinysite, f"{fl.FILTER_ACTION}?cat=maps&q=").status_code == 400
    page = lxml.html.fromstring(get(tinysite, fl.FILTER_PAGE).content)
    assert page.xpath("//select[@name='cat']/option[last()]/@value") == [fl.FILTER_DANGER_CAT]


# --- the ASP.NET-style postback -----------------------------------------------------------


def test_aspnet_tokens_are_fresh_in_every_response(tinysite: TinySite, lab: FormLabApp) -> None:
    pages = [get(tinysite, fl.ASPNET_SEARCH_PATH) for _ in range(3)]
    viewstates = {hidden(p, "__VIEWSTATE") for p in pages}
    validations = {hidden(p, "__EVENTVALIDATION") for p in pages}
    assert len(viewstates) == len(validations) == 3
    assert all(len(v) == 60 for v in viewstates)
    assert {hidden(p, "__VIEWSTATEGENERATOR") for p in pages} == {fl.ASPNET_VIEWSTATE_GENERATOR}
    doc = lxml.html.fromstring(pages[0].content)
    [form] = doc.forms
    assert (form.method, form.get("action")) == ("POST", "search.aspx")
    assert [name for name, _ in form.form_values()] == [
        n for n in fl.ASPNET_FIELD_NAMES if n != fl.ASPNET_GO_FIELD
    ]
    assert dict(form.form_values())[fl.ASPNET_CAT_FIELD] == fl.ASPNET_DEFAULT_CAT
    assert [s.method for s in lab.submissions_to(fl.ASPNET_SEARCH_PATH)] == ["GET"] * 3


def _postback(site: TinySite, page: requests.Response, cat: str) -> requests.Response:
    doc = lxml.html.fromstring(page.content)
    [form] = doc.forms
    fields = dict(form.form_values()) | {fl.ASPNET_CAT_FIELD: cat, fl.ASPNET_GO_FIELD: "Search"}
    return post(site, fl.ASPNET_SEARCH_PATH, data=fields)


def test_aspnet_default_option_posts_back_to_the_same_form(
    tinysite: TinySite, lab: FormLabApp
) -> None:
    page = get(tinysite, fl.ASPNET_SEARCH_PATH)
    seen = {hidden(page, "__VIEWSTATE")}
    for _ in range(3):
        page = _postback(tinysite, page, fl.ASPNET_DEFAULT_CAT)
        assert page.status_code == 200
        assert fl.ASPNET_MESSAGE in page.text
        seen.add(hidden(page, "__VIEWSTATE"))
    assert len(seen) == 4
    assert len(lab.submissions_to(fl.ASPNET_SEARCH_PATH, method="POST")) == 3
    sent = lab.submissions_to(fl.ASPNET_SEARCH_PATH, method="POST")[0]
    assert [name for name, _ in sent.fields] == list(fl.ASPNET_FIELD_NAMES)


@pytest.mark.parametrize("cat", sorted(fl.ASPNET_CATS))
def test_aspnet_each_category_redirects_to_its_results(
    tinysite: TinySite, lab: FormLabApp, cat: str
) -> None:
    answer = _postback(tinysite, get(tinysite, fl.ASPNET_SEARCH_PATH), cat)
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"{fl.ASPNET_RESULTS_PATH}?cat={cat}"
    results = get(tinysite, answer.headers["Location"])
    assert links(results) == [fl.reached_path(f"aspnet-{cat}")]
    assert fl.reached_path(f"aspnet-{cat}") in fl.ASPNET_REACHED_PATHS


def test_aspnet_refuses_missing_or_foreign_viewstate(tinysite: TinySite, lab: FormLabApp) -> None:
    page = get(tinysite, fl.ASPNET_SEARCH_PATH)
    fields = dict(lxml.html.fromstring(page.content).forms[0].form_values())
    without = {k: v for k, v in fields.items() if k != "__VIEWSTATE"} | {fl.ASPNET_CAT_FIELD: "1"}
    assert post(tinysite, fl.ASPNET_SEARCH_PATH, data=without).status_code == 400
    forged = fields | {"__VIEWSTATE": "A" * 60, fl.ASPNET_CAT_FIELD: "1"}
    assert post(tinysite, fl.ASPNET_SEARCH_PATH, data=forged).status_code == 400
    unknown = fields | {fl.ASPNET_CAT_FIELD: "7"}
    assert post(tinysite, fl.ASPNET_SEARCH_PATH, data=unknown).status_code == 400
    assert get(tinysite, f"{fl.ASPNET_RESULTS_PATH}?cat=0").status_code == 400


# --- loops and steps ----------------------------------------------------------------------


def test_loop_page_answers_itself_with_a_fresh_state_until_q_is_set(
    tinysite: TinySite, lab: FormLabApp
) -> None:
    first = get(tinysite, fl.LOOP_PATH)
    second = get(
        tinysite, f"{fl.LOOP_PATH}?{urlencode({'state': hidden(first, 'state'), 'q': ''})}"
    )
    assert re.fullmatch(r"[0-9a-f]{32}", hidden(first, "state"))
    assert hidden(first, "state") != hidden(second, "state")
    assert links(first) == links(second) == []
    found = get(tinysite, f"{fl.LOOP_PATH}?state=x&q=lamp")
    assert links(found) == [fl.LOOP_REACHED_PATH]
    assert [s.query for s in lab.submissions_to(fl.LOOP_PATH)] == [
        [],
        [("state", hidden(first, "state")), ("q", "")],
        [("state", "x"), ("q", "lamp")],
    ]


def test_wizard_carries_the_first_choice_to_the_last_step(
    tinysite: TinySite, lab: FormLabApp
) -> None:
    step1 = lxml.html.fromstring(get(tinysite, fl.WIZARD_STEP1_PATH).content)
    assert step1.forms[0].get("action") == "step2.html"
    step2 = get(tinysite, f"{fl.WIZARD_STEP2_PATH}?kind=b")
    [form] = lxml.html.fromstring(step2.content).forms
    assert form.get("action") == "step3.html"
    assert form.form_values() == [("kind", "b"), ("size", "s")]
    done = get(tinysite, f"{fl.WIZARD_STEP3_PATH}?kind=b&size=m")
    assert links(done) == [fl.wizard_reached_path("b", "m")]
    assert fl.wizard_reached_path("b", "m") in fl.WIZARD_REACHED_PATHS
    missing = get(tinysite, f"{fl.WIZARD_STEP3_PATH}?size=m")
    assert missing.status_code == 400
    assert "kind" in missing.text
    assert get(tinysite, f"{fl.WIZARD_STEP2_PATH}?kind=z").status_code == 400
    assert [s.path for s in lab.submissions] == [
        fl.WIZARD_STEP2_PATH,
        fl.WIZARD_STEP3_PATH,
        fl.WIZARD_STEP3_PATH,
        fl.WIZARD_STEP2_PATH,
    ]


# --- charsets -----------------------------------------------------------------------------


def test_charset_page_is_windows_1252_bytes(tinysite: TinySite) -> None:
    response = get(tinysite, fl.CHARSET_PAGE)
    assert response.headers["Content-Type"] == "text/html; charset=windows-1252"
    assert b'<meta charset="windows-1252">' in response.content
    assert response.content.count(b'value="caf\xe9"') == 2
    assert "café".encode() not in response.content


def _raw_get(site: TinySite, target: str) -> bytes:
    with urllib.request.urlopen(site.url(target), timeout=10) as response:
        return response.read()


def test_charset_endpoints_keep_the_raw_query(tinysite: TinySite, lab: FormLabApp) -> None:
    _raw_get(tinysite, f"{fl.CHARSET_ACTION}?{fl.CHARSET_QUERY}")
    _raw_get(tinysite, f"{fl.CHARSET_UTF8_ACTION}?{fl.CHARSET_UTF8_QUERY}")
    legacy, utf8 = only(lab, fl.CHARSET_ACTION), only(lab, fl.CHARSET_UTF8_ACTION)
    assert legacy.raw_query == fl.CHARSET_QUERY.encode()
    assert legacy.query == fl.CHARSET_FIELDS  # decoded as windows-1252
    assert utf8.raw_query == fl.CHARSET_UTF8_QUERY.encode()
    assert utf8.query == fl.CHARSET_UTF8_FIELDS


def test_utf8_sent_to_the_windows_1252_endpoint_shows_as_mojibake(
    tinysite: TinySite, lab: FormLabApp
) -> None:
    _raw_get(tinysite, f"{fl.CHARSET_ACTION}?word=caf%C3%A9")
    assert only(lab, fl.CHARSET_ACTION).query == [("word", "cafÃ©")]


def test_formlab_app_is_found_only_on_a_site_that_mounts_it() -> None:
    with TinySite(apps=[]) as bare, pytest.raises(LookupError, match="no FormLabApp"):
        fl.formlab_app(bare)
