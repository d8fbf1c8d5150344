"""``CRAWLER_FORMS`` and friends: which discovered forms a crawl submits.

* ``CRAWLER_FORMS``: ``none`` (submit nothing), ``get`` (GET forms, the
  default) or ``all`` (GET and POST forms);
* ``CRAWLER_FORM_VALUES``: ``{field name: value}`` put into every form that has
  such a field, instead of its default;
* ``CRAWLER_SUBMIT_FORMS``: a regular expression; POST forms whose action URL
  it matches (``re.search``) are submitted under ``get`` too;
* ``CRAWLER_LOGOUT_PATTERN``: forms and links that log out (empty: none do);
* ``CRAWLER_FORM_VARIANTS``, ``CRAWLER_FORM_MAX_REPEATS``,
  ``CRAWLER_FORM_VOLATILE_PATTERN``: how many variants of a form are tried
  (:mod:`crawler.forms.variants`), when a form that leads nowhere new stops
  being submitted and which hidden fields never make a form new
  (:mod:`crawler.forms.memory`).

Sample values are typed into empty fields only for forms the user opened up:
``CRAWLER_FORMS=all``, or a form whose action ``CRAWLER_SUBMIT_FORMS`` matches.
A submit button, option or form action that matches the danger pattern
(:mod:`crawler.safety`, with ``CRAWLER_DANGER_PATTERN``) is never used.

Whatever the settings say, forms with a password field (logins) and logout
forms are never submitted by discovery, and neither are ``method="dialog"``
forms or actions that are not http(s).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crawler.exceptions import FormConfigError
from crawler.forms.classify import FormKind, classify
from crawler.login.logout import looks_like_logout
from crawler.safety import danger_pattern
from crawler.settingscheck import check_types, setting_choices

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

    from crawler.forms.discovery import HtmlForm

FORM_MODES = setting_choices("CRAWLER_FORMS")  # none, get, all
_SETTINGS = (
    "CRAWLER_FORM",
    "CRAWLER_SUBMIT_FORMS",
    "CRAWLER_LOGOUT_PATTERN",
    "CRAWLER_DANGER_PATTERN",
)


def parse_form_values(value: Any, name: str = "CRAWLER_FORM_VALUES") -> dict[str, str]:
    """``{"q": "ships"}``, its JSON, ``"q=ships,colour=red"``, ``["q=ships", ...]`` or
    that list's JSON.

    Raises :class:`FormConfigError` naming ``name`` (the setting, or the spider
    argument) and quoting the whole value as given.
    """
    if value is None or value == "":
        return {}
    given = value
    if isinstance(value, str) and value.strip().startswith(("{", "[")):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise FormConfigError(f"{name} is not valid JSON ({e}): {given!r}") from None
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise FormConfigError(f"{name} must be a mapping or NAME=VALUE pairs, not {given!r}")
    values: dict[str, str] = {}
    for item in items:
        text = item if isinstance(item, str) else ""
        field_name, sep, field_value = text.partition("=")
        if not sep or not field_name.strip():
            raise FormConfigError(
                f"{name} takes NAME=VALUE pairs (comma-separated, a list, or a mapping), "
                f"not {given!r}"
            )
        values[field_name.strip()] = field_value
    return values


@dataclass(frozen=True)
class FormPolicy:
    mode: str
    values: dict[str, str]
    submit_pattern: re.Pattern[str] | None
    logout_pattern: str | None  # None: nothing is a logout
    danger: str = ""  # crawler.safety.danger_pattern(): never clicked or chosen
    max_variants: int = 8
    max_repeats: int = 3
    max_chain: int = 25
    volatile_pattern: str | None = None

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> FormPolicy:
        """Raises :class:`FormConfigError` for a bad ``CRAWLER_FORM*`` setting or pattern."""
        check_types(settings, _SETTINGS, error=FormConfigError)
        mode = settings.get("CRAWLER_FORMS")
        submit = settings.get("CRAWLER_SUBMIT_FORMS")  # both patterns: Regex, compiled by the check
        logout = settings.get("CRAWLER_LOGOUT_PATTERN")
        return cls(
            mode=mode,
            values=parse_form_values(settings.get("CRAWLER_FORM_VALUES")),
            submit_pattern=re.compile(submit) if submit else None,
            logout_pattern=logout or None,
            danger=danger_pattern(logout or None, settings.get("CRAWLER_DANGER_PATTERN")),
            max_variants=settings.getint("CRAWLER_FORM_VARIANTS"),
            max_repeats=settings.getint("CRAWLER_FORM_MAX_REPEATS"),
            max_chain=settings.getint("CRAWLER_FORM_MAX_CHAIN"),
            volatile_pattern=settings.get("CRAWLER_FORM_VOLATILE_PATTERN") or None,
        )

    def allows_method(self, method: str, action: str) -> bool:
        """Whether a submission with this method and action may be made at all."""
        if self.mode == "none":
            return False
        return method != "POST" or self.mode == "all" or self.allows_post(action)

    def samples_for(self, form: HtmlForm) -> bool:
        """Whether empty fields of ``form`` get sample values: forms the user opened
        up (``--forms all``, or the submit pattern matches the action)."""
        return self.mode == "all" or self.allows_post(form.action)

    def kind(self, form: HtmlForm) -> FormKind:
        return classify(form, self.logout_pattern)

    def refusal(self, form: HtmlForm, kind: FormKind) -> str | None:
        """Why ``form`` (of ``kind``) must not be submitted, or ``None`` when it may be."""
        if kind in (FormKind.LOGIN, FormKind.LOGOUT, FormKind.DIALOG):
            return kind.value
        if urlsplit(form.action).scheme not in ("http", "https"):
            return "scheme"
        if self.mode == "none":
            return "policy"
        if kind is FormKind.POST and self.mode != "all" and not self.allows_post(form.action):
            return "policy"
        return None

    def allows_post(self, action: str) -> bool:
        return self.submit_pattern is not None and bool(self.submit_pattern.search(action))

    def is_logout(self, url: str, text: str = "") -> bool:
        """Whether a link (URL and text) logs out; never with an empty pattern."""
        return bool(self.logout_pattern) and looks_like_logout(url, text, self.logout_pattern)
