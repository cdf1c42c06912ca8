"""Tab completion in the ``meshnet>`` shell: command names, then peer names.

The first word completes to a command (built-in or plug-in). After a command that
names a peer (``chat``, ``use``, ``send --to``, ``trace``, ``disconnect``, ``inbox``,
``connect NAME@``), the word completes to the petnames and id prefixes of the peers
the running node knows, fetched from its API and cached for a few seconds so that
pressing Tab does not query the node every time. A node that cannot be reached just
offers no peer names.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from meshnet.cli.output import ID_CHARS, short_id
from meshnet.errors import MeshnetError

if TYPE_CHECKING:
    from meshnet.cli.shell import Shell

__all__ = ["PEER_COMMANDS", "PeerNameCache", "ShellCompleter", "unique_prefixes"]

PEER_COMMANDS = frozenset({"chat", "use", "trace", "ping", "disconnect", "inbox"})
"""Commands whose first argument is a peer."""


class PeerNameCache:
    """Peer names from the node, refreshed at most every ``ttl`` seconds."""

    def __init__(
        self,
        fetch: Callable[[], Mapping[str, str]],
        *,
        ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._clock = clock
        self._names: list[str] = []
        self._fetched_at: float | None = None

    def names(self) -> list[str]:
        """Petnames first, then short ids (each once), sorted within each kind."""
        now = self._clock()
        if self._fetched_at is None or now - self._fetched_at >= self._ttl:
            self._fetched_at = now
            try:
                known = self._fetch()
            except (MeshnetError, OSError, TimeoutError):
                known = {}
            petnames = sorted({n for i, n in known.items() if n and n != short_id(i)})
            ids = sorted(unique_prefixes(known))
            self._names = petnames + [i for i in ids if i not in petnames]
        return list(self._names)


def unique_prefixes(node_ids: Iterable[str], shortest: int = ID_CHARS) -> list[str]:
    """For each id, its shortest prefix of at least ``shortest`` characters no other shares."""
    ids = sorted(set(node_ids))
    prefixes = []
    for i, node_id in enumerate(ids):
        length = shortest
        for other in (ids[i - 1] if i else "", ids[i + 1] if i + 1 < len(ids) else ""):
            common = next(
                (k for k, (a, b) in enumerate(zip(node_id, other, strict=False)) if a != b),
                min(len(node_id), len(other)),
            )
            length = max(length, common + 1)
        prefixes.append(node_id[:length])
    return prefixes


class ShellCompleter(Completer):
    """Completes command names, then peer names where a command takes a peer."""

    def __init__(self, shell: Shell, peers: PeerNameCache) -> None:
        self._shell = shell
        self._peers = peers

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        before = document.text_before_cursor
        words = before.split()
        current = "" if not words or before[-1:].isspace() else words[-1]
        done = words if not current else words[:-1]
        if not done:
            yield from _matching(current, [*sorted(self._shell.commands), "exit"])
            return
        command = done[0]
        if command == "connect" and len(done) == 1 and "@" not in current:
            yield from _matching(current, [f"{n}@" for n in self._peers.names()])
        elif (command in PEER_COMMANDS and len(done) == 1) or done[-2:] == ["send", "--to"]:
            yield from _matching(current, self._peers.names())
        elif command == "routes" and len(done) == 1:
            yield from _matching(current, ["--watch"])


def _matching(prefix: str, candidates: Iterable[str]) -> Iterable[Completion]:
    for candidate in candidates:
        if candidate.startswith(prefix):
            yield Completion(candidate, start_position=-len(prefix))
