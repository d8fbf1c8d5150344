from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.crawler import Crawler
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler.addon import CrawlerAddon
from crawler.exceptions import ConfigError
from crawler.extract.inline import inline_spec, parse_field
from spiders.extract import ExtractSpider

SPECS = Path(__file__).parent / "specs"


def test_inline_fields_take_whole_text_unless_a_pseudo_element_says_otherwise() -> None:
    assert parse_field("title=css:h1") == (
        "title",
        {"selector": "css:h1", "take": "all_text", "many": False},
    )
    assert parse_field("links[]=css:a::attr(href)") == (
        "links",
        {"selector": "css:a::attr(href)", "take": "text", "many": True},
    )
    assert parse_field("own=css:p::text")[1]["take"] == "text"
    assert parse_field("p=xpath://p[@a='b=c']")[1]["selector"] == "xpath://p[@a='b=c']"
    spec = inline_spec(["t=css:h1"], item="css:li", name="rows")
    assert spec == {
        "name": "rows",
        "fields": {"t": {"selector": "css:h1", "take": "all_text", "many": False}},
        "item": "css:li",
    }


@pytest.mark.parametrize(
    ("fields", "item", "message"),
    [
        ([], None, "at least one --field"),
        (["t=css:h1", "t=css:h2"], None, "field 't' is given twice"),
        (["[]=css:h1"], None, "a field is NAME=SELECTOR"),
        (["t=css:h1"], "css:li::text", "must select elements"),
    ],
)
def test_bad_inline_specs(fields: list[str], item: str | None, message: str) -> None:
    from crawler.extract.exceptions import SpecError

    with pytest.raises(SpecError, match=message):
        inline_spec(fields, item)


def test_arguments_from_scrapy_crawl(tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("# comment\nhttp://x/3\n\n  http://x/4  \n")
    spider = ExtractSpider(
        url="http://x/1",
        urls="http://x/2\thttp://x/1",
        from_file=str(urls),
        spec=f"{SPECS / 'payments.yaml'},{SPECS / 'catalog.yaml'}",
        **{"field.title": "css:h1", "field.links[]": "css:a::attr(href)"},
    )
    assert spider.urls == ["http://x/1", "http://x/2", "http://x/1", "http://x/3", "http://x/4"]
    *files, inline = spider.spec_sources
    assert files == [str(SPECS / "payments.yaml"), str(SPECS / "catalog.yaml")]
    assert isinstance(inline, dict)
    assert list(inline["fields"]) == ["title", "links"]
    assert inline["fields"]["links"]["many"] is True
    # one NAME=SELECTOR a line, as -a fields= gives them
    spider = ExtractSpider(url="http://x/", fields="a=css:h1\nb=css:h2\n")
    assert isinstance(spider.spec_sources[0], dict)
    assert list(spider.spec_sources[0]["fields"]) == ["a", "b"]


def test_the_specs_join_the_setting() -> None:
    # as `-s CRAWLER_EXTRACT_SPECS=...` sets it: at a higher priority than the spider's
    settings = Settings()
    settings.set("CRAWLER_EXTRACT_SPECS", [str(SPECS / "catalog.yaml")], priority="cmdline")
    crawler = Crawler(ExtractSpider, settings)  # not crawling yet: settings not frozen
    ExtractSpider.from_crawler(crawler, url="http://x/", fields=["t=css:h1"])
    specs = crawler.settings.getlist("CRAWLER_EXTRACT_SPECS")
    assert specs[0] == str(SPECS / "catalog.yaml")
    assert specs[1]["name"] == "extract"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "needs URLs"),
        ({"url": "file:///etc/passwd", "fields": ["t=css:h1"]}, "not an http"),
        ({"url": "http://x/", "render": "sometimes", "fields": ["t=css:h1"]}, "render must be"),
        ({"url": "http://x/", "field.t": "css:h1["}, "invalid CSS"),
        ({"url": "http://x/", "spec": "nowhere.yaml"}, "cannot read spec file"),
        ({"from_file": "nowhere.txt"}, "cannot read URLs from nowhere.txt"),
    ],
)
def test_bad_arguments_are_config_errors(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ExtractSpider(**arguments)  # type: ignore[arg-type]


def test_a_spec_is_required() -> None:
    crawler = get_crawler(ExtractSpider, {"ADDONS": {CrawlerAddon: 0}})
    with pytest.raises(ConfigError, match="needs a spec"):
        ExtractSpider.from_crawler(crawler, url="http://x/")
