"""The trust-on-first-use record: which NodeId answered at which endpoint.

``connect HOST:PORT`` without a node id trusts the first identity the endpoint proves
(the link handshake verifies it). The node pins that identity for the rest of the run
(``PeerTable``); this file makes the pin outlive the process, the way SSH's
``known_hosts`` does: the next start dials the endpoint expecting the same NodeId, and
a different key at that address is refused by the link handshake with an error that
says so, instead of being trusted afresh.

Format: ``known_peers.json`` in the state directory, a JSON object
``{"version": 1, "peers": {ENDPOINT: {"node": NODE_ID, "first_seen": UNIX_TIME}}}``,
written atomically with mode 0600. It is bounded (``MAX_ENTRIES``; the oldest entries
go first) and read with a size limit. A damaged file is a ``KnownPeersError`` that names
the file and how to recover (move it aside; the pins are then learned again), never
silently replaced: silently losing pins would turn a man in the middle into a
first contact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from meshnet.crypto.identity import NodeId
from meshnet.errors import InvalidNodeIdError, LocalError
from meshnet.runtime.files import write_atomic

__all__ = ["KNOWN_PEERS_FILE_NAME", "MAX_ENTRIES", "KnownPeer", "KnownPeers", "KnownPeersError"]

KNOWN_PEERS_FILE_NAME = "known_peers.json"
MAX_ENTRIES = 4096
_MAX_FILE = 2 * 1024 * 1024
_VERSION = 1


class KnownPeersError(LocalError):
    """The trust-on-first-use file cannot be used; the message names it and the fix."""


@dataclass(frozen=True, slots=True)
class KnownPeer:
    node: NodeId
    first_seen: float
    """Wall-clock time (Unix seconds) the identity was first trusted."""


class KnownPeers:
    """Endpoint -> pinned NodeId, loaded from and saved to one file."""

    def __init__(self, path: Path, entries: dict[str, KnownPeer] | None = None) -> None:
        self.path = path
        self._entries: dict[str, KnownPeer] = dict(entries or {})

    @classmethod
    def load(cls, path: Path) -> KnownPeers:
        """Read ``path``; a missing file is an empty record.

        Raises:
            KnownPeersError: the file is unreadable, too large or damaged.
        """
        try:
            with path.open("rb") as handle:
                raw = handle.read(_MAX_FILE + 1)
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise KnownPeersError(f"{path}: cannot read ({exc.strerror})") from None
        if len(raw) > _MAX_FILE:
            raise cls._damaged(path, f"larger than {_MAX_FILE} bytes")
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise cls._damaged(path, f"not valid JSON ({exc})") from None
        return cls(path, cls._entries_of(path, document))

    @classmethod
    def _entries_of(cls, path: Path, document: object) -> dict[str, KnownPeer]:
        if not isinstance(document, dict) or document.get("version") != _VERSION:
            raise cls._damaged(path, f'expected an object with "version": {_VERSION}')
        peers = document.get("peers")
        if not isinstance(peers, dict):
            raise cls._damaged(path, 'expected "peers" to be an object')
        entries: dict[str, KnownPeer] = {}
        for endpoint, entry in peers.items():
            where = f"peers[{endpoint!r}]"
            if not isinstance(entry, dict):
                raise cls._damaged(path, f"{where}: expected an object")
            node, first_seen = entry.get("node"), entry.get("first_seen")
            if not isinstance(node, str):
                raise cls._damaged(path, f"{where}.node: expected a node id string")
            if not isinstance(first_seen, int | float) or isinstance(first_seen, bool):
                raise cls._damaged(path, f"{where}.first_seen: expected a number")
            try:
                entries[endpoint] = KnownPeer(NodeId.from_text(node), float(first_seen))
            except InvalidNodeIdError as exc:
                raise cls._damaged(path, f"{where}.node: {exc}") from None
        return entries

    @staticmethod
    def _damaged(path: Path, what: str) -> KnownPeersError:
        return KnownPeersError(
            f"{path}: damaged trust-on-first-use record: {what}; move it aside to start "
            "over (the identities of peers connected without a node id are then trusted "
            "again on their next first contact)"
        )

    def __len__(self) -> int:
        return len(self._entries)

    def expected(self, endpoint: str) -> NodeId | None:
        """The NodeId pinned for ``endpoint`` (its canonical spelling), if any."""
        entry = self._entries.get(endpoint)
        return entry.node if entry is not None else None

    def entries(self) -> dict[str, KnownPeer]:
        return dict(self._entries)

    def record(self, endpoint: str, node: NodeId, now: float) -> bool:
        """Pin ``node`` for ``endpoint`` and save; False if it was pinned already.

        A different NodeId for a pinned endpoint replaces the pin only through
        ``forget`` first: the link layer refuses the new key before we get here.

        Raises:
            KnownPeersError: the file cannot be written (the pin stays in memory).
        """
        current = self._entries.get(endpoint)
        if current is not None and current.node == node:
            return False
        self._entries[endpoint] = KnownPeer(node, now)
        while len(self._entries) > MAX_ENTRIES:
            oldest = min(self._entries, key=lambda e: self._entries[e].first_seen)
            del self._entries[oldest]
        self.save()
        return True

    def forget(self, endpoint: str) -> bool:
        """Drop the pin of ``endpoint`` and save; False if there was none."""
        if self._entries.pop(endpoint, None) is None:
            return False
        self.save()
        return True

    def save(self) -> None:
        """Write the record atomically (mode 0600).

        Raises:
            KnownPeersError: the file cannot be written.
        """
        document = {
            "version": _VERSION,
            "peers": {
                endpoint: {"node": str(entry.node), "first_seen": entry.first_seen}
                for endpoint, entry in sorted(self._entries.items())
            },
        }
        data = (json.dumps(document, indent=1) + "\n").encode()
        try:
            write_atomic(self.path, data, mode=0o600)
        except OSError as exc:
            raise KnownPeersError(f"{self.path}: cannot write ({exc.strerror})") from None
