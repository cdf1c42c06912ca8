"""Plug-ins in the command line: loaded once per process, failures reported in one line.

``cli_plugins()`` loads every ``meshnet.plugins`` entry point (``meshnet.plugins``
defines the interface) and prints one line on stderr for each plug-in left out, the
first time only; the CLI and the shell then go on without it. ``add_cli_commands``
gives each plug-in the root subparsers; a plug-in whose hook raises (a name clash, a
bug) is reported and its commands are left out.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Iterable

from meshnet.plugins import (
    ENTRY_POINT_GROUP,
    LoadedPlugin,
    PluginFailure,
    describe_error,
    load_plugins,
)

__all__ = ["add_cli_commands", "cli_plugins", "report"]

_loaded: dict[tuple[tuple[str, str], ...], list[LoadedPlugin]] = {}
_reported: set[str] = set()


def report(failures: Iterable[PluginFailure]) -> None:
    """Print each failure once per process, as ``meshnet: plug-in 'x' skipped: why``."""
    for failure in failures:
        line = f"meshnet: {failure}"
        if line not in _reported:
            _reported.add(line)
            print(line, file=sys.stderr)


def cli_plugins() -> list[LoadedPlugin]:
    """The installed plug-ins that load (loaded once for a given set of entry points)."""
    entry_points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    key = tuple(sorted((e.name, e.value) for e in entry_points))
    if key not in _loaded:
        plugins, failures = load_plugins(entry_points)
        report(failures)
        _loaded[key] = plugins
    return _loaded[key]


def add_cli_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    plugins: Iterable[LoadedPlugin],
) -> None:
    """Let each plug-in add its ``meshnet`` subcommands; report the ones that fail."""
    for loaded in plugins:
        before = set(subparsers.choices)
        listed = len(subparsers._choices_actions)
        try:
            loaded.plugin.add_cli_commands(subparsers)
        except Exception as exc:  # a broken plug-in must not break the CLI
            for name in set(subparsers.choices) - before:
                del subparsers.choices[name]
            del subparsers._choices_actions[listed:]
            report([PluginFailure(name=loaded.name, error=describe_error(exc))])
