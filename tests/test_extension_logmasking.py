"""Secrets out of every crawl's log (``crawler.extensions.logmasking``): the
passwords of feed URIs and the values of secret-looking settings, in ``crawler
crawl``, ``scrapy crawl`` and a project of its own that enables the add-on."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from crawler.redaction import REDACTED, SecretMasker, secret_setting_values
from tests.crawltools import REPO_ROOT, crawl, scrapy_crawl_site, subprocess_env

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

# Port 1: nothing listens, the FTP upload fails at once, and Scrapy logs the URI.
FTP_FEED = "ftp://fu:hunter2ftp@127.0.0.1:1/x.jsonl"
SECRET_SETTINGS = {
    "FTP_PASSWORD": "ftp-secret-1",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-2",
    "MAIL_PASS": "mail-secret-3",
}
SECRETS = ("hunter2ftp", *SECRET_SETTINGS.values())


def settings_options() -> list[str]:
    return [a for name, value in SECRET_SETTINGS.items() for a in ("-s", f"{name}={value}")]


def assert_masked(log: str) -> None:
    for secret in SECRETS:
        assert secret not in log
    # the lines are there, masked: the test cannot pass by logging nothing
    assert "Error storing jsonl feed" in log
    assert f"ftp://fu:{REDACTED}@127.0.0.1:1/x.jsonl" in log
    for name in SECRET_SETTINGS:
        assert f"'{name}': '{REDACTED}'" in log  # Scrapy's "Overridden settings"


def test_crawler_crawl_logs_no_feed_password_nor_secret_settings(
    tinysite: TinySite, tmp_path: Path
) -> None:
    feeds = json.dumps({FTP_FEED: {"format": "jsonl"}})
    result = crawl(
        *(tinysite.url("/"), tmp_path, "--max-pages", "2", "-s", f"FEEDS={feeds}"),
        *("-s", "CRAWLER_FEED_PREFLIGHT=False", *settings_options()),  # fails at the end
    )
    assert result.returncode == 1, result.stderr[-2000:]  # the feed could not be stored
    assert_masked(result.stdout + result.stderr)


def test_scrapy_crawl_logs_no_feed_password_nor_secret_settings(
    tinysite: TinySite, tmp_path: Path
) -> None:
    result = scrapy_crawl_site(
        tinysite.url("/"),
        "-a",
        "max_pages=2",
        "-o",
        FTP_FEED,
        *settings_options(),
        "-s",
        f"CRAWLER_FEED_UNDELIVERED_DIR={tmp_path}",  # not the repository root
        store=tmp_path / "crawl.db",
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert_masked(result.stdout + result.stderr)


# Passwords a URI should have percent-encoded, as users write them anyway: a
# quote, a double quote, a space, an "@"; and a user name holding an "@".
AWKWARD_FEEDS = {
    "ftp://fu:quote'pw1@127.0.0.1:1/a.jsonl": "ftp://fu:***@127.0.0.1:1/a.jsonl",
    'ftp://fu:dquote"pw2@127.0.0.1:1/b.jsonl': "ftp://fu:***@127.0.0.1:1/b.jsonl",
    "ftp://fu:space pw3@127.0.0.1:1/c.jsonl": "ftp://fu:***@127.0.0.1:1/c.jsonl",
    "ftp://fu:at@pw4@127.0.0.1:1/d.jsonl": "ftp://fu:***@127.0.0.1:1/d.jsonl",
    "ftp://me@example.org:userat-pw5@127.0.0.1:1/e.jsonl": (
        "ftp://me@example.org:***@127.0.0.1:1/e.jsonl"
    ),
}
# Long enough for pprint to cut it in two between words in "Overridden settings".
PASSPHRASE = "correct horse battery staple and then some more words pprint cuts"


def test_awkward_feed_passwords_and_a_cut_passphrase_are_masked(
    tinysite: TinySite, tmp_path: Path
) -> None:
    feeds = json.dumps({uri: {"format": "jsonl"} for uri in AWKWARD_FEEDS})
    result = crawl(
        tinysite.url("/"),
        tmp_path,
        "--max-pages",
        "2",
        "-s",
        f"FEEDS={feeds}",
        "-s",
        f"MAIL_PASS={PASSPHRASE}",
        *("-s", "CRAWLER_FEED_PREFLIGHT=False"),  # the feeds fail at the end, logged
    )
    assert result.returncode == 1, result.stderr[-2000:]
    log = result.stdout + result.stderr
    for shown in AWKWARD_FEEDS.values():
        assert f"in: {shown}" in log  # the error line of each feed, masked
    # what the run recorded of its settings is masked too (FEEDS, a dict, is not recorded)
    recorded = result.runs[-1]["settings"]
    assert f'"MAIL_PASS": "{REDACTED}"' in recorded
    for written in (log, recorded):
        for piece in ("pw1", "pw2", "pw3", "pw4", "pw5", "horse", "battery", "cuts"):
            assert piece not in written
    assert f"'MAIL_PASS': '{REDACTED}'" in log


PROJECT_SPIDER = """
from scrapy import Spider


class OneItem(Spider):
    name = "one"

    async def start(self):
        # any logger, after Scrapy replaced its root handler: masked there too
        self.logger.info("mirroring to ftp://fu:hunter2ftp@127.0.0.1:1/mirror/")
        for item in ({"n": 1}, {"n": 2}):
            yield item
"""


def test_a_project_with_the_addon_logs_no_secrets_either(tmp_path: Path) -> None:
    """Plain Scrapy (not this project's ``scrapy crawl``), plain settings, the add-on."""
    (tmp_path / "scrapy.cfg").write_text("[settings]\ndefault = ownproject.settings\n")
    package = tmp_path / "ownproject"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(
        textwrap.dedent("""
            SPIDER_MODULES = ["ownproject.spiders"]
            ADDONS = {"crawler.addon.CrawlerAddon": 0}
            CRAWLER_STORE_ENABLED = False
            TELNETCONSOLE_ENABLED = False
        """)
    )
    (package / "spiders").mkdir()
    (package / "spiders" / "__init__.py").write_text("")
    (package / "spiders" / "one.py").write_text(PROJECT_SPIDER)
    env = {**subprocess_env(), "PYTHONPATH": f"{tmp_path}:{REPO_ROOT}"}
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "one", "-o", FTP_FEED, *settings_options()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Error storing jsonl feed (2 items)" in result.stderr, result.stderr[-3000:]
    assert_masked(result.stdout + result.stderr)
    assert f"[one] INFO: mirroring to ftp://fu:{REDACTED}@127.0.0.1:1/mirror/" in result.stderr


def test_secret_setting_values_nested_and_in_json_text() -> None:
    settings = {
        "FTP_PASSWORD": "ftp-secret-1",
        "HTTPAUTH_PASS": 12345678,  # a number is text in a log too
        "MY_OPTIONS": {"endpoint": "https://x", "api_key": "key-secret-4"},
        "MORE": [{"credentials": ["cred-secret-5"]}, "plain-value"],
        "AS_JSON": '{"token": "json-secret-6", "n": 1}',
        # names that say what a secret is about, not a secret
        "HTTPAUTH_DOMAIN": "example.org",
        "CRAWLER_LOGIN_PASSWORD_FIELD": "password",
        "CRAWLER_LOGIN_PASSWORD_ENV": "BANK_PASSWORD",
        "COOKIES_ENABLED": True,
        "AWS_SESSION_TOKEN": None,
    }
    assert secret_setting_values(settings) == {
        "ftp-secret-1",
        "12345678",
        "key-secret-4",
        "cred-secret-5",
        "json-secret-6",
    }


def test_url_passwords_are_masked_without_any_secret_registered() -> None:
    masker = SecretMasker()
    record = logging.LogRecord(
        "scrapy.extensions.feedexport",
        logging.ERROR,
        __file__,
        1,
        "Error storing %s feed (%d items) in: %s",
        ("jsonl", 6, FTP_FEED),
        None,
    )
    assert not masker.active
    assert masker.filter(record)
    assert record.getMessage() == (
        f"Error storing jsonl feed (6 items) in: ftp://fu:{REDACTED}@127.0.0.1:1/x.jsonl"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Crawled (200) <GET http://127.0.0.1/a> (referer: None)",
        "Spider opened",
        "q=a is not a URL query",
    ],
)
def test_records_without_secrets_are_left_alone(text: str) -> None:
    masker = SecretMasker()
    masker.add("registered-secret")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, text, None, None)
    assert masker.filter(record)
    assert record.msg is text and record.args is None


def test_the_addon_enables_log_masking_before_the_other_extensions() -> None:
    from scrapy import Spider
    from scrapy.utils.test import get_crawler

    from crawler.addon import CrawlerAddon
    from crawler.extensions.logmasking import LogMasking
    from crawler.settingscheck import SettingsCheck

    crawler = get_crawler(Spider, {"ADDONS": {CrawlerAddon: 0}})
    crawler._apply_settings()
    kinds = [type(e) for e in crawler.extensions.middlewares]
    assert kinds[:2] == [SettingsCheck, LogMasking]
