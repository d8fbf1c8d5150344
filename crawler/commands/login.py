"""``crawler login LOGIN_URL``: log in as a crawl would and save the session as cookies.txt.

Also the login options ``crawler crawl`` and ``crawler extract`` share
(:func:`add_login_options`, :func:`add_cookies_option`, :func:`login_settings`,
:func:`check_login_settings`, :func:`forget_prompted_password`).  There is
deliberately no ``--password`` option: a password on the command line lands in
the shell history and in ``ps``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import UsageError

from crawler.childenv import PROMPT_ENV
from crawler.commands.options import add_scrapy_options, scrapy_overrides
from crawler.login.config import LOGIN_MODES, LoginConfig
from crawler.login.cookies import load_cookies_txt
from crawler.runner import project_settings, run_spider
from crawler.utils.files import check_output_file

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

_DEPENDENT_OPTIONS = (
    "username",
    "password_env",
    "password_file",
    "login_with",
    "login_success",
    "login_failure",
)


def add_login_options(parser: argparse.ArgumentParser, *, with_login_url: bool) -> None:
    group = parser.add_argument_group(
        "logging in",
        "The password is read from an environment variable or a file, or asked for "
        "when standard input is a terminal; never from the command line.",
    )
    if with_login_url:
        group.add_argument(
            "--login",
            metavar="LOGIN_URL",
            help="log in at LOGIN_URL before crawling (and again if the session expires)",
        )
    group.add_argument("--username", metavar="USER", help="the username to log in with")
    password = group.add_mutually_exclusive_group()
    password.add_argument(
        "--password-env",
        metavar="VAR",
        help="read the password from the environment variable VAR",
    )
    password.add_argument(
        "--password-file", metavar="FILE", help="read the password from the first line of FILE"
    )
    group.add_argument(
        "--login-with",
        choices=LOGIN_MODES,
        default=None,
        help="submit the login form over HTTP, in the browser (for logins made by "
        "JavaScript; the crawl goes on over HTTP), or auto: HTTP, then the browser "
        "(default: auto)",
    )
    group.add_argument(
        "--login-success",
        metavar="CSS",
        help="the login worked if CSS matches the page after it "
        "(default: that page is not the login page)",
    )
    group.add_argument(
        "--login-failure",
        metavar="TEXT",
        help="the login failed if the page after it contains TEXT",
    )


def add_cookies_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cookies",
        metavar="FILE",
        help="start with the cookies of FILE (Netscape cookies.txt, e.g. from "
        "`crawler login --save-cookies`) in the crawl's cookie jar",
    )


def login_settings(args: argparse.Namespace, login_url: str | None) -> dict[str, Any]:
    """The ``CRAWLER_LOGIN_*`` settings the options ask for; prompts for the password if need be."""
    if login_url is None:
        given = [name for name in _DEPENDENT_OPTIONS if getattr(args, name, None)]
        if given:
            options = ", ".join("--" + name.replace("_", "-") for name in given)
            verb = "makes" if len(given) == 1 else "make"
            raise UsageError(f"{options} only {verb} sense with --login LOGIN_URL")
        return {}
    if not args.username:
        raise UsageError("logging in needs --username USER")
    overrides: dict[str, Any] = {
        "CRAWLER_LOGIN_URL": login_url,
        "CRAWLER_LOGIN_USERNAME": args.username,
    }
    if args.password_env:
        overrides["CRAWLER_LOGIN_PASSWORD_ENV"] = args.password_env
    elif args.password_file:
        overrides["CRAWLER_LOGIN_PASSWORD_FILE"] = args.password_file
    elif sys.stdin is not None and sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.username} at {login_url}: ")
        if not password:
            raise UsageError("no password given")
        # Read back by the login middleware, which removes it from the environment.
        os.environ[PROMPT_ENV] = password
        overrides["CRAWLER_LOGIN_PASSWORD_ENV"] = PROMPT_ENV
    else:
        raise UsageError(
            "logging in needs --password-env VAR or --password-file FILE "
            "(standard input is not a terminal to ask for the password on)"
        )
    if args.login_with:
        overrides["CRAWLER_LOGIN_WITH"] = args.login_with
    if args.login_success:
        overrides["CRAWLER_LOGIN_SUCCESS_SELECTOR"] = args.login_success
    if args.login_failure:
        overrides["CRAWLER_LOGIN_FAILURE_TEXT"] = args.login_failure
    return overrides


def check_login_settings(settings: BaseSettings) -> None:
    """Fail before crawling (``LoginConfigError``) on a bad login or cookies-file setting."""
    if settings.get("CRAWLER_LOGIN_URL"):
        LoginConfig.from_settings(settings)
    if settings.get("CRAWLER_COOKIES_FILE"):
        load_cookies_txt(settings.get("CRAWLER_COOKIES_FILE"))


def forget_prompted_password() -> None:
    os.environ.pop(PROMPT_ENV, None)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "login",
        help="log in to a site and save the session cookies (cookies.txt)",
        description="Log in at LOGIN_URL the way `crawler crawl --login` does, check that "
        "it worked and, with --save-cookies, write the session cookies as a Netscape "
        "cookies.txt file (mode 0600) that `crawler crawl --cookies` and `curl -b` read.",
    )
    p.add_argument("login_url", metavar="LOGIN_URL")
    add_login_options(p, with_login_url=False)
    p.add_argument(
        "--save-cookies", metavar="FILE", help="write the session cookies to FILE (cookies.txt)"
    )
    add_scrapy_options(p, log_level="WARNING")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {
        "CRAWLER_STORE_ENABLED": False,
        "CRAWLER_PROGRESS": "off",  # a login is a page or two: no progress line
        **scrapy_overrides(args),
    }
    save = Path(args.save_cookies) if args.save_cookies else None
    if save is not None:
        check_output_file(args.save_cookies)
    try:
        overrides.update(login_settings(args, args.login_url))
        settings = project_settings(overrides)
        check_login_settings(settings)
        spider_arguments = {"save_cookies": str(save)} if save is not None else {}
        outcome = run_spider("login", settings, **spider_arguments)
    finally:
        forget_prompted_password()
    if outcome.finish_reason == "login_failed" or not outcome.stats.get("login/logins"):
        error = outcome.stats.get("login/error") or f"login at {args.login_url} did not finish"
        print(f"error: {error}", file=sys.stderr)
        return 1
    if save is not None:
        count = outcome.stats.get("login/cookies_saved", 0)
        print(f"Logged in at {args.login_url}; saved {count} cookies to {save}")
    else:
        print(f"Logged in at {args.login_url}")
    return outcome.exit_code
