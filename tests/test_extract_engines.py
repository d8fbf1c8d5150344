"""Engine behaviour beyond the golden files: the API, compilation, page objects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crawler.extract.bs4_engine import Bs4Engine
from crawler.extract.engines import ENGINE_NAMES, get_engine
from crawler.extract.exceptions import ExtractError
from crawler.extract.lxml_engine import LxmlEngine
from crawler.extract.page import PageObject
from crawler.extract.result import ExtractedItem
from crawler.extract.spec import FieldSpec, ItemSpec

PAGE = """<html><head><title>Shop</title></head><body>
<ul class="payments">
  <li class="to">20 to bob <i>lunch</i></li>
  <li class="from">x5 from carol <i>tea</i></li>
</ul>
<p class="n">first</p><p class="n">second 2</p><p class="n">third 3</p>
</body></html>"""

PAYMENT = ItemSpec(
    name="payment",
    url=r"/payments$",
    item="css:ul.payments > li",
    key=("counterparty",),
    fields=[
        FieldSpec("amount", process=[{"regex": r"^(\S+) "}, "int"], required=True),
        FieldSpec("counterparty", process=[{"regex": r"(?:to|from) (\S+)"}]),
        FieldSpec("memo", "css:i"),
        FieldSpec("direction", take="attr:class"),
    ],
)
TITLE = ItemSpec(name="title", fields=[FieldSpec("title", "css:title")])


@pytest.fixture(params=ENGINE_NAMES)
def engine(request: pytest.FixtureRequest) -> Any:
    return get_engine(request.param)


def test_items_and_errors(engine: Any) -> None:
    first, second = engine.extract(PAYMENT, PAGE.encode(), "http://h/payments")
    assert first == ExtractedItem(
        "payment",
        "http://h/payments",
        {"amount": 20, "counterparty": "bob", "memo": "lunch", "direction": "to"},
        {},
        ("counterparty",),
    )
    assert first.ok and first.key_values() == ("bob",)
    assert not second.ok
    assert second.data["amount"] is None
    assert second.errors == {"amount": "int: not an integer: 'x5'"}
    assert second.to_json()["errors"] == {"amount": "int: not an integer: 'x5'"}


def test_one_parse_serves_several_specs(engine: Any) -> None:
    page = engine.parse(PAGE, "http://h/payments")
    assert len(engine.extract_page(PAYMENT, page)) == 2
    assert engine.extract_page(TITLE, page)[0].data == {"title": "Shop"}


def test_str_and_bytes_bodies_agree(engine: Any) -> None:
    from_str = engine.extract(PAYMENT, PAGE, "http://h/payments")
    assert from_str == engine.extract(PAYMENT, PAGE.encode(), "http://h/payments")


def test_first_value_is_the_first_that_survives_the_steps(engine: Any) -> None:
    spec = ItemSpec(
        name="n",
        fields=[
            FieldSpec("number", "css:p.n", process=[{"regex": r"(\d+)"}, "int"]),
            FieldSpec("numbers", "css:p.n", process=[{"regex": r"(\d+)"}, "int"], many=True),
            FieldSpec("joined", "css:p.n", process=[{"join": "|"}]),
            FieldSpec("count", "xpath:count(//p)", process=["int"]),
            FieldSpec("has_p", "xpath:boolean(//p)"),
        ],
    )
    (item,) = engine.extract(spec, PAGE, "http://h/")
    assert item.data == {
        "number": 2,
        "numbers": [2, 3],
        "joined": "first|second 2|third 3",
        "count": 3,
        "has_p": True,
    }


def test_container_must_select_elements(engine: Any) -> None:
    spec = ItemSpec(name="bad", item="xpath://li/text()", fields=[FieldSpec("x", "css:i")])
    with pytest.raises(ExtractError, match="item selector xpath://li/text\\(\\) matched"):
        engine.extract(spec, PAGE, "http://h/")


def test_empty_and_deep_pages(engine: Any) -> None:
    (item,) = engine.extract(TITLE, b"", "http://h/")
    assert item.data == {"title": None}
    # libxml2 keeps 2048 levels with huge_tree (256 without); bs4 has no limit.
    deep = "<html><body>" + "<div>" * 2000 + "<span>x</span>deep" + "</div>" * 2000
    spec = ItemSpec(name="deep", fields=[FieldSpec("text", "xpath://body", take="all_text")])
    (item,) = engine.extract(spec, deep, "http://h/")
    assert item.data["text"] == "xdeep"


def test_selectors_are_compiled_once_per_spec() -> None:
    engine = LxmlEngine()
    calls = 0
    compile_selector = engine._compile_selector

    def counting(selector: Any) -> Any:
        nonlocal calls
        calls += 1
        return compile_selector(selector)

    engine._compile_selector = counting  # type: ignore[method-assign]
    for _ in range(3):
        engine.extract(PAYMENT, PAGE, "http://h/payments")
    assert calls == 2  # the container and the one field selector, once


def test_engine_names() -> None:
    assert isinstance(get_engine(), LxmlEngine)
    assert get_engine("bs4").name == "bs4"
    assert get_engine("bs4-html.parser").name == "bs4-html.parser"
    with pytest.raises(ValueError, match="unknown extraction engine 'soup'"):
        get_engine("soup")
    with pytest.raises(ValueError, match=r"bs4 parser must be one of lxml, html\.parser"):
        Bs4Engine("html5lib")


class PaymentsPage(PageObject):
    name = "payment"
    url_pattern = r"/payments$"
    key = ("counterparty",)

    def items(self) -> Iterator[dict[str, Any]]:
        for li in self.css("ul.payments > li"):
            amount, _, rest = li.xpath("normalize-space(text())").get().partition(" ")
            if amount.isdigit():
                yield {"amount": int(amount), "counterparty": rest.split()[-1]}


def test_page_object() -> None:
    page = PaymentsPage.from_body(PAGE.encode("cp1252"), "http://h/payments", "cp1252")
    assert PaymentsPage.matches("http://h/payments") and not PaymentsPage.matches("http://h/")
    assert page.extract() == [
        ExtractedItem("payment", "http://h/payments", {"amount": 20, "counterparty": "bob"},
                      {}, ("counterparty",))
    ]  # fmt: skip
    assert [i.data["memo"] for i in page.apply(PAYMENT)] == ["lunch", "tea"]
    assert page.apply(PAYMENT, Bs4Engine("html.parser")) == page.apply(PAYMENT)
    assert page.urljoin("x.html") == "http://h/x.html"
