"""Validation of a job's ``notify`` entries (crawler.notify.targets.parse_targets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crawler.exceptions import ConfigError
from crawler.notify.targets import EmailTarget, WebhookTarget, parse_targets

WHERE = "jobs.tinysite.notify"
EMAIL = {"to": ["ops@example.org"], "from": "crawler@example.org", "smtp": "smtp://mail.test"}


def test_email_entry_with_defaults() -> None:
    (target,) = parse_targets([{"email": EMAIL}], WHERE)
    assert target.on == {"failed"}
    assert target.on_names == ("failure",)
    assert target.channel == EmailTarget(
        to=("ops@example.org",),
        sender="crawler@example.org",
        smtp="smtp://mail.test:25",
        host="mail.test",
        port=25,
    )
    assert target.wants("failed")
    assert not target.wants("succeeded")


def test_email_with_login_and_tls() -> None:
    raw = {
        "on": ["failure", "success"],
        "email": {
            **EMAIL,
            "to": "ops@example.org",
            "smtp": "smtp://mail.test:587",
            "starttls": True,
            "username": "u",
            "password_env": "SMTP_PASSWORD",
            "cafile": "ca.pem",
            "timeout": 5,
        },
    }
    (target,) = parse_targets([raw], WHERE)
    channel = target.channel
    assert isinstance(channel, EmailTarget)
    assert (channel.port, channel.starttls, channel.ssl) == (587, True, False)
    assert (channel.username, channel.password_env, channel.cafile) == (
        "u",
        "SMTP_PASSWORD",
        Path("ca.pem"),
    )
    assert channel.timeout == 5.0
    assert target.on == {"failed", "succeeded"}
    smtps = parse_targets(
        [{"email": {**EMAIL, "smtp": "smtps://mail.test", "username": "u", "password_file": "pw"}}],
        WHERE,
    )[0].channel
    assert isinstance(smtps, EmailTarget)
    assert (smtps.port, smtps.ssl, smtps.password_file) == (465, True, Path("pw"))


def test_webhook_entry_and_on_values() -> None:
    (always, interrupted) = parse_targets(
        [
            {"on": "always", "webhook": {"url": "https://h.test/x?token=abc", "secret_env": "S"}},
            {"on": ["interrupted", "missed"], "webhook": {"url": "http://h.test:81/"}},
        ],
        WHERE,
    )
    assert always.channel == WebhookTarget(url="https://h.test/x?token=abc", secret_env="S")
    assert always.on == {"succeeded", "failed", "interrupted", "skipped", "missed"}
    assert interrupted.on == {"interrupted", "missed"}
    assert not interrupted.wants("failed")
    # The description shows the origin only: the path or query may be the secret.
    assert always.describe() == "webhook https://h.test/…"
    assert interrupted.describe() == "webhook http://h.test:81/"


def test_no_entries() -> None:
    assert parse_targets(None, WHERE) == []
    assert parse_targets([], WHERE) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("x", f"{WHERE}: expected a list of tables"),
        ([3], f"{WHERE}[0]: expected a table"),
        ([{"on": ["failure"]}], f"{WHERE}[0]: needs exactly one of 'email' or 'webhook'"),
        (
            [{"email": EMAIL, "webhook": {"url": "http://h/"}}],
            f"{WHERE}[0]: needs exactly one of 'email' or 'webhook' (got email and webhook)",
        ),
        ([{"on": ["sometimes"], "email": EMAIL}], f"{WHERE}[0].on: unknown value 'sometimes'"),
        ([{"on": [], "email": EMAIL}], f"{WHERE}[0].on: expected a non-empty list"),
        ([{"emial": EMAIL}], f"{WHERE}[0].emial: unknown key"),
        ([{"email": {**EMAIL, "to": []}}], f"{WHERE}[0].email.to: expected a non-empty list"),
        ([{"email": {**EMAIL, "to": ["nobody"]}}], f"{WHERE}[0].email.to: 'nobody' is not"),
        ([{"email": {**EMAIL, "to": ["a@x\nBcc: b@y"]}}], f"{WHERE}[0].email.to: "),
        ([{"email": {"to": ["a@x"], "smtp": "smtp://h"}}], f"{WHERE}[0].email.from: required"),
        ([{"email": {**EMAIL, "smtp": None}}], f"{WHERE}[0].email.smtp: required"),
        ([{"email": {**EMAIL, "smtp": "http://h"}}], f"{WHERE}[0].email.smtp: expected smtp://"),
        ([{"email": {**EMAIL, "smtp": "smtp://h:x"}}], f"{WHERE}[0].email.smtp: malformed URL"),
        (
            [{"email": {**EMAIL, "smtps": "smtp://h"}}],
            f"{WHERE}[0].email.smtps: unknown key; allowed: cafile, from,",
        ),
        (
            [{"email": {**EMAIL, "smtp": "smtps://h", "starttls": True}}],
            f"{WHERE}[0].email.starttls: smtps:// is TLS from the start",
        ),
        ([{"email": {**EMAIL, "starttls": "yes"}}], f"{WHERE}[0].email.starttls: expected true"),
        (
            [{"email": {**EMAIL, "starttls": True, "username": "u"}}],
            f"{WHERE}[0].email: username needs password_env",
        ),
        (
            [{"email": {**EMAIL, "password_env": "P"}}],
            f"{WHERE}[0].email.username: required with password_env",
        ),
        (
            [{"email": {**EMAIL, "username": "u", "password_env": "P"}}],
            f"{WHERE}[0].email.starttls: logging in would send the password in clear text",
        ),
        (
            [{"email": {**EMAIL, "username": "u", "password_env": "P", "password_file": "f"}}],
            f"{WHERE}[0].email: password_env and password_file exclude each other",
        ),
        ([{"email": {**EMAIL, "timeout": 0}}], f"{WHERE}[0].email.timeout: expected a number"),
        ([{"webhook": {"url": "ftp://h/"}}], f"{WHERE}[0].webhook.url: expected an http://"),
        ([{"webhook": {}}], f"{WHERE}[0].webhook.url: required"),
        ([{"webhook": "http://h/"}], f"{WHERE}[0].webhook: expected a table"),
        (
            [{"webhook": {"url": "http://h/", "secret": "x"}}],
            f"{WHERE}[0].webhook.secret: unknown key",
        ),
        (
            [{"webhook": {"url": "http://h/", "timeout": True}}],
            f"{WHERE}[0].webhook.timeout: expected a number",
        ),
    ],
)
def test_errors_name_the_field(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_targets(raw, WHERE)
    assert str(raised.value).startswith(message), str(raised.value)
    assert "\n" not in str(raised.value)


def test_errors_do_not_repeat_url_passwords() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_targets([{"email": {**EMAIL, "smtp": "smtp://u:hunter22@h:25"}}], WHERE)
    assert str(raised.value).startswith(f"{WHERE}[0].email.smtp: no user or password in the URL")
    assert "hunter22" not in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        parse_targets([{"webhook": {"url": "ftp://u:hunter22@h/?token=tok123"}}], WHERE)
    assert "hunter22" not in str(raised.value)
    assert "tok123" not in str(raised.value)
