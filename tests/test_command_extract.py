"""``crawler extract``: one-off extraction from a list of URLs, as a user runs it."""

from __future__ import annotations

import csv
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crawler.cli import main
from crawler.storage.sql import SqlStore
from fixtures.tinysite.payments import INDEX_PATH, LOGIN_PATH, USERS
from tests.crawltools import run_crawler, run_scrapy, subprocess_env
from tests.logintools import PASSWORD_ENV

if TYPE_CHECKING:
    from fixtures.tinysite.server import TinySite

SPECS = Path(__file__).parent / "specs"
INLINE = [
    "--field",
    "title=css:title",
    "--field",
    "heading=css:h1",
    "--field",
    "links[]=css:a::attr(href)",
    "--field",
    "intro=xpath://p[1]",
]


def expected_rows(site: TinySite) -> list[dict[str, Any]]:
    return [
        {
            "url": site.url("/"),
            "title": "Tinysite home",
            "heading": "Welcome to the tinysite",
            "links": ["/page1.html", "/page2.html"],
            "intro": "Two pages are linked the plain way: the first page and the second page.",
        },
        {
            "url": site.url("/page1.html"),
            "title": "Tinysite page 1",
            "heading": "Page 1",
            "links": [],
            "intro": "This is the first page. It links nowhere.",
        },
        {
            "url": site.url("/page2.html"),
            "title": "Tinysite page 2",
            "heading": "Page 2",
            "links": [],
            "intro": "This is the second page. It links nowhere.",
        },
    ]


def three_urls(site: TinySite) -> list[str]:
    return [site.url("/"), site.url("/page1.html"), site.url("/page2.html")]


def test_inline_spec_on_three_pages_prints_json_lines(tinysite: TinySite, tmp_path: Path) -> None:
    proc = run_crawler("extract", *three_urls(tinysite), *INLINE, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(rows, key=lambda r: r["url"]) == expected_rows(tinysite)
    assert proc.stderr == ""  # quiet: no log, no progress bar when stderr is not a terminal
    assert list(tmp_path.iterdir()) == []  # no crawl.db, nothing else


def test_output_csv(tinysite: TinySite, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    proc = run_crawler("extract", *three_urls(tinysite), *INLINE, "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == f"3 row(s) written to {out}\n"
    with out.open(newline="", encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: r["url"])
    assert list(rows[0]) == ["url", "title", "heading", "links", "intro"]
    expected = [{**row, "links": ",".join(row["links"])} for row in expected_rows(tinysite)]
    assert rows == expected


def test_one_row_per_item_match_from_a_file_of_urls(tinysite: TinySite, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"# the catalogue index\n{tinysite.url('/catalog/?size=12')}\n\n")
    out = tmp_path / "out.json"
    proc = run_crawler(
        "extract",
        tinysite.url("/missing.html"),
        "--from-file",
        str(urls),
        "--item",
        "css:ul > li",
        "--field",
        "name=css:a",
        "--field",
        "href=css:a::attr(href)",
        "-o",
        str(out),
        cwd=tmp_path,
    )
    assert proc.returncode == 1  # one URL gave no page
    assert f"{tinysite.url('/missing.html')}: HTTP 404, nothing extracted" in proc.stderr
    assert "warning: 1 URL(s) gave no page to extract from" in proc.stderr
    rows = json.loads(out.read_text())
    assert len(rows) == 10  # the index lists ten products
    assert rows[0]["href"] == "/catalog/item/0.html?size=12"
    assert rows[0]["name"].endswith(" 0")
    assert "Traceback" not in proc.stderr


def test_spec_file_into_a_store_with_rejects(tinysite: TinySite, tmp_path: Path) -> None:
    db = tmp_path / "items.db"
    urls = [tinysite.url(f"/catalog/item/{n}.html?size=40") for n in range(12)]
    urls.append(tinysite.url("/page1.html"))  # no spec for it
    proc = run_crawler(
        "extract",
        *urls,
        "--spec",
        str(SPECS / "catalog_strict.yaml"),
        "--engine",
        "bs4",
        "-o",
        f"sqlite:///{db}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    store = SqlStore.open(f"sqlite:///{db}")
    try:
        [run] = store.runs()
        items = store.items("strict_product")
        rejects = store.rejects(run["id"])
    finally:
        store.close()
    assert run["spider"] == "extract"
    assert len(items) + len(rejects) == 12
    assert rejects, "items 0-11 include a slate product"
    assert f"{len(items)} item(s) stored in sqlite:///{db} (run 1)" in proc.stderr
    assert f"warning: {len(rejects)} invalid item(s) kept in the store's rejects table" in (
        proc.stderr
    )
    assert "warning: 1 page(s) matched no spec's url pattern" in proc.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["http://127.0.0.1:1/", "--field", "t=css:h1["], "error: invalid CSS in 'css:h1['"),
        (["http://127.0.0.1:1/", "--field", "t=h1"], "must start with 'css:' or 'xpath:'"),
        (["http://127.0.0.1:1/", "--field", "t=xpath://p["], "error: invalid XPath"),
        (["http://127.0.0.1:1/", "--field", "title"], "a field is NAME=SELECTOR"),
        (["http://127.0.0.1:1/", "--item", "css:li"], "--item needs at least one --field"),
        (["http://127.0.0.1:1/", "--spec", "nowhere.yaml"], "nowhere.yaml: cannot read spec"),
        (["http://127.0.0.1:1/"], "say what to extract"),
        (["--field", "t=css:h1"], "give at least one URL"),
        (["ftp://x/", "--field", "t=css:h1"], "not an http(s) URL: 'ftp://x/'"),
        (["--from-file", "nowhere.txt", "--field", "t=css:h1"], "cannot read URLs from"),
        (["http://x/", "--field", "t=css:h1", "-o", "out.txt"], "cannot tell the format"),
        (["http://x/", "--field", "t=css:h1", "-o", "nodir/out.csv"], "does not exist"),
        (["http://x/", "--field", "t=css:h1", "-o", "sqlite:///nodir/x.db"], "cannot open"),
    ],
)
def test_bad_arguments_are_a_clear_error(
    arguments: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["extract", *arguments]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err


def test_a_bad_spec_file_names_the_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: x\nfields:\n  price: {selector: 'css:.p', process: [integer]}\n")
    assert main(["extract", "http://x/", "--spec", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {spec}: spec 'x': field 'price': process[0]")


def test_rendered_pages_have_what_scripts_added(tinysite: TinySite, tmp_path: Path) -> None:
    field = ["--field", "later[]=css:#further a::attr(href)", "--field", "title=css:title"]
    browser = ["-s", "SELENIUM_ALLOWED_HOSTS=127.0.0.1", "-s", "SELENIUM_POOL_SIZE=1"]
    rendered = run_crawler(
        "extract", tinysite.url("/"), *field, "--render", "always", *browser, cwd=tmp_path
    )
    assert rendered.returncode == 0, rendered.stderr
    assert json.loads(rendered.stdout) == {
        "url": tinysite.url("/"),
        "later": ["/page5.html", "/page6.html"],
        "title": "Tinysite home",
    }
    plain = run_crawler("extract", tinysite.url("/"), *field, cwd=tmp_path)
    assert json.loads(plain.stdout)["later"] == []


def alice_cookies(tinysite: TinySite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """alice's session, saved by ``crawler login --save-cookies`` (the password
    is then taken out of the environment again)."""
    monkeypatch.setenv(PASSWORD_ENV, USERS["alice"])
    cookies = tmp_path / "alice.cookies.txt"
    login = run_crawler(
        "login",
        tinysite.url(LOGIN_PATH),
        "--username",
        "alice",
        "--password-env",
        PASSWORD_ENV,
        "--save-cookies",
        str(cookies),
        cwd=tmp_path,
    )
    assert login.returncode == 0, login.stderr
    monkeypatch.delenv(PASSWORD_ENV)
    return cookies


def extract_on_a_terminal(tmp_path: Path, *arguments: str) -> tuple[int, bytes, bytes]:
    """``crawler extract ARGUMENTS`` with stderr on a pseudo-terminal:
    ``(exit code, stdout, what the terminal showed)``."""
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "extract", *arguments],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=terminal,
            env=subprocess_env(),
        )
        os.close(terminal)
        shown = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            elif proc.poll() is not None:
                break
        stdout, _ = proc.communicate(timeout=30)
    finally:
        os.close(controller)
    return proc.returncode, stdout, shown


FINAL_LINE = re.compile(rb"(\d+)/(\d+) pages \([\d.,]+/s\), \d+ queued,[^\r\n]* elapsed\r\n")


def test_progress_line_on_a_terminal(tinysite: TinySite, tmp_path: Path) -> None:
    urls = [tinysite.url(f"/catalog/item/{n}.html") for n in range(12)]
    code, stdout, shown = extract_on_a_terminal(tmp_path, *urls, "--field", "t=css:h1")
    assert code == 0
    assert len(stdout.splitlines()) == 12
    assert "━".encode() in shown  # rich's bar
    assert FINAL_LINE.findall(shown) == [(b"12", b"12")]  # the final state, left on screen


def test_no_progress_line_for_a_few_urls(tinysite: TinySite, tmp_path: Path) -> None:
    code, stdout, shown = extract_on_a_terminal(
        tmp_path, *three_urls(tinysite), "--field", "t=css:h1"
    )
    assert (code, len(stdout.splitlines()), shown) == (0, 3, b"")


def test_the_progress_line_keeps_the_project_extensions(
    tinysite: TinySite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the line on, the cookies file is still loaded (by the project's CookiesFile
    extension, which an EXTENSIONS override would have dropped)."""
    cookies = alice_cookies(tinysite, tmp_path, monkeypatch)
    urls = [tinysite.url(f"{INDEX_PATH}?copy={n}") for n in range(10)]
    code, stdout, shown = extract_on_a_terminal(
        tmp_path, *urls, *PAYMENTS, "--cookies", str(cookies)
    )
    assert code == 0, shown.decode(errors="replace")[-2000:]
    assert {json.loads(line)["url"] for line in stdout.splitlines()} == set(urls)
    assert FINAL_LINE.findall(shown) == [(b"10", b"10")]


def test_scrapy_crawl_extract_works_from_the_project(tinysite: TinySite, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    proc = run_scrapy(
        "crawl",
        "extract",
        "-a",
        f"urls={tinysite.url('/page1.html')} {tinysite.url('/page2.html')}",
        "-a",
        "field.heading=css:h1",
        "-s",
        "CRAWLER_STORE_ENABLED=False",
        "-O",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = sorted((json.loads(line) for line in out.read_text().splitlines()), key=str)
    assert [r["heading"] for r in rows] == ["Page 1", "Page 2"]


# -- login pages, logging in, nothing matched --------------------------------

PAYMENTS = ["--item", "css:li", "--field", "memo=css:i"]  # one row per payment


def _stats(db: Path) -> dict[str, Any]:
    store = SqlStore.open(f"sqlite:///{db}", create=False)
    try:
        [run] = store.runs()
    finally:
        store.close()
    return dict(run["stats"])


@pytest.mark.parametrize(
    "fields", [PAYMENTS, ["--field", "title=css:title"]], ids=["items", "page-level"]
)
def test_landing_on_a_login_page_says_so_and_fails(
    tinysite: TinySite, tmp_path: Path, fields: list[str]
) -> None:
    index = tinysite.url(INDEX_PATH)
    db = tmp_path / "x.db"
    proc = run_crawler("extract", index, *fields, "-o", f"sqlite:///{db}", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    [error] = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert error.startswith(f"error: 1 URL(s) led to a login page ({index} -> ")
    assert f"-> {tinysite.url(LOGIN_PATH)}" in error
    assert "log in first: --login LOGIN_URL --username USER --password-env VAR" in error
    assert "--cookies FILE" in error
    stats = _stats(db)
    assert stats["extract/login_pages"] == 1
    assert stats["extract/first_login_page"].startswith(f"{index} -> {tinysite.url(LOGIN_PATH)}")
    assert "Traceback" not in proc.stderr


def test_extract_logs_in_with_the_login_options(
    tinysite: TinySite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, USERS["alice"])
    proc = run_crawler(
        "extract",
        tinysite.url(INDEX_PATH),
        *PAYMENTS,
        "--login",
        tinysite.url(LOGIN_PATH),
        "--username",
        "alice",
        "--password-env",
        PASSWORD_ENV,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert rows and all(set(row) == {"url", "memo"} for row in rows)
    assert {row["url"] for row in rows} == {tinysite.url(INDEX_PATH)}
    assert proc.stderr == ""
    assert USERS["alice"] not in proc.stdout


def test_extract_with_the_cookies_of_crawler_login(
    tinysite: TinySite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cookies = alice_cookies(tinysite, tmp_path, monkeypatch)
    proc = run_crawler(
        "extract", tinysite.url(INDEX_PATH), *PAYMENTS, "--cookies", str(cookies), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert rows and {row["url"] for row in rows} == {tinysite.url(INDEX_PATH)}


def test_expired_cookies_say_so(tinysite: TinySite, tmp_path: Path) -> None:
    cookies = tmp_path / "old.cookies.txt"
    cookies.write_text(
        "# Netscape HTTP Cookie File\n"
        "127.0.0.1\tFALSE\t/pay/\tFALSE\t0\tpay_session\tno-such-session\n"
    )
    proc = run_crawler(
        "extract", tinysite.url(INDEX_PATH), *PAYMENTS, "--cookies", str(cookies), cwd=tmp_path
    )
    assert proc.returncode == 1
    assert f"the session in {cookies} may have expired" in proc.stderr


def test_login_options_need_login(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["extract", "http://x/", *PAYMENTS, "--username", "alice"]) == 2
    assert capsys.readouterr().err == (
        "error: --username only makes sense with --login LOGIN_URL\n"
    )


@pytest.mark.parametrize(
    ("what", "message"),
    [
        (
            ["--item", "css:table.nowhere", "--field", "x=css:td"],
            "error: nothing extracted from the 1 page(s) fetched: the item selector matched "
            "nothing or every field was empty",
        ),
        (
            ["--field", "x=css:table.nowhere"],
            "error: nothing extracted from the 1 page(s) fetched",
        ),
        (
            ["--spec", str(SPECS / "payments.yaml")],
            "error: nothing extracted: no spec's url pattern matched the 1 page(s) "
            "(spec 'payment' takes URLs matching '/pay/$')",
        ),
    ],
    ids=["item-selector", "empty-fields", "url-pattern"],
)
def test_an_extraction_that_matches_nothing_says_so_and_fails(
    tinysite: TinySite, tmp_path: Path, what: list[str], message: str
) -> None:
    db = tmp_path / "x.db"
    proc = run_crawler("extract", tinysite.url("/"), *what, "-o", f"sqlite:///{db}", cwd=tmp_path)
    assert proc.returncode == 1
    assert message in proc.stderr
    stats = _stats(db)
    assert stats["extract/no_items"] == 1
    assert stats["extract/pages_with_items"] == 0


def test_a_bare_store_path_is_refused_with_the_url_to_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["extract", "http://x/", "--field", "t=css:h1", "-o", "items.db"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 'items.db' is a path, not a store URL: write sqlite:///items.db")
    assert list(tmp_path.iterdir()) == []


def test_some_pages_without_items_are_a_warning(tinysite: TinySite, tmp_path: Path) -> None:
    proc = run_crawler(
        "extract",
        tinysite.url("/"),
        tinysite.url("/page1.html"),
        "--field",
        "links[]=css:a::attr(href)",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 2  # every row is still written
    assert proc.stderr == "warning: 1 page(s) matched a spec but gave no item\n"
