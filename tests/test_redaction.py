from __future__ import annotations

import logging

import pytest

from crawler.redaction import SecretMasker, redact_mapping, redact_text, redact_url, setting_urls


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://bob:hunter2@127.0.0.1:5432/db", "postgresql://bob:***@127.0.0.1:5432/db"),
        ("postgresql+psycopg://u:p%40ss@h/db", "postgresql+psycopg://u:***@h/db"),
        ("{'URL': 'redis://:s3cret@h:6379/0'}", "{'URL': 'redis://:***@h:6379/0'}"),
        ("sqlite:///crawl.db", "sqlite:///crawl.db"),
        ("http://x/a?b=c@d", "http://x/a?b=c@d"),
        ("mailto:bob@example.org", "mailto:bob@example.org"),
        # an unescaped "@" in the password: masked up to the host
        ("postgresql://u:S3cret@PW@127.0.0.1:1/db", "postgresql://u:***@127.0.0.1:1/db"),
        # libpq takes the password as a query parameter too
        ("postgresql://u@h:5/db?password=S3cretPW", "postgresql://u@h:5/db?password=***"),
        (
            "postgresql://u@h/db?sslmode=require&password=S3cret&application_name=x",
            "postgresql://u@h/db?sslmode=require&password=***&application_name=x",
        ),
        ("https://api.example/v1?api_key=K3y&page=2", "https://api.example/v1?api_key=***&page=2"),
        ("https://shop.example/?q=passport&sort=asc", "https://shop.example/?q=passport&sort=asc"),
        ("'postgresql://u:pw@h/db', 'x@y'", "'postgresql://u:***@h/db', 'x@y'"),
    ],
)
def test_url_passwords_are_masked(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_mappings_are_redacted_recursively() -> None:
    settings = {
        "CRAWLER_STORE_URL": "postgresql://u:pw@h/db",
        "MY_TOKEN": "t",
        "FEEDS": {"s3://k:v@bucket/x.jsonl": {"format": "jsonlines"}},
        "SPECS": ["a.yaml", {"password": "x", "n": 1}],
    }
    assert redact_mapping(settings) == {
        "CRAWLER_STORE_URL": "postgresql://u:***@h/db",
        "MY_TOKEN": "***",
        "FEEDS": {"s3://k:***@bucket/x.jsonl": {"format": "jsonlines"}},
        "SPECS": ["a.yaml", {"password": "***", "n": 1}],
    }


def test_log_records_lose_url_passwords() -> None:
    record = logging.LogRecord(
        "scrapy.crawler",
        logging.INFO,
        __file__,
        1,
        "Overridden settings:\n%(settings)s",
        ({"settings": "{'CRAWLER_STORE_URL': 'postgresql://u:pw@h/db'}"},),
        None,
    )
    assert SecretMasker().filter(record)
    assert (
        record.getMessage()
        == "Overridden settings:\n{'CRAWLER_STORE_URL': 'postgresql://u:***@h/db'}"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://u:pw@h/x", "ftp://u:***@h/x"),
        ("ftp://u:a b'c\"d@h/x", "ftp://u:***@h/x"),  # should be percent-encoded; is not
        ("ftp://me@example.org:p@ss@h:21/x", "ftp://me@example.org:***@h:21/x"),
        ("ftp://u@h/x", "ftp://u@h/x"),  # no password
        ("http://h/a@b:c", "http://h/a@b:c"),  # an "@" in the path
    ],
)
def test_whole_urls_lose_their_password_however_written(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert redact_mapping({"FEEDS": {url: {}}, "URL": url}) == {
        "FEEDS": {expected: {}},
        "URL": expected,
    }


def test_setting_urls_are_the_urls_with_a_password_keys_included() -> None:
    settings = {
        "FEEDS": {"ftp://u:a b@h/x.jsonl": {"format": "jsonl"}, "out.csv": {}},
        "CRAWLER_STORE_URL": "postgresql://u:pw@h/db",
        "AS_JSON": '{"ftp://j:pw@h/": 1}',
        "LIST": ["redis://:pw@h:6379/0", "http://h/"],
        "PLAIN": "sqlite:///crawl.db",
    }
    assert setting_urls(settings) == {
        "ftp://u:a b@h/x.jsonl",
        "postgresql://u:pw@h/db",
        "ftp://j:pw@h/",
        "redis://:pw@h:6379/0",
    }
