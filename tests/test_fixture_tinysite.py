"""The tinysite fixture, checked over real HTTP with the standard library and lxml."""

from __future__ import annotations

import http.client
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urldefrag, urlencode, urljoin, urlsplit
from urllib.request import urlopen
from urllib.robotparser import RobotFileParser

import lxml.html
import pytest

from fixtures.tinysite import catalog, classic, rough
from fixtures.tinysite.catalog import CatalogApp
from fixtures.tinysite.server import SiteResponse, TinySite

if TYPE_CHECKING:
    from fixtures.tinysite.server import SiteRequest

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Fetched:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def doc(self) -> lxml.html.HtmlElement:
        return lxml.html.fromstring(self.body)

    def hrefs(self) -> list[str]:
        return [a.get("href") for a in self.doc.xpath("//a[@href]")]

    def title(self) -> str:
        return self.doc.findtext(".//title")


def fetch(
    base_url: str, target: str, method: str = "GET", headers: dict[str, str] | None = None
) -> Fetched:
    """One request, redirects not followed, error statuses returned rather than raised."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        conn.request(method, target, headers=headers or {})
        response = conn.getresponse()
        return Fetched(response.status, response.headers, response.read())
    finally:
        conn.close()


def same_site_paths(page_url: str, hrefs: list[str]) -> set[str]:
    """Absolute same-host path+query targets of ``hrefs``, without fragments."""
    host = urlsplit(page_url).netloc
    targets = set()
    for href in hrefs:
        url = urldefrag(urljoin(page_url, href))[0]
        parts = urlsplit(url)
        if parts.scheme == "http" and parts.netloc == host:
            targets.add(parts.path + (f"?{parts.query}" if parts.query else ""))
    return targets


def crawl(
    site: TinySite, start: str, submit_forms: bool = False, run_scripts: bool = False
) -> set[str]:
    """A minimal breadth-first crawler: the paths it fetches with status 200."""
    queue, seen, ok = deque([start]), {start}, set()
    while queue:
        target = queue.popleft()
        page = fetch(site.base_url, target)
        if page.status != 200 or "html" not in page.headers.get("Content-Type", ""):
            continue
        ok.add(urlsplit(target).path)
        hrefs = page.hrefs()
        if submit_forms:
            hrefs += [
                f"{form.action}?{urlencode(form.form_values())}"
                for form in page.doc.forms
                if form.method == "GET"
            ]
        if run_scripts and classic.FURTHER_PATH.encode() in page.body:
            hrefs += fetch(site.base_url, classic.FURTHER_PATH).hrefs()
        for found in same_site_paths(site.url(target), hrefs):
            if found not in seen:
                seen.add(found)
                queue.append(found)
    return ok


# --- classic -------------------------------------------------------------------------------


def test_root_and_index_html_are_the_same_page(tinysite: TinySite) -> None:
    root, index = fetch(tinysite.base_url, "/"), fetch(tinysite.base_url, "/index.html")
    assert root.status == index.status == 200
    assert root.headers["Content-Type"] == "text/html; charset=utf-8"
    assert root.body == index.body


def test_home_links_only_page1_and_page2(tinysite: TinySite) -> None:
    home = fetch(tinysite.base_url, "/")
    assert set(home.hrefs()) == classic.HOME_LINKS
    assert len(home.hrefs()) == 2
    # Nothing else points anywhere: no <link>, <img>, <iframe> or external script.
    assert set(home.doc.xpath("//@href | //@src")) == classic.HOME_LINKS
    anchors = home.doc.xpath("//a[@name='end']")
    assert len(anchors) == 1
    assert anchors[0].get("href") is None


def test_home_form_is_a_get_form_with_one_hidden_field(tinysite: TinySite) -> None:
    doc = fetch(tinysite.base_url, "/").doc
    [form] = doc.forms
    assert "method" not in form.attrib
    assert form.method == "GET"
    assert form.get("action") == classic.SEARCH_PATH
    assert form.form_values() == [("q", "A")]
    [hidden] = form.xpath(".//input[@type='hidden']")
    assert hidden.get("name") == "q"
    [submit] = form.xpath(".//input[@type='submit'] | .//button")
    assert submit.get("name") is None
    assert f"{form.get('action')}?{urlencode(form.form_values())}" == classic.SEARCH_URL


def test_home_script_loads_further_into_a_div(tinysite: TinySite) -> None:
    doc = fetch(tinysite.base_url, "/").doc
    [script] = doc.xpath("//script")
    assert script.get("src") is None
    code = script.text
    assert "XMLHttpRequest" in code
    assert f'"{classic.FURTHER_PATH}"' in code
    [target_id] = re.findall(r'getElementById\("([^"]+)"\)', code)
    assert doc.xpath(f"//div[@id='{target_id}']")


@pytest.mark.parametrize("target", [classic.SEARCH_URL, "/search.html", "/search.html?q=zzz"])
def test_search_links_page3_and_page4(tinysite: TinySite, target: str) -> None:
    page = fetch(tinysite.base_url, target)
    assert page.status == 200
    assert set(page.hrefs()) == classic.SEARCH_LINKS


def test_further_links_page5_and_page6(tinysite: TinySite) -> None:
    page = fetch(tinysite.base_url, classic.FURTHER_PATH)
    assert page.status == 200
    assert set(page.hrefs()) == classic.SCRIPT_LINKS


@pytest.mark.parametrize(("path", "title"), sorted(classic.PAGE_TITLES.items()))
def test_numbered_pages_are_dead_ends_with_their_titles(
    tinysite: TinySite, path: str, title: str
) -> None:
    page = fetch(tinysite.base_url, path)
    assert page.status == 200
    assert page.title() == title
    assert page.hrefs() == []


def test_numbered_page_titles_are_distinct() -> None:
    assert len(set(classic.PAGE_TITLES.values())) == 6


def test_robots_txt_disallows_only_the_private_area(tinysite: TinySite) -> None:
    page = fetch(tinysite.base_url, classic.ROBOTS_PATH)
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/plain")
    assert page.body.decode().splitlines() == ["User-agent: *", "Disallow: /rough/private/"]
    robots = RobotFileParser()
    robots.parse(page.body.decode().splitlines())
    assert not robots.can_fetch("anybot", tinysite.url(rough.PRIVATE_PATH))
    for allowed in ["/", rough.INDEX_PATH, catalog.INDEX_PATH, rough.LANDING_PATH]:
        assert robots.can_fetch("anybot", tinysite.url(allowed)), allowed


@pytest.mark.parametrize(
    ("forms", "scripts", "expected"),
    [
        (False, False, classic.GET_ONLY_PATHS),
        (True, False, classic.WITH_FORMS_PATHS),
        (True, True, classic.WITH_FORMS_AND_JS_PATHS),
    ],
)
def test_what_each_kind_of_crawler_finds(
    tinysite: TinySite, forms: bool, scripts: bool, expected: frozenset[str]
) -> None:
    assert crawl(tinysite, "/", submit_forms=forms, run_scripts=scripts) == expected


def test_unknown_path_is_404(tinysite: TinySite) -> None:
    assert fetch(tinysite.base_url, "/no-such-page.html").status == 404
    assert fetch(tinysite.base_url, "/static/classic/page1.html").status == 404


# --- rough ---------------------------------------------------------------------------------


def flaky_target(site: TinySite) -> str:
    """The flaky link of a freshly served /rough/ index."""
    [target] = [
        h for h in fetch(site.base_url, rough.INDEX_PATH).hrefs() if h.startswith(rough.FLAKY_PATH)
    ]
    return target


def test_rough_index_links_everything(tinysite: TinySite) -> None:
    index = fetch(tinysite.base_url, rough.INDEX_PATH)
    assert index.status == 200
    hrefs = index.hrefs()
    for special in [rough.JAVASCRIPT_HREF, rough.MAILTO_HREF, rough.EXTERNAL_URL, rough.SLOW_URL]:
        assert special in hrefs
    paths = {urlsplit(target).path for target in same_site_paths(tinysite.url("/rough/"), hrefs)}
    assert paths == rough.INDEX_PATHS | {rough.FLAKY_PATH}


def test_rough_index_serves_a_fresh_flaky_token_each_time(tinysite: TinySite) -> None:
    first, second = flaky_target(tinysite), flaky_target(tinysite)
    assert re.fullmatch(rf"{re.escape(rough.FLAKY_PATH)}\?token=[\w-]+", first)
    assert first != second


def test_private_page_exists_despite_robots(tinysite: TinySite) -> None:
    assert fetch(tinysite.base_url, rough.PRIVATE_PATH).status == 200


def test_calendar_links_the_next_month_forever(tinysite: TinySite) -> None:
    target, visited = rough.CALENDAR_START_PATH, []
    for _ in range(14):
        page = fetch(tinysite.base_url, target)
        assert page.status == 200
        visited.append(target)
        [target] = page.hrefs()
    assert visited[11:13] == ["/rough/calendar/2026/12.html", "/rough/calendar/2027/01.html"]
    assert target == rough.calendar_path(2027, 3)


@pytest.mark.parametrize(
    "path",
    ["/rough/calendar/2026/13.html", "/rough/calendar/2026/00.html", "/rough/calendar/2026/1.html"],
)
def test_calendar_rejects_impossible_months(tinysite: TinySite, path: str) -> None:
    assert fetch(tinysite.base_url, path).status == 404


def test_redirect_chain_302_then_301_to_landing(tinysite: TinySite) -> None:
    first = fetch(tinysite.base_url, rough.REDIRECT_START_PATH)
    assert (first.status, first.headers["Location"]) == (302, rough.REDIRECT_MIDDLE_PATH)
    second = fetch(tinysite.base_url, rough.REDIRECT_MIDDLE_PATH)
    assert (second.status, second.headers["Location"]) == (301, rough.LANDING_PATH)
    landing = fetch(tinysite.base_url, rough.LANDING_PATH)
    assert landing.status == 200
    assert landing.hrefs() == []
    with urlopen(tinysite.url(rough.REDIRECT_START_PATH), timeout=15) as followed:
        assert followed.geturl() == tinysite.url(rough.LANDING_PATH)


def test_missing_page_is_404(tinysite: TinySite) -> None:
    assert fetch(tinysite.base_url, rough.MISSING_PATH).status == 404


def test_flaky_page_fails_once_per_token(tinysite: TinySite) -> None:
    target = flaky_target(tinysite)
    statuses = [fetch(tinysite.base_url, target).status for _ in range(3)]
    assert statuses == [500, 200, 200]
    assert fetch(tinysite.base_url, flaky_target(tinysite)).status == 500


def test_flaky_page_without_token_is_a_client_error(tinysite: TinySite) -> None:
    assert fetch(tinysite.base_url, rough.FLAKY_PATH).status == 400


def test_flaky_page_fails_exactly_once_under_concurrency(tinysite: TinySite) -> None:
    target, clients = flaky_target(tinysite), 8
    barrier = threading.Barrier(clients)
    statuses: list[int] = []

    def client() -> None:
        barrier.wait()
        statuses.append(fetch(tinysite.base_url, target).status)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200] * (clients - 1) + [500]


def test_pdf_is_small_and_well_formed(tinysite: TinySite) -> None:
    page = fetch(tinysite.base_url, rough.PDF_PATH)
    assert page.status == 200
    assert page.headers["Content-Type"] == "application/pdf"
    pdf = page.body
    assert pdf.startswith(b"%PDF-1.")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert len(pdf) < 2000
    xref_at = int(re.search(rb"startxref\s+(\d+)", pdf)[1])
    assert pdf[xref_at:].startswith(b"xref")
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n ", pdf)]
    assert len(offsets) == 5
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(b"%d 0 obj" % number)


def test_malformed_page_still_yields_its_link(tinysite: TinySite) -> None:
    page = fetch(tinysite.base_url, rough.MALFORMED_PATH)
    assert page.status == 200
    with pytest.raises(UnicodeDecodeError):
        page.body.decode("utf-8")
    for mess in [b"</div></div>", b"--!>", b"bgcolor=white", b"<td>cell<td>"]:
        assert mess in page.body
    assert page.hrefs() == [rough.FROM_MALFORMED_PATH]
    assert fetch(tinysite.base_url, rough.FROM_MALFORMED_PATH).hrefs() == []


def test_cp1252_page_declares_and_uses_windows_1252(tinysite: TinySite) -> None:
    page = fetch(tinysite.base_url, rough.CP1252_PATH)
    assert page.status == 200
    assert page.headers.get_content_charset() == "windows-1252"
    for byte in [b"\x80", b"\x93", b"\x94", b"\x96"]:
        assert byte in page.body
    assert rough.CP1252_TITLE.encode("windows-1252") in page.body
    assert b"charset" not in page.body.lower()  # the header is the only declaration
    decoded = page.body.decode("windows-1252")
    assert lxml.html.fromstring(decoded).findtext(".//title") == rough.CP1252_TITLE
    assert rough.CP1252_TITLE not in page.body.decode("latin-1")


def test_cp1252_title_has_the_characters_latin1_gets_wrong() -> None:
    assert {"\u201c", "\u201d", "\u2013", "\u20ac"} <= set(rough.CP1252_TITLE)
    assert any(ch in rough.CP1252_TITLE for ch in "\u00e9\u00e8\u00fb\u00e0")


def test_slow_page_takes_its_delay(tinysite: TinySite) -> None:
    started = time.monotonic()
    page = fetch(tinysite.base_url, rough.SLOW_URL)
    assert page.status == 200
    assert time.monotonic() - started >= rough.SLOW_DELAY_MS / 1000


def test_deep_page_links_relative_paths_and_fragments(tinysite: TinySite) -> None:
    page = fetch(tinysite.base_url, rough.DEEP_PATH)
    assert page.hrefs() == list(rough.DEEP_HREFS)
    targets = same_site_paths(tinysite.url(rough.DEEP_PATH), page.hrefs())
    assert targets == rough.DEEP_TARGETS
    relative = fetch(tinysite.base_url, rough.RELATIVE_PATH)
    assert (relative.status, relative.hrefs()) == (200, [])
    assert fetch(tinysite.base_url, rough.LANDING_PATH).doc.xpath("//*[@id='section']")
    assert page.doc.xpath("//*[@id='top']") and page.doc.xpath("//*[@id='again']")


# --- catalog -------------------------------------------------------------------------------


def item_numbers(hrefs: list[str]) -> list[int]:
    return [int(m[1]) for href in hrefs if (m := re.match(r"/catalog/item/(\d+)\.html", href))]


def test_catalog_default_size_comes_from_the_server(tinysite: TinySite) -> None:
    assert tinysite.catalog_size == 5000
    assert fetch(tinysite.base_url, catalog.item_path(4999)).status == 200
    assert fetch(tinysite.base_url, catalog.item_path(5000)).status == 404


def test_catalog_size_from_server_app_and_query() -> None:
    with TinySite(catalog_size=12) as site:
        assert fetch(site.base_url, catalog.item_path(11)).status == 200
        assert fetch(site.base_url, catalog.item_path(12)).status == 404
        assert fetch(site.base_url, catalog.item_path(12) + "?size=13").status == 200
    with TinySite(apps=[CatalogApp(size=30)], catalog_size=12) as site:
        assert fetch(site.base_url, catalog.item_path(29)).status == 200
        assert fetch(site.base_url, catalog.item_path(30)).status == 404


def test_catalog_index_links_the_first_items(tinysite: TinySite) -> None:
    index = fetch(tinysite.base_url, catalog.INDEX_PATH)
    assert index.status == 200
    assert item_numbers(index.hrefs()) == list(range(catalog.INDEX_ITEM_LINKS))
    small = fetch(tinysite.base_url, catalog.INDEX_PATH + "?size=3")
    assert small.hrefs() == [f"/catalog/item/{n}.html?size=3" for n in range(3)]


@pytest.mark.parametrize("n", [0, 1, 777, 4998, 4999])
def test_item_links_ten_other_items_starting_with_the_next(tinysite: TinySite, n: int) -> None:
    page = fetch(tinysite.base_url, catalog.item_path(n))
    assert page.status == 200
    linked = item_numbers(page.hrefs())
    assert linked == catalog.linked_items(n, 5000)
    assert len(set(linked)) == catalog.ITEM_LINKS
    assert linked[0] == (n + 1) % 5000
    assert n not in linked
    assert all(0 <= m < 5000 for m in linked)
    assert catalog.INDEX_PATH in page.hrefs()
    assert page.title().startswith(catalog.item_name(n))


def test_items_are_about_five_kilobytes_of_stable_html(tinysite: TinySite) -> None:
    for n in range(0, 5000, 250):
        page = fetch(tinysite.base_url, catalog.item_path(n))
        assert 4000 <= len(page.body) <= 6500, (n, len(page.body))
        assert page.doc.xpath("//h1") and page.doc.xpath("//table//tr")
        assert re.search(r"\$\d+\.\d\d", page.doc.text_content())
    again = fetch(tinysite.base_url, catalog.item_path(250))
    assert again.body == fetch(tinysite.base_url, catalog.item_path(250)).body


@pytest.mark.parametrize("size", [1, 2, 5, 11, 12])
def test_small_catalogs_link_what_exists(size: int) -> None:
    for n in range(size):
        linked = catalog.linked_items(n, size)
        assert len(linked) == len(set(linked)) == min(catalog.ITEM_LINKS, size - 1)
        assert n not in linked
        assert all(0 <= m < size for m in linked)


@pytest.mark.parametrize("js", [0, 100])
def test_every_item_is_reachable_without_javascript(tinysite: TinySite, js: int) -> None:
    query = f"?size=60&js={js}"
    found = crawl(tinysite, catalog.INDEX_PATH + query)
    assert found == {catalog.INDEX_PATH} | {catalog.item_path(n) for n in range(60)}


def test_query_parameters_are_carried_on_every_link(tinysite: TinySite) -> None:
    query = "?size=40&delay=0&js=30"
    for target in [catalog.INDEX_PATH + query, catalog.item_path(7) + query]:
        hrefs = fetch(tinysite.base_url, target).hrefs()
        assert hrefs
        assert all(href.endswith(query) for href in hrefs), hrefs
    bare = fetch(tinysite.base_url, catalog.item_path(7)).hrefs()
    assert not any("?" in href for href in bare)


@pytest.mark.parametrize("percent", [0, 1, 25, 50, 100])
def test_is_js_item_marks_that_percent_of_items(percent: int) -> None:
    assert sum(catalog.is_js_item(n, percent) for n in range(1000)) == percent * 10
    assert sum(catalog.is_js_item(n, percent) for n in range(300, 400)) == percent


def test_js_items_write_half_their_links_with_a_script(tinysite: TinySite) -> None:
    size, percent = 500, 50
    js_item = next(n for n in range(size) if catalog.is_js_item(n, percent))
    plain_item = next(n for n in range(size) if not catalog.is_js_item(n, percent))
    query = f"?size={size}&js={percent}"

    page = fetch(tinysite.base_url, catalog.item_path(js_item) + query)
    scripted = catalog.scripted_items(js_item, size, percent)
    assert len(scripted) == catalog.ITEM_LINKS // 2
    static = item_numbers(page.hrefs())
    assert len(static) == catalog.ITEM_LINKS - len(scripted)
    assert set(static) | set(scripted) == set(catalog.linked_items(js_item, size))
    assert static[0] == js_item + 1
    [script] = page.doc.xpath("//script")
    numbers = [int(m) for m in re.findall(r"\[(\d+), \"", script.text)]
    assert numbers == scripted
    assert "setTimeout" in script.text
    for m in scripted:
        assert catalog.item_path(m).encode() not in page.body

    plain = fetch(tinysite.base_url, catalog.item_path(plain_item) + query)
    assert len(item_numbers(plain.hrefs())) == catalog.ITEM_LINKS
    assert plain.doc.xpath("//script") == []
    unscripted = fetch(tinysite.base_url, catalog.item_path(js_item) + f"?size={size}")
    assert unscripted.doc.xpath("//script") == []


@pytest.mark.parametrize("query", ["?size=0", "?size=abc", "?size=-3", "?js=101", "?js=x"])
def test_bad_catalog_parameters_are_400(tinysite: TinySite, query: str) -> None:
    page = fetch(tinysite.base_url, catalog.item_path(0) + query)
    assert page.status == 400
    assert b"must be a whole number" in page.body


def test_catalog_rejects_non_canonical_item_paths(tinysite: TinySite) -> None:
    for path in ["/catalog/item/007.html", "/catalog/item/-1.html", "/catalog/item/x.html"]:
        assert fetch(tinysite.base_url, path).status == 404, path


# --- server --------------------------------------------------------------------------------


def test_delay_query_slows_any_url(tinysite: TinySite) -> None:
    started = time.monotonic()
    assert fetch(tinysite.base_url, "/page1.html").status == 200
    quick = time.monotonic() - started
    started = time.monotonic()
    assert fetch(tinysite.base_url, "/page1.html?delay=1000").status == 200
    slow = time.monotonic() - started
    assert slow >= 1.0
    assert quick < slow / 2  # relative: only the query slows the page down


def test_request_log_records_method_target_and_cookies(tinysite: TinySite) -> None:
    marker = uuid.uuid4().hex
    fetch(tinysite.base_url, f"/page2.html?marker={marker}", headers={"Cookie": "session=s1"})
    fetch(tinysite.base_url, f"/page3.html?marker={marker}", method="HEAD")
    mine = [seen for seen in tinysite.requests_seen if marker in seen.target]
    assert [(s.method, s.target, s.cookies) for s in mine] == [
        ("GET", f"/page2.html?marker={marker}", {"session": "s1"}),
        ("HEAD", f"/page3.html?marker={marker}", {}),
    ]
    assert {"/page2.html", "/page3.html"} <= set(tinysite.seen_paths())


class _BrokenApp:
    prefix = "/broken/"

    def handle(self, request: SiteRequest, site: TinySite) -> SiteResponse | None:
        raise RuntimeError("deliberately broken")


class _EchoApp:
    prefix = "/echo/"

    def handle(self, request: SiteRequest, site: TinySite) -> SiteResponse | None:
        return SiteResponse(body=request.path, content_type="text/plain")


def test_failing_app_answers_500_and_others_keep_working(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with TinySite(apps=[_BrokenApp(), _EchoApp()]) as site:
        page = fetch(site.base_url, "/broken/x")
        assert page.status == 500
        assert b"_BrokenApp" in page.body
        assert fetch(site.base_url, "/echo/y").body == b"/echo/y"
    assert "deliberately broken" in capsys.readouterr().err


def _read_first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the server printed nothing in time"
    return proc.stdout.readline().strip()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_module_prints_its_url_first_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fixtures.tinysite", "--port", "0", "--catalog-size", "7"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = _read_first_line(proc, timeout=30)
        assert re.fullmatch(r"http://127\.0\.0\.1:[1-9]\d*", base_url)
        index = fetch(base_url, catalog.INDEX_PATH)
        assert item_numbers(index.hrefs()) == list(range(7))
        proc.send_signal(stop_signal)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_gzip_site_serves_the_same_pages_compressed(tinysite_gzip, tinysite) -> None:
    import gzip
    import urllib.request

    request = urllib.request.Request(
        tinysite_gzip.url("/page1.html"), headers={"Accept-Encoding": "gzip"}
    )
    with urllib.request.urlopen(request) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        body = gzip.decompress(response.read())
    with urllib.request.urlopen(tinysite.url("/page1.html")) as plain:
        assert plain.headers["Content-Encoding"] is None
        assert plain.read() == body
    with urllib.request.urlopen(tinysite_gzip.url("/page1.html")) as identity:
        assert identity.headers["Content-Encoding"] is None  # not asked for: not sent
