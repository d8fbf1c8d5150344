"""Private dirs are swept only once the process that made them is gone (no browser needed).

Real processes hold the locks: a child that made a dir is SIGKILLed, as a crawl
would be.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

from crawler.browser.privatedirs import PREFIX, make, sweep
from tests.browser.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path


def holder(parent: Path) -> tuple[subprocess.Popen[str], str]:
    """A process that made a private dir in ``parent`` and lives on; and the dir."""
    code = (
        "import sys, time\n"
        "from crawler.browser.privatedirs import make\n"
        "print(make(sys.argv[1]).path, flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(parent)],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def test_a_dir_is_swept_once_its_process_is_killed_not_before(tmp_path: Path) -> None:
    process, path = holder(tmp_path)
    try:
        assert os.path.basename(path).startswith(PREFIX)
        os.makedirs(os.path.join(path, "home", "deep"))
        assert sweep(str(tmp_path)) == []  # its process is alive
        assert os.path.isdir(path)
    finally:
        process.kill()
        process.wait()
    seen: list[str] = []
    assert sweep(str(tmp_path), seen.append) == [path]
    assert seen == [path]
    assert os.listdir(tmp_path) == []


def test_own_dirs_and_dirs_of_other_names_are_kept(tmp_path: Path) -> None:
    own = make(str(tmp_path))
    older = tmp_path / "crawler-tmp-abcdefgh"  # an earlier version's: no lock, never swept
    older.mkdir()
    (tmp_path / (PREFIX + "file")).write_text("not a dir")
    assert sweep(str(tmp_path)) == []
    own.remove()
    assert sorted(os.listdir(tmp_path)) == sorted([older.name, PREFIX + "file"])
