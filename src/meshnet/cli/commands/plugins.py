"""``meshnet plugins list | serve``, and the subcommands plug-ins add to ``meshnet``.

``list`` shows each installed plug-in, its package and what it adds (``--json``: one
document, with the ones left out and why). Registering this group also registers every
plug-in's own subcommands (``meshnet.cli.plugins``).
"""

from __future__ import annotations

import argparse
import importlib.metadata

from meshnet.cli.output import dump_json, table
from meshnet.cli.plugins import add_cli_commands, cli_plugins
from meshnet.plugins import ENTRY_POINT_GROUP, LoadedPlugin, Plugin, load_plugins

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
