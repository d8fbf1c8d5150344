"""The book's ``mscrape.py`` on the framework: log in to the payments app, total what was paid.

*Foundations of Python Network Programming* (3rd ed., ch. 11, listing 11-12)
logs in to its payments app as ``brandon``, reads the index and prints the
payments he made (the ``li.to`` items) and their total::

    $ python -m examples.mscrape http://127.0.0.1:PORT/pay/         # requests + BeautifulSoup
    $ python -m examples.mscrape -l http://127.0.0.1:PORT/pay/      # lxml
    $ python -m examples.mscrape -s http://127.0.0.1:PORT/pay/      # log in with the browser
             125 Registration for PyCon
             200 Payment for writing that code
        -------- ------------------------------
             325 Total payments made

``URL`` is the app's root: the tinysite fixture's ``/pay/`` (``python -m
fixtures.tinysite``), or the book's own app (``http://127.0.0.1:5000/``).
Where the book posts hard-coded fields to ``/login`` with ``requests``, or
types them in with Selenium, this uses the framework's
:func:`~crawler.login.session.login_session`: ``via="http"`` reads the login
form and posts it (hidden fields and CSRF tokens included), ``via="browser"``
(``-s``) types into the page in headless Chromium and hands the cookies to
``requests``; the index is then read by the payments spider's parsers
(:func:`spiders.payments.parse_bs4`, ``-l``: :func:`~spiders.payments.parse_lxml`).

It logs in as the book's ``brandon``, with the book's password; ``--username
NAME --password-env VAR`` logs in as someone else (the password from the
environment variable ``VAR``).  Exit codes: 0 done, 1 the login failed or the
page has no payments (the error says which page and what it was), 2 bad
arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import lxml.html
import requests
from lxml import etree

from crawler.exceptions import LoginError
from crawler.login.check import same_page
from crawler.login.form import has_password_field
from crawler.login.session import login_session
from spiders.payments import PaymentItem, PaymentsPageError, parse_bs4, parse_lxml

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

ROW = "{:>12} {}".format  # the book's row: the amount right-aligned in 12 columns
# mscrape.py's hard-coded login: the book's sample account.
BOOK_USERNAME = "brandon"
BOOK_PASSWORD = "atigdng"
TIMEOUT = 30  # seconds, for the login and the index


class ScrapeError(Exception):
    """The page could not be scraped; the message says which page and why."""


def app_root(url: str) -> str:
    """``url`` as a directory, so the login page is ``root + "login"``."""
    return url if url.endswith("/") else url + "/"


def download_page(
    base: str,
    username: str,
    password: str,
    *,
    via: str = "http",
    browser_settings: Mapping[str, Any] | None = None,
) -> requests.Response:
    """Log in at ``base + "login"`` (``via`` ``"http"`` or ``"browser"``) and GET the index.

    Raises :class:`~crawler.exceptions.LoginError` when the login fails and
    :class:`ScrapeError` when the index cannot be fetched.  In the browser,
    Chromium resolves only the app's host unless ``browser_settings`` say otherwise.
    """
    settings = {"SELENIUM_ALLOWED_HOSTS": [urlsplit(base).hostname], **(browser_settings or {})}
    with login_session(
        urljoin(base, "login"), username, password, via=via, browser_settings=settings
    ) as http:
        try:
            page = http.get(base, timeout=TIMEOUT)
        except requests.RequestException as e:
            raise ScrapeError(f"cannot fetch {base}: {type(e).__name__}: {e}") from None
    if page.status_code >= 400:
        raise ScrapeError(f"{page.url} answered HTTP {page.status_code}")
    return page


def scrape(page: requests.Response, base: str, use_lxml: bool = False) -> list[PaymentItem]:
    """The payments on the index, read by lxml or BeautifulSoup; an error if there are none."""
    parse = parse_lxml if use_lxml else parse_bs4
    try:
        payments = parse(page.content)
    except PaymentsPageError as e:
        raise ScrapeError(f"the payments on {page.url} are not in the book's shape: {e}") from None
    if not payments:
        login_page = same_page(page.url, urljoin(base, "login")) or has_password_field(page.text)
        hint = "the login did not work?" if login_page else f"is {base} the payments app?"
        raise ScrapeError(f"no payments on {page.url}: {_what(page)} -- {hint}")
    return payments


def _what(page: requests.Response) -> str:
    try:
        doc = lxml.html.document_fromstring(page.content)
    except (ValueError, etree.ParserError):
        return "the page is not HTML"
    title = " ".join((doc.findtext(".//title") or "").split())
    return f"the page is {title!r}" if title else "the page has no title"


def report(payments: Iterable[PaymentItem]) -> list[str]:
    """The book's output: each payment made, a rule, and their total."""
    made = [p for p in payments if p.direction == "to"]
    lines = [ROW(p.amount, p.memo) for p in made]
    lines.append(ROW("-" * 8, "-" * 30))
    lines.append(ROW(sum(p.amount for p in made), "Total payments made"))
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m examples.mscrape",
        description="Scrape our payments site (the book's mscrape.py, on the framework).",
    )
    parser.add_argument("url", help="the URL at which to begin: the payments app's root")
    parser.add_argument("-l", action="store_true", help="scrape using lxml")
    parser.add_argument("-s", action="store_true", help="log in with the browser (Selenium)")
    parser.add_argument(
        "--username", default=BOOK_USERNAME, help="log in as NAME (default: %(default)s)"
    )
    parser.add_argument(
        "--password-env",
        metavar="VAR",
        help="environment variable holding the password (needed with --username)",
    )
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://", "https://")):
        parser.error(f"the URL must be an http(s) URL, not {args.url!r}")
    if args.password_env is None and args.username != BOOK_USERNAME:
        parser.error("--username needs --password-env VAR (the book's password is brandon's)")
    if args.password_env is not None and args.password_env not in os.environ:
        parser.error(f"the environment variable {args.password_env} is not set")
    return args


def main(
    argv: Sequence[str] | None = None, browser_settings: Mapping[str, Any] | None = None
) -> int:
    """Run the example; ``browser_settings`` are ``SELENIUM_*`` settings for ``-s``."""
    args = parse_args(argv)
    base = app_root(args.url)
    password = os.environ[args.password_env] if args.password_env else BOOK_PASSWORD
    via = "browser" if args.s else "http"
    try:
        page = download_page(
            base, args.username, password, via=via, browser_settings=browser_settings
        )
        payments = scrape(page, base, use_lxml=args.l)
    except (LoginError, ScrapeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for line in report(payments):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
