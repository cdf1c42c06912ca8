"""The whole MeshNet exception hierarchy.

Errors say who is at fault (h11, httpx). ``LocalError`` means the caller misused an API
or gave us bad local input (a config file, a key file, a command argument): it is
raised to the caller. ``RemoteError`` means a peer sent something invalid: cores catch
it at their boundary and turn it into a counted drop or a clean close with a reason,
so a hostile peer never raises into the node::

    MeshnetError
    ├── LocalError                  the caller is at fault; raised
    │   ├── ConfigError             bad config value (names the key and what is expected)
    │   ├── KeyFileError            unreadable, corrupt, wrong-kind or too-open key file
    │   ├── UnknownPeerError        a name/prefix that matches no known node
    │   ├── AmbiguousPeerError      a prefix that matches several nodes
    │   ├── InvalidNodeIdError      text that is not a well-formed node id or id prefix
    │   ├── NonceExhaustedError     a cipher would reuse or wrap its nonce counter
    │   └── StateError              an operation not allowed in the current state
    └── RemoteError                 a peer is at fault; caught at the core boundary
        ├── DecodeError             bytes that do not parse (size limits, truncation)
        ├── HandshakeError          a handshake message failed (auth, length, pattern)
        │   └── PeerMismatchError   the peer proved an identity other than the expected one
        ├── AuthenticationError     an AEAD tag or a signature did not verify
        └── ReplayError             a datagram counter was seen already or is too old
"""

from __future__ import annotations

__all__ = [
    "AmbiguousPeerError",
    "AuthenticationError",
    "ConfigError",
    "DecodeError",
    "HandshakeError",
    "InvalidNodeIdError",
    "KeyFileError",
    "LocalError",
    "MeshnetError",
    "NonceExhaustedError",
    "PeerMismatchError",
    "RemoteError",
    "ReplayError",
    "StateError",
    "UnknownPeerError",
]


class MeshnetError(Exception):
    """Base of every error MeshNet raises on purpose."""


class LocalError(MeshnetError):
    """The caller misused an API or gave bad local input."""


class ConfigError(LocalError):
    """A configuration value is missing, unknown, of the wrong type or out of range."""


class KeyFileError(LocalError):
    """A key file cannot be used; the message names the file and what is wrong."""


class UnknownPeerError(LocalError):
    """A node name, petname or id prefix matches no known node."""


class AmbiguousPeerError(LocalError):
    """An id prefix matches more than one known node."""


class InvalidNodeIdError(LocalError):
    """Text given as a node id or id prefix is not well-formed base32 of the right size."""


class NonceExhaustedError(LocalError):
    """A cipher state would reuse or wrap its nonce; rekey or re-handshake first."""


class StateError(LocalError):
    """The operation is not allowed in the object's current state."""


class RemoteError(MeshnetError):
    """A peer sent something invalid. Cores catch it and count or close."""


class DecodeError(RemoteError):
    """Bytes from the network do not parse (wrong length, over a size limit, bad tag)."""


class HandshakeError(RemoteError):
    """A handshake message failed: bad length, failed decryption, wrong pattern step."""


class PeerMismatchError(HandshakeError):
    """The peer proved an identity other than the one the caller expected."""


class AuthenticationError(RemoteError):
    """An AEAD tag or a signature failed to verify."""


class ReplayError(RemoteError):
    """A datagram counter was already accepted or lies behind the replay window."""
