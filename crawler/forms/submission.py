"""Requests that submit a discovered form, over HTTP or by clicking in the browser.

Over HTTP (:func:`http_request`) the request carries the entry list of the
form model (:meth:`~crawler.forms.model.HtmlForm.entries_for`) for the
chosen submitter, supplied values put in: hidden fields such as CSRF tokens
go back as the page had them.  The submitter decides action, method,
encoding type and target (``formaction``...); the body is URL-encoded (by
Scrapy's :class:`~scrapy.FormRequest`), ``multipart/form-data`` or
``text/plain`` (:mod:`crawler.forms.encoding`), a GET's entries replace the
action's query (HTML Standard, 4.10.22.3).

In the browser (:func:`browser_request`) the form's page is loaded again, the
supplied values are typed into their fields (:class:`Fill`) or chosen
(:class:`Choose`: a select's option, a radio button, a checkbox) and the
submitter is clicked (:class:`Click`), so a form whose submission is driven
by JavaScript does what it does for a user.  The response is the page the
browser ends on.  Controls are found in the live page by the form's id or
position and their position among its controls
(:func:`crawler.forms.live.control_script`), the same form owners the
browser itself uses: a control outside its form joined with ``form=``, or
inside a ``<table>`` that foster-parented its form, is found.

Waiting.  Before the first action the page is marked (a property on the
document element and the body, which never shows in the HTML); after the
click the render waits until the URL has changed or the marked elements are
gone (a new document, or a script that replaced the body) and the new
document has finished loading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from scrapy import FormRequest, Request

from crawler.browser.request import BrowserRequest, Choose, Click, Fill
from crawler.forms.encoding import multipart_body, prepared, text_plain_body
from crawler.forms.live import control_script
from crawler.forms.model import MULTIPART, TEXT_PLAIN, TEXT_TYPES, URLENCODED
from crawler.forms.values import sanitize

if TYPE_CHECKING:
    from collections.abc import Mapping

    from selenium.webdriver.remote.webdriver import WebDriver

    from crawler.forms.model import FormControl, HtmlForm

#: ``request.meta`` key of a form submission: a :class:`FormSubmission`.
META_KEY = "form"

_SET_BY_SCRIPT = frozenset({"date", "month", "week", "time", "datetime-local", "color", "range"})
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
    """What a request submits: kept in ``meta["form"]`` for the callback and errback.

    ``shape`` is the form's :meth:`~crawler.forms.model.HtmlForm.identity`,
    ``entries`` what was sent (the learning of volatile fields compares them
    with the form the result page shows), ``variant`` which submission of the
    form this is (``default``, ``submitter: Advanced``, ``cat=books``...).
    """

    page_url: str  # the page that offered the form
    action: str
    method: str
    in_browser: bool
    enctype: str = URLENCODED
    shape: tuple[Any, ...] | None = None
    entries: tuple[tuple[str, str], ...] = ()
    variant: str = "default"
    page_digest: bytes | None = None  # the text of the page the form was on
    chain: int = 0  # how many results of this form in a row held this form again


def http_request(
    form: HtmlForm,
    values: Mapping[str, str],
    submitter: FormControl | None = None,
    variant: str = "default",
    **kwargs: Any,
) -> Request:
    """The form submitted over HTTP with ``submitter`` (default: the default button)
    clicked and the supplied ``values`` in place."""
    submitter = submitter if submitter is not None else form.submit
    how = form.submission(submitter)
    entries = form.entries_for(submitter, values)
    encoding = form.encoding
    meta = {
        **kwargs.pop("meta", {}),
        META_KEY: _submission(form, how.action, how.method, how.enctype, entries, variant, False),
    }
    if how.method != "POST":
        # A GET submission replaces the action's query with the entries, even with none.
        url = urlunsplit(urlsplit(how.action)._replace(query="", fragment=""))
        data = prepared(entries, encoding)
        return FormRequest(url, method="GET", formdata=data, encoding=encoding, meta=meta, **kwargs)
    if how.enctype == MULTIPART:
        files = frozenset(c.name for c in form.controls if c.type == "file" and c.name)
        body, content_type = multipart_body(entries, encoding, files)
        headers = {**kwargs.pop("headers", {}), "Content-Type": content_type}
        return Request(how.action, method="POST", body=body, headers=headers, meta=meta, **kwargs)
    if how.enctype == TEXT_PLAIN:
        headers = {**kwargs.pop("headers", {}), "Content-Type": TEXT_PLAIN}
        body = text_plain_body(entries, encoding)
        return Request(how.action, method="POST", body=body, headers=headers, meta=meta, **kwargs)
    request = FormRequest(
        how.action,
        method="POST",
        formdata=prepared(entries, encoding),
        encoding=encoding,
        meta=meta,
        **kwargs,
    )
    # FormRequest sets it only when there is data; browsers always send it.
    request.headers.setdefault(b"Content-Type", URLENCODED.encode())
    return request


def browser_blocker(
    form: HtmlForm, values: Mapping[str, str], submitter: FormControl | None = None
) -> str | None:
    """Why ``form`` cannot be submitted by clicking in the browser, or ``None``.

    Clicking needs a submit button whose result replaces the page (not one that
    opens in another window or frame); a value must be one a user can type (a
    text field, a textarea) or choose (an option of a select, a radio button's
    or checkbox's value), not a hidden field's, and one the field would hold
    as given (a date field empties "soon", a number field "ten").
    """
    submitter = submitter if submitter is not None else form.submit
    if submitter is None:
        return "no_submit_control"
    if form.submission(submitter).target.lower() not in ("", "_self"):
        return "other_window"
    for name, value in form.applicable(values).items():
        if _value_action(form, name, value) is None:
            return "value_not_typeable"
    if not (form.novalidate or submitter.formnovalidate) and missing_required(form, values):
        # The browser's constraint validation would refuse the click (HTML Standard,
        # 4.10.22.3 "interactively validate the constraints"): nothing to wait for.
        return "required_empty"
    return None


def missing_required(form: HtmlForm, values: Mapping[str, str]) -> list[str]:
    """The names of ``required`` fields the submission leaves empty (a text with
    no value, an unchecked checkbox, a radio group with none checked, a select
    whose chosen value is empty), supplied ``values`` counted."""
    supplied = form.applicable(values)
    missing: list[str] = []
    checked_groups = {
        c.name for c in form.controls if c.type == "radio" and c.checked and not c.disabled
    }
    for control in form.controls:
        name = control.name
        if not control.required or control.disabled or control.is_button or not name:
            continue
        if name in supplied:
            if supplied[name] == "" and name not in missing:
                missing.append(name)
            continue
        if control.type == "radio":
            empty = name not in checked_groups
        elif control.type == "checkbox":
            empty = not control.checked
        elif control.type == "select":
            empty = all(v == "" for v in control.selected_values())
        elif control.type == "hidden":
            empty = False  # not validated
        else:
            empty = control.value == ""
        if empty and name not in missing:
            missing.append(name)
    return missing


def browser_request(
    form: HtmlForm,
    values: Mapping[str, str],
    submitter: FormControl | None = None,
    variant: str = "default",
    **kwargs: Any,
) -> BrowserRequest:
    """The form's page, loaded again, with the values typed in or chosen and the
    submitter clicked.  Call :func:`browser_blocker` first: it says which forms
    this cannot do."""
    submitter = submitter if submitter is not None else form.submit
    assert submitter is not None, "browser_blocker() says no_submit_control"
    how = form.submission(submitter)
    entries = form.entries_for(submitter, values)
    defaults: dict[str, list[str]] = {}
    for name, value in form.entries_for(submitter):
        defaults.setdefault(name, []).append(value)
    actions: list[Fill | Choose | Click] = []
    for name, value in form.applicable(values).items():
        if defaults.get(name) == [value]:
            continue  # the page already has it
        action = _value_action(form, name, value)
        if action is not None:
            actions.append(action)
    meta = {
        **kwargs.pop("meta", {}),
        META_KEY: _submission(form, how.action, how.method, how.enctype, entries, variant, True),
        # A retry would click again: the first click may have submitted already
        # (a handler that posts by script), and a wait timeout would just repeat.
        "dont_retry": True,
    }
    return BrowserRequest(
        form.page_url,
        wait_for=mark_page,
        actions=[*actions, Click(control_script(form, submitter), wait_for=page_left)],
        dont_filter=True,  # the page itself was crawled already
        meta=meta,
        **kwargs,
    )


def _value_action(form: HtmlForm, name: str, value: str) -> Fill | Choose | None:
    """How a user puts ``value`` into the field ``name``: typing or choosing."""
    for control in form.controls:
        if control.name != name or control.disabled or control.is_button:
            continue
        if control.type == "textarea":
            return Fill(control_script(form, control), value)
        if control.type in TEXT_TYPES or control.type in _SET_BY_SCRIPT:
            # The input holds only what its sanitization keeps (a date field drops
            # "soon"): a value it would change goes over HTTP as given.
            held = sanitize(control.type, value, control.minimum, control.maximum, control.step)
            return Fill(control_script(form, control), value) if held == value else None
        if control.type == "select":
            return (
                Choose(control_script(form, control), value) if value in control.choices() else None
            )
        if control.type in ("radio", "checkbox"):
            if (control.value or "on") == value:
                return Choose(control_script(form, control), value)
            continue  # another radio of the group may have this value
        return None  # hidden, file: not for a user to set
    return None


def _submission(
    form: HtmlForm,
    action: str,
    method: str,
    enctype: str,
    entries: tuple[tuple[str, str], ...],
    variant: str,
    in_browser: bool,
) -> FormSubmission:
    return FormSubmission(
        form.page_url,
        action,
        method,
        in_browser,
        enctype=enctype,
        shape=form.identity(),
        entries=entries,
        variant=variant,
    )


# -- waits (run in the browser's worker thread) ----------------------------------


def mark_page(driver: WebDriver) -> bool:
    """Mark the loaded form page, so that :func:`page_left` can tell it was left."""
    return bool(driver.execute_script(_MARK_SCRIPT))


def page_left(driver: WebDriver) -> bool:
    """After the click: a new URL or document (or body), fully loaded."""
    # Selenium comes with the driver, not with every crawl that plans form submissions.
    from selenium.common.exceptions import JavascriptException, StaleElementReferenceException

    try:
        return bool(driver.execute_script(_LEFT_SCRIPT))
    except (JavascriptException, StaleElementReferenceException):
        return False  # the document went away under the script: navigating
