"""Specs given on the command line: ``[--item SELECTOR] --field NAME=SELECTOR ...``.

``NAME=SELECTOR`` takes the first match, ``NAME[]=SELECTOR`` every match as a
list.  SELECTOR is ``css:EXPR`` or ``xpath:EXPR``; CSS may end in ``::text``
or ``::attr(name)``, and without either a field takes the whole text of the
matched element (``all_text``: whitespace-normalised, scripts left out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawler.extract.exceptions import SpecError
from crawler.extract.loader import load_specs, spec_from_dict
from crawler.extract.selectors import parse_selector

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

DEFAULT_NAME = "extract"


def parse_field(text: str) -> tuple[str, dict[str, Any]]:
    """``"price=css:.price"`` -> ``("price", {"selector": ..., "take": ..., "many": ...})``."""
    name, sep, selector = text.partition("=")
    name = name.strip()
    many = name.endswith("[]")
    if many:
        name = name[:-2].strip()
    if not sep or not name or not selector.strip():
        raise SpecError(
            f"a field is NAME=SELECTOR or NAME[]=SELECTOR (e.g. title=css:h1), not {text!r}"
        )
    parsed = parse_selector(selector)
    take = "text" if parsed.yields_strings else "all_text"
    return name, {"selector": selector.strip(), "take": take, "many": many}


def inline_spec(
    fields: Sequence[str], item: str | None = None, name: str = DEFAULT_NAME
) -> dict[str, Any]:
    """The spec, in the mapping form of a spec file, checked by building it once."""
    if not fields:
        raise SpecError("an inline spec needs at least one --field NAME=SELECTOR")
    parsed: dict[str, dict[str, Any]] = {}
    for text in fields:
        field_name, field = parse_field(text)
        if field_name in parsed:
            raise SpecError(f"field {field_name!r} is given twice")
        parsed[field_name] = field
    spec: dict[str, Any] = {"name": name, "fields": parsed}
    if item:
        spec["item"] = item
    spec_from_dict(spec)
    return spec


def spec_sources(
    spec_files: Sequence[str | Path] = (),
    item: str | None = None,
    fields: Sequence[str] = (),
    name: str = DEFAULT_NAME,
) -> list[str | dict[str, Any]]:
    """What to add to ``CRAWLER_EXTRACT_SPECS``: the spec files (each loaded once, to
    check it) and the inline spec, if any; bad input is a
    :class:`~crawler.extract.exceptions.SpecError` (a ``ConfigError``)."""
    sources: list[str | dict[str, Any]] = []
    for path in spec_files:
        load_specs(path)
        sources.append(str(path))
    if fields or item:
        sources.append(inline_spec(fields, item, name))
    return sources
