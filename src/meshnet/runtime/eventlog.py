"""What ``meshnet up`` prints: one log line per node event, or one JSON line per event.

Readable mode goes through the ``logging`` module, configured here (only the daemon
configures handlers): ``TIME LEVEL what happened``, node ids in their short form::

    2025-06-01 12:00:00 INFO    link up: ab3kq7xz via tcp:192.0.2.7:4100 (dialled)

Link, session and message events are INFO, failures WARNING, and the chatty ones
(stream data, datagrams, ping answers) DEBUG. ``--json`` keeps the JSON event lines
(``api.events.node_event_json``, the same objects as the API's event stream) on the
output instead; the log then carries warnings only.
"""

from __future__ import annotations

import json
import logging
from typing import TextIO

from meshnet.api.events import node_event_json
from meshnet.crypto.identity import NodeId
from meshnet.errors import InvalidNodeIdError
from meshnet.node.events import (
    DatagramReceived,
    DestinationUnreachable,
    MessageDelivered,
    MessageExpired,
    MessageRead,
    MessageReceived,
    NeighbourDataReceived,
    NodeEvent,
    PeerConnected,
    PeerDialFailed,
    PeerDisconnected,
    PingAnswered,
    SessionClosed,
    SessionEstablished,
    SessionHandshakeFailed,
    StreamDataReceived,
    StreamWritable,
)

__all__ = ["LOGGER", "describe_event", "event_level", "json_line", "setup_logging"]

LOGGER = "meshnet"
"""The logger every MeshNet module logs under (``logging.getLogger(__name__)``)."""

_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"
_DATE = "%Y-%m-%d %H:%M:%S"
_QUIET = (DatagramReceived, StreamDataReceived, StreamWritable, PingAnswered)
_FAILURES = (PeerDialFailed, SessionHandshakeFailed, DestinationUnreachable, MessageExpired)
_MAX_FIELD = 80
_NODE_ID_LENGTH = 52


def setup_logging(level: str, stream: TextIO) -> logging.Handler:
    """Send MeshNet's log lines at ``level`` and above to ``stream``; returns the handler
    (remove it with ``logging.getLogger(LOGGER).removeHandler``)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(_FORMAT, _DATE))
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    return handler


def event_level(event: NodeEvent) -> int:
    """The log level an event is reported at."""
    if isinstance(event, _QUIET):
        return logging.DEBUG
    if isinstance(event, _FAILURES):
        return logging.WARNING
    return logging.INFO


def json_line(event: NodeEvent) -> str:
    """The event as one JSON line (``--json``): the object ``GET /v1/events`` sends."""
    return json.dumps(node_event_json(event))


def describe_event(event: NodeEvent) -> str:
    """One readable line for a node event (node ids in their short form)."""
    if isinstance(event, PeerConnected):
        how = "dialled" if event.outbound else "accepted"
        tofu = " (first contact: identity recorded)" if event.first_contact else ""
        return f"link up: {event.peer.short()} via {event.endpoint} ({how}){tofu}"
    if isinstance(event, PeerDisconnected):
        who = "the peer" if event.by_peer else "us"
        return f"link down: {event.peer.short()} ({event.reason}, closed by {who})"
    if isinstance(event, PeerDialFailed):
        retry = f", retrying in {event.retry_in:.1f}s" if event.retry_in is not None else ""
        return f"dial {event.endpoint} failed: {event.reason}{retry}"
    if isinstance(event, SessionEstablished):
        return f"session up: {event.peer.short()} (end to end)"
    if isinstance(event, SessionClosed):
        return f"session down: {event.peer.short()} ({event.detail or event.reason.name})"
    if isinstance(event, MessageReceived):
        return f"message from {event.peer.short()} ({len(event.body)} bytes)"
    if isinstance(event, MessageDelivered | MessageRead | MessageExpired):
        what = {MessageDelivered: "delivered", MessageRead: "read", MessageExpired: "expired"}
        return f"message {event.id.hex()} to {event.peer.short()} {what[type(event)]}"
    if isinstance(event, NeighbourDataReceived):
        return f"from {event.peer.short()}: {event.payload.decode('utf-8', 'replace')[:200]}"
    return _generic(event)


def _generic(event: NodeEvent) -> str:
    parts = []
    for key, value in node_event_json(event).items():
        if key == "event":
            continue
        text = _short_id(value) if isinstance(value, str) else json.dumps(value)
        if len(text) > _MAX_FIELD:
            text = text[: _MAX_FIELD - 3] + "..."
        parts.append(f"{key}={text}")
    return f"{type(event).__name__}: {' '.join(parts)}"


def _short_id(text: str) -> str:
    if len(text) != _NODE_ID_LENGTH:
        return text
    try:
        return NodeId.from_text(text).short()
    except InvalidNodeIdError:
        return text
