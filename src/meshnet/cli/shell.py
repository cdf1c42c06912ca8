"""The interactive ``meshnet>`` shell: command dispatch, the prompt loop and script mode.

A ``Shell`` holds the running node's API client, the *current peer* (the one ``send``
writes to; ``connect``, ``use`` and ``chat`` set it) and a table of commands: the
built-in ones (``shell_commands.BUILTINS``) and those of plug-ins. ``execute(line)``
runs one line: the words are split like a POSIX shell (``send "hello world"``), and
any error becomes one ``error: ...`` line, never a traceback, so the shell keeps going.

``run_interactive`` reads lines at a ``meshnet>`` prompt (prompt_toolkit: history file,
tab completion of commands and peer names); ``run_script`` reads them from a file or a
pipe, echoing each after the prompt, for ``meshnet shell < tour.txt`` and the demo.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from meshnet.cli.output import error_line
from meshnet.cli.remote import NodeApi, peer_names
from meshnet.errors import MeshnetError
from meshnet.plugins import LoadedPlugin, PluginFailure, ShellCommand, describe_error

__all__ = [
    "PROMPT",
    "Shell",
    "ShellUsageError",
    "run_interactive",
    "run_script",
    "stdin_is_terminal",
]

PROMPT = "meshnet> "
EXIT_WORDS = frozenset({"exit", "quit"})


class ShellUsageError(Exception):
    """A shell command was given the wrong arguments; the message says what is expected."""


class Shell:
    """One shell session against one running node."""

    def __init__(
        self,
        client: NodeApi,
        *,
        write: Callable[[str], None] | None = None,
        plugins: Sequence[LoadedPlugin] = (),
        interactive: bool = False,
    ) -> None:
        from meshnet.cli.shell_commands import BUILTINS  # noqa: PLC0415 (they import Shell)

        self._client = client
        self._write = write or _print
        self.current_peer: str | None = None
        self.interactive = interactive
        """True at a terminal: live views (``chat``, ``routes --watch``) take over it."""
        self.commands: dict[str, ShellCommand] = dict(BUILTINS)
        self.plugin_commands: set[str] = set()
        self.failures: list[PluginFailure] = []
        for loaded in plugins:
            self._add_plugin(loaded)

    @property
    def client(self) -> Any:
        return self._client

    @property
    def api(self) -> NodeApi:
        """The client, typed for the built-in commands."""
        return self._client

    def write(self, text: str) -> None:
        self._write(text)

    def _add_plugin(self, loaded: LoadedPlugin) -> None:
        try:
            offered = dict(loaded.plugin.shell_commands())
        except Exception as exc:  # a broken plug-in is reported and skipped
            self.failures.append(PluginFailure(name=loaded.name, error=describe_error(exc)))
            return
        for name, command in sorted(offered.items()):
            if not isinstance(command, ShellCommand) or not name or " " in name:
                error = f"shell command {name!r} is not a ShellCommand with a one-word name"
                self.failures.append(PluginFailure(name=loaded.name, error=error))
            elif name in self.commands or name in EXIT_WORDS:
                error = f"shell command {name!r} is already taken"
                self.failures.append(PluginFailure(name=loaded.name, error=error))
            else:
                self.commands[name] = command
                self.plugin_commands.add(name)

    def execute(self, line: str) -> bool:
        """Run one command line; False when the shell should end (``exit``)."""
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            self.write(f'error: {exc} (quote text with "...")')
            return True
        if not words:
            return True
        name, args = words[0], words[1:]
        if name in EXIT_WORDS:
            return False
        command = self.commands.get(name)
        if command is None:
            self.write(f"error: unknown command {name!r} (type 'help' for the list)")
            return True
        try:
            command.run(self, args)
        except ShellUsageError as exc:
            self.write(f"usage: {name} {command.usage}".rstrip() + f"  ({exc})")
        except (MeshnetError, OSError, TimeoutError) as exc:
            self.write(f"error: {error_line(exc)}")
        except KeyboardInterrupt:
            self.write("interrupted")
        except Exception as exc:
            if name not in self.plugin_commands:
                raise
            self.write(f"error: plug-in command {name!r} failed: {describe_error(exc)}")
        return True

    def help_text(self, topic: str | None = None) -> str:
        """The command list, or one command's usage and help."""
        if topic is not None:
            command = self.commands.get(topic)
            if command is None:
                return f"no command {topic!r}"
            return f"{topic} {command.usage}".rstrip() + f"\n    {command.help}"
        width = max(len(f"{n} {c.usage}".rstrip()) for n, c in self.commands.items())
        lines = ["commands:"]
        for name in sorted(self.commands):
            command = self.commands[name]
            head = f"{name} {command.usage}".rstrip()
            mark = " [plug-in]" if name in self.plugin_commands else ""
            lines.append(f"  {head.ljust(width)}  {command.help}{mark}")
        lines.append(f"  {'exit'.ljust(width)}  leave the shell (also quit, Ctrl-D)")
        return "\n".join(lines)

    def peer_names(self) -> dict[str, str]:
        """Full node id -> petname (or short id) for the peers the node knows."""
        return peer_names(self.api)


def _print(text: str) -> None:
    print(text, flush=True)


def run_script(shell: Shell, lines: Iterable[str], *, echo: bool = True) -> int:
    """Run ``lines`` one after another (stopping at ``exit``); the exit status is 0."""
    for raw in lines:
        line = raw.rstrip("\n")
        if echo and line.strip():
            shell.write(f"{PROMPT}{line}")
        if not shell.execute(line):
            break
    return 0


def run_interactive(
    shell: Shell,
    *,
    history: Path | None,
    greeting: str = "",
    names: Callable[[], Mapping[str, str]] | None = None,
) -> int:
    """The ``meshnet>`` prompt until ``exit`` or Ctrl-D; Ctrl-C abandons the line."""
    from prompt_toolkit import PromptSession  # noqa: PLC0415 (only at a terminal)
    from prompt_toolkit.completion import ThreadedCompleter  # noqa: PLC0415
    from prompt_toolkit.history import FileHistory, InMemoryHistory  # noqa: PLC0415

    from meshnet.cli.shell_completion import PeerNameCache, ShellCompleter  # noqa: PLC0415

    if history is not None:
        history.parent.mkdir(parents=True, exist_ok=True)
    session: PromptSession[str] = PromptSession(
        history=FileHistory(str(history)) if history is not None else InMemoryHistory(),
        completer=ThreadedCompleter(
            ShellCompleter(shell, PeerNameCache(names or shell.peer_names))
        ),
        complete_while_typing=False,
    )
    if greeting:
        shell.write(greeting)
    while True:
        try:
            line = session.prompt(PROMPT)
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        if not shell.execute(line):
            break
    return 0


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()
