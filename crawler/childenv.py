"""The environment of the crawl's child processes: the crawl's own, without its secrets.

A child (chromedriver, Chromium and its helpers, geckodriver, Firefox) keeps
its environment for as long as it runs: ``/proc/PID/environ`` shows it to its
user and to root, every process it starts inherits it, and a crash report
may copy it.  So :func:`child_environment` gives a child the crawl's
environment minus

* the variables a secret was read from (:func:`forget`; the login password's
  ``CRAWLER_LOGIN_PASSWORD_ENV`` variable, registered when
  :func:`crawler.login.config.read_password` reads it, and
  :data:`PROMPT_ENV`, where ``crawler crawl`` puts a password typed at its
  prompt);
* every variable whose value is a registered secret, or holds one: the values
  registered here (the login password, whatever its length, read from a
  variable or a file) and those the log masker knows
  (:data:`crawler.redaction.MASKER`: the secret settings' values);
* every variable whose name looks secret (:data:`crawler.redaction.SECRET_NAME`:
  ``PGPASSWORD``, ``AWS_SECRET_ACCESS_KEY``, ``GITHUB_TOKEN``; not
  ``XAUTHORITY``, which a visible browser needs to reach the X display, nor
  the ``*_SOCK`` socket paths);

and with the user name and password taken out of the URLs of what is kept
(``https_proxy=http://u:pw@proxy:3128`` becomes ``http://proxy:3128``).

Nothing is secret in a child's command line either: the browsers are started
with flags and paths only (:mod:`crawler.browser.driver`), and a login
password reaches a page through WebDriver commands, never an argument.
"""

from __future__ import annotations

import os
import re
import threading
from typing import TYPE_CHECKING

from crawler import redaction

if TYPE_CHECKING:
    from collections.abc import Mapping

#: The variable ``crawler crawl`` puts a password typed at its prompt in.
PROMPT_ENV = "CRAWLER_PROMPTED_PASSWORD"
# Secret-looking names a child needs, and that hold no secret.
_KEPT_NAMES = re.compile(r"XAUTHORITY|.*_SOCK", re.I)
# The user name and password of a URL, up to the last "@" before the host.
_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s]*@", re.I)

_lock = threading.Lock()
_names: set[str] = {PROMPT_ENV}
_values: set[str] = set()


def forget(name: str | None = None, value: str | None = None) -> None:
    """Keep the variable ``name``, and any variable whose value is ``value`` (or,
    for a value of :data:`crawler.redaction.MIN_SECRET_LENGTH` characters or
    more, holds it), out of every child started from now on."""
    with _lock:
        if name:
            _names.add(name)
        if value:
            _values.add(value)


def is_secret(name: str, value: str, secrets: frozenset[str] | set[str]) -> bool:
    """Whether the variable ``name=value`` stays out of a child's environment,
    ``secrets`` being the secret values known (see the module docstring)."""
    if name in _names:
        return True
    if redaction.SECRET_NAME.search(name) and not _KEPT_NAMES.fullmatch(name):
        return True
    return any(
        value == secret or (len(secret) >= redaction.MIN_SECRET_LENGTH and secret in value)
        for secret in secrets
    )


def child_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) as a child of the crawl may see it:
    secrets left out, URL passwords removed (see the module docstring)."""
    environ = os.environ if environ is None else environ
    with _lock:
        secrets = _values | redaction.MASKER.secrets
    return {
        name: _URL_USERINFO.sub(r"\g<1>", value) if "://" in value else value
        for name, value in environ.items()
        if not is_secret(name, value, secrets)
    }
