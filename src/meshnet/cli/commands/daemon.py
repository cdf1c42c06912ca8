"""``meshnet up``: run this node in the foreground until Ctrl-C or SIGTERM.

The settings come from ``config.toml`` in the state directory (the defaults when there
is none); the flags override them. A bad config or flag, a damaged state file or a port
in use is one line on stderr and exit status 2; nothing is started then.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from meshnet.runtime.config import DEFAULT_PORT, load_config, with_overrides
from meshnet.runtime.daemon import DaemonOptions, run_daemon
from meshnet.runtime.home import resolve_home

__all__ = ["add_home_argument", "register"]


def add_home_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--home`` flag every command that uses the state directory takes."""
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        metavar="DIR",
        help="state directory (default: $MESHNET_HOME, else the platform's state directory, "
        "e.g. ~/.local/state/meshnet)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``meshnet up`` to the root parser."""
    up = subparsers.add_parser(
        "up",
        help="run this node in the foreground",
        description="Run this node: listen for neighbours, find nodes on the LAN, link to "
        "the bootstrap peers, and report what happens until interrupted (Ctrl-C or "
        "SIGTERM). Settings come from config.toml in the state directory (see "
        "`meshnet init`); flags override them.",
    )
    add_home_argument(up)
    up.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="the config file (default: config.toml in the state directory; "
        "the defaults when it does not exist)",
    )
    up.add_argument(
        "--listen",
        action="append",
        metavar="ENDPOINT",
        help="listen on tcp:HOST:PORT or udp:HOST:PORT (repeatable; replaces [listen] "
        f"endpoints; default: tcp:0.0.0.0:{DEFAULT_PORT} udp:0.0.0.0:{DEFAULT_PORT})",
    )
    up.add_argument(
        "--connect",
        action="append",
        default=[],
        metavar="[NODE@]ENDPOINT",
        help="stay linked to this peer, in addition to [peers] bootstrap; with NODE@ "
        "(a node id or a petname) its identity must match (repeatable)",
    )
    up.add_argument("--classic", action="store_true", help="turn the post-quantum hybrid off")
    up.add_argument(
        "--no-discovery",
        action="store_true",
        help="do not beacon on the LAN nor link to the nodes heard there",
    )
    up.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default=None,
        help="the least severe log lines shown (default: [logging] level, else info)",
    )
    up.add_argument("--json", action="store_true", help="report events as JSON lines on stdout")
    up.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    home = resolve_home(args.home)
    config_path: Path = args.config if args.config is not None else home.config
    config = load_config(config_path, missing_ok=args.config is None)
    config = with_overrides(
        config,
        listen=args.listen,
        connect=args.connect,
        discovery=False if args.no_discovery else None,
        hybrid=False if args.classic else None,
        log_level=args.log_level,
    )
    options = DaemonOptions(home=home, config=config, json_events=args.json)
    return asyncio.run(run_daemon(options))
