"""What a render hands on: :class:`RenderedResponse` and, on the request, :class:`RenderPlan`.

The Selenium middleware answers a rendered request with a
:class:`RenderedResponse`: an ``HtmlResponse`` of the rendered DOM (UTF-8),
flagged ``"rendered"`` in ``response.flags`` as Scrapy flags its own
responses, that also carries

* ``render``: the :class:`~crawler.browser.result.RenderResult` of the render
  (script result, screenshot, whether the status is known, render time,
  discovered URLs, dialogs, notes);
* ``raw`` / ``raw_encoding``: the page as the server sent it (bytes, decoded
  from any ``Content-Encoding``), or ``None`` when unknown: the HTTP body when
  ``CRAWLER_RENDER=auto`` fetched the page first, else what Chromium kept of
  the main document;
* ``document_content_type``: the main document's ``Content-Type`` as served
  (the response's own header says ``text/html; charset=utf-8``: the body is the
  DOM), or ``None``.

``.replace()`` keeps them (they are in ``attributes``).  :func:`is_rendered`
and :func:`raw_response` are the helpers components use.

What travels on the request is one typed record under ``meta["render_plan"]``
(:data:`META_KEY`), set by :class:`~crawler.browser.rendermode.RenderModeMiddleware`
only: which ``CRAWLER_RENDER`` decision made the request a render, the raw
HTTP body when the page was fetched first, and, on the HTTP request a spider
makes after a render failed for good, why it failed.  ``meta["browser"]`` stays
the public way to ask for a render.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from scrapy.http import HtmlResponse

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Headers, Response

    from crawler.browser.result import RenderResult

META_KEY = "render_plan"
FLAG = "rendered"
# Not kept with a plan's raw response: it is decoded, and its cookies are in the jar.
_NOT_KEPT = {b"content-encoding", b"content-length", b"set-cookie"}


def kept_headers(headers: Headers) -> tuple[tuple[bytes, bytes], ...]:
    """``headers`` as pairs, for :attr:`RenderPlan.raw_headers`."""
    return tuple(
        (name, value)
        for name, values in headers.items()
        if name.lower() not in _NOT_KEPT
        for value in values
    )


@dataclass(frozen=True)
class RenderPlan:
    """Why a request is (or was to be) rendered, and what it carries for the spider.

    ``decision``: ``always`` (every HTML page), ``auto`` (fetched over HTTP
    first, then rendered) or ``auto_known`` (its page type is known to need the
    browser: rendered without an HTTP fetch).  ``raw_body`` / ``raw_encoding`` /
    ``raw_headers``: the HTTP response (body decoded from any
    ``Content-Encoding``; headers without ``Content-Encoding``,
    ``Content-Length`` and ``Set-Cookie``) when there was one.  ``failure``:
    set on the request (``meta["browser"] = False``) that replaces a render
    which failed for good, a one-line ``ErrorType: message``; the page is then
    answered from ``raw_body`` when there is one, else downloaded over HTTP,
    and recorded with that note.
    """

    decision: Literal["always", "auto", "auto_known"]
    raw_body: bytes | None = None
    raw_encoding: str | None = None
    raw_headers: tuple[tuple[bytes, bytes], ...] = ()
    failure: str | None = None

    def raw_html(self, request: Request) -> HtmlResponse | None:
        """The HTTP response this plan holds, answering ``request``; ``None`` without one."""
        if self.raw_body is None:
            return None
        return HtmlResponse(
            url=request.url,
            headers=list(self.raw_headers),
            body=self.raw_body,
            encoding=self.raw_encoding,
            request=request,
        )


def render_plan(request: Request | None) -> RenderPlan | None:
    """The :class:`RenderPlan` of ``request``, or ``None`` (not decided by ``CRAWLER_RENDER``)."""
    if request is None:
        return None
    plan = request.meta.get(META_KEY)
    return plan if isinstance(plan, RenderPlan) else None


class RenderedResponse(HtmlResponse):
    """A page rendered by the browser; see the module docstring for the attributes."""

    attributes: tuple[str, ...] = (
        *HtmlResponse.attributes,
        "render",
        "raw",
        "raw_encoding",
        "document_content_type",
    )

    def __init__(
        self,
        *args: Any,
        render: RenderResult,
        raw: bytes | None = None,
        raw_encoding: str | None = None,
        document_content_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        flags = list(kwargs.pop("flags", None) or [])
        if FLAG not in flags:
            flags.append(FLAG)
        super().__init__(*args, flags=flags, **kwargs)
        self.render = render
        self.raw = raw
        self.raw_encoding = raw_encoding
        self.document_content_type = document_content_type


def is_rendered(response: Response) -> bool:
    """Whether ``response`` is a page the browser rendered."""
    return isinstance(response, RenderedResponse)


def raw_response(response: Response) -> HtmlResponse | None:
    """The rendered page as the server sent it (same URL and request); ``None`` if unknown
    or not rendered."""
    if not isinstance(response, RenderedResponse) or response.raw is None:
        return None
    return HtmlResponse(
        url=response.url,
        body=response.raw,
        encoding=response.raw_encoding,
        request=response.request,
    )
