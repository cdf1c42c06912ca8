"""The state directory: where it is, what lives in it, and creating it owner-only.

One directory holds everything a node keeps between runs::

    identity.key        the node's key pair (mode 0600; runtime/keyfile.py)
    config.toml         the settings (runtime/config.py; optional: defaults without it)
    messages.db         the message store (SQLite, WAL; runtime/msgstore.py)
    known_peers.json    trust-on-first-use pins (runtime/knownpeers.py)
    api.sock            the local API's Unix socket (mode 0600)
    cache/              the content cache

Where it is, first match wins: the ``--home`` flag; ``$MESHNET_HOME``; the platform's
convention for application state:

* Linux and other Unix: ``$XDG_STATE_HOME/meshnet`` (an absolute ``XDG_STATE_HOME``
  only, as the XDG spec says), else ``~/.local/state/meshnet``;
* macOS: ``~/Library/Application Support/MeshNet``;
* Windows: ``%LOCALAPPDATA%\\MeshNet``.

The directory is created with mode 0700 (only its owner may list or enter it).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["HOME_ENV", "Home", "default_home", "resolve_home"]

HOME_ENV = "MESHNET_HOME"
"""The environment variable naming the state directory (the ``--home`` flag wins)."""


def default_home(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The platform's state directory for MeshNet (``$MESHNET_HOME`` is not consulted).

    Args:
        environ: the environment to consult (default ``os.environ``).
        platform: a ``sys.platform`` value (default: this machine's).
    """
    env = os.environ if environ is None else environ
    plat = sys.platform if platform is None else platform
    user = Path(env["HOME"]) if env.get("HOME") else Path.home()
    if plat == "darwin":
        return user / "Library" / "Application Support" / "MeshNet"
    if plat == "win32":
        local = env.get("LOCALAPPDATA")
        return (Path(local) if local else user / "AppData" / "Local") / "MeshNet"
    xdg = env.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():  # the XDG spec says to ignore relative paths
        return Path(xdg) / "meshnet"
    return user / ".local" / "state" / "meshnet"


def resolve_home(
    flag: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
) -> Home:
    """The state directory in use: ``flag``, else ``$MESHNET_HOME``, else the default.

    Args:
        flag: the ``--home`` argument, if given.
        environ: the environment to consult (default ``os.environ``).
        platform: a ``sys.platform`` value (default: this machine's).
    """
    env = os.environ if environ is None else environ
    if flag is not None and str(flag):
        return Home(Path(flag).expanduser())
    if env.get(HOME_ENV):
        return Home(Path(env[HOME_ENV]).expanduser())
    return Home(default_home(env, platform))


@dataclass(frozen=True, slots=True)
class Home:
    """A state directory and the paths of what lives in it."""

    root: Path

    @property
    def identity_key(self) -> Path:
        """The identity key file."""
        return self.root / "identity.key"

    @property
    def config(self) -> Path:
        """The TOML config file."""
        return self.root / "config.toml"

    @property
    def messages_db(self) -> Path:
        """The SQLite message store."""
        return self.root / "messages.db"

    @property
    def known_peers(self) -> Path:
        """The trust-on-first-use record."""
        return self.root / "known_peers.json"

    @property
    def api_socket(self) -> Path:
        """The local API's Unix socket (unless the config names another)."""
        return self.root / "api.sock"

    @property
    def api_token(self) -> Path:
        """The token file for the API on TCP (unless the config names another)."""
        return self.root / "api.token"

    @property
    def content_cache(self) -> Path:
        """The content cache directory."""
        return self.root / "cache"

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """``path`` with ``~`` expanded; a relative path is taken inside the directory."""
        expanded = Path(path).expanduser()
        return expanded if expanded.is_absolute() else self.root / expanded

    def create(self) -> bool:
        """Create the directory (and missing parents) with mode 0700.

        Returns:
            True if it was created, False if it existed already (its mode is left as is).

        Raises:
            OSError: it cannot be created, or the path is not a directory.
        """
        try:
            self.root.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            if not self.root.is_dir():
                raise NotADirectoryError(f"{self.root}: exists and is not a directory") from None
            return False
        if os.name == "posix":  # mkdir's mode is filtered by the umask; make it exact
            os.chmod(self.root, 0o700)
        return True

    def open_to_others(self) -> bool:
        """True when group or other users may read, write or enter the directory."""
        if os.name != "posix":
            return False
        try:
            return bool(stat.S_IMODE(self.root.stat().st_mode) & 0o077)
        except OSError:
            return False
