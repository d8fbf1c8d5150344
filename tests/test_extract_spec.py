"""Spec loading and validation: errors name the file, the spec and the field."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from crawler.extract.exceptions import SpecError
from crawler.extract.loader import load_spec, load_specs, spec_from_dict
from crawler.extract.selectors import parse_selector
from crawler.extract.spec import FieldSpec, ItemSpec, matching_specs

if TYPE_CHECKING:
    from pathlib import Path

YAML_SPEC = """
name: payment
url: /payments$
item: css:ul.payments > li
key: [amount, counterparty]
fields:
  amount: {process: [{regex: '^(\\d+)'}, int], required: true}
  counterparty: {process: ['regex:(?:to|from) (\\S+)']}
  memo: {selector: 'css:i', default: ''}
  direction: {take: 'attr:class'}
  title: css:h1
"""

TOML_SPEC = """
name = "payment"
url = "/payments$"
item = "css:ul.payments > li"
key = ["amount", "counterparty"]

[fields.amount]
process = [{regex = '^(\\d+)'}, "int"]
required = true

[fields.counterparty]
process = ['regex:(?:to|from) (\\S+)']

[fields.memo]
selector = "css:i"
default = ""

[fields.direction]
take = "attr:class"

[fields.title]
selector = "css:h1"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_and_toml_give_the_same_spec(tmp_path: Path) -> None:
    from_yaml = load_spec(write(tmp_path, "p.yaml", YAML_SPEC))
    from_toml = load_spec(write(tmp_path, "p.toml", TOML_SPEC))
    assert from_yaml == from_toml
    assert [f.name for f in from_yaml.fields] == [
        "amount", "counterparty", "memo", "direction", "title"
    ]  # fmt: skip
    assert from_yaml.key == ("amount", "counterparty")
    assert from_yaml.fields[3].take == "attr" and from_yaml.fields[3].attribute == "class"
    assert from_yaml.source == str(tmp_path / "p.yaml")


def test_python_spec_equals_file_spec(tmp_path: Path) -> None:
    built = ItemSpec(
        name="payment",
        url="/payments$",
        item="css:ul.payments > li",
        key=["amount", "counterparty"],
        fields=[
            FieldSpec("amount", process=[{"regex": r"^(\d+)"}, "int"], required=True),
            FieldSpec("counterparty", process=[r"regex:(?:to|from) (\S+)"]),
            FieldSpec("memo", "css:i", default=""),
            FieldSpec("direction", take="attr:class"),
            FieldSpec("title", "css:h1"),
        ],
    )
    assert built == load_spec(write(tmp_path, "p.yaml", YAML_SPEC))


def test_several_specs_in_one_file(tmp_path: Path) -> None:
    text = (
        "specs:\n"
        "  - {name: a, fields: {t: 'css:title'}}\n"
        "  - {name: b, url: x, fields: {h: 'css:h1'}}\n"
    )
    path = write(tmp_path, "many.yaml", text)
    specs = load_specs(path)
    assert [s.name for s in specs] == ["a", "b"]
    assert [s.name for s in matching_specs(specs, "http://h/x")] == ["a", "b"]
    assert [s.name for s in matching_specs(specs, "http://h/y")] == ["a"]
    with pytest.raises(SpecError, match="expected one spec, found 2"):
        load_spec(path)


@pytest.mark.parametrize(
    ("yaml_fields", "toml_fields", "message"),
    [
        (
            "price: {selector: 'css:div[', process: [int]}",
            '[fields.price]\nselector = "css:div["\n',
            r"field 'price': invalid CSS in 'css:div\['",
        ),
        (
            "price: {selector: 'xpath://div[', process: [int]}",
            '[fields.price]\nselector = "xpath://div["\n',
            r"field 'price': invalid XPath",
        ),
        (
            "price: {selector: 'div.price'}",
            '[fields.price]\nselector = "div.price"\n',
            r"field 'price': selector 'div.price' must start with 'css:' or 'xpath:'",
        ),
        (
            "price: {selector: 'css:.p', process: [strip, intt]}",
            '[fields.price]\nselector = "css:.p"\nprocess = ["strip", "intt"]\n',
            r"field 'price': process\[1\]: unknown processor 'intt' \(known: absolute_url, ",
        ),
        (
            "price: {selector: 'css:.p', process: [{regex: '(unclosed'}]}",
            '[fields.price]\nselector = "css:.p"\nprocess = [{regex = "(unclosed"}]\n',
            r"field 'price': process\[0\]: regex '\(unclosed' does not compile",
        ),
        (
            "price: {selector: 'css:.p', requried: true}",
            '[fields.price]\nselector = "css:.p"\nrequried = true\n',
            r"field 'price': unknown key\(s\) requried \(allowed: default, many, ",
        ),
        (
            "price: {selector: 'css:.p', take: inner}",
            '[fields.price]\nselector = "css:.p"\ntake = "inner"\n',
            r"field 'price': take must be one of text, all_text, html, attr:NAME",
        ),
        (
            "price: {selector: 'css:.p::text', take: html}",
            '[fields.price]\nselector = "css:.p::text"\ntake = "html"\n',
            r"field 'price': selector css:.p::text already gives text",
        ),
        (
            "price: {selector: 'css:.p', required: true, default: 0}",
            '[fields.price]\nselector = "css:.p"\nrequired = true\ndefault = 0\n',
            r"field 'price': a field cannot be both required and have a default",
        ),
        (
            "price: {selector: 'css:.p::first-line'}",
            '[fields.price]\nselector = "css:.p::first-line"\n',
            r"field 'price': selector 'css:.p::first-line': unsupported pseudo-element",
        ),
        (
            "price: {selector: 'css:.p', process: [{date: 5}]}",
            '[fields.price]\nselector = "css:.p"\nprocess = [{date = 5}]\n',
            r"field 'price': process\[0\]: date takes a strptime format",
        ),
    ],
)
def test_field_errors_name_file_spec_and_field(
    tmp_path: Path, yaml_fields: str, toml_fields: str, message: str
) -> None:
    yaml_path = write(tmp_path, "s.yaml", f"name: shop\nfields:\n  {yaml_fields}\n")
    with pytest.raises(SpecError, match=rf"^{tmp_path}/s\.yaml: spec 'shop': {message}"):
        load_spec(yaml_path)
    toml_path = write(tmp_path, "s.toml", f'name = "shop"\n{toml_fields}')
    with pytest.raises(SpecError, match=rf"^{tmp_path}/s\.toml: spec 'shop': {message}"):
        load_spec(toml_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nfields: {a: 'css:a'}\nkey: [b]\n", "spec 'x': key names unknown fields: b"),
        ("name: x\nfields: {a: 'css:a'}\nurl: '(['\n", "spec 'x': url pattern '\\(\\[' does"),
        ("name: x\nfields: {a: 'css:a'}\nitem: 'css:li::text'\n", "item selector .* must select"),
        ("name: x\nfields: {}\n", "spec 'x': 'fields' must be a non-empty mapping"),
        ("name: x\nfeilds: {a: 'css:a'}\n", "spec 'x': unknown key\\(s\\) feilds"),
        ("fields: {a: 'css:a'}\n", "a spec needs a non-empty name"),
        ("- just\n- a list\n", "a spec must be a mapping, not list"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_spec_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        load_spec(write(tmp_path, "s.yaml", text))
    assert str(info.value).startswith(f"{tmp_path}/s.yaml: ")


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(write(tmp_path, "s.toml", "name = \n"))
    with pytest.raises(SpecError, match=r"must end in \.yaml, \.yml or \.toml"):
        load_spec(write(tmp_path, "s.json", "{}"))
    with pytest.raises(SpecError, match="cannot read spec file"):
        load_spec(tmp_path / "missing.yaml")


def test_css_selectors_parse_pseudo_elements() -> None:
    text = parse_selector("css: li > a::text ")
    assert (text.kind, text.pseudo, text.css_groups) == ("css", "text", ("li > a",))
    attr = parse_selector("css:a::attr(HREF), link::attr(href)")
    assert (attr.pseudo, attr.attribute, attr.css_groups) == ("attr", "href", ("a", "link"))
    assert attr.to_xpath() == "descendant-or-self::a/@href | descendant-or-self::link/@href"
    with pytest.raises(SpecError, match="every group of a selector list must end in the same"):
        parse_selector("css:a::text, b")
    with pytest.raises(SpecError, match="pseudo-element with nothing before it"):
        parse_selector("css:::text")
    with pytest.raises(SpecError, match="is empty"):
        parse_selector("xpath: ")


def test_soupsieve_patterns_keep_selectors_inside_the_context() -> None:
    selector = parse_selector('css:ul.x > li a, span[title="a b"]')
    below, itself = selector.soupsieve_patterns()
    assert below == ':scope ul.x > li a, ul.x:scope > li a, :scope span[title="a b"]'
    assert itself == 'span[title="a b"]'


def test_spec_from_dict_shorthand() -> None:
    spec = spec_from_dict({"name": "t", "fields": {"title": "css:title"}})
    (field,) = spec.fields
    assert (field.name, str(field.selector), field.take, field.many) == (
        "title", "css:title", "text", False
    )  # fmt: skip
    assert spec.matches("anything")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "s.yaml",
            "name: x\nfields:\n  a: [unclosed\n  b: x\n",
            r"not valid YAML: expected ',' or '\]', but got ':' \(while parsing a flow "
            r"sequence\) at line 4, column 4$",
        ),
        (
            "s.yml",
            "a: b\n\tc: d\n",
            r"not valid YAML: found character '\\t' .* at line 2, column 1",
        ),
        ("s.yaml", 'a: "\xff"\n', "not valid YAML: .*invalid start byte"),
        ("s.toml", 'name = "x"\n[fields\n', "not valid TOML: Expected ']' .*line 2, column 8"),
    ],
)
def test_parser_errors_are_one_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert "\n" not in str(info.value)
    assert re.search(message, str(info.value).removeprefix(f"{path}: ")), str(info.value)
