"""``crawler.utils.url.check_url``: the URLs a crawl starts from or logs in at."""

from __future__ import annotations

import pytest

from crawler.exceptions import ConfigError, LoginConfigError
from crawler.utils.url import check_url, shown_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://fu:hunter2url@127.0.0.1:8080/", "http://fu:***@127.0.0.1:8080/"),
        ("https://u:p@ss@example.org/a", "https://u:***@example.org/a"),  # "@" in the password
        ("https://tok3n-as-user@example.org/", "https://***@example.org/"),
        ("https://:only-password@example.org/", "https://:***@example.org/"),
    ],
)
def test_a_url_with_a_user_name_or_password_is_refused_masked(url: str, shown: str) -> None:
    with pytest.raises(ConfigError) as e:
        check_url(url, "start URL")
    message = str(e.value)
    assert message.startswith(f"the start URL {shown} holds a user name or password")
    assert "--login LOGIN_URL --username USER" in message
    assert "HTTPAUTH_USER, HTTPAUTH_PASS and HTTPAUTH_DOMAIN=" in message
    assert "\n" not in message
    for secret in ("hunter2url", "p@ss", "tok3n", "only-password"):
        assert secret not in message
    assert shown_url(url) == shown


def test_the_error_class_and_the_name_are_the_callers() -> None:
    with pytest.raises(LoginConfigError, match=r"^the login URL http://u:\*\*\*@h/login holds"):
        check_url("http://u:pw@h/login", "login URL", error=LoginConfigError)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://u:pw@h/", "not an http(s) URL: 'ftp://u:***@h/'"),
        ("http://h:PORT/", "the URL http://h:PORT/ has a port that is not a number"),
        ("http:///path", "not an http(s) URL: 'http:///path'"),
    ],
)
def test_other_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        check_url(url)
    assert str(e.value) == message


def test_a_good_url_is_returned_as_it_is() -> None:
    url = "https://example.org:8443/a?b=c#d"
    assert check_url(url, "start URL") == url
