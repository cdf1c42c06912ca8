"""``trace``: the route to a node, hop by hop, with the measured RTT and loss of each link.

When the node's API offers an end-to-end trace (every hop pinged), that is used. Else
the trace is read from ``routes``: the source route in use to the destination, with
our own link's RTT and loss from our measurements and each further link's from the
announcement of the relay at its near end (what that relay measured and flooded).
Nothing is estimated: a link nobody reported shows ``-``. Below the hops, the
end-to-end session's smoothed RTT to the destination, when there is a session.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshnet.cli.output import field
from meshnet.cli.remote import NodeApi
from meshnet.cli.render import items
from meshnet.errors import LocalError

__all__ = ["end_to_end_rtt", "resolve_destination", "route_trace", "trace_hops"]


def trace_hops(api: NodeApi, peer: str) -> list[dict[str, Any]]:
    """One dict per hop (``node_id``, ``rtt`` seconds or None, ``loss``, ``error``)."""
    probe = getattr(api, "trace", None)
    if callable(probe):
        return [dict(hop) for hop in items(probe(peer), "hops") if isinstance(hop, Mapping)]
    return route_trace(api.routes(), api.peers(), peer)


def end_to_end_rtt(api: NodeApi, destination: str) -> float | None:
    """The smoothed RTT of our end-to-end session with ``destination``, if one is measured."""
    for session in items(api.sessions(), "sessions"):
        if field(session, "peer") == destination:
            rtt = field(session, "srtt")
            return float(rtt) if isinstance(rtt, int | float) else None
    return None


def resolve_destination(routes: Any, peers: Any, peer: str) -> str:
    """The full id ``peer`` names: a full id, a petname or a unique id prefix.

    Raises:
        LocalError: nothing or more than one known node matches.
    """
    known: dict[str, str | None] = {}
    for record in items(peers, "peers"):
        node_id = field(record, "node_id", "peer", "id")
        if isinstance(node_id, str):
            known[node_id] = field(record, "petname", "name")
    for record in items(routes, "routes") + items(routes, "database"):
        node_id = field(record, "destination", "origin")
        if isinstance(node_id, str):
            known.setdefault(node_id, None)
    if peer in known:
        return peer
    named = [node_id for node_id, name in known.items() if name == peer]
    matches = named or [node_id for node_id in known if node_id.startswith(peer.lower())]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise LocalError(f"no known node is called {peer!r}")
    raise LocalError(f"{peer!r} matches {len(matches)} nodes; give more of the id")


def route_trace(routes: Any, peers: Any, peer: str) -> list[dict[str, Any]]:
    """The hops of the route in use to ``peer``, read from a ``routes`` answer."""
    destination = resolve_destination(routes, peers, peer)
    route = next(
        (r for r in items(routes, "routes") if field(r, "destination") == destination), None
    )
    path = field(route, "path")
    if not isinstance(path, list) or not path:
        raise LocalError(
            f"no route in use to {peer!r} (routes are made when traffic flows: "
            "send it a message first)"
        )
    own = {field(n, "peer", "node_id"): n for n in items(routes, "neighbours", "links")}
    announced = {field(e, "origin"): e for e in items(routes, "database")}
    hops = []
    previous: str | None = None
    for hop in path:
        if previous is None:
            link = own.get(hop)
        else:
            entry = announced.get(previous)
            link = next(
                (x for x in items(entry, "links") if field(x, "node") == hop),
                None,
            )
        hops.append(
            {
                "node_id": hop,
                "rtt": field(link, "rtt", "srtt"),
                "loss": field(link, "loss"),
                "error": "" if link is not None else "not measured by this node",
            }
        )
        previous = hop
    return hops
