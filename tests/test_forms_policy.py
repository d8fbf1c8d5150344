"""``FormPolicy``: settings, and which forms a crawl may submit."""

from __future__ import annotations

import re

import pytest
from scrapy.http import HtmlResponse

from crawler import default_settings
from crawler.addon import framework_settings
from crawler.exceptions import FormConfigError
from crawler.forms.classify import FormKind
from crawler.forms.discovery import discover_forms
from crawler.forms.model import HtmlForm
from crawler.forms.policy import FormPolicy, parse_form_values

SEARCH = '<form action="/search"><input name="q"></form>'
COMMENT = '<form method="post" action="/comment"><textarea name="t"></textarea></form>'
ALLOWED_POST = '<form method="post" action="/cart/add"><input name="id" value="3"></form>'
LOGIN = '<form method="post" action="/login"><input type="password" name="p"></form>'
LOGOUT_FORM = '<form action="/signout"><button>Sign out</button></form>'
DIALOG = '<form method="dialog"><button>Close</button></form>'
SCRIPTED = '<form action="javascript:go()"><input name="q"></form>'


def form(body: str) -> HtmlForm:
    html = f"<html><body>{body}</body></html>".encode()
    [found] = discover_forms(HtmlResponse("http://example.com/", body=html, encoding="utf-8"))
    return found


def policy(**settings: object) -> FormPolicy:
    return FormPolicy.from_settings(framework_settings(settings))


def test_defaults() -> None:
    assert default_settings.CRAWLER_FORMS == "get"
    p = policy()
    assert (p.mode, p.values, p.submit_pattern) == ("get", {}, None)
    assert p.logout_pattern == default_settings.CRAWLER_LOGOUT_PATTERN


def test_settings_are_read() -> None:
    p = policy(
        CRAWLER_FORMS="all",
        CRAWLER_FORM_VALUES={"q": "ships", "n": 3},
        CRAWLER_SUBMIT_FORMS="/cart/",
        CRAWLER_LOGOUT_PATTERN="bye",
    )
    assert (p.mode, p.values, p.logout_pattern) == ("all", {"q": "ships", "n": "3"}, "bye")
    assert p.submit_pattern is not None and p.submit_pattern.pattern == "/cart/"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"CRAWLER_FORMS": "some"}, "CRAWLER_FORMS must be one of"),
        (
            {"CRAWLER_SUBMIT_FORMS": "(unclosed"},
            "CRAWLER_SUBMIT_FORMS must be a regular expression (or empty), not '(unclosed' "
            "(missing ), unterminated subpattern",
        ),
        (
            {"CRAWLER_LOGOUT_PATTERN": "[z-a]"},
            "CRAWLER_LOGOUT_PATTERN must be a regular expression, not '[z-a]' (bad character",
        ),
        (
            {"CRAWLER_FORM_VALUES": "q"},
            "NAME=VALUE pairs (comma-separated, a list, or a mapping), not 'q'",
        ),
        ({"CRAWLER_FORM_VALUES": "{bad json"}, "CRAWLER_FORM_VALUES is not valid JSON"),
    ],
)
def test_invalid_settings_say_which(settings: dict[str, object], message: str) -> None:
    with pytest.raises(FormConfigError, match=re.escape(message)):
        policy(**settings)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, {}),
        ("", {}),
        ({"q": "ships", "none": None}, {"q": "ships", "none": ""}),
        ('{"q": "ships"}', {"q": "ships"}),
        ("q=ships,colour=red", {"q": "ships", "colour": "red"}),
        ("q=a=b", {"q": "a=b"}),
        ("q=", {"q": ""}),
        (["q=ships, and more", "colour=red"], {"q": "ships, and more", "colour": "red"}),
    ],
)
def test_parse_form_values(value: object, expected: dict[str, str]) -> None:
    assert parse_form_values(value) == expected


def test_parse_form_values_names_the_argument_and_quotes_the_whole_value() -> None:
    with pytest.raises(FormConfigError) as raised:
        parse_form_values("q=1,=x", "form_values")
    assert str(raised.value) == (
        "form_values takes NAME=VALUE pairs (comma-separated, a list, or a mapping), not 'q=1,=x'"
    )
    # JSON of a list: the whole text is quoted, not the piece a comma split gives
    with pytest.raises(FormConfigError, match=r"not '\[1,2\]'$"):
        parse_form_values("[1,2]")
    assert parse_form_values('["q=ships", "colour=red"]') == {"q": "ships", "colour": "red"}


# Reasons for each kind of form under each mode; None: submitted.
@pytest.mark.parametrize(
    ("mode", "body", "reason"),
    [
        ("none", SEARCH, "policy"),
        ("none", COMMENT, "policy"),
        ("get", SEARCH, None),
        ("get", COMMENT, "policy"),
        ("get", ALLOWED_POST, None),  # matches CRAWLER_SUBMIT_FORMS
        ("all", SEARCH, None),
        ("all", COMMENT, None),
        ("none", ALLOWED_POST, "policy"),
        ("all", LOGIN, "login"),
        ("all", LOGOUT_FORM, "logout"),
        ("all", DIALOG, "dialog"),
        ("all", SCRIPTED, "scheme"),
    ],
)
def test_refusals(mode: str, body: str, reason: str | None) -> None:
    p = policy(CRAWLER_FORMS=mode, CRAWLER_SUBMIT_FORMS=r"/cart/")
    f = form(body)
    assert p.refusal(f, p.kind(f)) == reason


def test_a_login_is_never_submitted_even_when_its_action_is_allowed() -> None:
    p = policy(CRAWLER_FORMS="all", CRAWLER_SUBMIT_FORMS=".")
    login = form(LOGIN)
    assert p.kind(login) is FormKind.LOGIN
    assert p.refusal(login, p.kind(login)) == "login"


@pytest.mark.parametrize(
    ("url", "text", "expected"),
    [
        ("http://example.com/logout", "", True),
        ("http://example.com/session/end", "Log out", True),
        ("http://example.com/account", "My account", False),
    ],
)
def test_logout_links(url: str, text: str, expected: bool) -> None:
    assert policy().is_logout(url, text) is expected


def test_empty_logout_pattern_recognises_nothing() -> None:
    p = policy(CRAWLER_LOGOUT_PATTERN="")
    assert p.logout_pattern is None
    assert not p.is_logout("http://example.com/logout", "Log out")
    signout = form(LOGOUT_FORM)
    assert p.kind(signout) is FormKind.GET
