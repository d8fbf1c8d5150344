"""``login_session()``: a logged-in ``requests.Session`` for login-automation scripts.

.. code-block:: python

    from crawler.login.session import login_session

    with login_session("https://bank.example/login", "alice", password) as http:
        page = http.get("https://bank.example/payments")

``via="http"`` reads the login form with lxml and posts it (hidden CSRF
fields carried) with ``requests``; ``via="browser"`` types the credentials
into the page in Chromium (through :mod:`crawler.browser`, the crawl's own
browser code), so logins made by JavaScript work too, and hands the
browser's cookies to the returned session.  Both check success the way a
crawl does (:mod:`crawler.login.check`) and raise
:class:`~crawler.exceptions.LoginError`, naming the login URL, on failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from crawler.addon import framework_settings
from crawler.browser.config import BrowserConfig
from crawler.browser.request import BrowserOptions
from crawler.browser.session import BrowserSession, RenderSpec
from crawler.exceptions import BrowserError, LoginError
from crawler.login.browser import login_actions
from crawler.login.check import login_problem, scrub
from crawler.login.config import LoginConfig
from crawler.login.form import find_login_form

if TYPE_CHECKING:
    from collections.abc import Mapping

VIA = ("http", "browser")


def login_session(
    login_url: str,
    username: str,
    password: str,
    *,
    via: str = "http",
    success_selector: str | None = None,
    failure_text: str | None = None,
    username_field: str | None = None,
    password_field: str | None = None,
    submit_selector: str | None = None,
    timeout: float = 15.0,
    session: requests.Session | None = None,
    browser_settings: Mapping[str, Any] | None = None,
) -> requests.Session:
    """Log in at ``login_url`` and return a ``requests.Session`` that holds the session.

    ``success_selector`` (CSS present after the login) and ``failure_text``
    (text present after a failed one) refine the default check: the login
    left the login page and asks for no password any more.  ``username_field``
    / ``password_field`` name the inputs where detection does not find them;
    ``submit_selector`` is the control the browser clicks.  ``session`` is
    used (and returned) instead of a new one.  ``browser_settings`` are
    ``SELENIUM_*`` settings for ``via="browser"`` (e.g.
    ``{"SELENIUM_ALLOWED_HOSTS": ["127.0.0.1"]}``).
    """
    if via not in VIA:
        raise ValueError(f"via must be one of {', '.join(VIA)}, not {via!r}")
    config = LoginConfig(
        url=login_url,
        username=username,
        password=password,
        login_with=via,
        success_selector=success_selector,
        failure_text=failure_text,
        username_field=username_field,
        password_field=password_field,
        submit_selector=submit_selector,
        max_relogins=0,  # one login, no crawl to log in again for
        timeout=timeout,
    )
    http = session if session is not None else requests.Session()
    try:
        if via == "http":
            _login_http(config, http)
        else:
            _login_browser(config, http, browser_settings or {})
    except BaseException:
        if session is None:
            http.close()
        raise
    return http


def _fail(config: LoginConfig, reason: str) -> LoginError:
    return LoginError(config.url, scrub(reason, config.password))


def _login_http(config: LoginConfig, http: requests.Session) -> None:
    try:
        page = http.get(config.url, timeout=config.timeout)
        if page.status_code >= 400:
            raise _fail(config, f"the login page answered HTTP {page.status_code}")
        form = find_login_form(page.text, page.url, config.username_field, config.password_field)
        if form is None:
            raise _fail(
                config,
                "the page has no form with a password field to submit over HTTP "
                '(a login made by JavaScript needs via="browser")',
            )
        if form.username_field is None:
            raise _fail(config, "no username field found in the login form; pass username_field")
        fields = form.submission(config.username, config.password)
        sent = {"data": fields} if form.method == "POST" else {"params": fields}
        result = http.request(
            form.method,
            form.action,
            headers={"Referer": page.url},
            timeout=config.timeout,
            **sent,  # type: ignore[arg-type]
        )
    except requests.RequestException as e:
        raise _fail(config, f"{type(e).__name__}: {e}") from None
    problem = login_problem(config, result.url, result.status_code, result.text)
    if problem is not None:
        raise _fail(config, problem)


def _login_browser(
    config: LoginConfig, http: requests.Session, browser_settings: Mapping[str, Any]
) -> None:
    browser = BrowserSession(BrowserConfig.from_settings(framework_settings(browser_settings)))
    options = BrowserOptions(actions=login_actions(config), wait_timeout=config.timeout)
    user_agent = http.headers.get("User-Agent")
    try:
        result = browser.render(
            RenderSpec(
                url=config.url,
                options=options,
                user_agent=str(user_agent) if user_agent else None,
            )
        )
    except BrowserError as e:
        raise _fail(config, str(e)) from None
    except Exception as e:  # a timeout, a page error: crawler.exceptions, all with URLs
        raise _fail(config, f"{type(e).__name__}: {e}") from None
    finally:
        browser.quit()
    problem = login_problem(config, result.url, result.status, result.html)
    if problem is not None:
        raise _fail(config, problem)
    for cookie in result.cookies:
        rest = {"HttpOnly": None} if cookie.get("httpOnly") else {}
        http.cookies.set(
            cookie["name"],
            cookie["value"],
            domain=cookie.get("domain") or None,
            path=cookie.get("path") or "/",
            secure=bool(cookie.get("secure")),
            expires=cookie.get("expiry"),
            rest=rest,
        )
