"""What a form is for: a search or filter (GET), a POST, a login, a logout."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from crawler.login.logout import looks_like_logout

if TYPE_CHECKING:
    from crawler.forms.discovery import HtmlForm


class FormKind(StrEnum):
    GET = "get"  # search and filter forms: submitting them only reads
    POST = "post"  # forms that change something on the server
    LOGIN = "login"  # a password field: only a configured login submits these
    LOGOUT = "logout"  # action or submit text says log out / sign out
    DIALOG = "dialog"  # method="dialog": closes a dialog, submits nothing


def classify(form: HtmlForm, logout_pattern: str | None) -> FormKind:
    """The first that applies: login, logout, dialog, then the method."""
    if form.has_password:
        return FormKind.LOGIN
    text = form.submit.text if form.submit is not None else ""
    if logout_pattern and looks_like_logout(form.action, text, logout_pattern):
        return FormKind.LOGOUT
    # A dialog form: every way to submit it closes a dialog.  A "Cancel" button
    # with formmethod=dialog in a GET form does not make the form a dialog.
    methods = {form.submission(s).method for s in form.submitters} or {form.method}
    if methods == {"DIALOG"}:
        return FormKind.DIALOG
    method = form.form_method if form.form_method != "DIALOG" else form.method
    if method == "DIALOG":
        method = next(m for m in sorted(methods) if m != "DIALOG")
    return FormKind.POST if method == "POST" else FormKind.GET
