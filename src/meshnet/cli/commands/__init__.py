"""Command groups of the ``meshnet`` CLI; each module exposes ``register(subparsers)``."""

from __future__ import annotations

from types import ModuleType

from meshnet.cli.commands import daemon, identity, init, plugins, sim

__all__ = ["COMMAND_GROUPS"]

COMMAND_GROUPS: list[ModuleType] = [init, identity, daemon, sim, plugins]
