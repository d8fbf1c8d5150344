"""``crawler.settingscheck``: one check of every setting value, unknown names, the add-on."""

from __future__ import annotations

import importlib.util
import logging
import pkgutil
import re
from pathlib import Path
from typing import Any, ClassVar

import pytest
from scrapy import Spider
from scrapy.addons import AddonManager
from scrapy.exceptions import NotConfigured
from scrapy.settings import Settings, iter_default_settings
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
    CLASS_SETTINGS,
    VALIDATORS,
    SettingsCheck,
    check_argument,
    check_components,
    check_settings,
    check_types,
    known_settings,
    set_settings,
    setting_choices,
    unknown_arguments,
    unknown_settings,
)

SPECS = Path(__file__).parent / "specs"


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
        # non-finite floats: inf would make a delay or a timeout endless
        ("DOWNLOAD_DELAY", "inf", "DOWNLOAD_DELAY must be a number >= 0, not 'inf'"),
        ("CLOSESPIDER_TIMEOUT", "inf", "CLOSESPIDER_TIMEOUT must be a number >= 0, not 'inf'"),
        ("SELENIUM_SETTLE", "inf", "SELENIUM_SETTLE must be a number >= 0, not 'inf'"),
        (
            "AUTOTHROTTLE_START_DELAY",
            "nan",
            "AUTOTHROTTLE_START_DELAY must be a number >= 0, not 'nan'",
        ),
        # bounds of Scrapy's sizes, counts and delays
        ("DOWNLOAD_MAXSIZE", "-1", "DOWNLOAD_MAXSIZE must be a whole number >= 0, not '-1'"),
        ("DOWNLOAD_WARNSIZE", "-1", "DOWNLOAD_WARNSIZE must be a whole number >= 0, not '-1'"),
        (
            "AUTOTHROTTLE_TARGET_CONCURRENCY",
            "0",
            "AUTOTHROTTLE_TARGET_CONCURRENCY must be a number > 0, not '0'",
        ),
        (
            "AUTOTHROTTLE_START_DELAY",
            "-1",
            "AUTOTHROTTLE_START_DELAY must be a number >= 0, not '-1'",
        ),
        ("AUTOTHROTTLE_MAX_DELAY", "-5", "AUTOTHROTTLE_MAX_DELAY must be a number >= 0, not '-5'"),
        ("DNSCACHE_SIZE", "-1", "DNSCACHE_SIZE must be a whole number >= 0, not '-1'"),
        (
            "SCRAPER_SLOT_MAX_ACTIVE_SIZE",
            "-1",
            "SCRAPER_SLOT_MAX_ACTIVE_SIZE must be a whole number >= 0, not '-1'",
        ),
        # regular expressions, compiled by the check
        (
            "CRAWLER_SUBMIT_FORMS",
            "[",
            "CRAWLER_SUBMIT_FORMS must be a regular expression (or empty), not '[' "
            "(unterminated character set at position 0)",
        ),
        (
            "CRAWLER_LOGOUT_PATTERN",
            "(",
            "CRAWLER_LOGOUT_PATTERN must be a regular expression, not '(' "
            "(missing ), unterminated subpattern at position 0)",
        ),
        (
            "LOG_LEVEL",
            "info",
            "LOG_LEVEL must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG, NOTSET (a number "
            "only as an int, in a settings file), not 'info'",
        ),
        # text of digits (-s LOG_LEVEL=10) is not a level for logging, which Scrapy hands it to
        *(
            (
                "LOG_LEVEL",
                digits,
                "LOG_LEVEL must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG, NOTSET (a "
                f"number only as an int, in a settings file), not {digits!r}",
            )
            for digits in ("10", "20", "-5", "99")
        ),
        (
            "CONCURRENT_REQUESTS_PER_IP",
            "-1",
            "CONCURRENT_REQUESTS_PER_IP must be a whole number >= 0, not '-1'",
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
        ("LOG_LEVEL", "NOTSET"),
        ("LOG_LEVEL", "WARN"),  # logging knows it
        ("LOG_LEVEL", 20),
        ("LOG_LEVEL", 5),  # any int: a custom level
        ("SELENIUM_CONCURRENT_STARTS", ""),  # -s NAME= : back to None
        ("SELENIUM_REMOTE_URL", None),
        ("RETRY_HTTP_CODES", "500,503"),
        ("FEEDS", '{"out.jsonl": {"format": "jsonlines"}}'),
        ("CRAWLER_FORM_VALUES", "q=ships,colour=red"),  # text the component parses
        ("CRAWLER_FORM_VALUES", {"q": "ships"}),
        (
            "CRAWLER_EXTRACT_SPECS",
            [str(SPECS / "payments.yaml"), {"name": "inline", "fields": {"t": "css:h1"}}],
        ),
        ("CRAWLER_SUBMIT_FORMS", r"/cart/\d+"),  # a Regex
        ("CRAWLER_SUBMIT_FORMS", re.compile("/cart/")),
        ("CRAWLER_LOGOUT_PATTERN", ""),  # recognises no logout
        ("AUTOTHROTTLE_TARGET_CONCURRENCY", "0.5"),
        ("DOWNLOAD_MAXSIZE", "0"),  # 0: no limit
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


def test_a_prefix_limits_the_type_check_and_the_error_type_is_chosen() -> None:
    settings = framework_settings({"ROBOTSTXT_OBEY": "nope", "SELENIUM_POOL_SIZE": "x"})
    check_types(settings, "CRAWLER_")
    with pytest.raises(BrowserConfigError, match="SELENIUM_POOL_SIZE"):
        check_types(settings, "SELENIUM_", error=BrowserConfigError)


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


# -- components named by import path ---------------------------------------------


def given(**values: Any) -> Settings:
    """The framework's settings with ``values`` given on the command line."""
    settings = framework_settings()
    set_settings(settings, values, priority="cmdline")
    return settings


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "ITEM_PIPELINES",
            '{"nosuch.P": 1}',
            "ITEM_PIPELINES: cannot import nosuch.P: No module named 'nosuch'",
        ),
        (
            "DOWNLOADER_MIDDLEWARES",
            '{"crawler.nosuch.Mw": 100}',
            "DOWNLOADER_MIDDLEWARES: cannot import crawler.nosuch.Mw: "
            "No module named 'crawler.nosuch'",
        ),
        (
            "SPIDER_MIDDLEWARES",
            '{"crawler.downloader.NoSuchMiddleware": 100}',
            "SPIDER_MIDDLEWARES: cannot import crawler.downloader.NoSuchMiddleware: "
            "Module 'crawler.downloader' doesn't define any object named 'NoSuchMiddleware'",
        ),
        ("EXTENSIONS", '{"os.path": 1}', "EXTENSIONS: os.path is a module, not a class"),
        (
            "EXTENSIONS",
            '{"crawler.settingscheck.check_settings": 1}',
            "EXTENSIONS: crawler.settingscheck.check_settings is a function, not a class",
        ),
        (
            "SPIDER_MIDDLEWARES",
            '{"x.y": "high"}',
            "SPIDER_MIDDLEWARES: the order of x.y must be a number (or None to turn it off), "
            "not 'high'",
        ),
        (
            "ITEM_PIPELINES",
            '{"x": "a"}',
            "ITEM_PIPELINES: the order of x must be a number (or None to turn it off), not 'a'",
        ),
        ("SCHEDULER", "no.such.S", "SCHEDULER: cannot import no.such.S: No module named 'no'"),
        (
            "SCHEDULER",
            "crawler.downloader.SlotReservingDownloader",
            "SCHEDULER: crawler.downloader.SlotReservingDownloader is not a subclass of "
            "scrapy.core.scheduler.BaseScheduler",
        ),
        (
            "DUPEFILTER_CLASS",
            "nosuch",
            "DUPEFILTER_CLASS: 'nosuch' is not an import path (package.module.ClassName)",
        ),
        (
            "TWISTED_REACTOR",
            "nosuch.r",
            "TWISTED_REACTOR: cannot import nosuch.r: No module named 'nosuch'",
        ),
        (
            "TWISTED_REACTOR",
            "crawler.downloader.SlotReservingDownloader",
            "TWISTED_REACTOR: crawler.downloader.SlotReservingDownloader is not a reactor "
            "Scrapy can install (no function crawler.downloader.install)",
        ),
        (
            "ASYNCIO_EVENT_LOOP",
            "crawler.downloader.SlotReservingDownloader",
            "ASYNCIO_EVENT_LOOP: crawler.downloader.SlotReservingDownloader is not a "
            "subclass of asyncio.AbstractEventLoop",
        ),
        (
            "FEED_EXPORTERS",
            '{"jsonl": "no.such.Exporter"}',
            "FEED_EXPORTERS['jsonl']: cannot import no.such.Exporter: No module named 'no'",
        ),
        (
            "FEEDS",
            '{"out.xyz": {}}',
            "FEEDS['out.xyz']: no exporter for the format 'xyz': set 'format' to one of "
            "csv, jl, json, jsonl, jsonlines, marshal, pickle, xml (FEED_EXPORTERS)",
        ),
        (
            "FEEDS",
            '{"stdout:": {}}',
            "FEEDS['stdout:']: no format: set 'format' to one of csv, jl, json, jsonl, "
            "jsonlines, marshal, pickle, xml (FEED_EXPORTERS)",
        ),
        (
            "FEEDS",
            '{"sftp://x/y.jsonl": {}}',
            "FEEDS['sftp://x/y.jsonl']: no storage for 'sftp:' URIs: use a path or one of "
            "file:, ftp:, ftps:, gs:, s3:, stdout: (FEED_STORAGES)",
        ),
        (
            "FEEDS",
            '{"out.jsonl": {"item_classes": ["crawler.items.NoSuchItem"]}}',
            "FEEDS['out.jsonl']['item_classes'][0]: cannot import crawler.items.NoSuchItem: "
            "Module 'crawler.items' doesn't define any object named 'NoSuchItem'",
        ),
    ],
)
def test_a_component_that_cannot_load_is_one_line_naming_the_setting_and_the_entry(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        check_settings(given(**{name: value}))
    assert str(raised.value) == message


def test_components_that_load_pass_whatever_their_form() -> None:
    check_settings(
        given(
            ITEM_PIPELINES={
                "crawler.pipelines.validate.ValidatePipeline": 300.5,
                "no.such.Pipeline": None,  # off: never loaded, as Scrapy does
                SettingsCheck: 10,  # a class, as a spider's custom_settings may hold
            },
            FEED_EXPORTERS={"jsonl": None},  # turned off
            FEEDS={"stdout:": {"format": "jsonlines"}, "out.csv": {}},
            REFERRER_POLICY="no-referrer",  # a policy's name, not a path
            TWISTED_REACTOR="twisted.internet.epollreactor.EPollReactor",
            SCHEDULER="scrapy.core.scheduler.Scheduler",
        )
    )


def test_only_what_the_command_line_or_the_spider_gives_is_imported() -> None:
    settings = framework_settings()
    # a project's (or Scrapy's own default) components are loaded by the crawl itself
    settings.set("ITEM_PIPELINES", {"nosuch.P": 1}, priority="project")
    settings.set("SCHEDULER", "no.such.S", priority="project")
    check_components(settings)
    settings.set("ITEM_PIPELINES", {"nosuch.P": 1}, priority="spider")
    with pytest.raises(ConfigError, match=r"^ITEM_PIPELINES: cannot import nosuch\.P"):
        check_components(settings)


def test_every_class_setting_of_scrapy_is_in_the_table() -> None:
    """A Scrapy upgrade that adds a setting naming a class is noticed here."""
    paths = {
        name
        for name, value in iter_default_settings()
        if isinstance(value, str) and re.fullmatch(r"[a-z_][\w.]*\.[A-Z]\w+", value)
    }
    assert paths <= set(CLASS_SETTINGS)
    assert "DNS_RESOLVER" in CLASS_SETTINGS  # deprecated, but still read


def test_a_bad_order_does_not_crash_the_unknown_names_check() -> None:
    settings = given(ITEM_PIPELINES='{"x": "a"}', SELENIUM_POOLSIZE="2")
    [warning] = unknown_settings(settings)
    assert warning.endswith("did you mean SELENIUM_POOL_SIZE?")


# -- the components' own checks ------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"CRAWLER_FORM_VALUES": "notadict"},
            "CRAWLER_FORM_VALUES takes NAME=VALUE pairs (comma-separated, a list, or a "
            "mapping), not 'notadict'",
        ),
        (
            {"SELENIUM_ALLOWED_HOSTS": '["a","b"]'},
            "SELENIUM_ALLOWED_HOSTS takes host names (or *.domain patterns), a list or "
            """comma-separated, not '["a","b"]'""",
        ),
        (
            {"SELENIUM_BLOCK_RESOURCES": "image,fonts"},
            "SELENIUM_BLOCK_RESOURCES: unknown resource type 'fonts' in 'image,fonts'; use one "
            "of font, image, media, stylesheet or a URL pattern such as '*.pdf' or "
            "'*://ads.example.com/*'",
        ),
        (
            {"CRAWLER_EXTRACT_SPECS": "/no/such.yaml"},
            "CRAWLER_EXTRACT_SPECS: /no/such.yaml: cannot read spec file: No such file or "
            "directory",
        ),
        (
            {"CRAWLER_STORE_URL": "crawl.db"},
            "'crawl.db' is a path, not a store URL: write sqlite:///crawl.db for a SQLite file "
            "there (store URLs: sqlite:///RELATIVE/PATH, sqlite:////ABSOLUTE/PATH or "
            "postgresql://USER@HOST[:PORT]/DATABASE)",
        ),
        (
            {"CRAWLER_LOGIN_URL": "http://x/login", "CRAWLER_LOGIN_USERNAME": "alice"},
            "a login needs a password: name an environment variable that holds it "
            "(CRAWLER_LOGIN_PASSWORD_ENV, --password-env VAR) or a file "
            "(CRAWLER_LOGIN_PASSWORD_FILE, --password-file FILE)",
        ),
        (
            {"CRAWLER_COOKIES_FILE": "/no/such/cookies.txt"},
            "the cookies file /no/such/cookies.txt does not exist",
        ),
    ],
)
def test_the_components_own_checks_run_before_the_crawl(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        check_settings(given(**values))
    assert str(raised.value) == message


def test_the_validators_are_the_components_and_have_no_side_effects(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for path in VALIDATORS:
        assert callable(pkgutil.resolve_name(path)), path
    # No browser or driver looked up (PATH holds neither), no password asked for
    # (the password is read from its variable; stdin is not touched).
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("SETTINGS_CHECK_PASSWORD", "s3cret")
    monkeypatch.setattr("sys.stdin", None)
    check_settings(
        given(
            CRAWLER_RENDER="always",
            SELENIUM_BROWSER_EXECUTABLE_PATH="/no/such/chromium",
            CRAWLER_LOGIN_URL="http://127.0.0.1:9/login",
            CRAWLER_LOGIN_USERNAME="alice",
            CRAWLER_LOGIN_PASSWORD_ENV="SETTINGS_CHECK_PASSWORD",
        )
    )
    assert list(tmp_path.iterdir()) == []


def test_the_validators_see_the_framework_defaults_beneath_bare_settings() -> None:
    check_settings(Settings({"CRAWLER_MIN_ITEMS": 1}))  # no SELENIUM_* at all: defaults


# -- spider arguments ---------------------------------------------------------------


def test_a_spider_argument_is_checked_against_the_setting_it_stands_for() -> None:
    with pytest.raises(ConfigError) as raised:
        check_argument("max_depth", "DEPTH_LIMIT", "deep")
    assert str(raised.value) == "max_depth must be a whole number >= 0, not 'deep'"
    check_argument("max_depth", "DEPTH_LIMIT", "3")
    check_argument("render", "CRAWLER_RENDER", None)  # not given


class Arguments(Spider):
    """A spider whose ``forms`` argument is ``CRAWLER_FORMS`` (unchecked by it)."""

    name = "arguments"

    def __init__(self, forms: str | None = None, fail: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if fail == "config":
            raise ConfigError("fail must not be config")
        if fail == "bug":
            raise RuntimeError("a bug of the spider's, not a configuration error")
        self.forms = forms

    def apply_arguments(self, settings: Settings) -> None:
        if self.forms is not None:
            settings.set("CRAWLER_FORMS", self.forms, priority="spider")


def test_the_spider_is_built_with_its_arguments_and_its_settings_checked() -> None:
    settings = framework_settings()
    check_settings(settings, spidercls=Arguments, spider_arguments={"forms": "all"})
    with pytest.raises(ConfigError, match=r"^fail must not be config$"):
        check_settings(settings, spidercls=Arguments, spider_arguments={"fail": "config"})
    with pytest.raises(ConfigError, match=r"^CRAWLER_FORMS must be one of none, get, all"):
        check_settings(settings, spidercls=Arguments, spider_arguments={"forms": "some"})
    assert settings["CRAWLER_FORMS"] == "get"  # a copy was checked
    # Not a configuration error: left for the crawl to report, as it always has.
    check_settings(settings, spidercls=Arguments, spider_arguments={"fail": "bug"})
    # Without arguments the spider is not built.
    check_settings(settings, spidercls=Arguments)


def test_an_empty_argument_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^a spider argument has no name \(-a =x\)"):
        check_settings(framework_settings(), spidercls=Arguments, spider_arguments={"": "x"})


def test_an_argument_the_spiders_init_does_not_take_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Fields(Spider):
        """Takes ``field.NAME`` arguments out of ``**kwargs``, as the extract spider does."""

        name = "fields"

        def __init__(self, max_depth: str | None = None, **kwargs: Any) -> None:
            self.fields = {k: kwargs.pop(k) for k in list(kwargs) if k.startswith("field.")}
            super().__init__(**kwargs)

    arguments = {"max_depth": "1", "field.t": "css:h1", "max_deph": "1", "nosucharg": "1"}
    with caplog.at_level(logging.WARNING, logger="crawler.settingscheck"):
        check_settings(framework_settings(), spidercls=Fields, spider_arguments=arguments)
    messages = [r.getMessage() for r in caplog.records if r.name == "crawler.settingscheck"]
    assert messages == [
        "Unknown spider argument max_deph (-a) for the fields spider: its __init__ does not "
        "take it, it only becomes an attribute; did you mean max_depth?",
        "Unknown spider argument nosucharg (-a) for the fields spider: its __init__ does not "
        "take it, it only becomes an attribute",
    ]
    # A spider that keeps Spider.__init__ reads its arguments as attributes: no warning.
    assert unknown_arguments(Spider, {"category": "x"}) == []


# -- what the crawl writes: log file, job directory --------------------------------


def test_a_log_file_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "x.log"
    with pytest.raises(ConfigError) as raised:
        check_settings(given(LOG_FILE=str(missing)))
    assert str(raised.value) == (
        f"LOG_FILE: cannot write {missing}: the directory {missing.parent} does not exist"
    )
    with pytest.raises(ConfigError, match=r"^LOG_FILE: cannot write .*: it is a directory$"):
        check_settings(given(LOG_FILE=str(tmp_path)))
    with pytest.raises(ConfigError, match=r"^LOG_ENCODING: unknown encoding 'nosuchenc'"):
        check_settings(given(LOG_FILE=str(tmp_path / "x.log"), LOG_ENCODING="nosuchenc"))
    check_settings(given(LOG_FILE=str(tmp_path / "x.log")))
    assert list(tmp_path.iterdir()) == []  # the probe left nothing


def test_a_job_directory_is_made_as_scrapy_would_and_nothing_is_left(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        check_settings(given(JOBDIR="/proc/nope"))
    assert str(raised.value) == (
        "JOBDIR: cannot create or write the job directory /proc/nope: No such file or "
        "directory: give a directory you may write"
    )
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"^JOBDIR: cannot create or write .*/file/job"):
        check_settings(given(JOBDIR=str(tmp_path / "file" / "job")))
    check_settings(given(JOBDIR=str(tmp_path / "a" / "b")))  # Scrapy makes the parents
    assert [p.name for p in tmp_path.iterdir()] == ["file"]  # and the check leaves nothing


# -- deprecated Scrapy settings that Scrapy still reads ---------------------------------


def test_the_deprecated_dns_resolver_is_imported_like_its_new_name() -> None:
    with pytest.raises(ConfigError) as raised:
        check_settings(given(DNS_RESOLVER="nosuch.R"))
    assert str(raised.value) == "DNS_RESOLVER: cannot import nosuch.R: No module named 'nosuch'"
    check_settings(given(DNS_RESOLVER="scrapy.resolver.CachingThreadedResolver"))


def test_settings_scrapy_reads_but_no_longer_lists_are_known() -> None:
    # served by a module __getattr__ of Scrapy's defaults, not listed by dir()
    assert "CONCURRENT_REQUESTS_PER_IP" not in dict(iter_default_settings())
    settings = given(CONCURRENT_REQUESTS_PER_IP="0")
    assert "CONCURRENT_REQUESTS_PER_IP" in known_settings(settings)
    assert unknown_settings(settings) == []


def test_a_per_ip_limit_needs_a_priority_queue_that_takes_it() -> None:
    with pytest.raises(ConfigError) as raised:
        check_settings(given(CONCURRENT_REQUESTS_PER_IP="1"))
    assert str(raised.value) == (
        "CONCURRENT_REQUESTS_PER_IP=1 does not work with SCHEDULER_PRIORITY_QUEUE="
        "scrapy.pqueues.DownloaderAwarePriorityQueue, which does not support it: set "
        "SCHEDULER_PRIORITY_QUEUE=scrapy.pqueues.ScrapyPriorityQueue, or "
        "CONCURRENT_REQUESTS_PER_IP=0 (CONCURRENT_REQUESTS_PER_DOMAIN limits each site)"
    )
    check_settings(
        given(
            CONCURRENT_REQUESTS_PER_IP="1",
            SCHEDULER_PRIORITY_QUEUE="scrapy.pqueues.ScrapyPriorityQueue",
        )
    )


# -- feeds -----------------------------------------------------------------------------


class Disabled:
    """A feed storage that cannot work here, as Scrapy's s3 storage without boto3."""

    def __init__(self, uri: str, *, feed_options: dict[str, Any] | None = None) -> None:
        raise NotConfigured("missing nosuchlib library")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"FEEDS": {"out/%(bad)s.jsonl": {}}},
            "FEEDS['out/%(bad)s.jsonl']: unknown parameter %(bad)s in the URI: use time, "
            "batch_time, batch_id or an attribute of the spider (name, or a spider argument)",
        ),
        (
            {"FEEDS": {"out.jsonl": {}}, "FEED_EXPORT_ENCODING": "nosuchenc"},
            "FEED_EXPORT_ENCODING: unknown encoding 'nosuchenc': use one Python knows, such as "
            "utf-8 or latin-1",
        ),
        (
            {"FEEDS": {"out.jsonl": {"encoding": "nosuchenc"}}},
            "FEEDS['out.jsonl']['encoding']: unknown encoding 'nosuchenc': use one Python "
            "knows, such as utf-8 or latin-1",
        ),
        (
            {"FEEDS": {"out.jsonl": {"batch_item_count": 10}}},
            "FEEDS['out.jsonl']: a batch_item_count (FEED_EXPORT_BATCH_ITEM_COUNT) needs "
            "%(batch_id)d or %(batch_time)s in the URI, to name each batch's file",
        ),
        (
            {
                "FEEDS": {"nope://user:s3cret@host/x.jsonl": {}},
                "FEED_STORAGES": {"nope": f"{__name__}.Disabled"},
            },
            "FEEDS['nope://user:***@host/x.jsonl']: the feed cannot be stored there: missing "
            "nosuchlib library; install nosuchlib",
        ),
    ],
)
def test_a_feed_scrapy_would_not_write_is_one_line(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        check_settings(given(**values), spidercls=Arguments, spider_arguments={})
    assert str(raised.value) == message


def test_s3_without_boto3_is_refused_with_what_to_install() -> None:
    if importlib.util.find_spec("boto3") is not None:  # not a dependency of the project
        pytest.skip("boto3 is installed here")
    with pytest.raises(ConfigError) as raised:
        check_settings(given(FEEDS={"s3://key:s3cret@bucket/x.jsonl": {}}))
    assert str(raised.value) == (
        "FEEDS['s3://key:***@bucket/x.jsonl']: the feed cannot be stored there: missing boto3 "
        "library; install boto3"
    )


def test_feed_uri_parameters_may_name_scrapys_and_the_spiders_attributes() -> None:
    feeds = {"out/%(name)s-%(forms)s-%(time)s-%(batch_id)05d.jsonl": {"batch_item_count": 5}}
    check_settings(given(FEEDS=feeds), spidercls=Arguments, spider_arguments={"forms": "all"})
    # an argument the spider does not declare still becomes an attribute
    feeds = {"out/%(category)s.jsonl": {}}
    check_settings(given(FEEDS=feeds), spidercls=Arguments, spider_arguments={"category": "x"})
    with pytest.raises(ConfigError, match=r"unknown parameter %\(category\)s"):
        check_settings(given(FEEDS=feeds), spidercls=Arguments, spider_arguments={})
    # a FEED_URI_PARAMS function may add any parameter
    check_settings(
        given(FEEDS=feeds, FEED_URI_PARAMS="os.path.join"),
        spidercls=Arguments,
        spider_arguments={},
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            {"HTTPAUTH_USER": "me", "HTTPAUTH_PASS": "s3cr3t"},
            "HTTPAUTH_USER/HTTPAUTH_PASS need HTTPAUTH_DOMAIN: the host the credentials are "
            "sent to (e.g. example.org), or None to send them to every host",
        ),
        (
            {"DOWNLOADER_CLIENT_TLS_METHOD": "TLSv9"},
            "DOWNLOADER_CLIENT_TLS_METHOD must be one of TLS, TLSv1.0, TLSv1.1, TLSv1.2, not "
            "'TLSv9' (DOWNLOAD_TLS_MIN_VERSION/MAX_VERSION are the current way)",
        ),
    ],
)
def test_what_scrapy_refuses_only_at_crawl_time_is_refused_first(
    given: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        check(**given)
    assert str(raised.value) == message
    assert "s3cr3t" not in str(raised.value)


def test_a_context_factory_that_does_not_import_is_refused() -> None:
    with pytest.raises(ConfigError, match="DOWNLOADER_CLIENTCONTEXTFACTORY"):
        check(DOWNLOADER_CLIENTCONTEXTFACTORY="no.such.Factory")


@pytest.mark.parametrize(
    "given",
    [
        {"HTTPAUTH_USER": "me", "HTTPAUTH_PASS": "pw", "HTTPAUTH_DOMAIN": "example.org"},
        {"HTTPAUTH_USER": "me", "HTTPAUTH_PASS": "pw", "HTTPAUTH_DOMAIN": None},
        {"DOWNLOADER_CLIENT_TLS_METHOD": "TLSv1.2"},
    ],
)
def test_scrapys_own_rules_pass_good_values(given: dict[str, Any]) -> None:
    check(**given)
