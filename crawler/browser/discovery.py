"""What a rendered page leads to, read from the live page rather than its serialisation.

``driver.page_source`` serialises the light DOM of the top document only: no
open shadow roots, no frame documents, and a declarative shadow root of the
HTML as served is gone once the browser has attached it.  Two sources fill
the gap, both giving :class:`~crawler.items.Link` objects:

* :func:`live_links`: one ``execute_script`` call (``js/live_links.js``) walks
  the live document, its open shadow roots (recursively) and its same-origin
  ``<frame>``/``<iframe>`` documents (recursively; a cross-origin frame gives
  its ``src`` only).  ``<a href>``/``<area href>`` → ``found_via="script"``
  (in the rendered DOM: the spider relabels as ``link`` the ones the HTML as
  served already had), frame documents → ``"frame"``.
* :func:`requested_urls`: the DevTools events of the render (Chromium only):
  GET requests of type XHR/Fetch → ``"xhr"``, sub-frame documents →
  ``"frame"``, main-frame documents after the first (a script moved the page)
  → ``"script"``.  Images, stylesheets, fonts and scripts are not pages and
  are skipped, as are ``data:``/``blob:``/``chrome:`` URLs; requests with
  another method are counted, never returned.

Fragments.  The crawl keeps one URL per document, so fragments are dropped,
except for **hash routes**: a link whose fragment starts with ``!`` or ``/``
(``href="#!/about"``, ``href="#/about"``) is a page of a hash-routed
single-page app, kept with its fragment (:func:`is_hash_route`).  Rendering
such a URL shows its route: Chromium routes on a fresh load of
``app#!/about``, and :func:`fresh_navigation` makes sure the load is fresh
when the browser already shows the same document.  Requests for hash routes
need a fingerprint that keeps the fragment (``meta["hash_route"]``, see
:mod:`crawler.fingerprint`).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urlsplit

from crawler.items import FoundVia, Link
from crawler.utils.url import FOLLOWED_SCHEMES

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

    from crawler.browser.devtools import PerformanceLog

#: DevTools resource types whose requests are a page's data requests.
_DATA_TYPES = ("XHR", "Fetch")


@cache
def live_links_script() -> str:
    """The JavaScript of :func:`live_links`, read once from the package's data."""
    return files("crawler.browser").joinpath("js/live_links.js").read_text(encoding="utf-8")


def is_hash_route(url: str) -> bool:
    """Whether ``url``'s fragment names a route of a hash-routed app (``#!/x``, ``#/x``).

    Called for every link of every page: a URL without ``#`` has no fragment
    (``urlsplit`` sets one only after a ``#``), so it is answered without parsing."""
    return "#" in url and urlsplit(url).fragment.startswith(("!", "/"))


def page_url(url: str) -> str | None:
    """``url`` as the crawl keeps it: an http(s) URL without its fragment, except a
    hash route's; None for other schemes (``data:``, ``blob:``, ``javascript:``...)."""
    if url.partition(":")[0].lower() not in FOLLOWED_SCHEMES:
        return None
    page, hash_sign, fragment = url.partition("#")  # the fragment: after the first '#'
    return url if not hash_sign or fragment.startswith(("!", "/")) else page


@cache
def live_page_script() -> str:
    """The links walk and the forms read (``js/live_forms.js``) as one script: one
    round trip; a forms read that fails gives ``null`` forms, not a failed walk."""
    forms = files("crawler.browser").joinpath("js/live_forms.js").read_text(encoding="utf-8")
    return (
        f"const __links = (function () {{\n{live_links_script()}\n}})();\n"
        f"let __forms = null;\ntry {{ __forms = (function () {{\n{forms}\n}})(); }}"
        " catch (e) { __forms = null; }\n"
        'return \'{"page":\' + __links + \',"forms":\' + (__forms || "null") + "}";'
    )


def live_page(
    driver: WebDriver, notes: list[str] | None = None
) -> tuple[list[Link], dict[str, Any] | None]:
    """:func:`live_links` and the live read of the page's forms (the JSON object of
    ``js/live_forms.js``, ``None`` when it could not be read), in one round trip."""
    # Selenium comes with the driver; spiders import this module for is_hash_route.
    from selenium.common.exceptions import JavascriptException

    try:
        found: Any = json.loads(driver.execute_script(live_page_script()))
    except JavascriptException as e:
        if notes is not None:
            notes.append(f"live links not read: {(e.msg or str(e)).splitlines()[0][:200]}")
        return [], None
    except (TypeError, ValueError):  # a page that replaced JSON.stringify
        found = None
    if not isinstance(found, dict):
        return _links(None, notes), None
    forms = found.get("forms")
    return _links(found.get("page"), notes), forms if isinstance(forms, dict) else None


def live_links(driver: WebDriver, notes: list[str] | None = None) -> list[Link]:
    """Links and frame documents of the live page, in document order, one per URL and kind.

    One ``execute_script`` round trip.  A page whose own script broke what the
    walk uses (``document.createTreeWalker``, ``JSON.stringify``) gives ``[]``
    and, with ``notes``, a note saying so; a dead browser raises as any
    WebDriver call does.
    """
    # Selenium comes with the driver; spiders import this module for is_hash_route.
    from selenium.common.exceptions import JavascriptException

    try:
        found: Any = json.loads(driver.execute_script(live_links_script()))
    except JavascriptException as e:
        if notes is not None:
            notes.append(f"live links not read: {(e.msg or str(e)).splitlines()[0][:200]}")
        return []
    except (TypeError, ValueError):  # a page that replaced JSON.stringify
        found = None
    return _links(found, notes)


def _links(found: Any, notes: list[str] | None) -> list[Link]:
    if not isinstance(found, dict):
        if notes is not None:
            notes.append("live links not read: the walk returned no JSON")
        return []
    if found.get("truncated") and notes is not None:
        notes.append("live links: only the first 20000 read")
    links: list[Link] = []
    seen: set[tuple[str, str]] = set()
    for entry in found.get("links") or ():
        try:
            raw_url, text, kind = entry
        except (TypeError, ValueError):
            continue
        url = page_url(str(raw_url))
        if url is None:
            continue
        found_via = FoundVia.FRAME if kind == "f" else FoundVia.SCRIPT
        if (url, found_via) in seen:
            continue
        seen.add((url, found_via))
        links.append(Link(url, found_via, str(text) if text else None))
    return links


def requested_urls(
    log: PerformanceLog, counts: dict[str, int] | None = None, navigations: bool = True
) -> list[Link]:
    """Pages the page itself requested while it rendered, from its DevTools events.

    ``log`` holds the events of this render only (it was reset right before
    the navigation), so its first main-frame document request is the
    navigation the render made; later ones are navigations by the page's
    scripts, unless ``navigations`` is False: a render whose request clicked
    (``meta["browser"]`` actions, a form submitted in the browser) moved the
    page itself, and the page it landed on is the response, not a discovery.
    Requests with another method than GET are counted in ``counts`` under
    ``discovery/skipped_method/<METHOD>`` (when given) and not returned.
    """
    links: list[Link] = []
    seen: set[str] = set()
    main_frame: str | None = None
    for message in log.events():
        if message.get("method") != "Network.requestWillBeSent":
            continue
        params = message.get("params") or {}
        kind = params.get("type")
        if kind not in _DATA_TYPES and kind != "Document":
            continue  # images, stylesheets, fonts, scripts, pings...
        if "redirectResponse" in params:
            continue  # an HTTP redirect's next hop: the redirect, not the page, moved
        request = params.get("request") or {}
        frame = params.get("frameId")
        if kind == "Document" and main_frame is None:
            main_frame = frame  # the render's own navigation
            continue
        url = page_url(str(request.get("url", "")) + _fragment(request))
        if url is None:
            continue
        method = str(request.get("method", "GET")).upper()
        if method != "GET":
            if counts is not None:
                key = f"discovery/skipped_method/{method[:10]}"
                counts[key] = counts.get(key, 0) + 1
            continue
        if kind in _DATA_TYPES:
            found_via = FoundVia.XHR
        elif frame == main_frame:
            if not navigations:
                continue
            found_via = FoundVia.SCRIPT
        else:
            found_via = FoundVia.FRAME
        if url in seen:
            continue
        seen.add(url)
        links.append(Link(url, found_via, kind if kind in _DATA_TYPES else None))
    return links


def _fragment(request: dict[str, Any]) -> str:
    """DevTools report a request's fragment apart from its URL (``urlFragment``, with '#')."""
    fragment = request.get("urlFragment")
    return fragment if isinstance(fragment, str) and fragment.startswith("#") else ""


def fresh_navigation(driver: WebDriver, url: str) -> None:
    """Before ``driver.get(url)`` of a hash route: leave the page when it is the same
    document, so the app starts at the route instead of getting a ``hashchange``
    (and the render gets its document's status, headers and raw HTML)."""
    if (
        "#" in url
        and is_hash_route(url)
        and urldefrag(driver.current_url).url == urldefrag(url).url
    ):
        driver.get("about:blank")
