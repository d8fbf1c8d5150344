"""The log filter that masks passwords and session cookie values."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

from crawler.redaction import REDACTED, SecretMasker

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def masked_logger() -> Iterator[tuple[logging.Logger, list[str], SecretMasker]]:
    """A logger whose handler formats through a fresh masker, and what it wrote."""
    written: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            written.append(self.format(record))

    masker = SecretMasker()
    handler = ListHandler()
    handler.addFilter(masker)
    logger = logging.getLogger("tests.login.masking")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, written, masker
    logger.removeHandler(handler)


def test_nothing_is_touched_until_a_secret_is_known(
    masked_logger: tuple[logging.Logger, list[str], SecretMasker],
) -> None:
    logger, written, _ = masked_logger
    logger.info("lang=%s", "visible-value")
    assert written == ["lang=visible-value"]


def test_known_secrets_are_masked_in_messages_args_and_tracebacks(
    masked_logger: tuple[logging.Logger, list[str], SecretMasker],
) -> None:
    logger, written, masker = masked_logger
    masker.add("teapot-rabbit-1865", "abcdefSESSION123", "en", None)
    logger.warning("typed %s into the form", "teapot-rabbit-1865")
    try:
        raise ValueError("session abcdefSESSION123 rejected")
    except ValueError:
        logger.exception("failed with abcdefSESSION123")
    logger.info("lang=en stays")  # too short to be masked
    text = "\n".join(written)
    assert "teapot-rabbit-1865" not in text and "abcdefSESSION123" not in text
    assert f"typed {REDACTED} into the form" in text
    assert f"ValueError: session {REDACTED} rejected" in text
    assert written[-1] == "lang=en stays"


def test_cookie_header_values_are_masked_once_active(
    masked_logger: tuple[logging.Logger, list[str], SecretMasker],
) -> None:
    logger, written, masker = masked_logger
    masker.add("the-password")
    logger.debug(
        "Sending cookies to: <GET http://x/>\nCookie: pay_session=unknownvalue; lang=en\n"
        "Set-Cookie: pay_session=othervalue; Path=/pay/; HttpOnly"
    )
    assert written[-1] == (
        f"Sending cookies to: <GET http://x/>\nCookie: pay_session={REDACTED}; lang={REDACTED}\n"
        f"Set-Cookie: pay_session={REDACTED}; Path=/pay/; HttpOnly"
    )


def test_a_longer_secret_containing_a_shorter_one_is_masked_whole() -> None:
    masker = SecretMasker()
    masker.add("abcdef", "abcdefghij")
    assert masker.mask("x abcdefghij y abcdef") == f"x {REDACTED} y {REDACTED}"


def test_typed_values_stay_out_of_action_reprs() -> None:
    from crawler.browser.request import BrowserOptions, Fill

    options = BrowserOptions(actions=(Fill("#password", "teapot-rabbit-1865"),))
    assert "teapot-rabbit-1865" not in repr(options)
    assert options.actions[0].value == "teapot-rabbit-1865"


def test_registered_url_passwords_are_masked_however_written() -> None:
    masker = SecretMasker()
    masker.add_url(
        "ftp://fu:space pw'q\"d@127.0.0.1:1/a.jsonl",
        "ftp://me@example.org:userat-pw@h/x",
        "s3://bucket/no-password.csv",  # nothing to register
    )
    assert masker.mask("Error storing feed in: ftp://fu:space pw'q\"d@127.0.0.1:1/a.jsonl") == (
        f"Error storing feed in: ftp://fu:{REDACTED}@127.0.0.1:1/a.jsonl"
    )
    assert (
        masker.mask("to ftp://me@example.org:userat-pw@h/x")
        == f"to ftp://me@example.org:{REDACTED}@h/x"
    )
    # the password alone, long enough, raw or decoded
    masker.add_url("ftp://u:p%40ssword1@h/")
    assert masker.mask("login p@ssword1 refused, p%40ssword1") == (
        f"login {REDACTED} refused, {REDACTED}"
    )


def test_a_secret_cut_by_pprint_between_words_is_masked_whole() -> None:
    import pprint

    secret = "correct horse battery staple and more words than a line holds"
    masker = SecretMasker()
    masker.add(secret)
    printed = pprint.pformat({"MAIL_PASS": secret, "X": 1}, width=40)
    assert "\n" in printed.split("'X'")[0]  # pprint did cut it
    assert masker.mask(printed) == f"{{'MAIL_PASS': '{REDACTED}',\n 'X': 1}}"
