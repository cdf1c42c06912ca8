"""``meshnet shell``: the interactive ``meshnet>`` prompt on the running node.

At a terminal it is the prompt_toolkit shell (history in the state directory, tab
completion). With input from a file or a pipe it runs the lines as a script, echoing
each after the prompt: ``meshnet shell < tour.txt``. Plug-ins add their commands.
"""

from __future__ import annotations

import argparse
import sys

from meshnet.cli.commands.common import (
    EXIT_NOT_RUNNING,
    add_node_options,
    open_client,
    state_dir,
)
from meshnet.cli.plugins import cli_plugins, report
from meshnet.cli.shell import Shell, run_interactive, run_script, stdin_is_terminal

__all__ = ["HISTORY_FILE", "register"]

HISTORY_FILE = "shell_history"
"""The shell's history file, in the state directory."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``meshnet shell``."""
    shell = subparsers.add_parser(
        "shell",
        help="the interactive meshnet> shell",
        description="An interactive shell on the running node: connect, send, chat, "
        "peers, status, routes --watch ... ('help' lists them all).",
    )
    add_node_options(shell, json=False)
    shell.add_argument(
        "--no-echo", action="store_true", help="in script mode, do not echo the commands"
    )
    shell.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from meshnet.api.client import DaemonNotRunning  # noqa: PLC0415

    client = open_client(args)
    try:
        me = client.identity()
    except DaemonNotRunning as exc:
        print(f"meshnet: failed: {exc}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    interactive = stdin_is_terminal()
    shell = Shell(client, plugins=cli_plugins(), interactive=interactive)
    report(shell.failures)
    if not interactive:
        return run_script(shell, sys.stdin, echo=not args.no_echo)
    node_id = me.get("node_id", "?") if isinstance(me, dict) else "?"
    greeting = f"MeshNet shell on node {node_id}. Type 'help' for the commands, 'exit' to leave."
    return run_interactive(shell, history=state_dir(args) / HISTORY_FILE, greeting=greeting)
