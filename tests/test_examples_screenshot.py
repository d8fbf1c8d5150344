"""``python -m examples.screenshot``: a report file that is not there is one line
and exit code 2 (it was a ``FileNotFoundError`` traceback after a browser start)."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

from tests.crawltools import subprocess_env

if TYPE_CHECKING:
    from pathlib import Path


def test_a_missing_report_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "examples.screenshot", "nosuch.html", "out.png"],
        cwd=tmp_path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr == (
        "error: no report file nosuch.html: write one with `crawler report RUN`\n"
    )
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []
