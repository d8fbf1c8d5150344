"""Feeds delivered to a server: ``-o ftp://...`` and ``-o sftp://...``
(crawler.feedstorage), against a real FTP server (pyftpdlib) and a real SSH/SFTP
server (paramiko) the tests start on free loopback ports.

Passwords come from the environment or a netrc file; one given in the URI is
accepted with a warning; none ever shows in the output, the log or the store.
A feed that cannot be delivered fails the command (exit code 1) and is kept
in a local file.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import Spider
from scrapy.utils.test import get_crawler

from crawler.addon import CrawlerAddon, framework_settings
from crawler.childenv import child_environment
from crawler.cli import main
from crawler.commands.crawl import _resumed_feeds
from crawler.commands.options import output_feed
from crawler.exceptions import FeedConfigError, FeedDeliveryError
from crawler.feedstorage.config import FeedConfig, feed_login
from crawler.feedstorage.ftp import FTPFeedStorage
from crawler.feedstorage.sftp import SFTPFeedStorage
from crawler.redaction import MASKER
from tests import ftpserver, sftpserver
from tests.crawltools import read_store, run_crawler, subprocess_env
from tests.ftpserver import FTPTestServer
from tests.sftpserver import SFTPTestServer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fixtures.tinysite.server import TinySite

ENV_PASSWORD = "env-wrong-pw-31337"
URI_PASSWORD = "uri-wrong-pw-4242"


@pytest.fixture(scope="module")
def ftp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FTPTestServer]:
    with FTPTestServer(tmp_path_factory.mktemp("ftp")) as server:
        yield server


@pytest.fixture(scope="module")
def sftp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SFTPTestServer]:
    with SFTPTestServer(tmp_path_factory.mktemp("sftp") / "root") as server:
        yield server


@pytest.fixture
def known_hosts(tmp_path: Path, sftp: SFTPTestServer) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(sftp.known_hosts_line)
    return path


def config(tmp_path: Path, **settings: Any) -> FeedConfig:
    return FeedConfig.from_settings(
        framework_settings({"CRAWLER_FEED_UNDELIVERED_DIR": str(tmp_path / "kept"), **settings})
    )


def send(
    storage_class: type[FTPFeedStorage | SFTPFeedStorage],
    uri: str,
    data: bytes,
    feed_config: FeedConfig,
    overwrite: bool = True,
) -> None:
    """Deliver ``data`` as the storage does when a feed closes (in the calling thread)."""
    storage = storage_class(uri, feed_config, feed_options={"overwrite": overwrite})
    with tempfile.NamedTemporaryFile(prefix="feed-") as file:  # as BlockingFeedStorage.open
        file.write(data)
        storage._store_in_thread(file)
        assert file.closed


def crawl_env(password: str) -> dict[str, str]:
    return {**subprocess_env(), "CRAWLER_FEED_PASSWORD": password}


def store_text(db: Path) -> str:
    """Every run's settings and stats as the store keeps them."""
    with sqlite3.connect(db) as conn:
        return json.dumps(conn.execute("select settings, stats from runs").fetchall())


# -- whole crawls ----------------------------------------------------------------


def test_a_crawl_delivers_its_feeds_over_ftp_and_sftp(
    tinysite: TinySite, tmp_path: Path, ftp: FTPTestServer, sftp: SFTPTestServer, known_hosts: Path
) -> None:
    netrc = tmp_path / "netrc"  # the SFTP password; the FTP one comes from the environment
    netrc.write_text(f"machine 127.0.0.1 login {sftpserver.USER} password {sftpserver.PASSWORD}\n")
    db = tmp_path / "crawl.db"
    result = run_crawler(
        *("crawl", tinysite.url("/"), "--max-pages", "8", "--store", f"sqlite:///{db}"),
        *("-o", ftp.url("/feeds/deep/pages.jsonl"), "-o", sftp.url("/~/out/pages.json")),
        *("-s", f"CRAWLER_FEED_NETRC={netrc}"),
        *("-s", f"CRAWLER_FEED_SFTP_KNOWN_HOSTS={known_hosts}"),
        cwd=tmp_path,
        env=crawl_env(ftpserver.PASSWORD),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    pages, _ = read_store(db)
    urls = {page["url"] for page in pages}
    assert len(urls) >= 5
    delivered = ftp.home / "feeds" / "deep" / "pages.jsonl"  # directories created
    lines = delivered.read_text(encoding="utf-8").splitlines()
    assert {json.loads(line)["url"] for line in lines} == urls
    records = json.loads((sftp.root / "out" / "pages.json").read_text(encoding="utf-8"))
    assert {record["url"] for record in records} == urls
    n = len(pages)
    assert f"Stored jsonlines feed ({n} items) in: ftp://feeder@127.0.0.1" in result.stderr
    assert f"Stored json feed ({n} items) in: sftp://sfeeder@127.0.0.1" in result.stderr
    assert not list(tmp_path.glob("undelivered-*"))
    for secret in (ftpserver.PASSWORD, sftpserver.PASSWORD):
        assert secret not in result.stdout + result.stderr + store_text(db)


def test_feeds_that_cannot_be_delivered_fail_the_crawl_and_are_kept(
    tinysite: TinySite, tmp_path: Path, ftp: FTPTestServer, sftp: SFTPTestServer
) -> None:
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    db = tmp_path / "crawl.db"
    uri_with_password = ftp.url("/uri.jsonl").replace("feeder@", f"feeder:{URI_PASSWORD}@")
    result = run_crawler(
        *("crawl", tinysite.url("/"), "--max-pages", "5", "--store", f"sqlite:///{db}"),
        *("-o", uri_with_password, "-o", ftp.url("/env.jsonl"), "-o", sftp.url("/key.jsonl")),
        *("-s", f"CRAWLER_FEED_SFTP_KNOWN_HOSTS={empty_known_hosts}"),
        *("-s", "CRAWLER_FEED_UNDELIVERED_DIR=kept"),
        *("-s", "CRAWLER_FEED_PREFLIGHT=False"),  # learnt at the end, as without the check
        cwd=tmp_path,
        env=crawl_env(ENV_PASSWORD),
    )
    assert result.returncode == 1, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    [error] = errors
    assert error.startswith("error: 3 output file(s) could not be written: ")
    assert error.endswith(" (crawl failed: feed_failed)")
    log = result.stderr
    port = ftp.port
    # the one error line names each feed (password masked) and its local copy
    for shown in (
        f"ftp://feeder:***@127.0.0.1:{port}/uri.jsonl",
        f"ftp://feeder@127.0.0.1:{port}/env.jsonl",
        f"{sftp.url('/key.jsonl')}",
    ):
        assert shown in error, error
    assert error.count("(records kept in ") == 3
    assert "see the log" not in error
    assert f"ftp://feeder:***@127.0.0.1:{port}/uri.jsonl holds a password" in log
    refused = "could not be delivered: the server refused the login of 'feeder' with the password"
    assert f"ftp://feeder:***@127.0.0.1:{port}/uri.jsonl {refused} from the URI" in log
    assert f"ftp://feeder@127.0.0.1:{port}/env.jsonl {refused} from $CRAWLER_FEED_PASSWORD" in log
    assert f"the host key of [127.0.0.1]:{sftp.port} (ecdsa-sha2-nistp256 SHA256:" in log
    assert f"is not in {empty_known_hosts}" in log
    assert "Traceback" not in log
    for secret in (URI_PASSWORD, ENV_PASSWORD):
        assert secret not in result.stdout + log + store_text(db)
    assert not (sftp.root / "key.jsonl").exists()
    # every record of each feed kept locally, and the log says where
    pages, _ = read_store(db)
    kept = sorted((tmp_path / "kept").iterdir())
    # (names start with the UTC second each failed in: sorted by the feed's own name)
    assert sorted(p.name.rsplit("-", 1)[-1] for p in kept) == [
        "env.jsonl",
        "key.jsonl",
        "uri.jsonl",
    ]
    for path in kept:
        assert f"its records were kept in {path}" in log
        assert f"(records kept in {path})" in error
        lines = path.read_text(encoding="utf-8").splitlines()
        assert {json.loads(line)["url"] for line in lines} == {p["url"] for p in pages}


def test_crawler_export_delivers_over_ftp(
    tinysite: TinySite,
    tmp_path: Path,
    ftp: FTPTestServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "crawl.db"
    crawled = run_crawler(
        *("crawl", tinysite.url("/"), "--max-pages", "3", "--store", f"sqlite:///{db}"),
        cwd=tmp_path,
    )
    assert crawled.returncode == 0, crawled.stderr[-2000:]
    monkeypatch.chdir(tmp_path)  # where an undelivered copy goes
    export = ["export", "1", "--what", "pages", "--store", f"sqlite:///{db}", "-o"]
    monkeypatch.setenv("CRAWLER_FEED_PASSWORD", ftpserver.PASSWORD)
    assert main([*export, ftp.url("/export/pages.jsonl")]) == 0
    pages, _ = read_store(db)
    shown = ftp.url("/export/pages.jsonl")
    assert capsys.readouterr().err == f"{len(pages)} pages written to {shown}\n"
    assert main([*export, "local.jsonl"]) == 0
    delivered = ftp.home / "export" / "pages.jsonl"
    assert delivered.read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    capsys.readouterr()

    monkeypatch.setenv("CRAWLER_FEED_PASSWORD", ENV_PASSWORD)
    assert main([*export, ftp.url("/export/refused.jsonl")]) == 1
    err = capsys.readouterr().err
    [kept] = tmp_path.glob("undelivered-*-refused.jsonl")
    assert err == (
        f"error: {ftp.url('/export/refused.jsonl')} could not be delivered: the server "
        "refused the login of 'feeder' with the password from $CRAWLER_FEED_PASSWORD; "
        f"its records were kept in {kept}\n"
    )
    assert kept.read_bytes() == (tmp_path / "local.jsonl").read_bytes()


# -- the storages, called as the feed export calls them --------------------------


@pytest.mark.parametrize("scheme", ["ftp", "sftp"])
def test_overwrite_false_appends_and_true_replaces(
    scheme: str,
    tmp_path: Path,
    ftp: FTPTestServer,
    sftp: SFTPTestServer,
    known_hosts: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if scheme == "ftp":
        storage, uri, remote = FTPFeedStorage, ftp.url("/append/a.jsonl"), ftp.home
        monkeypatch.setenv("CRAWLER_FEED_PASSWORD", ftpserver.PASSWORD)
    else:
        storage, uri, remote = SFTPFeedStorage, sftp.url("/append/a.jsonl"), sftp.root
        monkeypatch.setenv("CRAWLER_FEED_PASSWORD", sftpserver.PASSWORD)
    feed_config = config(tmp_path, CRAWLER_FEED_SFTP_KNOWN_HOSTS=str(known_hosts))
    send(storage, uri, b'{"n": 1}\n', feed_config)
    send(storage, uri, b'{"n": 2}\n', feed_config, overwrite=False)  # a resumed crawl
    assert (remote / "append" / "a.jsonl").read_bytes() == b'{"n": 1}\n{"n": 2}\n'
    send(storage, uri, b'{"n": 3}\n', feed_config)
    assert (remote / "append" / "a.jsonl").read_bytes() == b'{"n": 3}\n'


def test_a_resumed_crawl_appends_to_its_remote_json_lines_feeds() -> None:
    feeds = dict(
        output_feed(uri, "crawler.items.PageRecord")
        for uri in ("sftp://u@h/p.jsonl", "ftp://u@h/p.jsonl")
    )
    assert all(feed["overwrite"] for feed in feeds.values())  # a new crawl replaces them
    assert not any(feed["overwrite"] for feed in _resumed_feeds(feeds).values())


def test_sftp_logs_in_with_a_key_file(
    tmp_path: Path, sftp: SFTPTestServer, known_hosts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRAWLER_FEED_PASSWORD", raising=False)
    settings = {
        "CRAWLER_FEED_SFTP_KNOWN_HOSTS": str(known_hosts),
        "CRAWLER_FEED_SFTP_KEY_FILE": str(sftp.key_file),
    }
    send(SFTPFeedStorage, sftp.url("/keyed.jsonl"), b"{}\n", config(tmp_path, **settings))
    assert (sftp.root / "keyed.jsonl").read_bytes() == b"{}\n"


def test_an_unknown_host_key_is_accepted_only_when_the_check_is_off(
    tmp_path: Path,
    sftp: SFTPTestServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("CRAWLER_FEED_PASSWORD", sftpserver.PASSWORD)
    nowhere = tmp_path / "no-known-hosts"
    nowhere.write_text("")
    settings: dict[str, Any] = {"CRAWLER_FEED_SFTP_KNOWN_HOSTS": str(nowhere)}
    with pytest.raises(FeedDeliveryError, match=r"the host key of \[127\.0\.0\.1\]"):
        send(SFTPFeedStorage, sftp.url("/unchecked.jsonl"), b"{}\n", config(tmp_path, **settings))
    assert not (sftp.root / "unchecked.jsonl").exists()
    settings["CRAWLER_FEED_SFTP_HOST_KEY_CHECK"] = False
    with caplog.at_level(logging.WARNING, logger="crawler.feedstorage.sftp"):
        send(SFTPFeedStorage, sftp.url("/unchecked.jsonl"), b"{}\n", config(tmp_path, **settings))
    assert (sftp.root / "unchecked.jsonl").exists()
    fingerprint = sftp.host_key.fingerprint
    assert f"Accepting the unknown host key of [127.0.0.1]:{sftp.port}" in caplog.text
    assert fingerprint in caplog.text


def test_a_changed_host_key_is_refused_even_with_the_check_off(
    tmp_path: Path, sftp: SFTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRAWLER_FEED_PASSWORD", sftpserver.PASSWORD)
    other = sftpserver.paramiko.ECDSAKey.generate()
    changed = tmp_path / "known_hosts"
    changed.write_text(f"[127.0.0.1]:{sftp.port} {other.get_name()} {other.get_base64()}\n")
    settings = {
        "CRAWLER_FEED_SFTP_KNOWN_HOSTS": str(changed),
        "CRAWLER_FEED_SFTP_HOST_KEY_CHECK": False,
    }
    with pytest.raises(FeedDeliveryError, match=r"is not the one in .*nothing was sent"):
        send(SFTPFeedStorage, sftp.url("/changed.jsonl"), b"{}\n", config(tmp_path, **settings))
    assert not (sftp.root / "changed.jsonl").exists()


def test_a_server_that_refuses_the_write_is_one_line(
    tmp_path: Path, ftp: FTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRAWLER_FEED_PASSWORD", ftpserver.PASSWORD)
    uri = ftp.url("/ro.jsonl", user=ftpserver.READONLY)
    with pytest.raises(FeedDeliveryError) as error:
        send(FTPFeedStorage, uri, b"{}\n", config(tmp_path))
    message = str(error.value)
    assert message.startswith(f"{uri} could not be delivered: 127.0.0.1:{ftp.port} answered '550")
    assert "for /ro.jsonl; its records were kept in" in message
    assert "\n" not in message


@pytest.mark.parametrize("storage", [FTPFeedStorage, SFTPFeedStorage])
def test_a_server_that_is_not_there_is_one_line(
    storage: type[FTPFeedStorage | SFTPFeedStorage], tmp_path: Path
) -> None:
    uri = f"{'ftp' if storage is FTPFeedStorage else 'sftp'}://u@127.0.0.1:9/x.jsonl"
    with pytest.raises(FeedDeliveryError) as error:
        send(storage, uri, b"{}\n", config(tmp_path))
    assert str(error.value).startswith(
        f"{uri} could not be delivered: 127.0.0.1:9 refused the connection"
    )


# -- where passwords come from ---------------------------------------------------


def test_the_password_comes_from_the_netrc_entry_of_the_host_and_user(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(
        "machine feeds.example login alice password alice-pw\n"
        "machine other.example login bob password bob-pw\n"
    )
    feed_config = config(tmp_path, CRAWLER_FEED_NETRC=str(netrc))
    env = {"CRAWLER_FEED_PASSWORD": "from-env"}
    found = feed_login("ftp://h/x", "feeds.example", "alice", None, feed_config, env)
    assert (found.user, found.password, found.source) == ("alice", "alice-pw", str(netrc))
    found = feed_login("ftp://h/x", "feeds.example", "", None, feed_config, env)
    assert (found.user, found.password) == ("alice", "alice-pw")  # the URI names no user
    found = feed_login("ftp://h/x", "feeds.example", "carol", None, feed_config, env)
    assert (found.user, found.password) == ("carol", "from-env")  # alice's is not carol's
    assert found.source == "$CRAWLER_FEED_PASSWORD"
    found = feed_login("ftp://h/x", "feeds.example", "alice", "in-uri", feed_config, env)
    assert (found.password, found.source) == ("in-uri", "the URI")
    assert "alice-pw" not in repr(found) and "in-uri" not in repr(found)


def test_the_password_variable_stays_out_of_child_processes_and_logs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FEEDPW_OF_THIS_TEST", "feed-pw-in-env-97")
    settings = {"ADDONS": {CrawlerAddon: 0}, "CRAWLER_FEED_PASSWORD_ENV": "FEEDPW_OF_THIS_TEST"}
    crawler = get_crawler(Spider, settings)
    SFTPFeedStorage.from_crawler(crawler, "sftp://u@h/x.jsonl")  # as the feed export builds it
    assert "FEEDPW_OF_THIS_TEST" in os.environ
    assert "FEEDPW_OF_THIS_TEST" not in child_environment()  # chromedriver, Chromium
    assert MASKER.mask("said feed-pw-in-env-97") == "said ***"


def test_feed_files_that_cannot_be_used_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(FeedConfigError, match=f"CRAWLER_FEED_NETRC: no file {tmp_path}/nope"):
        config(tmp_path, CRAWLER_FEED_NETRC=str(tmp_path / "nope"))
    with pytest.raises(FeedConfigError, match="CRAWLER_FEED_SFTP_KEY_FILE: no file"):
        config(tmp_path, CRAWLER_FEED_SFTP_KEY_FILE=str(tmp_path / "nope"))
    broken = tmp_path / "netrc"
    broken.write_text("machine h login u s3cret-in-netrc\n")  # "password" left out
    with pytest.raises(FeedConfigError) as error:
        config(tmp_path, CRAWLER_FEED_NETRC=str(broken))
    assert str(error.value).startswith(f"the netrc file {broken} does not parse at line ")
    assert "s3cret-in-netrc" not in str(error.value)


def test_a_missing_netrc_file_stops_the_crawl_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "c.db"
    crawl = ["crawl", "http://127.0.0.1:9/", "--store", f"sqlite:///{db}"]
    feed = ["-o", "sftp://u@127.0.0.1:9/x.jsonl", "-s", f"CRAWLER_FEED_NETRC={tmp_path}/nope"]
    assert main([*crawl, *feed]) == 2  # the settings check, before any crawl
    assert capsys.readouterr().err == f"error: CRAWLER_FEED_NETRC: no file {tmp_path}/nope\n"
    assert not db.exists()


# -- found before the crawl ----------------------------------------------------------


def test_a_key_file_that_is_not_a_key_is_named_when_the_settings_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_key = tmp_path / "id_notakey"
    not_a_key.write_text("this is not a private key\n")
    with pytest.raises(FeedConfigError) as error:
        config(tmp_path, CRAWLER_FEED_SFTP_KEY_FILE=str(not_a_key))
    assert str(error.value).startswith(
        f"CRAWLER_FEED_SFTP_KEY_FILE: {not_a_key} is not a private key paramiko can read"
    )
    db = tmp_path / "c.db"
    crawl = ["crawl", "http://127.0.0.1:9/", "--store", f"sqlite:///{db}"]
    feed = ["-o", "sftp://u@127.0.0.1:9/x.jsonl", "-s", f"CRAWLER_FEED_SFTP_KEY_FILE={not_a_key}"]
    assert main([*crawl, *feed]) == 2  # the settings check, before any crawl
    err = capsys.readouterr().err
    assert err.startswith(f"error: CRAWLER_FEED_SFTP_KEY_FILE: {not_a_key} is not a private key")
    assert not db.exists()


def test_a_feed_server_that_would_refuse_the_feed_stops_the_crawl_before_it_starts(
    tinysite: TinySite,
    tmp_path: Path,
    ftp: FTPTestServer,
    sftp: SFTPTestServer,
    known_hosts: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """crawler crawl and extract connect to each ftp/sftp feed first (login, host
    key, directory): a wrong password or an unknown host key is exit 2 and one
    line, and nothing is crawled; CRAWLER_FEED_PREFLIGHT=False skips the check."""
    db = tmp_path / "c.db"
    crawl = ["crawl", tinysite.url("/"), "--max-pages", "2", "--store", f"sqlite:///{db}"]
    skip = "CRAWLER_FEED_PREFLIGHT=False skips the check"
    seen = len(tinysite.requests_seen)

    monkeypatch.setenv("CRAWLER_FEED_PASSWORD", ENV_PASSWORD)
    assert main([*crawl, "-o", ftp.url("/pre/x.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: ftp://feeder@127.0.0.1:{ftp.port}/pre/x.jsonl cannot be delivered: the server "
        "refused the login of 'feeder' with the password from $CRAWLER_FEED_PASSWORD "
        f"(tried before the crawl; {skip})\n"
    )
    assert ENV_PASSWORD not in err

    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    monkeypatch.setenv("CRAWLER_FEED_PASSWORD", sftpserver.PASSWORD)
    sftp_feed = ["-o", sftp.url("/~/pre/x.jsonl"), "-s", f"CRAWLER_FEED_SFTP_KNOWN_HOSTS={empty}"]
    assert main([*crawl, *sftp_feed]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: sftp://sfeeder@127.0.0.1:{sftp.port}/~/pre/x.jsonl cannot be ")
    assert f"is not in {empty}" in err and err.endswith(f"; {skip})\n") and err.count("\n") == 1
    extract = ["extract", tinysite.url("/"), "--field", "t=css:title", *sftp_feed]
    assert main(extract) == 2
    assert f"is not in {empty}" in capsys.readouterr().err
    assert len(tinysite.requests_seen) == seen  # nothing crawled
    assert not db.exists()

    # The right login and host key: the directory is made before the crawl starts.
    good = ["-o", sftp.url("/~/pre/made/%(name)s/x.jsonl")]
    good += ["-s", f"CRAWLER_FEED_SFTP_KNOWN_HOSTS={known_hosts}"]
    assert main([*crawl, *good]) == 0
    assert (sftp.root / "pre" / "made" / "site" / "x.jsonl").is_file()
