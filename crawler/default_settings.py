"""Defaults for the framework's own settings.

Every component reads its settings through a ``Config.from_settings`` that
falls back to the values here, so the components also work when added to a
Scrapy project that does not use ``crawler.settings``.  Alphabetical by
component, the enabling flag first in each group.
"""

from __future__ import annotations

# Crawls that must yield items (crawler.extensions.minitems)
CRAWLER_MIN_ITEMS = 0  # fewer items scraped: finish reason no_items / too_few_items; 0: off

# Login and session cookies (crawler.login)
CRAWLER_LOGIN_URL = None  # the login page; None: no login
CRAWLER_COOKIES_FILE = None  # Netscape cookies.txt loaded into the cookie jar at start
CRAWLER_LOGIN_FAILURE_TEXT = None  # text a failed login shows; its presence means failure
CRAWLER_LOGIN_MAX_RELOGINS = 3  # re-logins in a row that bring no page back, then no more
CRAWLER_LOGIN_PASSWORD_ENV = None  # NAME of the environment variable holding the password
CRAWLER_LOGIN_PASSWORD_FIELD = None  # name of the password input; None: detected
CRAWLER_LOGIN_PASSWORD_FILE = None  # file whose first line is the password
CRAWLER_LOGIN_SUBMIT_SELECTOR = None  # browser: CSS/XPath of the control to click; None: detected
CRAWLER_LOGIN_SUCCESS_SELECTOR = None  # CSS present after login; None: "left the login page"
CRAWLER_LOGIN_TIMEOUT = 15  # seconds a browser login may take to settle after the click
CRAWLER_LOGIN_USERNAME = None
CRAWLER_LOGIN_USERNAME_FIELD = None  # name of the username input; None: detected
CRAWLER_LOGIN_WITH = "auto"  # http | browser | auto (HTTP, then the browser)

# Site crawl (spiders.site)
CRAWLER_ALLOWED_DOMAINS: list[str] = []  # hosts followed besides the start URL's
CRAWLER_FORMS = "get"  # submit discovered forms: none | get (GET forms) | all (GET and POST)
CRAWLER_FORM_VALUES: dict[str, str] = {}  # field name -> value, in every form with that field
CRAWLER_LOGOUT_PATTERN = r"log ?out|sign ?out"  # links/forms never followed while logged in
CRAWLER_RENDER = "never"  # never | auto | always (crawler.browser.rendermode)
CRAWLER_RENDER_RESAMPLE_EVERY = 20  # auto: render 1 in N pages of a type whose scripts added none
CRAWLER_RENDER_SAMPLE_SIZE = 2  # auto: renders per page type before trusting what they showed
CRAWLER_SUBMIT_FORMS = None  # regex on the action URL: POST forms submitted even under "get"

# Item dedup within a run (crawler.pipelines.dedup)
CRAWLER_DEDUP_ENABLED = True

# Extraction during a crawl (crawler.spidermiddlewares.extract)
CRAWLER_EXTRACT_ENGINE = "lxml"  # lxml | bs4 | bs4-html.parser
CRAWLER_EXTRACT_SPECS: list[str] = []  # spec files (YAML/TOML), or spec mappings; []: off

# Page and item store (crawler.pipelines.store, crawler.storage)
CRAWLER_STORE_ENABLED = True
CRAWLER_STORE_BATCH_SIZE = 200  # rows per transaction
CRAWLER_STORE_FALLBACK_PATH = None  # JSON lines file for rows a failed store could not take
CRAWLER_STORE_URL = "sqlite:///crawl.db"

# Item validation (crawler.pipelines.validate)
CRAWLER_VALIDATE_ENABLED = True

# Selenium browser rendering (crawler.browser)
SELENIUM_ENABLED = True
SELENIUM_ALLOWED_HOSTS: list[str] = []  # Chromium resolves only these hosts; []: every host
SELENIUM_BLOCK_RESOURCES: list[str] = []  # image | media | font | stylesheet | URL patterns
SELENIUM_BROWSER = "chromium"  # chromium | firefox
SELENIUM_BROWSER_ARGUMENTS: list[str] = []  # extra command-line arguments for the browser
SELENIUM_BROWSER_EXECUTABLE_PATH = None  # None: found on PATH
SELENIUM_DRIVER_EXECUTABLE_PATH = None  # chromedriver / geckodriver; None: found on PATH
SELENIUM_HEADLESS = True
SELENIUM_MAX_PAGES_PER_SESSION = 100  # pages before a session is recycled; 0: never
SELENIUM_PAGE_LOAD_TIMEOUT = 30  # seconds
SELENIUM_POLITENESS_ENABLED = True  # per-slot concurrency, DOWNLOAD_DELAY, AutoThrottle for renders
SELENIUM_POOL_SIZE = 4  # browser sessions (one worker thread each)
SELENIUM_CONCURRENT_STARTS = None  # browsers launching at once; None: one per 2 CPUs
SELENIUM_REMOTE_URL = None  # e.g. "http://127.0.0.1:4444"; None: local browser
SELENIUM_SHUTDOWN_TIMEOUT = 10  # seconds to let renders finish before browsers are killed
SELENIUM_TEMP_DIR = None  # parent of per-session HOME/TMPDIR/profile dirs; None: system temp
SELENIUM_SETTLE = 0.05  # seconds with no request in flight before the DOM is read; 0: off
SELENIUM_SETTLE_TIMEOUT = 3  # seconds; a page whose network never goes quiet is read then
SELENIUM_WAIT_TIMEOUT = 10  # seconds, default for wait_for
SELENIUM_WINDOW_SIZE = "1366,900"  # width,height in CSS pixels
