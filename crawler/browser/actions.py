"""Waiting for and acting on elements: ``wait_for`` conditions and the request's actions.

Built on Selenium 4's ``WebDriverWait`` and ``expected_conditions``; failures
become the framework's download errors (:class:`BrowserWaitTimeoutError`,
:class:`BrowserPageError`), which Scrapy's retry understands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    InvalidArgumentException,
    InvalidSelectorException,
    JavascriptException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from crawler.browser.request import Click, Fill, ScrollToBottom
from crawler.exceptions import BrowserPageError, BrowserWaitTimeoutError

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

    from crawler.browser.request import WaitCondition

# Seconds between two checks of a wait condition (Selenium's default is 0.5).
POLL = 0.05

SCROLL_TO_BOTTOM = (
    "window.scrollTo(0, Math.max(document.body ? document.body.scrollHeight : 0,"
    " document.documentElement.scrollHeight));"
)


def locator(selector: str) -> tuple[str, str]:
    """``(By.XPATH, ...)`` for XPath-looking or ``xpath:`` selectors, else CSS."""
    if selector.startswith("xpath:"):
        return By.XPATH, selector[6:]
    if selector.startswith("css:"):
        return By.CSS_SELECTOR, selector[4:]
    if selector.startswith(("/", "./", "(")):
        return By.XPATH, selector
    return By.CSS_SELECTOR, selector


def describe(condition: WaitCondition) -> str:
    return (
        repr(condition)
        if isinstance(condition, str)
        else getattr(condition, "__name__", type(condition).__name__)
    )


def wait(driver: WebDriver, condition: WaitCondition, timeout: float, url: str) -> Any:
    """Wait up to ``timeout`` seconds for ``condition``; its truthy value.

    Raises :class:`BrowserWaitTimeoutError` when it does not hold in time,
    :class:`BrowserPageError` for an invalid selector.
    """
    check = condition if callable(condition) else ec.presence_of_element_located(locator(condition))
    try:
        return WebDriverWait(driver, timeout, poll_frequency=POLL).until(check)
    except TimeoutException as e:
        raise BrowserWaitTimeoutError(
            f"wait_for {describe(condition)} did not match on {url} within {timeout:g} s"
        ) from e
    except (InvalidSelectorException, InvalidArgumentException) as e:
        raise BrowserPageError(
            f"wait_for {describe(condition)} is not a valid selector ({url})"
        ) from e


def _wait_element(
    driver: WebDriver, condition: Any, selector: str, timeout: float, url: str
) -> Any:
    try:
        return WebDriverWait(driver, timeout, poll_frequency=POLL).until(condition)
    except TimeoutException as e:
        raise BrowserWaitTimeoutError(
            f"no element {selector!r} to act on appeared on {url} within {timeout:g} s"
        ) from e


def perform(
    driver: WebDriver, action: Click | Fill | ScrollToBottom, timeout: float, url: str
) -> None:
    """Do one action of a request, then wait for its ``wait_for``.

    Raises :class:`BrowserPageError` when the element is missing or cannot be
    used, :class:`BrowserWaitTimeoutError` when it does not appear in time.
    """
    try:
        if isinstance(action, Click):
            element = _wait_element(
                driver,
                ec.element_to_be_clickable(locator(action.selector)),
                action.selector,
                timeout,
                url,
            )
            try:
                element.click()
            except ElementClickInterceptedException:
                driver.execute_script("arguments[0].click();", element)
        elif isinstance(action, Fill):
            element = _wait_element(
                driver,
                ec.visibility_of_element_located(locator(action.selector)),
                action.selector,
                timeout,
                url,
            )
            element.clear()
            element.send_keys(action.value)
        else:
            driver.execute_script(SCROLL_TO_BOTTOM)
    except (
        NoSuchElementException,
        ElementNotInteractableException,
        StaleElementReferenceException,
        InvalidSelectorException,
        JavascriptException,
    ) as e:
        raise BrowserPageError(
            f"action {type(action).__name__} failed on {url}: {first_line(e)}"
        ) from e
    if action.wait_for is not None:
        wait(driver, action.wait_for, timeout, url)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (WebDriver messages carry stack traces)."""
    text = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
    return text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__
