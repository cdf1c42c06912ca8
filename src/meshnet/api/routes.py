"""The route table: every endpoint of the API, once.

The server registers exactly these routes and the OpenAPI document (``openapi.py``) is
built from them, so the two cannot drift. A route names its method and path, the
handler (a method of ``ApiHandlers``) or, for the streaming and text endpoints, its
``kind``, the fields of its body or query string, the type of its answer, and the
error statuses it may give.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from meshnet.api import messages
from meshnet.api.events import MAX_KINDS_TEXT
from meshnet.api.handlers import ApiHandlers, Request
from meshnet.api.messages import MAX_LIMIT, MESSAGE_MAX_BODY
from meshnet.api.names import MAX_NAME
from meshnet.api.schema import (
    ConnectResult,
    DisconnectResult,
    IdentityView,
    LinksView,
    MessageChanged,
    PeersView,
    PingView,
    ReceivedMessagesView,
    RoutesView,
    SentMessagesView,
    SentMessageView,
    SessionsView,
    StatusView,
    TraceView,
)
from meshnet.api.shapes import Field

__all__ = ["MAX_BODY", "ROUTES", "Handler", "Kind", "Route"]

MAX_BODY = 256 * 1024
"""The largest request body accepted, in bytes (413 past it)."""
MAX_ADDRESS = 600

Handler = Callable[[ApiHandlers, Request], object]
Kind = Literal["json", "events", "metrics", "openapi"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """One endpoint."""

    method: Literal["GET", "POST", "DELETE"]
    path: str
    """The path; ``{name}`` marks a path parameter."""
    operation: str
    """The OpenAPI ``operationId``."""
    summary: str
    tag: str
    kind: Kind = "json"
    handler: Handler | None = None
    """For ``json`` routes: the handler."""
    response: Any = None
    """For ``json`` routes: the type of the handler's answer."""
    status: int = 200
    body: tuple[Field, ...] | None = None
    """Fields of the JSON body; None: the route takes no body."""
    query: tuple[Field, ...] = ()
    path_params: tuple[Field, ...] = ()
    errors: tuple[int, ...] = ()
    """Statuses the handler itself may answer (besides 400/401/413 for input)."""
    description: str = ""


_PEER_ERRORS = (404, 409)
_MAX_EXPIRY = 10 * 365 * 86400.0
_PEER_FILTER = Field(
    name="peer",
    type="string",
    max_length=MAX_NAME,
    description="only messages with this node (petname, id prefix or full id)",
)
_LIMIT = Field(
    name="limit",
    type="integer",
    minimum=1,
    maximum=MAX_LIMIT,
    description="at most this many, the newest (default 100)",
)
_MESSAGE_ID = (
    Field(
        name="id",
        type="string",
        max_length=64,
        description="the message id (32 hex digits)",
    ),
)

_PEER = Field(
    name="peer",
    type="string",
    required=True,
    max_length=MAX_NAME,
    description="the node: petname, unique id prefix or full id",
)
_PROBE_TIMEOUT = Field(
    name="timeout",
    type="number",
    minimum=0.05,
    maximum=10,
    description="seconds to wait for each answer (default 5)",
)

ROUTES: tuple[Route, ...] = (
    Route(
        method="POST",
        path="/v1/ping",
        operation="ping",
        summary="Ping a node end to end (over its session, through the relays), one probe "
        "after another",
        tag="peers",
        handler=ApiHandlers.ping,
        response=PingView,
        body=(
            _PEER,
            Field(
                name="count",
                type="integer",
                minimum=1,
                maximum=10,
                description="how many pings (default 3)",
            ),
            _PROBE_TIMEOUT,
        ),
        errors=_PEER_ERRORS,
    ),
    Route(
        method="POST",
        path="/v1/trace",
        operation="trace",
        summary="Ping every node on the route to a node at once: the round trip to each hop",
        tag="peers",
        handler=ApiHandlers.trace,
        response=TraceView,
        body=(_PEER, _PROBE_TIMEOUT),
        errors=_PEER_ERRORS,
    ),
    Route(
        method="GET",
        path="/v1/identity",
        operation="identity",
        summary="This node's identity: node id, mesh address, identity record",
        tag="node",
        handler=ApiHandlers.identity,
        response=IdentityView,
    ),
    Route(
        method="GET",
        path="/v1/status",
        operation="status",
        summary="The daemon at a glance: listeners, counts of links, peers, routes, sessions",
        tag="node",
        handler=ApiHandlers.status,
        response=StatusView,
    ),
    Route(
        method="GET",
        path="/v1/peers",
        operation="peers",
        summary="Known nodes: linked neighbours, configured peers and nodes seen in the mesh",
        tag="peers",
        handler=ApiHandlers.peers,
        response=PeersView,
    ),
    Route(
        method="POST",
        path="/v1/connect",
        operation="connect",
        summary="Keep a link to an address (redialled with backoff); dial it now",
        tag="peers",
        handler=ApiHandlers.connect,
        response=ConnectResult,
        status=202,
        body=(
            Field(
                name="address",
                type="string",
                required=True,
                max_length=MAX_ADDRESS,
                description=(
                    "[NODE@]ENDPOINT: NODE is a petname, unique id prefix or full id the "
                    "endpoint must prove; ENDPOINT is tcp:HOST:PORT, udp:HOST:PORT, "
                    "HOST:PORT or HOST (TCP, port 4100)"
                ),
            ),
        ),
        errors=_PEER_ERRORS,
    ),
    Route(
        method="POST",
        path="/v1/disconnect",
        operation="disconnect",
        summary="Stop keeping a link to a configured peer (by name) or endpoint",
        tag="peers",
        handler=ApiHandlers.disconnect,
        response=DisconnectResult,
        body=(
            Field(
                name="peer",
                type="string",
                required=True,
                max_length=MAX_NAME,
                description="a petname, node id prefix, full id, or an endpoint",
            ),
        ),
        errors=_PEER_ERRORS,
    ),
    Route(
        method="GET",
        path="/v1/links",
        operation="links",
        summary="Direct links: endpoint, RTT, loss, bytes, rekeys, drops",
        tag="network",
        handler=ApiHandlers.links,
        response=LinksView,
    ),
    Route(
        method="GET",
        path="/v1/routes",
        operation="routes",
        summary="A path to every known node, the routes in use and our neighbours' costs",
        tag="network",
        handler=ApiHandlers.routes,
        response=RoutesView,
    ),
    Route(
        method="GET",
        path="/v1/sessions",
        operation="sessions",
        summary="End-to-end sessions: state, RTT, congestion window, streams",
        tag="network",
        handler=ApiHandlers.sessions,
        response=SessionsView,
    ),
    Route(
        method="POST",
        path="/v1/messages",
        operation="send_message",
        summary="Send a message; answered once it is durably stored (delivery follows)",
        tag="messages",
        handler=messages.send_message,
        response=SentMessageView,
        status=201,
        body=(
            Field(
                name="to",
                type="string",
                required=True,
                max_length=MAX_NAME,
                description="the recipient: petname, id prefix or full id",
            ),
            Field(
                name="text",
                type="string",
                max_length=MESSAGE_MAX_BODY,
                description="the body as text (give this or body_base64)",
            ),
            Field(
                name="body_base64",
                type="string",
                max_length=4 * -(-MESSAGE_MAX_BODY // 3),
                description="the body as base64 (give this or text)",
            ),
            Field(
                name="expires_in",
                type="number",
                minimum=1.0,
                maximum=_MAX_EXPIRY,
                description="seconds to keep trying before giving up (default: the node's)",
            ),
        ),
        errors=(404, 409, 413, 503),
    ),
    Route(
        method="GET",
        path="/v1/messages/inbox",
        operation="inbox",
        summary="Messages delivered to this node, oldest first",
        tag="messages",
        handler=messages.inbox,
        response=ReceivedMessagesView,
        query=(
            _PEER_FILTER,
            Field(name="unread", type="boolean", description="only those not marked read"),
            _LIMIT,
        ),
        errors=_PEER_ERRORS,
    ),
    Route(
        method="GET",
        path="/v1/messages/outbox",
        operation="outbox",
        summary="Messages this node sent, in any state (pending, delivered, read ...)",
        tag="messages",
        handler=messages.outbox,
        response=SentMessagesView,
        query=(_PEER_FILTER, _LIMIT),
        errors=_PEER_ERRORS,
    ),
    Route(
        method="POST",
        path="/v1/messages/{id}/read",
        operation="mark_read",
        summary="Mark a received message read (its sender gets a read receipt)",
        tag="messages",
        handler=messages.mark_read,
        response=MessageChanged,
        path_params=_MESSAGE_ID,
        errors=(404, 409),
    ),
    Route(
        method="DELETE",
        path="/v1/messages/{id}",
        operation="cancel_message",
        summary="Cancel a sent message not delivered yet (it is no longer retried)",
        tag="messages",
        handler=messages.cancel_message,
        response=MessageChanged,
        path_params=_MESSAGE_ID,
        errors=(404, 409),
    ),
    Route(
        method="GET",
        path="/v1/events",
        operation="events",
        summary="Live node events as server-sent events (text/event-stream)",
        tag="events",
        kind="events",
        query=(
            Field(
                name="kinds",
                type="string",
                max_length=MAX_KINDS_TEXT,
                description="comma-separated event kinds to receive (default: all)",
            ),
        ),
        description=(
            "Each event is `event: KIND` and `data: JSON` (the JSON has `event`: KIND). "
            "`Subscribed` comes first; `EventsDropped` {dropped, total} says a slow reader "
            "missed events (the node never waits for a reader). A `: keepalive` comment "
            "comes every 15 s of silence."
        ),
    ),
    Route(
        method="GET",
        path="/metrics",
        operation="metrics",
        summary="Prometheus text-format metrics",
        tag="events",
        kind="metrics",
    ),
    Route(
        method="GET",
        path="/openapi.json",
        operation="openapi",
        summary="This document",
        tag="meta",
        kind="openapi",
    ),
)
