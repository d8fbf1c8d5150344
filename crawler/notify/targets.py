"""Notification targets of a scheduled job: where to say that a run failed (or succeeded).

A job file's ``notify`` entries (a list of tables, ``[[jobs.NAME.notify]]``) are
validated here, before any run, by :func:`parse_targets`.  Each entry has ``on``
(when to send) and exactly one channel, ``email`` or ``webhook``::

    [[jobs.tinysite.notify]]
    on = ["failure"]               # default; or "success", "always", or a status
    email = { to = ["ops@example.org"], from = "crawler@example.org",
              smtp = "smtp://mail.example.org:587", starttls = true,
              username = "crawler", password_env = "SMTP_PASSWORD" }

    [[jobs.tinysite.notify]]
    on = ["always"]
    webhook = { url = "https://hooks.example.org/crawler", secret_env = "HOOK_SECRET",
                timeout = 10 }

Secrets are never part of a target: a target names the environment variable
or the file that holds the password or the signing secret, and
:mod:`crawler.notify.send` reads it when it sends.  URLs with a password
(``smtp://u:pw@host``) are refused for the same reason.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.exceptions import ConfigError
from crawler.redaction import redact_url

#: The values of ``on`` that are not statuses, and the statuses they stand for.
#: A status name itself (``"interrupted"``, ``"skipped"``, ``"missed"``) is
#: accepted too, for those who want to hear of these runs.
ON_ALIASES: dict[str, frozenset[str]] = {
    "failure": frozenset({"failed"}),
    "success": frozenset({"succeeded"}),
    "always": frozenset({"succeeded", "failed", "interrupted", "skipped", "missed"}),
}
#: The statuses of a run (crawler.notify.report.RunReport.status).
STATUSES = frozenset({"succeeded", "failed", "interrupted", "skipped", "missed"})
DEFAULT_ON = ("failure",)
SMTP_PORTS = {"smtp": 25, "smtps": 465}
DEFAULT_SMTP_TIMEOUT = 30.0  # seconds, each SMTP operation
DEFAULT_WEBHOOK_TIMEOUT = 10.0  # seconds, connect and read each


@dataclass(frozen=True)
class EmailTarget:
    """An email channel: ``to`` (one or more addresses), ``sender`` (the ``from``
    key), the server (``smtp://host[:port]``, default port 25, or
    ``smtps://host[:port]``, TLS from the start, default 465).

    ``starttls`` upgrades a ``smtp://`` connection (the server must offer it,
    or the send fails: no fallback to clear text).  ``username`` logs in
    (smtplib picks the mechanism the server offers: CRAM-MD5, PLAIN or LOGIN)
    with the password of ``password_env`` or ``password_file`` (one is
    required with a user name; a file's trailing newline is dropped); a login
    needs TLS (``smtps://`` or ``starttls``).  TLS certificates are checked
    against the system's CAs (or ``SSL_CERT_FILE``), or ``cafile``;
    ``tls_verify = false`` turns the check off (a test server).
    """

    to: tuple[str, ...]
    sender: str
    smtp: str
    host: str
    port: int
    ssl: bool = False
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    cafile: Path | None = None
    tls_verify: bool = True
    timeout: float = DEFAULT_SMTP_TIMEOUT

    def describe(self) -> str:
        """``email to a@x via smtp://host:587`` (no secret: URLs with a password are refused)."""
        return f"email to {', '.join(self.to)} via {self.smtp}"

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context of ``smtps://`` and STARTTLS: certificate and host name
        checked against ``cafile`` or the default CAs, unless ``tls_verify`` is off."""
        context = ssl.create_default_context(
            cafile=str(self.cafile) if self.cafile is not None else None
        )
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


@dataclass(frozen=True)
class WebhookTarget:
    """A webhook channel: the report as JSON POSTed to ``url`` (``http://`` or
    ``https://``), signed when ``secret_env`` or ``secret_file`` names a secret
    (header ``X-Crawler-Signature: sha256=<hex HMAC-SHA256 of the body>``).
    ``timeout`` (seconds) bounds the connection and the wait for the answer."""

    url: str
    secret_env: str | None = None
    secret_file: Path | None = None
    timeout: float = DEFAULT_WEBHOOK_TIMEOUT

    def describe(self) -> str:
        """``webhook https://host:port/…``: the origin only, without user
        information; the path and query may be the secret (Slack's are)."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port is not None else ""
        rest = "/…" if parts.path.strip("/") or parts.query else "/"
        return f"webhook {parts.scheme}://{host}{port}{rest}"


@dataclass(frozen=True)
class NotifyTarget:
    """One ``notify`` entry: the statuses it is sent for (``on``, expanded from
    ``failure``/``success``/``always``), the names as written (``on_names``), and
    its channel."""

    on: frozenset[str]
    on_names: tuple[str, ...]
    channel: EmailTarget | WebhookTarget

    def wants(self, status: str) -> bool:
        """Whether a run with this status is reported to this target."""
        return status in self.on

    def describe(self) -> str:
        return self.channel.describe()


def parse_targets(raw: Any, where: str) -> list[NotifyTarget]:
    """The targets of a job file's ``notify`` list (``raw``: a list of tables as
    TOML or YAML loads them; None or empty: no target).

    ``where`` is the field path of the list (``jobs.tinysite.notify``); an invalid
    entry raises :class:`~crawler.exceptions.ConfigError` whose message starts
    with the path of the bad field (``jobs.tinysite.notify[0].email.to: ...``)
    and says what is allowed.  Nothing is read from the environment or from
    files here: a missing password variable is a send-time failure.
    """
    if raw is None:
        return []
    if isinstance(raw, dict):  # a single table written as [jobs.NAME.notify]
        raw = [raw]
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: expected a list of tables, got {_kind(raw)}")
    return [_parse_entry(entry, f"{where}[{index}]") for index, entry in enumerate(raw)]


def _parse_entry(entry: Any, where: str) -> NotifyTarget:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table, got {_kind(entry)}")
    _no_unknown(entry, {"on", "email", "webhook"}, where)
    on_names = _on(entry.get("on", list(DEFAULT_ON)), f"{where}.on")
    on = frozenset().union(*(ON_ALIASES.get(name, frozenset({name})) for name in on_names))
    channels = [key for key in ("email", "webhook") if key in entry]
    if len(channels) != 1:
        raise ConfigError(
            f"{where}: needs exactly one of 'email' or 'webhook' "
            f"(got {' and '.join(channels) or 'neither'}); write one entry per channel"
        )
    name = channels[0]
    table = entry[name]
    if not isinstance(table, dict):
        raise ConfigError(f"{where}.{name}: expected a table, got {_kind(table)}")
    channel: EmailTarget | WebhookTarget = (
        _email(table, f"{where}.email") if name == "email" else _webhook(table, f"{where}.webhook")
    )
    return NotifyTarget(on=on, on_names=on_names, channel=channel)


def _on(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    allowed = sorted(ON_ALIASES) + sorted(STATUSES - {"succeeded", "failed"})
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: expected a non-empty list of {', '.join(allowed)}")
    for name in value:
        if name not in ON_ALIASES and name not in STATUSES:
            raise ConfigError(f"{where}: unknown value {name!r}; allowed: {', '.join(allowed)}")
    return tuple(dict.fromkeys(value))


def _email(table: dict[str, Any], where: str) -> EmailTarget:
    _no_unknown(
        table,
        {
            "to",
            "from",
            "smtp",
            "starttls",
            "username",
            "password_env",
            "password_file",
            "cafile",
            "tls_verify",
            "timeout",
        },
        where,
    )
    to = table.get("to")
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not to:
        raise ConfigError(f"{where}.to: expected a non-empty list of email addresses")
    recipients = tuple(_address(value, f"{where}.to") for value in to)
    if "from" not in table:
        raise ConfigError(f"{where}.from: required (the sender's address)")
    sender = _address(table["from"], f"{where}.from")
    smtp, host, port, use_ssl = _smtp_url(table.get("smtp"), f"{where}.smtp")
    starttls = _bool(table, "starttls", False, where)
    if use_ssl and starttls:
        raise ConfigError(
            f"{where}.starttls: smtps:// is TLS from the start; "
            "use smtp://host:587 with starttls = true, or smtps:// without starttls"
        )
    username = _optional_str(table, "username", where)
    password_env = _optional_str(table, "password_env", where)
    password_file = _optional_path(table, "password_file", where)
    if password_env is not None and password_file is not None:
        raise ConfigError(f"{where}: password_env and password_file exclude each other")
    if username is None and (password_env is not None or password_file is not None):
        raise ConfigError(f"{where}.username: required with password_env or password_file")
    if username is not None and password_env is None and password_file is None:
        raise ConfigError(
            f"{where}: username needs password_env (an environment variable) or "
            "password_file (a file) holding the password"
        )
    if username is not None and not (use_ssl or starttls):
        raise ConfigError(
            f"{where}.starttls: logging in would send the password in clear text; "
            "set starttls = true or use smtps://"
        )
    tls_verify = _bool(table, "tls_verify", True, where)
    return EmailTarget(
        to=recipients,
        sender=sender,
        smtp=smtp,
        host=host,
        port=port,
        ssl=use_ssl,
        starttls=starttls,
        username=username,
        password_env=password_env,
        password_file=password_file,
        cafile=_optional_path(table, "cafile", where),
        tls_verify=tls_verify,
        timeout=_timeout(table, DEFAULT_SMTP_TIMEOUT, where),
    )


def _webhook(table: dict[str, Any], where: str) -> WebhookTarget:
    _no_unknown(table, {"url", "secret_env", "secret_file", "timeout"}, where)
    url = table.get("url")
    if not isinstance(url, str) or not url:
        raise ConfigError(f"{where}.url: required, an http:// or https:// URL")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as error:
        raise ConfigError(f"{where}.url: malformed URL {redact_url(url)!r}: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{where}.url: expected an http:// or https:// URL with a host, got {redact_url(url)!r}"
        )
    secret_env = _optional_str(table, "secret_env", where)
    secret_file = _optional_path(table, "secret_file", where)
    if secret_env is not None and secret_file is not None:
        raise ConfigError(f"{where}: secret_env and secret_file exclude each other")
    return WebhookTarget(
        url=url,
        secret_env=secret_env,
        secret_file=secret_file,
        timeout=_timeout(table, DEFAULT_WEBHOOK_TIMEOUT, where),
    )


def _smtp_url(value: Any, where: str) -> tuple[str, str, int, bool]:
    """``(url as shown, host, port, implicit TLS)`` of ``smtp://host[:port]``
    or ``smtps://host[:port]``."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: required, smtp://host[:port] or smtps://host[:port]")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as error:
        raise ConfigError(f"{where}: malformed URL {redact_url(value)!r}: {error}") from None
    if parts.scheme not in SMTP_PORTS or not parts.hostname:
        raise ConfigError(
            f"{where}: expected smtp://host[:port] or smtps://host[:port], "
            f"got {redact_url(value)!r}"
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"{where}: no user or password in the URL ({redact_url(value)!r}); "
            "use username and password_env or password_file"
        )
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ConfigError(f"{where}: only scheme, host and port are allowed, got {value!r}")
    port = port if port is not None else SMTP_PORTS[parts.scheme]
    host = parts.hostname
    shown_host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown_host}:{port}", host, port, parts.scheme == "smtps"


def _address(value: Any, where: str) -> str:
    """An email address as written (``a@x`` or ``Name <a@x>``): one line with an ``@``."""
    if (
        not isinstance(value, str)
        or "@" not in value
        or any(c in value for c in "\r\n,")
        or value != value.strip()
    ):
        raise ConfigError(f"{where}: {value!r} is not an email address (one 'name@domain' each)")
    return value


def _bool(table: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.{key}: expected true or false, got {value!r}")
    return value


def _optional_str(table: dict[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}.{key}: expected a non-empty string, got {_kind(value)}")
    return value


def _optional_path(table: dict[str, Any], key: str, where: str) -> Path | None:
    value = _optional_str(table, key, where)
    return Path(value).expanduser() if value is not None else None


def _timeout(table: dict[str, Any], default: float, where: str) -> float:
    value = table.get("timeout", default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{where}.timeout: expected a number of seconds > 0, got {value!r}")
    return float(value)


def _no_unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(key) for key in table if key not in allowed)
    if unknown:
        raise ConfigError(
            f"{where}.{unknown[0]}: unknown key; allowed: {', '.join(sorted(allowed))}"
        )


def _kind(value: Any) -> str:
    return type(value).__name__
