"""Command groups of the ``meshnet`` CLI; each module exposes ``register(subparsers)``."""

from __future__ import annotations

from types import ModuleType

from meshnet.cli.commands import (
    daemon,
    identity,
    init,
    message,
    node,
    plugins,
    probe,
    shell,
    sim,
)

__all__ = ["COMMAND_GROUPS"]

COMMAND_GROUPS: list[ModuleType] = [
    init,
    identity,
    daemon,
    sim,
    node,
    message,
    probe,
    shell,
    plugins,  # last: plug-ins add their subcommands after every built-in one
]
