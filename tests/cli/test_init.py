"""``meshnet init``: the state directory, the identity and the commented default config."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from meshnet.cli.main import main
from meshnet.runtime.config import Config, load_config
from meshnet.runtime.configtext import default_config_text
from meshnet.runtime.keyfile import load_identity

POSIX = os.name == "posix"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_makes_directory_identity_and_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "a" / "state"
    code, out, err = run(capsys, "init", "--home", str(home))
    assert (code, err) == (0, "")
    identity = load_identity(home / "identity.key")
    assert f"Created the state directory {home}" in out
    assert str(identity.node_id) in out and "config.toml" in out
    assert (home / "config.toml").read_text() == default_config_text()
    assert load_config(home / "config.toml") == Config()
    if POSIX:
        assert mode(home) == 0o700
        assert mode(home / "identity.key") == 0o600


def test_an_existing_identity_is_kept_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "state"
    assert run(capsys, "init", "--home", str(home))[0] == 0
    key = (home / "identity.key").read_bytes()
    code, out, err = run(capsys, "init", "--home", str(home))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "already exists" in err and "--force" in err
    assert (home / "identity.key").read_bytes() == key


def test_force_replaces_the_identity_and_keeps_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "state"
    assert run(capsys, "init", "--home", str(home))[0] == 0
    before = load_identity(home / "identity.key").node_id
    (home / "config.toml").write_text('[node]\nname = "kitchen"\n')
    code, out, _ = run(capsys, "init", "--home", str(home), "--force", "--json")
    report = json.loads(out)
    assert code == 0 and report["node_id"] != str(before)
    assert report["node_id"] == str(load_identity(home / "identity.key").node_id)
    assert report["home_created"] is False and report["config_created"] is False
    assert load_config(home / "config.toml").node.name == "kitchen"


def test_a_broken_config_is_reported_before_anything_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "state"
    home.mkdir()
    (home / "config.toml").write_text("[listen]\nport = 1\n")
    code, _, err = run(capsys, "init", "--home", str(home))
    assert code == 2
    assert f"{home / 'config.toml'}: listen.port: unknown key" in err
    assert not (home / "identity.key").exists()


def test_meshnet_home_is_used_and_the_flag_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MESHNET_HOME", str(tmp_path / "env"))
    assert run(capsys, "init")[0] == 0
    assert (tmp_path / "env" / "identity.key").is_file()
    assert run(capsys, "init", "--home", str(tmp_path / "flag"))[0] == 0
    assert (tmp_path / "flag" / "config.toml").is_file()


def test_a_file_in_the_way_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("")
    code, _, err = run(capsys, "init", "--home", str(tmp_path / "f"))
    assert code == 2 and err.count("\n") == 1 and "state directory" in err
