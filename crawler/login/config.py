"""``CRAWLER_LOGIN_*`` settings, parsed and checked once, with the password read by reference.

The password itself is never a setting (Scrapy logs the settings a crawl
overrides): ``CRAWLER_LOGIN_PASSWORD_ENV`` names an environment variable that
holds it, or ``CRAWLER_LOGIN_PASSWORD_FILE`` a file whose first line it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crawler import childenv
from crawler.exceptions import LoginConfigError
from crawler.settingscheck import check_types, setting_choices
from crawler.utils.url import check_url

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

LOGIN_MODES = setting_choices("CRAWLER_LOGIN_WITH")  # http, browser, auto


def read_password(env_name: str | None, file_path: str | None) -> str:
    """The password from the environment variable ``env_name`` or the file ``file_path``.

    The variable and the password are kept out of the crawl's child processes
    from now on (:func:`crawler.childenv.forget`)."""
    if env_name and file_path:
        raise LoginConfigError(
            "CRAWLER_LOGIN_PASSWORD_ENV and CRAWLER_LOGIN_PASSWORD_FILE are both set; keep one"
        )
    if env_name:
        value = os.environ.get(env_name)
        childenv.forget(name=env_name, value=value)
        if not value:
            raise LoginConfigError(
                f"the password should be in the environment variable {env_name}, "
                "which is not set or empty"
            )
        return value
    if file_path:
        try:
            text = Path(file_path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise LoginConfigError(
                f"cannot read the password file {file_path}: {type(e).__name__}"
            ) from None
        lines = text.splitlines()
        if not lines or not lines[0]:
            raise LoginConfigError(f"the password file {file_path} is empty")
        childenv.forget(value=lines[0])
        return lines[0]
    raise LoginConfigError(
        "a login needs a password: name an environment variable that holds it "
        "(CRAWLER_LOGIN_PASSWORD_ENV, --password-env VAR) or a file "
        "(CRAWLER_LOGIN_PASSWORD_FILE, --password-file FILE)"
    )


def check_login_url(url: str) -> str:
    """``url`` itself if it is an http(s) URL without a user name or password in it
    (:func:`crawler.utils.url.check_url`), else a :class:`LoginConfigError`."""
    return check_url(url, "login URL", error=LoginConfigError)


@dataclass(frozen=True)
class LoginConfig:
    """How to log in: where, as whom, how, and how to tell that it worked."""

    url: str
    username: str
    password: str = field(repr=False)
    login_with: str  # http | browser | auto
    max_relogins: int  # re-logins in a row that bring no page back, then no more
    timeout: float  # seconds a browser login may take to settle
    success_selector: str | None = None  # CSS present after a successful login
    failure_text: str | None = None  # text present after a failed login
    username_field: str | None = None  # name of the username input; None: detected
    password_field: str | None = None  # name of the password input; None: detected
    submit_selector: str | None = None  # browser: CSS/XPath of the control to click

    def __post_init__(self) -> None:
        check_login_url(self.url)
        if not self.username:
            raise LoginConfigError(f"a login at {self.url} needs a username")
        if not self.password:
            raise LoginConfigError(f"a login at {self.url} needs a password")
        if self.login_with not in LOGIN_MODES:
            raise LoginConfigError(
                f"login_with must be one of {', '.join(LOGIN_MODES)}, not {self.login_with!r}"
            )
        if self.max_relogins < 0:
            raise LoginConfigError(f"max_relogins must not be negative, not {self.max_relogins}")
        if self.timeout <= 0:
            raise LoginConfigError(f"the login timeout must be positive, not {self.timeout}")

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> LoginConfig:
        """Raises :class:`LoginConfigError` when ``CRAWLER_LOGIN_URL`` is unset, or a
        ``CRAWLER_LOGIN_*`` setting is invalid, or the password cannot be read."""

        def text(name: str) -> str | None:
            value = settings.get(name)
            return str(value) if value not in (None, "") else None

        if settings.get("CRAWLER_LOGIN_PASSWORD") is not None:
            raise LoginConfigError(
                "CRAWLER_LOGIN_PASSWORD is not a setting: Scrapy logs settings, so the password "
                "would end up in the log; use CRAWLER_LOGIN_PASSWORD_ENV or "
                "CRAWLER_LOGIN_PASSWORD_FILE"
            )
        url = text("CRAWLER_LOGIN_URL")
        if url is None:
            raise LoginConfigError("CRAWLER_LOGIN_URL is not set")
        check_login_url(url)
        username = text("CRAWLER_LOGIN_USERNAME")
        if username is None:
            raise LoginConfigError(f"CRAWLER_LOGIN_URL={url} needs CRAWLER_LOGIN_USERNAME")
        check_types(settings, "CRAWLER_LOGIN_", error=LoginConfigError)
        return cls(
            url=url,
            username=username,
            password=read_password(
                text("CRAWLER_LOGIN_PASSWORD_ENV"), text("CRAWLER_LOGIN_PASSWORD_FILE")
            ),
            login_with=settings.get("CRAWLER_LOGIN_WITH"),
            success_selector=text("CRAWLER_LOGIN_SUCCESS_SELECTOR"),
            failure_text=text("CRAWLER_LOGIN_FAILURE_TEXT"),
            username_field=text("CRAWLER_LOGIN_USERNAME_FIELD"),
            password_field=text("CRAWLER_LOGIN_PASSWORD_FIELD"),
            submit_selector=text("CRAWLER_LOGIN_SUBMIT_SELECTOR"),
            max_relogins=settings.getint("CRAWLER_LOGIN_MAX_RELOGINS"),
            timeout=settings.getfloat("CRAWLER_LOGIN_TIMEOUT"),
        )


def login_config(settings: BaseSettings) -> LoginConfig | None:
    """The login the settings ask for, checked: ``None`` without ``CRAWLER_LOGIN_URL``
    (no login; the ``CRAWLER_LOGIN_*`` values are still type-checked).

    What :class:`~crawler.login.middleware.LoginMiddleware` builds, and what the
    settings check runs before a crawl (:data:`crawler.settingscheck.VALIDATORS`):
    it reads the password from its variable or file, and prompts for nothing.
    Raises :class:`LoginConfigError`.
    """
    if not settings.get("CRAWLER_LOGIN_URL"):
        check_types(settings, "CRAWLER_LOGIN_", error=LoginConfigError)
        return None
    if not settings.getbool("COOKIES_ENABLED"):
        raise LoginConfigError(
            "CRAWLER_LOGIN_URL needs cookies to keep the session: set COOKIES_ENABLED=True"
        )
    return LoginConfig.from_settings(settings)
