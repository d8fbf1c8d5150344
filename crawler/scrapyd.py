"""A client for Scrapyd's JSON API: schedule a crawl, follow it, cancel it.

``ScrapydClient("http://127.0.0.1:6800")`` speaks to a Scrapyd 1.6 server
(https://scrapyd.readthedocs.io/en/stable/api.html) where the project was
deployed with ``scrapyd-deploy`` (README, "Deploying to Scrapyd"):

* :meth:`~ScrapydClient.schedule` -> the job id (``schedule.json``: spider
  arguments as ``-a``, settings as ``-s``);
* :meth:`~ScrapydClient.status` -> ``"pending" | "running" | "finished" |
  "unknown"`` (``status.json``; Scrapyd forgets finished jobs beyond its
  ``finished_to_keep`` and all of them when it restarts: ``"unknown"``);
* :meth:`~ScrapydClient.cancel` (``cancel.json``): a pending job is dropped; a
  running crawl gets SIGINT and stops as after Ctrl-C, gracefully, waiting for
  the downloads in flight; a second cancel forces it, as a second Ctrl-C does;
* :meth:`~ScrapydClient.log_url`: where Scrapyd serves the job's log;
  :meth:`~ScrapydClient.finish_reason`: Scrapy's finish reason, read from it;
  :meth:`~ScrapydClient.verdict`: the crawl's verdict (status and reason
  codes) from its ``Crawl outcome:`` line, and the finish reason.

Scrapyd tells nothing of how a crawl ended beyond "finished" (not its exit
code): the verdict line in the log (or, for an older crawl, its finish
reason: a dead host's crawl closes ``finished``), or the crawl's outcome
file when the crawl writes one where the caller can read it, says whether it
succeeded.

Basic authentication, when Scrapyd has a ``username`` and ``password``: the
``auth`` argument, else the URL's user information
(``http://user:pw@host:6800``), else the environment variables Scrapyd itself
reads, ``SCRAPYD_USERNAME`` and ``SCRAPYD_PASSWORD``.  Every error is a
:class:`~crawler.exceptions.ScrapydError` whose message is one line naming the
server (without credentials) and the endpoint; the password is never in it.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests

from crawler.exceptions import ScrapydError
from crawler.outcome import Verdict
from crawler.redaction import REDACTED, redact_text

if TYPE_CHECKING:
    from collections.abc import Mapping

JobState = Literal["pending", "running", "finished", "unknown"]

USERNAME_ENV = "SCRAPYD_USERNAME"
PASSWORD_ENV = "SCRAPYD_PASSWORD"
# schedule.json's own parameters: a spider argument of one of these names would
# be taken as the parameter (and _job is the argument Scrapyd adds itself).
RESERVED_ARGUMENTS = frozenset(
    {"project", "spider", "setting", "jobid", "priority", "_version", "_job"}
)
_STATES: frozenset[str] = frozenset({"pending", "running", "finished"})
_MAX_MESSAGE = 300  # characters of a server's error message kept
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")
_LOG_TAIL = 64 * 1024  # bytes of a log read for its last "Spider closed" line
_SPIDER_CLOSED = re.compile(r"\[scrapy\.core\.engine\] INFO: Spider closed \((\w+)\)")


class ScrapydClient:
    """One Scrapyd server, by its base URL (``http://host:6800``, ``https://...``).

    ``auth``: ``(username, password)`` for basic authentication, or None (the
    URL's user information, else ``SCRAPYD_USERNAME`` / ``SCRAPYD_PASSWORD``
    from the environment, else none).  ``timeout``: seconds each request may
    take.  Raises :class:`~crawler.exceptions.ScrapydError` for a URL that is
    not ``http(s)://host...``.
    """

    def __init__(
        self, url: str, auth: tuple[str, str] | None = None, *, timeout: float = 30.0
    ) -> None:
        parts = urlsplit(url.strip())
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise ScrapydError(
                f"Scrapyd URL {redact_text(url)!r} is not http(s)://host[:port][/path]"
            )
        netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        if port is not None:
            netloc = f"{netloc}:{port}"
        #: The base URL, without credentials (safe to log).
        self.url = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        if auth is None and parts.username is not None:
            auth = (unquote(parts.username), unquote(parts.password or ""))
        if auth is None and (os.environ.get(USERNAME_ENV) or os.environ.get(PASSWORD_ENV)):
            auth = (os.environ.get(USERNAME_ENV, ""), os.environ.get(PASSWORD_ENV, ""))
        self._auth = auth
        self.timeout = timeout
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"ScrapydClient({self.url!r}, auth={'***' if self._auth else None})"

    def close(self) -> None:
        """Close the connections kept open to the server."""
        self._session.close()

    def schedule(
        self,
        project: str,
        spider: str,
        args: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        *,
        version: str | None = None,
        job_id: str | None = None,
        priority: float | None = None,
    ) -> str:
        """Queue a crawl of ``spider`` of the deployed ``project``; the job id.

        ``args`` become spider arguments (``-a NAME=VALUE``), ``settings``
        settings (``-s NAME=VALUE``; lists and dicts as JSON, as ``-s`` takes
        them).  ``version``: the deployed version (default: the latest);
        ``job_id``: the id to give the job (default: Scrapyd makes one).
        An argument named like a ``schedule.json`` parameter
        (:data:`RESERVED_ARGUMENTS`) raises :class:`ScrapydError`.
        """
        data: list[tuple[str, str]] = [("project", project), ("spider", spider)]
        for name, value in (args or {}).items():
            if name in RESERVED_ARGUMENTS:
                raise ScrapydError(
                    f"spider argument {name!r} cannot be given through Scrapyd: "
                    f"schedule.json takes it as its own parameter"
                )
            data.append((name, _text(value)))
        for name, value in (settings or {}).items():
            if "=" in name or not name:
                raise ScrapydError(f"setting name {name!r} is not a setting name")
            data.append(("setting", f"{name}={_text(value)}"))
        if version is not None:
            data.append(("_version", version))
        if job_id is not None:
            data.append(("jobid", job_id))
        if priority is not None:
            data.append(("priority", repr(float(priority))))
        answer = self._call("POST", "schedule.json", data=data)
        return str(answer["jobid"])

    def status(self, project: str, job_id: str) -> JobState:
        """``"pending"``, ``"running"``, ``"finished"`` (however the crawl ended),
        or ``"unknown"`` (no such job, or one Scrapyd no longer remembers)."""
        answer = self._call("GET", "status.json", params={"project": project, "job": job_id})
        state = answer.get("currstate")
        return state if state in _STATES else "unknown"

    def cancel(self, project: str, job_id: str, *, signal: str | None = None) -> JobState:
        """Cancel a job; its state before: ``"pending"`` (it is dropped from the
        queue), ``"running"`` (its process got ``signal``, Scrapyd's default
        ``INT``: Scrapy stops gracefully, and a second cancel forces it) or
        ``"unknown"`` (nothing to cancel: finished, or no such job)."""
        data = [("project", project), ("job", job_id)]
        if signal is not None:
            data.append(("signal", signal))
        answer = self._call("POST", "cancel.json", data=data)
        state = answer.get("prevstate")
        return state if state in _STATES else "unknown"

    def spiders(self, project: str, *, version: str | None = None) -> list[str]:
        """The spiders of the deployed ``project`` (``listspiders.json``)."""
        params = {"project": project}
        if version is not None:
            params["_version"] = version
        return [
            str(name) for name in self._call("GET", "listspiders.json", params=params)["spiders"]
        ]

    def log_url(self, project: str, spider: str, job_id: str) -> str:
        """The URL of the job's log as Scrapyd serves it (``/logs/PROJECT/SPIDER/JOB.log``,
        while its ``logs_dir`` keeps it); without credentials."""
        path = "/".join(quote(part, safe="") for part in (project, spider, f"{job_id}.log"))
        return f"{self.url}/logs/{path}"

    def finish_reason(self, project: str, spider: str, job_id: str) -> str | None:
        """How a finished crawl ended, from its log: the reason of Scrapy's
        ``Spider closed (REASON)`` line (``finished``, ``shutdown``, ...); None
        while it runs, when it died before closing, or when Scrapyd keeps no
        log of it (HTTP 404).  Reads the log's last 64 KiB only."""
        text = self._log_tail(project, spider, job_id)
        found = _SPIDER_CLOSED.findall(text) if text is not None else []
        return found[-1] if found else None

    def verdict(self, project: str, spider: str, job_id: str) -> tuple[Verdict | None, str | None]:
        """``(verdict, finish reason)`` of a finished crawl, from the end of its log:
        the crawl's own verdict (its ``Crawl outcome: failed (CODES): MESSAGE``
        line, :meth:`crawler.outcome.Verdict.log_line`: a dead host's crawl is
        ``failed`` though it closed ``finished``) and Scrapy's finish reason.
        Either is None when the log lacks it: a crawl that died, one deployed
        before the verdict line (judge it by its finish reason), or no log."""
        text = self._log_tail(project, spider, job_id)
        if text is None:
            return None, None
        found = _SPIDER_CLOSED.findall(text)
        return Verdict.parse_log_line(text), found[-1] if found else None

    def _log_tail(self, project: str, spider: str, job_id: str) -> str | None:
        """The last 64 KiB of the job's log; None when Scrapyd keeps none (HTTP 404)."""
        url = self.log_url(project, spider, job_id)
        head = self._request("HEAD", url, "log")
        if head.status_code == 404:
            return None
        size = int(head.headers.get("Content-Length") or 0)
        # an open-ended range: Twisted answers a suffix range (bytes=-N) longer
        # than the file with HTTP 500
        headers = {"Range": f"bytes={size - _LOG_TAIL}-"} if size > _LOG_TAIL else {}
        response = self._request("GET", url, "log", headers=headers)
        if response.status_code not in (200, 206):
            raise ScrapydError(f"Scrapyd {self.url} log: HTTP {response.status_code}")
        return response.text

    def _request(self, method: str, url: str, where: str, **kwargs: Any) -> requests.Response:
        """The server's response (any status but 401); else ScrapydError."""
        where = f"Scrapyd {self.url} {where}"
        try:
            response = self._session.request(
                method, url, auth=self._auth, timeout=self.timeout, **kwargs
            )
        except requests.Timeout:
            raise ScrapydError(f"{where}: no answer within {self.timeout:g} s") from None
        except requests.ConnectionError as e:
            found = _ERRNO.search(str(e))
            reason = f" ({found.group(1).strip()})" if found else ""
            raise ScrapydError(f"{where}: cannot connect{reason}") from None
        except requests.RequestException as e:
            raise ScrapydError(f"{where}: {type(e).__name__}") from None
        if response.status_code == 401:
            if self._auth is None:
                hint = f"it needs credentials: set {USERNAME_ENV} and {PASSWORD_ENV}"
            else:
                hint = "it refused the credentials given"
            raise ScrapydError(f"{where}: HTTP 401: {hint}")
        return response

    def _call(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, str] | None = None,
        data: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        """The JSON object Scrapyd answered, its ``status`` ``"ok"``; else ScrapydError."""
        response = self._request(
            method, f"{self.url}/{endpoint}", endpoint, params=params, data=data
        )
        where = f"Scrapyd {self.url} {endpoint}"
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict) and answer.get("status") == "error":
            message = self._one_line(str(answer.get("message", "")))
            raise ScrapydError(f"{where}: {message}")
        if response.status_code != 200:
            raise ScrapydError(f"{where}: HTTP {response.status_code}")
        if not isinstance(answer, dict) or answer.get("status") != "ok":
            kind = response.headers.get("Content-Type", "no content type")
            raise ScrapydError(f"{where}: not a Scrapyd JSON answer ({kind})")
        return answer

    def _one_line(self, message: str) -> str:
        """A server's error message as one line without secrets: a traceback's
        last line (a runner's failure: the project's code failed in Scrapyd's
        environment, most often a dependency missing there)."""
        lines = [line.strip() for line in message.splitlines() if line.strip()]
        if not lines:
            return "error without a message"
        text = lines[-1]
        if len(lines) > 1 and lines[0].startswith("RunnerError"):
            text = f"the project failed to load in Scrapyd's environment: {text}"
        text = redact_text(text)
        if self._auth and self._auth[1]:
            text = text.replace(self._auth[1], REDACTED)
        return text if len(text) <= _MAX_MESSAGE else f"{text[: _MAX_MESSAGE - 3]}..."


def _text(value: Any) -> str:
    """A spider argument's or setting's value as Scrapy's ``-a`` / ``-s`` take it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value)
    return str(value)
