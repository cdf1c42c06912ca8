"""Command groups of the ``meshnet`` CLI; each module exposes ``register(subparsers)``."""

from __future__ import annotations

from types import ModuleType

COMMAND_GROUPS: list[ModuleType] = []
