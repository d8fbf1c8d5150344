"""Notifications sent by a real ``crawler scheduler`` process (its own thread, not
``crawler jobs run``): one email and one webhook per failed run of a dead host,
naming job, run and reason; nothing for a success unless the job asks."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from tests.jobstools import SchedulerProcess, history, kill_leftovers, wait_for, write_jobs

if TYPE_CHECKING:
    from fixtures.tinysite.server import TinySite
    from tests.notifytools import SmtpSink, WebhookReceiver


def test_the_scheduler_notifies_each_failed_run_once_and_successes_only_when_asked(
    tinysite: TinySite, tmp_path: Path, smtp_server: SmtpSink, webhook_receiver: WebhookReceiver
) -> None:
    email = (
        f'email = {{ to = ["ops@example.org"], from = "crawler@example.org", '
        f'smtp = "{smtp_server.url}" }}'
    )
    webhook = f'webhook = {{ url = "{webhook_receiver.url}" }}'
    jobs_file = write_jobs(
        tmp_path,
        # a dead host: failed (start_url_failed, no_pages), every 2 s
        '[jobs.dead]\ncrawl = "http://127.0.0.1:9/"\nstore = "sqlite:///c.db"\n'
        "settings = { RETRY_ENABLED = false }\nschedule = { every = 2 }\n"
        f'[[jobs.dead.notify]]\non = ["failure"]\n{email}\n'
        f'[[jobs.dead.notify]]\non = ["failure"]\n{webhook}\n\n'
        # a healthy crawl: its failure email is not sent; its success webhook is
        f'[jobs.fine]\ncrawl = "{tinysite.url("/")}"\noptions = {{ max-pages = 2 }}\n'
        'store = "sqlite:///f.db"\nschedule = { every = 2 }\n'
        f'[[jobs.fine.notify]]\non = ["failure"]\n{email}\n'
        f'[[jobs.fine.notify]]\non = ["success"]\n{webhook}\n',
    )
    scheduler = SchedulerProcess(jobs_file).start()
    try:
        wait_for(
            lambda: (
                any(r["status"] == "failed" for r in history(jobs_file, "dead"))
                and any(r["status"] == "succeeded" for r in history(jobs_file, "fine"))
            ),
            40,
            "a failed and a succeeded run",
        )
    finally:
        assert scheduler.stop(signal.SIGTERM, timeout=40) == 0, scheduler.output()
    assert kill_leftovers(jobs_file) == []
    failed = [r for r in history(jobs_file, "dead") if r["status"] == "failed"]
    succeeded = [r for r in history(jobs_file, "fine") if r["status"] == "succeeded"]
    assert all(r["notify_failures"] == 0 for r in failed + succeeded)

    mails = smtp_server.wait_for(len(failed))
    posts = webhook_receiver.wait_for(len(failed) + len(succeeded))
    # one email per failed run of the dead host, none for the healthy job's successes
    assert sorted(m.message["Subject"] for m in mails) == sorted(
        f"[crawler] job dead run {r['id']} failed: "
        + ", ".join(reason["code"] for reason in r["reasons"])
        for r in failed
    ), [m.message["Subject"] for m in mails]
    for mail in mails:
        body = mail.message.get_content()
        assert "start_url_failed" in body and "127.0.0.1:9" in body, body
    bodies = [json.loads(p.body) for p in posts]
    assert sorted((b["job"], b["run_id"], b["status"]) for b in bodies) == sorted(
        [("dead", r["id"], "failed") for r in failed]
        + [("fine", r["id"], "succeeded") for r in succeeded]
    )
    for body in bodies:
        if body["job"] == "dead":
            assert "start_url_failed" in [reason["code"] for reason in body["reasons"]]
        else:
            assert body["pages"] >= 1 and body["reasons"] == []
