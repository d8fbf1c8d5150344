"""Start one WebDriver: local Chromium, local Firefox, or a remote WebDriver URL.

Local drivers run in their own process session (``start_new_session``) with a
private HOME and TMPDIR, so everything the browser writes outside its profile
lands in one directory that :meth:`DriverHandle.close` removes, and the whole
process group can be killed when the driver does not answer any more.
Selenium Manager is never consulted: executables are explicit and
``SE_OFFLINE=true`` is in the driver's environment, which is the crawl's
without its secrets (:func:`crawler.childenv.child_environment`).  A local
Chromium and its chromedriver also die with the crawl and are out of other
users' reach (:mod:`crawler.browser.confine`).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import logging
import math
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.firefox.service import Service as FirefoxService
from selenium.webdriver.remote.client_config import ClientConfig
from urllib3.util import Retry

from crawler.browser.confine import (
    LAUNCHER,
    BrowserUser,
    ConfinedChromeService,
    IsolatedChrome,
    NetnsLink,
    Wrappers,
    browser_user,
    browser_user_unavailable,
    isolation_unavailable,
    own_sandbox_works,
    pdeathsig_unavailable,
    write_wrappers,
)
from crawler.browser.dialogs import PROMPT_BEHAVIOR
from crawler.browser.privatedirs import SHORT_TMP_PREFIX, PrivateDir, make, sweep
from crawler.childenv import child_environment

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

    from crawler.browser.config import BrowserConfig

logger = logging.getLogger(__name__)

#: Only where Chromium's sandbox cannot work (as root; no user namespaces).
NO_SANDBOX = "--no-sandbox"
# Flags a container needs, and the ones that stop Chromium from talking to
# Google on its own.
CHROMIUM_FLAGS = (
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--password-store=basic",
)
# Chromium's own DNS client queries the nameservers directly and, where they do
# not answer (sandboxes, offline machines), stalls first navigations for
# seconds on its background lookups; the system resolver fails fast.
CHROMIUM_DISABLED_FEATURES = ("AsyncDns",)
_DISABLE_FEATURES = "--disable-features="


def chromium_arguments(config: BrowserConfig) -> list[str]:
    """Extra arguments: the user's, with our disabled features merged into theirs.

    Chromium honours only the last ``--disable-features``, so the lists are joined.
    """
    features = list(CHROMIUM_DISABLED_FEATURES)
    arguments = []
    for argument in config.arguments:
        if argument.startswith(_DISABLE_FEATURES):
            features += [f for f in argument[len(_DISABLE_FEATURES) :].split(",") if f]
        else:
            arguments.append(argument)
    arguments.append(_DISABLE_FEATURES + ",".join(dict.fromkeys(features)))
    if config.allowed_hosts:
        excluded = "".join(f" , EXCLUDE {host}" for host in config.allowed_hosts)
        arguments.append(f"--host-resolver-rules=MAP * ~NOTFOUND{excluded}")
    return arguments


@dataclass
class DriverHandle:
    """A started driver and what is needed to get rid of it for sure."""

    driver: WebDriver
    cdp: bool  # Chromium DevTools commands and the performance log are available
    dirs: list[PrivateDir] = field(default_factory=list)  # the session dir first
    driver_pid: int | None = None  # chromedriver / geckodriver (leader of its process group)
    browser_pid: int | None = None
    netns: NetnsLink | None = None  # chromedriver's private network namespace
    starter: subprocess.Popen[bytes] | None = None  # starts Chromium (crawler.browser.confine)
    remote: bool = False  # a session on a remote node (SELENIUM_REMOTE_URL): nothing local
    closed: bool = field(default=False, init=False)

    @property
    def temp_dirs(self) -> list[str]:
        """Paths of the private dirs: the session dir (HOME, TMPDIR, profile) first."""
        return [d.path for d in self.dirs]

    def set_remote_timeout(self, seconds: float) -> None:
        """Seconds each later command to a remote node may wait for the node's answer
        (Selenium's ``ClientConfig.timeout``, read at every request; rounded up to
        whole seconds, its type).  No-op for a local driver."""
        if self.remote:
            self.driver.command_executor.client_config.timeout = math.ceil(seconds)

    def abandon(self) -> None:
        """Forget a remote session whose node is gone: no quit (it would wait on a
        dead machine), nothing local to kill; the client's idle connections to the
        node are closed (no network I/O).  Never raises."""
        self.closed = True
        with contextlib.suppress(Exception):
            self.driver.command_executor.close()

    def close(self) -> None:
        """Quit the driver; kill whatever survived; remove the temp dirs.  Never raises.

        A remote session's delete waits at most :data:`REMOTE_QUIT_TIMEOUT` for the
        node: one that froze is not waited on for a command's whole timeout."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            self.set_remote_timeout(REMOTE_QUIT_TIMEOUT)
            self.driver.quit()
        victims: list[int] = []
        for pid in (self.browser_pid, self.driver_pid):
            if pid is not None:
                victims += kill_tree(pid)
        if self.driver_pid is not None:
            with contextlib.suppress(OSError):
                os.killpg(self.driver_pid, signal.SIGKILL)
            reap(self.driver_pid)
        if self.temp_dirs:
            # Chromium's crash handlers daemonise (their own session, parent
            # init), out of reach of the tree and the group: they are found by
            # the private HOME every process of this driver has.
            victims += kill_by_home(os.path.join(self.temp_dirs[0], "home"))
        _wait_gone(victims, KILL_WAIT)
        if self.netns is not None:
            self.netns.close()
        _stop_service(self.starter)
        for directory in self.dirs:
            directory.remove()


#: Seconds :meth:`DriverHandle.close` waits for killed processes to be gone.
KILL_WAIT = 5.0


def _stat_fields(pid: int | str) -> list[bytes] | None:
    """``state, ppid, pgrp, ...`` of ``/proc/PID/stat``, or None for a gone process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
    return stat[stat.rindex(b")") + 2 :].split()


def _processes_where(index: int, value: int) -> list[int]:
    found: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry.name)
        if fields is not None and int(fields[index]) == value:
            found.append(int(entry.name))
    return found


def _children(pid: int) -> list[int]:
    return _processes_where(1, pid)


def kill_by_home(home: str) -> list[int]:
    """SIGKILL every process of ours whose ``HOME`` is ``home``; returns their pids."""
    mark = f"HOME={home}".encode()
    found: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue  # gone, or another user's
        if mark in environ:
            found.append(int(entry.name))
            with contextlib.suppress(OSError):
                os.kill(int(entry.name), signal.SIGKILL)
    return found


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and all its descendants (children first collected, then killed).

    Returns the pids signalled.
    """
    pids = [pid]
    index = 0
    while index < len(pids):
        pids.extend(_children(pids[index]))
        index += 1
    for victim in pids:
        with contextlib.suppress(OSError):
            os.kill(victim, signal.SIGKILL)
    return pids


def _wait_gone(pids: list[int], timeout: float) -> None:
    """Wait until none of ``pids`` runs (gone or a zombie), at most ``timeout`` seconds.

    SIGKILL is delivered asynchronously: a process can still be listed just
    after the call.
    """
    deadline = time.monotonic() + timeout
    pending = set(pids)
    while pending and time.monotonic() < deadline:
        pending = {pid for pid in pending if (f := _stat_fields(pid)) is not None and f[0] != b"Z"}
        if pending:
            time.sleep(0.01)


def reap(pid: int) -> None:
    """Collect the exit status of a child process of ours so no zombie stays."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, 0)


# Chromium puts its singleton socket under TMPDIR; a Unix socket path has at
# most 107 bytes, so a deep TMPDIR makes the browser exit at start.
_MAX_TMPDIR = 48


def _private_env(dirs: list[PrivateDir], user: BrowserUser | None = None) -> dict[str, str]:
    """The driver's environment; HOME, TMPDIR (and the profile dir) made in the
    session dir ``dirs[0]``, ``user``'s.  A TMPDIR too long for Chromium is made
    in the system temp dir instead and appended to ``dirs``."""
    session = dirs[0].path
    home = os.path.join(session, "home")
    os.makedirs(home)
    tmp = os.path.join(session, "tmp")
    if len(tmp) > _MAX_TMPDIR:
        short = make(None, SHORT_TMP_PREFIX)
        dirs.append(short)
        tmp = short.path
    else:
        os.makedirs(tmp)
    profile = os.path.join(session, "profile")
    os.makedirs(profile, mode=0o700)
    if user is not None:
        os.chmod(session, 0o711)  # root's: the user may pass, not list or write
        for path in (home, tmp, profile):
            user.own(path)
    env = child_environment()
    env.update(HOME=home, TMPDIR=tmp, SE_OFFLINE="true")
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"):
        env.pop(name, None)
    return env


def chromium_options(
    config: BrowserConfig,
    profile_dir: str | None,
    binary: str | None = None,
    sandbox: bool = False,
) -> webdriver.ChromeOptions:
    """Chromium's options; ``sandbox``: Chromium's sandbox works (no ``--no-sandbox``)."""
    options = webdriver.ChromeOptions()
    if binary is not None:
        options.binary_location = binary
    if config.headless:
        options.add_argument("--headless=new")
    if not sandbox:
        options.add_argument(NO_SANDBOX)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    if profile_dir is not None:
        options.add_argument(f"--user-data-dir={profile_dir}")
    width, height = config.window_size
    options.add_argument(f"--window-size={width},{height}")
    if config.user_agent:
        options.add_argument(f"--user-agent={config.user_agent}")
    for argument in chromium_arguments(config):
        options.add_argument(argument)
    # Dialogs a page script could not answer are answered by the driver, per
    # type (crawler.browser.dialogs), instead of failing the next command.
    options.set_capability("unhandledPromptBehavior", PROMPT_BEHAVIOR)
    if not config.is_remote:
        # Network events (the main document, requests in flight) and Page events
        # (downloads, dialogs, windows opened) of each render.
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        options.add_experimental_option(
            "perfLoggingPrefs", {"enableNetwork": True, "enablePage": True}
        )
    return options


def firefox_options(config: BrowserConfig, binary: str | None = None) -> webdriver.FirefoxOptions:
    options = webdriver.FirefoxOptions()
    if binary is not None:
        options.binary_location = binary
    if config.headless:
        options.add_argument("-headless")
    width, height = config.window_size
    options.add_argument(f"--width={width}")
    options.add_argument(f"--height={height}")
    if config.user_agent:
        options.set_preference("general.useragent.override", config.user_agent)
    if "image" in config.block_resources:
        options.set_preference("permissions.default.image", 2)
    options.set_preference("datareporting.policy.dataSubmissionEnabled", False)
    options.set_preference("app.update.enabled", False)
    for argument in config.arguments:
        options.add_argument(argument)
    return options


def create_driver(config: BrowserConfig, remote_url: str | None = None) -> DriverHandle:
    """Start a browser as configured; on failure nothing is left running.

    With remote nodes (``SELENIUM_REMOTE_URL``) a session is created on
    ``remote_url`` (the pool's choice; default: the first node).  A local
    browser's executables are looked up now
    (:meth:`~crawler.browser.config.BrowserConfig.local_executables`, which raises
    :class:`~crawler.exceptions.BrowserNotFoundError`).
    """
    if config.is_remote:
        url = remote_url or config.remote_url
        assert url is not None
        remote_options = (
            chromium_options(config, None)
            if config.browser == "chromium"
            else firefox_options(config)
        )
        driver = webdriver.Remote(
            command_executor=_without_userinfo(url),
            options=remote_options,
            client_config=_client_config(
                url, remote_timeout(config.page_load_timeout, config.remote_margin)
            ),
        )
        return DriverHandle(driver=driver, cdp=False, remote=True)

    browser_path, driver_path = config.local_executables()
    user = browser_user() if config.browser == "chromium" else None
    if user is not None:
        _check_reachable(config.temp_dir or tempfile.gettempdir(), user)
    _sweep_stale(config.temp_dir)
    dirs = [make(config.temp_dir)]
    temp_dir = dirs[0].path
    handle: DriverHandle | None = None
    starter: subprocess.Popen[bytes] | None = None
    try:
        chromium = config.browser == "chromium"
        env = _private_env(dirs, user)
        service: ChromeService | FirefoxService
        link: NetnsLink | None = None
        sandbox = False
        if chromium:
            link, wrappers = _confinement(temp_dir, driver_path, browser_path, user)
            sandbox = user.sandbox if user is not None else own_sandbox_works()
            if wrappers is not None:
                driver_path, browser_path = wrappers.driver, wrappers.browser
                starter = _start_starter(wrappers, env)
            service = ConfinedChromeService(
                executable_path=driver_path,
                env=env,
                log_output=subprocess.DEVNULL,
                popen_kw={"start_new_session": True},
                link=link,
            )
        else:
            service = FirefoxService(
                executable_path=driver_path,
                env=env,
                log_output=subprocess.DEVNULL,
                popen_kw={"start_new_session": True},
            )
        try:
            if chromium:
                profile = os.path.join(temp_dir, "profile")
                options = chromium_options(config, profile, browser_path, sandbox)
                # DevTools over fds 3/4 instead of a loopback port.
                options.add_argument("--remote-debugging-pipe")
                driver: WebDriver = (
                    webdriver.Chrome(service=service, options=options)
                    if link is None
                    else IsolatedChrome(options=options, service=service)  # type: ignore[arg-type]
                )
            else:
                options = firefox_options(config, browser_path)
                driver = webdriver.Firefox(service=service, options=options)
        except Exception:
            _stop_service(getattr(service, "process", None))
            if link is not None:
                link.close()
            raise
        handle = DriverHandle(
            driver=driver,
            cdp=chromium,
            dirs=dirs,
            driver_pid=service.process.pid,
            netns=link,
            starter=starter,
            browser_pid=_browser_pid(driver, chromium, starter),
        )
        if chromium:
            driver.execute_cdp_cmd("Network.enable", {})
        return handle
    except BaseException:
        if handle is not None:
            handle.close()
        _stop_service(starter)
        for directory in dirs:
            directory.remove()
        raise


def _sweep_stale(temp_dir: str | None) -> None:
    """Remove the private dirs of crawls that are gone (:mod:`crawler.browser.privatedirs`)
    from ``temp_dir`` and the system temp dir, killing first what still runs with
    such a HOME (browsers that could not be bound to their crawl's life)."""

    def kill(path: str) -> None:
        _wait_gone(kill_by_home(os.path.join(path, "home")), KILL_WAIT)

    for parent in dict.fromkeys((temp_dir or tempfile.gettempdir(), tempfile.gettempdir())):
        removed = sweep(parent, kill)
        if removed:
            logger.info(
                "removed %d browser dirs in %s left by crawls that are gone", len(removed), parent
            )


def _browser_pid(
    driver: WebDriver, chromium: bool, starter: subprocess.Popen[bytes] | None
) -> int | None:
    """Chromium's (Firefox's) main process: the starter's child when there is a starter
    (chromedriver's child is then the wrapper that handed Chromium its pipes)."""
    if starter is not None:
        children = _children(starter.pid)
        if len(children) == 1:
            return children[0]
    pid = driver.capabilities.get("goog:processID" if chromium else "moz:processID")
    return int(pid) if pid is not None else None


def _check_reachable(path: str, user: BrowserUser) -> None:
    """Raise :class:`PermissionError` when ``user`` cannot pass through ``path``'s dirs."""
    directory = os.path.abspath(path)
    while True:
        st = os.stat(directory)
        if st.st_uid == user.uid:
            bit = 0o100
        elif st.st_gid == user.gid:
            bit = 0o010
        else:
            bit = 0o001
        if not st.st_mode & bit:
            raise PermissionError(
                f"the browsers run as uid {user.uid} and cannot pass through {directory} "
                f"(mode {st.st_mode & 0o7777:o}) to reach the temp dir {path}: set "
                "SELENIUM_TEMP_DIR to a dir whose parents are searchable by others (o+x)"
            )
        if directory == os.path.dirname(directory):
            return
        directory = os.path.dirname(directory)


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        logger.warning(message)


def _confinement(
    temp_dir: str, driver: str, browser: str, user: BrowserUser | None
) -> tuple[NetnsLink | None, Wrappers | None]:
    """``(link, wrappers)``: the wrappers of :mod:`crawler.browser.confine` to run instead
    of the executables (None: the executables as they are), and chromedriver's
    namespace link (None: loopback)."""
    reason = pdeathsig_unavailable()
    if reason is not None:
        _warn_once(f"browsers may outlive a crawl killed with SIGKILL: {reason}")
        return None, None
    isolation = isolation_unavailable()
    if isolation is not None:
        _warn_once(
            f"chromedriver listens on a loopback port that other local users can reach: {isolation}"
        )
    unprivileged = browser_user_unavailable()
    if unprivileged is not None:
        _warn_once(f"browsers run as root: {unprivileged}")
    wrappers = write_wrappers(temp_dir, driver, browser, isolate=isolation is None, user=user)
    return (NetnsLink() if isolation is None else None), wrappers


def _start_starter(wrappers: Wrappers, env: dict[str, str]) -> subprocess.Popen[bytes] | None:
    """Start the Chromium starter from the launcher thread (so it dies with the crawl)."""
    if wrappers.starter is None or wrappers.listener is None:
        return None
    command, listener = wrappers.starter, wrappers.listener
    try:
        return LAUNCHER.run(  # type: ignore[no-any-return]
            lambda: subprocess.Popen(
                command,
                env=env,
                cwd="/",
                pass_fds=(listener.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    finally:
        listener.close()


def _stop_service(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.returncode is not None:
        return
    kill_tree(process.pid)
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        process.wait(KILL_WAIT)


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))


#: Seconds a remote session's delete (``driver.quit()``) may wait for the node.  A
#: chromedriver quits its browser in well under a second; a Grid forwards the
#: delete to its node.  Not tied to the page-load timeout: a quit loads no page.
REMOTE_QUIT_TIMEOUT = 10.0


def remote_timeout(page_load_timeout: float, margin: float) -> float:
    """Seconds a command to a remote node may wait for its answer, for a render whose
    page-load (and script) timeout is ``page_load_timeout`` seconds: that plus
    ``margin`` (``SELENIUM_REMOTE_COMMAND_MARGIN``, seconds).  Past it the command
    fails (urllib3's ``ReadTimeoutError``) and the pool probes the node
    (:func:`node_unreachable`)."""
    return page_load_timeout + margin


def _client_config(url: str, timeout: float) -> ClientConfig:
    """Selenium's client settings for a node: credentials in the URL become Basic
    authentication (Selenium warns about them left in the URL); each command is
    tried once, for at most ``timeout`` seconds.  The pool handles a node that
    does not answer (it probes it, takes it out, renders elsewhere), where
    urllib3's three retries would only delay that and log a warning each, and
    Selenium's default (no timeout) would hold a worker for ever on a machine
    that vanished without closing its connections."""
    parts = urlsplit(url)
    once = Retry(connect=0, read=0, other=0, status=0)
    credentials: dict[str, str] = {}
    if parts.username is not None:
        credentials = {
            "username": unquote(parts.username),
            "password": unquote(parts.password or ""),
        }
    return ClientConfig(
        remote_server_addr=_without_userinfo(url),
        timeout=math.ceil(timeout),
        # Selenium reads this nested key (remote_connection._get_connection_manager).
        init_args_for_pool_manager={"init_args_for_pool_manager": {"retries": once}},
        **credentials,  # type: ignore[arg-type]
    )


#: Seconds :func:`node_unreachable` waits for a remote node's answer.
PROBE_TIMEOUT = 3.0


def _node_request(url: str, path: str, method: str = "GET") -> urllib.request.Request:
    """A request for ``path`` (under the WebDriver root) of the node at ``url``; its
    credentials go in an ``Authorization`` header, never in the request's URL."""
    parts = urlsplit(_without_userinfo(url))
    request = urllib.request.Request(
        urlunsplit(parts._replace(path=parts.path.rstrip("/") + path, query="")), method=method
    )
    parts = urlsplit(url)
    if parts.username is not None:
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(token).decode())
    return request


def _no_answer(request: urllib.request.Request, timeout: float) -> str | None:
    """Why the node did not answer ``request`` within ``timeout`` seconds, or None
    when it answered with any HTTP status."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read(65536)
    except urllib.error.HTTPError:
        return None  # it answered
    except (OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", None)  # URLError wraps the socket error
        error = reason if isinstance(reason, BaseException) else e
        return f"{type(error).__name__}: {error}"
    return None


def node_unreachable(url: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """Why the WebDriver node at ``url`` does not answer (``ConnectionRefusedError``,
    a timeout...), or None when it answers ``GET /status`` with any HTTP status
    (a Grid with no free slot, or one that wants credentials, is still there).

    The W3C WebDriver ``/status`` endpoint, which chromedriver and Selenium
    servers and Grids serve.  Credentials in ``url`` go in an ``Authorization``
    header, never in the returned text.
    """
    return _no_answer(_node_request(url, "/status"), timeout)


def delete_session(url: str, session_id: str, timeout: float = REMOTE_QUIT_TIMEOUT) -> str | None:
    """Ask the node at ``url`` to end the WebDriver session ``session_id`` (W3C
    WebDriver "Delete Session", ``DELETE /session/{session id}``: the node quits
    its browser).  For a session the pool dropped without a word while its node
    did not answer.  Returns None when the node answered, with any HTTP status (an
    "invalid session id" error: the session is gone already, with a node that
    restarted), else why not (as :func:`node_unreachable`); never raises."""
    return _no_answer(
        _node_request(url, f"/session/{quote(session_id, safe='')}", "DELETE"), timeout
    )
