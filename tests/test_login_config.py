"""``LoginConfig.from_settings``: the password only by reference, and clear errors."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from crawler.addon import framework_settings
from crawler.exceptions import LoginConfigError
from crawler.login.config import LoginConfig

if TYPE_CHECKING:
    from pathlib import Path

LOGIN_URL = "http://127.0.0.1:9/pay/login"
SECRET = "correct-horse-battery"


def config(**settings: object) -> LoginConfig:
    base: dict[str, object] = {
        "CRAWLER_LOGIN_URL": LOGIN_URL,
        "CRAWLER_LOGIN_USERNAME": "alice",
        "CRAWLER_LOGIN_PASSWORD_ENV": "LOGIN_TEST_PASSWORD",
    }
    return LoginConfig.from_settings(framework_settings({**base, **settings}))


@pytest.fixture(autouse=True)
def password_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGIN_TEST_PASSWORD", SECRET)


def test_defaults_and_the_password_from_the_environment() -> None:
    parsed = config()
    assert (parsed.url, parsed.username, parsed.password) == (LOGIN_URL, "alice", SECRET)
    assert parsed.login_with == "auto"
    assert parsed.success_selector is None and parsed.failure_text is None
    assert parsed.max_relogins == 3
    assert SECRET not in repr(parsed)


def test_the_password_from_the_first_line_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "password"
    path.write_text("from-a-file\nsecond line\n", encoding="utf-8")
    parsed = config(CRAWLER_LOGIN_PASSWORD_ENV=None, CRAWLER_LOGIN_PASSWORD_FILE=str(path))
    assert parsed.password == "from-a-file"


def test_every_option_is_read() -> None:
    parsed = config(
        CRAWLER_LOGIN_WITH="browser",
        CRAWLER_LOGIN_SUCCESS_SELECTOR="h1.welcome",
        CRAWLER_LOGIN_FAILURE_TEXT="Invalid",
        CRAWLER_LOGIN_USERNAME_FIELD="user",
        CRAWLER_LOGIN_PASSWORD_FIELD="pass",
        CRAWLER_LOGIN_SUBMIT_SELECTOR="#go",
        CRAWLER_LOGIN_MAX_RELOGINS="5",
        CRAWLER_LOGIN_TIMEOUT="2.5",
    )
    assert parsed.login_with == "browser"
    assert (parsed.success_selector, parsed.failure_text) == ("h1.welcome", "Invalid")
    assert (parsed.username_field, parsed.password_field, parsed.submit_selector) == (
        "user",
        "pass",
        "#go",
    )
    assert (parsed.max_relogins, parsed.timeout) == (5, 2.5)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"CRAWLER_LOGIN_URL": None}, "CRAWLER_LOGIN_URL is not set"),
        ({"CRAWLER_LOGIN_URL": "ftp://example.org/"}, "must be an http(s) URL"),
        ({"CRAWLER_LOGIN_USERNAME": ""}, "needs CRAWLER_LOGIN_USERNAME"),
        ({"CRAWLER_LOGIN_WITH": "telepathy"}, "CRAWLER_LOGIN_WITH must be one of"),
        ({"CRAWLER_LOGIN_PASSWORD_ENV": "LOGIN_TEST_UNSET"}, "LOGIN_TEST_UNSET, which is not set"),
        ({"CRAWLER_LOGIN_PASSWORD_ENV": None}, "a login needs a password"),
        ({"CRAWLER_LOGIN_PASSWORD_FILE": "/nonexistent"}, "both set"),
        (
            {"CRAWLER_LOGIN_MAX_RELOGINS": "-1"},
            "MAX_RELOGINS must be a whole number >= 0, not '-1'",
        ),
        (
            {"CRAWLER_LOGIN_TIMEOUT": "soon"},
            "CRAWLER_LOGIN_TIMEOUT must be a number > 0, not 'soon'",
        ),
    ],
)
def test_bad_settings_are_errors_that_say_what_to_do(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(LoginConfigError, match=re.escape(message)):
        config(**settings)


def test_a_password_setting_is_refused_without_echoing_it() -> None:
    with pytest.raises(LoginConfigError) as raised:
        config(CRAWLER_LOGIN_PASSWORD=SECRET)
    assert "CRAWLER_LOGIN_PASSWORD_ENV" in str(raised.value)
    assert SECRET not in str(raised.value)


def test_an_unreadable_or_empty_password_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(LoginConfigError, match="cannot read the password file"):
        config(CRAWLER_LOGIN_PASSWORD_ENV=None, CRAWLER_LOGIN_PASSWORD_FILE=str(missing))
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(LoginConfigError, match="is empty"):
        config(CRAWLER_LOGIN_PASSWORD_ENV=None, CRAWLER_LOGIN_PASSWORD_FILE=str(empty))
