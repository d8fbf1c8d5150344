"""Log in to the payments app and extract the payments page, over HTTP or rendered.

``python -m tests.payments_crawl BASE_URL DB {http|rendered}``: a crawl in its own
process (the reactor cannot be restarted), with the project's settings and the
spec ``tests/specs/payments.yaml``.  The spider logs in through the login form
(Scrapy's cookie jar keeps the session), then fetches ``/pay/`` over plain HTTP
or through the browser middleware, which gets the session cookie from the jar.
The extraction middleware does the rest; items end up in the SQLite store DB.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import FormRequest, Request, Spider
from scrapy.crawler import CrawlerProcess

from crawler.browser.rendered import is_rendered
from crawler.runner import project_settings
from fixtures.tinysite.payments import INDEX_PATH, LOGIN_PATH, USERS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from scrapy.http import Response

SPEC = Path(__file__).parent / "specs" / "payments.yaml"
USER = "alice"


class PaymentsSpider(Spider):
    name = "payments_test"

    def __init__(self, base_url: str, mode: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self.mode = mode

    async def start(self) -> AsyncIterator[Request]:
        yield Request(self.base_url + LOGIN_PATH, callback=self.log_in)

    def log_in(self, response: Response) -> Iterator[Request]:
        yield FormRequest.from_response(
            response,
            formdata={"username": USER, "password": USERS[USER]},
            # the redirect to /pay/ is not followed: /pay/ is fetched below, one way
            meta={"dont_redirect": True, "handle_httpstatus_list": [302]},
            callback=self.logged_in,
        )

    def logged_in(self, response: Response) -> Iterator[Request]:
        assert response.status == 302, f"login failed: {response.status}"
        meta = {"browser": True} if self.mode == "rendered" else {}
        yield Request(self.base_url + INDEX_PATH, meta=meta, callback=self.payments)

    def payments(self, response: Response) -> None:
        self.crawler.stats.set_value("payments_test/rendered", is_rendered(response))


def main(base_url: str, db: str, mode: str) -> int:
    settings = project_settings(
        {
            "LOG_LEVEL": "INFO",
            "ROBOTSTXT_OBEY": False,
            "CRAWLER_STORE_URL": f"sqlite:///{db}",
            "CRAWLER_EXTRACT_SPECS": [str(SPEC)],
            "SELENIUM_ALLOWED_HOSTS": ["127.0.0.1"],
            "SELENIUM_POOL_SIZE": 1,
        }
    )
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(PaymentsSpider)
    process.crawl(crawler, base_url=base_url, mode=mode)
    process.start()
    return 0 if crawler.stats.get_value("finish_reason") == "finished" else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
