"""``meshnet up``: run this node in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from meshnet.runtime.daemon import DEFAULT_LISTEN, DaemonOptions, run_daemon
from meshnet.runtime.keyfile import default_state_dir

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``meshnet up`` to the root parser."""
    up = subparsers.add_parser(
        "up",
        help="run this node in the foreground",
        description="Run this node: listen for neighbours, dial configured peers, "
        "and report what happens until interrupted (Ctrl-C or SIGTERM).",
    )
    up.add_argument(
        "--home",
        type=Path,
        default=None,
        help="state directory (default: $MESHNET_HOME or the platform's data directory)",
    )
    up.add_argument(
        "--listen",
        action="append",
        metavar="ENDPOINT",
        help="listen on tcp:HOST:PORT or udp:HOST:PORT (repeatable; default: "
        + " ".join(DEFAULT_LISTEN)
        + ")",
    )
    up.add_argument(
        "--connect",
        action="append",
        default=[],
        metavar="[NODE@]ENDPOINT",
        help="stay linked to this peer; with NODE@ its identity must match (repeatable)",
    )
    up.add_argument("--classic", action="store_true", help="turn the post-quantum hybrid off")
    up.add_argument(
        "--no-discovery",
        action="store_true",
        help="do not beacon on the LAN nor link to the nodes heard there",
    )
    up.add_argument("--json", action="store_true", help="report events as JSON lines")
    up.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    home = args.home or Path(os.environ.get("MESHNET_HOME") or default_state_dir())
    options = DaemonOptions(
        home=home,
        listen=tuple(args.listen or DEFAULT_LISTEN),
        connect=tuple(args.connect),
        json_events=args.json,
        hybrid=not args.classic,
        discovery=not args.no_discovery,
    )
    return asyncio.run(run_daemon(options))
