"""``Router``: link-state routing with signed announcements and source-routed forwarding.

Theory of operation (docs/protocol/routing.md)
----------------------------------------------
The router knows its neighbours only as ``LinkId`` + the ``NodeId`` the link layer
proved (``link_up``); it never imports the link layer. Bytes in: ``receive_packet``
(``forward_now`` for a relay's hot case: a packet to pass on at once is handed back).
Bytes out: ``packets_to_send``. Commands: ``send``, ``set_endpoints``. Events:
``next_event``. Time: ``get_timer``/``handle_timer``. Inspection: ``status``.

1. *Control plane* (§2-§3, §6). Every node floods a signed announcement of its links
   (with measured RTT and loss) and endpoints. A received one is checked
   (``lsdb.py``: duplicate, stale, expired, database full), verified once through the
   shared caching verifier (a link that keeps sending bad signatures is ignored for a
   while), rate limited per origin, installed, and queued for every *other* link. A new
   link gets a SUMMARY of our database; the neighbour pushes back whatever we lack.
   ``announce.py`` paces our own announcements; an announcement of our own id newer
   than ours means we restarted: we jump above it.
2. *Paths* (§5). ``table.py`` runs Dijkstra over links both ends announce, costed by
   the ``PathPolicy``, and tracks routes in use and links suspended by route errors.
3. *Data plane* (§4). ``send`` puts the relay list in the header; relays check it
   (``forward.py``) and pass it on with no per-destination state. A relay that cannot
   reach the next hop sends a signed ROUTE_ERROR back along the reversed path; the
   source suspends that link and reroutes at once. A packet with no path waits a few
   seconds (``pending.py``). Each link's data queue is fair between the
   neighbours packets came from, then between sources (``queues.py``); control packets
   go first.

Hostile input never raises: every bad packet ends as a counted drop or rejection.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import Identity, IdentityRecord, NodeId, SignatureVerifier
from meshnet.errors import DecodeError, LocalError, StateError
from meshnet.ids import LinkId
from meshnet.routing.announce import AnnounceScheduler, AnnounceTrigger
from meshnet.routing.config import RoutingConfig
from meshnet.routing.decoder import AnnouncementDecoder
from meshnet.routing.events import (
    DestinationUnreachable,
    PacketDelivered,
    RoutingEvent,
    UnreachableReason,
)
from meshnet.routing.flooding import Flooding
from meshnet.routing.forward import DropReason, check_route, next_hop, route_error_for
from meshnet.routing.lsdb import LinkStateDatabase
from meshnet.routing.messages import (
    MAX_ENDPOINTS,
    MAX_SUMMARY_ENTRIES,
    check_endpoint,
    prefix_of,
)
from meshnet.routing.metrics import LinkEstimator, LinkMetrics
from meshnet.routing.neighbours import Neighbour, Neighbours
from meshnet.routing.packets import (
    RoutedHeader,
    RouteError,
    advance,
    decode_header,
    encode_header,
    with_header,
)
from meshnet.routing.pending import PendingPackets
from meshnet.routing.policy import EtxLatencyPolicy, PathPolicy
from meshnet.routing.queues import FairQueue
from meshnet.routing.ratelimit import TokenBucket
from meshnet.routing.status import (
    NeighbourLinkInfo,
    RouteInfo,
    RoutingCounters,
    RoutingStatus,
    database_info,
)
from meshnet.routing.table import RouteTable
from meshnet.wire.codes import RoutingPacket
from meshnet.wire.headroom import Headroom, Outgoing

__all__ = ["Router"]

_ERRORS_REMEMBERED = 1024  # (source, next hop) pairs a relay remembers reporting
_MAX_SEQUENCE = (1 << 63) - 1
_HEADERS_KEPT = 1024  # destinations whose routed header a sender keeps for reuse
_MAX_ROOM = 65535  # the largest session packet a stream path is said to carry


class Router:
    """The routing layer of one node, without IO.

    Args:
        identity: our keys (signs announcements and route errors).
        config: timers and bounds.
        entropy: randomness (refresh jitter).
        verifier: the shared caching signature verifier.
        policy: link costs; ``EtxLatencyPolicy()`` by default.
        initial_sequence: the sequence number we last announced in a previous run, if
            the runtime persisted it (``sequence``); our next is one above.
        decoder: the caching announcement decoder, which may be shared between
            nodes (a simulation shares one); a private one by default.

    Raises:
        LocalError: ``initial_sequence`` out of range.
    """

    def __init__(
        self,
        *,
        identity: Identity,
        config: RoutingConfig,
        entropy: Entropy,
        verifier: SignatureVerifier,
        policy: PathPolicy | None = None,
        initial_sequence: int = 0,
        decoder: AnnouncementDecoder | None = None,
    ) -> None:
        if not 0 <= initial_sequence < _MAX_SEQUENCE:
            raise LocalError("initial_sequence must fit in 63 bits")
        self._identity = identity
        self._me = identity.node_id
        self._config = config
        self._verifier = verifier
        self._policy: PathPolicy = policy if policy is not None else EtxLatencyPolicy()
        self._lsdb = LinkStateDatabase(
            accept_rate=config.accept_rate,
            accept_burst=config.accept_burst,
            max_origins=config.max_origins,
        )
        self._table = RouteTable(
            me=self._me,
            lsdb=self._lsdb,
            policy=self._policy,
            max_in_use=config.max_routes_in_use,
            idle=config.route_idle,
            clock=lambda: self._now,
            min_interval=config.spf_interval,
        )
        self._scheduler = AnnounceScheduler(config=config, entropy=entropy)
        self._neighbours = Neighbours()
        self._flooding = Flooding(
            identity=identity,
            config=config,
            verifier=verifier,
            decoder=decoder if decoder is not None else AnnouncementDecoder(),
            lsdb=self._lsdb,
            table=self._table,
            scheduler=self._scheduler,
            neighbours=self._neighbours,
            policy=self._policy,
            initial_sequence=initial_sequence,
        )
        self._pending = PendingPackets(
            timeout=config.pending_timeout,
            max_packets=config.pending_max_packets,
            max_bytes=config.pending_max_bytes,
        )
        self._records: dict[NodeId, IdentityRecord] = {}
        self._stream_room = min(config.max_payload, _MAX_ROOM)
        self._errors_sent: OrderedDict[tuple[NodeId, bytes], float] = OrderedDict()
        self._events: deque[RoutingEvent] = deque()
        self._headers: dict[NodeId, tuple[tuple[NodeId, ...], Neighbour, bool, bytes]] = {}
        self._control_limit = config.max_origins // MAX_SUMMARY_ENTRIES + 64
        self._now = 0.0
        self._round_robin = 0
        self._backlog = False
        self._drops: dict[str, int] = {}
        self._originated = 0
        self._forwarded = 0
        self._delivered = 0
        self._errors_out = 0
        self._errors_in = 0

    # -- identity --------------------------------------------------------------------

    @property
    def node_id(self) -> NodeId:
        """Our node id."""
        return self._me

    @property
    def sequence(self) -> int:
        """The sequence number of our latest announcement (persist it across restarts)."""
        return self._flooding.sequence

    @property
    def policy(self) -> PathPolicy:
        """The path policy in use."""
        return self._policy

    # -- neighbours ------------------------------------------------------------------

    def link_up(
        self,
        link: LinkId,
        peer: NodeId,
        now: float,
        *,
        record: IdentityRecord | None = None,
        stream: bool = False,
    ) -> None:
        """A link to neighbour ``peer`` is established.

        Args:
            link: the link's id (unique among our open links).
            peer: the NodeId the link handshake proved.
            now: the current time.
            record: the peer's identity record from the handshake, if known (lets
                ``record_of`` answer before its first announcement arrives).
            stream: the link runs over a stream carrier (TCP), which carries any
                payload whole; packets leaving on it keep ``STREAM_PATH``.

        Raises:
            StateError: ``link`` is already up, or ``peer`` is ourselves.
        """
        if link in self._neighbours:
            raise StateError(f"link {link} is already up")
        if peer == self._me:
            raise StateError("a link to ourselves")
        self._now = now
        config = self._config
        neighbour = Neighbour(
            link=link,
            peer=peer,
            up_since=now,
            estimator=LinkEstimator(rtt_gain=config.rtt_gain, loss_gain=config.loss_gain),
            announced=LinkMetrics(rtt=None, loss=0.0),
            queue=FairQueue(
                max_packets=config.queue_max_packets,
                max_bytes=config.queue_max_bytes,
                quantum=config.drr_quantum,
            ),
            control=deque(),
            flood={},
            signatures=TokenBucket(
                rate=config.bad_signature_rate, burst=config.bad_signature_burst, now=now
            ),
            control_limit=self._control_limit,
            stream=stream,
        )
        self._neighbours.add(neighbour)
        if record is not None and record.node_id == peer:
            self._records[peer] = record
        for packet in self._flooding.summaries():
            self._control(neighbour, packet)
        self._local_changed(AnnounceTrigger.TOPOLOGY, now)

    def link_down(self, link: LinkId, now: float) -> None:
        """The link is gone; what was queued on it is dropped. Unknown links are ignored."""
        neighbour = self._neighbours.remove(link)
        if neighbour is None:
            return
        self._now = now
        self._drop(DropReason.LINK_DOWN, neighbour.queue.clear())
        if self._neighbours.to(neighbour.peer) is None:
            self._records.pop(neighbour.peer, None)
        self._local_changed(AnnounceTrigger.TOPOLOGY, now)

    def set_link_paused(self, link: LinkId, paused: bool) -> None:
        """Hold (or release) the output for ``link`` while its carrier cannot take more.

        Packets for a paused link wait in its bounded queues, which drop (counted as
        ``queue_full``) rather than let a slow carrier buffer without bound; end-to-end
        congestion control then slows the sources. Unknown links are ignored.
        """
        neighbour = self._neighbours.get(link)
        if neighbour is None or neighbour.paused == paused:
            return
        neighbour.paused = paused
        if not paused:
            self._neighbours.mark(neighbour)

    def link_measured(self, link: LinkId, rtt: float | None, lost: bool, now: float) -> None:
        """A probe sample from the link layer: an RTT in seconds, or a loss.

        Only a change past ``cost_threshold`` (or a first measurement) changes the link's
        cost and is announced (docs/protocol/routing.md §5-§6).
        """
        neighbour = self._neighbours.get(link)
        if neighbour is None:
            return
        self._now = now
        neighbour.estimator.sample(rtt, lost)
        metrics = neighbour.estimator.metrics.quantised()
        if not metrics.differs(neighbour.announced, self._config.cost_threshold):
            return
        first = neighbour.announced.rtt is None
        neighbour.announced = metrics
        trigger = AnnounceTrigger.TOPOLOGY if first else AnnounceTrigger.COST
        self._local_changed(trigger, now)

    def _local_changed(self, trigger: AnnounceTrigger, now: float) -> None:
        self._table.set_local(self._neighbours.view(self._policy))
        self._scheduler.request(trigger, now)
        self._settle(now)

    def set_endpoints(self, endpoints: Sequence[str], now: float) -> None:
        """Where we can be reached (driver address forms), carried in our announcements.

        Raises:
            LocalError: more than 8 endpoints, or one that is empty, longer than 128
                bytes of UTF-8, or not printable.
        """
        unique = tuple(dict.fromkeys(endpoints))
        if len(unique) > MAX_ENDPOINTS:
            raise LocalError(f"at most {MAX_ENDPOINTS} endpoints are announced")
        for endpoint in unique:
            try:
                check_endpoint(endpoint)
            except ValueError as exc:
                raise LocalError(str(exc)) from None
        self._now = now
        if unique != self._flooding.endpoints:
            self._flooding.endpoints = unique
            self._scheduler.request(AnnounceTrigger.TOPOLOGY, now)

    # -- bytes in --------------------------------------------------------------------

    def receive_packet(self, link: LinkId, data: bytes | memoryview, now: float) -> None:
        """A routing packet from the neighbour on ``link``. Bad bytes are counted, never raised.

        ``data`` may be a view of the link's plaintext: a routed packet is forwarded or
        delivered without copying its body out (only what is kept is made ``bytes``).
        """
        self._now = now
        neighbour = self._neighbours.get(link)
        if neighbour is None:
            self._drop(DropReason.UNKNOWN_LINK)
            return
        kind = data[0] if data else 0
        if kind == RoutingPacket.ANNOUNCE:
            self._flooding.receive_announce(neighbour, bytes(data), now)
        elif kind == RoutingPacket.SUMMARY:
            if not self._flooding.receive_summary(neighbour, bytes(data)):
                self._drop(DropReason.MALFORMED)
        elif kind in (RoutingPacket.DATA, RoutingPacket.ROUTE_ERROR):
            self._receive_routed(neighbour, data, now)
        else:
            self._drop(DropReason.UNKNOWN_TYPE)
        self._settle(now)

    def forward_now(
        self, link: LinkId, data: bytes | memoryview, now: float
    ) -> tuple[LinkId, Outgoing] | None:
        """``receive_packet``, a packet to pass on handed back instead of queued.

        The relay's hot case (docs/protocol/routing.md §4.3): a routed DATA packet for
        another node, whose next hop's link has nothing waiting (no control packet,
        announcement or data: its fair queue would send this packet first anyway) and is
        not paused, while the router has no event and nothing else to send. Then the
        packet is checked, advanced and counted as by ``receive_packet`` and returned with
        the link to send it on now, before anything else of ours for that link.
        Otherwise None, and the packet is handled (queued, delivered, dropped) exactly as
        by ``receive_packet``.
        """
        neighbour = self._neighbours.get(link)
        if neighbour is None or not data or data[0] != RoutingPacket.DATA:
            self.receive_packet(link, data, now)
            return None
        self._now = now
        hop = self._receive_routed(neighbour, data, now, direct=True)
        self._settle(now)
        if hop is None:
            return None
        out, source, packet = hop
        if out.paused or self._events or self._neighbours.has_output():
            self._enqueue(out, neighbour.peer, source, packet)  # the general way
            return None
        return out.link, packet

    def _receive_routed(
        self, neighbour: Neighbour, data: bytes | memoryview, now: float, *, direct: bool = False
    ) -> tuple[Neighbour, NodeId, Outgoing] | None:
        """Deliver, queue for the next hop or drop one routed packet. With ``direct``, a
        packet to pass on is returned (next hop, source, packet) instead of queued."""
        try:
            header = decode_header(data, max_body=self._config.max_payload)
        except DecodeError:
            self._drop(DropReason.MALFORMED)
            return None
        problem = check_route(header, self._me, neighbour.peer)
        if problem is not None:
            self._drop(problem)
        elif header.next == len(header.relays):
            body = data[header.size :]
            if header.kind == RoutingPacket.DATA:
                self._delivered += 1
                hops = len(header.relays) + 1
                room = self._stream_room if header.stream_path else 0
                self._events.append(
                    PacketDelivered(source=header.source, payload=body, hops=hops, room=room)
                )
            else:
                self._receive_route_error(header, bytes(body), now)
        elif header.hop_limit <= 1:
            self._drop(DropReason.HOP_LIMIT)
        else:
            hop = next_hop(header)
            if isinstance(hop, NodeId):
                out, gone = self._neighbours.to(hop), prefix_of(hop)
            else:
                out, gone = self._neighbours.by_prefix(hop), hop
            if out is not None:
                self._forwarded += 1
                packet = advance(data, stream_link=out.stream)
                if direct:
                    return out, header.source, packet
                self._enqueue(out, neighbour.peer, header.source, packet)
            else:
                self._drop(DropReason.NEXT_HOP_GONE)
                if header.kind == RoutingPacket.DATA:
                    self._report(neighbour, header, gone, now)
        return None

    def _report(self, neighbour: Neighbour, header: RoutedHeader, gone: bytes, now: float) -> None:
        """Tell the source of ``header`` that we cannot reach ``gone`` (at most once a while)."""
        key = (header.source, gone)
        last = self._errors_sent.get(key)
        if last is not None and now - last < self._config.route_error_interval:
            self._drop(DropReason.ROUTE_ERROR_LIMITED)
            return
        self._errors_sent[key] = now
        self._errors_sent.move_to_end(key)
        if len(self._errors_sent) > _ERRORS_REMEMBERED:
            self._errors_sent.popitem(last=False)
        packet = route_error_for(
            self._identity,
            header,
            unreachable=gone,
            sequence=self._flooding.sequence,
            hop_limit=self._config.hop_limit,
        )
        self._errors_out += 1
        self._control(neighbour, packet)  # back the way the packet came

    def _receive_route_error(self, header: RoutedHeader, body: bytes, now: float) -> None:
        try:
            error = RouteError.decode_body(body, reporter=header.source, source=header.destination)
        except DecodeError:
            self._drop(DropReason.BAD_ROUTE_ERROR)
            return
        held = self._lsdb.get(error.reporter)
        if not error.verify(self._verifier):
            self._drop(DropReason.BAD_ROUTE_ERROR)
        elif (
            held is None
            or held.announcement.sequence > error.reporter_sequence
            or error.unreachable not in held.prefixes
        ):
            # older than what the reporter announced since, or about a link we do not
            # hold: nothing to suspend (and suspensions stay bounded by the database)
            self._drop(DropReason.STALE_ROUTE_ERROR)
        else:
            self._errors_in += 1
            self._table.suspend(
                error.reporter,
                error.unreachable,
                until=now + self._config.route_error_hold,
                sequence=error.reporter_sequence,
            )

    # -- sending ---------------------------------------------------------------------

    def send(self, destination: NodeId, payload: Outgoing, now: float) -> None:
        """Originate a packet carrying ``payload`` (opaque here) to ``destination``.

        With no path yet, the packet waits up to ``pending_timeout`` for one; what cannot
        be sent is reported by a ``DestinationUnreachable`` event. Sending to ourselves
        delivers at once (``hops=0``).

        Raises:
            LocalError: ``payload`` is longer than ``max_payload``.
        """
        if len(payload) > self._config.max_payload:
            raise LocalError(f"payload of {len(payload)} bytes over {self._config.max_payload}")
        self._now = now
        self._originated += 1
        if destination == self._me:
            self._delivered += 1
            body = payload.view() if isinstance(payload, Headroom) else payload
            self._events.append(PacketDelivered(source=self._me, payload=body, hops=0))
            return
        self._settle(now, needed=True)
        changed = self._table.use(destination, now)
        if changed is not None:
            self._events.append(changed)
        found = self._table.route(destination)
        if found is not None:
            self._transmit(destination, found[0], payload)
        elif not self._pending.hold(destination, payload, now):
            self._unreachable(destination, UnreachableReason.PENDING_FULL, 1)

    def _transmit(self, destination: NodeId, path: tuple[NodeId, ...], payload: Outgoing) -> None:
        first = self._neighbours.to(path[0])
        known = self._headers.get(destination)
        if (
            known is not None
            and known[0] is path  # the table answers with the same tuple until it changes
            and known[1] is first
            and first is not None
            and known[2] == first.stream
        ):
            self._enqueue(first, self._me, self._me, with_header(known[3], payload))
            return
        relays = tuple(prefix_of(node) for node in path[:-1])
        ends = (prefix_of(self._me), prefix_of(destination))
        if (
            len(relays) > self._config.max_relays
            or len(path) > self._config.hop_limit
            or len(set(relays)) != len(relays)
            or any(relay in ends for relay in relays)
            or first is None
        ):
            self._unreachable(destination, UnreachableReason.PATH_TOO_LONG, 1)
            return
        header = RoutedHeader(
            kind=RoutingPacket.DATA,
            hop_limit=self._config.hop_limit,
            next=0,
            source=self._me,
            destination=destination,
            relays=relays,
            stream_path=first.stream,
        )
        encoded = encode_header(header)
        if len(self._headers) >= _HEADERS_KEPT:
            self._headers.clear()
        self._headers[destination] = (path, first, first.stream, encoded)
        self._enqueue(first, self._me, self._me, with_header(encoded, payload))

    def _unreachable(self, destination: NodeId, reason: UnreachableReason, count: int) -> None:
        too_long = reason is UnreachableReason.PATH_TOO_LONG
        self._drop(DropReason.PATH_TOO_LONG if too_long else DropReason.NO_ROUTE, count)
        self._events.append(
            DestinationUnreachable(destination=destination, reason=reason, packets=count)
        )

    def _settle(self, now: float, *, needed: bool = False) -> None:
        """After anything that may change paths: report changed routes, send what waited.

        Lazy: the tree is recomputed only when something needs it now (a packet to
        send, or packets waiting for a path), at most once per ``spf_interval``. A mesh
        where every node hears every announcement would otherwise run Dijkstra on every
        node for every announcement, though most nodes are not sending at that moment.
        Routes in use are re-checked (``RouteChanged``) when they are next used.
        """
        table = self._table
        if not table.stale or table.held:
            return  # fresh, or held back: get_timer brings us here again if packets wait
        if not needed and not self._pending:
            return
        table.compute()
        if self._table.has_routes_in_use:
            self._events.extend(self._table.refresh(now))
        for destination in self._pending.destinations() if self._pending else ():
            found = self._table.route(destination)
            if found is not None:
                for payload in self._pending.take(destination):
                    self._transmit(destination, found[0], payload)

    # -- bytes out -------------------------------------------------------------------

    def _enqueue(self, neighbour: Neighbour, via: NodeId, source: NodeId, packet: Outgoing) -> None:
        self._drop(DropReason.QUEUE_FULL, neighbour.queue.push(via, source, packet))
        self._neighbours.mark(neighbour)

    def _control(self, neighbour: Neighbour, packet: bytes) -> None:
        if not neighbour.push_control(packet):
            self._drop(DropReason.CONTROL_FULL)
        self._neighbours.mark(neighbour)

    def packets_to_send(self, now: float) -> list[tuple[LinkId, Outgoing]]:
        """Up to ``batch_limit`` packets for neighbours, one link after another.

        On each link control packets (summaries, route errors we report) go first, then
        announcements to flood, then data by deficit round robin between sources. When
        the batch left packets waiting, ``get_timer`` returns the current time until the
        next call. Drivers call this after every input, as with every core.
        """
        self._now = now
        out: list[tuple[LinkId, Outgoing]] = []
        self._backlog = False
        active = self._neighbours.with_output()
        if not active:
            return out
        start = self._round_robin % len(active)
        self._round_robin += 1
        active = active[start:] + active[:start]
        limit = self._config.batch_limit
        while active and len(out) < limit:
            still = []
            for neighbour in active[: limit - len(out)]:
                packet = neighbour.next_packet(self._lsdb, now)
                if packet is not None:
                    out.append((neighbour.link, packet))
                    still.append(neighbour)
            active = still
        self._backlog = bool(active) and self._neighbours.has_output()
        return out

    # -- events and time -------------------------------------------------------------

    def next_event(self) -> RoutingEvent | None:
        """The oldest event not yet taken, or None."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When ``handle_timer`` must next run (the current time while a batch left output)."""
        if self._backlog:
            return self._now
        earliest = self._flooding.next_deadline()
        held = self._table.recompute_at() if self._pending else None
        for deadline in (self._table.next_deadline(), self._pending.next_deadline(), held):
            if deadline is not None and (earliest is None or deadline < earliest):
                earliest = deadline
        return earliest

    def handle_timer(self, now: float) -> None:
        """Expire announcements, waiting packets and suspensions; announce if due."""
        self._now = now
        self._flooding.handle_timer(now)
        self._table.handle_timer(now)
        self._settle(now)  # a path that appeared just now still takes what waited for it
        for destination, count in self._pending.expire(now):
            self._unreachable(destination, UnreachableReason.NO_ROUTE, count)

    # -- queries ---------------------------------------------------------------------

    def record_of(self, node: NodeId) -> IdentityRecord | None:
        """``node``'s identity record, from its verified announcement or our link to it."""
        if node == self._me:
            return self._identity.record
        entry = self._lsdb.get(node)
        return entry.announcement.record if entry is not None else self._records.get(node)

    def endpoints_of(self, node: NodeId) -> tuple[str, ...]:
        """The endpoints ``node`` announces (ours for ourselves); () if unknown."""
        if node == self._me:
            return self._flooding.endpoints
        entry = self._lsdb.get(node)
        return entry.announcement.endpoints if entry is not None else ()

    def route_to(self, node: NodeId) -> tuple[NodeId, ...] | None:
        """The path we would use to ``node`` now: relays then ``node``; () for ourselves."""
        if node == self._me:
            return ()
        found = self._table.route(node)
        return found[0] if found is not None else None

    # -- counters and status ---------------------------------------------------------

    def _drop(self, reason: DropReason, count: int = 1) -> None:
        if count:
            self._drops[str(reason)] = self._drops.get(str(reason), 0) + count

    def status(self, now: float) -> RoutingStatus:
        """A frozen snapshot: database, our links, routes in use and counters."""
        flooding = self._flooding
        neighbours = tuple(
            NeighbourLinkInfo(
                link=n.link,
                peer=n.peer,
                rtt=n.estimator.metrics.rtt,
                loss=n.estimator.metrics.loss,
                cost=self._policy.link_cost(n.announced),
                samples=n.estimator.samples,
                queued_packets=len(n.queue),
                queued_bytes=n.queue.size,
            )
            for n in self._neighbours
        )
        routes = tuple(
            RouteInfo(
                destination=destination,
                path=entry.path,
                cost=entry.cost,
                age=now - entry.since,
                idle=now - entry.last_used,
            )
            for destination, entry in self._table.routes_in_use()
        )
        view = self._neighbours.view(self._policy)
        return RoutingStatus(
            node_id=self._me,
            policy=self._policy.name,
            sequence=flooding.sequence,
            database=database_info(self._lsdb, self._me, view, self._policy, now),
            neighbours=neighbours,
            routes=routes,
            pending_packets=len(self._pending),
            suspended_links=self._table.suspended(),
            counters=RoutingCounters(
                originated=self._originated,
                forwarded=self._forwarded,
                delivered=self._delivered,
                route_errors_sent=self._errors_out,
                route_errors_received=self._errors_in,
                announcements_sent=flooding.announced,
                announcements_accepted=flooding.accepted,
                announcements_expired=flooding.expired,
                announcements_rejected=tuple(
                    sorted((str(k), v) for k, v in flooding.rejected.items())
                ),
                drops=tuple(sorted(self._drops.items())),
            ),
        )
