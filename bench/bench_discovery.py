"""What live-DOM discovery costs per render: the one script call and the DevTools events.

``python -m bench.bench_discovery [--rounds 20]``

One Chromium session renders each page once, then :func:`live_links` (one
``execute_script`` round trip walking the document, its open shadow roots and
same-origin frames), :func:`live_page` (the same walk and the read of the
page's forms, ``js/live_forms.js``, in one round trip: what a render runs)
and :func:`requested_urls` (reading the render's DevTools events) are each
timed ``--rounds`` times on the loaded page; the table gives their medians
beside the median time of a whole render of the same page.  Pages: a
catalogue item (the page of ``bench_browser`` part 1), the ``/live/`` fixture
pages with frames and shadow roots, form lab pages, and generated pages with
1,000 and 5,000 links and with 50 forms of 10 controls.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import TYPE_CHECKING

from crawler.addon import framework_settings
from crawler.browser.config import BrowserConfig
from crawler.browser.discovery import live_links, live_page, requested_urls
from crawler.browser.request import BrowserOptions
from crawler.browser.session import BrowserSession, RenderSpec
from fixtures.tinysite import catalog
from fixtures.tinysite.apps import default_apps
from fixtures.tinysite.pages import html_page
from fixtures.tinysite.server import SiteResponse, TinySite

if TYPE_CHECKING:
    from collections.abc import Callable

    from fixtures.tinysite.server import SiteRequest


class ManyLinksApp:
    """``/many/?n=N``: a page of N links in a list (N at most 20,000)."""

    prefix = "/many/"

    def handle(self, request: SiteRequest, site: TinySite) -> SiteResponse:
        n = min(int(request.arg("n", "1000") or 1000), 20_000)
        items = "".join(f"<li><a href='/many/{i}.html'>item {i}</a></li>" for i in range(n))
        return SiteResponse(body=html_page(f"{n} links", f"<ul>{items}</ul>"))


class ManyFormsApp:
    """``/manyforms/?n=N``: N forms, each with a select of 5 options, 3 radios,
    a checkbox, 4 text inputs and a submit button (N at most 1,000)."""

    prefix = "/manyforms/"

    def handle(self, request: SiteRequest, site: TinySite) -> SiteResponse:
        n = min(int(request.arg("n", "50") or 50), 1000)
        options = "".join(f"<option value='{i}'>option {i}</option>" for i in range(5))
        one = (
            f"<form action='/manyforms/r'><select name='s'>{options}</select>"
            + "".join(f"<input type='radio' name='r' value='{i}'>" for i in range(3))
            + "<input type='checkbox' name='c' checked>"
            + "".join(f"<input name='t{i}' value='v{i}'>" for i in range(4))
            + "<button>Go</button></form>"
        )
        return SiteResponse(body=html_page(f"{n} forms", one * n))


def median_ms(call: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    pages = [
        ("catalogue item", catalog.item_path(7) + "?size=500"),
        ("/live/iframe (3 documents)", "/live/iframe"),
        ("/live/frameset", "/live/frameset"),
        ("/live/shadow", "/live/shadow"),
        ("1,000 links", "/many/?n=1000"),
        ("5,000 links", "/many/?n=5000"),
        ("/formlab/select.html", "/formlab/select.html"),
        ("/formlab/aspnet/search.aspx", "/formlab/aspnet/search.aspx"),
        ("50 forms", "/manyforms/?n=50"),
    ]
    with (
        TinySite(apps=[*default_apps(), ManyLinksApp(), ManyFormsApp()]) as site,
        tempfile.TemporaryDirectory() as tmp,
    ):
        settings = {"SELENIUM_TEMP_DIR": tmp, "SELENIUM_ALLOWED_HOSTS": ["127.0.0.1"]}
        session = BrowserSession(BrowserConfig.from_settings(framework_settings(settings)))
        session.start()
        try:
            print(f"median of {args.rounds} calls on the loaded page; render: median of 5 renders")
            print(
                f"{'page':28} {'links':>6} {'forms':>5} {'live_links ms':>14}"
                f" {'live_page ms':>13} {'requested ms':>13} {'render ms':>10}"
            )
            for name, path in pages:
                spec = RenderSpec(url=site.url(path), options=BrowserOptions())
                render_ms = median_ms(lambda spec=spec: session.render(spec), 5)
                driver, log = session.driver, session._log
                found = live_links(driver)
                live_ms = median_ms(lambda d=driver: live_links(d), args.rounds)
                _, forms = live_page(driver)
                page_ms = median_ms(lambda d=driver: live_page(d), args.rounds)
                requested_ms = (
                    median_ms(lambda g=log: requested_urls(g), args.rounds) if log else 0.0
                )
                print(
                    f"{name:28} {len(found):>6} {len((forms or {}).get('forms') or ()):>5}"
                    f" {live_ms:>14.2f} {page_ms:>13.2f} {requested_ms:>13.3f} {render_ms:>10.1f}"
                )
        finally:
            session.quit()


if __name__ == "__main__":
    main()
