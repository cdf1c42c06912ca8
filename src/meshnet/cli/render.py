"""Text views of the node's API answers: identity, peers, status, routes, messages, trace.

Each function takes the plain JSON value an API call returned and gives the text the
``meshnet`` commands and the shell print. They read fields tolerantly (see
``output.field``) so a field the node does not report shows as ``-``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from meshnet.cli.output import (
    field,
    format_age,
    format_loss,
    format_rtt,
    format_time,
    short_id,
    table,
)

__all__ = [
    "items",
    "message_line",
    "message_text",
    "peer_label",
    "render_identity",
    "render_inbox",
    "render_peers",
    "render_routes",
    "render_status",
    "render_trace",
]


def items(value: Any, *keys: str) -> list[Any]:
    """The list in ``value``: itself if it is a list, else the first list under ``keys``."""
    if isinstance(value, list):
        return value
    found = field(value, *keys)
    return found if isinstance(found, list) else []


def peer_label(record: Any, *id_fields: str) -> str:
    """``petname (id prefix)`` or the id prefix alone."""
    node_id = field(record, *(id_fields or ("node_id", "peer", "id")))
    name = field(record, "petname", "name")
    short = short_id(node_id)
    return f"{name} ({short})" if name and short != "-" else (name or short)


def render_identity(identity: Any) -> str:
    rows = [
        ("node id", field(identity, "node_id", "id")),
        ("short", field(identity, "short") or short_id(field(identity, "node_id", "id"))),
        ("mesh address", field(identity, "mesh_address", "address")),
        ("listening", ", ".join(field(identity, "listening", "endpoints", default=[]))),
    ]
    return "\n".join(f"{label + ':':14}{value if value else '-'}" for label, value in rows)


def render_peers(peers: Any) -> str:
    rows = []
    for peer in items(peers, "peers"):
        rows.append(
            (
                field(peer, "petname", "name"),
                short_id(field(peer, "node_id", "peer", "id")),
                _peer_state(peer),
                field(peer, "endpoint"),
                format_rtt(field(peer, "rtt", "srtt")),
                format_loss(field(peer, "loss")),
            )
        )
    return table(("name", "id", "state", "endpoint", "rtt", "loss"), rows, empty="no peers")


def _peer_state(peer: Any) -> str:
    state = field(peer, "state")
    if isinstance(state, str):
        return state
    if field(peer, "connected"):
        return "connected"
    if field(peer, "dialing"):
        return "dialing"
    error = field(peer, "last_error")
    return f"down ({error})" if error else "down"


def render_status(status: Any) -> str:
    lines = [f"node:       {field(status, 'node_id', 'identity.node_id', default='-')}"]
    uptime = field(status, "uptime")
    if uptime is not None:
        lines.append(f"uptime:     {format_age(uptime)}")
    counts = [
        ("links", items(field(status, "links"), "links")),
        ("peers", items(field(status, "peers"), "peers")),
        ("sessions", items(field(status, "sessions"), "sessions")),
        ("routes", items(field(status, "routing"), "routes")),
    ]
    lines.append("  ".join(f"{name}: {len(values)}" for name, values in counts))
    known = items(field(status, "routing"), "database")
    if known:
        lines.append(f"known nodes: {len(known)}")
    for label, key in (("messages", "messages"), ("outbox", "outbox")):
        value = field(status, key)
        if isinstance(value, Mapping):
            summary = ", ".join(f"{k} {v}" for k, v in sorted(value.items()))
            lines.append(f"{label + ':':12}{summary}")
    return "\n".join(lines)


def render_routes(routes: Any, *, names: Mapping[str, str] | None = None) -> str:
    """Our links with their quality, then the routes in use with their relays."""
    names = names or {}
    links = items(routes, "neighbours", "links")
    link_rows = [
        (
            _name(field(link, "peer", "node_id"), names),
            format_rtt(field(link, "rtt", "srtt")),
            format_loss(field(link, "loss")),
            field(link, "cost"),
            field(link, "samples"),
        )
        for link in links
    ]
    route_rows = []
    for route in items(routes, "routes"):
        path = field(route, "path")
        hops = " > ".join(_name(hop, names) for hop in path) if isinstance(path, list) else None
        route_rows.append(
            (
                _name(field(route, "destination", "node_id"), names),
                len(path) - 1 if isinstance(path, list) else None,
                hops or "no path",
                field(route, "cost"),
                format_age(field(route, "age")),
            )
        )
    return "\n".join(
        (
            "links:",
            table(("neighbour", "rtt", "loss", "cost", "samples"), link_rows, empty="  no links"),
            "",
            "routes:",
            table(("destination", "relays", "path", "cost", "age"), route_rows, empty="  none"),
        )
    )


def _name(node_id: Any, names: Mapping[str, str]) -> str:
    if isinstance(node_id, str) and node_id in names:
        return names[node_id]
    return short_id(node_id)


def message_line(message: Any, *, outgoing: bool = False, name: str | None = None) -> str:
    """``[time] sender: text`` for one message; ``(state)`` after our own."""
    when = format_time(field(message, "created", "sent_at", "received_at", "time"))
    sender = field(message, "peer", "sender", "from")
    who = "you" if outgoing else (name or field(message, "petname") or short_id(sender))
    text = message_text(message)
    state = field(message, "state", "status")
    tail = f"  ({state})" if outgoing and state else ""
    return f"[{when}] {who}: {text}{tail}"


def message_text(message: Any) -> str:
    """The text of a message (its body; binary bodies are shown as their size)."""
    body = field(message, "text", "body", default="")
    if isinstance(body, str):
        return body
    encoded = field(body, "base64")
    if isinstance(encoded, str):
        return f"<{len(encoded) * 3 // 4} bytes of binary data>"
    return str(body)


def render_inbox(messages: Any, *, names: Mapping[str, str] | None = None) -> str:
    names = names or {}
    lines = [
        message_line(m, name=names.get(field(m, "peer", "sender", default="")))
        for m in items(messages, "messages")
    ]
    return "\n".join(lines) if lines else "no messages"


def render_trace(hops: Sequence[Any], *, names: Mapping[str, str] | None = None) -> str:
    names = names or {}
    rows = [
        (
            i,
            _name(field(hop, "node_id", "hop", "peer"), names),
            format_rtt(field(hop, "rtt")),
            format_loss(field(hop, "loss")) if field(hop, "loss") is not None else None,
            field(hop, "error", "reason") or None,
        )
        for i, hop in enumerate(hops, start=1)
    ]
    return table(("hop", "node", "rtt", "loss", "note"), rows, empty="no route")
