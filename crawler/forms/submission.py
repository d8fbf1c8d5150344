"""Requests that submit a discovered form, over HTTP or by clicking in the browser.

Over HTTP (:func:`http_request`) the request carries the entries discovery
read from the page, supplied values put in: hidden fields such as CSRF tokens
go back as the page had them, exactly as a browser would send them.

In the browser (:func:`browser_request`) the form's page is loaded again, the
supplied values are typed into their fields (:class:`Fill`) and the submit
control is clicked (:class:`Click`), so a form whose submission is driven by
JavaScript (an ``onsubmit`` handler that navigates or posts by script) does
what it does for a user.  The response is the page the browser ends on.

Selectors.  The form is addressed by its ``id`` when no other element of the
page has that id (stable even if scripts add forms before it), otherwise by
its position among the page's forms, ``(//form)[N]``, which also works for the
many forms with neither id nor name.  The submit control is the first enabled
one in the form, found with the same XPath predicate that discovery used
(:data:`~crawler.forms.discovery.SUBMIT_CONTROL`), so the control clicked is
the one whose entry discovery counted.  XPath rather than CSS because CSS
cannot address "the N-th form of the document" or quote arbitrary ids safely.

Waiting.  Before the click the page is marked (a property on the document
element and the body, which never shows in the HTML); after the click the
render waits until the URL has changed or the marked elements are gone (a new
document, or a script that replaced the body) and the new document has
finished loading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from scrapy import FormRequest
from selenium.common.exceptions import JavascriptException, StaleElementReferenceException

from crawler.browser.request import BrowserRequest, Click, Fill
from crawler.forms.discovery import SUBMIT_CONTROL, TEXT_TYPES
from crawler.utils.xpath import xpath_literal

if TYPE_CHECKING:
    from collections.abc import Mapping

    from selenium.webdriver.remote.webdriver import WebDriver

    from crawler.forms.discovery import HtmlForm

#: ``request.meta`` key of a form submission: a :class:`FormSubmission`.
META_KEY = "form"

_MARK = "__crawlerFormPage"
_MARK_SCRIPT = (
    "var url = location.href;"
    f"document.documentElement.{_MARK} = url;"
    f"if (document.body) {{ document.body.{_MARK} = url; }}"
    "return true;"
)
_LEFT_SCRIPT = (
    "if (document.readyState !== 'complete') { return false; }"
    f"if (document.documentElement.{_MARK} !== location.href) {{ return true; }}"
    f"return document.body !== null && document.body.{_MARK} !== location.href;"
)


@dataclass(frozen=True)
class FormSubmission:
    """What a request submits: kept in ``meta["form"]`` for the callback and errback."""

    page_url: str  # the page that offered the form
    action: str
    method: str
    in_browser: bool


def http_request(
    form: HtmlForm, values: Mapping[str, str], encoding: str, **kwargs: Any
) -> FormRequest:
    """The form submitted over HTTP with its entries (and the supplied ``values``)."""
    # Characters the page's encoding lacks go as character references, as browsers send them.
    data = [(_encodable(k, encoding), _encodable(v, encoding)) for k, v in form.data(values)]
    meta = {**kwargs.pop("meta", {}), META_KEY: _submission(form, in_browser=False)}
    if form.method == "POST":
        request = FormRequest(
            form.action, method="POST", formdata=data, encoding=encoding, meta=meta, **kwargs
        )
        # FormRequest sets it only when there is data; browsers always send it.
        request.headers.setdefault(b"Content-Type", b"application/x-www-form-urlencoded")
        return request
    # A GET submission replaces the action's query with the entries, even with none.
    url = urlunsplit(urlsplit(form.action)._replace(query="", fragment=""))
    return FormRequest(url, method="GET", formdata=data, encoding=encoding, meta=meta, **kwargs)


def _encodable(text: str, encoding: str) -> str:
    try:
        return text.encode(encoding, "xmlcharrefreplace").decode(encoding)
    except LookupError:
        return text


def browser_blocker(form: HtmlForm, values: Mapping[str, str]) -> str | None:
    """Why ``form`` cannot be submitted by clicking in the browser, or ``None``.

    Clicking needs a submit control whose result replaces the page (not one
    that opens in another window or frame); typing can only set text fields and
    textareas (not hidden fields, selects, checkboxes or radios).
    """
    if form.submit is None:
        return "no_submit_control"
    if form.target.lower() not in ("", "_self"):
        return "other_window"
    for name in form.applicable(values):
        if form.control_type(name) not in TEXT_TYPES | {"textarea"}:
            return "value_not_typeable"
    return None


def browser_request(form: HtmlForm, values: Mapping[str, str], **kwargs: Any) -> BrowserRequest:
    """The form's page, loaded again, with the values typed in and the submit clicked.

    Call :func:`browser_blocker` first: it says which forms this cannot do.
    """
    defaults = dict(form.entries)
    fills = [
        Fill(field_xpath(form, name), value)
        for name, value in form.applicable(values).items()
        if defaults.get(name) != value  # the page already has it
    ]
    meta = {
        **kwargs.pop("meta", {}),
        META_KEY: _submission(form, in_browser=True),
        # A retry would click again: the first click may have submitted already
        # (a handler that posts by script), and a wait timeout would just repeat.
        "dont_retry": True,
    }
    return BrowserRequest(
        form.page_url,
        wait_for=mark_page,
        actions=[*fills, Click(submit_xpath(form), wait_for=page_left)],
        dont_filter=True,  # the page itself was crawled already
        meta=meta,
        **kwargs,
    )


def _submission(form: HtmlForm, in_browser: bool) -> FormSubmission:
    return FormSubmission(form.page_url, form.action, form.method, in_browser)


# -- selectors -------------------------------------------------------------------


def form_xpath(form: HtmlForm) -> str:
    if form.element_id is not None:
        return f"//form[@id = {xpath_literal(form.element_id)}]"
    return f"(//form)[{form.index + 1}]"


def submit_xpath(form: HtmlForm) -> str:
    return f"({form_xpath(form)}/descendant::*[{SUBMIT_CONTROL}])[1]"


def field_xpath(form: HtmlForm, name: str) -> str:
    return (
        f"({form_xpath(form)}/descendant::*[(self::input or self::textarea)"
        f" and @name = {xpath_literal(name)} and not(@disabled)])[1]"
    )


# -- waits (run in the browser's worker thread) ----------------------------------


def mark_page(driver: WebDriver) -> bool:
    """Mark the loaded form page, so that :func:`page_left` can tell it was left."""
    return bool(driver.execute_script(_MARK_SCRIPT))


def page_left(driver: WebDriver) -> bool:
    """After the click: a new URL or document (or body), fully loaded."""
    try:
        return bool(driver.execute_script(_LEFT_SCRIPT))
    except (JavascriptException, StaleElementReferenceException):
        return False  # the document went away under the script: navigating
