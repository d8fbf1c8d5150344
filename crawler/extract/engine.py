"""The engine interface and the field logic both engines share.

An engine parses a page once (:meth:`Engine.parse`) and applies any number of
specs to it (:meth:`Engine.extract_page`); :meth:`Engine.extract` does both.
Engines differ only in how they select nodes and read text, attributes and
inner HTML from them; what happens to the strings afterwards (normalising,
processing, defaults, errors) is here, once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from copy import deepcopy
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from w3lib.html import get_base_url

from crawler.extract.exceptions import ConversionError, ExtractError
from crawler.extract.result import ExtractedItem
from crawler.extract.text import decode_body, normalize_space

if TYPE_CHECKING:
    from crawler.extract.selectors import Selector
    from crawler.extract.spec import FieldSpec, ItemSpec

MISSING_REQUIRED = "required field is missing"  # how an item's missing-field errors start

Node = TypeVar("Node")
Compiled = TypeVar("Compiled")


class ParsedPage(Generic[Node]):
    """A decoded, parsed page: ``root`` is the engine's ``<html>`` element."""

    def __init__(self, url: str, text: str, root: Node) -> None:
        self.url = url
        self.text = text
        self.root = root

    @cached_property
    def base_url(self) -> str:
        """The URL relative links resolve against (``<base href>`` if present)."""
        return get_base_url(self.text, self.url)


class Engine(ABC, Generic[Node, Compiled]):
    """Extracts items from pages with specs.  Subclasses provide the tree access."""

    name: str = ""

    def __init__(self) -> None:
        # Selectors are compiled once per spec, not per page.  Keyed by id()
        # with the spec kept alive so the id cannot be reused.
        self._compiled: dict[int, tuple[ItemSpec, Compiled | None, list[Compiled | None]]] = {}

    # -- public API ---------------------------------------------------------

    def extract(
        self, spec: ItemSpec, body: bytes | str, url: str, encoding: str | None = None
    ) -> list[ExtractedItem]:
        """Items of ``spec`` on one page (``spec.url`` is not checked here)."""
        return self.extract_page(spec, self.parse(body, url, encoding))

    def parse(self, body: bytes | str, url: str, encoding: str | None = None) -> ParsedPage[Node]:
        """Decode (as Scrapy does, see :func:`decode_body`) and parse a page."""
        text = decode_body(body, encoding)
        return self._make_page(url, text)

    def extract_page(self, spec: ItemSpec, page: ParsedPage[Node]) -> list[ExtractedItem]:
        container, fields = self._compile(spec)
        if container is None:
            contexts = [page.root]
        else:
            contexts = []
            for node in self._select(container, page.root, page):
                if not self._is_element(node):
                    raise ExtractError(
                        f"{page.url}: spec {spec.name!r}: item selector {spec.item} "
                        f"matched {type(node).__name__}, not an element"
                    )
                contexts.append(node)
        items = []
        for context in contexts:
            data: dict[str, Any] = {}
            errors: dict[str, str] = {}
            for field, compiled in zip(spec.fields, fields, strict=True):
                value, error = self._field_value(field, compiled, context, page)
                data[field.name] = value
                if error is not None:
                    errors[field.name] = error
            items.append(ExtractedItem(spec.name, page.url, data, errors, spec.key))
        return items

    # -- engine-specific ----------------------------------------------------

    @abstractmethod
    def _make_page(self, url: str, text: str) -> ParsedPage[Node]: ...

    @abstractmethod
    def _compile_selector(self, selector: Selector) -> Compiled: ...

    @abstractmethod
    def _select(self, compiled: Compiled, context: Node, page: ParsedPage[Node]) -> list[Any]:
        """Nodes or strings ``compiled`` selects under ``context``, in document order."""

    @abstractmethod
    def _is_element(self, node: Any) -> bool: ...

    @abstractmethod
    def _own_text(self, node: Node) -> str: ...

    @abstractmethod
    def _all_text(self, node: Node) -> str: ...

    @abstractmethod
    def _attribute(self, node: Node, name: str) -> str | None: ...

    @abstractmethod
    def _inner_html(self, node: Node) -> str: ...

    # -- shared -------------------------------------------------------------

    def _compile(self, spec: ItemSpec) -> tuple[Compiled | None, list[Compiled | None]]:
        entry = self._compiled.get(id(spec))
        if entry is None or entry[0] is not spec:
            container = self._compile_selector(spec.item) if spec.item is not None else None
            fields = [
                self._compile_selector(f.selector) if f.selector is not None else None
                for f in spec.fields
            ]
            entry = (spec, container, fields)
            self._compiled[id(spec)] = entry
        return entry[1], entry[2]

    def _take(self, field: FieldSpec, node: Any) -> Any:
        """The value of one selected node: a normalised string ('' if none),
        or a number/boolean an XPath function returned."""
        if isinstance(node, str):
            return normalize_space(node)
        if not self._is_element(node):
            return node  # float or bool from an XPath expression
        take = field.take
        if take == "text":
            return self._own_text(node)
        if take == "all_text":
            return self._all_text(node)
        if take == "attr":
            value = self._attribute(node, field.attribute or "")
            return "" if value is None else normalize_space(value)
        return self._inner_html(node)

    def _field_value(
        self, field: FieldSpec, compiled: Compiled | None, context: Node, page: ParsedPage[Node]
    ) -> tuple[Any, str | None]:
        nodes = [context] if compiled is None else self._select(compiled, context, page)
        steps = field.steps
        try:
            if field.first_only:
                # The first node that survives the steps; later ones are not read.
                for node in nodes:
                    value = self._take(field, node)
                    if value == "":
                        continue
                    values = [value]
                    for run in steps:
                        values = run(values, page)
                    if values:
                        return values[0], None
                values = []
            else:
                values = [v for node in nodes if (v := self._take(field, node)) != ""]
                for run in steps:
                    values = run(values, page)
        except ConversionError as e:
            return field.empty_value, str(e)
        if values:
            return (values if field.many else values[0]), None
        if field.default is not None:
            return deepcopy(field.default), None
        if field.required:
            where = field.selector if field.selector is not None else "the item element"
            return field.empty_value, f"{MISSING_REQUIRED}: nothing found by {where}"
        return field.empty_value, None
