from __future__ import annotations

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.addon import CrawlerAddon
from crawler.exceptions import InvalidItem
from crawler.extract.engines import get_engine
from crawler.extract.spec import FieldSpec, ItemSpec
from crawler.items import PageRecord
from crawler.pipelines.validate import ValidatePipeline

SPEC = ItemSpec(
    name="payment",
    item="css:li",
    fields=[
        FieldSpec("amount", process=[{"regex": r"^(\S+) "}, "int"], required=True),
        FieldSpec("memo", "css:i", required=True),
    ],
)
PAGE = """<ul>
<li>20 to bob <i>lunch</i></li>
<li>twenty to bob <i>lunch</i></li>
<li>7 to carol</li>
<li>lots to dave</li>
</ul>"""


def make_pipeline(**settings: object) -> ValidatePipeline:
    return ValidatePipeline.from_crawler(
        get_crawler(settings_dict={"ADDONS": {CrawlerAddon: 0}, **settings})
    )


def test_valid_items_and_other_types_pass() -> None:
    pipeline = make_pipeline()
    valid, *_ = get_engine().extract(SPEC, PAGE, "http://x/pay")
    assert pipeline.process_item(valid) is valid
    record = PageRecord("u", "u", 200, None, None, 0, "start", None, False, "t")
    assert pipeline.process_item(record) is record
    assert pipeline.process_item({"amount": "not checked"}) == {"amount": "not checked"}
    assert not any(k.startswith("validate/") for k in pipeline.crawler.stats.get_stats())


def test_invalid_items_are_dropped_with_a_reason_and_counted_per_kind() -> None:
    pipeline = make_pipeline()
    _, conversion, missing, both = get_engine().extract(SPEC, PAGE, "http://x/pay")

    with pytest.raises(InvalidItem) as info:
        pipeline.process_item(conversion)
    assert info.value.kind == "conversion"
    assert str(info.value) == "conversion: amount: int: not an integer: 'twenty'"
    assert info.value.errors == conversion.errors

    with pytest.raises(InvalidItem) as info:
        pipeline.process_item(missing)
    assert info.value.kind == "missing_required"
    assert str(info.value).startswith("missing_required: memo: required field is missing")

    # Two errors: the first field's kind counts, both are in the reason.
    with pytest.raises(InvalidItem) as info:
        pipeline.process_item(both)
    assert info.value.kind == "conversion"
    assert "amount: int" in str(info.value) and "memo: required field" in str(info.value)

    stats = pipeline.crawler.stats
    assert stats.get_value("validate/dropped/conversion") == 2
    assert stats.get_value("validate/dropped/missing_required") == 1


def test_disabled() -> None:
    with pytest.raises(NotConfigured) as off:  # silent: Scrapy logs no "Disabled" warning
        make_pipeline(CRAWLER_VALIDATE_ENABLED=False)
    assert off.value.args == ()
