"""Identifier types shared by every layer.

These are ``NewType``s over plain values so that a ``LinkId`` cannot be passed where a
``StreamId`` is expected without mypy noticing. ``NodeId`` is the one identifier with
behaviour (text form, prefixes, mesh address), so it lives in ``meshnet.crypto.identity``
next to the key it is derived from; this module holds only the plain counters and names.
"""

from __future__ import annotations

from typing import NewType

__all__ = ["LinkId", "MessageId", "ServicePort", "SessionId", "StreamId", "TransportId"]

TransportId = NewType("TransportId", int)
"""A driver-local handle for one carrier of link frames: a TCP connection, one remote
address on a shared UDP socket, a serial port, or one end of a simulated link. A link
may move from one transport to another (roaming, redial) without changing its LinkId."""

LinkId = NewType("LinkId", int)
"""A node-local handle for one link (one neighbour over one medium)."""

StreamId = NewType("StreamId", int)
"""A reliable stream inside one end-to-end session."""

SessionId = NewType("SessionId", int)
"""A node-local handle for one end-to-end session."""

ServicePort = NewType("ServicePort", int)
"""A well-known or user-chosen service number carried inside sessions."""

MessageId = NewType("MessageId", bytes)
"""The 16-byte id of a user message; unique per sender, used for exactly-once delivery."""
