"""The environment of the crawl's child processes (``crawler.childenv``): no secrets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from crawler import childenv
from crawler.login.config import read_password
from crawler.redaction import SecretMasker

if TYPE_CHECKING:
    from pathlib import Path

ENVIRON = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "XAUTHORITY": "/home/u/.Xauthority",
    "SSH_AUTH_SOCK": "/tmp/ssh-x/agent.1",
    "PGPASSWORD": "pg-pw",
    "AWS_SECRET_ACCESS_KEY": "aws-key-value",
    "GITHUB_TOKEN": "gh-token-value",
    "MY_BANK": "pw123",  # a password read from this variable: see the test
    "SHORT": "pw",
    "https_proxy": "http://proxy-user:proxy-pw@proxy.example:3128",
    "no_proxy": "127.0.0.1,localhost",
}


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(childenv, "_names", {childenv.PROMPT_ENV})
    monkeypatch.setattr(childenv, "_values", set())
    monkeypatch.setattr(childenv.redaction, "MASKER", SecretMasker())


def test_secret_looking_names_are_left_out_and_what_a_child_needs_kept() -> None:
    env = childenv.child_environment(ENVIRON)
    assert set(env) == {
        "PATH",
        "LANG",
        "XAUTHORITY",
        "SSH_AUTH_SOCK",
        "MY_BANK",
        "SHORT",
        "https_proxy",
        "no_proxy",
    }
    # the proxy is kept, its password is not
    assert env["https_proxy"] == "http://proxy.example:3128"


def test_the_variable_a_password_was_read_from_is_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_BANK", "pw123")
    assert read_password("MY_BANK", None) == "pw123"
    env = childenv.child_environment({**ENVIRON, "COPY": "pw123", "HOLDS": "x-pw123-y"})
    assert "MY_BANK" not in env
    assert "COPY" not in env  # the same value under another name
    assert env["HOLDS"] == "x-pw123-y"  # shorter than six characters: only an exact match
    assert env["SHORT"] == "pw"


def test_a_password_read_from_a_file_is_left_out_wherever_it_is(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("long-file-password\n")
    assert read_password(None, str(tmp_path / "pw")) == "long-file-password"
    env = childenv.child_environment({"PATH": "/bin", "OPTS": "--pw=long-file-password"})
    assert env == {"PATH": "/bin"}


def test_secret_setting_values_the_masker_knows_are_left_out() -> None:
    childenv.redaction.MASKER.add("ftp-secret-1")
    env = childenv.child_environment({"PATH": "/bin", "FEED": "ftp-secret-1"})
    assert env == {"PATH": "/bin"}


def test_the_prompted_password_variable_is_always_left_out() -> None:
    env = childenv.child_environment({"PATH": "/bin", childenv.PROMPT_ENV: "typed"})
    assert env == {"PATH": "/bin"}
