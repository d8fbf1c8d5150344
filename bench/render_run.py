"""One benchmark crawl in its own process: render a list of URLs, print JSON.

``python -m bench.render_run URLS_FILE --pool N`` (our middleware) or
``--blocking`` (the scrapy-selenium-style baseline).  A line ``plain URL`` in
the file is fetched over plain HTTP instead of rendered.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import Request, Spider
from scrapy.crawler import CrawlerProcess

from crawler.runner import project_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy.http import Response


class RenderListSpider(Spider):
    name = "render_list"

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls
        self.done: list[float] = []
        self.plain_done: list[float] = []

    async def start(self) -> AsyncIterator[Request]:
        for line in self.urls:
            plain, _, url = line.rpartition(" ")
            yield Request(url, meta={"browser": not plain}, dont_filter=True)

    def parse(self, response: Response) -> None:
        (self.done if response.meta["browser"] else self.plain_done).append(time.monotonic())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("urls_file")
    parser.add_argument("--pool", type=int, default=4)
    parser.add_argument("--starts", type=int, default=None, help="SELENIUM_CONCURRENT_STARTS")
    parser.add_argument("--blocking", action="store_true")
    parser.add_argument("-s", dest="set", action="append", default=[], help="NAME=VALUE (JSON)")
    args = parser.parse_args()
    urls = Path(args.urls_file).read_text().splitlines()
    overrides: dict[str, Any] = {
        "LOG_LEVEL": "ERROR",
        "CRAWLER_STORE_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
        "SELENIUM_POOL_SIZE": args.pool,
        "SELENIUM_ALLOWED_HOSTS": ["127.0.0.1"],
        "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    }
    for assignment in args.set:
        name, _, value = assignment.partition("=")
        overrides[name] = json.loads(value)
    if args.starts is not None:
        overrides["SELENIUM_CONCURRENT_STARTS"] = args.starts
    if args.blocking:
        overrides["DOWNLOADER_MIDDLEWARES"] = {
            "crawler.browser.middleware.SeleniumMiddleware": None,
            "crawler.browser.rendermode.RenderModeMiddleware": None,
            "bench.blocking_middleware.BlockingSeleniumMiddleware": 950,
        }
    process = CrawlerProcess(project_settings(overrides))
    crawler = process.create_crawler(RenderListSpider)
    started = time.monotonic()
    process.crawl(crawler, urls=urls)
    process.start()
    spider = crawler.spider
    assert isinstance(spider, RenderListSpider)
    done = sorted(spider.done)
    steady = (len(done) - 1) / (done[-1] - done[0]) if len(done) > 1 else 0.0
    result = {"pages": len(done), "seconds": time.monotonic() - started, "steady_rate": steady}
    if done:
        result.update(first_render=done[0] - started, last_render=done[-1] - started)
    if spider.plain_done:
        result.update(plain=len(spider.plain_done), last_plain=max(spider.plain_done) - started)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
