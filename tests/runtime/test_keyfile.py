"""Key files: 0600 atomic writes, and a clear KeyFileError for every way a file is wrong."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity
from meshnet.crypto.keys import base32_encode
from meshnet.errors import KeyFileError
from meshnet.runtime.keyfile import (
    default_identity_path,
    default_state_dir,
    load_identity,
    save_identity,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


@pytest.fixture
def identity() -> Identity:
    return Identity.generate(SeededEntropy(5, "keyfile"), created=1_700_000_000)


def _secret_encodings(identity: Identity) -> list[str]:
    secrets = [identity.to_bytes()[18:50], identity.static_private_bytes()]
    out: list[str] = []
    for s in secrets:
        out += [s.hex(), base32_encode(s), base64.b64encode(s).decode().rstrip("=")]
    return out


def _load_error(path: Path, identity: Identity) -> str:
    with pytest.raises(KeyFileError) as info:
        load_identity(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    for encoded in _secret_encodings(identity):
        assert encoded not in message
    return message


def test_save_then_load_round_trip(tmp_path: Path, identity: Identity) -> None:
    path = tmp_path / "identity.key"
    save_identity(path, identity)
    loaded = load_identity(path)
    assert loaded.node_id == identity.node_id
    assert loaded.record == identity.record
    assert loaded.static_private_bytes() == identity.static_private_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["identity.key"]  # no temp file left


@posix_only
def test_saved_file_has_mode_0600_even_with_a_permissive_umask(
    tmp_path: Path, identity: Identity
) -> None:
    old = os.umask(0)
    try:
        save_identity(tmp_path / "state" / "identity.key", identity)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "state" / "identity.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700


def test_save_refuses_to_replace_unless_asked(tmp_path: Path, identity: Identity) -> None:
    path = tmp_path / "identity.key"
    save_identity(path, identity)
    other = Identity.generate(SeededEntropy(6), created=0)
    with pytest.raises(KeyFileError, match="already exists") as info:
        save_identity(path, other)
    assert str(path) in str(info.value)
    assert load_identity(path).node_id == identity.node_id
    save_identity(path, other, overwrite=True)
    assert load_identity(path).node_id == other.node_id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["identity.key"]


def test_save_into_an_unwritable_place_names_the_file(tmp_path: Path, identity: Identity) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_bytes(b"")
    with pytest.raises(KeyFileError, match="cannot write") as info:
        save_identity(blocker / "identity.key", identity)
    assert str(blocker / "identity.key") in str(info.value)


def test_failed_write_leaves_no_temp_file_and_keeps_the_old_one(
    tmp_path: Path, identity: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "identity.key"
    save_identity(path, identity)
    before = path.read_bytes()

    def refuse(src: str, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    other = Identity.generate(SeededEntropy(7), created=0)
    with pytest.raises(KeyFileError, match="cannot write the key file") as info:
        save_identity(path, other, overwrite=True)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["identity.key"]


def test_path_through_a_file_is_unreadable(tmp_path: Path, identity: Identity) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    assert "cannot read the key file" in _load_error(blocker / "identity.key", identity)


def test_missing_file(tmp_path: Path, identity: Identity) -> None:
    assert "no such key file" in _load_error(tmp_path / "nope.key", identity)


def test_directory_is_not_a_key_file(tmp_path: Path, identity: Identity) -> None:
    assert "not a regular file" in _load_error(tmp_path, identity)


@posix_only
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o602, 0o700 | 0o010])
def test_file_open_to_others_is_refused_with_the_fix(
    tmp_path: Path, identity: Identity, mode: int
) -> None:
    path = tmp_path / "identity.key"
    save_identity(path, identity)
    path.chmod(mode)
    message = _load_error(path, identity)
    assert f"mode {mode:03o}" in message
    assert f"chmod 600 {path}" in message


@posix_only
def test_owner_only_modes_are_fine(tmp_path: Path, identity: Identity) -> None:
    path = tmp_path / "identity.key"
    save_identity(path, identity)
    path.chmod(0o400)
    assert load_identity(path).node_id == identity.node_id


def _write_0600(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


@pytest.mark.parametrize("keep", [0, 1, 9, 50, 113])
def test_truncated_file(tmp_path: Path, identity: Identity, keep: int) -> None:
    path = tmp_path / "identity.key"
    _write_0600(path, identity.to_bytes()[:keep])
    message = _load_error(path, identity)
    assert ("empty" if keep == 0 else "truncated") in message


def test_corrupted_file(tmp_path: Path, identity: Identity) -> None:
    data = bytearray(identity.to_bytes())
    data[40] ^= 0x01
    path = tmp_path / "identity.key"
    _write_0600(path, bytes(data))
    assert "corrupted" in _load_error(path, identity)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n", "PEM"),
        (b"[node]\nlisten = '0.0.0.0:4000'\n", "text file"),
        (bytes(range(256)), "unknown format"),
    ],
)
def test_wrong_kind_of_file(
    tmp_path: Path, identity: Identity, content: bytes, reason: str
) -> None:
    path = tmp_path / "identity.key"
    _write_0600(path, content)
    message = _load_error(path, identity)
    assert "not a MeshNet key file" in message and reason in message


def test_huge_file_is_not_read(tmp_path: Path, identity: Identity) -> None:
    path = tmp_path / "identity.key"
    _write_0600(path, b"\x00" * (1 << 20))
    assert "too large" in _load_error(path, identity)


@pytest.mark.parametrize(
    ("environ", "platform", "expected"),
    [
        ({"MESHNET_HOME": "/srv/mesh", "HOME": "/home/u"}, "linux", "/srv/mesh"),
        ({"HOME": "/home/u"}, "linux", "/home/u/.local/state/meshnet"),
        ({"HOME": "/h", "LOCALAPPDATA": "/appdata"}, "win32", "/appdata/MeshNet"),
    ],
)
def test_default_locations(environ: dict[str, str], platform: str, expected: str) -> None:
    assert default_state_dir(environ, platform) == Path(expected)
    assert default_identity_path(environ, platform) == Path(expected) / "identity.key"
