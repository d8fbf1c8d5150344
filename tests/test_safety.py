"""crawler.safety: the one danger pattern and matcher, shared with the logout guard."""

from __future__ import annotations

import pytest

from crawler import default_settings
from crawler.login.logout import looks_like_logout
from crawler.safety import LOGOUT_WORDS, danger_pattern, matches, words

DANGER = danger_pattern()


def test_the_logout_default_is_the_shared_logout_words() -> None:
    assert default_settings.CRAWLER_LOGOUT_PATTERN == LOGOUT_WORDS


def test_words_splits_camel_case_and_separators() -> None:
    assert words("btn-delete_itemNow/x.y") == "btn delete item Now x y"


@pytest.mark.parametrize(
    ("urls", "texts"),
    [
        ((), ("Log out",)),
        (("/account/sign-out",), ()),
        ((), ("deleteItem",)),
        ((), ("btn-remove",)),
        (("/cart/checkout?step=2",), ()),
        ((), ("Buy now",)),
        ((), ("Unsubscribe",)),
        ((), ("Cancel my account",)),
        ((), ("location.href='/orders/destroy'",)),
        ((), ("Purchase",)),
    ],
)
def test_dangerous_actions_match(urls: tuple[str, ...], texts: tuple[str, ...]) -> None:
    assert matches(DANGER, urls, texts)


@pytest.mark.parametrize(
    "text", ["Next", "More", "Load more", "border", "display", "Show details", "Page 2", "Colours"]
)
def test_harmless_actions_do_not_match(text: str) -> None:
    assert not matches(DANGER, ("/explore/quotes?page=2",), (text,))


def test_the_host_is_not_the_action() -> None:
    assert not matches(DANGER, ("https://pay.example.com/help",), ())


def test_the_logout_pattern_and_extra_words_join_the_danger_pattern() -> None:
    combined = danger_pattern(r"leave ?session", r"\barchive\b")
    assert matches(combined, (), ("Leave session",))
    assert matches(combined, (), ("Archive",))
    assert matches(combined, (), ("Log out",))  # an own logout pattern never removes these
    assert not matches(danger_pattern(), (), ("Archive",))


def test_logout_guard_and_exploration_read_urls_alike() -> None:
    for url in ("/logout", "/log-out?next=/", "/user/signOut", "/a%2Flogout"):
        assert looks_like_logout(url, "", LOGOUT_WORDS)
        assert matches(DANGER, (url,), ())
    assert not looks_like_logout("/catalogue/page-2", "Next", LOGOUT_WORDS)
