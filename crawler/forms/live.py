"""Reading the forms of a rendered page's live document into the one form model.

The render runs ``crawler/browser/js/live_forms.js`` (with the live links, in
one WebDriver call) and keeps its JSON in
:attr:`~crawler.browser.result.RenderResult.live_forms`;
:func:`live_forms` turns it into :class:`~crawler.forms.model.HtmlForm`
objects (``live=True``), the same model the served HTML gives
(:mod:`crawler.forms.discovery`), so every use of forms works on either.

What the live page knows and the served HTML does not: form owners as the
browser's parser set them (controls joined to a ``<form>`` a ``<table>``
foster-parented, which serialising and re-parsing the page loses), values a
script set, controls a script added.

:func:`control_script` is the JavaScript that finds a control again in the
page (a locator for :class:`~crawler.browser.request.Fill`, ``Click`` and
``Choose``): by the form's id or position and the control's position among
the form's controls, checked against its name, so a page that changed
between the read and the click fails loudly rather than filling another field.
"""

from __future__ import annotations

import codecs
import json
from typing import TYPE_CHECKING, Any

from crawler.forms.discovery import resolve_action
from crawler.forms.model import (
    FormControl,
    HtmlForm,
    Option,
    form_encoding,
    normalize_enctype,
    normalize_method,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Selector prefix the browser actions read as "run this script, it returns the element".
SCRIPT_PREFIX = "script:"

_FIND = """
const query = Document.prototype.querySelectorAll;
const getAttr = Element.prototype.getAttribute;
const formId = %s, formIndex = %d, controlIndex = %d, name = %s;
let form = null;
if (formId !== null) {
  form = Array.from(query.call(document, "form")).find((f) => getAttr.call(f, "id") === formId);
} else {
  form = query.call(document, "form")[formIndex] || null;
}
if (!form) return null;
let i = 0;
for (const el of query.call(document, "input, select, textarea, button")) {
  if (el.closest("datalist") || el.form !== form) continue;
  if (i === controlIndex) return (getAttr.call(el, "name") || "") === name ? el : null;
  i += 1;
}
return null;
"""


def live_forms(data: Mapping[str, Any] | None, page_url: str) -> list[HtmlForm]:
    """The forms of a live read (``None`` or malformed: no forms)."""
    if not isinstance(data, dict):
        return []
    charset = _codec(str(data.get("charset") or "utf-8"))
    forms: list[HtmlForm] = []
    for raw in data.get("forms") or ():
        try:
            forms.append(_form(raw, page_url, charset))
        except (KeyError, TypeError, ValueError):
            continue  # a page that broke the read: skip that form
    return forms


def parse(text: str | None) -> dict[str, Any] | None:
    """The live read's JSON string, parsed (``None`` when it is not a JSON object)."""
    try:
        data = json.loads(text) if text else None
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def control_script(form: HtmlForm, control: FormControl) -> str:
    """A ``script:`` selector that returns ``control`` of ``form`` in the live page."""
    body = _FIND % (
        json.dumps(form.element_id),
        form.index,
        control.index,
        json.dumps(control.name),
    )
    return SCRIPT_PREFIX + body


def _codec(charset: str) -> str:
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return "utf-8"


def _form(raw: Mapping[str, Any], page_url: str, charset: str) -> HtmlForm:
    controls = tuple(_control(c, i) for i, c in enumerate(raw.get("controls") or ()))
    action = str(raw.get("action") or "")
    return HtmlForm(
        index=int(raw["index"]),
        element_id=raw.get("id") or None,
        page_url=page_url,
        form_action=resolve_action(action, page_url, page_url),
        form_method=normalize_method(raw.get("method")),
        form_enctype=normalize_enctype(raw.get("enctype")),
        form_target=str(raw.get("target") or "").strip(),
        encoding=form_encoding(raw.get("acceptCharset"), charset),
        controls=controls,
        novalidate=bool(raw.get("novalidate")),
        live=True,
    )


def _control(raw: Mapping[str, Any], index: int) -> FormControl:
    def text(key: str) -> str:
        value = raw.get(key)
        return "" if value is None else str(value)

    def optional(key: str) -> str | None:
        value = raw.get(key)
        return None if value is None else str(value)

    formaction = optional("formaction")

    return FormControl(
        index=index,
        tag=text("tag"),
        type=text("type"),
        name=text("name"),
        value=text("value"),
        checked=bool(raw.get("checked")),
        disabled=bool(raw.get("disabled")),
        options=tuple(
            Option(str(value), str(label), bool(selected), bool(disabled))
            for value, label, selected, disabled in raw.get("options") or ()
        ),
        multiple=bool(raw.get("multiple")),
        suggestions=tuple(str(s) for s in raw.get("suggestions") or ()),
        dirname=text("dirname"),
        required=bool(raw.get("required")),
        minimum=text("min"),
        maximum=text("max"),
        step=text("step"),
        element_id=text("id"),
        autocomplete=text("autocomplete"),
        text=text("text"),
        formaction=None if formaction is None else resolve_action(formaction, "", ""),
        formmethod=optional("formmethod"),
        formenctype=optional("formenctype"),
        formtarget=optional("formtarget"),
        formnovalidate=bool(raw.get("formnovalidate")),
    )
