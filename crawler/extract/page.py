"""Page objects: extraction in Python for what a spec cannot say.

A page object depends only on the page's URL and HTML, so it can be tested
from saved pages like a spec.  Subclass :class:`PageObject`, name the item,
and write :meth:`~PageObject.items`::

    class PaymentsPage(PageObject):
        name = "payment"
        url_pattern = r"/payments$"
        key = ("amount", "counterparty")

        def items(self):
            for li in self.css("ul.payments > li"):
                amount, _, who = li.xpath("normalize-space(text())").get().partition(" ")
                yield {"amount": int(amount), "counterparty": who.split()[-1]}

``extract()`` returns :class:`ExtractedItem` objects, like the engines.  A
page object can also run a spec on itself with :meth:`~PageObject.apply` and
adjust the result.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import urljoin

from parsel import Selector

from crawler.extract.result import ExtractedItem
from crawler.extract.text import decode_body

if TYPE_CHECKING:
    from collections.abc import Iterable

    from parsel import SelectorList

    from crawler.extract.engine import Engine, ParsedPage
    from crawler.extract.spec import ItemSpec


class PageObject(ABC):
    name: ClassVar[str]  # the spec name its items carry
    url_pattern: ClassVar[str | None] = None  # a regex searched in the URL; None: any page
    key: ClassVar[tuple[str, ...]] = ()

    def __init__(self, url: str, html: str) -> None:
        self.url = url
        self.html = html
        self._parsed: dict[str, ParsedPage[Any]] = {}

    @classmethod
    def from_body(cls, body: bytes | str, url: str, encoding: str | None = None) -> Self:
        """Decode ``body`` exactly as the engines do."""
        return cls(url, decode_body(body, encoding))

    @classmethod
    def matches(cls, url: str) -> bool:
        return cls.url_pattern is None or re.search(cls.url_pattern, url) is not None

    @cached_property
    def selector(self) -> Selector:
        return Selector(text=self.html, base_url=self.url)

    def css(self, query: str) -> SelectorList[Selector]:
        return self.selector.css(query)

    def xpath(self, query: str) -> SelectorList[Selector]:
        return self.selector.xpath(query)

    def urljoin(self, link: str) -> str:
        return urljoin(self.url, link)

    def apply(self, spec: ItemSpec, engine: Engine | None = None) -> list[ExtractedItem]:
        """Run a spec on this page (the lxml engine unless told otherwise)."""
        if engine is None:
            from crawler.extract.lxml_engine import LxmlEngine

            engine = LxmlEngine()
        page = self._parsed.get(engine.name)
        if page is None:
            page = self._parsed[engine.name] = engine.parse(self.html, self.url)
        return engine.extract_page(spec, page)

    @abstractmethod
    def items(self) -> Iterable[dict[str, Any] | ExtractedItem]:
        """The items on the page, as dicts or ready-made ExtractedItems."""

    def extract(self) -> list[ExtractedItem]:
        return [
            item
            if isinstance(item, ExtractedItem)
            else ExtractedItem(self.name, self.url, dict(item), {}, self.key)
            for item in self.items()
        ]
