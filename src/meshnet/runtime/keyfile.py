"""Identity key files on disk: atomic 0600 writes, careful reads, default locations.

The file's contents are ``Identity.to_bytes()`` (docs/protocol/identity.md §4). This
module adds what only the runtime may do: touch the filesystem.

* ``save_identity`` writes a temporary file created with mode 0600 in the target's
  directory, fsyncs it, then renames it over the target (``os.replace``), so a crash
  leaves either the old file or the new one, never a torn one. Missing parent
  directories are created with mode 0700.
* ``load_identity`` refuses, with a ``KeyFileError`` naming the file and the problem, a
  missing file, a directory, a file other users may read or write (``chmod 600``), an
  oversized file, and anything ``Identity.from_bytes`` refuses (truncated, corrupted,
  foreign format, other kind). Messages never contain key bytes.
* ``default_state_dir``/``default_identity_path`` give the default location: the state
  directory ``runtime/home.py`` resolves (``$MESHNET_HOME``, else the platform's).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from meshnet.crypto.identity import KEY_FILE_SIZE, Identity
from meshnet.errors import KeyFileError
from meshnet.runtime.files import write_atomic
from meshnet.runtime.home import resolve_home

__all__ = [
    "IDENTITY_FILE_NAME",
    "default_identity_path",
    "default_state_dir",
    "load_identity",
    "save_identity",
]

IDENTITY_FILE_NAME = "identity.key"
_MAX_READ = 64 * 1024  # far above KEY_FILE_SIZE; stops us reading a huge wrong file
_POSIX = os.name == "posix"


def default_state_dir(
    environ: Mapping[str, str] | None = None, platform: str | None = None
) -> Path:
    """The directory MeshNet keeps its state in (``home.resolve_home`` without a flag).

    Args:
        environ: the environment to consult (default ``os.environ``).
        platform: a ``sys.platform`` value (default: this machine's).
    """
    return resolve_home(None, environ, platform).root


def default_identity_path(
    environ: Mapping[str, str] | None = None, platform: str | None = None
) -> Path:
    """Where the node's identity key file lives by default (``<state dir>/identity.key``)."""
    return default_state_dir(environ, platform) / IDENTITY_FILE_NAME


def save_identity(
    path: str | os.PathLike[str], identity: Identity, *, overwrite: bool = False
) -> None:
    """Write ``identity``'s key file to ``path`` atomically, readable by its owner only.

    Args:
        path: the key file to write.
        identity: the identity to store.
        overwrite: replace an existing file; without it an existing file is an error.

    Raises:
        KeyFileError: the file exists (and ``overwrite`` is false), or it cannot be
            written; the message names the file.
    """
    target = Path(path)
    if not overwrite and (target.exists() or target.is_symlink()):
        raise KeyFileError(f"{target}: already exists; refusing to replace an identity")
    try:
        write_atomic(target, identity.to_bytes(), mode=0o600)
    except OSError as exc:
        raise KeyFileError(f"{target}: cannot write the key file ({_reason(exc)})") from None


def load_identity(path: str | os.PathLike[str]) -> Identity:
    """Read an identity key file written by ``save_identity``.

    Raises:
        KeyFileError: the message names the file and what is wrong: missing, not a
            regular file, open to group/others (with the ``chmod 600`` to run),
            unreadable, too large, truncated, corrupted, or not a MeshNet identity.
    """
    target = Path(path)
    try:
        info = target.stat()
    except FileNotFoundError:
        raise KeyFileError(f"{target}: no such key file") from None
    except OSError as exc:
        raise KeyFileError(f"{target}: cannot read the key file ({_reason(exc)})") from None
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"{target}: not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if _POSIX and mode & 0o077:
        raise KeyFileError(
            f"{target}: key file is accessible to other users (mode {mode:03o}); "
            f"run: chmod 600 {target}"
        )
    if info.st_size > _MAX_READ:
        raise KeyFileError(
            f"{target}: too large to be a key file ({info.st_size} bytes; "
            f"an identity key file is {KEY_FILE_SIZE})"
        )
    try:
        with target.open("rb") as handle:
            data = handle.read(_MAX_READ + 1)
    except OSError as exc:
        raise KeyFileError(f"{target}: cannot read the key file ({_reason(exc)})") from None
    try:
        return Identity.from_bytes(data)
    except KeyFileError as exc:
        raise KeyFileError(f"{target}: {exc}") from None


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
