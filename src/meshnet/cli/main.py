"""The ``meshnet`` command: argument parsing, the subcommand registry and exit codes.

Each command group lives in ``meshnet.cli.commands.<group>`` and exposes
``register(subparsers)``, which adds its parsers and sets ``handler`` on them: a
function ``(args) -> int``. A user mistake (``LocalError``) prints one readable line
and exits with status 2; no traceback is shown for it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from meshnet.cli.commands import COMMAND_GROUPS
from meshnet.errors import LocalError, MeshnetError
from meshnet.version import __version__

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meshnet",
        description="MeshNet: a decentralized, end-to-end encrypted mesh network.",
    )
    parser.add_argument("--version", action="version", version=f"meshnet {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(handler(args))
    except LocalError as exc:
        print(f"meshnet: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except MeshnetError as exc:
        print(f"meshnet: failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
