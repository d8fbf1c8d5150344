"""Bad ``-s NAME=VALUE`` settings and the one error line each gives, shared by the
tests of ``crawler crawl`` / ``extract`` / ``login`` and of ``scrapy crawl``."""

from __future__ import annotations

#: Components named by import path, given with -s: each must load.
COMPONENT_CASES = [
    (
        'ITEM_PIPELINES={"nosuch.P": 1}',
        "ITEM_PIPELINES: cannot import nosuch.P: No module named 'nosuch'",
    ),
    (
        'DOWNLOADER_MIDDLEWARES={"crawler.nosuch.Mw": 100}',
        "DOWNLOADER_MIDDLEWARES: cannot import crawler.nosuch.Mw: No module named 'crawler.nosuch'",
    ),
    ('EXTENSIONS={"os.path": 1}', "EXTENSIONS: os.path is a module, not a class"),
    (
        'SPIDER_MIDDLEWARES={"x.y": "high"}',
        "SPIDER_MIDDLEWARES: the order of x.y must be a number (or None to turn it off), "
        "not 'high'",
    ),
    (
        'ITEM_PIPELINES={"x": "a"}',
        "ITEM_PIPELINES: the order of x must be a number (or None to turn it off), not 'a'",
    ),
    ("SCHEDULER=no.such.S", "SCHEDULER: cannot import no.such.S: No module named 'no'"),
    (
        "DUPEFILTER_CLASS=nosuch",
        "DUPEFILTER_CLASS: 'nosuch' is not an import path (package.module.ClassName)",
    ),
    (
        "TWISTED_REACTOR=nosuch.r",
        "TWISTED_REACTOR: cannot import nosuch.r: No module named 'nosuch'",
    ),
    (
        'FEED_EXPORTERS={"jsonl": "no.such.Exporter"}',
        "FEED_EXPORTERS['jsonl']: cannot import no.such.Exporter: No module named 'no'",
    ),
]
#: Values only the component that reads them can judge (its Config.from_settings).
VALIDATOR_CASES = [
    (
        "CRAWLER_FORM_VALUES=notadict",
        "CRAWLER_FORM_VALUES takes NAME=VALUE pairs (comma-separated, a list, or a mapping), "
        "not 'notadict'",
    ),
    (
        "CRAWLER_FORM_VALUES=[1,2]",
        "CRAWLER_FORM_VALUES takes NAME=VALUE pairs (comma-separated, a list, or a mapping), "
        "not '[1,2]'",
    ),
    (
        "CRAWLER_SUBMIT_FORMS=[",
        "CRAWLER_SUBMIT_FORMS must be a regular expression (or empty), not '[' "
        "(unterminated character set at position 0)",
    ),
    (
        "SELENIUM_ALLOWED_HOSTS=http://x/",
        "SELENIUM_ALLOWED_HOSTS takes host names (or *.domain patterns), a list or "
        "comma-separated, not 'http://x/'",
    ),
    (
        'SELENIUM_ALLOWED_HOSTS=["a","b"]',
        "SELENIUM_ALLOWED_HOSTS takes host names (or *.domain patterns), a list or "
        """comma-separated, not '["a","b"]'""",
    ),
    (
        "CRAWLER_LOGOUT_PATTERN=(",
        "CRAWLER_LOGOUT_PATTERN must be a regular expression, not '(' "
        "(missing ), unterminated subpattern at position 0)",
    ),
    (
        "CRAWLER_EXTRACT_SPECS=/no/such.yaml",
        "CRAWLER_EXTRACT_SPECS: /no/such.yaml: cannot read spec file: No such file or directory",
    ),
]
#: Values Scrapy would take and then die on (a traceback, exit code 1) or ignore.
CHECK_CASES = [
    (
        "LOG_LEVEL=10",
        "LOG_LEVEL must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG, NOTSET (a number only "
        "as an int, in a settings file), not '10'",
    ),
    (
        "LOG_FILE=/nonexistent/dir/x.log",
        "LOG_FILE: cannot write /nonexistent/dir/x.log: the directory /nonexistent/dir does "
        "not exist",
    ),
    (
        "JOBDIR=/proc/nope",
        "JOBDIR: cannot create or write the job directory /proc/nope: No such file or "
        "directory: give a directory you may write",
    ),
    ("DNS_RESOLVER=nosuch.R", "DNS_RESOLVER: cannot import nosuch.R: No module named 'nosuch'"),
    (
        "CONCURRENT_REQUESTS_PER_IP=1",
        "CONCURRENT_REQUESTS_PER_IP=1 does not work with SCHEDULER_PRIORITY_QUEUE="
        "scrapy.pqueues.DownloaderAwarePriorityQueue, which does not support it: set "
        "SCHEDULER_PRIORITY_QUEUE=scrapy.pqueues.ScrapyPriorityQueue, or "
        "CONCURRENT_REQUESTS_PER_IP=0 (CONCURRENT_REQUESTS_PER_DOMAIN limits each site)",
    ),
    (
        "CONCURRENT_REQUESTS_PER_IP=-2",
        "CONCURRENT_REQUESTS_PER_IP must be a whole number >= 0, not '-2'",
    ),
    (
        'FEEDS={"%(bad)s.jsonl": {}}',
        "FEEDS['%(bad)s.jsonl']: unknown parameter %(bad)s in the URI: use time, batch_time, "
        "batch_id or an attribute of the spider (name, or a spider argument)",
    ),
    (
        'FEEDS={"out.jsonl": {"encoding": "nosuchenc"}}',
        "FEEDS['out.jsonl']['encoding']: unknown encoding 'nosuchenc': use one Python knows, "
        "such as utf-8 or latin-1",
    ),
]
