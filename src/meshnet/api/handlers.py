"""The API's handlers: checked request values and a ``NodeControl`` in, a view out.

Pure functions over the node's snapshots: no HTTP, no sockets, no clock. The server
(``runtime/apiserver.py``) decodes a request into a ``Request`` (path parameters and the
body or query fields, already checked against the route's ``Field``s), calls the
route's handler, and encodes the returned view. A handler refuses with ``ApiError``
(a 4xx); the node's own ``LocalError``s are translated by ``refusal``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from meshnet.api.control import DriverSnapshot, NodeControl
from meshnet.api.errors import ApiError
from meshnet.api.names import PeerNames
from meshnet.api.schema import (
    ConnectResult,
    DisconnectResult,
    DropsView,
    IdentityView,
    LinksView,
    PeerLinkView,
    PeersView,
    PeerView,
    PingSampleView,
    PingView,
    RoutesView,
    RouteView,
    SessionsView,
    StatusView,
    TraceHopView,
    TraceView,
)
from meshnet.crypto.identity import NodeId
from meshnet.errors import (
    AmbiguousPeerError,
    ConfigError,
    InvalidNodeIdError,
    LocalError,
    StateError,
    UnknownPeerError,
)
from meshnet.link.status import LinkStatus
from meshnet.version import __version__

__all__ = ["DEFAULT_PORT", "ApiHandlers", "Request", "refusal"]

DEFAULT_PORT = 4100
"""The port assumed when a connect address names none (the daemon's default)."""

Petnames = Callable[[], Mapping[str, NodeId]]


@dataclass(frozen=True, slots=True)
class Request:
    """A request as a handler sees it: path parameters and checked field values."""

    path: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, object] = field(default_factory=dict)

    def number(self, name: str, default: float) -> float:
        value = self.values.get(name, default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ApiError(400, "bad_field", f"{name!r} must be a number")
        return float(value)

    def text(self, name: str) -> str:
        value = self.values.get(name, self.path.get(name))
        if not isinstance(value, str):
            raise ApiError(400, "missing_field", f"the request needs {name!r}")
        return value


def refusal(exc: LocalError) -> ApiError:
    """The 4xx answer for a ``LocalError`` the node raised."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, UnknownPeerError):
        return ApiError(404, "unknown_peer", str(exc))
    if isinstance(exc, AmbiguousPeerError):
        return ApiError(409, "ambiguous_peer", str(exc))
    if isinstance(exc, InvalidNodeIdError):
        return ApiError(400, "bad_peer_name", str(exc))
    if isinstance(exc, ConfigError):
        return ApiError(400, "bad_value", str(exc))
    if isinstance(exc, StateError):
        return ApiError(409, "bad_state", str(exc))
    return ApiError(400, "refused", str(exc))


def _counts(pairs: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(pairs))


def _node(text: str) -> NodeId:
    return NodeId.from_text(text)


class ApiHandlers:
    """One method per API operation (the route table in ``routes.py`` names them).

    Args:
        control: the running node.
        petnames: returns the petnames in force now (petname -> node id).
    """

    def __init__(self, control: NodeControl, *, petnames: Petnames | None = None) -> None:
        self.control = control
        self._petnames: Petnames = petnames or dict

    def names(self, snapshot: DriverSnapshot | None = None) -> PeerNames:
        """The resolver for names, over the nodes known now."""
        status = (snapshot or self.control.status()).node
        me = status.node_id
        known = {_node(link.peer) for link in status.links.links}
        known |= {_node(p.expected) for p in status.peers if p.expected is not None}
        known |= {entry.origin for entry in status.routing.database}
        return PeerNames(self._petnames(), (n for n in known if str(n) != me))

    # -- identity and status ---------------------------------------------------------

    def identity(self, request: Request) -> IdentityView:
        record = self.control.identity_record
        node = record.node_id
        return IdentityView(
            node_id=node,
            short=node.short(),
            mesh_address=str(node.mesh_address),
            static_public=record.static_public.hex(),
            created=record.created,
            version=__version__,
        )

    def status(self, request: Request) -> StatusView:
        snap = self.control.status()
        node = snap.node
        me = _node(node.node_id)
        return StatusView(
            node_id=me,
            short=me.short(),
            version=__version__,
            listening=snap.listening,
            links=len(node.links.links),
            handshakes_in_progress=node.links.handshakes_in_progress,
            configured_peers=len(node.peers),
            known_nodes=sum(1 for e in node.routing.database if e.origin != me),
            routes_in_use=len(node.routing.routes),
            pending_packets=node.routing.pending_packets,
            sessions=len(node.sessions.sessions),
            tcp_connections=snap.tcp_connections,
            udp_peers=snap.udp_peers,
            dials_in_progress=snap.dials_in_progress,
            buffered_bytes=snap.buffered_bytes,
            reading_paused=snap.reading_paused,
            counters=_counts(snap.counters),
            drops=DropsView(
                node=_counts(node.drops),
                link=_counts(node.links.drops),
                routing=_counts(node.routing.counters.drops),
                session=_counts(node.sessions.drops),
            ),
            messaging=node.messaging,
        )

    # -- peers -----------------------------------------------------------------------

    def peers(self, request: Request) -> PeersView:
        snap = self.control.status()
        status = snap.node
        names = self.names(snap)
        me = _node(status.node_id)
        links: dict[NodeId, LinkStatus] = {_node(link.peer): link for link in status.links.links}
        database = {e.origin: e for e in status.routing.database if e.origin != me}
        configured: dict[NodeId | None, list[int]] = {}
        for index, peer in enumerate(status.peers):
            key = _node(peer.expected) if peer.expected is not None else None
            configured.setdefault(key, []).append(index)
        nodes = set(links) | set(database) | {n for n in configured if n is not None}
        nodes |= {n for n in self._petnames().values() if n != me}
        views = []
        for node in sorted(nodes):
            link = links.get(node)
            entry = database.get(node)
            views.append(
                PeerView(
                    node_id=node,
                    short=node.short(),
                    petname=names.petname_of(node),
                    linked=link is not None,
                    link=_link_view(link) if link is not None else None,
                    configured=tuple(status.peers[i] for i in configured.get(node, [])),
                    known=entry is not None,
                    announced_endpoints=entry.endpoints if entry is not None else (),
                    route=self.control.route_to(node),
                )
            )
        for index in configured.get(None, []):
            views.append(
                PeerView(
                    node_id=None,
                    short=None,
                    petname=None,
                    linked=False,
                    link=None,
                    configured=(status.peers[index],),
                    known=False,
                    announced_endpoints=(),
                    route=None,
                )
            )
        return PeersView(peers=tuple(views))

    def connect(self, request: Request) -> ConnectResult:
        address = request.text("address").strip()
        node_text, at, endpoint = address.rpartition("@")
        expected = None
        if at:
            if not node_text:
                raise ApiError(400, "bad_address", "an empty node name before '@'")
            expected = self.names().resolve(node_text)
        endpoint = _with_defaults(endpoint)
        try:
            canonical = self.control.connect(endpoint, expected_peer=expected)
        except ConfigError as exc:
            raise ApiError(400, "bad_address", str(exc)) from None
        except LocalError as exc:
            raise refusal(exc) from None
        return ConnectResult(endpoint=canonical, expected_peer=expected)

    def disconnect(self, request: Request) -> DisconnectResult:
        target = request.text("peer").strip()
        if target not in self._petnames() and (":" in target or "." in target):  # an endpoint
            try:
                closed = self.control.disconnect(_with_defaults(target))
            except ConfigError as exc:
                raise ApiError(400, "bad_address", str(exc)) from None
            except LocalError as exc:
                raise refusal(exc) from None
            return DisconnectResult(disconnected=(target,), link_closed=closed)
        node = self.names().resolve(target)
        try:
            endpoints, closed = self.control.disconnect_peer(node)
        except UnknownPeerError:
            raise ApiError(
                404, "not_configured", f"{node.short()} is neither a configured peer nor linked"
            ) from None
        return DisconnectResult(disconnected=endpoints, link_closed=closed)

    # -- links, routes, sessions -----------------------------------------------------

    def links(self, request: Request) -> LinksView:
        status = self.control.status().node.links
        return LinksView(
            links=status.links,
            handshakes_in_progress=status.handshakes_in_progress,
            transports=status.transports,
            drops=_counts(status.drops),
        )

    def routes(self, request: Request) -> RoutesView:
        snap = self.control.status()
        routing = snap.node.routing
        names = self.names(snap)
        in_use = {route.destination: route for route in routing.routes}
        destinations = {e.origin for e in routing.database} | set(in_use)
        destinations.discard(routing.node_id)
        views = []
        for node in sorted(destinations):
            used = in_use.get(node)
            path = used.path if used is not None else self.control.route_to(node)
            views.append(
                RouteView(
                    destination=node,
                    petname=names.petname_of(node),
                    path=path,
                    hops=len(path) if path is not None else None,
                    in_use=used is not None,
                    cost=used.cost if used is not None else None,
                    age=used.age if used is not None else None,
                    idle=used.idle if used is not None else None,
                )
            )
        return RoutesView(
            policy=routing.policy,
            routes=tuple(views),
            neighbours=routing.neighbours,
            pending_packets=routing.pending_packets,
            suspended_links=routing.suspended_links,
            counters=routing.counters,
        )

    def sessions(self, request: Request) -> SessionsView:
        status = self.control.status().node.sessions
        return SessionsView(sessions=status.sessions, drops=_counts(status.drops))

    async def ping(self, request: Request) -> PingView:
        """Pings to one node, one after another; each waits at most ``timeout``."""
        names = self.names()
        peer = names.resolve(request.text("peer").strip())
        count = int(request.number("count", 3))
        timeout = request.number("timeout", 5.0)
        samples: list[PingSampleView] = []
        for _ in range(count):
            try:
                answer = await self.control.ping(peer, timeout=timeout)
            except TimeoutError:
                samples.append(
                    PingSampleView(rtt=None, resent=0, error=f"no answer in {timeout:g} s")
                )
                continue
            except StateError as exc:
                samples.append(PingSampleView(rtt=None, resent=0, error=str(exc)))
                break  # the session failed: the next ping would fail the same way
            except LocalError as exc:
                raise refusal(exc) from None
            samples.append(PingSampleView(rtt=answer.rtt, resent=answer.resent, error=""))
        rtts = sorted(s.rtt for s in samples if s.rtt is not None)
        return PingView(
            peer=peer,
            petname=names.petname_of(peer),
            sent=len(samples),
            answered=len(rtts),
            samples=tuple(samples),
            median=rtts[len(rtts) // 2] if rtts else None,
        )

    async def trace(self, request: Request) -> TraceView:
        """Every node on the route to ``peer`` pinged at once."""
        names = self.names()
        peer = names.resolve(request.text("peer").strip())
        try:
            hops = await self.control.trace(peer, timeout=request.number("timeout", 5.0))
        except StateError as exc:
            raise ApiError(409, "no_route", str(exc)) from None
        return TraceView(
            destination=peer,
            hops=tuple(
                TraceHopView(
                    node_id=hop.node,
                    petname=names.petname_of(hop.node),
                    rtt=hop.rtt,
                    error=hop.error,
                )
                for hop in hops
            ),
        )


def _link_view(link: LinkStatus) -> PeerLinkView:
    return PeerLinkView(
        link=link.link,
        endpoint=link.endpoint,
        outbound=link.outbound,
        age=link.age,
        srtt=link.srtt,
        loss=link.loss,
    )


def _with_defaults(endpoint: str) -> str:
    """``HOST``, ``HOST:PORT`` or ``tcp:HOST:PORT``: the scheme is TCP, the port 4100."""
    endpoint = endpoint.strip()
    scheme, sep, rest = endpoint.partition(":")
    if not sep or scheme.lower() not in ("tcp", "udp"):
        scheme, rest = "tcp", endpoint
    if (rest.startswith("[") and rest.endswith("]")) or ":" not in rest:
        rest = f"{rest}:{DEFAULT_PORT}"
    return f"{scheme.lower()}:{rest}"
