"""Load specs from YAML (``.yaml``/``.yml``) or TOML (``.toml``) files.

A file holds one spec at the top level, or several under ``specs``::

    name: payment
    url: /payments$
    item: css:ul.payments > li
    key: [amount, counterparty]
    fields:
      amount: {take: text, process: [{regex: '^(\\d+)'}, int], required: true}
      counterparty: {process: [{regex: '(?:to|from) (\\S+)'}]}
      memo: {selector: 'css:i', default: ''}
      direction: {take: 'attr:class'}
      title: css:h1          # shorthand: just the selector

Every error names the file, the spec and the field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from crawler.extract.exceptions import SpecError
from crawler.extract.spec import FieldSpec, ItemSpec

if TYPE_CHECKING:
    from collections.abc import Iterable

SPEC_KEYS = frozenset({"name", "url", "item", "key", "fields"})
FIELD_KEYS = frozenset({"selector", "take", "process", "required", "default", "many"})


def load_specs(path: str | Path) -> list[ItemSpec]:
    """All specs in a YAML or TOML file."""
    path = Path(path)
    data = _read(path)
    try:
        if isinstance(data, dict) and "specs" in data:
            if set(data) != {"specs"} or not isinstance(data["specs"], list):
                raise SpecError("'specs' must be a list and the only top-level key")
            return [spec_from_dict(entry, source=str(path)) for entry in data["specs"]]
        return [spec_from_dict(data, source=str(path))]
    except SpecError as e:
        raise SpecError(f"{path}: {e}") from None


def load_spec(path: str | Path) -> ItemSpec:
    """The one spec in a file."""
    specs = load_specs(path)
    if len(specs) != 1:
        raise SpecError(f"{path}: expected one spec, found {len(specs)}; use load_specs()")
    return specs[0]


def load_spec_sources(sources: Iterable[Any]) -> list[ItemSpec]:
    """Specs from a mix of file paths, mappings of the file form and ``ItemSpec`` objects,
    as ``CRAWLER_EXTRACT_SPECS`` holds them."""
    specs: list[ItemSpec] = []
    for source in sources:
        if isinstance(source, ItemSpec):
            specs.append(source)
        elif isinstance(source, dict):
            specs.append(spec_from_dict(source))
        elif isinstance(source, str | Path):
            specs.extend(load_specs(source))
        else:
            raise SpecError(f"a spec must be a file path, a mapping or an ItemSpec, not {source!r}")
    return specs


def spec_from_dict(data: Any, source: str | None = None) -> ItemSpec:
    """Build a spec from parsed YAML/TOML (or any mapping of the same shape)."""
    if not isinstance(data, dict):
        raise SpecError(f"a spec must be a mapping, not {type(data).__name__}")
    name = data.get("name")
    where = f"spec {name!r}: " if isinstance(name, str) and name else ""
    unknown = sorted(set(data) - SPEC_KEYS)
    if unknown:
        raise SpecError(
            f"{where}unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(SPEC_KEYS))})"
        )
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, dict) or not raw_fields:
        raise SpecError(f"{where}'fields' must be a non-empty mapping of field name to field")
    fields = []
    for field_name, raw in raw_fields.items():
        try:
            fields.append(field_from_value(str(field_name), raw))
        except SpecError as e:
            raise SpecError(f"{where}{e}") from None
    key = data.get("key", ())
    if isinstance(key, str):
        key = [key]
    return ItemSpec(
        name=name,
        fields=fields,
        url=data.get("url"),
        item=data.get("item"),
        key=key,
        source=source,
    )


def field_from_value(name: str, raw: Any) -> FieldSpec:
    """A field from its file form: a selector string or a mapping of FIELD_KEYS."""
    if isinstance(raw, str):
        return FieldSpec(name, raw)
    if not isinstance(raw, dict):
        raise SpecError(f"field {name!r}: expected a selector string or a mapping, got {raw!r}")
    unknown = sorted(set(raw) - FIELD_KEYS)
    if unknown:
        raise SpecError(
            f"field {name!r}: unknown key(s) {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(FIELD_KEYS))})"
        )
    return FieldSpec(name, **raw)


def _read(path: Path) -> Any:
    suffix = path.suffix.lower()
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise SpecError(f"{path}: cannot read spec file: {e.strerror}") from e
    try:
        if suffix in (".yaml", ".yml"):
            return yaml.safe_load(raw)
        if suffix == ".toml":
            return tomllib.loads(raw.decode("utf-8"))
    except (yaml.YAMLError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        kind = "TOML" if suffix == ".toml" else "YAML"
        raise SpecError(f"{path}: not valid {kind}: {_one_line(e)}") from e
    raise SpecError(f"{path}: spec files must end in .yaml, .yml or .toml")


def _one_line(error: Exception) -> str:
    """A parser's error in one line: PyYAML's multi-line message (with a copy of the
    offending line and a caret) becomes its problem and where it is."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem:
        where = error.problem_mark or error.context_mark
        message = f"{error.problem}"
        if error.context:
            message = f"{message} ({error.context})"
        if where is not None:
            message = f"{message} at line {where.line + 1}, column {where.column + 1}"
        return message
    return " ".join(str(error).split())
