"""The ``payments`` spider in its four modes, and the two parsers it uses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING

import pytest
import requests

from fixtures.tinysite import payments
from fixtures.tinysite.payments import EXPECTED_PAYMENTS, EXPECTED_TOTALS, USERS
from spiders.payments import (
    PaymentItem,
    PaymentsPageError,
    PaymentsTotal,
    get_parser,
    parse_bs4,
    parse_lxml,
    payments_table,
    total,
)
from tests.crawltools import subprocess_env
from tests.logintools import PASSWORD_ENV

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

LOGIN_HOW = {"http": "over HTTP", "browser": "in the browser"}
MODES = [(fetch, parser) for fetch in ("http", "browser") for parser in ("lxml", "bs4")]


# The index of the book's app as its Jinja2 template renders it for brandon: "for:" on a line
# of its own, as in index.html.
BOOK_INDEX = """<html>
  <head>
    <title>Welcome, brandon</title>
  </head>
  <body>
    <h1>Welcome, brandon</h1>
<p>Your Payments</p>
<ul>
    <li class="to">$125 to <b>psf</b>
    for: <i>Registration for PyCon</i></li>
    <li class="to">$200 to <b>liz</b>
    for: <i>Payment for writing that code</i></li>
    <li class="from">$25 from <b>sam</b>
    for: <i>Gas money-thanks for the ride!</i></li>
</ul>
<a href="/pay">Make payment</a> | <a href="/logout">Log out</a>
  </body>
</html>
"""


def expected_items(user: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = [
        asdict(PaymentItem(p.direction, p.amount, p.counterparty, p.memo))
        for p in EXPECTED_PAYMENTS[user]
    ]
    items.append({"payments": len(EXPECTED_PAYMENTS[user]), "total": EXPECTED_TOTALS[user]})
    return items


@pytest.fixture(scope="module")
def crawled(
    tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], tuple[subprocess.CompletedProcess[str], list[dict[str, object]]]]:
    """``scrapy crawl payments`` as carol in every mode, the four crawls side by side."""
    directory = tmp_path_factory.mktemp("payments")
    env = {
        **subprocess_env(),
        PASSWORD_ENV: USERS["carol"],
        "SCRAPY_SETTINGS_MODULE": "crawler.settings",
    }
    running = {}
    for fetch, parser in MODES:
        feed = directory / f"{fetch}-{parser}.jsonl"
        command = [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "payments",
            "-a",
            f"login_url={tinysite.url(payments.LOGIN_PATH)}",
            "-a",
            "username=carol",
            "-a",
            f"password_env={PASSWORD_ENV}",
            "-a",
            f"fetch={fetch}",
            "-a",
            f"parser={parser}",
            "-O",
            str(feed),
            "-s",
            "SELENIUM_ALLOWED_HOSTS=127.0.0.1",
            "-s",
            "SELENIUM_POOL_SIZE=1",
        ]
        process = subprocess.Popen(
            command,
            cwd=directory,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        running[(fetch, parser)] = (process, command, feed)
    results = {}
    for mode, (process, command, feed) in running.items():
        stdout, stderr = process.communicate(timeout=120)
        proc = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
        lines = feed.read_text(encoding="utf-8").splitlines() if feed.exists() else []
        results[mode] = (proc, [json.loads(line) for line in lines])
    return results


@pytest.mark.parametrize("mode", MODES, ids=["-".join(m) for m in MODES])
def test_every_mode_yields_the_expected_payments_and_total(
    crawled: dict[
        tuple[str, str], tuple[subprocess.CompletedProcess[str], list[dict[str, object]]]
    ],
    mode: tuple[str, str],
) -> None:
    proc, items = crawled[mode]
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert items == expected_items("carol")
    fetch, parser = mode
    assert f"({'rendered' if fetch == 'browser' else 'HTTP'}, {parser})" in proc.stderr
    assert f"Logged in at {proc.args[6].split('=', 1)[1]} ({LOGIN_HOW[fetch]})" in proc.stderr


def test_the_four_modes_agree(
    crawled: dict[
        tuple[str, str], tuple[subprocess.CompletedProcess[str], list[dict[str, object]]]
    ],
) -> None:
    outputs = [items for _, items in crawled.values()]
    assert all(items == outputs[0] for items in outputs)


@pytest.mark.parametrize("user", sorted(USERS))
@pytest.mark.parametrize("parser", ["lxml", "bs4"])
def test_parsers_read_every_users_index(tinysite: TinySite, user: str, parser: str) -> None:
    with requests.Session() as session:
        index = session.post(
            tinysite.url(payments.LOGIN_PATH),
            data={"username": user, "password": USERS[user]},
            timeout=10,
        )
    assert index.url == tinysite.url(payments.INDEX_PATH)
    found = get_parser(parser)(index.text)
    assert [asdict(p) for p in found] == expected_items(user)[:-1]
    assert total(found) == PaymentsTotal(len(found), EXPECTED_TOTALS[user])


def test_the_parsers_read_the_books_page_as_mscrape_does() -> None:
    html = BOOK_INDEX
    expected = [
        PaymentItem("to", 125, "psf", "Registration for PyCon"),
        PaymentItem("to", 200, "liz", "Payment for writing that code"),
        PaymentItem("from", 25, "sam", "Gas money-thanks for the ride!"),
    ]
    assert parse_lxml(html) == parse_bs4(html) == expected
    assert sum(p.amount for p in parse_bs4(html) if p.direction == "to") == 325


@pytest.mark.parametrize("parser", ["lxml", "bs4"])
def test_parsers_agree_on_messy_markup_and_reject_other_shapes(parser: str) -> None:
    parse = get_parser(parser)
    html = (
        '<div><ul><li class="from wide">\n  $12\n from  <!-- x --><b> dave\n</b> for:'
        ' <i> two\n words </i></li></ul><ol><li class="to">$3 to <b>erin</b> for: <i></i>'
        '</li><li class="to">$4 to <b>m &amp; m</b></li></ol><li class="other">$5 to x</li></div>'
    )
    assert parse(html) == [
        PaymentItem("from", 12, "dave", "two words"),
        PaymentItem("to", 3, "erin", ""),
        PaymentItem("to", 4, "m & m", ""),
    ]
    assert parse("<title>Please log in</title><p>Log in</p><ul><li>x</li></ul>") == []
    bad = [
        ('<li class="to">$12 from <b>dave</b> for: <i>x</i></li>', "class 'to'"),
        ('<li class="to from">$12 to <b>dave</b> for: <i>x</i></li>', "class 'to from'"),
        ('<li class="to">12 to <b>dave</b> for: <i>x</i></li>', "text before <b> '12 to'"),
        ('<li class="to">$12 to dave for: <i>x</i></li>', "<b> None"),
        ('<li class="to">$1.50 to <b>dave</b> for: <i>x</i></li>', "'$1.50 to'"),
    ]
    for page, message in bad:
        with pytest.raises(PaymentsPageError, match=re.escape(message)):
            parse(f"<ul>{page}</ul>")


def test_the_table_lists_payments_and_the_total() -> None:
    items = [PaymentItem("to", 20, "bob", "lunch"), PaymentItem("from", 100, "bob", "")]
    assert payments_table(items).splitlines() == [
        "direction  amount  counterparty  memo",
        "---------  ------  ------------  -----",
        "to         20      bob           lunch",
        "from       100     bob           -",
        "",
        "Total of 2 payments: +80",
    ]


def test_the_spider_needs_its_arguments(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "payments", "-a", "login_url=http://x/login"],
        cwd=tmp_path,
        env={**subprocess_env(), "SCRAPY_SETTINGS_MODULE": "crawler.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert "needs -a login_url=URL -a username=NAME" in proc.stderr


# --- a page without payments: finish reason no_items, exit code 1, and why ---------------------


def run_payments(
    site: TinySite, tmp_path: Path, index_path: str, *extra: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    """The payments spider through ``crawler.runner`` (``tests.spiderrun``), logged in as carol."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.spiderrun",
            "payments",
            "-a",
            f"login_url={site.url(payments.LOGIN_PATH)}",
            "-a",
            "username=carol",
            "-a",
            f"password_env={PASSWORD_ENV}",
            "-a",
            f"index_url={site.url(index_path)}",
            "-s",
            "LOG_LEVEL=INFO",
            *extra,
        ],
        cwd=tmp_path,
        env={**subprocess_env(), PASSWORD_ENV: USERS["carol"]},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    outcome = json.loads(proc.stdout.splitlines()[-1]) if proc.stdout.strip() else {}
    return proc, outcome


@pytest.mark.parametrize(
    ("index_path", "said"),
    [
        (
            payments.LOGIN_PATH,
            "the page is 'Please log in' and asks for a password -- the login did not work?",
        ),
        (
            payments.AREA_PATH,
            "the page is 'Statements of carol' and has no li.to, li.from item -- "
            "is index_url the payments index of the logged-in user?",
        ),
    ],
)
def test_a_page_without_payments_ends_the_crawl_with_no_items(
    tinysite: TinySite, tmp_path: Path, index_path: str, said: str
) -> None:
    proc, outcome = run_payments(tinysite, tmp_path, index_path)
    assert outcome == {"finish_reason": "no_items", "exit_code": 1}, proc.stderr[-2000:]
    assert proc.returncode == 1
    url = tinysite.url(index_path)
    assert f"ERROR: No payments on {url} (HTTP): {said}" in proc.stderr
    assert "The crawl yielded 0 items, fewer than CRAWLER_MIN_ITEMS=1: it got 1 page: " in (
        proc.stderr
    )
    assert "'item_scraped_count'" not in proc.stderr  # no total of nothing either
    assert "Traceback" not in proc.stderr


def test_an_index_that_fails_to_download_ends_the_crawl_with_no_items(
    tinysite: TinySite, tmp_path: Path
) -> None:
    proc, outcome = run_payments(tinysite, tmp_path, "/pay/nothing")
    assert outcome == {"finish_reason": "no_items", "exit_code": 1}, proc.stderr[-2000:]
    page = f"{tinysite.url('/pay/nothing')} (HTTP 404, 'Not found')"
    assert f"fewer than CRAWLER_MIN_ITEMS=1: it got 1 page: {page}" in proc.stderr


def test_scrapy_crawl_payments_exits_1_without_payments(tinysite: TinySite, tmp_path: Path) -> None:
    feed = tmp_path / "payments.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "payments",
            "-a",
            f"login_url={tinysite.url(payments.LOGIN_PATH)}",
            "-a",
            "username=carol",
            "-a",
            f"password_env={PASSWORD_ENV}",
            "-a",
            f"index_url={tinysite.url(payments.LOGIN_PATH)}",
            "-O",
            str(feed),
        ],
        cwd=tmp_path,
        env={
            **subprocess_env(),
            PASSWORD_ENV: USERS["carol"],
            "SCRAPY_SETTINGS_MODULE": "crawler.settings",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Spider closed (no_items)" in proc.stderr
    assert proc.returncode == 1
