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
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from crawler.browser.request import Choose, Click, Fill, ScrollToBottom
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


#: Selector prefix: the rest is a script body that returns the element (or null).
SCRIPT = "script:"
# Input types a browser does not take keystrokes for in a portable way (the
# date pickers' fields follow the locale): their value is set and the input and
# change events dispatched, as the page sees a user's choice.
_SET_BY_SCRIPT = frozenset({"date", "month", "week", "time", "datetime-local", "color", "range"})
_SET_VALUE = (
    "const el = arguments[0], proto = Object.getPrototypeOf(el);"
    "Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, arguments[1]);"
    "el.dispatchEvent(new Event('input', {bubbles: true}));"
    "el.dispatchEvent(new Event('change', {bubbles: true}));"
)


def locator(selector: str) -> tuple[str, str]:
    """``(By.XPATH, ...)`` for XPath-looking or ``xpath:`` selectors, else CSS
    (``script:`` selectors are found by :func:`find_by_script`)."""
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


_CHOOSE_HIDDEN = (
    "const el = arguments[0], value = arguments[1];"
    "if (el.tagName !== 'SELECT') { if (!el.checked) { el.click(); } return; }"
    "for (const option of el.options) { option.selected = option.value === value; }"
    "el.dispatchEvent(new Event('input', {bubbles: true}));"
    "el.dispatchEvent(new Event('change', {bubbles: true}));"
)


_OPTION_INDEX = (
    "const i = Array.from(arguments[0].options).findIndex((o) => o.value === arguments[1]);"
    "return i < 0 ? null : i;"
)


def _condition(selector: str, clickable: bool, visible: bool = True) -> Any:
    """The wait condition finding ``selector``'s element, visible (and enabled);
    with ``visible=False`` any element found (``Choose`` on styled controls)."""
    if not visible:
        find_css_or_xpath = locator(selector) if not selector.startswith(SCRIPT) else None
        body = selector[len(SCRIPT) :]

        def present(driver: WebDriver) -> Any:
            if find_css_or_xpath is not None:
                elements = driver.find_elements(*find_css_or_xpath)
                return elements[0] if elements else False
            return driver.execute_script(body) or False

        return present
    if not selector.startswith(SCRIPT):
        find = locator(selector)
        return (
            ec.element_to_be_clickable(find)
            if clickable
            else ec.visibility_of_element_located(find)
        )
    body = selector[len(SCRIPT) :]

    def found(driver: WebDriver) -> Any:
        element = driver.execute_script(body)
        if element is None or not element.is_displayed():
            return False
        return element if not clickable or element.is_enabled() else False

    return found


def perform(
    driver: WebDriver, action: Click | Fill | Choose | ScrollToBottom, timeout: float, url: str
) -> None:
    """Do one action of a request, then wait for its ``wait_for``.

    Raises :class:`BrowserPageError` when the element is missing or cannot be
    used, :class:`BrowserWaitTimeoutError` when it does not appear in time.
    """
    try:
        if isinstance(action, Click):
            element = _wait_element(
                driver, _condition(action.selector, True), action.selector, timeout, url
            )
            try:
                element.click()
            except ElementClickInterceptedException:
                driver.execute_script("arguments[0].click();", element)
        elif isinstance(action, Fill):
            element = _wait_element(
                driver, _condition(action.selector, False), action.selector, timeout, url
            )
            if (element.get_attribute("type") or "").lower() in _SET_BY_SCRIPT:
                driver.execute_script(_SET_VALUE, element, action.value)
            else:
                element.clear()
                element.send_keys(action.value)
        elif isinstance(action, Choose):
            element = _wait_element(
                driver,
                _condition(action.selector, True, visible=False),
                action.selector,
                timeout,
                url,
            )
            if not element.is_displayed():  # a styled control: its label is what shows
                driver.execute_script(_CHOOSE_HIDDEN, element, action.value)
            elif element.tag_name.lower() == "select":
                select = Select(element)
                if select.is_multiple:
                    select.deselect_all()
                # By the option's value as the page has it: Select.select_by_value
                # matches only a value *attribute*, not an option whose text is its value.
                index = driver.execute_script(_OPTION_INDEX, element, action.value)
                if index is None:
                    raise NoSuchElementException(f"no option with the value {action.value!r}")
                select.select_by_index(index)
            elif not element.is_selected():
                element.click()
        else:
            driver.execute_script(SCROLL_TO_BOTTOM)
    except (
        NotImplementedError,  # Select.deselect_all on a single select
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
