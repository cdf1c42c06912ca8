"""The state directory: where it is on each platform, what overrides it, its paths and mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from meshnet.runtime.home import Home, default_home, resolve_home


@pytest.mark.parametrize(
    ("environ", "platform", "expected"),
    [
        ({"HOME": "/home/u"}, "linux", "/home/u/.local/state/meshnet"),
        ({"HOME": "/home/u", "XDG_STATE_HOME": "/state"}, "linux", "/state/meshnet"),
        ({"HOME": "/home/u", "XDG_STATE_HOME": "rel"}, "linux", "/home/u/.local/state/meshnet"),
        ({"HOME": "/home/u", "XDG_DATA_HOME": "/data"}, "linux", "/home/u/.local/state/meshnet"),
        ({"HOME": "/home/u"}, "freebsd14", "/home/u/.local/state/meshnet"),
        (
            {"HOME": "/Users/u", "XDG_STATE_HOME": "/state"},
            "darwin",
            "/Users/u/Library/Application Support/MeshNet",
        ),
        ({"HOME": "/h", "LOCALAPPDATA": "/appdata"}, "win32", "/appdata/MeshNet"),
        ({"HOME": "/h"}, "win32", "/h/AppData/Local/MeshNet"),
    ],
)
def test_platform_defaults(environ: dict[str, str], platform: str, expected: str) -> None:
    assert default_home(environ, platform) == Path(expected)
    assert resolve_home(None, environ, platform).root == Path(expected)


def test_flag_beats_environment_beats_default() -> None:
    env = {"HOME": "/home/u", "MESHNET_HOME": "/srv/mesh"}
    assert resolve_home(None, env, "linux").root == Path("/srv/mesh")
    assert resolve_home(Path("/flag"), env, "linux").root == Path("/flag")
    assert resolve_home(None, {"HOME": "/home/u", "MESHNET_HOME": ""}, "linux").root == Path(
        "/home/u/.local/state/meshnet"
    )
    assert resolve_home("~/x", {"HOME": "/home/u"}, "linux").root == Path.home() / "x"


def test_paths_inside_the_directory() -> None:
    home = Home(Path("/s"))
    assert home.identity_key == Path("/s/identity.key")
    assert home.config == Path("/s/config.toml")
    assert home.messages_db == Path("/s/messages.db")
    assert home.api_socket == Path("/s/api.sock")
    assert home.api_token == Path("/s/api.token")
    assert home.known_peers == Path("/s/known_peers.json")
    assert home.content_cache == Path("/s/cache")
    assert home.resolve("api.sock") == Path("/s/api.sock")
    assert home.resolve("/run/m.sock") == Path("/run/m.sock")


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_create_is_owner_only_even_with_a_loose_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        home = Home(tmp_path / "a" / "b")
        assert home.create() is True
    finally:
        os.umask(old)
    assert stat.S_IMODE(home.root.stat().st_mode) == 0o700
    assert not home.open_to_others()
    assert home.create() is False
    home.root.chmod(0o755)
    assert home.open_to_others()


def test_create_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(NotADirectoryError):
        Home(tmp_path / "f").create()
