"""meshnet-echo: the example MeshNet plug-in (a CLI command, two shell commands, a handler).

Declared in ``pyproject.toml`` under the entry point group ``meshnet.plugins``::

    [project.entry-points."meshnet.plugins"]
    echo = "meshnet_echo:EchoPlugin"
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence

from meshnet.plugins import IncomingMessage, Plugin, Reply, ShellCommand, ShellContext

__all__ = ["ECHO_PREFIX", "EchoPlugin"]

ECHO_PREFIX = "echo: "
"""What the auto-reply starts with; a message starting with it is never answered."""


class EchoPlugin(Plugin):
    name = "echo"

    def add_cli_commands(
        self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]
    ) -> None:
        parser = subparsers.add_parser("echo", help="print the words given (example plug-in)")
        parser.add_argument("words", nargs="+", metavar="TEXT")
        parser.add_argument("--json", action="store_true", help="print one JSON string")
        parser.set_defaults(handler=_echo_cli)

    def shell_commands(self) -> Mapping[str, ShellCommand]:
        return {
            "echo": ShellCommand(run=_echo_shell, usage="TEXT...", help="print the words given"),
            "uptime": ShellCommand(run=_uptime, help="how long the node has been on the mesh"),
        }

    def on_message(self, message: IncomingMessage, reply: Reply) -> None:
        if message.text.startswith(ECHO_PREFIX):
            return
        reply(f"{ECHO_PREFIX}{message.text}")


def _echo_cli(args: argparse.Namespace) -> int:
    text = " ".join(args.words)
    print(json.dumps(text) if args.json else text)
    return 0


def _echo_shell(context: ShellContext, args: Sequence[str]) -> None:
    context.write(" ".join(args))


def _uptime(context: ShellContext, args: Sequence[str]) -> None:
    """The node's uptime if it reports one, else how long it has been on the mesh."""
    status = context.client.status()
    seconds = status.get("uptime") if isinstance(status, dict) else None
    if isinstance(seconds, int | float):
        context.write(f"up {_duration(seconds)}")
        return
    answer = context.client.links()
    links = answer.get("links", []) if isinstance(answer, dict) else []
    ages = [
        (link["age"], link["peer"]) for link in links if isinstance(link.get("age"), int | float)
    ]
    if not ages:
        context.write("not linked to the mesh")
        return
    age, peer = max(ages)
    context.write(f"on the mesh for {_duration(age)} (oldest link: to {peer[:8]})")


def _duration(seconds: float) -> str:
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    parts += [f"{minutes}m", f"{secs}s"]
    return " ".join(parts)
