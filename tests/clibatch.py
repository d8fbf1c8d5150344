"""Many command lines that are refused before anything is crawled, run in one process.

A ``crawler`` or ``scrapy`` command refused by its checks (a bad setting, an
output it cannot write) never starts a crawl, so several of them can run one
after the other in one Python process: each gets the interpreter's own
treatment of ``python -m crawler.cli`` / ``python -m scrapy`` (``sys.argv``,
``sys.path[0]``, working directory, exit code from ``SystemExit``, a traceback
on stderr and exit code 1 for an uncaught exception) and its own standard
output and error, captured at the file descriptors.  One interpreter start
(~1 s of imports on a 2-core machine) is paid for the batch instead of one per
command line.

What a fresh process per command would see that a batch does not: output
printed at import time shows only in the first case's stderr.  A case that is
*not* refused starts a crawl and the Twisted reactor, which cannot start twice:
it and every later case of the batch then fail, as they should.

``python -m tests.clibatch SPEC.json``: ``SPEC`` holds ``{"cases": [{"program":
"crawler"|"scrapy", "args": [...], "cwd": DIR, "env": {NAME: VALUE}}], "out":
FILE}``; ``FILE`` gets ``[{"returncode": int, "stdout": str, "stderr": str}]``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Command:
    """One command line: ``python -m crawler.cli ARGS`` or ``python -m scrapy ARGS``,
    run in ``cwd`` with ``env`` added to the environment."""

    program: Literal["crawler", "scrapy"]
    args: list[str]
    cwd: Path = REPO_ROOT
    env: dict[str, str] = field(default_factory=dict)


def crawl_command(start_url: str, workdir: Path, *options: str) -> Command:
    """``crawler crawl START_URL --store sqlite:///WORKDIR/crawl.db OPTIONS`` in
    ``workdir``, as :func:`tests.crawltools.crawl` runs it."""
    store = f"sqlite:///{workdir / 'crawl.db'}"
    return Command("crawler", ["crawl", start_url, "--store", store, *options], cwd=workdir)


def run_commands(
    commands: Mapping[str, Command], tmp_dir: Path, timeout: float = 300
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run ``commands`` one after the other in one child process; their outcomes by key.

    ``tmp_dir`` (which must exist) gets the spec and result files.  Raises
    ``AssertionError`` with the child's output if it did not write its results
    (it crashed or a case hung past ``timeout`` seconds for the whole batch)."""
    from tests.crawltools import subprocess_env

    keys = list(commands)
    spec = tmp_dir / "clibatch-spec.json"
    out = tmp_dir / "clibatch-out.json"
    cases = [
        {
            "program": commands[k].program,
            "args": commands[k].args,
            "cwd": str(commands[k].cwd),
            "env": commands[k].env,
        }
        for k in keys
    ]
    spec.write_text(json.dumps({"cases": cases, "out": str(out)}))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.clibatch", str(spec)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=subprocess_env(),
    )
    assert out.exists(), f"tests.clibatch exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    results = json.loads(out.read_text())
    return {
        key: subprocess.CompletedProcess(
            [commands[key].program, *commands[key].args],
            r["returncode"],
            r["stdout"],
            r["stderr"],
        )
        for key, r in zip(keys, results, strict=True)
    }


def _exit_code(code: Any) -> int:
    """What the interpreter makes of ``SystemExit(code)``: ``None`` is 0, an int is
    itself, anything else is printed to stderr and is 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _text(data: bytes) -> str:
    """``data`` as ``subprocess.run(..., text=True)`` gives it: universal newlines."""
    return data.decode(errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def _call(program: str, args: list[str]) -> int:
    if program == "crawler":
        import crawler.cli

        sys.argv = [crawler.cli.__file__, *args]
        return int(crawler.cli.main(args))
    import scrapy.cmdline

    sys.argv = [str(Path(scrapy.cmdline.__file__).with_name("__main__.py")), *args]
    scrapy.cmdline.execute()
    return 0


def _run_case(case: dict[str, Any]) -> dict[str, Any]:
    environ = dict(os.environ)
    path0 = sys.path[0]
    os.environ.update(case["env"])
    os.chdir(case["cwd"])
    sys.path[0] = case["cwd"]  # what ``python -m`` puts first
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        saved = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            try:
                code = _call(case["program"], case["args"])
            except SystemExit as e:
                code = _exit_code(e.code)
            except BaseException:
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            os.environ.clear()
            os.environ.update(environ)
            sys.path[0] = path0
        out.seek(0)
        err.seek(0)
        return {"returncode": code, "stdout": _text(out.read()), "stderr": _text(err.read())}


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    results = []
    for case in spec["cases"]:
        results.append(_run_case(case))
        with contextlib.suppress(OSError):
            os.chdir(REPO_ROOT)
    Path(spec["out"]).write_text(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
