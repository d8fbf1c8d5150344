"""Real servers for notification tests: an SMTP server (aiosmtpd) and a webhook
receiver (http.server), each on a free loopback port, in a thread of the test process.

Reusable by any test that needs to see what was sent (the scheduler's tests
too): the fixtures below are imported by ``tests/conftest.py``, so every test
can ask for them by name; or build :class:`SmtpSink` / :class:`WebhookReceiver`
yourself (both are context managers).  A scheduler running as a subprocess reaches them at
``sink.url`` / ``receiver.url``; wait for its notifications with
``sink.wait_for(1)`` / ``receiver.wait_for(1)``.

* :func:`smtp_server`: plain SMTP, no TLS, no login.
* :func:`smtp_tls_server`: STARTTLS required before anything else, and a login
  (``SMTP_USER`` / ``SMTP_PASSWORD``) required before ``MAIL``; its certificate
  is issued for 127.0.0.1 by a throwaway CA (:func:`tls_ca`, from ``trustme``)
  whose PEM file (``tls_ca.cafile``) the client trusts through the email
  target's ``cafile`` key.
* :func:`webhook_receiver`: records every POST; answers the statuses queued
  in ``receiver.statuses`` first, then 200.
"""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

SMTP_USER = "crawler"
# Long and unusual, so a leak of it (or of its base64) cannot be a coincidence.
SMTP_PASSWORD = "s3cret-Smtp-Pa55word-7f3a9c"
HOOK_SECRET = "hook-Secret-5d1e8b2a-Xq"


@dataclass
class ReceivedMail:
    """One message the SMTP server accepted: envelope and parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


@dataclass
class TestCA:
    """A throwaway certificate authority and its PEM file (``cafile``)."""

    __test__ = False  # not a test class

    ca: trustme.CA
    cafile: Path

    def server_context(self, *names: str) -> ssl.SSLContext:
        """A server TLS context with a certificate for ``names`` (default 127.0.0.1)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*(names or ("127.0.0.1",))).configure_cert(context)
        return context


@dataclass
class _Collector:
    """aiosmtpd handler: keeps each message and each login attempt."""

    mails: list[ReceivedMail] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)  # (user, accepted)
    users: dict[str, str] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        mail = ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), raw, parsed)
        with self.changed:
            self.mails.append(mail)
            self.changed.notify_all()
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode()
        accepted = self.users.get(user) == auth_data.password.decode()
        with self.changed:
            self.logins.append((user, accepted))
        # handled=False: aiosmtpd answers 235 or 535 itself.
        return AuthResult(success=accepted, handled=False)


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that collects what it receives.

    ``tls``: a server TLS context; with ``implicit_tls`` the server speaks TLS
    from the start (``smtps://``), else it offers and requires STARTTLS.
    ``users``: logins it accepts (then a login is required before ``MAIL``).
    """

    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        users: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()  # aiosmtpd's controller needs the port before it starts
        self.implicit_tls = implicit_tls
        self._collector = _Collector(users=dict(users or {}))
        options: dict[str, Any] = {}
        if tls is not None and implicit_tls:
            options["ssl_context"] = tls
        elif tls is not None:
            options.update(tls_context=tls, require_starttls=True)
        if users:
            options.update(
                authenticator=self._collector.authenticate,
                auth_required=True,
                # AUTH only after STARTTLS; with implicit TLS the connection is TLS already.
                auth_require_tls=tls is not None and not implicit_tls,
            )
        self._controller = Controller(
            self._collector, hostname="127.0.0.1", port=self.port, **options
        )

    @property
    def url(self) -> str:
        """``smtp://127.0.0.1:PORT`` (``smtps://`` with implicit TLS)."""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://127.0.0.1:{self.port}"

    @property
    def mails(self) -> list[ReceivedMail]:
        """The messages received so far."""
        with self._collector.changed:
            return list(self._collector.mails)

    @property
    def logins(self) -> list[tuple[str, bool]]:
        """The login attempts so far: (user, accepted)."""
        with self._collector.changed:
            return list(self._collector.logins)

    def wait_for(self, count: int, timeout: float = 10) -> list[ReceivedMail]:
        """The messages once there are at least ``count`` (AssertionError after ``timeout`` s)."""
        with self._collector.changed:
            self._collector.changed.wait_for(lambda: len(self._collector.mails) >= count, timeout)
            mails = list(self._collector.mails)
        assert len(mails) >= count, f"{len(mails)} mails after {timeout} s, expected {count}"
        return mails

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class ReceivedPost:
    """One request the webhook receiver got."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


class WebhookReceiver:
    """A real HTTP server (ThreadingHTTPServer) on 127.0.0.1 that records
    requests; answers the statuses in :attr:`statuses` first (popped in
    order), then 200 with an empty body."""

    def __init__(self) -> None:
        self.requests: list[ReceivedPost] = []
        self.statuses: list[int] = []
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver.changed:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.requests.append(ReceivedPost("POST", self.path, headers, body))
                    receiver.changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/hook``."""
        return f"http://127.0.0.1:{self.port}/hook"

    def wait_for(self, count: int, timeout: float = 10) -> list[ReceivedPost]:
        """The requests once there are at least ``count`` (AssertionError after ``timeout`` s)."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.requests) >= count, timeout)
            got = list(self.requests)
        assert len(got) >= count, f"{len(got)} webhook requests after {timeout} s, expected {count}"
        return got

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """A throwaway CA (trustme); its certificate in PEM at ``.cafile``."""
    ca = trustme.CA()
    cafile = tmp_path_factory.mktemp("notify-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    return TestCA(ca, cafile)


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    """A plain SMTP server: no TLS, no login."""
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def smtp_tls_server(tls_ca: TestCA) -> Iterator[SmtpSink]:
    """An SMTP server that requires STARTTLS (certificate from :func:`tls_ca`)
    and a login as ``SMTP_USER`` with ``SMTP_PASSWORD``."""
    with SmtpSink(tls=tls_ca.server_context(), users={SMTP_USER: SMTP_PASSWORD}) as sink:
        yield sink


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A webhook receiver that answers 200 (queue other statuses in ``.statuses``)."""
    with WebhookReceiver() as receiver:
        yield receiver
