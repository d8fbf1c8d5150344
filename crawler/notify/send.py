"""Sending a run's report to a job's notification targets.

:func:`notify` is what the scheduler calls after each run; it never raises.
Email goes out with :mod:`smtplib` (``smtp://`` with optional STARTTLS, or
``smtps://``; a login when the target has a user name) as an
:class:`email.message.EmailMessage`; webhooks get the report as JSON
(:meth:`~crawler.notify.report.RunReport.to_json`) in a POST made with
``requests``, signed with HMAC-SHA256 when a secret is configured, retried
once after a connection error or a 5xx answer.

Passwords and secrets are read from the environment or their file when a
notification is sent (so a changed secret needs no scheduler restart), and
appear in no log line, failure message or exception text of this module:
failure messages are built from error codes and class names, not from the
texts of library exceptions (a ``requests`` error repeats the whole URL), and
are masked against the secrets read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

import requests

from crawler.notify.targets import EmailTarget
from crawler.redaction import REDACTED, redact_text

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from crawler.notify.report import RunReport
    from crawler.notify.targets import NotifyTarget, WebhookTarget

logger = logging.getLogger(__name__)

#: The header of a signed webhook: ``sha256=<hex HMAC-SHA256 of the body with the secret>``.
SIGNATURE_HEADER = "X-Crawler-Signature"
USER_AGENT = "crawler-notify/1"
#: Seconds between a webhook's failed first attempt (connection error, 5xx) and its retry.
WEBHOOK_RETRY_DELAY = 1.0
#: Longest server reply quoted in a failure message, characters.
MAX_REPLY = 200


class NotifyError(Exception):
    """A notification could not be sent; the message is one line without secrets."""


def notify(targets: Iterable[NotifyTarget], report: RunReport) -> list[str]:
    """Send ``report`` to each of ``targets`` whose ``on`` matches its status.

    Returns one message per target that failed (``"email to a@x via
    smtp://host:587: SMTP 535 ..."``), one line each, without secrets; an
    empty list when every send worked or none was due.  Never raises (an
    unexpected error of a channel becomes a message too): the caller logs and
    counts the failures.
    """
    failures: list[str] = []
    for target in targets:
        if not target.wants(report.status):
            continue
        secrets: list[str] = []
        try:
            _send(target, report, secrets)
        except NotifyError as error:
            failures.append(_one_line(f"{target.describe()}: {error}", secrets))
        except Exception as error:  # never raise: a notification is not worth a scheduler
            failures.append(
                _one_line(f"{target.describe()}: unexpected {type(error).__name__}", secrets)
            )
        else:
            logger.info("Sent the report of job %s to %s", report.job, target.describe())
    return failures


def _send(target: NotifyTarget, report: RunReport, secrets: list[str]) -> None:
    if isinstance(target.channel, EmailTarget):
        send_email(target.channel, report, secrets)
    else:
        send_webhook(target.channel, report, secrets)


def email_message(target: EmailTarget, report: RunReport) -> EmailMessage:
    """The email of ``report``: subject, plain-text body, ``X-Crawler-Job`` and
    ``X-Crawler-Status`` headers (for mail filters)."""
    message = EmailMessage()
    message["Subject"] = report.subject()
    message["From"] = target.sender
    message["To"] = ", ".join(target.to)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=target.sender.rpartition("@")[2].strip("> "))
    message["X-Crawler-Job"] = report.job
    message["X-Crawler-Status"] = report.status
    message.set_content(report.text())
    return message


def send_email(target: EmailTarget, report: RunReport, secrets: list[str] | None = None) -> None:
    """Send the email of ``report``; raises :class:`NotifyError` (one line, no
    secret).  The password read is appended to ``secrets`` (for masking)."""
    secrets = secrets if secrets is not None else []
    password = None
    if target.username is not None:
        password = _read_secret(target.password_env, target.password_file, "password")
        secrets.append(password)
    message = email_message(target, report)
    context = None
    if target.ssl or target.starttls:
        try:
            context = target.ssl_context()
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            reason = getattr(error, "strerror", None) or type(error).__name__
            raise NotifyError(f"cannot load the CA file {target.cafile}: {reason}") from None
    try:
        if target.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                target.host, target.port, timeout=target.timeout, context=context
            )
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=target.timeout)
        with client:
            if target.starttls:
                client.starttls(context=context)
            if target.username is not None and password is not None:
                client.login(target.username, password)
            refused = client.send_message(message)
    except smtplib.SMTPAuthenticationError as error:
        raise NotifyError(f"login as {target.username!r} refused: {_reply(error)}") from None
    except smtplib.SMTPRecipientsRefused as error:
        raise NotifyError(f"every recipient refused: {_refused(error.recipients)}") from None
    except smtplib.SMTPResponseException as error:
        raise NotifyError(f"server answered {_reply(error)}") from None
    except smtplib.SMTPNotSupportedError:
        what = "STARTTLS" if target.starttls else "the login"
        raise NotifyError(f"the server does not support {what}") from None
    except smtplib.SMTPServerDisconnected:
        raise NotifyError("the server closed the connection") from None
    except smtplib.SMTPException as error:
        raise NotifyError(f"SMTP error ({type(error).__name__})") from None
    except TimeoutError:
        raise NotifyError(f"timed out after {target.timeout:g} s") from None
    except ssl.SSLError as error:  # a certificate not trusted, no common protocol
        raise NotifyError(f"TLS failed: {_os_error(error)}") from None
    except OSError as error:  # refused, unreachable, DNS
        raise NotifyError(f"cannot connect: {_os_error(error)}") from None
    if refused:
        raise NotifyError(f"some recipients refused: {_refused(refused)}")


def webhook_body(report: RunReport) -> bytes:
    """The JSON body POSTed to webhooks (UTF-8, keys sorted)."""
    return json.dumps(report.to_json(), sort_keys=True, ensure_ascii=False).encode()


def signature(secret: str, body: bytes) -> str:
    """The :data:`SIGNATURE_HEADER` value: ``sha256=`` + hex HMAC-SHA256 of ``body``.

    A receiver checks it with ``hmac.compare_digest(header, signature(secret, body))``
    over the raw body it received (the scheme GitHub's webhooks use)."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def send_webhook(
    target: WebhookTarget, report: RunReport, secrets: list[str] | None = None
) -> None:
    """POST the report to the webhook; raises :class:`NotifyError` (one line, no
    secret, the URL shown by its origin only).  A 2xx answer is success;
    redirects are not followed; a connection error or a 5xx answer is retried
    once after :data:`WEBHOOK_RETRY_DELAY` seconds; a read timeout is not
    (the receiver may have acted on it)."""
    secrets = secrets if secrets is not None else []
    body = webhook_body(report)
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    if target.secret_env is not None or target.secret_file is not None:
        secret = _read_secret(target.secret_env, target.secret_file, "secret")
        secrets.append(secret)
        headers[SIGNATURE_HEADER] = signature(secret, body)
    for attempt in (1, 2):
        last = attempt == 2
        try:
            response = requests.post(
                target.url,
                data=body,
                headers=headers,
                timeout=target.timeout,
                allow_redirects=False,
            )
        except requests.ConnectionError as error:  # ConnectTimeout included
            if last:
                what = "timed out" if isinstance(error, requests.ConnectTimeout) else "failed"
                raise NotifyError(
                    f"connection {what} ({type(error).__name__}), also on the retry"
                ) from None
            time.sleep(WEBHOOK_RETRY_DELAY)
            continue
        except requests.Timeout:
            raise NotifyError(f"no answer within {target.timeout:g} s") from None
        except requests.RequestException as error:
            raise NotifyError(f"request failed ({type(error).__name__})") from None
        with response:
            status = response.status_code
        if 200 <= status < 300:
            return
        if status >= 500 and not last:
            time.sleep(WEBHOOK_RETRY_DELAY)
            continue
        retried = ", also on the retry" if status >= 500 else ""
        followed = " (redirects are not followed)" if 300 <= status < 400 else ""
        raise NotifyError(f"answered HTTP {status}{followed}{retried}")


def _read_secret(env: str | None, path: Path | None, what: str) -> str:
    """The secret from environment variable ``env`` or file ``path`` (trailing
    newline dropped); :class:`NotifyError` naming the variable or file when it
    is unset, empty or unreadable."""
    if env is not None:
        value = os.environ.get(env)
        if not value:
            raise NotifyError(f"the {what} variable {env} is not set or empty")
        return value
    if path is not None:
        try:
            value = path.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            raise NotifyError(f"cannot read the {what} file {path}: {reason}") from None
        if not value:
            raise NotifyError(f"the {what} file {path} is empty")
        return value
    raise NotifyError(f"no {what} configured")


def _reply(error: smtplib.SMTPResponseException) -> str:
    text = error.smtp_error
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{error.smtp_code} {' '.join(str(text).split())[:MAX_REPLY]}".strip()


def _refused(recipients: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{address} ({code})" for address, (code, _) in recipients.items())


def _os_error(error: OSError) -> str:
    name = type(error).__name__
    reason = getattr(error, "reason", None) or error.strerror
    return f"{name}: {reason}" if reason else name


def _one_line(text: str, secrets: list[str]) -> str:
    """``text`` on one line with the URLs' passwords and ``secrets`` masked
    (raw and as the base64 an SMTP login would send)."""
    text = redact_text(" ".join(text.split()))
    for secret in secrets:
        for form in (secret, base64.b64encode(secret.encode()).decode()):
            if form:
                text = text.replace(form, REDACTED)
    return text
