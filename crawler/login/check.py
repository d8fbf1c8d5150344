"""Did a login work?  And is a response the login page (the session expired)?

Success, in order: an HTTP error status fails; ``failure_text`` present on
the page fails; then ``success_selector`` must match, or, without one, the
page must have left the login page and ask for no password any more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from parsel import Selector

from crawler.login.form import has_password_field

if TYPE_CHECKING:
    from crawler.login.config import LoginConfig

# Where pages usually say why a login failed; quoted in the error message.
ERROR_CSS = ".error, .errors, .alert-danger, .alert-error, [role=alert], #error"
_MAX_QUOTE = 160
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _page_key(url: str) -> tuple[str, str, int | None, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port, parts.path or "/"


def same_page(url: str, login_url: str) -> bool:
    """Whether ``url`` is the login page: same scheme, host, port and path (any query)."""
    return _page_key(url) == _page_key(login_url)


def page_text(selector: Selector) -> str:
    texts = selector.xpath("//body//text()[not(ancestor::script) and not(ancestor::style)]")
    return " ".join(" ".join(texts.getall()).split())


def error_message(selector: Selector) -> str:
    """The text of the page's error boxes, shortened, or ``""``."""
    found = []
    for box in selector.css(ERROR_CSS):
        text = " ".join(" ".join(box.xpath(".//text()").getall()).split())
        if text and box.attrib.get("hidden") is None:
            found.append(text)
    quote = "; ".join(dict.fromkeys(found))
    return quote if len(quote) <= _MAX_QUOTE else quote[: _MAX_QUOTE - 3] + "..."


def login_problem(config: LoginConfig, url: str, status: int, html: str) -> str | None:
    """Why the page reached after submitting the login says it failed, or ``None``."""
    if status >= 400:
        return f"the server answered HTTP {status} at {url}"
    selector = Selector(text=html or "<html></html>")
    said = error_message(selector)
    suffix = f" (the page says: {said})" if said else ""
    if config.failure_text and config.failure_text in page_text(selector):
        return f"the page after the login shows {config.failure_text!r}{suffix}"
    if config.success_selector:
        if not selector.css(config.success_selector):
            return f"nothing matches {config.success_selector!r} after the login{suffix}"
        return None
    if same_page(url, config.url):
        return f"still on the login page after submitting it{suffix}"
    if has_password_field(html):
        return f"the page after the login ({url}) still asks for a password{suffix}"
    return None


def scrub(text: str, password: str) -> str:
    """``text`` with the password blanked out (for messages built from page content)."""
    return text.replace(password, "***") if password else text
