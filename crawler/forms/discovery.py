"""Reading the forms of served HTML (lxml) into :class:`~crawler.forms.model.HtmlForm`.

:func:`discover_forms` reads every ``<form>`` of a response; the controls of
each are its *associated* controls (HTML Standard, 4.10.18.3 Association of
controls and forms): a control with a ``form`` attribute belongs to the
``<form>`` whose id that is (to no form when the id names no form, even
inside another form), any other control to its nearest ``<form>`` ancestor.
Controls inside ``<template>`` contents or a ``<datalist>`` belong to no form.
A control is disabled when it has ``disabled`` or is inside a disabled
``<fieldset>``, except inside that fieldset's first ``<legend>`` (HTML
Standard, 4.10.19.5 "actually disabled").  Values are the browser's
sanitized values (:func:`crawler.forms.values.sanitize`).

A rendered page's forms are read from its live document instead
(:mod:`crawler.forms.live`): the browser's own form owners (a ``<form>``
inside a ``<table>`` is foster-parented out of it and its controls are joined
to it only by the parser, which re-parsing the serialised page cannot redo).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urldefrag, urljoin

from lxml import etree
from scrapy.utils.response import get_base_url
from w3lib.html import strip_html5_whitespace

from crawler.forms.model import (
    FormControl,
    HtmlForm,
    Option,
    form_encoding,
    normalize_enctype,
    normalize_method,
)
from crawler.forms.values import sanitize

if TYPE_CHECKING:
    from lxml.html import HtmlElement
    from scrapy.http import TextResponse

_CONTROL_TAGS = ("input", "select", "textarea", "button")
_INPUT_TYPES = frozenset(
    {"hidden", "text", "search", "tel", "url", "email", "password", "date", "month", "week"}
    | {"time", "datetime-local", "number", "range", "color", "checkbox", "radio", "file"}
    | {"submit", "image", "reset", "button"}
)
_BASE_TARGET = etree.XPath("(//base[@target])[1]/@target")
_ASCII_SPACES = re.compile(r"[\t\n\f\r ]+")


def discover_forms(response: TextResponse) -> list[HtmlForm]:
    """Every form of an HTML response, in document order."""
    root = response.selector.root
    if not hasattr(root, "xpath"):
        return []
    return find_forms(
        root,
        page_url=response.url,
        base_url=get_base_url(response),
        encoding=getattr(response, "encoding", "utf-8"),
    )


def find_forms(
    root: HtmlElement, page_url: str, base_url: str, encoding: str = "utf-8"
) -> list[HtmlForm]:
    """The forms of a parsed document, with their associated controls."""
    forms = list(root.iter("form"))
    if not forms:
        return []
    ids: dict[str, HtmlElement] = {}
    id_counts: Counter[str] = Counter()
    for element in root.iter():
        element_id = element.get("id") if isinstance(element.tag, str) else None
        if element_id:
            id_counts[element_id] += 1
            ids.setdefault(element_id, element)
    owned: dict[HtmlElement, list[HtmlElement]] = defaultdict(list)
    for control in root.iter(*_CONTROL_TAGS):
        owner = _form_owner(control, ids)
        if owner is not None:
            owned[owner].append(control)
    base_target = _BASE_TARGET(root)
    target = str(base_target[0]).strip() if base_target else ""
    datalists = _datalists(root)
    return [
        _read_form(
            form, index, owned[form], page_url, base_url, encoding, id_counts, target, datalists
        )
        for index, form in enumerate(forms)
    ]


def _form_owner(control: HtmlElement, ids: dict[str, HtmlElement]) -> HtmlElement | None:
    if next(control.iterancestors("template", "datalist"), None) is not None:
        return None  # inert template contents; datalist contents are never submitted
    form_id = control.get("form")
    if form_id is not None:
        owner = ids.get(form_id)
        return owner if owner is not None and owner.tag == "form" else None
    return next(control.iterancestors("form"), None)


def _read_form(
    form: HtmlElement,
    index: int,
    elements: list[HtmlElement],
    page_url: str,
    base_url: str,
    page_encoding: str,
    id_counts: Counter[str],
    base_target: str,
    datalists: dict[str, tuple[str, ...]],
) -> HtmlForm:
    controls = _one_checked_radio(
        [_control(element, i, page_url, base_url, datalists) for i, element in enumerate(elements)]
    )
    form_id = form.get("id")
    target = form.get("target")
    return HtmlForm(
        index=index,
        element_id=form_id if form_id and id_counts[form_id] == 1 else None,
        page_url=page_url,
        form_action=resolve_action(form.get("action"), page_url, base_url),
        form_method=normalize_method(form.get("method")),
        form_enctype=normalize_enctype(form.get("enctype")),
        form_target=(target if target is not None else base_target).strip(),
        encoding=form_encoding(form.get("accept-charset"), page_encoding),
        controls=controls,
        novalidate=form.get("novalidate") is not None,
    )


def _one_checked_radio(controls: list[FormControl]) -> tuple[FormControl, ...]:
    """At most one checked radio button per group (same form owner, same name):
    each ``checked`` radio the parser inserts unchecks the others of its group,
    so the last one in tree order stays checked (HTML Standard, 4.10.5.1.18
    Radio Button state)."""
    last: dict[str, int] = {}
    for position, control in enumerate(controls):
        if control.tag == "input" and control.type == "radio" and control.name and control.checked:
            last[control.name] = position
    return tuple(
        replace(control, checked=False)
        if control.tag == "input"
        and control.type == "radio"
        and control.checked
        and last.get(control.name, position) != position
        else control
        for position, control in enumerate(controls)
    )


def _datalists(root: HtmlElement) -> dict[str, tuple[str, ...]]:
    lists: dict[str, tuple[str, ...]] = {}
    for datalist in root.iter("datalist"):
        list_id = datalist.get("id")
        if list_id and list_id not in lists:
            lists[list_id] = tuple(
                _option_value(o) for o in datalist.iter("option") if not _option_disabled(o)
            )
    return lists


def _control(
    element: HtmlElement,
    index: int,
    page_url: str,
    base_url: str,
    datalists: dict[str, tuple[str, ...]],
) -> FormControl:
    tag = str(element.tag)
    kind = control_type(element)
    get = element.get
    minimum, maximum, step = get("min") or "", get("max") or "", get("step") or ""
    value = ""
    options: tuple[Option, ...] = ()
    text = ""
    if tag == "select":
        options = _options(element)
    elif tag == "textarea":
        value = element.text_content()
        value = value[1:] if value.startswith("\n") else value  # the parser drops it
    elif tag == "button":
        value = get("value", "")
        text = " ".join(element.text_content().split())
    elif kind in ("checkbox", "radio"):
        value = get("value", "on")
    elif kind == "image":
        text = get("alt", "")
    elif kind == "file":
        value = ""  # no file chosen
    else:
        value = sanitize(kind, get("value", ""), minimum, maximum, step)
        if kind == "submit":
            text = get("value", "Submit")
        elif kind == "reset":
            text = get("value", "Reset")
    submitter = (tag == "button" and kind == "submit") or (
        tag == "input" and kind in ("submit", "image")
    )
    formaction = get("formaction") if submitter else None
    return FormControl(
        index=index,
        tag=tag,
        type=kind,
        name=get("name") or "",
        value=value,
        checked=get("checked") is not None,
        disabled=_disabled(element),
        options=options,
        multiple=tag == "select" and get("multiple") is not None,
        suggestions=datalists.get(get("list") or "", ()) if tag == "input" else (),
        dirname=(get("dirname") or "") if tag in ("input", "textarea") else "",
        required=get("required") is not None,
        minimum=minimum,
        maximum=maximum,
        step=step,
        element_id=get("id") or "",
        autocomplete=get("autocomplete") or "",
        text=" ".join(text.split()),
        formaction=resolve_action(formaction, page_url, base_url)
        if formaction is not None
        else None,
        formmethod=get("formmethod") if submitter else None,
        formenctype=get("formenctype") if submitter else None,
        formtarget=get("formtarget") if submitter else None,
        formnovalidate=submitter and get("formnovalidate") is not None,
    )


def control_type(element: HtmlElement) -> str:
    """An input's type state (``text`` for a missing or unknown type), a button's
    type (``submit`` by default), ``select`` or ``textarea``."""
    if element.tag == "input":
        kind = (element.get("type") or "").strip().lower()
        return kind if kind in _INPUT_TYPES else "text"
    if element.tag == "button":
        kind = (element.get("type") or "").strip().lower()
        return kind if kind in ("submit", "reset", "button") else "submit"
    return str(element.tag)


def _disabled(element: HtmlElement) -> bool:
    """HTML Standard, 4.10.19.5: ``disabled``, or inside a disabled fieldset but
    not inside that fieldset's first legend."""
    if element.get("disabled") is not None:
        return True
    for fieldset in element.iterancestors("fieldset"):
        if fieldset.get("disabled") is None:
            continue
        legend = next((child for child in fieldset if child.tag == "legend"), None)
        if legend is None or not any(a is legend for a in element.iterancestors("legend")):
            return True
    return False


def _options(select: HtmlElement) -> tuple[Option, ...]:
    """A select's options with the selectedness a browser gives them (HTML
    Standard, 4.10.7 "selectedness setting algorithm")."""
    elements = [o for o in select.iter("option")]
    marked = [o.get("selected") is not None for o in elements]
    multiple = select.get("multiple") is not None
    if not multiple:
        chosen = max((i for i, m in enumerate(marked) if m), default=None)
        size = (select.get("size") or "").strip()
        display_size = int(size) if size.isdigit() and int(size) > 0 else 1
        if chosen is None and display_size == 1:
            # A drop-down always shows something: the first enabled option.
            chosen = next(
                (i for i, o in enumerate(elements) if not _option_disabled(o)),
                None,
            )
        marked = [i == chosen for i in range(len(elements))]
    return tuple(
        Option(
            value=_option_value(o),
            label=" ".join((o.get("label") or o.text_content()).split()),
            selected=marked[i],
            disabled=_option_disabled(o),
        )
        for i, o in enumerate(elements)
    )


def _option_disabled(option: HtmlElement) -> bool:
    return option.get("disabled") is not None or any(
        group.get("disabled") is not None for group in option.iterancestors("optgroup")
    )


def _option_value(option: HtmlElement) -> str:
    """``value``, else the text with ASCII whitespace stripped and collapsed (HTML
    Standard, 4.10.10 The option element: a no-break space is kept)."""
    value = option.get("value")
    if value is not None:
        return value
    return _ASCII_SPACES.sub(" ", option.text_content()).strip(" ")


def resolve_action(action: str | None, page_url: str, base_url: str) -> str:
    """An empty or missing action submits to the page itself (not to ``<base>``)."""
    action = strip_html5_whitespace(action or "")
    url = urljoin(base_url, action) if action else page_url
    return urldefrag(url).url
