"""Keeping secrets (passwords, cookies, tokens) out of what a run records and logs.

Two layers, one rule (a secret becomes ``***``):

* what a run *records* (its settings and spider arguments in the store):
  :func:`redact_mapping` masks the values of secret-looking names and the
  passwords of URLs, :func:`redact_text` the passwords of URLs in a text,
  :func:`redact_url` that of a text that is a URL as a whole (a feed URI, a
  store URL), found whole even if it holds what the URL should have
  percent-encoded (a quote, a space, an ``@``);
* what a run *logs*: :data:`MASKER`, a logging filter installed on the root
  logger's handlers and on the loggers that print settings (:func:`install`),
  masks in every record (message and traceback) what :func:`redact_text`
  masks (passwords of URLs and host parts, ``?token=***``, ``Authorization:``,
  ``Cookie:`` and ``Set-Cookie:`` values) and, once it was told about secrets,
  those secrets (the string values of settings with a secret-looking name,
  :func:`secret_setting_values`; the passwords of the URLs in the settings,
  :func:`setting_urls`; the login password, the cookies a login set,
  the cookies of a cookies file).  Every crawl of the framework installs it
  (:class:`crawler.extensions.logmasking.LogMasking`, which the add-on enables
  before the other extensions).  Belt and braces: the framework never logs
  a secret on purpose, but other components can (Scrapy's "Overridden settings" and feed export
  errors, ``COOKIES_DEBUG``, a third-party middleware that logs request
  headers, Selenium's wire trace at DEBUG).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

REDACTED = "***"
SECRET_NAME = re.compile(r"pass(word|wd)?|secret|token|cookie|credential|auth|api_?key", re.I)
# Names that look secret but say what a secret is *about* (COOKIES_ENABLED,
# HTTPAUTH_DOMAIN, CRAWLER_LOGIN_PASSWORD_FIELD, ..._PASSWORD_ENV/_FILE): their
# values are not masked in logs (a domain or the word "password" would be
# masked everywhere).
NOT_SECRET_NAME = re.compile(r"_(debug|domain|enabled|encoding|env|field|file|mode)$", re.I)
# The password of a URL such as postgresql://user:password@host/db, up to the
# last "@" of the authority (a password may hold an unescaped "@").
# The user name may hold an "@" too (ftp://me@example.org:pw@host/).
URL_PASSWORD = re.compile(r"""(\b[a-z][a-z0-9+.-]*://[^/\s:'"]*:)[^/\s'"]*@""", re.I)
# A text that is a URL as a whole: a setting's value, a FEEDS key, an -o value.
WHOLE_URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.I)
# A password in user information outside a URL with a scheme, as error texts
# show a host part (``invalid hostname: bob:pw@127.0.0.1`` -> ``bob:***@127.0.0.1``):
# ``user:password@`` at the start of a word (after a space, a quote, a bracket,
# ``,``, ``;``, ``=`` or ``/``), up to the word's last ``@``; ``mailto:`` is an
# address, not a password.
BARE_USERINFO = re.compile(
    r"""(?<![^\s'"(<\[{,;=/])((?!mailto:)[^\s:/@'"<>?#]+:)[^\s/'"<>]*@(?=[\w\[])""", re.I
)
#: The names of query or form parameters whose values are secrets, matched
#: case-insensitively against the whole name (so ``author``, ``passage``,
#: ``keyboard``, ``tokenizer`` or ``sort_key`` are not): passwords (``password``,
#: ``passwd``, ``pass``, ``pwd``, and any of them or ``token``, ``secret``,
#: ``credential(s)`` after ``word_`` or ``word-`` prefixes: ``access_token``,
#: ``client_secret``, ``db_password``), API keys (``key`` as Google's APIs name
#: it, ``api_key``, ``apikey``, ``api-key``, ``x-api-key``), ``auth`` and
#: ``authorization``, session ids (``session``, ``session_id``, ``sessionid``,
#: ``phpsessid``, ``jsessionid``, ``sid``), signatures (``sig``, ``signature``,
#: ``x-amz-signature``).  OWASP's "Information exposure through query strings"
#: names passwords, tokens, session ids and API keys as what must not travel there.
SECRET_PARAMETER = (
    r"(?:[a-z0-9]+[_-])*(?:pass(?:word|wd)?|pwd|token|secret|credentials?|signature)"
    r"|(?:x[_-])?api[_-]?key|key|auth|authorization|sig"
    r"|session(?:[_-]?id)?|(?:php|j)?sessid|jsessionid|sid"
)
_SECRET_PARAMETER_NAME = re.compile(SECRET_PARAMETER, re.I)
# A parameter and its value, in a query string or a form body, up to the next
# ``&``, ``;``, ``#``, space, quote or ``>``; the name at a word's start or after
# ``?``/``&``/``;`` (``?token=``, ``user=a&password=``).  The character before
# the name is matched (not looked behind at), which lets the expression skip
# ahead to those characters: several times faster on long records.
QUERY_PARAMETER = re.compile(r"""([\s?&;'"(<\[{,])([\w.-]+)=[^&;#\s'"<>]*""")
# Every name of :data:`SECRET_PARAMETER` holds one of these (lower case): a text
# holding none of them costs no regular expression for its parameters.
_PARAMETER_PROBES = (
    "pass",
    "pwd",
    "token",
    "secret",
    "credential",
    "sig",
    "key",
    "auth",
    "sess",
    "sid",
)


@lru_cache(maxsize=4096)
def secret_parameter(name: str) -> bool:
    """Whether a query or form parameter called ``name`` holds a secret
    (:data:`SECRET_PARAMETER`, the whole name, any case)."""
    return _SECRET_PARAMETER_NAME.fullmatch(name) is not None


def _mask_parameter(match: re.Match[str]) -> str:
    if secret_parameter(match.group(2)):
        return f"{match.group(1)}{match.group(2)}={REDACTED}"
    return match.group(0)


# Header lines whose values are secrets: ``Authorization: Bearer ***`` (the scheme
# kept), ``Proxy-Authorization:``, and ``Cookie:`` / ``Set-Cookie:`` (the names
# kept, the values masked), at the start of a line or after a space or a quote,
# also as a headers dict prints (``{b'Authorization': [b'Basic ***']}``).
_AUTHORIZATION = re.compile(
    r"""(?<![^\s'"{,])((?:proxy-)?authorization['"]?\s*:\s*\[?b?['"]?)(?:([a-z][\w-]*)\s+)?[^\r\n'"]+""",
    re.I,
)
_HEADER_LINE = re.compile(
    r"""(?im)(?<![^\s'"{,])((?:set-)?cookie['"]?:\s*\[?b?['"]?)([^\r\n'"]*)"""
)
_COOKIE_PAIR = re.compile(r"(^|;\s*)([^=;\s]+)=([^;]*)")


def _mask_authorization(match: re.Match[str]) -> str:
    scheme = match.group(2)
    return f"{match.group(1)}{scheme} {REDACTED}" if scheme else f"{match.group(1)}{REDACTED}"


def _mask_header_value(match: re.Match[str]) -> str:
    prefix, value = match.group(1), match.group(2)
    if prefix.strip().lower().startswith("set-cookie"):
        # Only the first pair is the cookie; the rest are attributes (Path, Expires...).
        name, sep, _ = value.partition("=")
        rest = value.partition(";")[2]
        masked = f"{name}={REDACTED}" if sep else value
        return prefix + masked + (f";{rest}" if rest else "")
    return prefix + _COOKIE_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}={REDACTED}", value)


def redact_text(text: str) -> str:
    """``text`` (any text: a log record, an error, a title) with its secrets masked:

    * the userinfo password of URLs (``postgresql://u:***@h/db``) and of host
      parts written without a scheme (``invalid hostname: bob:***@127.0.0.1``);
    * the values of query and form parameters named in :data:`SECRET_PARAMETER`
      (``?password=***``, ``&api_key=***``, ``token=***``), not ``?q=passport``;
    * ``Authorization:`` / ``Proxy-Authorization:`` header values (``Bearer ***``)
      and the values of ``Cookie:`` and ``Set-Cookie:`` headers.

    It runs on every log record: a text without ``@``, without ``=`` (or
    without a secret name's probe, :data:`_PARAMETER_PROBES`) and without an
    ``uthoriz`` or ``ookie`` costs no regular expression."""
    if "@" in text:
        if "://" in text:
            text = URL_PASSWORD.sub(rf"\g<1>{REDACTED}@", text)
        text = BARE_USERINFO.sub(rf"\g<1>{REDACTED}@", text)
    if "=" in text:
        lowered = text.lower()
        # _PARAMETER_PROBES, written out: several times faster than any() over them.
        if (
            "pass" in lowered
            or "pwd" in lowered
            or "token" in lowered
            or "secret" in lowered
            or "credential" in lowered
            or "sig" in lowered
            or "key" in lowered
            or "auth" in lowered
            or "sess" in lowered
            or "sid" in lowered
        ):
            # A space in front: a name at the text's start is at a word's start.
            text = QUERY_PARAMETER.sub(_mask_parameter, f" {text}")[1:]
    if "uthoriz" in text or "UTHORIZ" in text:
        text = _AUTHORIZATION.sub(_mask_authorization, text)
    if "ookie" in text or "OOKIE" in text:
        text = _HEADER_LINE.sub(_mask_header_value, text)
    return text


def url_credentials(url: str) -> tuple[str, str] | None:
    """``(userinfo, user)`` of ``url``, a URL as a whole, when it has a password
    (``ftp://me:pw@host/x`` -> ``("me:pw", "me")``), else None.

    The authority runs to the first ``/`` and the user information to its last
    ``@``, as URL parsers read it, so a password that a URL should have
    percent-encoded (a quote, a space, a ``@``) is found whole, which
    :func:`redact_text`, reading free text, cannot do."""
    if not WHOLE_URL.match(url):
        return None
    start = url.index("://") + 3
    authority = url[start:].partition("/")[0]
    userinfo, at, _ = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return None
    return userinfo, userinfo.partition(":")[0]


def redact_url(url: str) -> str:
    """``url``, a URL as a whole (not free text), with its password masked
    however it is written (:func:`url_credentials`), and :func:`redact_text`."""
    found = url_credentials(url)
    if found is not None:
        userinfo, user = found
        start = url.index("://") + 3
        url = f"{url[:start]}{user}:{REDACTED}{url[start + len(userinfo) :]}"
    return redact_text(url)


def redact_mapping(values: dict[str, Any]) -> dict[str, Any]:
    """A copy with the values of secret-looking names replaced, and URL passwords
    masked (in keys too: ``FEEDS`` are keyed by URI), recursively."""
    return {
        _redact(name): REDACTED if SECRET_NAME.search(str(name)) else _redact(value)
        for name, value in values.items()
    }


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return redact_mapping(value)
    if isinstance(value, str):
        return redact_url(value) if WHOLE_URL.match(value) else redact_text(value)
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def secret_setting_values(values: Mapping[str, Any]) -> set[str]:
    """The values to mask in logs among ``values`` (settings, or any mapping):
    those of secret-looking names (:data:`SECRET_NAME`, not
    :data:`NOT_SECRET_NAME`), as text, found in nested dicts and lists too,
    and in dict or list settings given as JSON text (``-s 'OPTS={"token": ...}'``).
    Booleans and ``None`` are no secrets."""
    found: set[str] = set()
    for name, value in values.items():
        name = str(name)
        if SECRET_NAME.search(name) and not NOT_SECRET_NAME.search(name):
            found.update(_leaves(value))
        else:
            for nested in _containers(value):
                found.update(secret_setting_values(nested))
    return found


def setting_urls(values: Mapping[str, Any]) -> set[str]:
    """The URLs with a password among ``values`` (settings, or any mapping):
    values and keys (``FEEDS`` is keyed by URI) that are URLs as a whole, found
    in nested dicts and lists too, and in dict or list settings given as JSON text."""
    found: set[str] = set()
    for name, value in values.items():
        for text in (str(name), *_strings(value)):
            if url_credentials(text) is not None:
                found.add(text)
    return found


def _strings(value: Any) -> list[str]:
    """Every string in ``value``, however nested, dict keys included."""
    value = _parsed(value)
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in (str(k), *_strings(v))]
    if isinstance(value, list | tuple | set | frozenset):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def _leaves(value: Any) -> list[str]:
    """Every string (or number) in ``value``, however nested."""
    value = _parsed(value)
    if isinstance(value, Mapping):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list | tuple | set | frozenset):
        return [leaf for v in value for leaf in _leaves(v)]
    if value is None or isinstance(value, bool):
        return []
    return [str(value)]


def _containers(value: Any) -> list[Mapping[str, Any]]:
    """The mappings in ``value`` (itself, or in a list), to look for secret names in."""
    value = _parsed(value)
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list | tuple):
        return [m for v in value for m in _containers(v)]
    return []


def _parsed(value: Any) -> Any:
    """A dict or list setting given as JSON text, parsed; anything else as it is."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# Shorter values ("1", "en") are too common to mask without mangling the log.
MIN_SECRET_LENGTH = 6
# WebDriver wire traces: every command and answer, cookie values and typed text included.
WIRE_LOGGERS = ("selenium.webdriver.remote.remote_connection",)

# Where pprint cut a long text between words: the piece's closing quote, a new
# line, the indentation and the next piece's opening quote.
_PPRINT_CUT = r"""(?:['"]\n *['"])?"""


def _secret_pattern(secret: str) -> str:
    """The expression that finds ``secret``, also cut by pprint after any space."""
    return "".join(
        re.escape(part) + _PPRINT_CUT if part.isspace() else re.escape(part)
        for part in re.split(r"(\s+)", secret)
        if part
    )


class SecretMasker(logging.Filter):
    """Masks what :func:`redact_text` masks in log records; once told about
    secrets (:meth:`add`), those secrets too.

    On a handler it sees every record the handler writes; on a logger, the
    records logged there (not those of its children).  A record that holds no
    registered secret costs no more than :func:`redact_text`.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._replacements: dict[str, str] = {}  # text -> what it becomes instead of ***
        self._compiled: tuple[re.Pattern[str], tuple[str, ...], dict[str, str]] | None = None

    @property
    def active(self) -> bool:
        """Whether secrets were registered (URL passwords are masked anyway)."""
        return self._compiled is not None

    @property
    def secrets(self) -> frozenset[str]:
        """The values registered so far."""
        return self._secrets

    def add(self, *values: str | None) -> None:
        """Mask these values from now on (too short or empty ones are ignored).

        A value with spaces is masked also where ``pprint`` (which prints
        Scrapy's "Overridden settings") cut it between words into two quoted
        pieces on two lines."""
        fresh = {v for v in values if v and len(v) >= MIN_SECRET_LENGTH}
        with self._lock:
            if fresh <= self._secrets:
                return
            self._secrets = self._secrets | fresh
            self._compile()

    def add_url(self, *urls: str) -> None:
        """Mask the passwords of these URLs (each a URL as a whole) from now on,
        however they are written: ``user:password@`` becomes ``user:***@``
        wherever it appears, and the password, raw and percent-decoded, is a
        secret (:meth:`add`)."""
        for url in urls:
            found = url_credentials(url)
            if found is None:
                continue
            userinfo, user = found
            password = userinfo.partition(":")[2]
            with self._lock:
                self._replacements = {
                    **self._replacements,
                    f"{userinfo}@": f"{user}:{REDACTED}@",
                }
                self._compile()
            self.add(password, unquote(password))

    def _compile(self) -> None:
        # Longest first, so a secret containing another is masked whole.
        ordered = sorted({*self._secrets, *self._replacements}, key=len, reverse=True)
        pattern = re.compile("|".join(_secret_pattern(s) for s in ordered))
        # What a text must hold to be worth the expression: a secret's first word.
        probes = tuple({(s.split() or [s])[0] for s in ordered})
        # One tuple, replaced whole: mask() reads it without the lock.
        self._compiled = (pattern, probes, self._replacements)

    def clear(self) -> None:
        with self._lock:
            self._secrets = frozenset()
            self._replacements = {}
            self._compiled = None

    def mask(self, text: str) -> str:
        compiled = self._compiled
        if compiled is not None:
            pattern, probes, replacements = compiled
            if any(probe in text for probe in probes):
                text = pattern.sub(lambda m: replacements.get(m.group(0), REDACTED), text)
        return redact_text(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record: let the handler report it as usual
            return True
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


#: The one masker of this process; :func:`install` puts it on the root handlers.
MASKER = SecretMasker()

#: Loggers that log settings values (Scrapy's "Overridden settings") or feed URIs:
#: filtered themselves too, for records logged before a root handler exists.
LOGGERS = ("scrapy.crawler", "scrapy.extensions.feedexport")


def install_filters(masker: SecretMasker = MASKER) -> None:
    """Put ``masker`` on every handler of the root logger and on :data:`LOGGERS`.

    Scrapy replaces its root handler when a crawl starts (after building the
    extensions, before opening the spider): call it again then.  Calling it
    again is harmless.
    """
    for handler in logging.root.handlers:
        if masker not in handler.filters:
            handler.addFilter(masker)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if masker not in logger.filters:
            logger.addFilter(masker)


def install(masker: SecretMasker = MASKER) -> None:
    """:func:`install_filters`, and silence WebDriver wire traces (which hold
    what is typed into a login form).

    Call it once the crawl's log handler exists (from a component's
    ``from_crawler``, which Scrapy runs after installing it); calling it again
    is harmless.
    """
    install_filters(masker)
    for name in WIRE_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)
