"""The ``payments`` spider in its four modes, and the two parsers it uses."""

from __future__ import annotations

import json
import os
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
    payments_table,
    total,
)
from tests.logintools import PASSWORD_ENV

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

LOGIN_HOW = {"http": "over HTTP", "browser": "in the browser"}
MODES = [(fetch, parser) for fetch in ("http", "browser") for parser in ("lxml", "bs4")]


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
        **os.environ,
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
        page = session.get(tinysite.url(payments.LOGIN_PATH), timeout=10)
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        index = session.post(
            tinysite.url(payments.LOGIN_PATH),
            data={"csrf_token": token, "username": user, "password": USERS[user]},
            timeout=10,
        )
    found = get_parser(parser)(index.text)
    assert [asdict(p) for p in found] == expected_items(user)[:-1]
    assert total(found) == PaymentsTotal(len(found), EXPECTED_TOTALS[user])


@pytest.mark.parametrize("parser", ["lxml", "bs4"])
def test_parsers_agree_on_messy_markup_and_reject_other_shapes(parser: str) -> None:
    parse = get_parser(parser)
    html = (
        '<ul class="wide payments"><li class="from">\n  12\n from  dave <i> two\n words </i>'
        '</li><li class="to">3 to erin <i></i></li></ul>'
    )
    assert parse(html) == [
        PaymentItem("from", 12, "dave", "two words"),
        PaymentItem("to", 3, "erin", ""),
    ]
    with pytest.raises(PaymentsPageError, match="no <ul"):
        parse("<p>Log in</p>")
    with pytest.raises(PaymentsPageError, match="class 'to'"):
        parse('<ul class="payments"><li class="to">12 from dave <i>x</i></li></ul>')


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
        env={**os.environ, "SCRAPY_SETTINGS_MODULE": "crawler.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert "needs -a login_url=URL -a username=NAME" in proc.stderr
