"""Job files: what is accepted, what is refused and how the refusal reads."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crawler.exceptions import ConfigError
from crawler.jobs.config import cron_trigger, cron_weekdays, load_jobs_file, parse_duration

FULL = """
[scheduler]
store = "sqlite:///jobs.db"
max_concurrent_runs = 3
runs_dir = "runs"

[jobs.tinysite]
crawl = "http://127.0.0.1:8000/"
settings = { DOWNLOAD_DELAY = 0.5, FEEDS = { "x.jsonl" = { format = "jsonlines" } } }
store = "sqlite:///tinysite.db"
schedule = { cron = "0 3 * * 1-5", timezone = "Europe/Paris" }
misfire = "skip"
overlap = "queue"
interrupted = "retry"
timeout = "2h"

[jobs.tinysite.options]
render = "never"
max-pages = 500
extract = ["specs/a.yaml", "specs/b.yaml"]
ignore-robots = true
login = "http://127.0.0.1:8000/login"
username = "me"
password-env = "SITE_PASSWORD"

[jobs.tinysite.success]
min_pages = 10
max_error_ratio = 0.2

[jobs.site]
spider = "site"
args = { start_url = "http://127.0.0.1:8000/" }
schedule = { every = "6h" }
"""


def write(tmp_path: Path, text: str, name: str = "jobs.toml") -> Path:
    """``text`` as the job file ``name``, with the spec files FULL names."""
    (tmp_path / "specs").mkdir(exist_ok=True)
    for spec in ("a.yaml", "b.yaml"):
        (tmp_path / "specs" / spec).write_text("name: x\n", encoding="utf-8")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str, name: str = "jobs.toml") -> str:
    with pytest.raises(ConfigError) as caught:
        load_jobs_file(write(tmp_path, text, name))
    return str(caught.value)


def test_a_full_job_file_is_read(tmp_path: Path) -> None:
    jobs = load_jobs_file(write(tmp_path, FULL))
    assert jobs.scheduler.store == f"sqlite:///{tmp_path.resolve() / 'jobs.db'}"
    assert jobs.scheduler.runs_dir == tmp_path.resolve() / "runs"
    assert jobs.scheduler.max_concurrent_runs == 3
    job = jobs.job("tinysite")
    assert (job.misfire, job.overlap, job.interrupted, job.timeout) == (
        "skip",
        "queue",
        "retry",
        7200,
    )
    assert job.schedule is not None and job.schedule.timezone == "Europe/Paris"
    argv = job.command("python", Path("/r/job"), Path("/r/outcome.json"))
    assert argv[:5] == ["python", "-m", "crawler.cli", "crawl", "http://127.0.0.1:8000/"]
    assert "--max-pages=500" in argv and "--ignore-robots" in argv
    assert argv.count("--extract=specs/a.yaml") == 1 and "--extract=specs/b.yaml" in argv
    assert argv[argv.index("--job-dir") + 1] == "/r/job"
    assert "CRAWLER_OUTCOME_FILE=/r/outcome.json" in argv
    assert "--password-env=SITE_PASSWORD" in argv  # the variable's name, never a password
    assert "CRAWLER_MIN_PAGES=10" in argv and "CRAWLER_MAX_ERROR_RATIO=0.2" in argv
    assert 'FEEDS={"x.jsonl": {"format": "jsonlines"}}' in argv
    assert argv[argv.index("--store") + 1].endswith("/tinysite.db")
    spider = jobs.job("site").command("python", Path("/r/job"), Path("/r/o.json"))
    assert spider[:5] == ["python", "-m", "scrapy", "crawl", "site"]
    assert "start_url=http://127.0.0.1:8000/" in spider and "JOBDIR=/r/job" in spider
    assert jobs.job("site").schedule.every == 6 * 3600  # type: ignore[union-attr]


def test_yaml_has_the_same_structure(tmp_path: Path) -> None:
    text = """
jobs:
  tiny:
    crawl: http://127.0.0.1:8000/
    options: {max-pages: 5}
    schedule: {every: 30}
"""
    job = load_jobs_file(write(tmp_path, text, "jobs.yaml")).job("tiny")
    assert job.schedule is not None and job.schedule.every == 30
    assert "--max-pages=5" in job.command(sys.executable, tmp_path, tmp_path / "o.json")


def test_syntax_errors_name_the_file_and_line(tmp_path: Path) -> None:
    message = refused(tmp_path, '[jobs.a]\ncrawl = "http://x/"\nschedule = { every = }\n')
    assert "jobs.toml: not valid TOML" in message and "line 3" in message
    message = refused(tmp_path, "jobs:\n  a: [1, 2\n  b: 3\n", "jobs.yml")
    assert "jobs.yml: not valid YAML (line" in message


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('schedule = { cron = "0 3 * *" }', "jobs.t.schedule.cron: bad cron expression"),
        ('schedule = { cron = "61 3 * * *" }', "jobs.t.schedule.cron: bad cron expression"),
        ('schedule = { cron = "0 3 * * 8" }', "bad day of week '8'"),
        ('schedule = { cron = "0 3 * * *", timezone = "Mars/Olympus" }', "unknown time zone"),
        ('schedule = { every = "soon" }', "jobs.t.schedule.every: 'soon' is not a duration"),
        ("schedule = { every = 0 }", "takes a duration above 0"),
        ("schedule = { every = 5, cron = '* * * * *' }", "either cron"),
        ('overlap = "wait"', "jobs.t.overlap: 'wait' is not one of 'skip', 'queue', 'stop'"),
        ('misfire = "all"', "jobs.t.misfire: 'all' is not one of 'run_once', 'skip'"),
        ('interrupted = "again"', "jobs.t.interrupted:"),
        ("shedule = { every = 5 }", "jobs.t.shedule: unknown key (did you mean 'schedule'?)"),
        ("options = { max-pagez = 5 }", "jobs.t.options.max-pagez: not an option of crawler crawl"),
        ('options = { max-pages = "many" }', "jobs.t.options: argument --max-pages"),
        ('options = { render = "sometimes" }', "jobs.t.options: argument --render"),
        ('options = { job-dir = "x" }', "jobs.t.options.job-dir: the scheduler gives every run"),
        ('options = { set = ["A=1"] }', "give settings in the job's settings table"),
        ("success = { min_pages = -1 }", "jobs.t.success.min_pages: takes a whole number >= 0"),
        ("success = { max_error_ratio = 2 }", "takes a share between 0 and 1"),
        ("success = { min_page = 1 }", "jobs.t.success.min_page: unknown key"),
        ('store = "crawl.db"', "jobs.t.store: 'crawl.db' is a path, not a store URL"),
        ('timeout = "forever"', "jobs.t.timeout:"),
        ('settings = { JOBDIR = "x" }', "jobs.t.settings.JOBDIR: is set by the scheduler"),
        ('spider = "site"', "give either crawl = START_URL or spider = NAME"),
        ('target = "cloud"', "jobs.t.target: 'cloud' is not one of"),
    ],
)
def test_field_errors_name_the_field(tmp_path: Path, table: str, expected: str) -> None:
    message = refused(tmp_path, f'[jobs.t]\ncrawl = "http://127.0.0.1:8000/"\n{table}\n')
    assert message.startswith(f"{tmp_path / 'jobs.toml'}: "), message
    assert expected in message, message


def test_scheduler_table_errors(tmp_path: Path) -> None:
    assert "scheduler.max_concurrent_runs: takes a whole number >= 1" in refused(
        tmp_path, "[scheduler]\nmax_concurrent_runs = 0\n"
    )
    assert "scheduler.stor: unknown key (did you mean 'store'?)" in refused(
        tmp_path, '[scheduler]\nstor = "sqlite:///x.db"\n'
    )
    with pytest.raises(ConfigError, match="no job file"):
        load_jobs_file(tmp_path / "none.toml")


def test_a_missing_job_is_named_with_the_jobs(tmp_path: Path) -> None:
    jobs = load_jobs_file(write(tmp_path, FULL))
    with pytest.raises(ConfigError, match=r"no job 'nope' \(jobs: site, tinysite\)"):
        jobs.job("nope")


def test_cron_days_of_week_are_crons() -> None:
    """APScheduler 3 reads 0 as Monday; a job file's 0 (and 7) is Sunday, as in cron."""
    assert cron_weekdays("0") == "sun"
    assert cron_weekdays("7") == "sun"
    assert cron_weekdays("1-5") == "mon,tue,wed,thu,fri"
    assert cron_weekdays("*/2") == "sun,tue,thu,sat"
    assert cron_weekdays("sat,sun") == "sun,sat"
    assert cron_weekdays("*") == "*"


def test_cron_schedules_in_their_time_zone(tmp_path: Path) -> None:
    text = (
        '[jobs.t]\ncrawl = "http://x.test/"\n'
        'schedule = { cron = "0 3 * * 0", timezone = "Europe/Paris" }\n'
    )
    job = load_jobs_file(write(tmp_path, text)).job("t")
    assert job.schedule is not None
    trigger = job.schedule.trigger()
    start = datetime(2026, 12, 1, tzinfo=UTC)  # a Tuesday
    fire = trigger.get_next_fire_time(None, start)
    # Sunday 6 December 2026, 03:00 in Paris (CET, UTC+1)
    assert fire.astimezone(UTC) == datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
    summer = trigger.get_next_fire_time(None, datetime(2027, 6, 1, tzinfo=UTC))
    assert summer.astimezone(UTC) == datetime(2027, 6, 6, 1, 0, tzinfo=UTC)  # CEST, UTC+2


def test_cron_day_of_month_or_day_of_week() -> None:
    """Both day fields restricted: a day matching either runs (crontab(5)); one
    restricted alone, or with ``*/N`` in the other, is that field only."""
    after = datetime(2026, 12, 1, tzinfo=UTC)  # a Tuesday

    def fires(expr: str, n: int = 3) -> list[int]:
        trigger, days, previous, now = cron_trigger(expr, ZoneInfo("UTC")), [], None, after
        for _ in range(n):
            previous = now = trigger.get_next_fire_time(previous, now)
            days.append(now.day)
            now += timedelta(seconds=1)
        return days

    assert fires("0 0 13 * 5") == [4, 11, 13]  # Fridays and the 13th
    assert fires("0 0 13 * *") == [13, 13, 13]
    assert fires("0 0 * * 5") == [4, 11, 18]
    # a field starting with * counts as unrestricted (Vixie cron): both must match
    assert fires("0 0 */10 * 5") == [11, 1, 21]  # Fridays that are the 1st, 11th, 21st, 31st
    assert fires("0 0 1 * 0", 5) == [1, 6, 13, 20, 27]  # the 1st (a Tuesday) and Sundays


def test_durations() -> None:
    assert parse_duration(30) == 30
    assert parse_duration("90s") == 90
    assert parse_duration("1h30m") == 5400
    assert parse_duration("1d") == 86400
    assert parse_duration("0.5s") == 0.5
    for bad in ("", "5 apples", "h", True, -3):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_scrapyd_jobs_need_the_scrapyd_url_and_project(tmp_path: Path) -> None:
    job = '[jobs.t]\nspider = "site"\ntarget = "scrapyd"\n'
    assert 'jobs.t: target = "scrapyd" needs the Scrapyd URL' in refused(tmp_path, job)
    scheduler = '[scheduler]\nscrapyd = "http://127.0.0.1:6800"\n'
    assert "jobs.t.project: takes the Scrapyd project" in refused(tmp_path, scheduler + job)
    crawl = '[jobs.t]\ncrawl = "http://x.test/"\ntarget = "scrapyd"\n'
    assert 'jobs.t: a target = "scrapyd" job runs a spider' in refused(tmp_path, scheduler + crawl)
    job = load_jobs_file(write(tmp_path, scheduler + job + 'project = "crawler"\n')).job("t")
    assert (job.target, job.project) == ("scrapyd", "crawler")


def test_notify_entries_are_checked_with_their_path(tmp_path: Path) -> None:
    message = refused(
        tmp_path,
        '[jobs.t]\ncrawl = "http://127.0.0.1:8000/"\n\n'
        '[[jobs.t.notify]]\nwebhook = { url = "ftp://x/" }\n',
    )
    assert message.startswith(f"{tmp_path / 'jobs.toml'}: jobs.t.notify[0].webhook"), message


def test_a_store_password_never_goes_on_a_command_line(tmp_path: Path) -> None:
    message = refused(
        tmp_path,
        '[jobs.t]\ncrawl = "http://127.0.0.1:8000/"\n'
        'store = "postgresql://crawler:s3cret@db.example/crawls"\n',
    )
    assert "jobs.t.store: a password in the store URL" in message and "PGPASSWORD" in message
    assert "s3cret" not in message


@pytest.mark.parametrize(
    ("table", "field", "expected"),
    [
        (
            'crawl = "http://x/"\nsettings = { MAIL_PASS = "s3cretpw" }',
            "settings.MAIL_PASS",
            "os.environ",
        ),
        (
            'crawl = "http://x/"\nsettings = { HTTPAUTH_PASS = "s3cretpw" }',
            "settings.HTTPAUTH_PASS",
            "password-env",
        ),
        (
            'crawl = "http://x/"\noptions = { output = ["ftp://fu:s3cretpw@host/a.jsonl"] }',
            "options.output",
            "CRAWLER_FEED_PASSWORD_ENV",
        ),
        ('crawl = "https://user:s3cretpw@host/"', "crawl", "netrc"),
        ('spider = "s"\nargs = { start = "https://user:s3cretpw@host/" }', "args.start", "netrc"),
        (
            'crawl = "http://x/"\nsettings = { FEEDS = { "ftp://fu:s3cretpw@host/a.jsonl" = {} } }',
            "settings.FEEDS",
            "CRAWLER_FEED_PASSWORD_ENV",
        ),
    ],
)
def test_a_secret_never_goes_on_a_command_line(
    tmp_path: Path, table: str, field: str, expected: str
) -> None:
    """Every value of a job is on the run's argv (/proc/PID/cmdline): a secret-looking
    setting (crawler.redaction's rule) or a URL with a password is refused, and the
    refusal says where the secret goes instead, without repeating it."""
    message = refused(tmp_path, f"[jobs.j]\n{table}\n")
    assert f"jobs.j.{field}:" in message
    assert expected in message
    assert "s3cretpw" not in message


def test_settings_about_a_secret_are_not_secrets(tmp_path: Path) -> None:
    """Names that say what a secret is about (redaction's NOT_SECRET_NAME) pass."""
    jobs = load_jobs_file(
        write(
            tmp_path,
            '[jobs.j]\ncrawl = "http://x/"\n'
            'settings = { COOKIES_ENABLED = false, CRAWLER_FEED_PASSWORD_ENV = "FEED_PW",'
            ' HTTPAUTH_DOMAIN = "x" }\n',
        )
    )
    assert jobs.job("j").settings["CRAWLER_FEED_PASSWORD_ENV"] == "FEED_PW"


def test_yaml_on_is_a_key_not_a_boolean(tmp_path: Path) -> None:
    """YAML 1.1 (PyYAML) reads the key ``on`` as True; a job file reads it as "on"."""
    text = """
jobs:
  tiny:
    crawl: http://127.0.0.1:8000/
    notify:
      - {webhook: {url: "https://hooks.example.org/x"}, on: [failure]}
"""
    job = load_jobs_file(write(tmp_path, text, "jobs.yaml")).job("tiny")
    assert len(job.notify) == 1


def test_yaml_duplicate_keys_are_refused_with_their_line(tmp_path: Path) -> None:
    text = """jobs:
  tiny:
    crawl: http://127.0.0.1:8000/
  tiny:
    crawl: http://127.0.0.1:9000/
"""
    message = refused(tmp_path, text, "jobs.yaml")
    assert "line 4" in message
    assert "duplicate key 'tiny' (first given on line 2)" in message


def test_cron_runs_once_in_the_hour_lived_twice() -> None:
    """Daylight saving time ends in Europe/Paris on 2027-10-31 at 03:00 CEST
    (back to 02:00 CET): 02:30 happens twice; cron runs ``30 2 * * *`` once,
    at the first.  The spring-forward day (2027-03-28, no 02:30) is APScheduler's:
    it fires at 03:30 CEST.  Fires read with the scheduler's own function."""
    from crawler.jobs.scheduler import fires_until

    zone = ZoneInfo("Europe/Paris")
    trigger = cron_trigger("30 2 * * *", zone)
    start = datetime(2027, 10, 29, 12, tzinfo=UTC)
    first = trigger.get_next_fire_time(None, start)
    assert first is not None
    count, last, following = fires_until(trigger, first, datetime(2027, 11, 2, 12, tzinfo=UTC))
    fires = [first]
    while fires[-1] < last:
        fires.append(trigger.get_next_fire_time(fires[-1], fires[-1]))
    local = [f.astimezone(zone).strftime("%m-%d %H:%M %Z") for f in fires]
    assert local == [
        "10-30 02:30 CEST",
        "10-31 02:30 CEST",
        "11-01 02:30 CET",
        "11-02 02:30 CET",
    ]
    assert count == 4
    assert following is not None and following.astimezone(zone).day == 3
    # two fixed times in the repeated hour: each once
    twice = cron_trigger("0,30 2 * * *", zone)
    fire = datetime(2027, 10, 30, 12, tzinfo=UTC)
    seen = []
    for _ in range(4):
        fire = twice.get_next_fire_time(fire, fire)
        seen.append(fire.astimezone(zone).strftime("%d %H:%M %Z"))
    assert seen == ["31 02:00 CEST", "31 02:30 CEST", "01 02:00 CET", "01 02:30 CET"]
    # a wildcard hour runs in both passes, as in cron
    quarter = cron_trigger("*/30 * * * *", zone)
    fire = datetime(2027, 10, 31, 0, 10, tzinfo=UTC)  # 02:10 CEST
    seen = []
    for _ in range(3):
        fire = quarter.get_next_fire_time(fire, fire)
        seen.append(fire.astimezone(zone).strftime("%H:%M %Z"))
    assert seen == ["02:30 CEST", "02:00 CET", "02:30 CET"]


@pytest.mark.parametrize(
    ("table", "field", "expected"),
    [
        (
            'options = { extract = ["specs/a.yaml", "specs/gone.yaml"] }',
            "options.extract",
            "no spec file specs/gone.yaml",
        ),
        (
            'options = { login = "http://x/login", username = "me" }',
            "options.login",
            "password-env",
        ),
        (
            'options = { login = "http://x/login", password-env = "PW" }',
            "options.login",
            "username",
        ),
        ('schedule = { cron = "0 3 31 2 *" }', "schedule.cron", "never fires"),
        ("schedule = { every = 0.5 }", "schedule.every", "at least 1 second"),
    ],
)
def test_what_would_fail_at_run_time_is_refused_at_read(
    tmp_path: Path, table: str, field: str, expected: str
) -> None:
    message = refused(tmp_path, f'[jobs.j]\ncrawl = "http://x/"\n{table}\n')
    assert f"jobs.j.{field}:" in message
    assert expected in message
