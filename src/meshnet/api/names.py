"""Naming a node in a request: a petname, a unique node id prefix, or a full id.

The daemon resolves names, so every client (the CLI, a script with curl) gets the same
answer. A name is tried in this order:

1. a petname, exactly as configured (``alice``);
2. a full node id (52 base32 characters), known or not (a message may be sent to a
   node the mesh has not seen yet);
3. a prefix of the ids this node knows: neighbours, configured peers and the nodes in
   the link-state database.

Errors are ``ApiError``: 400 ``bad_peer_name`` (neither a petname nor base32), 404
``unknown_peer`` (no known node matches) and 409 ``ambiguous_peer`` listing the
candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from meshnet.api.errors import ApiError
from meshnet.crypto.identity import NodeId
from meshnet.crypto.keys import BASE32_ALPHABET
from meshnet.crypto.nodeid import NODE_ID_TEXT_LENGTH
from meshnet.errors import InvalidNodeIdError

__all__ = ["MAX_NAME", "PeerNames"]

MAX_NAME = 256
"""The longest peer name accepted, in characters."""
_MAX_CANDIDATES = 16


def _shown(text: str) -> str:
    return repr(text if len(text) <= 24 else text[:24] + "...")


class PeerNames:
    """Resolves names against the petnames and the node ids known at one instant.

    Args:
        petnames: petname -> node id.
        known: every node id this node knows now.
    """

    def __init__(self, petnames: Mapping[str, NodeId], known: Iterable[NodeId]) -> None:
        self._petnames = dict(petnames)
        self._known = sorted(set(known) | set(self._petnames.values()))
        self._names = {node: name for name, node in sorted(self._petnames.items())}

    def petname_of(self, node: NodeId) -> str | None:
        """The first petname (alphabetically) of ``node``, if it has one."""
        return self._names.get(node)

    def resolve(self, name: str) -> NodeId:
        """The one node ``name`` names (see the module docstring for the rules)."""
        node = self._petnames.get(name)
        if node is not None:
            return node
        cleaned = name.strip().lower()
        if not cleaned:
            raise ApiError(400, "bad_peer_name", "an empty name names no node")
        if len(cleaned) > NODE_ID_TEXT_LENGTH or any(c not in BASE32_ALPHABET for c in cleaned):
            raise ApiError(
                400,
                "bad_peer_name",
                f"{_shown(name)} is neither a petname nor a node id prefix "
                "(base32: letters a-z and digits 2-7)",
            )
        if len(cleaned) == NODE_ID_TEXT_LENGTH:
            try:
                return NodeId.from_text(cleaned)
            except InvalidNodeIdError as exc:
                raise ApiError(400, "bad_peer_name", str(exc)) from None
        matches = [node for node in self._known if str(node).startswith(cleaned)]
        if not matches:
            raise ApiError(
                404, "unknown_peer", f"no petname and no known node id starts with {_shown(name)}"
            )
        if len(matches) > 1:
            listed = [str(node) for node in matches[:_MAX_CANDIDATES]]
            raise ApiError(
                409,
                "ambiguous_peer",
                f"{_shown(name)} matches {len(matches)} nodes; type more characters",
                candidates=listed,
            )
        return matches[0]
