"""JavaScript dialogs (``alert``, ``confirm``, ``prompt``, ``beforeunload``) during a render.

A dialog left open makes every later WebDriver command fail with
``UnexpectedAlertPresentException``, and Chromium's driver reports a second
dialog of the same navigation even when it answered the first one.  So the
dialogs never open:

* :data:`DIALOG_SCRIPT` is installed once per session with DevTools
  ``Page.addScriptToEvaluateOnNewDocument``: in every document, before the
  page's own scripts, it replaces ``alert``/``confirm``/``prompt`` with
  functions that answer at once and remember ``(type, message, accepted)``;
  :data:`DIALOGS_JS` reads that list back with the DOM.
* what still opens a real dialog (``beforeunload`` after a click, a document
  the script did not reach) is answered by the driver itself, per type, through
  the ``unhandledPromptBehavior`` capability (:data:`PROMPT_BEHAVIOR`), and
  recorded from the DevTools events ``Page.javascriptDialogOpening`` /
  ``Page.javascriptDialogClosed`` (:func:`dialogs_from_events`).

Policy: alerts are accepted (they have only OK), ``confirm`` and ``prompt``
are dismissed (``false`` and ``null``: a crawler never confirms what may be a
destructive action, nor types an answer), ``beforeunload`` is accepted (the
render leaves the page).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawler.browser.result import Dialog

if TYPE_CHECKING:
    from collections.abc import Iterable

#: Characters of a dialog's message kept in the record.
MESSAGE_LIMIT = 200

#: What the driver answers to a real dialog, per type (W3C WebDriver capability).
PROMPT_BEHAVIOR = {
    "alert": "accept",
    "confirm": "dismiss",
    "prompt": "dismiss",
    "beforeUnload": "accept",
    "default": "dismiss",
}

#: Installed in every new document before its scripts run.
DIALOG_SCRIPT = """
(() => {
  if (Object.prototype.hasOwnProperty.call(window, "__crawlerDialogs")) return;
  const seen = [];
  Object.defineProperty(window, "__crawlerDialogs", { value: seen, enumerable: false });
  const note = (type, message, accepted) => {
    if (seen.length < 50) seen.push([type, String(message === undefined ? "" : message), accepted]);
  };
  window.alert = function alert(message) { note("alert", message, true); };
  window.confirm = function confirm(message) { note("confirm", message, false); return false; };
  window.prompt = function prompt(message) { note("prompt", message, false); return null; };
})();
"""

#: An expression for the dialogs of the current document (a list of triples).
DIALOGS_JS = "(window.__crawlerDialogs || [])"


def dialog(kind: str, message: Any, accepted: bool) -> Dialog:
    text = " ".join(str(message or "").split())
    if len(text) > MESSAGE_LIMIT:
        text = text[: MESSAGE_LIMIT - 1] + "\u2026"
    return Dialog(type=kind.lower(), message=text, accepted=bool(accepted))


def dialogs_from_script(raw: Any) -> list[Dialog]:
    """The triples :data:`DIALOGS_JS` returned, as :class:`Dialog` records."""
    found: list[Dialog] = []
    if not isinstance(raw, list):
        return found
    for entry in raw:
        if isinstance(entry, list) and len(entry) == 3:
            found.append(dialog(str(entry[0]), entry[1], bool(entry[2])))
    return found


def dialogs_from_events(events: Iterable[dict[str, Any]]) -> list[Dialog]:
    """Real dialogs the driver answered, from ``Page.javascriptDialog*`` events."""
    found: list[Dialog] = []
    opened: dict[str, Any] | None = None
    for message in events:
        method = message.get("method")
        params = message.get("params", {})
        if method == "Page.javascriptDialogOpening":
            if opened is not None:  # no close seen: the driver answered by its policy
                found.append(_by_policy(opened))
            opened = params
        elif method == "Page.javascriptDialogClosed" and opened is not None:
            kind = str(opened.get("type", ""))
            found.append(dialog(kind, opened.get("message"), bool(params.get("result"))))
            opened = None
    if opened is not None:
        found.append(_by_policy(opened))
    return found


def _by_policy(params: dict[str, Any]) -> Dialog:
    kind = str(params.get("type", ""))
    key = "beforeUnload" if kind == "beforeunload" else kind
    return dialog(kind, params.get("message"), PROMPT_BEHAVIOR.get(key) == "accept")


def dialog_note(record: Dialog) -> str:
    """``'alert "Welcome!" accepted'``: one dialog as a line of the page's notes."""
    answer = "accepted" if record.accepted else "dismissed"
    if record.type == "beforeunload":  # asked by the page the render left
        return f"the previous page's beforeunload dialog {answer}"
    return f"{record.type} {record.message!r} {answer}"
