"""How a spider asks for a rendered page.

Either yield a :class:`BrowserRequest`, or put ``meta["browser"]`` on any
request: ``True`` (render with the defaults), a dict of :class:`BrowserOptions`
fields, or a :class:`BrowserOptions`.  Requests without the key are downloaded
by Scrapy over plain HTTP, untouched.

The answer is a :class:`~crawler.browser.rendered.RenderedResponse`
(``"rendered"`` in ``response.flags``; test with
:func:`~crawler.browser.rendered.is_rendered`) whose ``render`` is the
:class:`~crawler.browser.result.RenderResult`:

* ``response.render.script_result``: the return value of ``script`` (``None`` without one)
* ``response.render.screenshot``: PNG bytes when ``screenshot=True``
* ``response.render.status_known``: ``False`` when the browser could not report
  the main document's status (then ``response.status`` is 200) or headers
* ``response.render.elapsed``: seconds spent in the browser (navigation to result)
* ``response.raw`` / ``raw_encoding``: the page as the server sent it, or ``None``
* ``response.document_content_type``: the main document's ``Content-Type`` as served
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypeAlias

from scrapy import Request

from crawler.browser.config import validate_block_resources
from crawler.exceptions import BrowserConfigError

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

META_KEY = "browser"

#: A CSS selector, an XPath (starting with ``/``, ``./`` or ``(``; or prefixed
#: ``xpath:``; ``css:`` forces CSS), or a callable taking the driver that
#: returns something truthy once the page is ready.
WaitCondition: TypeAlias = "str | Callable[[WebDriver], Any]"


@dataclass(frozen=True)
class Click:
    """Click the first element matching ``selector`` (CSS or XPath, as ``wait_for``)."""

    selector: str
    wait_for: WaitCondition | None = None


@dataclass(frozen=True)
class Fill:
    """Type ``value`` into the element matching ``selector`` (cleared first).

    ``value`` stays out of ``repr()``: it is often a password.
    """

    selector: str
    value: str = field(repr=False)
    wait_for: WaitCondition | None = None


@dataclass(frozen=True)
class Choose:
    """Choose ``value`` in the element matching ``selector``: the option of a
    ``<select>`` with that value (the only one, in a multiple select), or check
    a radio button or checkbox (whose ``value`` it is).  Done by clicking, as a
    user would, so the page's ``change`` handlers run."""

    selector: str
    value: str
    wait_for: WaitCondition | None = None


@dataclass(frozen=True)
class ScrollToBottom:
    """Scroll to the bottom of the page, so that lazy content loads."""

    wait_for: WaitCondition | None = None


Action: TypeAlias = "Click | Fill | Choose | ScrollToBottom"


@dataclass(frozen=True)
class BrowserOptions:
    """What to do in the browser for one request.  ``None`` means the setting's default."""

    wait_for: WaitCondition | None = None
    wait_timeout: float | None = None  # seconds; default SELENIUM_WAIT_TIMEOUT
    script: str | None = None  # JavaScript body; its ``return`` value lands in the meta
    actions: tuple[Action, ...] = field(default_factory=tuple)
    screenshot: bool = False
    block_resources: tuple[str, ...] | None = None  # default SELENIUM_BLOCK_RESOURCES
    page_load_timeout: float | None = None  # seconds; default SELENIUM_PAGE_LOAD_TIMEOUT
    settle: float | None = None  # seconds of network quiet; default SELENIUM_SETTLE; 0: off

    def __post_init__(self) -> None:
        actions = tuple(self.actions)
        for action in actions:
            if not isinstance(action, (Click, Fill, Choose, ScrollToBottom)):
                raise BrowserConfigError(
                    f"actions must be Click, Fill, Choose or ScrollToBottom, got {action!r}"
                )
        object.__setattr__(self, "actions", actions)
        if self.block_resources is not None:
            object.__setattr__(
                self,
                "block_resources",
                validate_block_resources(self.block_resources, "block_resources"),
            )
        for name in ("wait_timeout", "page_load_timeout"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise BrowserConfigError(f"{name} must be positive, got {value!r}")
        if self.settle is not None and self.settle < 0:
            raise BrowserConfigError(f"settle must be 0 or more, got {self.settle!r}")

    @classmethod
    def from_meta(cls, value: object) -> BrowserOptions | None:
        """The options ``meta["browser"]`` asks for, or ``None`` for "do not render"."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            known = {f.name for f in fields(cls)}
            unknown = set(value) - known
            if unknown:
                raise BrowserConfigError(
                    f"meta[{META_KEY!r}] has unknown keys {sorted(unknown)}; known: {sorted(known)}"
                )
            return cls(**value)
        raise BrowserConfigError(
            f"meta[{META_KEY!r}] must be True, a dict or BrowserOptions, got {value!r}"
        )


def browser_options(request: Request) -> BrowserOptions | None:
    """The rendering options of ``request``, or ``None`` when it is not to be rendered."""
    return BrowserOptions.from_meta(request.meta.get(META_KEY))


class BrowserRequest(Request):
    """A request rendered by the browser pool.

    ``BrowserRequest(url, wait_for="#results a", script="return document.title",
    actions=[Fill("#q", "shoes"), Click("button[type=submit]", wait_for="#results")],
    screenshot=True, callback=self.parse)``; every other keyword goes to
    :class:`scrapy.Request`.  The options live in ``meta["browser"]`` as a
    :class:`BrowserOptions`, so ``replace()``, retries and redirects keep them.
    """

    def __init__(
        self,
        *args: Any,
        wait_for: WaitCondition | None = None,
        wait_timeout: float | None = None,
        script: str | None = None,
        actions: Sequence[Action] = (),
        screenshot: bool = False,
        block_resources: Sequence[str] | None = None,
        page_load_timeout: float | None = None,
        settle: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        given = (
            wait_for is not None
            or wait_timeout is not None
            or script is not None
            or bool(actions)
            or screenshot
            or block_resources is not None
            or page_load_timeout is not None
            or settle is not None
        )
        if given or self.meta.get(META_KEY) in (None, False):
            self.meta[META_KEY] = BrowserOptions(
                wait_for=wait_for,
                wait_timeout=wait_timeout,
                script=script,
                actions=tuple(actions),
                screenshot=screenshot,
                block_resources=tuple(block_resources) if block_resources is not None else None,
                page_load_timeout=page_load_timeout,
                settle=settle,
            )

    @property
    def browser_options(self) -> BrowserOptions:
        options = browser_options(self)
        assert options is not None  # set in __init__
        return options
