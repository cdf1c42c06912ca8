"""``NodeId``: a node's name on the mesh, and resolving the prefixes humans type.

A ``NodeId`` is the node's 32-byte Ed25519 public key (DESIGN.md §3): whoever holds the
id can check the node's signatures, so nothing else has to be trusted to bind a name to
a key. Its text form is lowercase unpadded base32 (52 characters, ``crypto/keys.py``);
people see a short prefix (``short()``) and may type any unique prefix, which
``resolve_prefix`` turns back into a full id or a clear error.

The mesh IPv6 address of a node is ``fd`` followed by the first 15 bytes of
``SHA-256("meshnet mesh address v1" || 0x00 || node_id)`` (docs/protocol/identity.md §3):
a unique-local (RFC 4193) address that every node can compute from the id alone.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING

from meshnet.crypto.keys import BASE32_ALPHABET, base32_decode, base32_encode, base32_length
from meshnet.crypto.primitives import ED25519_PUBLIC_SIZE, sha256
from meshnet.errors import AmbiguousPeerError, DecodeError, InvalidNodeIdError, UnknownPeerError

__all__ = [
    "MESH_ADDRESS_DOMAIN",
    "NODE_ID_SIZE",
    "NODE_ID_TEXT_LENGTH",
    "SHORT_LENGTH",
    "NodeId",
    "resolve_prefix",
]

NODE_ID_SIZE = ED25519_PUBLIC_SIZE
NODE_ID_TEXT_LENGTH = base32_length(NODE_ID_SIZE)
SHORT_LENGTH = 8
"""Characters in the default short form: 40 bits, plenty to tell a mesh's nodes apart."""

MESH_ADDRESS_DOMAIN = b"meshnet mesh address v1\x00"
_MESH_PREFIX = b"\xfd"
_MAX_LISTED = 8  # candidates named in an AmbiguousPeerError message


class NodeId(bytes):
    """The 32-byte Ed25519 public key that names a node; hashable and ordered by bytes.

    Build one with ``NodeId.from_raw`` (bytes from the network: ``DecodeError`` on a bad
    size) or ``NodeId.from_text`` (what a person typed: ``InvalidNodeIdError``). The
    constructor itself raises ``ValueError`` on a wrong size: passing it bad bytes is a
    programming error.

    A ``bytes`` subclass, so that hashing, equality and ordering run in C: every layer
    keys dicts by ``NodeId`` (tens of thousands of lookups per second in a 200-node
    simulation), and a Python ``__hash__``/``__eq__`` cost a call each. A ``NodeId``
    therefore **equals its 32 raw bytes** and hashes like them; it is still a distinct
    type for mypy, and ``raw`` gives the plain ``bytes``. Immutable; the text form is
    computed on first use.
    """

    __slots__ = ()

    def __new__(cls, raw: bytes) -> NodeId:
        if not isinstance(raw, bytes) or len(raw) != NODE_ID_SIZE:
            raise ValueError(f"a NodeId is {NODE_ID_SIZE} bytes")
        return super().__new__(cls, raw)

    if TYPE_CHECKING:

        @property
        def raw(self) -> bytes:
            """The 32-byte Ed25519 public key, as plain ``bytes``."""
            ...

    else:
        # bytes.__bytes__ (a C method) gives a plain copy of a subclass's bytes: no
        # Python frame per access.
        raw = property(bytes.__bytes__, doc="The 32-byte Ed25519 public key, as plain bytes.")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("NodeId is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("NodeId is immutable")

    def __reduce__(self) -> tuple[type[NodeId], tuple[bytes]]:
        return (NodeId, (bytes(self),))

    @property
    def _text_form(self) -> str:
        return base32_encode(self)

    @classmethod
    def from_raw(cls, data: bytes) -> NodeId:
        """The NodeId for 32 bytes received from the network.

        Raises:
            DecodeError: ``data`` is not exactly 32 bytes.
        """
        if len(data) != NODE_ID_SIZE:
            raise DecodeError(f"node id must be {NODE_ID_SIZE} bytes, got {len(data)}")
        return cls(bytes(data))

    @classmethod
    def from_text(cls, text: str) -> NodeId:
        """Parse the full base32 text form (either case; surrounding spaces ignored).

        Raises:
            InvalidNodeIdError: not 52 base32 characters of a canonical spelling. The
                message says what is wrong and never echoes more than a short excerpt.
        """
        stripped = text.strip()
        try:
            return cls(base32_decode(stripped, NODE_ID_SIZE))
        except ValueError as exc:
            raise InvalidNodeIdError(f"not a node id ({_excerpt(stripped)}): {exc}") from None

    def __str__(self) -> str:
        return self._text_form

    def __repr__(self) -> str:
        return f"NodeId({self._text_form!r})"

    def short(self, length: int = SHORT_LENGTH) -> str:
        """The first ``length`` characters of the text form, for people to read."""
        return self._text_form[:length]

    @property
    def mesh_address(self) -> ipaddress.IPv6Address:
        """The node's mesh IPv6 address: ``fd`` + SHA-256(domain || id)[:15]."""
        digest = sha256(MESH_ADDRESS_DOMAIN, self)
        return ipaddress.IPv6Address(_MESH_PREFIX + digest[:15])


def _excerpt(text: str, limit: int = 16) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _normalise_prefix(prefix: str) -> str:
    cleaned = prefix.strip().lower()
    if not cleaned:
        raise InvalidNodeIdError("an empty node id prefix names no node")
    if len(cleaned) > NODE_ID_TEXT_LENGTH:
        raise InvalidNodeIdError(
            f"node id prefix {_excerpt(cleaned)} is longer than a node id "
            f"({NODE_ID_TEXT_LENGTH} characters)"
        )
    bad = sorted({c for c in cleaned if c not in BASE32_ALPHABET})
    if bad:
        shown = ", ".join(repr(c) for c in bad[:5])
        raise InvalidNodeIdError(
            f"node id prefix {_excerpt(cleaned)} is not base32 "
            f"(letters a-z and digits 2-7 only): found {shown}"
        )
    return cleaned


def _distinguishing_length(ids: list[NodeId]) -> int:
    """The shortest length >= SHORT_LENGTH at which the sorted ``ids`` all differ."""
    longest_common = 0
    for a, b in itertools.pairwise(ids):
        sa, sb = str(a), str(b)
        common = next((i for i, (x, y) in enumerate(zip(sa, sb, strict=True)) if x != y), 0)
        longest_common = max(longest_common, common)
    return max(SHORT_LENGTH, longest_common + 1)


def resolve_prefix(prefix: str, known: Iterable[NodeId]) -> NodeId:
    """The one known NodeId whose text form starts with ``prefix`` (case-insensitive).

    Args:
        prefix: what the user typed: any non-empty prefix of a node id's text form.
        known: the NodeIds to choose from (duplicates are fine).

    Returns:
        The single match.

    Raises:
        InvalidNodeIdError: ``prefix`` is empty, too long or not base32.
        UnknownPeerError: no known node matches.
        AmbiguousPeerError: several match; the message lists them in a short form long
            enough to tell them apart.
    """
    cleaned = _normalise_prefix(prefix)
    matches = sorted({node for node in known if str(node).startswith(cleaned)})
    if not matches:
        raise UnknownPeerError(f"no known node has an id starting with {cleaned!r}")
    if len(matches) == 1:
        return matches[0]
    width = _distinguishing_length(matches)
    listed = ", ".join(node.short(width) for node in matches[:_MAX_LISTED])
    more = len(matches) - _MAX_LISTED
    tail = f" and {more} more" if more > 0 else ""
    raise AmbiguousPeerError(
        f"{cleaned!r} matches {len(matches)} nodes ({listed}{tail}); type more characters"
    )
