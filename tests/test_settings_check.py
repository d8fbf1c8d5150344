"""``crawler.settingscheck``: one check of every setting value, unknown names, the add-on."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from scrapy import Spider
from scrapy.addons import AddonManager
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler import default_settings
from crawler.addon import SETTINGS_CHECK_ORDER, CrawlerAddon, framework_settings
from crawler.browser.rendermode import RENDER_MODES
from crawler.exceptions import BrowserConfigError, ConfigError
from crawler.extract.engines import ENGINE_NAMES
from crawler.forms.policy import FORM_MODES
from crawler.login.config import LOGIN_MODES
from crawler.runner import exit_code_for
from crawler.settingscheck import (
    SettingsCheck,
    check_settings,
    known_settings,
    set_settings,
    setting_choices,
    unknown_settings,
)

if TYPE_CHECKING:
    from pathlib import Path


def check(**values: Any) -> None:
    check_settings(framework_settings(values))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SELENIUM_POOL_SIZE", "abc", "SELENIUM_POOL_SIZE must be a whole number >= 1, not 'abc'"),
        ("SELENIUM_POOL_SIZE", "0", "SELENIUM_POOL_SIZE must be a whole number >= 1, not '0'"),
        ("ROBOTSTXT_OBEY", "nope", "ROBOTSTXT_OBEY must be True or False, not 'nope'"),
        (
            "CRAWLER_RENDER",
            "sometimes",
            "CRAWLER_RENDER must be one of never, auto, always, not 'sometimes'",
        ),
        ("DOWNLOAD_DELAY", "fast", "DOWNLOAD_DELAY must be a number >= 0, not 'fast'"),
        ("CONCURRENT_REQUESTS", "-1", "CONCURRENT_REQUESTS must be a whole number >= 1, not '-1'"),
        ("CONCURRENT_REQUESTS", "", "CONCURRENT_REQUESTS must be a whole number >= 1, not ''"),
        (
            "RETRY_HTTP_CODES",
            "500,abc",
            "RETRY_HTTP_CODES must be a list of whole numbers (or comma-separated text), "
            "not '500,abc'",
        ),
        (
            "SELENIUM_CONCURRENT_STARTS",
            "two",
            "SELENIUM_CONCURRENT_STARTS must be a whole number >= 1 (or empty), not 'two'",
        ),
        ("CRAWLER_LOGIN_TIMEOUT", "0", "CRAWLER_LOGIN_TIMEOUT must be a number > 0, not '0'"),
        ("CRAWLER_STORE_URL", None, "CRAWLER_STORE_URL must be text, not None"),
        (
            "CRAWLER_EXTRACT_SPECS",
            5,
            "CRAWLER_EXTRACT_SPECS must be a list (or comma-separated text), not 5",
        ),
        ("TELNETCONSOLE_ENABLED", "on", "TELNETCONSOLE_ENABLED must be True or False, not 'on'"),
        (
            "LOG_LEVEL",
            "info",
            "LOG_LEVEL must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG or a whole number, "
            "not 'info'",
        ),
    ],
)
def test_a_bad_value_is_one_line_with_the_setting_and_what_it_takes(
    name: str, value: Any, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        check(**{name: value})
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SELENIUM_POOL_SIZE", "3"),
        ("SELENIUM_HEADLESS", "false"),
        ("ROBOTSTXT_OBEY", "0"),
        ("DOWNLOAD_DELAY", "2.5"),  # an int default Scrapy reads as a float
        ("DOWNLOAD_TIMEOUT", "0.5"),
        ("TELNETCONSOLE_ENABLED", "True"),  # default 1, a boolean
        ("CRAWLER_RENDER", "auto"),
        ("LOG_LEVEL", "WARNING"),
        ("LOG_LEVEL", 20),
        ("SELENIUM_CONCURRENT_STARTS", ""),  # -s NAME= : back to None
        ("SELENIUM_REMOTE_URL", None),
        ("RETRY_HTTP_CODES", "500,503"),
        ("FEEDS", '{"out.jsonl": {"format": "jsonlines"}}'),
        ("CRAWLER_FORM_VALUES", "q=ships,colour=red"),  # text the component parses
        ("CRAWLER_FORM_VALUES", {"q": "ships"}),
        ("CRAWLER_EXTRACT_SPECS", ["a.yaml", {"name": "inline"}]),
        ("CLOSESPIDER_PAGECOUNT", None),  # Scrapy settings may be None
        ("SOME_SETTING_OF_ANOTHER_COMPONENT", object()),  # not ours to judge
    ],
)
def test_good_values_pass(name: str, value: Any) -> None:
    check(**{name: value})


def test_the_defaults_and_the_project_settings_pass() -> None:
    check_settings(framework_settings())
    project = Settings()
    project.setmodule("crawler.settings")
    check_settings(project)


def test_a_prefix_limits_the_check_and_the_error_type_is_chosen() -> None:
    settings = framework_settings({"ROBOTSTXT_OBEY": "nope", "SELENIUM_POOL_SIZE": "x"})
    check_settings(settings, "CRAWLER_")
    with pytest.raises(BrowserConfigError, match="SELENIUM_POOL_SIZE"):
        check_settings(settings, "SELENIUM_", error=BrowserConfigError)


def test_the_spiders_own_settings_are_checked_too() -> None:
    class Sometimes(Spider):
        name = "sometimes"
        custom_settings: ClassVar[dict[str, Any]] = {"CRAWLER_RENDER": "sometimes"}

    settings = framework_settings()
    check_settings(settings)
    with pytest.raises(ConfigError, match="CRAWLER_RENDER must be one of"):
        check_settings(settings, spidercls=Sometimes)
    assert settings["CRAWLER_RENDER"] == "never"  # a copy was checked


def test_every_framework_setting_has_a_type_and_the_choices_are_the_components() -> None:
    names = {name for name in vars(default_settings) if name.isupper()}
    assert names == set(default_settings.__annotations__)
    assert RENDER_MODES == setting_choices("CRAWLER_RENDER") == ("never", "auto", "always")
    assert FORM_MODES == ("none", "get", "all")
    assert LOGIN_MODES == ("http", "browser", "auto")
    assert setting_choices("CRAWLER_EXTRACT_ENGINE") == ENGINE_NAMES


def test_a_value_scrapy_refuses_to_store_is_a_config_error() -> None:
    settings = framework_settings()
    with pytest.raises(ConfigError, match=r"^FEEDS must be a dict \(or its JSON\), not '\{bad'$"):
        set_settings(settings, {"FEEDS": "{bad"})
    with pytest.raises(ConfigError, match=r"^DOWNLOADER_MIDDLEWARES must be a dict"):
        set_settings(settings, {"DOWNLOADER_MIDDLEWARES": "[1]"})
    set_settings(settings, {"SELENIUM_POOL_SIZE": "2"})
    assert settings.getpriority("SELENIUM_POOL_SIZE") == 40  # cmdline


def test_unknown_names_from_the_command_line_get_the_closest_known_one() -> None:
    settings = framework_settings()
    set_settings(settings, {"SELENIUM_POOLSIZE": "2", "selenium_pool_size": "2", "LOG_LEVEL": "X"})
    settings.set("PROJECT_ONLY_THING", 1, priority="project")  # not given by the user now
    warnings = unknown_settings(settings)
    assert len(warnings) == 2
    assert warnings[0].startswith("Unknown setting SELENIUM_POOLSIZE (set on the command line)")
    assert warnings[0].endswith("did you mean SELENIUM_POOL_SIZE?")
    assert warnings[1].startswith("Unknown setting selenium_pool_size")
    assert warnings[1].endswith("did you mean SELENIUM_POOL_SIZE?")


def test_a_name_far_from_any_gets_no_suggestion() -> None:
    settings = framework_settings()
    settings.set("ZZQ", "1", priority="spider")
    [warning] = unknown_settings(settings)
    assert warning.startswith("Unknown setting ZZQ (set by the spider)")
    assert "did you mean" not in warning


def test_an_enabled_components_package_makes_its_names_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "settingscheck_plugin"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "scheduler.py").write_text("class Scheduler:\n    pass\n")
    # read elsewhere in the package, as scrapy-redis reads REDIS_URL in connection.py
    (package / "connection.py").write_text('URL = settings.get("PLUGIN_REDIS_URL")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    settings = framework_settings()
    settings.set("PLUGIN_REDIS_URL", "redis://x", priority="cmdline")
    assert "PLUGIN_REDIS_URL" not in known_settings(settings)
    assert len(unknown_settings(settings)) == 1
    settings.set("SCHEDULER", "settingscheck_plugin.scheduler.Scheduler", priority="project")
    assert "PLUGIN_REDIS_URL" in known_settings(settings)
    assert unknown_settings(settings) == []


def test_the_framework_components_names_are_known() -> None:
    settings = Settings()
    settings.setmodule("crawler.settings")
    known = known_settings(settings)
    assert {"SELENIUM_POOL_SIZE", "CRAWLER_RENDER", "ROBOTSTXT_OBEY", "COMMANDS_MODULE"} <= known


def test_the_add_on_sets_every_default_below_the_project() -> None:
    crawler = get_crawler(Spider, {"ADDONS": {CrawlerAddon: 0}, "SELENIUM_POOL_SIZE": 2})
    settings = crawler.settings
    assert settings.getint("SELENIUM_POOL_SIZE") == 2
    for name in (n for n in vars(default_settings) if n.isupper() and n != "SELENIUM_POOL_SIZE"):
        assert settings[name] == getattr(default_settings, name), name
        assert settings.getpriority(name) == 15, name  # "addon"
    assert settings.getwithbase("EXTENSIONS")[SettingsCheck] == SETTINGS_CHECK_ORDER
    assert isinstance(crawler.extensions.middlewares[0], SettingsCheck)


def test_the_add_on_gives_the_defaults_before_any_spider_exists() -> None:
    settings = Settings({"ADDONS": {CrawlerAddon: 0}})
    AddonManager.load_pre_crawler_settings(settings)  # what a crawler runner does first
    assert settings["CRAWLER_RENDER"] == "never"


def test_the_extension_stops_a_bad_crawl_and_warns_about_unknown_names(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(ConfigError, match="SELENIUM_POOL_SIZE must be"):
        get_crawler(Spider, {"ADDONS": {CrawlerAddon: 0}, "SELENIUM_POOL_SIZE": "many"})

    class Misspelt(Spider):
        name = "misspelt"
        custom_settings: ClassVar[dict[str, Any]] = {"CRAWLER_RENDERS": "auto"}

    with caplog.at_level(logging.WARNING, logger="crawler.settingscheck"):
        get_crawler(Misspelt, {"ADDONS": {CrawlerAddon: 0}})
    [record] = [r for r in caplog.records if r.name == "crawler.settingscheck"]
    assert "CRAWLER_RENDERS (set by the spider)" in record.getMessage()
    assert record.getMessage().endswith("did you mean CRAWLER_RENDER?")


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("finished", 0),
        ("closespider_pagecount", 0),
        ("closespider_itemcount", 0),
        ("closespider_timeout", 0),
        ("shutdown", 130),
        ("store_error", 1),
        ("login_failed", 1),
        (None, 1),
    ],
)
def test_the_exit_code_follows_the_finish_reason(reason: str | None, code: int) -> None:
    assert exit_code_for(reason) == code
