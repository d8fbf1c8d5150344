"""The login form of a page, and what submitting it sends.

Used by the HTTP login of :class:`~crawler.login.middleware.LoginMiddleware`
and by :func:`~crawler.login.session.login_session`.  The form is read by
form discovery (:func:`crawler.forms.discovery.find_forms`), so a login
submits exactly what the crawl's own form submissions would, and what a
browser would: every successful control of the form (hidden CSRF tokens
included, disabled controls and disabled fieldsets left out), the clicked
submitter's name/value (``formaction``/``formmethod`` honoured, an image
button's ``x``/``y``), with the username and password put in their fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import lxml.html
from lxml import etree

from crawler.forms.discovery import find_forms

if TYPE_CHECKING:
    from crawler.forms.model import FormControl, HtmlForm

# Input types whose value the user types; the username field is one of them.
_TEXT_TYPES = ("text", "email", "tel")
_USERNAME_HINT = ("user", "login", "mail", "account", "ident")


@dataclass(frozen=True)
class LoginForm:
    """A form with a password field, ready to be submitted with credentials."""

    form: HtmlForm
    username_field: str | None
    password_field: str

    @property
    def action(self) -> str:
        """Absolute URL the form submits to (the submitter's ``formaction`` included)."""
        return self.form.action

    @property
    def method(self) -> str:
        """``"GET"`` or ``"POST"``."""
        return "POST" if self.form.method == "POST" else "GET"

    def submission(self, username: str, password: str) -> list[tuple[str, str]]:
        """The ``(name, value)`` pairs to send: the form's own, credentials in their places."""
        values = {self.password_field: password}
        if self.username_field is not None:
            values[self.username_field] = username
        return list(self.form.data(values))


def has_password_field(html: str | bytes) -> bool:
    """Whether the page asks for a password (any ``<input type=password>``)."""
    try:
        doc = lxml.html.fromstring(html)
    except (ValueError, etree.ParserError):
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
    not find them; otherwise the password field is the form's enabled
    ``<input type=password>`` and the username field the text or e-mail input
    whose name, id or ``autocomplete`` looks like one (``user``, ``login``,
    ``email``...), else the nearest one before the password.  ``None`` when no
    form has a password field (a script-only login, or not a login page).
    """
    try:
        doc = lxml.html.fromstring(html, base_url=url)
    except (ValueError, etree.ParserError):
        return None
    base = doc.base_url or url
    candidates: list[tuple[HtmlForm, list[str]]] = []
    for form in find_forms(doc, page_url=url, base_url=base):
        if form.method == "DIALOG":
            continue
        passwords = [
            c.name
            for c in form.controls
            if c.name
            and not c.is_button
            and (c.name == password_field if password_field else c.type == "password")
        ]
        if passwords:
            candidates.append((form, passwords))
    if not candidates:
        return None
    form, passwords = next(((f, p) for f, p in candidates if len(p) == 1), candidates[0])
    password = passwords[0]
    return LoginForm(
        form=form,
        username_field=username_field or _username_field(form, password),
        password_field=password,
    )


def _username_field(form: HtmlForm, password: str) -> str | None:
    """The text input that looks like a username, else the last one before the password."""
    texts: list[FormControl] = []
    before: list[FormControl] = []
    for control in form.controls:
        if control.name == password and not before:
            before = list(texts)
        if (
            control.tag == "input"
            and control.name
            and control.type in _TEXT_TYPES
            and not control.disabled
        ):
            texts.append(control)
    for control in texts:
        hints = f"{control.name} {control.element_id} {control.autocomplete}".lower()
        if any(hint in hints for hint in _USERNAME_HINT):
            return control.name
    if before:
        return before[-1].name
    return texts[0].name if texts else None
