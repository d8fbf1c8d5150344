"""Run one test crawl in its own process: ``python -m tests.browser.runner spec.json``.

The Twisted reactor cannot be restarted, so every crawl-level test runs this
module in a subprocess.  The spec names settings and a tree of requests (a
request's ``then`` list is yielded from its callback, which orders steps such as
"set a cookie, then render"); the runner writes what the spider received, the
errors and the stats as JSON to ``spec["out"]``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

from scrapy import Request, Spider
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.browser.rendered import RenderedResponse
from crawler.browser.request import BrowserRequest, Click, Fill, ScrollToBottom

if TYPE_CHECKING:
    from collections.abc import Iterator

    from scrapy.http import Response
    from twisted.python.failure import Failure


def _actions(raw: list[dict[str, Any]]) -> list[Click | Fill | ScrollToBottom]:
    actions: list[Click | Fill | ScrollToBottom] = []
    for item in raw:
        wait_for = item.get("wait_for")
        if "click" in item:
            actions.append(Click(item["click"], wait_for=wait_for))
        elif "fill" in item:
            actions.append(Fill(item["fill"], item["value"], wait_for=wait_for))
        else:
            actions.append(ScrollToBottom(wait_for=wait_for))
    return actions


class RunnerSpider(Spider):
    name = "runner"

    def __init__(self, spec: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.results: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []

    def build(self, item: dict[str, Any]) -> Request:
        meta = {"id": item["id"], "then": item.get("then", []), "sent": time.time()}
        meta.update(item.get("meta", {}))
        kwargs: dict[str, Any] = {
            "callback": self.parse_item,
            "errback": self.failed,
            "dont_filter": True,
            "meta": meta,
        }
        browser = item.get("browser")
        if isinstance(browser, dict):
            options = dict(browser)
            if "actions" in options:
                options["actions"] = _actions(options["actions"])
            return BrowserRequest(item["url"], **options, **kwargs)
        if browser:
            meta["browser"] = True
        return Request(item["url"], **kwargs)

    async def start(self) -> Any:
        for item in self.spec["requests"]:
            yield self.build(item)

    def parse_item(self, response: Response) -> Iterator[Request]:
        meta = response.meta
        render = response.render if isinstance(response, RenderedResponse) else None
        screenshot = render.screenshot if render is not None else None
        self.results.append(
            {
                "id": meta["id"],
                "url": response.url,
                "status": response.status,
                "headers": {
                    k.decode(): [v.decode() for v in vs] for k, vs in response.headers.items()
                },
                "flags": response.flags,
                "rendered": render is not None,
                "status_known": render.status_known if render is not None else None,
                "script_result": render.script_result if render is not None else None,
                "screenshot_png": bool(screenshot) and screenshot[:8] == b"\x89PNG\r\n\x1a\n",
                "body": response.text[:20000],
                "sent": meta["sent"],
                "done": time.time(),
                "retries": meta.get("retry_times", 0),
                "render_time": render.elapsed if render is not None else None,
            }
        )
        for item in meta["then"]:
            yield self.build(item)

    def failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        self.errors.append(
            {
                "id": request.meta["id"],
                "error": type(failure.value).__name__,
                "mro": [cls.__name__ for cls in type(failure.value).__mro__],
                "message": str(failure.value),
                "done": time.time(),
            }
        )


def main(spec_path: str) -> None:
    with open(spec_path) as f:
        spec = json.load(f)
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.update(
        {
            "ITEM_PIPELINES": {},
            "ROBOTSTXT_OBEY": False,
            "LOG_LEVEL": "INFO",
            "LOG_FILE": spec["out"] + ".log",
        },
        priority="project",
    )
    settings.update(spec.get("settings", {}), priority="cmdline")
    process = CrawlerProcess(settings, install_root_handler=True)
    crawler = process.create_crawler(RunnerSpider)
    started = time.time()
    process.crawl(crawler, spec=spec)
    process.start()
    spider = crawler.spider
    assert isinstance(spider, RunnerSpider)
    stats = {
        k: v
        for k, v in (crawler.stats.get_stats() if crawler.stats else {}).items()
        if isinstance(v, (int, float, str))
    }
    with open(spec["out"], "w") as f:
        json.dump(
            {
                "started": started,
                "finished": time.time(),
                "results": spider.results,
                "errors": spider.errors,
                "stats": stats,
            },
            f,
        )


if __name__ == "__main__":
    main(sys.argv[1])
