"""The event stream's content: which node events a client may ask for, and their JSON.

``GET /v1/events?kinds=PeerConnected,PeerDisconnected`` names event classes of
``meshnet.node.events`` (the ``event`` field of each JSON event). Besides the node's
events the stream carries two of its own: ``Subscribed`` first (the subscription is in
place: everything after it is delivered) and ``EventsDropped`` when the client fell
behind and events were dropped (``dropped``: how many since the last notice,
``total``: since the stream began). The SSE framing itself is ``sse.py``.
"""

from __future__ import annotations

import typing

from meshnet.api.errors import ApiError
from meshnet.api.shapes import JSONValue, encode
from meshnet.node.events import MessageReceived, NodeEvent

__all__ = [
    "EVENT_KINDS",
    "MAX_KINDS_TEXT",
    "dropped_json",
    "node_event_json",
    "parse_kinds",
    "subscribed_json",
]

EVENT_KINDS: dict[str, type[NodeEvent]] = {
    cls.__name__: cls for cls in typing.get_args(NodeEvent) if isinstance(cls, type)
}
"""Every node event class, by name."""
MAX_KINDS_TEXT = 1024


def parse_kinds(text: str | None) -> tuple[type[NodeEvent], ...] | None:
    """The event classes ``text`` (comma-separated names) asks for; None for all.

    Raises:
        ApiError: 400 ``unknown_event_kind`` naming the first unknown name.
    """
    if text is None or not text.strip():
        return None
    kinds = []
    for name in (part.strip() for part in text.split(",")):
        if not name:
            continue
        cls = EVENT_KINDS.get(name)
        if cls is None:
            known = ", ".join(sorted(EVENT_KINDS))
            raise ApiError(
                400, "unknown_event_kind", f"unknown event kind {name[:40]!r} (known: {known})"
            )
        kinds.append(cls)
    return tuple(kinds) or None


def node_event_json(event: NodeEvent) -> dict[str, JSONValue]:
    """A node event as the stream sends it: ``{"event": CLASS, ...fields}``.

    Fields are encoded by type (``shapes.encode``): node ids as text, message ids as
    hex, bytes as base64; ``MessageReceived`` also has ``text`` (null when the body is
    not UTF-8).
    """
    body = {"event": type(event).__name__, **encode(event, type(event))}
    if isinstance(event, MessageReceived):
        try:
            body["text"] = event.body.decode("utf-8")
        except UnicodeDecodeError:
            body["text"] = None
    return body


def subscribed_json(kinds: tuple[type[NodeEvent], ...] | None) -> dict[str, JSONValue]:
    names = sorted(cls.__name__ for cls in kinds) if kinds is not None else None
    return {"event": "Subscribed", "kinds": names}


def dropped_json(dropped: int, total: int) -> dict[str, JSONValue]:
    return {"event": "EventsDropped", "dropped": dropped, "total": total}
