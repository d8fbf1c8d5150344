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
    logger.info("Cookie: a=%s", "visible-value")
    assert written == ["Cookie: a=visible-value"]


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
