"""Defaults for the framework's own settings, and their types.

The one place these defaults live.  ``crawler.settings`` imports them as the
project's settings; a Scrapy project that uses the components without
``crawler.settings`` gets them from the add-on :class:`crawler.addon.CrawlerAddon`
(``ADDONS``).  Components read them plainly, as Scrapy's components read
theirs (``settings.getint("SELENIUM_POOL_SIZE")``).

The annotations are the settings' types: :mod:`crawler.settingscheck` reads
them to refuse a bad value before anything is crawled (a
:class:`~crawler.exceptions.ConfigError` naming the setting and what it
takes).  ``Literal[...]`` lists the allowed values, ``Ge(n)`` / ``Gt(n)``
bound a number (a float is also finite), ``Regex`` is a regular expression
(compiled by the check), ``| None`` allows ``None`` (and an empty ``-s NAME=``).
What a type cannot say (a host name, a spec file) the component's own
``Config.from_settings`` checks, and the settings check runs those too
(:data:`crawler.settingscheck.VALIDATORS`).
Alphabetical by component, the enabling flag first in each group.
"""

from __future__ import annotations

import typing

if typing.TYPE_CHECKING:  # the annotations are read by crawler.settingscheck, not at import
    from typing import Annotated, Any, Literal

    from crawler.settingscheck import Ge, Gt, Le, Regex

# Progress of a crawl (crawler.extensions.progress): auto: one live line when stderr is a
# terminal, else as log; log: a "Progress:" INFO line every LOGSTATS_INTERVAL; off: neither
CRAWLER_PROGRESS: Literal["auto", "log", "off"] = "auto"

# Crawls that must yield items (crawler.extensions.minitems)
CRAWLER_MIN_ITEMS: Annotated[int, Ge(0)] = 0  # fewer items: finish reason no_items; 0: off

# When a crawl counts as failed (crawler.outcome, crawler.downloadermiddlewares.outcome)
CRAWLER_MAX_ERROR_RATIO: Annotated[float, Ge(0), Le(1)] = 1.0  # share of pages in error; 1: off
CRAWLER_MIN_PAGES: Annotated[int, Ge(0)] = 1  # fewer pages with a response: failed; 0: off
CRAWLER_OUTCOME_FILE: str | None = None  # JSON outcome written at exit; None: none

# robots.txt Crawl-delay, per host (crawler.downloadermiddlewares.crawldelay); needs
# ROBOTSTXT_OBEY.  Longer delays are cut to this (counted); 0: Crawl-delay ignored
CRAWLER_MAX_CRAWL_DELAY: Annotated[float, Ge(0)] = 30  # seconds

# Feed delivery to a server: ftp://, ftps://, sftp:// outputs (crawler.feedstorage)
CRAWLER_FEED_NETRC: str | None = None  # netrc file of the feed hosts' logins; None: ~/.netrc
# NAME of the environment variable holding the password of a feed host not in the netrc file
CRAWLER_FEED_PASSWORD_ENV: str = "CRAWLER_FEED_PASSWORD"
# sftp://: refuse a host key in no known_hosts file; False: accept it (logged, not saved)
CRAWLER_FEED_SFTP_HOST_KEY_CHECK: bool = True
CRAWLER_FEED_SFTP_KEY_FILE: str | None = None  # private key; None: ssh-agent and ~/.ssh/id_*
CRAWLER_FEED_SFTP_KNOWN_HOSTS: str | None = None  # OpenSSH's format; None: ~/.ssh/known_hosts
CRAWLER_FEED_TIMEOUT: Annotated[float, Gt(0)] = 30  # seconds to connect, log in, send a block
# directory of the copies of feed files that could not be delivered; None: working dir
CRAWLER_FEED_UNDELIVERED_DIR: str | None = None
# crawler crawl/extract connect to each ftp/ftps/sftp feed's server before crawling (login,
# host key, directory) and refuse to start (exit 2) when it fails (crawler.feedstorage.preflight)
CRAWLER_FEED_PREFLIGHT: bool = True

# Python's garbage collector while a crawl's engine runs (crawler.extensions.gctuning): on
# the 100,000-page benchmark 20% less CPU, the same peak memory (306 against 305 MiB)
CRAWLER_GC_FREEZE: bool = True  # objects alive at engine start skipped by collections (gc.freeze)
# gc threshold0 while the engine runs: allocations net of frees between young collections;
# only raised (a value under the current one, Python's 700, leaves it); 0: as is.
# At most 2**31 - 1 (gc.set_threshold takes a C int)
CRAWLER_GC_THRESHOLD: Annotated[int, Ge(0), Le(2147483647)] = 10000

# Shared frontier: one crawl, several worker processes, through Redis (crawler.frontier;
# `crawler crawl --frontier`, `crawler worker`): its queue, seen requests and leases
CRAWLER_FRONTIER: str | None = None  # redis://HOST:PORT/DB; None: the crawl is one process
CRAWLER_FRONTIER_PREFIX: str = "crawler:default"  # prefix of the crawl's Redis keys
CRAWLER_FRONTIER_WORKER: str | None = None  # this process's id; None: <host>-<pid>-<random>
# seconds the shared queue must stay empty, with no request in flight anywhere, to close
CRAWLER_FRONTIER_IDLE_TIMEOUT: Annotated[float, Gt(0)] = 5.0
# seconds without a heartbeat after which a worker is dead and its requests queued again
CRAWLER_FRONTIER_LEASE_TIMEOUT: Annotated[float, Gt(0)] = 30.0
CRAWLER_FRONTIER_POLL_INTERVAL: Annotated[float, Gt(0)] = 0.2  # seconds: heartbeat, leases
# seconds a crawl's keys outlive its last live process (renewed by each worker every 2 s):
# those of a crawl whose processes were all killed or lost Redis go then.  A day: time to
# look at them (redis-cli) after a failure; at least an hour, well above any outage a crawl
# rides out (CRAWLER_FRONTIER_OUTAGE_TIMEOUT), during which an unreachable Redis still expires keys
CRAWLER_FRONTIER_KEY_TTL: Annotated[float, Ge(3600)] = 86400.0
# seconds Redis may fail to answer, without a break, before a worker stops crawling (finish
# reason frontier_unreachable, a failed crawl; crawler.frontier.outage)
CRAWLER_FRONTIER_OUTAGE_TIMEOUT: Annotated[float, Gt(0)] = 60.0
# seconds a Redis call of the frontier (and the shared politeness) may take to connect or
# to answer before it fails, never retried by redis-py: the failure is an outage (above),
# retried at the next poll.  Most calls run on the crawl's reactor thread, which a hung
# Redis (host frozen, network partition) holds this long per call.  3 s: these commands
# take well under a millisecond, and Redis's stalls under load stay below it (a BGSAVE's
# fork, 10-20 ms per GB of data; a write waiting for a slow AOF fsync, up to 2 s with
# appendfsync everysec: Redis's latency guide); a false alarm costs a warning, not the crawl
CRAWLER_FRONTIER_SOCKET_TIMEOUT: Annotated[float, Gt(0)] = 3.0
# where a worker that closes with requests it could not queue (Redis did not answer) leaves
# them, under <dir>/<crawl id>/, for the next worker of the crawl started from the same
# directory to queue (crawler.frontier.scheduler); a relative one is under the current directory
CRAWLER_FRONTIER_SPOOL_DIR: str = "frontier-spool"
# seconds a worker's new requests wait before they are queued in Redis together (one script
# for all, crawler.frontier.scheduler); 0: at the end of the reactor turn that found them.
# 10 ms: about 3 pages at 300 pages/s, 0.57 -> 0.45 queueing scripts a page for one worker
# (bench/RESULTS.md, "Shared crawl, round 5"); a pop and a poll queue them at once
CRAWLER_FRONTIER_FLUSH_DELAY: Annotated[float, Ge(0)] = 0.01
# fingerprints a worker remembers as in the shared seen set (asked of Redis no more; about
# 150 bytes each); 0: every request asks Redis
CRAWLER_FRONTIER_SEEN_CACHE: Annotated[int, Ge(0)] = 50_000
# Per-host concurrency and delay held across all workers
# (crawler.extensions.sharedpoliteness); needs CRAWLER_FRONTIER
CRAWLER_FRONTIER_POLITENESS: bool = True
# seconds a dead worker's places on a host stay taken (renewed every third of it while alive)
CRAWLER_FRONTIER_POLITENESS_LEASE: Annotated[float, Gt(0)] = 15

# Login and session cookies (crawler.login)
CRAWLER_LOGIN_URL: str | None = None  # the login page; None: no login
CRAWLER_COOKIES_FILE: str | None = None  # Netscape cookies.txt loaded into the jar at start
CRAWLER_LOGIN_FAILURE_TEXT: str | None = None  # text a failed login shows: its presence is failure
CRAWLER_LOGIN_MAX_RELOGINS: Annotated[int, Ge(0)] = 3  # re-logins in a row that bring no page back
CRAWLER_LOGIN_PASSWORD_ENV: str | None = None  # NAME of the environment variable holding it
CRAWLER_LOGIN_PASSWORD_FIELD: str | None = None  # name of the password input; None: detected
CRAWLER_LOGIN_PASSWORD_FILE: str | None = None  # file whose first line is the password
CRAWLER_LOGIN_SUBMIT_SELECTOR: str | None = None  # browser: CSS/XPath of the control to click
CRAWLER_LOGIN_SUCCESS_SELECTOR: str | None = None  # CSS present after login; None: left the page
CRAWLER_LOGIN_TIMEOUT: Annotated[float, Gt(0)] = 15  # seconds a browser login may take to settle
CRAWLER_LOGIN_USERNAME: str | None = None
CRAWLER_LOGIN_USERNAME_FIELD: str | None = None  # name of the username input; None: detected
CRAWLER_LOGIN_WITH: Literal["http", "browser", "auto"] = "auto"  # auto: HTTP, then the browser

# robots.txt size (crawler.downloadermiddlewares.robotstxtsize)
# bytes of a robots.txt read, the rest ignored (RFC 9309, 2.5: at least 500 KiB); 0: off
CRAWLER_ROBOTSTXT_MAXSIZE: Annotated[int, Ge(0)] = 500 * 1024

# Site crawl (spiders.site)
CRAWLER_ALLOWED_DOMAINS: list[str] = []  # hosts followed besides the start URL's
# submit discovered forms: none | get (GET forms) | all (GET and POST)
CRAWLER_FORMS: Literal["none", "get", "all"] = "get"
# field name -> value, in every form with that field; also JSON or "NAME=VALUE,..." text
CRAWLER_FORM_VALUES: dict[str, str] | list[str] | str = {}
# extra submissions per form (crawler.forms.variants): each other submit button, each
# other option of each select and radio group, one changed at a time; 0: defaults only
CRAWLER_FORM_VARIANTS: Annotated[int, Ge(0)] = 8
# a form whose results were N times no new page is not submitted again (crawler.forms.memory)
CRAWLER_FORM_MAX_REPEATS: Annotated[int, Ge(1)] = 3
# a form whose result holds the same form again (pagers, refresh buttons, postbacks) is
# followed at most this many times in a row (crawler.forms.submitter)
CRAWLER_FORM_MAX_CHAIN: Annotated[int, Ge(1)] = 25
# hidden fields (by name) whose values never make a form new, besides the built-in
# CSRF/token/nonce/__VIEWSTATE names (crawler.forms.memory)
CRAWLER_FORM_VOLATILE_PATTERN: Regex | None = None
CRAWLER_LOGOUT_PATTERN: Regex = r"log ?out|sign ?out"  # links/forms never followed while logged in
CRAWLER_RENDER: Literal["never", "auto", "always"] = "never"  # crawler.browser.rendermode
# auto: render 1 in N pages of a type whose scripts added none
CRAWLER_RENDER_RESAMPLE_EVERY: Annotated[int, Ge(1)] = 20
# auto: renders per page type before trusting what they showed
CRAWLER_RENDER_SAMPLE_SIZE: Annotated[int, Ge(1)] = 2
# at the start page: robots.txt Sitemap: lines and /sitemap.xml of the start host
CRAWLER_SITEMAPS: bool = True
# a regular expression on the action URL: POST forms it matches are submitted under "get"
CRAWLER_SUBMIT_FORMS: Regex | None = None

# Crawler traps: links a site crawl does not follow (crawler.traps); 0: the rule is off
CRAWLER_MAX_PAGES_PER_PATTERN: Annotated[int, Ge(0)] = 200  # URLs per URL pattern per host
CRAWLER_MAX_PATH_REPEATS: Annotated[int, Ge(0)] = 2  # a run of path segments, times in a row
CRAWLER_MAX_URL_LENGTH: Annotated[int, Ge(0)] = 2000  # characters
# query/path parameters removed from links besides crawler.traps.SESSION_ID_NAMES
# (case-insensitive; a trailing * matches a prefix)
CRAWLER_SESSION_ID_NAMES: list[str] = []

# Links whose request certainly went through the duplicate filter (crawler.scheduledurls):
# the site spider drops them before building a request (same pages, links rows and stats,
# less CPU); off: every link is requested and the duplicate filter drops it
CRAWLER_DROP_SCHEDULED_LINKS: bool = True

# Item dedup within a run (crawler.pipelines.dedup)
CRAWLER_DEDUP_ENABLED: bool = True

# Exploring rendered pages: events and scrolling (crawler.browser.explore)
CRAWLER_EXPLORE: Literal["none", "safe"] = "safe"  # safe: fire what is not dangerous; renders only
CRAWLER_DANGER_PATTERN: Regex | None = None  # more actions exploration never fires (crawler.safety)
CRAWLER_EXPLORE_MAX_EVENTS: Annotated[int, Ge(0)] = 20  # events fired per page
CRAWLER_EXPLORE_MAX_EVENTS_PER_TYPE: Annotated[int, Ge(0)] = 200  # per page type (URL pattern)
CRAWLER_EXPLORE_MAX_SCROLLS: Annotated[int, Ge(0)] = 20  # scroll steps per page; 0: no scrolling
CRAWLER_EXPLORE_TIME_BUDGET: Annotated[float, Gt(0)] = 10  # seconds (wall) of events per page

# Extraction during a crawl (crawler.spidermiddlewares.extract)
# crawler.extract.engines.ENGINE_NAMES (a test keeps the two equal)
CRAWLER_EXTRACT_ENGINE: Literal["lxml", "bs4", "bs4-html.parser"] = "lxml"
CRAWLER_EXTRACT_SPECS: list[str | dict[str, Any]] = []  # spec files (YAML/TOML), or mappings

# Incremental re-crawls (crawler.incremental, crawler.downloadermiddlewares.incremental):
# conditional GETs against the previous finished run of the same spider and start URL in
# the store; pages unchanged (304, or the same body digest) are not parsed nor rendered.
# A request with meta["dont_incremental"] = True is always fetched in full
CRAWLER_INCREMENTAL: bool = False

# Request journal of a crawl with a JOBDIR (crawler.journal, crawler.scheduler)
CRAWLER_JOURNAL_INTERVAL: Annotated[float, Gt(0)] = 1.0  # seconds between commits, at most

# Page and item store (crawler.pipelines.store, crawler.storage)
CRAWLER_STORE_ENABLED: bool = True
# rows per transaction: a SQLite commit costs about 4 ms of CPU however few rows it
# holds (the index pages it rewrites), 0.24 ms a page at 200 rows, 0.15 at 1,000
CRAWLER_STORE_BATCH_SIZE: Annotated[int, Ge(1)] = 1000
# seconds a row may wait in the batch before it is written, at most
CRAWLER_STORE_FLUSH_INTERVAL: Annotated[float, Gt(0)] = 1.0
# directory of the per-run JSON lines files of rows a failed store refused; None: working dir
CRAWLER_STORE_FALLBACK_DIR: str | None = None
# seconds a store may take to connect, run one statement or wait out another process's
# SQLite write lock (retried with backoff); then a store error and the fallback file
CRAWLER_STORE_TIMEOUT: Annotated[float, Gt(0)] = 30
CRAWLER_STORE_URL: str = "sqlite:///crawl.db"

# Item validation (crawler.pipelines.validate)
CRAWLER_VALIDATE_ENABLED: bool = True

# Selenium browser rendering (crawler.browser)
SELENIUM_ENABLED: bool = True
SELENIUM_ALLOWED_HOSTS: list[str] = []  # Chromium resolves only these hosts; []: every host
SELENIUM_BLOCK_RESOURCES: list[str] = []  # image | media | font | stylesheet | URL patterns
SELENIUM_BROWSER: Literal["chromium", "firefox"] = "chromium"
SELENIUM_BROWSER_ARGUMENTS: list[str] = []  # extra command-line arguments (text: split on spaces)
SELENIUM_BROWSER_EXECUTABLE_PATH: str | None = None  # None: found on PATH at the first render
SELENIUM_CONCURRENT_STARTS: Annotated[int, Ge(1)] | None = None  # launches at once; None: CPUs/2
SELENIUM_DRIVER_EXECUTABLE_PATH: str | None = None  # chromedriver / geckodriver; None: on PATH
SELENIUM_HEADLESS: bool = True
SELENIUM_MAX_PAGES_PER_SESSION: Annotated[int, Ge(0)] = 100  # pages, then recycled; 0: never
SELENIUM_PAGE_LOAD_TIMEOUT: Annotated[float, Ge(0.1)] = 30  # seconds
SELENIUM_POLITENESS_ENABLED: bool = True  # slot concurrency, DOWNLOAD_DELAY, AutoThrottle
SELENIUM_POOL_SIZE: Annotated[int, Ge(1)] = 4  # browser sessions (one worker thread each)
# seconds a command to a remote node may take beyond the page-load timeout before the node
# counts as silent (then GET /status, and the render moves to another node)
SELENIUM_REMOTE_COMMAND_MARGIN: Annotated[float, Gt(0)] = 60
SELENIUM_REMOTE_COOLDOWN: Annotated[float, Ge(0)] = 30  # seconds a failed node stays out
SELENIUM_REMOTE_MAX_SESSIONS: Annotated[int, Ge(0)] = 0  # per node (no #max=N); 0: pool's limit
# Remote WebDriver nodes (chromedriver --port=P, Selenium servers, a Grid): one URL, a list, or
# text separated by commas/spaces; "URL#max=N" caps that node's sessions; None: local browser
SELENIUM_REMOTE_URL: list[str] | str | None = None
SELENIUM_SETTLE: Annotated[float, Ge(0)] = 0.05  # seconds with no request in flight; 0: off
SELENIUM_SETTLE_TIMEOUT: Annotated[float, Ge(0)] = 3  # seconds; a busy page is read then
SELENIUM_SHUTDOWN_TIMEOUT: Annotated[float, Ge(0)] = 10  # seconds renders get at close
SELENIUM_TEMP_DIR: str | None = None  # parent of per-session HOME/TMPDIR/profile; None: system
# seconds of page time whose timers fire at once, not in real time; 0: real time only
SELENIUM_TIMER_BUDGET: Annotated[float, Ge(0)] = 10
SELENIUM_WAIT_TIMEOUT: Annotated[float, Ge(0)] = 10  # seconds, default for wait_for
SELENIUM_WINDOW_SIZE: str = "1366,900"  # width,height in CSS pixels
