"""``meshnet identity new | show``: create and inspect this node's identity key file.

Both commands work on the key file directly (no running node is needed). The default
file is ``$MESHNET_HOME/identity.key``, else the platform's state directory
(``runtime.keyfile.default_identity_path``). Output shows public facts only: the full
node id, its short form, the mesh IPv6 address, the creation time and the X25519
static public key. ``--json`` prints them as one JSON object instead.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path
from typing import Any

from meshnet.crypto.entropy import SystemEntropy
from meshnet.crypto.identity import Identity
from meshnet.errors import KeyFileError
from meshnet.runtime.keyfile import default_identity_path, load_identity, save_identity

__all__ = ["identity_summary", "register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``meshnet identity`` and its subcommands to the root parser."""
    group = subparsers.add_parser(
        "identity",
        help="create or show this node's identity",
        description="Create or show this node's identity (its key file).",
    )
    group.set_defaults(handler=lambda _args: _usage(group))
    commands = group.add_subparsers(dest="identity_command", metavar="SUBCOMMAND")

    new = commands.add_parser(
        "new",
        help="create a new identity key file",
        description="Generate a new identity and write it to the key file (mode 0600).",
    )
    _add_common(new)
    new.add_argument(
        "--force",
        action="store_true",
        help="replace an existing key file (the identity in it is lost for good)",
    )
    new.set_defaults(handler=_run_new)

    show = commands.add_parser(
        "show",
        help="show the identity in a key file",
        description="Show the public facts of the identity in the key file.",
    )
    _add_common(show)
    show.set_defaults(handler=_run_show)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--file",
        metavar="PATH",
        type=Path,
        default=None,
        help="the identity key file (default: $MESHNET_HOME/identity.key, else in the "
        "platform's state directory)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    print("meshnet identity: error: choose a subcommand: new or show", file=sys.stderr)
    return 2


def _key_path(args: argparse.Namespace) -> Path:
    path: Path | None = args.file
    return path if path is not None else default_identity_path()


def identity_summary(identity: Identity, path: Path) -> dict[str, Any]:
    """The public facts about ``identity`` that the commands print (never private keys)."""
    created = datetime.datetime.fromtimestamp(identity.created, tz=datetime.UTC)
    return {
        "node_id": str(identity.node_id),
        "short": identity.node_id.short(),
        "mesh_address": str(identity.node_id.mesh_address),
        "created": identity.created,
        "created_utc": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "static_public": identity.static_public.hex(),
        "file": str(path),
    }


def _print(summary: dict[str, Any], *, as_json: bool, headline: str | None) -> None:
    if as_json:
        print(json.dumps(summary, sort_keys=True))
        return
    if headline:
        print(headline)
    rows = [
        ("node id", summary["node_id"]),
        ("short", summary["short"]),
        ("mesh address", summary["mesh_address"]),
        ("created", f"{summary['created_utc']} (unix {summary['created']})"),
        ("static key", f"{summary['static_public']} (X25519 public)"),
        ("key file", summary["file"]),
    ]
    width = max(len(label) for label, _ in rows) + 1
    for label, value in rows:
        print(f"{label + ':':<{width}} {value}")


def _run_new(args: argparse.Namespace) -> int:
    path = _key_path(args)
    if not args.force and (path.exists() or path.is_symlink()):
        raise KeyFileError(
            f"{path}: already exists; pass --force to replace it "
            "(the identity in it will be lost for good)"
        )
    identity = Identity.generate(SystemEntropy(), created=int(time.time()))
    save_identity(path, identity, overwrite=args.force)
    _print(
        identity_summary(identity, path),
        as_json=args.json,
        headline=f"Created a new identity in {path}",
    )
    return 0


def _run_show(args: argparse.Namespace) -> int:
    path = _key_path(args)
    if not path.exists() and not path.is_symlink():
        raise KeyFileError(f"{path}: no such key file; create one with `meshnet identity new`")
    identity = load_identity(path)
    _print(identity_summary(identity, path), as_json=args.json, headline=None)
    return 0
