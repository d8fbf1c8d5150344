"""The login form of a page, read with lxml, and what submitting it sends.

Used by the HTTP login of :class:`~crawler.login.middleware.LoginMiddleware`
and by :func:`~crawler.login.session.login_session`, so both submit exactly
what a browser would: every successful control of the form (hidden CSRF
tokens included), the username and password put in their fields, and the
name/value of the submit button that was "clicked".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import lxml.html

if TYPE_CHECKING:
    from lxml.html import FormElement, HtmlElement

# Input types whose value the user types; the username field is one of them.
_TEXT_TYPES = ("text", "email", "tel", "")
# Input types that are never submitted as a field of their own.
_NOT_FIELDS = ("submit", "image", "reset", "button", "file")
_USERNAME_HINT = re.compile(r"user|login|e-?mail|account|ident", re.I)
_SUBMIT_XPATH = (
    ".//button[not(@type) or translate(@type, 'SUBMIT', 'submit') = 'submit']"
    " | .//input[translate(@type, 'SUBMITAGE', 'submitage') = 'submit'"
    " or translate(@type, 'SUBMITAGE', 'submitage') = 'image']"
)


@dataclass(frozen=True)
class LoginForm:
    """A form with a password field, ready to be submitted with credentials."""

    action: str  # absolute URL
    method: str  # "GET" or "POST"
    fields: tuple[tuple[str, str], ...]  # what the form submits untouched (CSRF tokens...)
    username_field: str | None
    password_field: str
    submit: tuple[tuple[str, str], ...] = ()  # the clicked button's name/value, if it has one

    def submission(self, username: str, password: str) -> list[tuple[str, str]]:
        """The fields to send: the form's own, with the credentials in their places."""
        out: list[tuple[str, str]] = []
        seen_user = seen_password = False
        for name, value in self.fields:
            if name == self.username_field and not seen_user:
                out.append((name, username))
                seen_user = True
            elif name == self.password_field and not seen_password:
                out.append((name, password))
                seen_password = True
            else:
                out.append((name, value))
        if self.username_field is not None and not seen_user:
            out.append((self.username_field, username))
        if not seen_password:
            out.append((self.password_field, password))
        return out + list(self.submit)


def _input_type(element: HtmlElement) -> str:
    return (element.get("type") or "").strip().lower()


def has_password_field(html: str | bytes) -> bool:
    """Whether the page asks for a password (any ``<input type=password>``)."""
    try:
        doc = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return False
    return bool(doc.xpath("//input[translate(@type, 'PASWORD', 'pasword') = 'password']"))


def find_login_form(
    html: str | bytes,
    url: str,
    username_field: str | None = None,
    password_field: str | None = None,
) -> LoginForm | None:
    """The page's login form: the first form with one password field (else with any).

    ``username_field`` / ``password_field`` name the inputs when detection would
    not find them; otherwise the password field is the form's
    ``<input type=password>`` and the username field the text or e-mail input
    whose name looks like one (``user``, ``login``, ``email``...), else the
    nearest one before the password.
    """
    try:
        doc = lxml.html.fromstring(html, base_url=url)
    except (ValueError, lxml.etree.ParserError):
        return None
    candidates: list[tuple[FormElement, list[HtmlElement]]] = []
    for form in doc.forms:
        passwords = [
            el
            for el in form.iter("input")
            if el.get("name")
            and (
                el.get("name") == password_field
                if password_field
                else _input_type(el) == "password"
            )
        ]
        if passwords:
            candidates.append((form, passwords))
    if not candidates:
        return None
    form, passwords = next(((f, p) for f, p in candidates if len(p) == 1), candidates[0])
    password = passwords[0]
    return LoginForm(
        action=urljoin(url, (form.get("action") or "").strip() or url),
        method="POST" if (form.get("method") or "").strip().upper() == "POST" else "GET",
        fields=tuple(_successful_controls(form)),
        username_field=username_field or _username_field(form, password),
        password_field=str(password.get("name")),
        submit=_submit(form),
    )


def _username_field(form: FormElement, password: HtmlElement) -> str | None:
    before: list[HtmlElement] = []
    texts: list[HtmlElement] = []
    for element in form.iter("input"):
        if element is password:
            before = list(texts)
        if element.get("name") and _input_type(element) in _TEXT_TYPES:
            texts.append(element)
    for element in texts:
        hints = " ".join(element.get(a) or "" for a in ("name", "id", "autocomplete"))
        if _USERNAME_HINT.search(hints):
            return str(element.get("name"))
    if before:
        return str(before[-1].get("name"))
    return str(texts[0].get("name")) if texts else None


def _successful_controls(form: FormElement) -> list[tuple[str, str]]:
    """What a browser submits of the form before anything is typed, in document order."""
    out: list[tuple[str, str]] = []
    for element in form.iter("input", "select", "textarea"):
        name = element.get("name")
        if not name or element.get("disabled") is not None:
            continue
        if element.tag == "select":
            value = element.value
            if isinstance(value, str):
                out.append((name, value))
            elif value is not None:  # a <select multiple>: every selected option
                out.extend((name, v) for v in value)
        elif element.tag == "textarea":
            out.append((name, element.text or ""))
        else:
            kind = _input_type(element)
            if kind in _NOT_FIELDS:
                continue
            if kind in ("checkbox", "radio"):
                if element.get("checked") is not None:
                    out.append((name, element.get("value") or "on"))
                continue
            out.append((name, element.get("value") or ""))
    return out


def _submit(form: FormElement) -> tuple[tuple[str, str], ...]:
    buttons = form.xpath(_SUBMIT_XPATH)
    if not buttons:
        return ()
    button = buttons[0]
    name = button.get("name")
    if not name or button.get("disabled") is not None:
        return ()
    if _input_type(button) == "image":
        return ((f"{name}.x", "0"), (f"{name}.y", "0"))
    return ((name, button.get("value") or ""),)
