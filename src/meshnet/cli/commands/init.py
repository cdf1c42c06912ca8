"""``meshnet init``: make a state directory with an identity and a commented config.

It creates the directory (mode 0700), a new identity (``identity.key``, mode 0600) and
``config.toml`` with every key at its default and a comment saying what it does. An
existing identity is never replaced without ``--force`` (it is the node's name on the
mesh); an existing config is kept (and checked) rather than rewritten. It says what it
made and what it kept.
"""

from __future__ import annotations

import argparse
import json
import time

from meshnet.cli.commands.daemon import add_home_argument
from meshnet.crypto.entropy import SystemEntropy
from meshnet.crypto.identity import Identity
from meshnet.errors import KeyFileError, LocalError
from meshnet.runtime.config import load_config
from meshnet.runtime.configtext import default_config_text
from meshnet.runtime.files import write_atomic
from meshnet.runtime.home import resolve_home
from meshnet.runtime.keyfile import save_identity

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``meshnet init`` to the root parser."""
    init = subparsers.add_parser(
        "init",
        help="create the state directory, an identity and a default config",
        description="Create the state directory (mode 0700) with a new identity and a "
        "commented default config.toml. An existing identity is kept unless --force; an "
        "existing config.toml is always kept.",
    )
    add_home_argument(init)
    init.add_argument(
        "--force",
        action="store_true",
        help="replace an existing identity (the old one is lost for good)",
    )
    init.add_argument("--json", action="store_true", help="print what was done as JSON")
    init.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    home = resolve_home(args.home)
    key = home.identity_key
    if not args.force and (key.exists() or key.is_symlink()):
        raise KeyFileError(
            f"{key}: an identity already exists; pass --force to replace it "
            "(the identity in it will be lost for good)"
        )
    config_exists = home.config.exists()
    if config_exists:
        load_config(home.config)  # a broken config is reported before anything is made
    try:
        created_dir = home.create()
    except OSError as exc:
        raise LocalError(f"{home.root}: cannot create the state directory ({exc})") from None
    identity = Identity.generate(SystemEntropy(), created=int(time.time()))
    save_identity(key, identity, overwrite=args.force)
    if not config_exists:
        try:
            write_atomic(home.config, default_config_text().encode(), mode=0o600)
        except OSError as exc:
            raise LocalError(f"{home.config}: cannot write the config ({exc})") from None
    report = {
        "home": str(home.root),
        "home_created": created_dir,
        "node_id": str(identity.node_id),
        "identity": str(key),
        "config": str(home.config),
        "config_created": not config_exists,
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{'Created' if created_dir else 'Using'} the state directory {home.root}")
    print(f"  identity.key  a new identity: {identity.node_id}")
    if config_exists:
        print("  config.toml   kept the existing config (it is valid)")
    else:
        print("  config.toml   the default config, every key commented")
    if not created_dir and home.open_to_others():
        print(f"warning: other users can enter {home.root}; run: chmod 700 {home.root}")
    print("Start the node with: meshnet up" + (f" --home {home.root}" if args.home else ""))
    return 0
