from __future__ import annotations

import lxml.html
import pytest

from crawler.login.browser import selectors
from crawler.login.config import LoginConfig
from crawler.utils.xpath import xpath_literal

AWKWARD = ["plain", "it's", 'say "hi"', "both ' and \" quotes", "''\"\"", ""]


@pytest.mark.parametrize("text", AWKWARD)
def test_xpath_literal_round_trips(text: str) -> None:
    root = lxml.html.fromstring("<p>x</p>")
    assert root.xpath(f"string({xpath_literal(text)})") == text


@pytest.mark.parametrize("name", [n for n in AWKWARD if n])
def test_login_selectors_find_fields_whose_names_hold_either_quote(name: str) -> None:
    config = LoginConfig(
        url="http://example.com/login",
        username="u",
        password="secret-password",
        login_with="browser",
        max_relogins=0,
        timeout=15.0,
        username_field=name,
        password_field=name + "-pw",
    )
    username, password, _ = selectors(config)
    page = lxml.html.fromstring("<form><input></form>")
    user_input, password_input = page.xpath("//input")[0], lxml.html.Element("input")
    user_input.set("name", name)
    password_input.set("name", name + "-pw")
    user_input.getparent().append(password_input)
    assert page.xpath(username.removeprefix("xpath:")) == [user_input]
    assert page.xpath(password.removeprefix("xpath:")) == [password_input]
