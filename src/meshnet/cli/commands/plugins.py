"""``meshnet plugins list | serve``, and the subcommands plug-ins add to ``meshnet``.

``list`` shows each installed plug-in, its package and what it adds (``--json``: one
document, with the ones left out and why). ``serve`` runs the plug-ins' message
handlers: it follows the node's event stream and gives each ``MessageReceived`` to
every handler, once, while it runs (messages received while it is not running are in
the inbox, not replayed). Registering this group also registers every
plug-in's own subcommands (``meshnet.cli.plugins``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys

from meshnet.cli.commands.common import Answer, add_node_options, node_command
from meshnet.cli.output import dump_json, field, short_id, table
from meshnet.cli.plugins import add_cli_commands, cli_plugins
from meshnet.cli.remote import NodeApi, messaging
from meshnet.plugins import (
    ENTRY_POINT_GROUP,
    IncomingMessage,
    LoadedPlugin,
    Plugin,
    dispatch_message,
    load_plugins,
)

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``meshnet plugins`` and every plug-in's subcommands to the root parser."""
    group = subparsers.add_parser(
        "plugins",
        help="list plug-ins, run their message handlers",
        description="Plug-ins are packages declaring an entry point in the group "
        f"{ENTRY_POINT_GROUP!r}; see docs/plugins.md.",
    )
    commands = group.add_subparsers(dest="plugins_command", metavar="SUBCOMMAND")
    group.set_defaults(handler=_list)
    listing = commands.add_parser("list", help="the installed plug-ins and what they add")
    listing.add_argument("--json", action="store_true", help="print one JSON document")
    listing.set_defaults(handler=_list)
    serve = commands.add_parser(
        "serve",
        help="run the plug-ins' message handlers on the running node",
        description="Follow the running node's event stream and give every message it "
        "receives to each plug-in's message handler (replies are sent through the node). "
        "Runs until Ctrl-C.",
    )
    serve.add_argument("--count", type=int, default=None, metavar="N", help="stop after N messages")
    add_node_options(serve, json=False)
    serve.set_defaults(handler=node_command(_serve))
    add_cli_commands(subparsers, cli_plugins())


def _provides(plugin: Plugin) -> list[str]:
    hooks = []
    kind = type(plugin)
    if kind.add_cli_commands is not Plugin.add_cli_commands:
        hooks.append("cli")
    if kind.shell_commands is not Plugin.shell_commands:
        hooks.append("shell")
    if kind.on_message is not Plugin.on_message:
        hooks.append("messages")
    return hooks


def _describe(loaded: LoadedPlugin) -> dict[str, object]:
    return {
        "name": loaded.name,
        "distribution": loaded.distribution,
        "entry_point": loaded.entry_point,
        "provides": _provides(loaded.plugin),
    }


def _list(args: argparse.Namespace) -> int:
    plugins, failures = load_plugins(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    if getattr(args, "json", False):
        body = {
            "plugins": [_describe(p) for p in plugins],
            "skipped": [{"name": f.name, "error": f.error} for f in failures],
        }
        print(dump_json(body))
        return 0
    rows = [
        (p.name, p.distribution, ", ".join(_provides(p.plugin)) or "nothing", p.entry_point)
        for p in plugins
    ]
    print(table(("name", "package", "provides", "entry point"), rows, empty="no plug-ins"))
    for failure in failures:
        print(f"skipped {failure.name}: {failure.error}")
    return 0


def to_incoming(event: dict[str, object]) -> IncomingMessage | None:
    """The message a ``MessageReceived`` event carries (None for a binary body)."""
    body = event.get("text")
    sender = event.get("peer", event.get("sender"))
    if not isinstance(body, str) or not isinstance(sender, str):
        return None
    created = event.get("created")
    return IncomingMessage(
        id=str(event.get("id")),
        sender=sender,
        text=body,
        sent_at=float(created) if isinstance(created, int | float) else None,
    )


def _serve(client: NodeApi, args: argparse.Namespace) -> Answer:
    handlers = [p for p in cli_plugins() if "messages" in _provides(p.plugin)]
    if not handlers:
        return Answer(None, "no installed plug-in handles messages", status=2)
    names = ", ".join(p.name for p in handlers)
    handled = 0
    for event in client.events(["MessageReceived"]):
        kind = field(event, "event", "kind")
        if kind == "Subscribed":  # only now is no message missed: say so
            print(f"handling received messages with: {names} (Ctrl-C stops)", flush=True)
            continue
        if kind != "MessageReceived":
            continue
        message = to_incoming(event)
        if message is None:
            continue

        def reply(text: str, sender: str = message.sender) -> object:
            return messaging(client).send_message(sender, text)

        failures = dispatch_message(handlers, message, reply)
        for failure in failures:
            print(f"meshnet: {failure}", file=sys.stderr, flush=True)
        print(f"handled {message.id} from {short_id(message.sender)}", flush=True)
        handled += 1
        if args.count is not None and handled >= args.count:
            break
    return Answer(None, "")
