"""Job files: scheduled crawls defined in TOML or YAML, validated before anything runs.

A job file (``jobs.toml`` by default) holds an optional ``[scheduler]`` table
and one ``[jobs.NAME]`` table per job (see README, "Scheduled jobs").  YAML
files (``.yaml``, ``.yml``) have the same structure.  :func:`load_jobs_file`
reads and checks all of it; every mistake is a
:class:`~crawler.exceptions.ConfigError` whose message starts with the file and
names the line (a TOML or YAML syntax error: the parser's own line and column)
or the field path (``jobs.tinysite.schedule.cron: ...``) and what is allowed.

Relative paths in a job file (``runs_dir``, a ``sqlite:///`` store, the crawl's
spec and output files) are relative to the job file's directory: every run
starts there.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.exceptions import ConfigError
from crawler.jobs import parts
from crawler.redaction import NOT_SECRET_NAME, SECRET_NAME, url_credentials
from crawler.storage.sql import absolute_url, check_store_url

DEFAULT_JOBS_FILE = "jobs.toml"
MISFIRE_POLICIES = ("run_once", "skip")
OVERLAP_POLICIES = ("skip", "queue", "stop")
INTERRUPTED_POLICIES = ("resume", "retry", "mark")
TARGETS = ("local", "scrapyd")
SCHEDULER_KEYS = ("store", "max_concurrent_runs", "runs_dir", "scrapyd", "stop_grace", "keep_runs")
JOB_KEYS = (
    "crawl",
    "spider",
    "args",
    "options",
    "settings",
    "store",
    "schedule",
    "misfire",
    "overlap",
    "interrupted",
    "timeout",
    "target",
    "project",
    "success",
    "notify",
)
SCHEDULE_KEYS = ("cron", "every", "timezone")
#: ``[jobs.NAME.success]`` keys -> the crawl settings they set (crawler.outcome).
SUCCESS_SETTINGS = {
    "min_pages": "CRAWLER_MIN_PAGES",
    "min_items": "CRAWLER_MIN_ITEMS",
    "max_error_ratio": "CRAWLER_MAX_ERROR_RATIO",
}
#: ``crawler crawl`` options a job may not set: the scheduler sets them, or another key does.
RESERVED_OPTIONS = {
    "job-dir": "the scheduler gives every run its own job directory",
    "resume": 'the scheduler resumes interrupted runs itself (interrupted = "resume")',
    "set": "give settings in the job's settings table",
    "store": "give the store as the job's store key",
}
#: The shortest ``every`` (seconds): a run a second at most, per job.
MIN_EVERY = 1.0
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
JOB_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Schedule:
    """When a job runs: a five-field cron expression in ``timezone`` (cron's
    meaning of the day of week: 0 and 7 are Sunday), or every ``every`` seconds."""

    cron: str | None
    every: float | None
    timezone: str = "UTC"

    def trigger(self) -> BaseTrigger:
        """APScheduler's trigger for it (time zones and DST are APScheduler's)."""
        zone = ZoneInfo(self.timezone)
        if self.cron is not None:
            return cron_trigger(self.cron, zone)
        assert self.every is not None
        return IntervalTrigger(seconds=self.every, timezone=zone)

    def describe(self) -> str:
        if self.cron is not None:
            return f"cron {self.cron} ({self.timezone})"
        return f"every {format_duration(self.every or 0)}"

    def key(self) -> str:
        """What identifies the schedule in the state store: when it changes, the
        next run time is computed afresh (no catch-up of the old schedule)."""
        return json.dumps([self.cron, self.every, self.timezone])


@dataclass(frozen=True)
class Job:
    """One ``[jobs.NAME]`` table, checked.  ``crawl`` (a start URL for ``crawler
    crawl``) or ``spider`` (a spider name for ``scrapy crawl``) is set, not both.
    ``timeout`` is in seconds; ``notify`` holds :mod:`crawler.notify` targets."""

    name: str
    crawl: str | None = None
    spider: str | None = None
    args: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    store: str | None = None
    schedule: Schedule | None = None
    misfire: str = "run_once"
    overlap: str = "skip"
    interrupted: str = "resume"
    timeout: float | None = None
    target: str = "local"
    project: str | None = None
    notify: list[Any] = field(default_factory=list)

    def crawl_settings(self) -> dict[str, str]:
        """``-s NAME=VALUE`` values for the run, as text (JSON for lists and tables)."""
        out = {}
        for name, value in self.settings.items():
            if isinstance(value, bool):
                out[name] = "True" if value else "False"
            elif isinstance(value, (dict, list)):
                out[name] = json.dumps(value)
            else:
                out[name] = str(value)
        return out

    def command(self, python: str, job_dir: Path, outcome_file: Path) -> list[str]:
        """The run's argv: ``python -m crawler.cli crawl URL OPTIONS`` or
        ``python -m scrapy crawl SPIDER -a K=V``, with the job dir, the outcome
        file and the job's settings and store.  No secret is ever on it: a
        login password is named by ``password-env``/``password-file``."""
        settings = {**self.crawl_settings(), "CRAWLER_OUTCOME_FILE": str(outcome_file)}
        if self.crawl is not None:
            argv = [python, "-m", "crawler.cli", "crawl", self.crawl, *options_argv(self.options)]
            argv += ["--job-dir", str(job_dir)]
            if self.store:
                argv += ["--store", self.store]
        else:
            assert self.spider is not None
            argv = [python, "-m", "scrapy", "crawl", self.spider]
            for name, value in self.args.items():
                argv += ["-a", f"{name}={value}"]
            settings["JOBDIR"] = str(job_dir)
            if self.store:
                settings["CRAWLER_STORE_URL"] = self.store
        for name, value in settings.items():
            argv += ["-s", f"{name}={value}"]
        return argv


@dataclass(frozen=True)
class SchedulerConfig:
    """The ``[scheduler]`` table: the state store's URL (absolute), the runs
    directory, the concurrency cap, how long a stopped run may take to stop
    (``stop_grace``, seconds) before its process group is killed, how many
    finished runs of each job keep their directory (``keep_runs``, 0: all;
    :mod:`crawler.jobs.retention`)."""

    store: str
    runs_dir: Path
    max_concurrent_runs: int = 2
    scrapyd: str | None = None
    stop_grace: float = 30.0
    keep_runs: int = 100


@dataclass(frozen=True)
class JobsFile:
    path: Path
    base_dir: Path  # the job file's directory: runs start there
    scheduler: SchedulerConfig
    jobs: dict[str, Job]

    def job(self, name: str) -> Job:
        """The job ``name``; a ConfigError listing the jobs when there is none."""
        try:
            return self.jobs[name]
        except KeyError:
            known = ", ".join(sorted(self.jobs)) or "none"
            raise ConfigError(f"{self.path}: no job {name!r} (jobs: {known})") from None


def jobs_file_key(path: Path) -> tuple[int, int] | None:
    """What tells that a job file changed: its (mtime in ns, size); None when it
    cannot be read.  The scheduler and ``crawler serve`` re-read the file when
    this changes."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def load_jobs_file(path: str | Path, default_store: str = "sqlite:///crawl.db") -> JobsFile:
    """Read and check the job file at ``path`` (TOML, or YAML by its suffix).

    ``default_store`` is the state store when ``[scheduler] store`` is not
    given (the project's ``CRAWLER_STORE_URL``).  Raises ConfigError (see the
    module docstring)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no job file {path} (give one with --jobs-file PATH; see README, 'Scheduled jobs')"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the job file {path}: {e}") from None
    data = _parse(path, text)
    return _JobsFileChecker(path).check(data, default_store)


class _JobsYamlLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader with two changes for job files.

    - A plain key is text: YAML 1.1 (PyYAML) reads ``on``/``off``/``yes``/``no``
      as booleans, so ``on: [failure]`` in a notify entry became the key True;
      YAML 1.2 and TOML read it as the key ``"on"``.  Values keep PyYAML's
      reading.
    - A key given twice in one mapping is an error naming its line (PyYAML keeps
      the last one silently: a duplicated job name would win unseen; TOML
      refuses it too)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        lines: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if (
                isinstance(key_node, yaml.ScalarNode)
                and key_node.tag == "tag:yaml.org,2002:bool"
                and key_node.style is None
            ):
                key: Any = key_node.value
            else:
                key = self.construct_object(key_node, deep=deep)
            if key in mapping:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first given on line {lines[key] + 1})",
                    key_node.start_mark,
                )
            lines[key] = key_node.start_mark.line
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            data = yaml.load(text, Loader=_JobsYamlLoader)  # a SafeLoader
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
        return {} if data is None else data
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


class _JobsFileChecker:
    """Checks the parsed data, naming the file and the field path in every error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base_dir = path.resolve().parent

    def fail(self, where: str, message: str) -> NoReturn:
        raise ConfigError(f"{self.path}: {where}: {message}")

    def table(self, value: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"must be a table, not {_kind(value)}")
        for key in value:
            if key not in allowed:
                self.fail(f"{where}.{key}", f"unknown key{_suggest(str(key), allowed)}")
        return value

    def check(self, data: Any, default_store: str) -> JobsFile:
        if not isinstance(data, dict):
            self.fail("top level", f"must be a table, not {_kind(data)}")
        self.table(data, "top level", ("scheduler", "jobs"))
        scheduler = self.scheduler(data.get("scheduler", {}), default_store)
        jobs_table = data.get("jobs", {})
        if not isinstance(jobs_table, dict):
            self.fail("jobs", f"must be a table of jobs, not {_kind(jobs_table)}")
        jobs = {}
        for name, raw in jobs_table.items():
            if not JOB_NAME_RE.fullmatch(str(name)):
                self.fail(f"jobs.{name}", "a job name is letters, digits, '_', '.' and '-'")
            jobs[name] = self.job(str(name), raw, scheduler)
        return JobsFile(self.path, self.base_dir, scheduler, jobs)

    def scheduler(self, raw: Any, default_store: str) -> SchedulerConfig:
        where = "scheduler"
        raw = self.table(raw, where, SCHEDULER_KEYS)
        store = self.store(raw.get("store", default_store), f"{where}.store")
        cap = raw.get("max_concurrent_runs", 2)
        if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
            self.fail(f"{where}.max_concurrent_runs", f"takes a whole number >= 1, not {cap!r}")
        runs_dir = raw.get("runs_dir", "runs")
        if not isinstance(runs_dir, str) or not runs_dir:
            self.fail(f"{where}.runs_dir", f"takes a directory path, not {runs_dir!r}")
        scrapyd = raw.get("scrapyd")
        if scrapyd is not None and not (
            isinstance(scrapyd, str) and scrapyd.startswith(("http://", "https://"))
        ):
            self.fail(f"{where}.scrapyd", "takes the Scrapyd URL (http://HOST:6800)")
        grace = self.duration(raw.get("stop_grace", 30), f"{where}.stop_grace")
        keep = raw.get("keep_runs", 100)
        if not isinstance(keep, int) or isinstance(keep, bool) or keep < 0:
            self.fail(
                f"{where}.keep_runs", f"takes a whole number of runs (0: keep all), not {keep!r}"
            )
        return SchedulerConfig(
            store=store,
            runs_dir=self.base_dir / runs_dir,
            max_concurrent_runs=cap,
            scrapyd=scrapyd,
            stop_grace=grace,
            keep_runs=keep,
        )

    def store(self, url: Any, where: str) -> str:
        """A store URL; a relative SQLite path made absolute against the job file's dir."""
        if not isinstance(url, str):
            self.fail(where, f"takes a store URL, not {_kind(url)}")
        try:
            check_store_url(url)
        except ConfigError as e:
            self.fail(where, str(e))
        scheme, sep, rest = url.partition(":///")
        if sep and scheme.startswith("sqlite") and not rest.startswith("/"):
            return absolute_url(f"{scheme}:///{self.base_dir / rest}")
        return url

    def job(self, name: str, raw: Any, scheduler: SchedulerConfig) -> Job:
        where = f"jobs.{name}"
        raw = self.table(raw, where, JOB_KEYS)
        if ("crawl" in raw) == ("spider" in raw):
            self.fail(where, "give either crawl = START_URL or spider = NAME (one of them)")
        values: dict[str, Any] = {"name": name}
        if "crawl" in raw:
            url = raw["crawl"]
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                self.fail(f"{where}.crawl", f"takes the start URL (http[s]://...), not {url!r}")
            self.no_password_url(url, f"{where}.crawl")
            values["crawl"] = url
            for key in ("args", "project"):
                if key in raw:
                    self.fail(f"{where}.{key}", "is for spider jobs (spider = NAME)")
            values["options"] = self.options(raw.get("options", {}), url, f"{where}.options")
        else:
            spider = raw["spider"]
            if not isinstance(spider, str) or not spider:
                self.fail(f"{where}.spider", f"takes a spider name, not {spider!r}")
            values["spider"] = spider
            if "options" in raw:
                self.fail(
                    f"{where}.options", "is for crawl jobs: a spider job takes args and settings"
                )
            args = self.table(raw.get("args", {}), f"{where}.args", tuple(raw.get("args", {})))
            values["args"] = {str(k): _scalar_text(v) for k, v in args.items()}
            for key, value in values["args"].items():
                self.no_password_url(value, f"{where}.args.{key}")
        settings = raw.get("settings", {})
        self.table(
            settings, f"{where}.settings", tuple(settings) if isinstance(settings, dict) else ()
        )
        settings = dict(settings)
        for key in settings:
            if key in ("JOBDIR", "CRAWLER_OUTCOME_FILE"):
                self.fail(f"{where}.settings.{key}", "is set by the scheduler for every run")
            name = str(key)
            if SECRET_NAME.search(name) and not NOT_SECRET_NAME.search(name):
                self.fail(
                    f"{where}.settings.{key}",
                    "looks like a secret and would be on the crawl's command line: "
                    "set it in the project's settings from an environment variable "
                    "(os.environ), or use the variable a setting names (a login: "
                    "password-env / password-file; a feed: CRAWLER_FEED_PASSWORD_ENV)",
                )
            for text in _texts(settings[key]):
                self.no_password_url(text, f"{where}.settings.{key}")
        settings.update(self.success(raw.get("success", {}), f"{where}.success"))
        values["settings"] = settings
        if "store" in raw:
            values["store"] = self.store(raw["store"], f"{where}.store")
            if urlsplit(values["store"]).password:
                self.fail(
                    f"{where}.store",
                    "a password in the store URL would be on the crawl's command line: "
                    "leave it out and give it in PGPASSWORD or ~/.pgpass (libpq reads them)",
                )
        if "schedule" in raw:
            values["schedule"] = self.schedule(raw["schedule"], f"{where}.schedule")
        for key, allowed in (
            ("misfire", MISFIRE_POLICIES),
            ("overlap", OVERLAP_POLICIES),
            ("interrupted", INTERRUPTED_POLICIES),
            ("target", TARGETS),
        ):
            if key in raw:
                if raw[key] not in allowed:
                    self.fail(
                        f"{where}.{key}",
                        f"{raw[key]!r} is not one of {', '.join(map(repr, allowed))}",
                    )
                values[key] = raw[key]
        if "timeout" in raw:
            values["timeout"] = self.duration(raw["timeout"], f"{where}.timeout")
        if values.get("target") == "scrapyd":
            self.scrapyd_job(raw, values, scheduler, where)
        elif "project" in raw:
            self.fail(f"{where}.project", 'is for target = "scrapyd" jobs')
        if "notify" in raw:
            notify = raw["notify"]
            if not isinstance(notify, list):
                self.fail(f"{where}.notify", "takes a list of targets ([[jobs.NAME.notify]])")
            try:
                values["notify"] = parts.parse_targets(notify, f"{where}.notify")
            except ConfigError as e:
                raise ConfigError(f"{self.path}: {e}") from None
        return Job(**values)

    def no_password_url(self, text: str, where: str) -> None:
        """Refuse a URL with a password (``ftp://u:pw@host/``): every value of a
        job ends up on the crawl's command line (``/proc/PID/cmdline``)."""
        if url_credentials(text) is not None or urlsplit_password(text):
            self.fail(
                where,
                "a password in a URL would be on the crawl's command line: leave it out "
                "and give it in the environment (a feed: the variable named by "
                "CRAWLER_FEED_PASSWORD_ENV, default CRAWLER_FEED_PASSWORD; a store: "
                "PGPASSWORD or ~/.pgpass; a site: ~/.netrc or a login's password-env)",
            )

    def scrapyd_job(
        self, raw: dict[str, Any], values: dict[str, Any], scheduler: SchedulerConfig, where: str
    ) -> None:
        if "spider" not in raw:
            self.fail(where, 'a target = "scrapyd" job runs a spider: give spider = NAME')
        if scheduler.scrapyd is None:
            self.fail(where, 'target = "scrapyd" needs the Scrapyd URL: [scheduler] scrapyd = ...')
        project = raw.get("project")
        if not isinstance(project, str) or not project:
            self.fail(f"{where}.project", "takes the Scrapyd project the spider was deployed in")
        values["project"] = project

    def options(self, raw: Any, url: str, where: str) -> dict[str, Any]:
        raw = self.table(raw, where, tuple(raw) if isinstance(raw, dict) else ())
        known = crawl_option_names() - set(RESERVED_OPTIONS)
        for key in raw:
            if key in RESERVED_OPTIONS:
                self.fail(f"{where}.{key}", RESERVED_OPTIONS[key])
            if key not in known:
                self.fail(
                    f"{where}.{key}",
                    f"not an option of crawler crawl{_suggest(key, tuple(sorted(known)))}",
                )
            value = raw[key]
            for text in _texts(value):
                self.no_password_url(text, f"{where}.{key}")
            if isinstance(value, dict) or (
                isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value)
            ):
                self.fail(f"{where}.{key}", "takes a value or a list of values")
        try:
            crawl_parser().parse_args([url, *options_argv(raw)])
        except ConfigError as e:
            self.fail(where, str(e))
        if "login" in raw:
            if "username" not in raw:
                self.fail(f"{where}.login", "logging in needs username = USER")
            if "password-env" not in raw and "password-file" not in raw:
                self.fail(
                    f"{where}.login",
                    "a scheduled run cannot be asked for the password: give "
                    'password-env = "VARIABLE" or password-file = "PATH"',
                )
        specs = raw.get("extract", [])
        for spec in specs if isinstance(specs, list) else [specs]:
            if not (self.base_dir / str(spec)).is_file():
                self.fail(
                    f"{where}.extract",
                    f"no spec file {spec} (relative paths are relative to {self.base_dir})",
                )
        return dict(raw)

    def success(self, raw: Any, where: str) -> dict[str, Any]:
        raw = self.table(raw, where, tuple(SUCCESS_SETTINGS))
        out = {}
        for key, value in raw.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail(f"{where}.{key}", f"takes a number, not {value!r}")
            if key == "max_error_ratio":
                if not 0 <= value <= 1:
                    self.fail(f"{where}.{key}", f"takes a share between 0 and 1, not {value!r}")
            elif not isinstance(value, int) or value < 0:
                self.fail(f"{where}.{key}", f"takes a whole number >= 0, not {value!r}")
            out[SUCCESS_SETTINGS[key]] = value
        return out

    def schedule(self, raw: Any, where: str) -> Schedule:
        raw = self.table(raw, where, SCHEDULE_KEYS)
        if ("cron" in raw) == ("every" in raw):
            self.fail(where, 'give either cron = "MIN HOUR DAY MONTH WEEKDAY" or every = DURATION')
        zone = raw.get("timezone", "UTC")
        try:
            if not isinstance(zone, str):
                raise ValueError
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(
                f"{where}.timezone",
                f"unknown time zone {zone!r}: use an IANA name such as 'Europe/Paris' or 'UTC'",
            )
        if "cron" in raw:
            expr = raw["cron"]
            if not isinstance(expr, str):
                self.fail(f"{where}.cron", f"takes a cron expression, not {_kind(expr)}")
            try:
                trigger = cron_trigger(expr, ZoneInfo(zone))
            except ValueError as e:
                self.fail(
                    f"{where}.cron",
                    f"bad cron expression {expr!r}: {e} (five fields: minute hour "
                    "day-of-month month day-of-week)",
                )
            if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
                self.fail(
                    f"{where}.cron",
                    f"{expr!r} never fires (no such date: check the day of month "
                    "against the month)",
                )
            return Schedule(cron=" ".join(expr.split()), every=None, timezone=zone)
        every = self.duration(raw["every"], f"{where}.every")
        if every < MIN_EVERY:
            self.fail(
                f"{where}.every",
                f"takes at least {MIN_EVERY:g} second, not {raw['every']!r}",
            )
        return Schedule(cron=None, every=every, timezone=zone)

    def duration(self, raw: Any, where: str) -> float:
        try:
            return parse_duration(raw)
        except ValueError as e:
            self.fail(where, str(e))


def parse_duration(raw: Any) -> float:
    """Seconds from a number of seconds or text such as ``"90s"``, ``"30m"``,
    ``"2h"``, ``"1d"``, ``"1h30m"``; ValueError when it is none or not above 0."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        seconds = float(raw)
    elif isinstance(raw, str) and raw.strip():
        text = raw.strip().lower()
        found = list(DURATION_RE.finditer(text))
        if not found or "".join(m.group(0) for m in found).replace(" ", "") != text.replace(
            " ", ""
        ):
            raise ValueError(
                f"{raw!r} is not a duration: write seconds (30) or text such as "
                "'90s', '30m', '2h', '1d', '1h30m'"
            )
        seconds = sum(float(m.group(1)) * DURATION_UNITS[m.group(2)] for m in found)
    else:
        raise ValueError(f"takes a duration (30, '90s', '2h'), not {raw!r}")
    if seconds <= 0:
        raise ValueError(f"takes a duration above 0, not {raw!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """``5400`` -> ``1h30m``, ``1.5`` -> ``1.5s``."""
    if seconds < 60 or seconds != int(seconds):
        return f"{seconds:g}s"
    text, rest = "", int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            text += f"{rest // size}{unit}"
            rest %= size
    return text


def cron_trigger(expr: str, zone: ZoneInfo) -> BaseTrigger:
    """APScheduler's trigger for a five-field crontab line, with cron's meaning.

    - Days of the week: APScheduler 3 reads ``0`` as Monday (its documented
      "historical mistake", fixed in 4.x), cron as Sunday, so the field is
      rewritten as day names first (``1-5`` -> ``mon,tue,wed,thu,fri``).
    - When both the day of month and the day of week are restricted (neither
      starts with ``*``), cron runs on a day that matches *either*
      (crontab(5): "the command will be run when either field matches the
      current time"); APScheduler's CronTrigger wants both, so the line becomes
      an ``OrTrigger`` of one trigger per day field.

    - When the clocks go back (daylight saving time ends), an hour is lived
      twice: APScheduler fires ``30 2 * * *`` in Europe/Paris at 02:30 CEST and
      again at 02:30 CET; cron runs a job once in the repeated hour (the first
      time) when its minute and hour are fixed; a job with a wildcard minute
      or hour (``*/15 * * * *``) runs in both hours (Vixie cron's rule, as
      Debian's cron(8) describes it).  A fixed-time line is wrapped
      (:class:`OncePerWallClockTrigger`) so that the repeats are skipped.

    ValueError when malformed."""
    trigger = _cron_trigger(expr, zone)
    minute, hour = expr.split()[:2]
    if minute.startswith("*") or hour.startswith("*"):
        return trigger
    return OncePerWallClockTrigger(trigger, zone)


def _cron_trigger(expr: str, zone: ZoneInfo) -> BaseTrigger:
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"{len(fields)} fields, not 5")
    any_weekday = fields[4].startswith(("*", "?"))
    fields[4] = cron_weekdays(fields[4])
    minute, hour, day, month, weekday = fields
    if any_weekday or day.startswith(("*", "?")):
        return CronTrigger.from_crontab(" ".join(fields), timezone=zone)
    return OrTrigger(
        [
            CronTrigger.from_crontab(f"{minute} {hour} {day} {month} *", timezone=zone),
            CronTrigger.from_crontab(f"{minute} {hour} * {month} {weekday}", timezone=zone),
        ]
    )


class OncePerWallClockTrigger(BaseTrigger):
    """``trigger``, without a fire whose local wall-clock time in ``zone`` (date
    and time, not the UTC offset) is not after that of the fire before it: a
    time of the hour lived twice when daylight saving time ends that already
    fired in its first pass (cron's behaviour, see :func:`cron_trigger`).
    Fire times are as ``trigger``'s."""

    def __init__(self, trigger: BaseTrigger, zone: ZoneInfo) -> None:
        self.trigger = trigger
        self.zone = zone

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        fire = self.trigger.get_next_fire_time(previous_fire_time, now)
        if previous_fire_time is None:
            return fire
        shown = self._wall_clock(previous_fire_time)
        while fire is not None and self._wall_clock(fire) <= shown:
            fire = self.trigger.get_next_fire_time(fire, fire)
        return fire

    def _wall_clock(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone).replace(tzinfo=None, fold=0)

    def __str__(self) -> str:
        return str(self.trigger)

    def __repr__(self) -> str:
        return f"<OncePerWallClockTrigger {self.trigger!r} ({self.zone})>"


def cron_weekdays(text: str) -> str:
    """A crontab day-of-week field (``0``-``7``, 0 and 7 Sunday, or ``sun``-``sat``;
    lists, ranges and steps) as a list of day names, or ``*``."""
    if text in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in text.lower().split(","):
        span, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"bad step in day of week {part!r}")
            step = int(step_text)
        if span == "*":
            low, high = 0, 6
        elif "-" in span:
            first, _, last = span.partition("-")
            low, high = _weekday(first), _weekday(last)
            if low > high:
                raise ValueError(f"day-of-week range {span!r} runs backwards")
        else:
            low = _weekday(span)
            high = 6 if slash else low
        days.update(day % 7 for day in range(low, high + 1, step))
    return ",".join(DAY_NAMES[day] for day in sorted(days))


def _weekday(text: str) -> int:
    if text in DAY_NAMES:
        return DAY_NAMES.index(text)
    if text.isdigit() and int(text) <= 7:
        return int(text)
    raise ValueError(f"bad day of week {text!r} (0-7 or sun-sat)")


class _RaisingParser(argparse.ArgumentParser):
    """An argument parser whose errors are ConfigErrors (for job-file checks)."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise ConfigError(message or f"exit {status}")


def crawl_parser() -> argparse.ArgumentParser:
    """``crawler crawl``'s own parser (errors raised as ConfigError)."""
    from crawler.commands import crawl  # the command imports Scrapy's machinery

    root = _RaisingParser(prog="crawler", add_help=False)
    subparsers = root.add_subparsers(parser_class=_RaisingParser)
    crawl.add_parser(subparsers)
    return subparsers.choices["crawl"]


def crawl_option_names() -> set[str]:
    """The long options of ``crawler crawl``, without their dashes."""
    return {
        option[2:]
        for action in crawl_parser()._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }


def options_argv(options: dict[str, Any]) -> list[str]:
    """``{"max-pages": 5, "extract": ["a.yaml", "b.yaml"], "ignore-robots": true}`` ->
    ``["--max-pages=5", "--extract=a.yaml", "--extract=b.yaml", "--ignore-robots"]``
    (``false`` omits a flag; ``--name=value``, so a value may start with ``-``)."""
    argv = []
    for name, value in options.items():
        for one in value if isinstance(value, list) else [value]:
            if one is True:
                argv.append(f"--{name}")
            elif one is not False and one is not None:
                argv.append(f"--{name}={_scalar_text(one)}")
    return argv


def _texts(value: Any) -> list[str]:
    """The strings in a value (nested lists and tables, keys too: a FEEDS key is a URI)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*_texts(k), *_texts(v))]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def urlsplit_password(text: str) -> bool:
    """Whether ``text``, a URL as a whole, has a password as urllib reads it."""
    if "://" not in text or "@" not in text:
        return False
    try:
        return bool(urlsplit(text.strip()).password)
    except ValueError:
        return False


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _kind(value: Any) -> str:
    return {dict: "a table", list: "a list", str: "text"}.get(type(value), type(value).__name__)


def _suggest(key: str, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint}; allowed: {', '.join(allowed)}" if allowed else hint
