"""The submissions of one form a crawl tries: its defaults, then its variants.

A search or filter form hides pages behind its other choices.  Besides the
default submission (the default button, the page's values), a form is
submitted (HTML Standard terms):

* with each other *submit button* that goes elsewhere or sends something
  else (``formaction``, ``formmethod``, its own name/value);
* with each other option of each ``<select>`` (a multiple select: each option
  alone) and each other value of each radio button group, one control changed
  at a time from the defaults, round-robin over the controls so a long select
  does not use up the budget of the others.

At most ``CRAWLER_FORM_VARIANTS`` variants per form shape (across pages).
Nothing dangerous is tried: a submit button, option or radio whose text,
name, value or ``formaction`` matches the danger pattern
(:mod:`crawler.safety`: delete, remove, purchase, unsubscribe, log out...)
is left out.  Values the user supplied (``--form-value``) are never varied.

Sample values (:func:`samples`) are typed into empty fields a user would
fill (e-mail, number, date, URL, telephone, search, text) only when the
policy says so: ``--forms all``, or a form ``CRAWLER_SUBMIT_FORMS`` names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import TYPE_CHECKING

from crawler.forms.values import SAMPLE_TYPES, sample
from crawler.safety import matches

if TYPE_CHECKING:
    from collections.abc import Mapping

    from crawler.forms.model import FormControl, HtmlForm


@dataclass(frozen=True)
class Variant:
    """One submission of a form: ``submitter`` clicked, ``values`` put in."""

    label: str  # "default", "submitter: Advanced", "cat=maps"
    submitter: FormControl | None
    values: Mapping[str, str] = field(default_factory=dict)
    dangerous: bool = False  # listed to be counted, never submitted

    @property
    def is_default(self) -> bool:
        return self.label == "default"


def dangerous(control: FormControl, danger: str) -> bool:
    """Whether clicking the submit button ``control`` is one of the things a crawl
    never does (its text, name, value or ``formaction``)."""
    texts = [control.text, control.name, control.value]
    return matches(danger, urls=[control.formaction or ""], texts=texts)


#: Hidden fields that name what a submission does (``action=delete``,
#: ``_method=DELETE``): their values are checked against the danger pattern.
ACTION_NAMES = re.compile(
    r"^_?(?:method|action|act|cmd|command|op|operation|do|task|verb|event|mode)$", re.IGNORECASE
)
#: What ``_method`` overrides a POST into, in Rails, Laravel, Symfony...
_WRITE_METHODS = frozenset({"delete", "put", "patch"})


def dangerous_entries(form: HtmlForm, values: Mapping[str, str], danger: str) -> str | None:
    """The field whose value makes the submission dangerous, or ``None``: a chosen
    option or checked radio/checkbox (its value or label), or an action-naming
    hidden field (``action=delete``; ``_method=DELETE``/``PUT``/``PATCH``), with
    the supplied ``values`` in place of the page's."""
    supplied = form.applicable(values)
    for control in form.controls:
        name = control.name
        if not name or control.disabled or control.is_button:
            continue
        if control.type == "select":
            chosen = [supplied[name]] if name in supplied else control.selected_values()
            if any(dangerous_choice(control.label_of(v), v, danger) for v in chosen):
                return name
        elif control.type in ("radio", "checkbox"):
            value = control.value or "on"
            on = supplied.get(name) == value if name in supplied else control.checked
            if on and dangerous_choice("", value, danger):
                return name
        elif control.type == "hidden" and ACTION_NAMES.match(name):
            value = supplied.get(name, control.value)
            if value.strip().lower() in _WRITE_METHODS or dangerous_choice("", value, danger):
                return name
    return None


def dangerous_choice(label: str, value: str, danger: str) -> bool:
    """Whether choosing an option (its ``label`` and ``value``) is."""
    return matches(danger, texts=[label, value])


def variants(form: HtmlForm, values: Mapping[str, str], danger: str) -> list[Variant]:
    """The default submission, then every variant, in the order they are tried
    (the caller applies the budget).  Dangerous submit buttons and options are
    in the list with ``dangerous=True``, to be counted and left alone; when the
    default button is dangerous, the option variants (made with that button)
    are left out."""
    result: list[Variant] = []
    default = form.submit
    safe_default = default is None or not dangerous(default, danger)
    bad_default = not safe_default or dangerous_entries(form, values, danger) is not None
    result.append(Variant("default", default, dict(values), bad_default))
    base = form.entries_for(default, values)
    base_how = form.submission(default)
    for submitter in form.submitters[1:]:
        if (form.submission(submitter), form.entries_for(submitter, values)) == (base_how, base):
            continue  # the same request as the default's
        label = f"submitter: {submitter.text or submitter.name or submitter.index}"
        bad = dangerous(submitter, danger) or dangerous_entries(form, values, danger) is not None
        result.append(Variant(label, submitter, dict(values), bad))
    if not safe_default:
        return result  # options are tried with the default button: never that one
    choices = [_alternatives(form, name, values, danger) for name in _choice_names(form, values)]
    for round_ in zip_longest(*choices):
        for alternative in round_:
            if alternative is not None:
                label, chosen, bad = alternative
                merged = {**values, **chosen}
                bad = bad or dangerous_entries(form, merged, danger) is not None
                result.append(Variant(label, default, merged, bad))
    return result


def samples(form: HtmlForm, values: Mapping[str, str]) -> dict[str, str]:
    """A sample value for each empty field a user would type into (not hidden,
    not a password, not supplied); for :data:`~crawler.forms.values.SAMPLE_TYPES`."""
    filled: dict[str, str] = {}
    for control in form.controls:
        if (
            not control.name
            or control.disabled
            or control.name in values
            or control.name in filled
            or control.value
            or control.tag not in ("input", "textarea")
        ):
            continue
        kind = "textarea" if control.tag == "textarea" else control.type
        if kind not in SAMPLE_TYPES:
            continue
        if control.suggestions:
            filled[control.name] = control.suggestions[0]  # the page's own suggestion
            continue
        value = sample(kind, control.minimum, control.maximum, control.step)
        if value is not None:
            filled[control.name] = value
    return filled


def _choice_names(form: HtmlForm, values: Mapping[str, str]) -> list[str]:
    names: list[str] = []
    for control in form.controls:
        if (
            control.type in ("select", "radio")
            and control.name
            and not control.disabled
            and control.name not in values
            and control.name not in names
        ):
            names.append(control.name)
    return names


def _alternatives(
    form: HtmlForm, name: str, values: Mapping[str, str], danger: str
) -> list[tuple[str, dict[str, str], bool]]:
    """``(label, {name: value}, dangerous)`` for each choice of the control(s) called
    ``name`` that the default submission does not already make."""
    current = [v for n, v in form.entries_for(form.submit, values) if n == name]
    alternatives: list[tuple[str, dict[str, str], bool]] = []
    seen: set[str] = set(current) if len(current) == 1 else set()
    for control in form.controls:
        if control.name != name or control.disabled:
            continue
        if control.type == "select":
            options = [(o.value, o.label) for o in control.options if not o.disabled]
        elif control.type == "radio":
            options = [(control.value or "on", control.text or control.value)]
        else:
            continue
        for value, label in options:
            if value in seen:
                continue
            seen.add(value)
            bad = dangerous_choice(label, value, danger)
            alternatives.append((f"{name}={value}", {name: value}, bad))
    return alternatives
