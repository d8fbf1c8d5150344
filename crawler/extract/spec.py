"""Extraction specs: what an item is and where its fields are on a page.

Build them in Python (strings are parsed and checked on construction)::

    ItemSpec(
        name="payment",
        url=r"/payments$",
        item="css:ul.payments > li",
        key=("amount", "counterparty"),
        fields=[
            FieldSpec("amount", process=[{"regex": r"^(\\d+)"}, "int"], required=True),
            FieldSpec("memo", "css:i", default=""),
            FieldSpec("direction", take="attr:class"),
        ],
    )

or load them from YAML or TOML with :mod:`crawler.extract.loader`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from crawler.extract.exceptions import SpecError
from crawler.extract.processors import Step, parse_step
from crawler.extract.selectors import Selector, parse_selector

TAKES = ("text", "all_text", "html", "attr:NAME")


@dataclass(frozen=True)
class FieldSpec:
    """One field.  Without a selector the field reads the context element
    itself (the container, or the root element when there is none)."""

    name: str
    selector: Selector | str | None = None
    take: str = "text"
    process: Sequence[Step | str | dict[str, Any]] = ()
    required: bool = False
    default: Any = None
    many: bool = False
    attribute: str | None = field(init=False, default=None, repr=False)
    # Derived for the engines: the steps' functions, and whether only the
    # first value that survives them is needed (not `many`, no `join`).
    steps: tuple[Any, ...] = field(init=False, default=(), repr=False, compare=False)
    first_only: bool = field(init=False, default=True, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"a field needs a non-empty name, not {self.name!r}")
        try:
            self._check()
        except SpecError as e:
            raise SpecError(f"field {self.name!r}: {e}") from None

    def _check(self) -> None:
        setattr_ = object.__setattr__
        if isinstance(self.selector, str):
            setattr_(self, "selector", parse_selector(self.selector))
        elif self.selector is not None and not isinstance(self.selector, Selector):
            raise SpecError(f"selector must be a string like 'css:h1', not {self.selector!r}")
        take = self.take
        if not isinstance(take, str):
            raise SpecError(f"take must be one of {', '.join(TAKES)}, not {take!r}")
        if take.startswith("attr:"):
            attribute = take[5:].strip().lower()
            if not attribute:
                raise SpecError("take 'attr:' needs an attribute name, e.g. attr:href")
            setattr_(self, "attribute", attribute)
            setattr_(self, "take", "attr")
        elif take not in ("text", "all_text", "html"):
            raise SpecError(f"take must be one of {', '.join(TAKES)}, not {take!r}")
        if self.selector is not None and self.selector.yields_strings and take != "text":
            raise SpecError(
                f"selector {self.selector} already gives text; drop 'take: {take}' "
                "or the ::text/::attr() pseudo-element"
            )
        if isinstance(self.process, str | dict):
            raise SpecError("process must be a list of steps")
        steps = []
        for index, raw in enumerate(self.process):
            try:
                steps.append(parse_step(raw))
            except SpecError as e:
                raise SpecError(f"process[{index}]: {e}") from None
        setattr_(self, "process", tuple(steps))
        setattr_(self, "steps", tuple(step.run for step in steps))
        setattr_(self, "first_only", not self.many and all(s.name != "join" for s in steps))
        if not isinstance(self.required, bool) or not isinstance(self.many, bool):
            raise SpecError("required and many must be true or false")
        if self.required and self.default is not None:
            raise SpecError("a field cannot be both required and have a default")

    @property
    def empty_value(self) -> Any:
        """The value of a field that found nothing and has no default."""
        return [] if self.many else None


@dataclass(frozen=True)
class ItemSpec:
    """An item: its fields, the pages it applies to, and an optional container.

    ``url`` is a regular expression searched in the page URL (``None``: every
    page).  With ``item`` (a container selector) there is one item per match
    and field selectors are relative to it; without, one item per page.
    ``key`` names the fields that identify an item, for deduplication.
    """

    name: str
    fields: Sequence[FieldSpec]
    url: str | None = None
    item: Selector | str | None = None
    key: Sequence[str] = ()
    source: str | None = field(default=None, compare=False)
    url_pattern: re.Pattern[str] | None = field(init=False, default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"a spec needs a non-empty name, not {self.name!r}")
        try:
            self._check()
        except SpecError as e:
            raise SpecError(f"spec {self.name!r}: {e}") from None

    def _check(self) -> None:
        setattr_ = object.__setattr__
        fields = tuple(self.fields)
        if not fields:
            raise SpecError("a spec needs at least one field")
        if not all(isinstance(f, FieldSpec) for f in fields):
            raise SpecError("fields must be FieldSpec objects")
        names = [f.name for f in fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SpecError(f"duplicate field names: {', '.join(duplicates)}")
        setattr_(self, "fields", fields)
        if self.url is not None:
            if not isinstance(self.url, str):
                raise SpecError(f"url must be a regular expression string, not {self.url!r}")
            try:
                setattr_(self, "url_pattern", re.compile(self.url))
            except re.error as e:
                raise SpecError(f"url pattern {self.url!r} does not compile: {e}") from e
        if isinstance(self.item, str):
            try:
                setattr_(self, "item", parse_selector(self.item))
            except SpecError as e:
                raise SpecError(f"item: {e}") from None
        if isinstance(self.item, Selector) and self.item.yields_strings:
            raise SpecError(f"item selector {self.item} must select elements, not text")
        if isinstance(self.key, str):
            raise SpecError("key must be a list of field names")
        key = tuple(self.key)
        unknown = [k for k in key if k not in names]
        if unknown:
            raise SpecError(f"key names unknown fields: {', '.join(unknown)}")
        setattr_(self, "key", key)

    def matches(self, url: str) -> bool:
        return self.url_pattern is None or self.url_pattern.search(url) is not None


def matching_specs(specs: Iterable[ItemSpec], url: str) -> list[ItemSpec]:
    """The specs whose ``url`` pattern matches ``url``, in order."""
    return [spec for spec in specs if spec.matches(url)]
