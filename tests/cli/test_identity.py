"""``meshnet identity new | show``: output, JSON, refusals and exit codes."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from meshnet.cli.main import main
from meshnet.crypto.keys import base32_encode
from meshnet.runtime.keyfile import load_identity

JSON_KEYS = {
    "node_id",
    "short",
    "mesh_address",
    "created",
    "created_utc",
    "static_public",
    "file",
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("MESHNET_HOME", str(state))
    return state


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_no_secrets(path: Path, *texts: str) -> None:
    identity = load_identity(path)
    raw = path.read_bytes()
    for secret in (raw[18:50], identity.static_private_bytes()):
        for encoded in (
            secret.hex(),
            base32_encode(secret),
            base64.b64encode(secret).decode().rstrip("="),
        ):
            assert all(encoded not in text for text in texts)


def test_new_writes_the_default_file_and_shows_public_facts(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "identity", "new")
    assert code == 0, err
    path = home / "identity.key"
    identity = load_identity(path)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"Created a new identity in {path}" in out
    assert str(identity.node_id) in out
    assert f"short:        {identity.node_id.short()}" in out
    assert str(identity.node_id.mesh_address) in out
    assert identity.static_public.hex() in out
    assert f"unix {identity.created}" in out
    _assert_no_secrets(path, out, err)


def test_new_json_is_one_object_matching_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "custom" / "node.key"
    code, out, _ = _run(capsys, "identity", "new", "--file", str(path), "--json")
    assert code == 0
    summary = json.loads(out)
    assert out.count("\n") == 1
    assert set(summary) == JSON_KEYS
    identity = load_identity(path)
    assert summary["node_id"] == str(identity.node_id)
    assert summary["short"] == identity.node_id.short()
    assert summary["mesh_address"] == str(identity.node_id.mesh_address)
    assert summary["static_public"] == identity.static_public.hex()
    assert summary["created"] == identity.created
    assert summary["file"] == str(path)
    _assert_no_secrets(path, out)


def test_new_refuses_to_overwrite_without_force(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "identity", "new")[0] == 0
    path = home / "identity.key"
    before = path.read_bytes()
    code, out, err = _run(capsys, "identity", "new")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("meshnet: error: ")
    assert str(path) in err and "--force" in err
    assert path.read_bytes() == before


def test_new_with_force_replaces_the_identity(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "identity", "new")
    old = load_identity(home / "identity.key").node_id
    code, _, _ = _run(capsys, "identity", "new", "--force")
    assert code == 0
    assert load_identity(home / "identity.key").node_id != old


def test_show_prints_what_new_printed(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, created, _ = _run(capsys, "identity", "new", "--json")
    code, shown, _ = _run(capsys, "identity", "show", "--json")
    assert code == 0
    assert json.loads(shown) == json.loads(created)
    code, text, _ = _run(capsys, "identity", "show")
    assert code == 0
    assert json.loads(shown)["node_id"] in text
    assert "Created" not in text


def test_show_missing_file_is_a_user_error_with_a_hint(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "identity", "show")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "no such key file" in err and "meshnet identity new" in err


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_show_refuses_a_key_file_open_to_others(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "identity", "new")
    path = home / "identity.key"
    path.chmod(0o644)
    code, out, err = _run(capsys, "identity", "show")
    assert code == 2
    assert out == ""
    assert f"chmod 600 {path}" in err
    assert err.count("\n") == 1


def test_show_reports_a_corrupted_file(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "identity", "new")
    path = home / "identity.key"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    code, _, err = _run(capsys, "identity", "show", "--json")
    assert code == 2
    assert "corrupted" in err and str(path) in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG applies on Linux")
def test_default_file_follows_xdg_state_home_without_meshnet_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MESHNET_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    code, out, _ = _run(capsys, "identity", "new", "--json")
    assert code == 0
    expected = tmp_path / "xdg" / "meshnet" / "identity.key"
    assert json.loads(out)["file"] == str(expected)
    assert expected.is_file()


def test_identity_without_subcommand_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _run(capsys, "identity")
    assert code == 2
    assert "new or show" in err


def test_unknown_flag_exits_with_usage_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["identity", "show", "--bogus"])
    assert info.value.code == 2
    assert "--bogus" in capsys.readouterr().err
