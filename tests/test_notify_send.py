"""Sending reports (crawler.notify.send.notify) to a real SMTP server (aiosmtpd)
and a real webhook receiver, both started by the tests on loopback ports."""

from __future__ import annotations

import base64
import hmac
import json
import logging
from typing import TYPE_CHECKING, Any

import pytest
import trustme

from crawler.notify.send import SIGNATURE_HEADER, notify, signature, webhook_body
from crawler.notify.targets import NotifyTarget, parse_targets
from tests.notifytools import (
    HOOK_SECRET,
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpSink,
    TestCA,
)
from tests.test_notify_report import failed_report

if TYPE_CHECKING:
    from pathlib import Path

    from tests.notifytools import WebhookReceiver

WHERE = "jobs.tinysite.notify"
# Every form of the SMTP password a leak could take: raw, and as AUTH PLAIN / LOGIN send it.
PASSWORD_FORMS = (
    SMTP_PASSWORD,
    base64.b64encode(SMTP_PASSWORD.encode()).decode(),
    base64.b64encode(f"\0{SMTP_USER}\0{SMTP_PASSWORD}".encode()).decode(),
)


def targets(*entries: dict[str, Any]) -> list[NotifyTarget]:
    return parse_targets(list(entries), WHERE)


def email(sink: SmtpSink, **options: Any) -> dict[str, Any]:
    return {"to": ["ops@example.org"], "from": "crawler@example.org", "smtp": sink.url, **options}


def login(cafile: Path, **options: Any) -> dict[str, Any]:
    return {"starttls": True, "username": SMTP_USER, "cafile": str(cafile), **options}


def test_failure_sends_one_email_naming_job_run_reason_and_stats(smtp_server: SmtpSink) -> None:
    failures = notify(targets({"email": email(smtp_server)}), failed_report())
    assert failures == []
    (mail,) = smtp_server.mails
    assert (mail.mail_from, mail.rcpt_tos) == ("crawler@example.org", ["ops@example.org"])
    message = mail.message
    assert message["Subject"] == "[crawler] job tinysite run 12 failed: no_pages, start_url_failed"
    assert message["To"] == "ops@example.org"
    assert message["X-Crawler-Status"] == "failed"
    body = message.get_content()
    for expected in (
        "Job:       tinysite",
        "Run:       12 (store run 4)",
        "  - no_pages: No page was fetched (0 pages with a response).",
        "Pages:     0",
        "Errors:    3",
        "Duration:  1 min 15 s",
        "Log file:  runs/tinysite/12/crawl.log",
        "Store:     postgresql://crawler:***@db.test/crawl",
    ):
        assert expected in body.splitlines()
    assert b"storepw77" not in mail.raw


def test_starttls_and_login_send_no_password_anywhere(
    smtp_tls_server: SmtpSink,
    tls_ca: TestCA,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("NOTIFY_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    entry = email(smtp_tls_server, **login(tls_ca.cafile, password_env="NOTIFY_TEST_SMTP_PASSWORD"))
    with caplog.at_level(logging.DEBUG):  # the server's transcript (mail.log) too
        failures = notify(targets({"email": entry}), failed_report())
    assert failures == []
    assert smtp_tls_server.logins == [(SMTP_USER, True)]
    (mail,) = smtp_tls_server.mails
    assert mail.message["Subject"].startswith("[crawler] job tinysite run 12 failed")
    assert "mail.log" in {record.name for record in caplog.records}
    logged = caplog.text
    for form in PASSWORD_FORMS:
        assert form not in logged
        assert form.encode() not in mail.raw


# aiosmtpd warns of AUTH without STARTTLS, not knowing that smtps:// is TLS from the start.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtps_with_password_file(tmp_path: Path, tls_ca: TestCA) -> None:
    password_file = tmp_path / "smtp-password"
    password_file.write_text(SMTP_PASSWORD + "\n")
    users = {SMTP_USER: SMTP_PASSWORD}
    with SmtpSink(tls=tls_ca.server_context(), implicit_tls=True, users=users) as sink:
        assert sink.url.startswith("smtps://")
        entry = email(sink, **login(tls_ca.cafile, password_file=str(password_file)))
        del entry["starttls"]
        assert notify(targets({"email": entry}), failed_report()) == []
        assert sink.logins == [(SMTP_USER, True)]
        assert len(sink.mails) == 1


def test_wrong_password_is_a_failure_message_without_the_password(
    smtp_tls_server: SmtpSink, tls_ca: TestCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong-Pa55word-e81c"
    monkeypatch.setenv("NOTIFY_TEST_SMTP_PASSWORD", wrong)
    entry = email(smtp_tls_server, **login(tls_ca.cafile, password_env="NOTIFY_TEST_SMTP_PASSWORD"))
    (failure,) = notify(targets({"email": entry}), failed_report())
    assert failure.startswith(f"email to ops@example.org via {smtp_tls_server.url}: ")
    assert f"login as '{SMTP_USER}' refused: 535" in failure
    assert "\n" not in failure
    assert wrong not in failure
    assert base64.b64encode(wrong.encode()).decode() not in failure
    # smtplib tries each mechanism the server offers (PLAIN, then LOGIN).
    assert smtp_tls_server.logins
    assert set(smtp_tls_server.logins) == {(SMTP_USER, False)}
    assert smtp_tls_server.mails == []


def test_missing_password_or_ca_and_untrusted_certificate(
    smtp_tls_server: SmtpSink, tls_ca: TestCA, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("NOTIFY_TEST_SMTP_PASSWORD", raising=False)
    unset = email(smtp_tls_server, **login(tls_ca.cafile, password_env="NOTIFY_TEST_SMTP_PASSWORD"))
    (failure,) = notify(targets({"email": unset}), failed_report())
    assert failure.endswith("the password variable NOTIFY_TEST_SMTP_PASSWORD is not set or empty")
    # Without the test CA the server's certificate is refused: TLS is checked.
    monkeypatch.setenv("NOTIFY_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    untrusted = email(smtp_tls_server, **login(other_ca, password_env="NOTIFY_TEST_SMTP_PASSWORD"))
    (failure,) = notify(targets({"email": untrusted}), failed_report())
    assert "TLS failed: SSLCertVerificationError" in failure
    missing = email(smtp_tls_server, **login(tmp_path / "no-ca.pem", password_file="/nonexistent"))
    (failure,) = notify(targets({"email": missing}), failed_report())
    assert failure.endswith("cannot read the password file /nonexistent: No such file or directory")
    missing["password_file"] = str(other_ca)  # readable
    (failure,) = notify(targets({"email": missing}), failed_report())
    assert failure.endswith(
        f"cannot load the CA file {tmp_path / 'no-ca.pem'}: No such file or directory"
    )
    assert smtp_tls_server.logins == []
    assert smtp_tls_server.mails == []


def test_on_failure_sends_nothing_for_a_success_and_always_does(
    smtp_server: SmtpSink, webhook_receiver: WebhookReceiver
) -> None:
    success = failed_report(status="succeeded", reasons=[], pages=12)
    on_failure = targets({"email": email(smtp_server)}, {"webhook": {"url": webhook_receiver.url}})
    assert notify(on_failure, success) == []
    assert smtp_server.mails == []
    assert webhook_receiver.requests == []
    always = targets(
        {"on": ["always"], "email": email(smtp_server)},
        {"on": "always", "webhook": {"url": webhook_receiver.url}},
    )
    assert notify(always, success) == []
    assert notify(always, failed_report(status="interrupted", reasons=[])) == []
    subjects = [mail.message["Subject"] for mail in smtp_server.mails]
    assert subjects == [
        "[crawler] job tinysite run 12 succeeded",
        "[crawler] job tinysite run 12 interrupted",
    ]
    statuses = [json.loads(post.body)["status"] for post in webhook_receiver.requests]
    assert statuses == ["succeeded", "interrupted"]


def test_webhook_posts_the_report_signed(
    webhook_receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_TEST_HOOK_SECRET", HOOK_SECRET)
    report = failed_report()
    hooks = targets(
        {"webhook": {"url": webhook_receiver.url, "secret_env": "NOTIFY_TEST_HOOK_SECRET"}},
        {"webhook": {"url": webhook_receiver.url + "?unsigned=1"}},
    )
    assert notify(hooks, report) == []
    signed, unsigned = webhook_receiver.requests
    assert (signed.method, signed.path) == ("POST", "/hook")
    assert signed.headers["content-type"].startswith("application/json")
    assert json.loads(signed.body) == report.to_json()
    assert signed.body == webhook_body(report)
    header = signed.headers[SIGNATURE_HEADER.lower()]
    assert hmac.compare_digest(header, signature(HOOK_SECRET, signed.body))
    assert not hmac.compare_digest(header, signature("another secret", signed.body))
    assert header != signature(HOOK_SECRET, signed.body + b" ")
    assert HOOK_SECRET.encode() not in signed.body
    assert SIGNATURE_HEADER.lower() not in unsigned.headers
    assert json.loads(unsigned.body)["reasons"][0]["code"] == "no_pages"


def test_webhook_retries_once_after_a_5xx(webhook_receiver: WebhookReceiver) -> None:
    hook = targets({"webhook": {"url": webhook_receiver.url}})
    webhook_receiver.statuses[:] = [503]
    assert notify(hook, failed_report()) == []
    assert len(webhook_receiver.requests) == 2
    webhook_receiver.statuses[:] = [500, 502]
    (failure,) = notify(hook, failed_report())
    assert failure == (
        f"webhook http://127.0.0.1:{webhook_receiver.port}/…: answered HTTP 502, also on the retry"
    )
    webhook_receiver.statuses[:] = [404]
    (failure,) = notify(hook, failed_report())
    assert failure.endswith("answered HTTP 404")
    assert len(webhook_receiver.requests) == 5


def test_dead_webhook_is_a_failure_message_without_its_secrets(
    smtp_server: SmtpSink, closed_port: int
) -> None:
    url = f"http://hookuser:hookpw42@127.0.0.1:{closed_port}/hook/T0/B0/pathsecret?token=t0k"
    both = targets({"webhook": {"url": url}}, {"email": email(smtp_server)})
    (failure,) = notify(both, failed_report())
    assert failure.startswith("webhook http://127.0.0.1:")
    assert "connection failed (ConnectionError), also on the retry" in failure
    for secret in ("hookpw42", "hookuser", "pathsecret", "t0k"):
        assert secret not in failure
    assert len(smtp_server.mails) == 1  # one target failing does not stop the next
