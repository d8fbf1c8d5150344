"""Scrapy project settings (``scrapy.cfg`` points here)."""

from __future__ import annotations

from crawler.default_settings import *  # noqa: F403

BOT_NAME = "crawler"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"
# `scrapy crawl` with one-line errors (exit code 2) and the crawl's exit code.
COMMANDS_MODULE = "crawler.scrapycommands"

# The defaults above are already set here; the add-on also checks every
# setting a crawl is given (and warns about unknown names) before it starts.
ADDONS = {"crawler.addon.CrawlerAddon": 0}

ROBOTSTXT_OBEY = True
USER_AGENT = "crawler/0.1 (Scrapy 2.19; +https://scrapy.org)"

# Both of these let any local process run code inside the crawl: off unless a
# user turns them on.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

DOWNLOAD_TIMEOUT = 30  # seconds
# Scrapy's 1 GiB default lets one page (or a gzip bomb: the limit holds for the
# decompressed body too) take gigabytes of memory; renders honour these as well.
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024  # bytes
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024  # bytes
RETRY_TIMES = 2
# Responses waiting for the spider and the pipelines.  Scrapy allows 5 MB of
# their bodies (about 1,000 pages of 5 KB) and starts CONCURRENT_ITEMS tasks for
# each one (100, about 1 KB each): when the store falls behind, each waiting
# page holds about 170 KB, 100 MiB in all.  1 MB of bodies and 2 tasks a page
# keep that under 20 MiB (bench/RESULTS.md, memory).  Each task costs about
# 7 us of CPU a page, used or not; a page's items wait on nothing but the
# store's batch, which takes them one at a time anyway (bench/RESULTS.md, scale
# round 4).
CONCURRENT_ITEMS = 2  # items (and requests) of one response handled at once
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 1_000_000  # bytes of response bodies being handled
FEED_EXPORT_ENCODING = "utf-8"
# Feeds sent to a server: Scrapy's FTP storage with netrc/environment logins, and SFTP
FEED_STORAGES = {
    "ftp": "crawler.feedstorage.ftp.FTPFeedStorage",
    "ftps": "crawler.feedstorage.ftp.FTPFeedStorage",
    "sftp": "crawler.feedstorage.sftp.SFTPFeedStorage",
}
LOG_LEVEL = "INFO"
# Scrapy's MemoryStatsCollector without its per-call deprecation shim (a crawl
# makes about 20 stats calls a page; see the module).
STATS_CLASS = "crawler.statscollectors.CrawlerStatsCollector"
# Scrapy's messages; a dropped item's names the exception's text, not the
# exception, which kept each dropped item's response in a reference cycle
# (see the module).
LOG_FORMATTER = "crawler.logformatter.CrawlerLogFormatter"

# Scrapy's filter, except that a redirect to a page already crawled is still
# followed, so the redirecting URLs are recorded.
DUPEFILTER_CLASS = "crawler.dupefilter.RedirectRecordingDupeFilter"
# With a JOBDIR: a request journal, so a killed crawl resumes (crawler.journal).
SCHEDULER = "crawler.scheduler.JournalScheduler"
# Scrapy's fingerprint, with the fragment for hash-route requests (app#!/about).
REQUEST_FINGERPRINTER_CLASS = "crawler.fingerprint.HashRouteFingerprinter"
# Keeps CONCURRENT_REQUESTS_PER_DOMAIN under the asyncio reactor (see the module).
DOWNLOADER = "crawler.downloader.SlotReservingDownloader"

# After CookiesMiddleware (700): the browser gets the jar's Cookie header and the
# jar gets the browser's cookies back; retry (550), redirect (600) and
# user-agent (500) apply to rendered requests too.  The login (off without
# CRAWLER_LOGIN_URL) sits between redirect and cookies: requests wait for it
# before the jar's Cookie header is set, and it sees redirects to the login
# page before they are followed.  The logout guard (off without a login or a
# cookies file) drops logout URLs before they wait for anything.  The render
# mode (CRAWLER_RENDER) sits below HttpCompression (590) and Redirect (600), so
# its decisions see the decoded body of the final response (the way out runs
# from high to low), and still marks requests before the browser (950).  The
# robots.txt size limit sits there too, to cut the decoded body.
DOWNLOADER_MIDDLEWARES = {
    # Outermost: counts each page request's final fate for the verdict (crawler.outcome).
    "crawler.downloadermiddlewares.outcome.OutcomeMiddleware": 10,
    # Scrapy's offsite filter, following the start URL's redirects to another host
    # (crawler.downloadermiddlewares.offsite).
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "crawler.downloadermiddlewares.offsite.SiteOffsiteMiddleware": 50,
    # robots.txt Crawl-delay, right after RobotsTxtMiddleware (100).
    "crawler.downloadermiddlewares.crawldelay.CrawlDelayMiddleware": 110,
    "crawler.downloadermiddlewares.robotstxtsize.RobotsTxtSizeMiddleware": 560,
    # Scrapy's meta refresh redirects, pages without the word "refresh" skipped.
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.downloadermiddlewares.metarefresh.MetaRefreshMiddleware": 580,
    "crawler.browser.rendermode.RenderModeMiddleware": 585,
    # CRAWLER_INCREMENTAL: after the render mode's decision on the way in, and on
    # the way out before it (with the decoded body).
    "crawler.downloadermiddlewares.incremental.IncrementalMiddleware": 588,
    "crawler.login.logout.LogoutGuardMiddleware": 640,
    "crawler.login.middleware.LoginMiddleware": 650,
    # Scrapy's, keeping Domain=localhost cookies as the browser does.
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
    "crawler.downloadermiddlewares.cookies.BrowserCookiesMiddleware": 700,
    "crawler.browser.middleware.SeleniumMiddleware": 950,
}

# Next to the spider: a page's extracted items follow the spider's own output.
SPIDER_MIDDLEWARES = {
    # The last to see each response's output: its page records last (crawler.journal).
    "crawler.spidermiddlewares.journal.JournalMiddleware": 10,
    # Outermost: frees each response's parsed document once its output is done
    # (crawler.spidermiddlewares.selector).
    "crawler.spidermiddlewares.selector.SelectorReleaseMiddleware": 5,
    "crawler.spidermiddlewares.extract.ExtractMiddleware": 950,
}

# Loads CRAWLER_COOKIES_FILE (Netscape cookies.txt) into the cookie jar; off without it.
# MinItems ends a crawl with fewer than CRAWLER_MIN_ITEMS items as no_items; off at 0.
EXTENSIONS = {
    # --max-pages counts pages, not robots.txt and sitemap downloads.
    "scrapy.extensions.closespider.CloseSpider": None,
    "crawler.extensions.closespider.PageCountCloseSpider": 0,
    "crawler.login.cookies.CookiesFile": 0,
    "crawler.extensions.minitems.MinItems": 0,
    # Scrapy's LogStats with a fuller line, live on a terminal (CRAWLER_PROGRESS).
    "scrapy.extensions.logstats.LogStats": None,
    "crawler.extensions.progress.Progress": 0,
    # With CRAWLER_FRONTIER: per-host concurrency and delay across all workers.
    "crawler.extensions.sharedpoliteness.SharedPoliteness": 0,
    # Fewer, cheaper garbage collections during the crawl (CRAWLER_GC_*; on by default).
    "crawler.extensions.gctuning.GarbageCollectorTuning": 0,
}

ITEM_PIPELINES = {
    "crawler.pipelines.validate.ValidatePipeline": 300,
    "crawler.pipelines.dedup.DedupPipeline": 400,
    "crawler.pipelines.store.StorePipeline": 800,
    "crawler.pipelines.links.PageLinksPipeline": 900,  # after the store: never in feeds
}
