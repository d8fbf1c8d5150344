"""Finding the forms of an HTML page and what a browser would submit with them.

:func:`discover_forms` reads every ``<form>`` of a response (raw or rendered)
into an :class:`HtmlForm`: its action resolved against the page URL and
``<base>``, its method, and its *entries*, the ``(name, value)`` pairs a
browser sends when the user clicks the first submit control without typing
anything: hidden inputs, text defaults, checked checkboxes and radios (``on``
when they have no value), the selected options of selects (the first enabled
option of a single select that has none selected), textareas, and the clicked
submit control when it has a name.  Disabled controls, controls inside a
disabled ``<fieldset>`` and buttons that are not the submitter are left out,
as browsers leave them out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urldefrag, urljoin

from lxml import etree
from scrapy.utils.response import get_base_url
from w3lib.html import strip_html5_whitespace

if TYPE_CHECKING:
    from lxml.html import HtmlElement
    from scrapy.http import TextResponse

#: XPath predicate (relative to an element) for a form's submit controls.  The
#: same expression finds them here (lxml) and clicks them in the browser, so
#: both count them the same way.
SUBMIT_CONTROL = (
    "(self::button[not(@type) or translate(@type, 'SUBMIT', 'submit') = 'submit']"
    " or self::input[translate(@type, 'SUBMIT', 'submit') = 'submit'"
    " or translate(@type, 'IMAGE', 'image') = 'image'])"
    " and not(@disabled)"
)
# Compiled once: compiling an XPath costs more than running it on a small form.
_FORMS = etree.XPath("//form")
_SUBMIT_CONTROLS = etree.XPath(f"descendant::*[{SUBMIT_CONTROL}]")
_IDS = etree.XPath("//@id")
_NOT_SUBMITTED_TYPES = frozenset({"submit", "image", "reset", "button"})
_CONTROL_TAGS = ("input", "select", "textarea", "button")
_INPUT_TYPES = frozenset(
    {"hidden", "text", "search", "tel", "url", "email", "password", "date", "month", "week"}
    | {"time", "datetime-local", "number", "range", "color", "checkbox", "radio", "file"}
    | {"submit", "image", "reset", "button"}
)
#: Input types a user types into: the browser can fill them with keystrokes.
TEXT_TYPES = frozenset({"text", "search", "email", "url", "tel", "number", "password"})


@dataclass(frozen=True)
class SubmitControl:
    """The control whose click submits the form: the first enabled one."""

    name: str | None
    text: str  # what the user reads on it (a button's text, an input's value)
    entries: tuple[tuple[str, str], ...]  # what clicking it adds to the submission


@dataclass(frozen=True)
class HtmlForm:
    index: int  # among the page's forms, in document order
    element_id: str | None  # the form's id, when no other element of the page has it
    page_url: str
    action: str  # absolute, without fragment
    method: str  # GET, POST or DIALOG
    entries: tuple[tuple[str, str], ...]  # submitted as is: defaults, submitter included
    controls: tuple[tuple[str, str], ...]  # (name, type) of every named value control
    submit: SubmitControl | None
    has_password: bool
    target: str = ""  # the browsing context the result opens in ("" or "_self": this one)

    @property
    def field_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.controls)

    def control_type(self, name: str) -> str | None:
        """The type of the first control called ``name`` (``select``, ``textarea``, ``text``...)."""
        for control_name, kind in self.controls:
            if control_name == name:
                return kind
        return None

    def applicable(self, values: Mapping[str, str]) -> dict[str, str]:
        """The supplied ``values`` whose names are fields of this form."""
        names = self.field_names
        return {name: value for name, value in values.items() if name in names}

    def data(self, values: Mapping[str, str] | None = None) -> tuple[tuple[str, str], ...]:
        """The entries with supplied values put in: one entry per supplied field name,
        in place of that field's defaults (or appended when it had none, such as an
        unchecked checkbox)."""
        supplied = self.applicable(values or {})
        if not supplied:
            return self.entries
        data: list[tuple[str, str]] = []
        done: set[str] = set()
        for name, value in self.entries:
            if name not in supplied:
                data.append((name, value))
            elif name not in done:
                data.append((name, supplied[name]))
                done.add(name)
        data.extend((name, value) for name, value in supplied.items() if name not in done)
        return tuple(data)


def discover_forms(response: TextResponse) -> list[HtmlForm]:
    """Every form of an HTML response, in document order."""
    root = response.selector.root
    if not hasattr(root, "xpath"):
        return []
    return find_forms(root, page_url=response.url, base_url=get_base_url(response))


def find_forms(root: HtmlElement, page_url: str, base_url: str) -> list[HtmlForm]:
    elements = _FORMS(root)
    ids = Counter(str(i) for i in _IDS(root)) if any(f.get("id") for f in elements) else Counter()
    return [_read_form(form, index, page_url, base_url, ids) for index, form in enumerate(elements)]


def _read_form(
    form: HtmlElement, index: int, page_url: str, base_url: str, ids: Counter[str]
) -> HtmlForm:
    submitters = _SUBMIT_CONTROLS(form)
    submitter = submitters[0] if submitters else None
    entries: list[tuple[str, str]] = []
    controls: list[tuple[str, str]] = []
    has_password = False
    for element in form.iter(*_CONTROL_TAGS):
        tag = element.tag
        kind = _control_type(element)
        if tag == "input" and kind == "password":
            has_password = True
        if _disabled(element):
            continue
        if element is submitter:
            entries.extend(_submitter_entries(element))
            continue
        name = element.get("name")
        if not name or tag == "button" or kind in _NOT_SUBMITTED_TYPES:
            continue
        controls.append((name, kind))
        entries.extend((name, value) for value in _values(element, kind))

    method = (form.get("method") or "get").strip().lower()
    action = form.get("action")
    target = form.get("target") or ""
    if submitter is not None:
        method = (submitter.get("formmethod") or method).strip().lower()
        action = submitter.get("formaction", action)
        target = submitter.get("formtarget", target)
    form_id = form.get("id")
    unique_id = form_id if form_id and ids[form_id] == 1 else None
    return HtmlForm(
        index=index,
        element_id=unique_id,
        page_url=page_url,
        action=_resolve_action(action, page_url, base_url),
        method={"post": "POST", "dialog": "DIALOG"}.get(method, "GET"),
        entries=tuple(entries),
        controls=tuple(controls),
        submit=_submit_control(submitter) if submitter is not None else None,
        has_password=has_password,
        target=target.strip(),
    )


def _control_type(element: HtmlElement) -> str:
    if element.tag == "input":
        kind = (element.get("type") or "").strip().lower()
        return kind if kind in _INPUT_TYPES else "text"  # no type, or one browsers do not know
    if element.tag == "button":
        return (element.get("type") or "submit").strip().lower()
    return str(element.tag)  # select, textarea


def _disabled(element: HtmlElement) -> bool:
    if element.get("disabled") is not None:
        return True
    return any(
        a.tag == "datalist" or a.get("disabled") is not None
        for a in element.iterancestors("fieldset", "datalist")
    )


def _values(element: HtmlElement, kind: str) -> list[str]:
    if element.tag == "select":
        return _selected(element)
    if element.tag == "textarea":
        text = element.text_content()
        return [text[1:] if text.startswith("\n") else text]
    if kind in ("checkbox", "radio"):
        return [element.get("value", "on")] if element.get("checked") is not None else []
    if kind == "file":
        return [""]  # no file chosen: the name with an empty file name
    return [element.get("value", "")]


def _selected(select: HtmlElement) -> list[str]:
    options = [o for o in select.iter("option") if next(o.iterancestors("datalist"), None) is None]
    chosen = [o for o in options if o.get("selected") is not None]
    multiple = select.get("multiple") is not None
    if multiple:
        return [_option_value(o) for o in chosen if not _option_disabled(o)]
    if chosen:
        last = chosen[-1]  # a single select keeps the last option marked selected
        return [] if _option_disabled(last) else [_option_value(last)]
    size = select.get("size", "").strip()
    if size.isdigit() and int(size) > 1:
        return []  # a list box shows no default choice
    for option in options:
        if not _option_disabled(option):
            return [_option_value(option)]
    return []


def _option_disabled(option: HtmlElement) -> bool:
    return option.get("disabled") is not None or any(
        group.get("disabled") is not None for group in option.iterancestors("optgroup")
    )


def _option_value(option: HtmlElement) -> str:
    value = option.get("value")
    return value if value is not None else " ".join(option.text_content().split())


def _submitter_entries(element: HtmlElement) -> list[tuple[str, str]]:
    name = element.get("name")
    if _control_type(element) == "image":
        prefix = f"{name}." if name else ""
        return [(f"{prefix}x", "0"), (f"{prefix}y", "0")]
    return [(name, element.get("value", ""))] if name else []


def _submit_control(element: HtmlElement) -> SubmitControl:
    if element.tag == "button":
        text = element.text_content()
    elif _control_type(element) == "image":
        text = element.get("alt", "")
    else:
        text = element.get("value", "Submit")
    return SubmitControl(
        name=element.get("name") or None,
        text=" ".join(text.split()),
        entries=tuple(_submitter_entries(element)),
    )


def _resolve_action(action: str | None, page_url: str, base_url: str) -> str:
    """An empty or missing action submits to the page itself (not to ``<base>``)."""
    action = strip_html5_whitespace(action or "")
    url = urljoin(base_url, action) if action else page_url
    return urldefrag(url).url
