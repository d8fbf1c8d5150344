"""Deploying to a real Scrapyd with ``scrapyd-deploy``, and ``crawler.scrapyd.ScrapydClient``.

One Scrapyd 1.6 for the module (:mod:`tests.scrapydserver`: basic auth, one
crawl at a time, the project not installed in its environment), the project
deployed from a copy of the tracked files as from a clean clone, then crawls
of the tinysite scheduled, followed and cancelled through the HTTP API.
"""

from __future__ import annotations

import configparser
import io
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from crawler.exceptions import ScrapydError
from crawler.scrapyd import ScrapydClient
from fixtures.tinysite import classic
from tests.crawltools import REPO_ROOT, CrawlResult, read_store, run_crawler, subprocess_env
from tests.jobstools import history
from tests.scrapydserver import ScrapydServer, clean_env

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from fixtures.tinysite.server import TinySite

PROJECT = "crawler"
SITE_ARGS = {"render": "never", "forms": "none"}


@dataclass
class Deployed:
    server: ScrapydServer
    client: ScrapydClient
    answer: dict[str, object]  # scrapyd-deploy's printed server answer
    repo_entries: tuple[set[str], set[str]]  # the repository root's entries before, after


def _copy_tracked_files(dest: Path) -> None:
    """The repository as a clean clone has it: the tracked files only."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():  # not deleted in the work tree
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def _deploy(server: ScrapydServer, project_dir: Path) -> dict[str, object]:
    """``scrapyd-deploy test`` from ``project_dir``, to a target that the
    committed ``[deploy]`` section gives the project name to; the answer."""
    deploy = Path(sys.executable).with_name("scrapyd-deploy")
    assert deploy.exists(), "scrapyd-client is not installed: run `make install`"
    cfg = project_dir / "scrapy.cfg"
    committed = configparser.ConfigParser()
    committed.read(cfg)
    assert committed.get("deploy", "project") == PROJECT
    with cfg.open("a") as f:  # the credentials as the comment in scrapy.cfg says
        f.write(
            f"\n[deploy:test]\nurl = {server.url}/\n"
            "username = $SCRAPYD_USERNAME\npassword = $SCRAPYD_PASSWORD\n"
        )
    result = subprocess.run(
        [str(deploy), "test", "--version", "r1"],
        cwd=project_dir,
        env=clean_env(SCRAPYD_USERNAME=server.username, SCRAPYD_PASSWORD=server.password),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # scrapyd-deploy exits 0 when Scrapyd answers {"status": "error"}: read the answer
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    base = tmp_path_factory.mktemp("scrapyd")
    project_dir = base / "project"
    _copy_tracked_files(project_dir)
    server = ScrapydServer(base / "server")
    server.dir.mkdir()
    before = set(os.listdir(REPO_ROOT))
    server.start()
    client = ScrapydClient(server.url, auth=(server.username, server.password), timeout=60)
    try:
        answer = _deploy(server, project_dir)
        yield Deployed(server, client, answer, (before, set(os.listdir(REPO_ROOT))))
    finally:
        client.close()
        left = server.stop()
        assert not left, f"processes left behind by Scrapyd or its crawls: {left}"


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.1)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:  # it ended
        return ""


def test_scrapyd_environment_lacks_the_project(deployed: Deployed) -> None:
    """The premise of the other tests: in Scrapyd's environment the project
    comes from the egg or not at all (its dependencies are there)."""
    probe = subprocess.run(
        [str(deployed.server.python), "-c", "import sqlalchemy, selenium\nimport crawler"],
        cwd=deployed.server.dir,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 1
    assert "No module named 'crawler'" in probe.stderr


def test_deploy_from_a_clean_copy(deployed: Deployed) -> None:
    assert deployed.answer["status"] == "ok", deployed.answer
    assert deployed.answer["project"] == PROJECT
    assert "site" in deployed.client.spiders(PROJECT)
    assert {p.name for p in (deployed.server.eggs_dir / PROJECT).iterdir()} == {"r1.egg"}
    before, after = deployed.repo_entries
    assert after == before, "scrapyd-deploy wrote in the repository"


def test_scheduled_site_crawl_fills_the_store(
    deployed: Deployed, tinysite: TinySite, tmp_path: Path
) -> None:
    client = deployed.client
    db = tmp_path / "x.db"
    job = client.schedule(
        PROJECT,
        "site",
        {"start_url": tinysite.url("/"), **SITE_ARGS},
        {"CRAWLER_STORE_URL": f"sqlite:///{db}"},
    )
    seen: list[str] = []

    def finished() -> bool:
        seen.append(client.status(PROJECT, job))
        return seen[-1] == "finished"

    _wait_for(finished, 60, "the crawl finished")
    assert set(seen) <= {"pending", "running", "finished"}
    pages, runs = read_store(db)
    assert CrawlResult(0, "", "", db, pages, runs).html_paths() == classic.GET_ONLY_PATHS
    assert runs[-1]["finish_reason"] == "finished"
    log = requests.get(
        client.log_url(PROJECT, "site", job),
        auth=(deployed.server.username, deployed.server.password),
        timeout=10,
    )
    assert log.status_code == 200
    assert "Spider closed (finished)" in log.text
    assert client.finish_reason(PROJECT, "site", job) == "finished"
    assert client.finish_reason(PROJECT, "site", "no-such-job") is None
    items = deployed.server.items_dir / PROJECT / "site" / f"{job}.jl"
    fed = {json.loads(line)["url"] for line in items.read_text().splitlines()}
    assert fed == {p["url"] for p in pages}


def test_cancel_pending_then_running_job(
    deployed: Deployed, tinysite: TinySite, tmp_path: Path
) -> None:
    client, server = deployed.client, deployed.server
    target = f"/?delay=15000&probe={uuid.uuid4().hex}"
    slow = {"start_url": tinysite.url(target), **SITE_ARGS}
    store = {"CRAWLER_STORE_URL": f"sqlite:///{tmp_path / 'slow.db'}"}
    first = client.schedule(PROJECT, "site", slow, store)
    _wait_for(  # the slow page is being downloaded
        lambda: any(seen.target == target for seen in tinysite.requests_seen),
        30,
        "the crawl asked for its start page",
    )
    crawl_pids = [pid for pid in server.processes() if first in _cmdline(pid)]
    assert len(crawl_pids) == 1

    second = client.schedule(PROJECT, "site", slow, store)  # one crawl at a time: it waits
    assert client.status(PROJECT, second) == "pending"
    assert client.cancel(PROJECT, second) == "pending"
    assert client.status(PROJECT, second) == "unknown"

    started = time.monotonic()
    assert client.cancel(PROJECT, first) == "running"  # SIGINT: a graceful stop ...
    time.sleep(0.5)
    assert client.status(PROJECT, first) == "running"  # ... waits for the slow download
    assert client.cancel(PROJECT, first) == "running"  # the second one forces it
    _wait_for(lambda: client.status(PROJECT, first) == "finished", 10, "the crawl stopped")
    assert time.monotonic() - started < 10  # long before the page's 15 s
    assert crawl_pids[0] not in server.processes()
    log = server.logs_dir / PROJECT / "site" / f"{first}.log"
    assert "forcing unclean shutdown" in log.read_text()
    assert client.finish_reason(PROJECT, "site", first) is None  # it never closed
    assert client.cancel(PROJECT, first) == "unknown"


def test_errors_are_one_line_without_secrets(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    server = deployed.server
    monkeypatch.delenv("SCRAPYD_USERNAME", raising=False)
    monkeypatch.delenv("SCRAPYD_PASSWORD", raising=False)
    messages = []
    with pytest.raises(ScrapydError, match="HTTP 401: it needs credentials") as e:
        ScrapydClient(server.url).spiders(PROJECT)
    messages.append(str(e.value))

    monkeypatch.setenv("SCRAPYD_USERNAME", server.username)
    monkeypatch.setenv("SCRAPYD_PASSWORD", "wrong-Scrapyd-pw")
    with pytest.raises(ScrapydError, match="HTTP 401: it refused the credentials") as e:
        ScrapydClient(server.url).status(PROJECT, "x")
    messages.append(str(e.value))
    monkeypatch.setenv("SCRAPYD_PASSWORD", server.password)
    assert "site" in ScrapydClient(server.url).spiders(PROJECT)  # from the environment

    # credentials in the URL: used, and kept out of the client's URLs
    client = ScrapydClient(f"http://{server.username}:{server.password}@127.0.0.1:{server.port}/")
    assert client.url == server.url
    assert server.password not in repr(client) + client.log_url(PROJECT, "site", "j1")
    with pytest.raises(ScrapydError, match=r"schedule\.json: spider 'nope' not found") as e:
        client.schedule(PROJECT, "nope", {"start_url": "http://127.0.0.1:9/"})
    messages.append(str(e.value))
    with pytest.raises(ScrapydError, match="project 'nope' not found") as e:
        client.status("nope", "j1")
    messages.append(str(e.value))
    # an egg without the 'scrapy' entry point (as scrapyd-deploy built them before)
    egg = io.BytesIO()
    with zipfile.ZipFile(egg, "w") as z:
        z.writestr("EGG-INFO/PKG-INFO", "Metadata-Version: 2.1\nName: broken\nVersion: 1\n")
    requests.post(
        f"{server.url}/addversion.json",
        data={"project": "broken", "version": "1"},
        files={"egg": ("broken.egg", egg.getvalue())},
        auth=(server.username, server.password),
        timeout=60,
    )
    with pytest.raises(ScrapydError) as e:
        client.spiders("broken")
    assert str(e.value).endswith(
        "listspiders.json: the project failed to load in Scrapyd's environment: "
        "AttributeError: 'NoneType' object has no attribute 'module_name'"
    )
    messages.append(str(e.value))
    with pytest.raises(ScrapydError, match="cannot connect") as e:
        ScrapydClient(f"http://u:{server.password}@127.0.0.1:{closed_port}").status(PROJECT, "j")
    messages.append(str(e.value))

    for message in messages:
        assert "\n" not in message
        assert server.password not in message and "wrong-Scrapyd-pw" not in message
        assert message.startswith("Scrapyd http://127.0.0.1:"), message  # no user info


def test_schedule_refuses_arguments_that_scrapyd_takes_as_its_own() -> None:
    client = ScrapydClient("http://127.0.0.1:9")
    with pytest.raises(ScrapydError, match="spider argument 'priority' cannot be given"):
        client.schedule(PROJECT, "site", {"start_url": "http://x/", "priority": "1"})
    for bad in ("127.0.0.1:6800", "http://127.0.0.1:port/", "ftp://127.0.0.1/"):
        with pytest.raises(ScrapydError, match="is not http"):
            ScrapydClient(bad)
    assert client.log_url("my project", "site", "a/b") == (
        "http://127.0.0.1:9/logs/my%20project/site/a%2Fb.log"
    )


def test_finish_reason_reads_the_end_of_a_long_log(deployed: Deployed) -> None:
    closed = "2026-12-01 10:00:00 [scrapy.core.engine] INFO: Spider closed ({})\n"
    log = deployed.server.logs_dir / PROJECT / "site" / "long.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    filler = "2026-12-01 10:00:00 [scrapy.core.scraper] DEBUG: Scraped from <200 http://x/>\n"
    log.write_text(closed.format("finished") + filler * 4000 + closed.format("closespider_timeout"))
    assert log.stat().st_size > 256 * 1024  # the first line is outside the part read
    assert deployed.client.finish_reason(PROJECT, "site", "long") == "closespider_timeout"


def test_the_scheduler_runs_a_scrapyd_job(
    deployed: Deployed, tinysite: TinySite, tmp_path: Path
) -> None:
    """A ``target = "scrapyd"`` job through ``crawler jobs run`` (the scheduler's
    code): scheduled on Scrapyd, followed to its end, judged by its finish reason."""
    server = deployed.server
    store = tmp_path / "remote.db"
    jobs_file = tmp_path / "jobs.toml"
    jobs_file.write_text(
        f'[scheduler]\nstore = "sqlite:///state.db"\nscrapyd = "{server.url}"\n\n'
        f'[jobs.remote]\nspider = "site"\ntarget = "scrapyd"\nproject = "{PROJECT}"\n'
        f'args = {{ start_url = "{tinysite.url("/")}", max_pages = 2, render = "never", '
        'forms = "none" }\n'
        f'store = "sqlite:///{store}"\n'
    )
    env = {
        **subprocess_env(),
        "SCRAPYD_USERNAME": server.username,
        "SCRAPYD_PASSWORD": server.password,
    }
    done = run_crawler(
        "jobs", "run", "remote", "--jobs-file", str(jobs_file), cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    assert server.password not in done.stderr
    [row] = history(jobs_file, "remote")
    assert (row["status"], row["finish_reason"]) == ("succeeded", "closespider_pagecount")
    assert row["remote_job"] == f"remote-{row['id']}"
    assert row["log_file"] == deployed.client.log_url(PROJECT, "site", row["remote_job"])
    pages, runs = read_store(store)
    assert len(runs) == 1 and pages


def test_a_dead_host_crawl_through_scrapyd_is_failed(deployed: Deployed, tmp_path: Path) -> None:
    """A crawl of a dead host closes ``finished``, Scrapyd says ``finished``: the
    verdict line in its log says ``failed (start_url_failed, ...)``, and a
    ``target = "scrapyd"`` job records it so, not as succeeded."""
    server = deployed.server
    jobs_file = tmp_path / "jobs.toml"
    jobs_file.write_text(
        f'[scheduler]\nstore = "sqlite:///state.db"\nscrapyd = "{server.url}"\n\n'
        f'[jobs.dead]\nspider = "site"\ntarget = "scrapyd"\nproject = "{PROJECT}"\n'
        'args = { start_url = "http://127.0.0.1:9/", render = "never", forms = "none" }\n'
        "settings = { RETRY_TIMES = 0 }\n"
    )
    env = {
        **subprocess_env(),
        "SCRAPYD_USERNAME": server.username,
        "SCRAPYD_PASSWORD": server.password,
    }
    done = run_crawler("jobs", "run", "dead", "--jobs-file", str(jobs_file), cwd=tmp_path, env=env)
    [row] = history(jobs_file, "dead")
    assert row["finish_reason"] == "finished", done.stderr
    assert row["status"] == "failed", row
    codes = [reason["code"] for reason in row["reasons"]]
    assert codes[:2] == ["start_url_failed", "no_pages"], row
    assert "127.0.0.1:9" in row["reasons"][0]["message"]
    verdict, reason = deployed.client.verdict(PROJECT, "site", row["remote_job"])
    assert reason == "finished"
    assert verdict is not None and verdict.status == "failed"
    assert done.returncode != 0
