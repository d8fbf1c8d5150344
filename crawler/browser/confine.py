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
* **Not as root.**  A crawl running as root starts chromedriver and Chromium
  as a uid of their own (:func:`browser_user`: one per crawl process, from
  the range systemd.io/UIDS-GIDS lists as unused, 65536-524287, with no
  passwd or group entry and no process), so a renderer exploit gets no root
  and Chromium's own sandbox works again (measured: renderers in user, pid and
  network namespaces with seccomp-bpf, no ``--no-sandbox``).  ``setpriv``
  drops the uid first and arms the death signal after it (the kernel clears
  it on a uid change).  A process of that uid cannot leave chromedriver's
  namespace, so with isolation Chromium is started by a *starter* (a small
  Python program, :data:`STARTER`, run as that uid in the crawl's namespace
  from the launcher thread): the browser wrapper chromedriver runs hands it
  its standard and DevTools-pipe descriptors over a Unix socket (``SCM_RIGHTS``)
  and waits for Chromium's exit status; either side's death kills Chromium.
  Not root: the browsers run as the crawl's user, as before.
* **Nothing to read.**  The session's dir is root's (mode 0711: no listing);
  HOME, TMPDIR and profile in it are the browser uid's, mode 0700.  Without a
  browser uid they are the crawl user's, mode 0700 (:func:`tempfile.mkdtemp`).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import grp
import os
import pwd
import queue
import random
import shlex
import shutil
import socket
import subprocess
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import urllib3
from selenium.webdriver import Chrome
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection
from selenium.webdriver.common import utils
from selenium.webdriver.common.webdriver import LocalWebDriver
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

from crawler.childenv import child_environment

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from selenium.webdriver import ChromeOptions

#: Exit status of a wrapper whose parent died before the death signal was armed.
ORPHANED_EXIT = 70

_CLONE_NEWNET = 0x40000000  # <sched.h>
_TOOLS = ("setpriv", "unshare", "nsenter", "ip")
#: Browser uids are drawn from here: "unused" in systemd.io/UIDS-GIDS (above
#: the 16-bit range, below the container ranges from 524288).
BROWSER_UID_RANGE = range(65536, 524288)


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
            env=child_environment(),  # a child of the crawl: no secrets
        )
    except (OSError, subprocess.SubprocessError) as e:
        return f"unshare --net failed: {e}"
    if probe.returncode != 0:
        error = probe.stderr.decode(errors="replace").strip().splitlines()
        return f"unshare --net failed: {error[-1] if error else probe.returncode}"
    return None


@dataclass(frozen=True)
class BrowserUser:
    """The uid/gid a root crawl's browsers run as, and a Python that uid can run."""

    uid: int
    gid: int
    python: str  # interpreter for the starter and browser wrapper scripts
    sandbox: bool  # Chromium's sandbox works for this uid: no --no-sandbox

    def setpriv(self) -> list[str]:
        """``setpriv`` options that become this user with no groups and no capabilities."""
        return [
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
        ]

    def own(self, path: str) -> None:
        """Give ``path`` to this user, mode 0700."""
        os.chown(path, self.uid, self.gid)
        os.chmod(path, 0o700)


def _mapped(ids: range, map_file: str) -> bool:
    """Whether every id of ``ids`` exists in this user namespace (``uid_map``/``gid_map``)."""
    try:
        with open(map_file) as f:
            rows = [tuple(map(int, line.split())) for line in f]
    except OSError:
        return False
    return any(start <= ids.start and ids.stop <= start + count for start, _, count in rows)


def _uid_in_use(uid: int) -> bool:
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.stat(entry.path).st_uid == uid:
                    return True
            except OSError:
                continue
    return False


def _free_id() -> int | None:
    """A number free as both uid and gid: no passwd/group entry, no process of it."""
    uids, gids = BROWSER_UID_RANGE, BROWSER_UID_RANGE
    if not (_mapped(uids, "/proc/self/uid_map") and _mapped(gids, "/proc/self/gid_map")):
        return None  # e.g. a rootless container that maps 65536 ids only
    rng = random.SystemRandom()
    for _ in range(20):
        candidate = rng.choice(BROWSER_UID_RANGE)
        try:
            pwd.getpwuid(candidate)
            continue
        except KeyError:
            pass
        try:
            grp.getgrgid(candidate)
            continue
        except KeyError:
            pass
        if not _uid_in_use(candidate):
            return candidate
    return None


def _pythons() -> list[str]:
    found = [os.path.realpath(getattr(sys, "_base_executable", sys.executable))]
    for name in ("python3",):
        path = shutil.which(name, path="/usr/bin:/bin")
        if path is not None:
            found.append(path)
    return list(dict.fromkeys(found))


def _runs_as(user_opts: list[str], command: list[str]) -> bool:
    """Whether ``command`` exits 0 run as the user.  Through ``sh``: ``setpriv`` itself
    still holds root's capabilities when it execs (it keeps them for ``--inh-caps``)."""
    setpriv = _tool("setpriv")
    assert setpriv is not None
    try:
        probe = subprocess.run(
            [setpriv, *user_opts, "--", "/bin/sh", "-c", 'exec "$@"', "probe", *command],
            capture_output=True,
            timeout=10,
            check=False,
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def sandbox_command() -> list[str] | None:
    """What Chromium's namespace sandbox needs (new user, pid and net namespaces)."""
    unshare = _tool("unshare")
    if unshare is None:
        return None
    return [unshare, "--user", "--pid", "--net", "--fork", "--", "/bin/true"]


@functools.cache
def _choose_user() -> tuple[BrowserUser | None, str | None]:
    reason = pdeathsig_unavailable()
    if reason is not None:
        return None, reason
    uid = _free_id()
    if uid is None:
        return None, f"no free uid in {BROWSER_UID_RANGE.start}-{BROWSER_UID_RANGE.stop - 1}"
    opts = BrowserUser(uid, uid, "", False).setpriv()
    python = next((p for p in _pythons() if _runs_as(opts, [p, "-I", "-S", "-c", ""])), None)
    if python is None:
        return None, f"no Python that uid {uid} can run: {', '.join(_pythons())}"
    sandbox = sandbox_command()
    works = sandbox is not None and _runs_as(opts, sandbox)
    return BrowserUser(uid, uid, python, works), None


def browser_user() -> BrowserUser | None:
    """The user a root crawl's browsers run as (one per process), or None: not root,
    or none could be found (:func:`browser_user_unavailable` says why)."""
    if os.geteuid() != 0:
        return None
    return _choose_user()[0]


def browser_user_unavailable() -> str | None:
    """Why a root crawl's browsers would run as root, or None (not root, or they do not)."""
    if os.geteuid() != 0:
        return None
    return _choose_user()[1]


@functools.cache
def own_sandbox_works() -> bool:
    """Chromium's sandbox works for the crawl's own (not root) user: measured once."""
    command = sandbox_command()
    if os.geteuid() == 0 or command is None:
        return False
    try:
        probe = subprocess.run(
            command, capture_output=True, timeout=10, check=False, env=child_environment()
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


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


#: The starter: run as the browser user in the crawl's network namespace; starts
#: the one Chromium of its session with the descriptors the browser wrapper sends.
#: argv: crawl pid, listening socket fd, setpriv, check script, Chromium.
STARTER = r"""
import fcntl, json, os, select, signal, socket, sys
crawl, listen_fd, setpriv, check, browser = sys.argv[1:6]
if os.getppid() != int(crawl):
    sys.exit(70)
listener = socket.socket(fileno=int(listen_fd))
conn, _ = listener.accept()
listener.close()
data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 8)
request = json.loads(data)
high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds]
actions = [(os.POSIX_SPAWN_DUP2, fd, target) for fd, target in zip(high, request["fds"])]
command = [setpriv, "--pdeathsig", "KILL", "--", "/bin/sh", "-c", check, "crawler-browser",
           str(os.getpid()), browser, *request["args"]]
pid = os.posix_spawn(setpriv, command, request["env"], file_actions=actions, setsid=True)
for fd in fds + high:
    os.close(fd)
pidfd = os.pidfd_open(pid)
ready, _, _ = select.select([conn, pidfd], [], [])
if pidfd not in ready:  # the wrapper died: so does Chromium
    os.killpg(pid, signal.SIGKILL)
_, status = os.waitpid(pid, 0)
try:
    conn.send(str(os.waitstatus_to_exitcode(status)).encode())
except OSError:
    pass
"""

#: The browser wrapper's half, run by chromedriver (browser user, chromedriver's
#: namespace): hand stdio and the DevTools pipe (fds 3, 4) to the starter and
#: exit with Chromium's status.  argv: the session dir, Chromium's arguments.
HANDOFF = r"""
import json, os, socket, sys
directory = os.open(sys.argv[1], os.O_PATH)
sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
sock.connect(f"/proc/self/fd/{directory}/starter.sock")
fds = []
for fd in range(5):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        pass
request = {"args": sys.argv[2:], "env": dict(os.environ), "fds": fds}
socket.send_fds(sock, [json.dumps(request).encode()], fds)
for fd in fds:
    if fd > 2:
        os.close(fd)
answer = sock.recv(64)
code = int(answer) if answer else 1
sys.exit(code if code >= 0 else 128 - code)
"""


@dataclass
class Wrappers:
    """What :func:`write_wrappers` made: executables to run instead of the real ones."""

    driver: str
    browser: str
    #: With a browser user and isolation: the starter's command and its listening
    #: socket, to be started by the :data:`LAUNCHER` before chromedriver.
    starter: list[str] | None = None
    listener: socket.socket | None = None


def _check(parent: str) -> str:
    return f'[ "$PPID" = "{parent}" ] || exit {ORPHANED_EXIT}; exec "$@"'


def _write(directory: str, name: str, text: str, mode: int) -> str:
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)  # not narrowed by the umask
    return path


def _starter_socket(directory: str, user: BrowserUser) -> socket.socket:
    """``directory/starter.sock``, listening, the browser user's (mode 0600).

    Bound through ``/proc/self/fd``: a Unix socket path has at most 107 bytes.
    """
    fd = os.open(directory, os.O_PATH | os.O_CLOEXEC)
    try:
        path = f"/proc/self/fd/{fd}/starter.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        listener.bind(path)
        os.chown(path, user.uid, user.gid)
        os.chmod(path, 0o600)
        listener.listen(1)
    finally:
        os.close(fd)
    return listener


def write_wrappers(
    directory: str, driver: str, browser: str, isolate: bool, user: BrowserUser | None = None
) -> Wrappers:
    """Write the chromedriver and Chromium wrapper scripts into ``directory``.

    The wrappers take the real program's arguments.  With ``isolate``,
    chromedriver gets a private network namespace (loopback up) and Chromium
    runs in the crawl's.  With ``user``, both run as that user: chromedriver
    through ``setpriv`` (uid first, then the death signal: the kernel clears it
    on a uid change), Chromium as chromedriver's child or, isolated, through
    the starter (a process of that uid cannot enter the crawl's namespace).
    Every ``setpriv --pdeathsig`` is followed by a check that the parent is
    still the expected one (exit status :data:`ORPHANED_EXIT` otherwise).
    """
    setpriv = _tool("setpriv")
    assert setpriv is not None
    crawl = str(os.getpid())
    q = shlex.quote
    check = f'[ "$PPID" = "$1" ] || exit {ORPHANED_EXIT}; shift; exec "$@"'
    driver_cmd = ["/bin/sh", "-c", check, "crawler-driver", crawl, driver]
    as_user = [*user.setpriv(), "--pdeathsig", "KILL"] if user is not None else []
    if user is not None:
        driver_cmd = [setpriv, *as_user, "--", *driver_cmd]
    starter = listener = None
    if isolate:
        unshare, ip, nsenter = _tool("unshare"), _tool("ip"), _tool("nsenter")
        assert unshare and ip and nsenter
        enter = (
            f'[ "$PPID" = "$1" ] || exit {ORPHANED_EXIT}; '
            f'{q(ip)} link set lo up || exit 71; shift; exec "$@"'
        )
        driver_cmd = [
            *(setpriv, "--pdeathsig", "KILL", "--", unshare, "--net", "--"),
            *("/bin/sh", "-c", enter, "crawler-netns", crawl, *driver_cmd),
        ]
        if user is None:
            browser_target = f"{q(nsenter)} --net=/proc/{crawl}/ns/net -- {q(browser)}"
        else:
            handoff = _write(directory, "handoff.py", HANDOFF, 0o644)
            browser_target = shlex.join([user.python, "-I", "-S", handoff, directory])
            listener = _starter_socket(directory, user)
            starter_py = _write(directory, "starter.py", STARTER, 0o644)
            starter = [setpriv, *as_user, "--", user.python, "-I", "-S", starter_py, crawl]
            starter += [str(listener.fileno()), setpriv, check, browser]
    else:
        if user is None:
            driver_cmd = [setpriv, "--pdeathsig", "KILL", "--", *driver_cmd]
        browser_target = q(browser)
    browser_cmd = (
        f"{q(setpriv)} --pdeathsig KILL -- "
        f'/bin/sh -c {q(check)} crawler-browser "$PPID" {browser_target}'
    )
    driver_text = f'#!/bin/sh\nexec {shlex.join(driver_cmd)} "$@"\n'
    driver_path = _write(directory, "driver-wrapper", driver_text, 0o700)
    browser_path = _write(
        directory, "browser-wrapper", f'#!/bin/sh\nexec {browser_cmd} "$@"\n', 0o755
    )
    return Wrappers(driver_path, browser_path, starter, listener)


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
