"""One model of an HTML form, whoever read it: the served HTML or the live page.

A page's forms are read into :class:`HtmlForm` objects by two readers: the
HTML as served (:func:`crawler.forms.discovery.find_forms`, lxml) and the live
document of a rendered page (:func:`crawler.forms.live.live_forms`, the
browser's own DOM: its form owners, its current values).  Both give the same
thing: the form's own attributes and its *associated controls*
(:class:`FormControl`), in tree order, each with the state a user would see.
What is submitted is computed from that here, once, for every use (discovery,
submission over HTTP, submission in the browser, login):

* :meth:`HtmlForm.entries_for` is the HTML Standard's *constructing the entry
  list* (HTML Standard, 4.10.22.4): disabled controls, unchecked checkables,
  buttons other than the submitter and nameless controls are left out; a
  select gives its selected options; an image button its ``x``/``y``; a file
  input with no file an empty file; ``_charset_`` hidden inputs the
  submission's encoding; ``dirname`` adds the text's direction.
* :meth:`HtmlForm.submission` is the form submission algorithm's choice of
  action, method, encoding type and target, with the submitter's
  ``formaction``/``formmethod``/``formenctype``/``formtarget`` in front of the
  form's (HTML Standard, 4.10.22.3 Form submission algorithm).

Values supplied by the crawl (``--form-value``, sample values, the options
being explored) replace what the page has: one entry per supplied name, at
the place of the first control with that name, instead of that name's
defaults (a radio group's checked radio, a select's selection, a text's
value, or nothing at all for an unchecked checkbox).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

#: Input types that submit the form when clicked (with ``button type=submit``).
SUBMIT_TYPES = frozenset({"submit", "image"})
#: Input types a user types into: the browser can fill them with keystrokes.
TEXT_TYPES = frozenset(
    {"text", "search", "email", "url", "tel", "number", "password"}
    | {"date", "month", "week", "time", "datetime-local"}
)
#: Controls whose value is chosen among options: explored one option at a time.
CHOICE_TYPES = frozenset({"select", "radio"})
_BUTTON_TYPES = frozenset({"submit", "reset", "button"})
_METHODS = {"get": "GET", "post": "POST", "dialog": "DIALOG"}
URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
TEXT_PLAIN = "text/plain"
_ENCTYPES = frozenset({URLENCODED, MULTIPART, TEXT_PLAIN})
_NEWLINES = re.compile(r"\r\n|\r|\n")
# Controls whose dirname= adds the text's direction (HTML Standard, "the dirname attribute").
_DIRNAME_TYPES = frozenset({"text", "search", "tel", "url", "email", "password", "hidden"}) | {
    "textarea"
}


@dataclass(frozen=True)
class Option:
    """An ``<option>`` of a select (``label``: the text a user reads)."""

    value: str
    label: str
    selected: bool
    disabled: bool  # itself or its optgroup


@dataclass(frozen=True)
class FormControl:
    """A control associated with a form (its *form owner*), as a user would find it.

    ``index`` is the control's position among the form's associated controls
    in tree order (image buttons included): the live page is searched for the
    same position to fill or click it.  ``type`` is the input's type state
    (``text`` for a missing or unknown type), ``select``, ``textarea``, or for
    a ``<button>`` its type (``submit``, ``reset``, ``button``); ``tag`` tells
    ``<button>`` from ``<input>``.  ``value`` is the value a browser holds (a
    text's sanitized value, a checkable's ``value`` attribute or ``on``).
    """

    index: int
    tag: str
    type: str
    name: str
    value: str = ""
    checked: bool = False
    disabled: bool = False
    options: tuple[Option, ...] = ()
    multiple: bool = False
    suggestions: tuple[str, ...] = ()  # the options of the <datalist> an input's list= names
    dirname: str = ""
    required: bool = False
    minimum: str = ""  # min, max and step attributes, for sample values
    maximum: str = ""
    step: str = ""
    element_id: str = ""
    autocomplete: str = ""
    text: str = ""  # what the user reads on a button: its text, value or alt
    # A submitter's own overrides (None: the attribute is absent).
    formaction: str | None = None  # resolved, absolute
    formmethod: str | None = None
    formenctype: str | None = None
    formtarget: str | None = None
    formnovalidate: bool = False

    @property
    def is_submitter(self) -> bool:
        """Whether clicking it submits its form (HTML Standard: a *submit button*)."""
        if self.tag == "button":
            return self.type == "submit"
        return self.tag == "input" and self.type in SUBMIT_TYPES

    @property
    def is_button(self) -> bool:
        return self.tag == "button" or (self.tag == "input" and self.type in _BUTTON_TYPES)

    def selected_values(self) -> list[str]:
        """What a select submits: its selected, enabled options' values."""
        return [o.value for o in self.options if o.selected and not o.disabled]

    def choices(self) -> list[str]:
        """The values a user could pick for a select: its enabled options'."""
        return [o.value for o in self.options if not o.disabled]

    def label_of(self, value: str) -> str:
        for option in self.options:
            if option.value == value:
                return option.label
        return value


@dataclass(frozen=True)
class Submission:
    """Where and how a form goes with a given submitter (HTML Standard, 4.10.22.3)."""

    action: str  # absolute, without fragment
    method: str  # GET, POST or DIALOG
    enctype: str  # one of URLENCODED, MULTIPART, TEXT_PLAIN (GET always uses URLENCODED)
    target: str  # "" or "_self": the same browsing context


@dataclass(frozen=True)
class HtmlForm:
    """A ``<form>`` and its associated controls.

    ``index`` is the form's position among the page's ``<form>`` elements in
    tree order; ``element_id`` its id when no other element of the page has
    it.  ``action`` is the form's own ``action`` resolved against the page
    (empty: the page's URL); ``method`` ``GET``/``POST``/``DIALOG``;
    ``enctype`` the form's encoding type; ``target`` the form's ``target``
    (else the page's ``<base target>``); ``encoding`` the character encoding
    the form submits in (``accept-charset``, else the page's, as a Python
    codec name).  ``live``: read from a rendered page's live document.
    """

    index: int
    element_id: str | None
    page_url: str
    form_action: str
    form_method: str
    form_enctype: str
    form_target: str
    encoding: str
    controls: tuple[FormControl, ...]
    novalidate: bool = False
    live: bool = False
    _names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = frozenset(c.name for c in self.controls if c.name and not c.is_button)
        object.__setattr__(self, "_names", names)

    @property
    def action(self) -> str:
        """Where the default submission goes (absolute, no fragment)."""
        return self.submission().action

    @property
    def method(self) -> str:
        return self.submission().method

    @property
    def enctype(self) -> str:
        return self.submission().enctype

    @property
    def target(self) -> str:
        return self.submission().target

    # -- the controls ---------------------------------------------------------------

    @property
    def submitters(self) -> tuple[FormControl, ...]:
        """The enabled submit buttons, in tree order (the first is the default button)."""
        return tuple(c for c in self.controls if c.is_submitter and not c.disabled)

    @property
    def submit(self) -> FormControl | None:
        """The *default button*: the first enabled submit button, clicked to submit."""
        submitters = self.submitters
        return submitters[0] if submitters else None

    @property
    def has_password(self) -> bool:
        return any(c.tag == "input" and c.type == "password" for c in self.controls)

    @property
    def field_names(self) -> frozenset[str]:
        """The names of the value controls (not buttons)."""
        return self._names

    def control(self, name: str) -> FormControl | None:
        """The first value control called ``name``."""
        for control in self.controls:
            if control.name == name and not control.is_button:
                return control
        return None

    def control_type(self, name: str) -> str | None:
        """The type of the first control called ``name`` (``select``, ``textarea``, ``text``...)."""
        control = self.control(name)
        return control.type if control is not None else None

    def applicable(self, values: Mapping[str, str]) -> dict[str, str]:
        """The supplied ``values`` whose names are fields of this form."""
        names = self._names
        return {name: value for name, value in values.items() if name in names}

    # -- submitting -------------------------------------------------------------

    def submission(self, submitter: FormControl | None = None) -> Submission:
        """Action, method, encoding type and target with ``submitter`` clicked
        (default: the default button)."""
        submitter = submitter if submitter is not None else self.submit
        action, method = self.form_action, self.form_method
        enctype, target = self.form_enctype, self.form_target
        if submitter is not None:
            if submitter.formaction is not None:
                action = submitter.formaction
            if submitter.formmethod is not None:
                method = _METHODS.get(submitter.formmethod.strip().lower(), "GET")
            if submitter.formenctype is not None:
                enctype = normalize_enctype(submitter.formenctype)
            if submitter.formtarget is not None:
                target = submitter.formtarget.strip()
        return Submission(action, method, URLENCODED if method == "GET" else enctype, target)

    @property
    def entries(self) -> tuple[tuple[str, str], ...]:
        """What clicking the default button sends, nothing typed."""
        return self.entries_for()

    def data(self, values: Mapping[str, str] | None = None) -> tuple[tuple[str, str], ...]:
        """The default button's entries with the supplied ``values`` put in."""
        return self.entries_for(values=values)

    def entries_for(
        self, submitter: FormControl | None = None, values: Mapping[str, str] | None = None
    ) -> tuple[tuple[str, str], ...]:
        """The entry list (HTML Standard, 4.10.22.4) with ``submitter`` (default: the
        default button) clicked and the supplied ``values`` (names of this form's
        fields only) in place of those fields' defaults.  A file input with no file
        gives an entry with an empty value (an empty file named ``""``)."""
        submitter = submitter if submitter is not None else self.submit
        supplied = self.applicable(values or {})
        charset = _charset_name(self.encoding)
        entries: list[tuple[str, str]] = []
        done: set[str] = set()
        for control in self.controls:
            if control.disabled:
                continue
            name = control.name
            if control.is_button or (control.tag == "input" and control.type == "image"):
                if control is submitter:
                    entries.extend(_submitter_entries(control))
                continue
            if not name:
                continue
            if name in supplied:
                if name not in done:
                    entries.append((name, supplied[name]))
                    done.add(name)
                continue
            entries.extend(_control_entries(control, charset))
        return tuple(entries)

    def identity(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """The form's *shape*: method, action (scheme, host and path) and its
        controls' names and types, values left out.  Copies of one form on many
        pages, or with other hidden tokens, have one shape."""
        parts = urlsplit(self.form_action)
        shape = tuple((c.name, c.type) for c in self.controls if c.name or c.is_submitter)
        return self.form_method, f"{parts.scheme}://{parts.netloc}{parts.path}", shape


def normalize_enctype(value: str | None) -> str:
    """An ``enctype``/``formenctype`` value's state; invalid or missing: URL-encoded.
    Enumerated attributes are matched without trimming (``" multipart/form-data"``
    is invalid), as Chromium does."""
    value = (value or "").lower()
    return value if value in _ENCTYPES else URLENCODED


def normalize_method(value: str | None) -> str:
    """A ``method`` attribute's state: ``GET``, ``POST`` or ``DIALOG`` (invalid: GET)."""
    return _METHODS.get((value or "").strip().lower(), "GET")


def normalize_newlines(text: str) -> str:
    """Line breaks as CRLF, as every form encoding sends them (HTML Standard,
    4.10.22.8 "convert to a list of name-value pairs")."""
    return _NEWLINES.sub("\r\n", text)


def form_encoding(accept_charset: str | None, page_encoding: str) -> str:
    """The encoding a form submits in (HTML Standard, 4.10.22.5 "pick an encoding
    for the form"): the first label of ``accept-charset`` that names a known
    encoding, else the page's; UTF-16 and UTF-32 become UTF-8 (their output
    encoding).  Labels are split on whitespace and, as Chromium does, on commas."""
    for label in (accept_charset or "").replace(",", " ").split():
        try:
            name = codecs.lookup(label).name
        except LookupError:
            continue
        return "utf-8" if name.startswith(("utf-16", "utf-32")) else name
    return page_encoding or "utf-8"


# Python codec names whose WHATWG Encoding Standard name is not the generic
# ISO-8859-N / windows-125N spelling (browsers read iso-8859-1, -9 and -11 labels
# as windows-1252, -1254 and -874).
_WHATWG_NAMES = {
    "utf-8": "UTF-8",
    "iso8859-1": "windows-1252",
    "iso8859-9": "windows-1254",
    "iso8859-11": "windows-874",
    "cp874": "windows-874",
    "cp866": "IBM866",
    "mac-roman": "macintosh",
    "koi8-r": "KOI8-R",
    "koi8-u": "KOI8-U",
    "shift_jis": "Shift_JIS",
    "euc_jp": "EUC-JP",
    "iso2022_jp": "ISO-2022-JP",
    "euc_kr": "EUC-KR",
    "gbk": "GBK",
    "big5": "Big5",
}
_GENERIC_NAMES = (
    (re.compile(r"iso8859-(\d+)\Z"), "ISO-8859-"),
    (re.compile(r"cp(125\d)\Z"), "windows-"),
)


def _charset_name(encoding: str) -> str:
    """The name ``_charset_`` sends: the encoding's WHATWG name (Encoding
    Standard), as browsers send it (``ISO-8859-2``, ``windows-1252``, ``UTF-8``)."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return encoding
    if name in _WHATWG_NAMES:
        return _WHATWG_NAMES[name]
    for pattern, prefix in _GENERIC_NAMES:
        found = pattern.match(name)
        if found:
            return prefix + found[1]
    return name


def _submitter_entries(control: FormControl) -> list[tuple[str, str]]:
    if control.tag == "input" and control.type == "image":
        # The click's coordinates; a submission not made by a pointer sends 0, 0.
        prefix = f"{control.name}." if control.name else ""
        return [(f"{prefix}x", "0"), (f"{prefix}y", "0")]
    return [(control.name, control.value)] if control.name else []


def _control_entries(control: FormControl, charset: str) -> list[tuple[str, str]]:
    name, kind = control.name, control.type
    if kind == "select":
        return [(name, value) for value in control.selected_values()]
    if kind in ("checkbox", "radio"):
        return [(name, control.value or "on")] if control.checked else []
    if kind == "hidden" and name.lower() == "_charset_":
        return [(name, charset)]
    entries = [(name, control.value)]
    if control.dirname and kind in _DIRNAME_TYPES:
        entries.append((control.dirname, "ltr"))
    return entries
