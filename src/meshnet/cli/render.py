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
        ("created", format_time(field(identity, "created"))),
        ("version", field(identity, "version")),
    ]
    return "\n".join(f"{label + ':':14}{value if value else '-'}" for label, value in rows)


def render_peers(peers: Any) -> str:
    """One row per node the node knows, nearest first: neighbours, then by relays."""
    rows = []
    for peer in items(peers, "peers"):
        route = field(peer, "route")
        rows.append(
            (
                field(peer, "petname", "name"),
                field(peer, "short") or short_id(field(peer, "node_id", "peer", "id")),
                _peer_state(peer),
                field(peer, "link.endpoint", "endpoint", "configured.0.endpoint"),
                len(route) - 1 if isinstance(route, list) and route else None,
                format_rtt(field(peer, "link.srtt", "rtt", "srtt")),
                format_loss(field(peer, "link.loss", "loss")),
            )
        )
    rows.sort(key=lambda row: (row[4] is None, row[4] or 0, row[0] or "~", row[1]))
    headers = ("name", "id", "state", "endpoint", "relays", "rtt", "loss")
    return table(headers, rows, empty="no peers")


def _peer_state(peer: Any) -> str:
    state = field(peer, "state")
    if isinstance(state, str):
        return state
    if field(peer, "linked", "connected"):
        return "linked"
    configured = items(peer, "configured")
    if field(peer, "dialing") or any(field(c, "dialing") for c in configured):
        return "dialing"
    if field(peer, "known"):
        return "in mesh" if field(peer, "route") else "unreachable"
    error = field(peer, "last_error") or next(
        (field(c, "last_error") for c in configured if field(c, "last_error")), None
    )
    return f"down ({error})" if error else "down"


def disconnected_text(target: str, answer: Any) -> str:
    """One line for a ``disconnect`` answer: what is no longer kept, what was closed."""
    forgotten = len(items(answer, "disconnected"))
    closed = isinstance(answer, Mapping) and answer.get("link_closed") is True
    if closed and not forgotten:
        return f"disconnected {target}: link closed (it dialled us and may dial again)"
    if closed:
        return f"disconnected {target}: link closed, no longer redialled"
    return f"disconnected {target}: no longer redialled"


def render_status(status: Any) -> str:
    node = field(status, "node_id", default="-")
    lines = [f"node:        {node}"]
    version = field(status, "version")
    if version is not None:
        lines.append(f"version:     {version}")
    listening = field(status, "listening")
    if isinstance(listening, list) and listening:
        lines.append(f"listening:   {', '.join(str(e) for e in listening)}")
    uptime = field(status, "uptime")
    if uptime is not None:
        lines.append(f"uptime:      {format_age(uptime)}")
    counts = [
        ("links", _count(field(status, "links"), "links")),
        ("known nodes", _count(field(status, "known_nodes"), "database")),
        ("routes in use", _count(field(status, "routes_in_use"), "routes")),
        ("sessions", _count(field(status, "sessions"), "sessions")),
    ]
    lines.append("  ".join(f"{name}: {n}" for name, n in counts if n is not None))
    for label, key in (("messages", "messages"), ("outbox", "outbox")):
        value = field(status, key)
        if isinstance(value, Mapping):
            summary = ", ".join(f"{k} {v}" for k, v in sorted(value.items()))
            lines.append(f"{label + ':':13}{summary}")
    return "\n".join(lines)


def _count(value: Any, key: str) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, list | Mapping):
        return len(items(value, key))
    return None


def render_routes(routes: Any, *, names: Mapping[str, str] | None = None) -> str:
    """Our links with their quality, then the path to each known node."""
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
        destination = field(route, "destination", "node_id")
        route_rows.append(
            (
                field(route, "petname") or _name(destination, names),
                len(path) - 1 if isinstance(path, list) and path else None,
                hops or "no path",
                field(route, "cost"),
                "yes" if field(route, "in_use") else "-",
                format_age(field(route, "age")),
            )
        )
    headers = ("destination", "relays", "path", "cost", "in use", "age")
    return "\n".join(
        (
            "links:",
            table(("neighbour", "rtt", "loss", "cost", "samples"), link_rows, empty="  no links"),
            "",
            "routes:",
            table(headers, route_rows, empty="  none"),
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
    """The text of a message; a body that is not UTF-8 is shown as its size."""
    text = field(message, "text")
    if isinstance(text, str):
        return text
    size = field(message, "size")
    return f"<{size} bytes of binary data>" if isinstance(size, int) else "<binary data>"


def render_inbox(messages: Any, *, names: Mapping[str, str] | None = None) -> str:
    names = names or {}
    lines = [
        message_line(m, name=names.get(field(m, "peer", "sender", default="")))
        for m in items(messages, "messages")
    ]
    return "\n".join(lines) if lines else "no messages"


def render_trace(
    hops: Sequence[Any],
    *,
    names: Mapping[str, str] | None = None,
    end_to_end: float | None = None,
) -> str:
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
    text = table(("hop", "node", "rtt", "loss", "note"), rows, empty="no route")
    if end_to_end is not None:
        text += f"\nend to end: {format_rtt(end_to_end)} (the session's smoothed RTT)"
    return text


def render_ping(answer: Mapping[str, Any], *, names: Mapping[str, str] | None = None) -> str:
    """One line per ping, then the summary line (like ping(8))."""
    who = _name(field(answer, "peer"), names or {})
    lines = []
    samples = field(answer, "samples") or []
    for i, sample in enumerate(samples, start=1):
        rtt = field(sample, "rtt")
        if rtt is None:
            lines.append(f"ping {i}: {field(sample, 'error')}")
        else:
            resent = field(sample, "resent") or 0
            again = f" (probe resent {resent}x)" if resent else ""
            lines.append(f"ping {i}: answer from {who} in {format_rtt(rtt)}{again}")
    sent, answered = field(answer, "sent") or 0, field(answer, "answered") or 0
    median = field(answer, "median")
    summary = f"{sent} sent, {answered} answered"
    if median is not None:
        summary += f", median {format_rtt(median)}"
    lines.append(summary)
    return "\n".join(lines)
