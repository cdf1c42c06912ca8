"""Plug-in modules: the interface third-party packages implement, and how they are found.

A plug-in is a Python package that declares an entry point in the group
``meshnet.plugins``; the entry point names a ``Plugin`` subclass, a ``Plugin``
instance or a function returning one::

    [project.entry-points."meshnet.plugins"]
    echo = "meshnet_echo:EchoPlugin"

A plug-in may add any of three things, by overriding the hooks of ``Plugin``:

* ``add_cli_commands(subparsers)``: subcommands of ``meshnet`` (argparse parsers whose
  ``handler`` is a function ``(args) -> int``, the exit status);
* ``shell_commands()``: commands of the interactive ``meshnet>`` shell, by name;
* ``on_message(message, reply)``: called once for each message this node receives
  (``meshnet plugins serve`` runs the handlers against a running node).

This module sits outside the layers (it imports nothing else of MeshNet), so the
command line, the shell and a daemon can all load plug-ins the same way. Loading never
raises: a plug-in that cannot be imported, is of the wrong type or fails in a hook is
reported as a ``PluginFailure`` (one line) and left out. See ``docs/plugins.md``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "ENTRY_POINT_GROUP",
    "IncomingMessage",
    "LoadedPlugin",
    "Plugin",
    "PluginFailure",
    "Reply",
    "ShellCommand",
    "ShellContext",
    "describe_error",
    "dispatch_message",
    "load_plugins",
]

ENTRY_POINT_GROUP = "meshnet.plugins"

Reply = Callable[[str], object]
"""Sends a text message back to the sender of the message being handled."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IncomingMessage:
    """A message this node received, as a handler sees it."""

    id: str
    """The message id (unique per sender; a handler is called once per id)."""
    sender: str
    """The sender's full node id."""
    text: str
    """The message text."""
    sender_name: str | None = None
    """The sender's petname on this node, if it has one."""
    sent_at: float | None = None
    """When the sender wrote it (Unix time, the sender's clock)."""


class ShellContext(Protocol):
    """What a shell command can use: the node's API, the current peer, the output."""

    @property
    def client(self) -> Any:
        """The running node's API client (``meshnet.api.client.MeshClient``)."""

    @property
    def current_peer(self) -> str | None:
        """The peer ``send`` goes to (set by ``connect``, ``use`` and ``chat``)."""

    def write(self, text: str) -> None:
        """Print ``text`` (one or more lines) to the shell."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ShellCommand:
    """One command of the interactive shell."""

    run: Callable[[ShellContext, Sequence[str]], object]
    """Called with the context and the words after the command name (shell-quoted)."""
    help: str
    """One line for ``help``."""
    usage: str = ""
    """The arguments, e.g. ``TEXT...`` (shown by ``help``)."""


class Plugin:
    """Base class of plug-ins; override the hooks you provide, leave the rest."""

    name: str = ""
    """A short name for listings and error lines (default: the entry point's name)."""

    def add_cli_commands(
        self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]
    ) -> None:
        """Add subcommands to ``meshnet`` (set ``handler=(args) -> int`` on each)."""

    def shell_commands(self) -> Mapping[str, ShellCommand]:
        """Commands to add to the interactive shell, by name."""
        return {}

    def on_message(self, message: IncomingMessage, reply: Reply) -> None:
        """Handle one received message; ``reply(text)`` answers its sender."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedPlugin:
    """A plug-in that loaded, and where it came from."""

    name: str
    plugin: Plugin
    entry_point: str
    """The entry point's value, ``module:attribute``."""
    distribution: str
    """``name version`` of the package that declared it (``?`` when unknown)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginFailure:
    """A plug-in left out, and why (one line)."""

    name: str
    error: str

    def __str__(self) -> str:
        return f"plug-in {self.name!r} skipped: {self.error}"


def describe_error(error: BaseException) -> str:
    """An exception as ``Type: message`` on one line."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def load_plugins(
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
) -> tuple[list[LoadedPlugin], list[PluginFailure]]:
    """Load every plug-in of ``meshnet.plugins`` (or of ``entry_points``), never raising.

    Returns the plug-ins that loaded, sorted by name (the first of a duplicated name
    wins), and one failure per plug-in left out.
    """
    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    loaded: dict[str, LoadedPlugin] = {}
    failures: list[PluginFailure] = []
    for entry in sorted(entry_points, key=lambda e: (e.name, e.value)):
        try:
            plugin = _instantiate(entry.load())
        except Exception as exc:  # a broken plug-in must never break the CLI
            failures.append(PluginFailure(name=entry.name, error=describe_error(exc)))
            continue
        name = plugin.name or entry.name
        if name in loaded:
            failures.append(PluginFailure(name=name, error=f"duplicate name (from {entry.value})"))
            continue
        loaded[name] = LoadedPlugin(
            name=name, plugin=plugin, entry_point=entry.value, distribution=_dist(entry)
        )
    return [loaded[name] for name in sorted(loaded)], failures


def _instantiate(target: object) -> Plugin:
    if isinstance(target, Plugin):
        return target
    if isinstance(target, type) and issubclass(target, Plugin):
        return target()
    if callable(target) and not isinstance(target, type):
        made = target()
        if isinstance(made, Plugin):
            return made
        raise TypeError(f"the factory returned {type(made).__name__}, not a meshnet Plugin")
    raise TypeError(f"{target!r} is not a meshnet Plugin (subclass meshnet.plugins.Plugin)")


def _dist(entry: importlib.metadata.EntryPoint) -> str:
    dist = entry.dist
    if dist is None:
        return "?"
    return f"{dist.metadata['Name'] or '?'} {dist.version}"


def dispatch_message(
    plugins: Iterable[LoadedPlugin], message: IncomingMessage, reply: Reply
) -> list[PluginFailure]:
    """Give ``message`` to every plug-in's ``on_message``; one failure per handler that raised."""
    failures = []
    for loaded in plugins:
        try:
            loaded.plugin.on_message(message, reply)
        except Exception as exc:  # one bad handler must not starve the others
            failures.append(PluginFailure(name=loaded.name, error=describe_error(exc)))
    return failures
