from __future__ import annotations

import pytest

from crawler.default_settings import CRAWLER_LOGOUT_PATTERN
from crawler.login.logout import looks_like_logout


@pytest.mark.parametrize(
    ("url", "text", "expected"),
    [
        ("http://h/pay/logout", "", True),
        ("http://h/account/log-out?next=/", "", True),
        ("http://h/sign_out", "", True),
        ("http://h/session/end", "Sign out", True),
        ("http://h/forms/signout", "", True),
        ("http://h/blog/logging-outdoors", "", False),
        ("http://h/catalogue", "Log in", False),
        ("http://h/?action=logout", "", True),
    ],
)
def test_looks_like_logout(url: str, text: str, expected: bool) -> None:
    assert looks_like_logout(url, text, CRAWLER_LOGOUT_PATTERN) is expected


def test_custom_pattern() -> None:
    assert looks_like_logout("http://h/bye", "", r"bye")
    assert not looks_like_logout("http://h/logout", "", r"bye")
