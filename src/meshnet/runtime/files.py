"""Crash-safe small files: write to a temporary file, fsync, rename, fsync the directory.

Used for everything the node keeps in single small files (the identity key, the
trust-on-first-use record). A crash at any moment leaves either the old file or the
new one, never a torn one; the file is created with the given mode from the start, so
a key is never readable by others, not even for an instant.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["sync_directory", "write_atomic"]

_POSIX = os.name == "posix"


def write_atomic(target: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``target`` with ``data`` atomically; missing parents are made with 0700.

    Raises:
        OSError: the file could not be written (the old one, if any, is untouched).
    """
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        try:
            if _POSIX:
                os.fchmod(fd, mode)
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp_name, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    sync_directory(target.parent)


def sync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX); best effort elsewhere."""
    if not _POSIX:
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
