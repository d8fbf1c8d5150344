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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a host part without a scheme, as Scrapy's robots.txt middleware printed it
        ("invalid hostname: bob:s3cretpw@127.0.0.1", "invalid hostname: bob:***@127.0.0.1"),
        ("ValueError: 'bob:s3c@retpw@127.0.0.1:80'", "ValueError: 'bob:***@127.0.0.1:80'"),
        ("at 10:30 bob@example.org wrote", "at 10:30 bob@example.org wrote"),
        # secret query and form parameters, in URLs and in text
        (
            "http://bob:s3cretpw@h/q.html?password=pw999&api_key=KEY7&page=2",
            "http://bob:***@h/q.html?password=***&api_key=***&page=2",
        ),
        ("user=bob&passwd=hunter22&pwd=x1&x=1", "user=bob&passwd=***&pwd=***&x=1"),
        ("GET /a?sid=123;jsessionid=ABC#top", "GET /a?sid=***;jsessionid=***#top"),
        (
            "/cb?access_token=T0k&client_secret=C5&auth=A1&session=S1&key=AIza&apikey=Z",
            "/cb?access_token=***&client_secret=***&auth=***&session=***&key=***&apikey=***",
        ),
        ("body token=abc123 sent", "body token=*** sent"),
        # ordinary words that contain a secret-looking one stay
        (
            "/?author=me&passage=3&keyboard=1&tokenizer=x&sort_key=a&keys=b&sidebar=1",
            "/?author=me&passage=3&keyboard=1&tokenizer=x&sort_key=a&keys=b&sidebar=1",
        ),
        # header lines, as lines and as a headers dict prints
        ("Authorization: Bearer abc.def", "Authorization: Bearer ***"),
        ("> proxy-authorization: Basic Ym9iOnB3\nnext", "> proxy-authorization: Basic ***\nnext"),
        (
            "{b'Authorization': [b'Basic Ym9i'], b'Cookie': [b'a=1; b=2']}",
            "{b'Authorization': [b'Basic ***'], b'Cookie': [b'a=***; b=***']}",
        ),
        ("Cookie: a=b; c=d", "Cookie: a=***; c=***"),
        ("x\nSet-Cookie: s=v; Path=/; HttpOnly", "x\nSet-Cookie: s=***; Path=/; HttpOnly"),
        ("the cookie: none was set", "the cookie: none was set"),
    ],
)
def test_secrets_in_free_text_are_masked(text: str, expected: str) -> None:
    assert redact_text(text) == expected
