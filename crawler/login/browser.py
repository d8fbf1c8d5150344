"""Logging in by driving a browser: which fields to fill, what to click, when it is over.

A browser login is one render of the login page with three actions: fill the
username, fill the password, click the submit control, and then wait until
the login has *settled*: the browser left the login page (a form post, or a
script that posted JSON and navigated), or a new document replaced it (the
form came back with an error), or an error box or the configured failure
text appeared (a script showed the error in place).  Whether it worked is
then checked on the final page like any other login (:mod:`crawler.login.check`).

Without field names the selectors are relative to the page's first password
input, so they work for forms and for inputs that sit in no form at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawler.browser.request import Click, Fill
from crawler.login.check import ERROR_CSS, same_page
from crawler.utils.xpath import xpath_literal

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

    from crawler.browser.request import Action
    from crawler.login.config import LoginConfig

_PASSWORD = "(//input[translate(@type, 'PASWORD', 'pasword') = 'password'])[1]"
_TEXT_INPUT = (
    "input[not(@type) or translate(@type, 'TEXMAILH', 'texmailh') = 'text'"
    " or translate(@type, 'TEXMAILH', 'texmailh') = 'email' or @type = 'tel']"
)
_CLICKABLE = (
    "*[self::button[not(@type) or @type = 'submit' or @type = 'button']"
    " or self::input[@type = 'submit' or @type = 'image' or @type = 'button']]"
)
_MARK = "window.__crawlerLoginPending = true; return true;"
_SETTLED = f"""
if (!window.__crawlerLoginPending && document.readyState === "complete") {{ return true; }}
var failure = arguments[0];
if (failure && document.body && document.body.innerText.indexOf(failure) >= 0) {{ return true; }}
var boxes = document.querySelectorAll({ERROR_CSS!r});
for (var i = 0; i < boxes.length; i++) {{
  var box = boxes[i];
  if (!box.hidden && box.offsetParent !== null && box.textContent.trim()) {{ return true; }}
}}
return false;
"""


def selectors(config: LoginConfig) -> tuple[str, str, str]:
    """``(username, password, submit)`` selectors for :class:`Fill` and :class:`Click`."""
    password = (
        f"(//input[@name = {xpath_literal(config.password_field)}])[1]"
        if config.password_field
        else _PASSWORD
    )
    username = (
        f"(//*[@name = {xpath_literal(config.username_field)}])[1]"
        if config.username_field
        else f"{password}/preceding::{_TEXT_INPUT}[1]"
    )
    submit = config.submit_selector or f"xpath:{password}/following::{_CLICKABLE}[1]"
    return f"xpath:{username}", f"xpath:{password}", submit


class LoginWatch:
    """The two ``wait_for`` conditions of a browser login, sharing what they saw.

    :meth:`mark`, after the first action, tags the login page's document and
    notes its URL (the login URL may have redirected); :meth:`settled`, after
    the click, is true once that page is gone or shows an error.
    """

    def __init__(self, login_url: str, failure_text: str | None) -> None:
        self.login_url = login_url
        self.page_url = login_url
        self.failure_text = failure_text

    def mark(self, driver: WebDriver) -> bool:
        self.page_url = driver.current_url
        driver.execute_script(_MARK)
        return True

    def settled(self, driver: WebDriver) -> Any:
        # Selenium is loaded by the session that calls this: not by every crawl
        # that merely has the login middleware enabled.
        from selenium.common.exceptions import WebDriverException

        try:
            url = driver.current_url
            if not (same_page(url, self.page_url) or same_page(url, self.login_url)):
                return True
            return bool(driver.execute_script(_SETTLED, self.failure_text or ""))
        except WebDriverException:
            return False  # mid-navigation: the next poll sees the new page


def login_actions(config: LoginConfig) -> tuple[Action, ...]:
    """Fill the username and the password, click submit, wait until the login settled."""
    username, password, submit = selectors(config)
    watch = LoginWatch(config.url, config.failure_text)
    return (
        Fill(username, config.username, wait_for=watch.mark),
        Fill(password, config.password),
        Click(submit, wait_for=watch.settled),
    )
