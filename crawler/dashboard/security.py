"""The dashboard's guards: loopback Host names, the access token, read-only methods,
security headers.

* **Read-only.**  Only ``GET`` and ``HEAD`` are answered; anything else is 405
  (no endpoint changes anything or runs code).
* **On loopback** (the default, ``127.0.0.1``), a request whose ``Host`` header
  is not ``localhost``, ``127.0.0.1``, ``[::1]`` or the address bound to (any
  port) is refused with 403:
  a page of another site that makes its name resolve to 127.0.0.1 (DNS
  rebinding) would otherwise read the dashboard as same-origin.
* **Elsewhere** (and on loopback when ``crawler serve`` was given one), a token
  is required (as Jupyter does): ``Authorization: Bearer
  TOKEN``, or ``?token=TOKEN`` once, which sets an ``HttpOnly``,
  ``SameSite=Strict`` cookie (an HMAC of the token, not the token) and redirects
  to the same URL without it, so the token leaves the address bar and history.
  Compared with :func:`hmac.compare_digest`; 401 otherwise.  A token shorter
  than :data:`MIN_TOKEN_LENGTH` characters is refused when ``crawler serve`` starts.
* **Requests started by other sites** (``Sec-Fetch-Site: cross-site`` or
  ``same-site``, Fetch Metadata, sent by every current browser) are refused with
  403: any web page could otherwise make the browser fetch ``/runs/N/report``
  (an ``<img>``, a ``<script>``), costing a render each and sending the token
  cookie along.  Requests without the header (command-line clients, older
  browsers) and ``same-origin`` / ``none`` (typed, bookmarked) are answered.
* **Headers** on every answer (OWASP Secure Headers): a Content Security Policy
  that allows only the dashboard's own scripts and styles (the report page adds
  the hash of the report's one constant script, :func:`report_policy`), ``nosniff``,
  ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer``,
  ``Cross-Origin-Resource-Policy: same-origin`` (another site's page cannot embed
  an answer), ``Cross-Origin-Opener-Policy: same-origin``, and
  ``Cache-Control: no-store`` unless a view set its own.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlencode

if TYPE_CHECKING:
    from flask import Request, Response

ALLOWED_METHODS = ("GET", "HEAD")
LOOPBACK_HOST_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
TOKEN_COOKIE = "crawler_dashboard"
TOKEN_PARAMETER = "token"
#: The shortest token ``crawler serve`` accepts (characters): 16 random URL-safe
#: characters are 96 bits (``secrets.token_urlsafe(32)``, the generated one, has 43).
MIN_TOKEN_LENGTH = 16
#: ``Sec-Fetch-Site`` values refused (https://www.w3.org/TR/fetch-metadata/).
REFUSED_FETCH_SITES = frozenset({"cross-site", "same-site"})
#: The policy of every page but the report.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def is_loopback(host: str) -> bool:
    """Whether the address ``host`` (``--host``) is a loopback one: ``localhost``,
    127.0.0.0/8, ``::1``."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a ``Host`` header, without its port, lowercase (``[::1]`` kept bracketed)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header.partition("]")[0] + "]"
    return header.rpartition(":")[0] if header.count(":") == 1 else header


def loopback_host_allowed(header: str, bound: str = "127.0.0.1") -> bool:
    """Whether the ``Host`` header names localhost, 127.0.0.1, [::1] or the
    loopback address the server is ``bound`` to (``--host 127.0.0.2``)."""
    name = host_name(header)
    if name in LOOPBACK_HOST_NAMES:
        return True
    bound = bound.strip("[]").lower()
    return bool(name) and name.strip("[]") == bound


def accepted_host_names(bound: str = "127.0.0.1") -> list[str]:
    """The ``Host`` names :func:`loopback_host_allowed` accepts, for the 403 page:
    ``localhost``, ``127.0.0.1``, ``[::1]`` and the address bound to (``[]``
    around an IPv6 one), once each."""
    names = ["localhost", "127.0.0.1", "[::1]"]
    bound = bound.strip("[]").lower()
    shown = f"[{bound}]" if ":" in bound else bound
    if bound and shown not in names:
        names.append(shown)
    return names


def refused_fetch_site(value: str | None) -> bool:
    """Whether a request's ``Sec-Fetch-Site`` header (``None`` when absent) says
    another site's page started it (:data:`REFUSED_FETCH_SITES`)."""
    return value is not None and value.strip().lower() in REFUSED_FETCH_SITES


def cookie_value(token: str) -> str:
    """What the cookie holds: an HMAC-SHA256 of a fixed label under the token."""
    return hmac.new(token.encode(), b"crawler dashboard cookie", hashlib.sha256).hexdigest()


def token_given(request: Request, token: str) -> tuple[bool, bool]:
    """``(accepted, from_query)``: whether ``request`` carries ``token`` (bearer
    header, cookie or ``?token=``), and whether it came in the query string."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and _same(given.strip(), token):
        return True, False
    cookie = request.cookies.get(TOKEN_COOKIE)
    if cookie is not None and _same(cookie, cookie_value(token)):
        return True, False
    query = request.args.get(TOKEN_PARAMETER)
    if query is not None and _same(query, token):
        return True, True
    return False, False


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def url_without_token(request: Request) -> str:
    """The request's path and query string without ``token``."""
    kept = [(k, v) for k, v in request.args.items(multi=True) if k != TOKEN_PARAMETER]
    return request.path + (f"?{urlencode(kept)}" if kept else "")


def report_policy(script_hash: str) -> str:
    """The policy of a report page: the report's one constant inline script, by
    its hash (``crawler.report.html.REPORT_SCRIPT_HASH``, a CSP source expression
    ``'sha256-...'``: a script injected into the page by crawled content would
    have another hash and not run), scripts from the dashboard
    (``/static/plotly.min.js``), inline styles (Plotly sizes its charts with
    ``style`` attributes) and ``data:``/``blob:`` images (its toolbar's PNG export)."""
    return (
        f"default-src 'none'; script-src 'self' {script_hash}; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def add_headers(response: Response) -> Response:
    """The security headers (module docstring) on ``response``."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response
