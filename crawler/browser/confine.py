"""A local Chromium and its chromedriver: bound to the crawl's life and out of others' reach.

Linux mechanisms, each checked by ``tests/browser/test_browser_confine.py``:

* **They die with the crawl** (SIGKILL included).  chromedriver runs under
  ``setpriv --pdeathsig KILL``: the kernel kills it when the thread that started
  it ends (``prctl(2)`` ``PR_SET_PDEATHSIG``), and that thread is the
  :class:`Launcher`'s, which lives as long as the crawl process.  Chromium is
  started by chromedriver through a wrapper executable (``browser-wrapper`` in
  the session's private dir) that does the same against chromedriver; its
  renderer, GPU and zygote processes exit when it does.  Each wrapper checks,
  once the signal is armed, that its parent is still the expected process
  (exit status 70 otherwise), so there is no window where a parent dies unseen.
* **Nobody else can drive them.**  chromedriver runs in a network namespace
  of its own (``unshare --net``, loopback only): its HTTP port exists in no
  namespace another local user or a web page can reach.  The crawl connects to
  it by switching the connecting thread into that namespace for the
  ``connect()`` only (``setns(2)``; a socket stays in the namespace it was
  created in).  Chromium goes back to the crawl's namespace (``nsenter --net``)
  before it starts, so pages load as before, and talks to chromedriver over a
  pipe (``--remote-debugging-pipe``), so it opens no DevTools port either.
  This needs root (``CAP_SYS_ADMIN``) and ``unshare``, ``nsenter`` (util-linux)
  and ``ip`` (iproute2); without them (:func:`isolation_unavailable` says
  why) chromedriver listens on loopback as usual and a warning says so.
* **Nothing to read.**  The session's HOME, TMPDIR and profile are in a
  directory created mode 0700 (:func:`tempfile.mkdtemp`) by the crawl's user.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import queue
import shlex
import shutil
import subprocess
import sys
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import urllib3
from selenium.webdriver import Chrome
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection
from selenium.webdriver.common import utils
from selenium.webdriver.common.webdriver import LocalWebDriver
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from selenium.webdriver import ChromeOptions

#: Exit status of a wrapper whose parent died before the death signal was armed.
ORPHANED_EXIT = 70

_CLONE_NEWNET = 0x40000000  # <sched.h>
_TOOLS = ("setpriv", "unshare", "nsenter", "ip")


def _tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")


def pdeathsig_unavailable() -> str | None:
    """Why browsers cannot be tied to the crawl's life here, or None when they can."""
    if not sys.platform.startswith("linux"):
        return f"parent-death signals are Linux only (this is {sys.platform})"
    if _tool("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    return None


def isolation_unavailable() -> str | None:
    """Why chromedriver cannot get a network namespace of its own, or None when it can."""
    reason = pdeathsig_unavailable()
    if reason is not None:
        return reason
    if os.geteuid() != 0:
        return "a private network namespace for chromedriver needs root"
    return _probe_isolation()


@functools.cache
def _probe_isolation() -> str | None:
    """Try it once per process: containers may deny namespaces even to root."""
    tools = {name: _tool(name) for name in _TOOLS}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        return f"{', '.join(missing)} not installed (util-linux, iproute2)"
    try:
        probe = subprocess.run(
            [tools["unshare"], "--net", "--", tools["ip"], "link", "set", "lo", "up"],  # type: ignore[list-item]
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as e:
        return f"unshare --net failed: {e}"
    if probe.returncode != 0:
        error = probe.stderr.decode(errors="replace").strip().splitlines()
        return f"unshare --net failed: {error[-1] if error else probe.returncode}"
    return None


class Launcher:
    """One thread, alive as long as the process, that starts every driver process.

    ``PR_SET_PDEATHSIG`` fires when the *thread* that forked the child ends, not
    the process: a pool worker thread may come and go, this one does not.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def run(self, fn: Callable[[], Any]) -> Any:
        """Call ``fn()`` in the launcher thread; return its result or raise its error."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._serve, name="browser-launcher", daemon=True
                )
                self._thread.start()
        future: Future[Any] = Future()
        self._queue.put((fn, future))
        return future.result()

    def _serve(self) -> None:
        while True:
            fn, future = self._queue.get()
            try:
                future.set_result(fn())
            except BaseException as e:
                future.set_exception(e)


LAUNCHER = Launcher()


def _netns_id(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


class NetnsLink:
    """The network namespace chromedriver runs in, entered by one thread at a time."""

    def __init__(self) -> None:
        self.fd: int | None = None
        self._libc = ctypes.CDLL(None, use_errno=True)

    def attach(self, pid: int) -> bool:
        """Hold ``pid``'s namespace once it has left ours; False while it has not yet."""
        if self.fd is not None:
            return True
        path = f"/proc/{pid}/ns/net"
        try:
            if _netns_id(path) == _netns_id("/proc/thread-self/ns/net"):
                return False  # the wrapper has not unshared yet
            self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return False
        return True

    def _setns(self, fd: int) -> None:
        if self._libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns: {os.strerror(err)}")

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Run the block with the calling thread in chromedriver's namespace."""
        if self.fd is None:
            raise ConnectionRefusedError("chromedriver's network namespace is not known yet")
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            self._setns(self.fd)
            try:
                yield
            finally:
                self._setns(home)
        finally:
            os.close(home)

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None


def write_wrappers(directory: str, driver: str, browser: str, isolate: bool) -> tuple[str, str]:
    """Write the chromedriver and Chromium wrapper scripts into ``directory``.

    Returns ``(driver_wrapper, browser_wrapper)``, executables that take the
    real program's arguments.  With ``isolate``, chromedriver gets a private
    network namespace (loopback up) and Chromium is moved back into the crawl's.
    """
    setpriv = _tool("setpriv")
    assert setpriv is not None
    # sh -c 'check' NAME PARENT PROGRAM ARGS...: the signal is armed (setpriv)
    # before the check, so a parent gone by then is seen here or kills us later.
    check = f'[ "$PPID" = "$1" ] || exit {ORPHANED_EXIT}; shift; exec "$@"'
    crawl = os.getpid()
    if isolate:
        unshare, ip, nsenter = _tool("unshare"), _tool("ip"), _tool("nsenter")
        assert unshare and ip and nsenter
        driver_check = (
            f'[ "$PPID" = "$1" ] || exit {ORPHANED_EXIT}; '
            f'{shlex.quote(ip)} link set lo up || exit 71; shift; exec "$@"'
        )
        driver_cmd = (
            f"{shlex.quote(setpriv)} --pdeathsig KILL -- {shlex.quote(unshare)} --net -- "
            f"/bin/sh -c {shlex.quote(driver_check)} crawler-driver {crawl} {shlex.quote(driver)}"
        )
        browser_target = (
            f"{shlex.quote(nsenter)} --net=/proc/{crawl}/ns/net -- {shlex.quote(browser)}"
        )
    else:
        driver_cmd = (
            f"{shlex.quote(setpriv)} --pdeathsig KILL -- "
            f"/bin/sh -c {shlex.quote(check)} crawler-driver {crawl} {shlex.quote(driver)}"
        )
        browser_target = shlex.quote(browser)
    browser_cmd = (
        f"{shlex.quote(setpriv)} --pdeathsig KILL -- "
        f'/bin/sh -c {shlex.quote(check)} crawler-browser "$PPID" {browser_target}'
    )
    paths = []
    for name, command in (("driver-wrapper", driver_cmd), ("browser-wrapper", browser_cmd)):
        path = os.path.join(directory, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
        with os.fdopen(fd, "w") as f:
            f.write(f'#!/bin/sh\nexec {command} "$@"\n')
        paths.append(path)
    return paths[0], paths[1]


class ConfinedChromeService(ChromeService):
    """chromedriver started by the :data:`LAUNCHER` thread, reached through ``link``."""

    def __init__(self, *args: Any, link: NetnsLink | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.link = link

    def _start_process(self, path: str) -> None:
        LAUNCHER.run(lambda: ChromeService._start_process(self, path))

    def is_connectable(self) -> bool:
        if self.link is None:
            return super().is_connectable()
        if not self.link.attach(self.process.pid):
            return False
        with self.link.entered():
            return utils.is_url_connectable(self.port)

    def send_remote_shutdown_command(self) -> None:
        if self.link is None:
            super().send_remote_shutdown_command()
            return
        if self.link.fd is None:
            return  # never the same port number in our namespace: someone else's
        with self.link.entered():
            super().send_remote_shutdown_command()


def _pool_manager(link: NetnsLink, **kwargs: Any) -> urllib3.PoolManager:
    class Connection(HTTPConnection):
        def _new_conn(self) -> Any:
            with link.entered():
                return super()._new_conn()

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    manager = urllib3.PoolManager(**kwargs)
    manager.pool_classes_by_scheme = {"http": Pool}  # type: ignore[assignment]
    return manager


class NetnsRemoteConnection(ChromiumRemoteConnection):
    """Selenium's Chromium connection with its sockets made in ``link``'s namespace."""

    def __init__(self, link: NetnsLink, *args: Any, **kwargs: Any) -> None:
        self._link = link
        super().__init__(*args, **kwargs)

    def _get_connection_manager(self) -> urllib3.PoolManager:
        return _pool_manager(self._link, timeout=self._client_config.timeout)


class IsolatedChrome(Chrome):
    """``webdriver.Chrome`` whose chromedriver lives in another network namespace."""

    def __init__(self, options: ChromeOptions, service: ConfinedChromeService) -> None:
        # ChromiumDriver.__init__ with our connection class (the paths are
        # explicit: no DriverFinder, Selenium Manager is never asked).
        assert service.link is not None
        self.service = service
        self.options = options
        service.start()
        executor = NetnsRemoteConnection(
            service.link,
            remote_server_addr=service.service_url,
            browser_name="chrome",
            vendor_prefix="goog",
            keep_alive=True,
            ignore_proxy=options._ignore_local_proxy,
        )
        try:
            LocalWebDriver.__init__(self, command_executor=executor, options=options)
        except Exception:
            self.quit()
            raise
