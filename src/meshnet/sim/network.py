"""``SimNetwork``: nodes joined by simulated links, and the faults that break them.

Theory of operation
-------------------
The network owns one ``SimNode`` per topology node and one ``SimLink`` per edge. A
link that is up (and whose two nodes run) carries one *carrier*: a transport at each
end, opened with ``transport_opened`` (``outbound=True`` at the lower index, or at the
node that dialled). Frames a node sends on a transport go through the link's
direction model (``link.py``) and arrive later as scheduled entries; on arrival they
are checked against the link's epoch (lost if the link went down meanwhile), the
carrier end (lost if closed) and the receiver (lost if down), then handed to the node.

Closing follows TCP rather than magic: the end that closes (its node asked, or it
crashed) closes at once; the other end hears about it one propagation delay later,
after the frames already in flight (FIFO). A cut closes both ends at once. A *silent*
fault (cut, partition or crash with ``silent=True``) tells nobody: frames vanish, and
the node has to notice by its own timeouts, as it would on UDP.

Crash with state lost drops the node object; restart builds a new one from the same
identity stream (same ``NodeId``) and opens fresh carriers. Crash with state kept
freezes the object; restart resumes it, first reporting the transports that died.

Every change of link or node state bumps ``version``, which invalidates the cached
``GroundTruth`` used by metrics.

In a partitioned run (``parallel.py``) each worker process holds the whole network but
drives only its own nodes (``local``): the others are built (their ``NodeId`` is
needed) and never get an input. A frame for a node of another worker is fated here,
on the sender's side (its queue, loss and delay), and put in ``outbox`` as a
``RemoteItem``; the receiving worker schedules it with ``deliver_remote``. A close is
carried the same way; dialling across the cut fails, and faults are refused (a worker
cannot take down a link it only half holds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from meshnet.errors import ConfigError, StateError
from meshnet.ids import TransportId
from meshnet.sim.harness import (
    AppDatagram,
    CloseRequest,
    DialRequest,
    DrivenNode,
    NodeFactory,
    SimNode,
    as_app_datagram,
    describe_event,
)
from meshnet.sim.link import Carrier, DownCause, DropReason, LinkDirection, SimLink
from meshnet.sim.paths import GroundTruth
from meshnet.sim.profile import LinkProfile
from meshnet.sim.sampling import Sampler, root_entropy
from meshnet.sim.scheduler import Scheduler
from meshnet.sim.topology import Topology
from meshnet.sim.trace import Trace

__all__ = ["ENDPOINT_PREFIX", "REMOTE_CLOSE", "REMOTE_FRAME", "RemoteItem", "SimNetwork"]

ENDPOINT_PREFIX = "sim:"
"""Endpoints in the simulator are ``sim:<node index>``."""

Edge = tuple[int, int]

REMOTE_FRAME = 0
"""A ``RemoteItem`` carrying a frame."""
REMOTE_CLOSE = 1
"""A ``RemoteItem`` telling the receiving end that its peer closed the carrier."""

RemoteItem = tuple[float, int, int, int, int, int, bytes]
"""``(time, kind, a, b, receiving side, link epoch, frame)`` for another worker."""


class SimNetwork:
    """The simulated nodes and links of one run.

    Args:
        topology: who is linked to whom.
        node_factory: builds each node (again after a crash that lost state).
        scheduler: the event heap and clock.
        seed: the run's seed; every random stream is forked from it.
        profile: the default link profile.
        overrides: profiles for particular edges ``(a, b)`` with ``a < b``.
        trace: where records go; a fresh ``Trace`` by default.
        local: for a worker of a partitioned run, which nodes it drives (the others
            run in other workers); None drives them all.
    """

    def __init__(
        self,
        *,
        topology: Topology,
        node_factory: NodeFactory,
        scheduler: Scheduler,
        seed: int,
        profile: LinkProfile | None = None,
        overrides: Mapping[Edge, LinkProfile] | None = None,
        trace: Trace | None = None,
        local: Sequence[bool] | None = None,
    ) -> None:
        self.topology = topology
        if local is not None and len(local) != topology.nodes:
            raise ConfigError("a partition needs one flag per node")
        self.local = [True] * topology.nodes if local is None else list(local)
        """Which nodes this process drives; all but in a worker of a partitioned run."""
        self.partitioned = local is not None
        self.outbox: list[RemoteItem] = []
        """What goes to other workers at the next barrier (partitioned runs only)."""
        self._cross: dict[Edge, Carrier] = {}
        self.scheduler = scheduler
        self.trace = trace if trace is not None else Trace()
        self._factory = node_factory
        self._root = root_entropy(seed)
        default = profile if profile is not None else LinkProfile()
        extra = dict(overrides or {})
        unknown = sorted(set(extra) - set(topology.edges))
        if unknown:
            raise ConfigError(f"link overrides name edges not in the topology: {unknown}")
        self.links: dict[Edge, SimLink] = {}
        self.node_links: list[list[SimLink]] = [[] for _ in range(topology.nodes)]
        for a, b in topology.edges:
            link = SimLink(
                a=a,
                b=b,
                profile=extra.get((a, b), default),
                samplers=(
                    Sampler(self._root.fork(f"link/{a}->{b}")),
                    Sampler(self._root.fork(f"link/{b}->{a}")),
                ),
            )
            self.links[(a, b)] = link
            self.node_links[a].append(link)
            self.node_links[b].append(link)
        self.nodes: list[SimNode] = []
        self.version = 0
        self._truth: GroundTruth | None = None
        self._truth_version = -1
        self._partitioned = False
        self.unknown_transport_frames = 0
        """Frames a node sent on a transport id it was never given (or that closed)."""
        self.on_datagram: Callable[[int, AppDatagram, float], None] | None = None
        """Called with (receiver index, datagram, now) for every end-to-end datagram."""

    # -- start -----------------------------------------------------------------------

    def _build(self, index: int, incarnation: int) -> DrivenNode:
        return self._factory(
            index=index,
            identity_entropy=self._root.fork(f"node/{index}/identity"),
            entropy=self._root.fork(f"node/{index}/run/{incarnation}"),
        )

    def start(self) -> None:
        """Build every node, schedule link outages and open carriers on up links.

        Raises:
            StateError: called twice, or two nodes share a NodeId.
        """
        if self.nodes:
            raise StateError("the network has already started")
        if self.partitioned and any(link.profile.down for link in self.links.values()):
            raise ConfigError("scheduled link outages are not simulated in a partitioned run")
        now = self.scheduler.now
        for index in range(self.topology.nodes):
            self.nodes.append(SimNode(index=index, host=self, node=self._build(index, 0)))
        owners: dict[object, int] = {}
        for sn in self.nodes:
            if sn.node_id in owners:
                raise StateError(f"nodes {owners[sn.node_id]} and {sn.index} share a NodeId")
            owners[sn.node_id] = sn.index
            if self.local[sn.index]:
                self.trace.record(now, "node", node=sn.index, id=str(sn.node_id))
        for link in self.links.values():
            for start, end in link.profile.down:
                self.scheduler.call_at(start, self._outage, (link, True))
                self.scheduler.call_at(end, self._outage, (link, False))
            self._open_carrier(link, now)
        for sn in self.nodes:
            if self.local[sn.index]:
                sn.pump(now)

    def _outage(self, args: tuple[SimLink, bool]) -> None:
        link, begins = args
        if begins:
            self.set_down(link, DownCause.SCHEDULE, silent=False)
        else:
            self.clear_down(link, DownCause.SCHEDULE)

    def node(self, index: int) -> DrivenNode:
        """The node object running as ``index`` now."""
        return self.nodes[index].node

    def link(self, a: int, b: int) -> SimLink:
        """The link between ``a`` and ``b`` (either order).

        Raises:
            ConfigError: there is no such link.
        """
        link = self.links.get((min(a, b), max(a, b)))
        if link is None:
            raise ConfigError(f"there is no link between nodes {a} and {b}")
        return link

    # -- carriers --------------------------------------------------------------------

    def _open_carrier(
        self, link: SimLink, now: float, *, dialer: int | None = None, dial: int | None = None
    ) -> None:
        na, nb = self.nodes[link.a], self.nodes[link.b]
        if not (link.up and na.alive and nb.alive) or link.carrier is not None:
            return
        carrier = Carrier(link, (na.new_transport_id(), nb.new_transport_id()))
        link.carrier = carrier
        if self.local[link.a] != self.local[link.b]:
            self._cross[(link.a, link.b)] = carrier  # opened once: dials cannot cross
        opener = link.a if dialer is None else dialer
        for side, sn in ((0, na), (1, nb)):
            if not self.local[sn.index]:
                continue
            sn.transports[carrier.transports[side]] = carrier
            own_dial = dial if sn.index == dialer else None
            self.scheduler.call_at(
                now,
                self._deliver_open,
                (carrier, side, sn.incarnation, sn.index == opener, own_dial),
            )

    def _deliver_open(self, args: tuple[Carrier, int, int, bool, int | None]) -> None:
        carrier, side, incarnation, outbound, dial = args
        sn = self._end(carrier, side)
        if not (sn.alive and sn.incarnation == incarnation and carrier.is_open[side]):
            return
        other = carrier.link.other(sn.index)
        sn.opened(
            carrier.transports[side],
            self.scheduler.now,
            outbound=outbound,
            endpoint=f"{ENDPOINT_PREFIX}{other}",
            mtu=carrier.link.profile.mtu,
            dial=dial,
        )

    def _end(self, carrier: Carrier, side: int) -> SimNode:
        return self.nodes[carrier.link.a if side == 0 else carrier.link.b]

    def _close_side(self, carrier: Carrier, side: int, *, notify_peer: bool, now: float) -> None:
        """Close one end now; the other end hears of it after the frames in flight."""
        link = carrier.link
        carrier.is_open[side] = False
        if link.carrier is carrier:
            link.carrier = None
        self.scheduler.call_at(now, self._deliver_close, (carrier, side))
        other = 1 - side
        if notify_peer and carrier.is_open[other]:
            sender = link.a if side == 0 else link.b
            direction = link.direction_from(sender)
            when = max(now + link.profile.latency, direction.last_arrival)
            if self.local[link.b if other else link.a]:
                self.scheduler.call_at(when, self._peer_close, (carrier, other, link.epoch))
            else:
                self.outbox.append((when, REMOTE_CLOSE, link.a, link.b, other, link.epoch, b""))

    def _peer_close(self, args: tuple[Carrier, int, int]) -> None:
        carrier, side, epoch = args
        if not carrier.is_open[side] or epoch != carrier.link.epoch:
            return  # already closed, or the notice was lost with the link
        carrier.is_open[side] = False
        if carrier.link.carrier is carrier:
            carrier.link.carrier = None
        self._deliver_close((carrier, side))

    def _deliver_close(self, args: tuple[Carrier, int]) -> None:
        carrier, side = args
        sn = self._end(carrier, side)
        tid = carrier.transports[side]
        if sn.transports.get(tid) is not carrier or not sn.alive:
            return  # reported already, or the node is down (resume reports it)
        del sn.transports[tid]
        sn.closed(tid, self.scheduler.now)

    # -- the NodeHost side: what SimNode calls ----------------------------------------

    def transmit(self, sender: SimNode, transport: TransportId, data: bytes, now: float) -> None:
        """Put one frame from ``sender`` on the carrier behind ``transport``."""
        carrier = sender.transports.get(transport)
        if carrier is None:
            self.unknown_transport_frames += 1
            return
        link = carrier.link
        side = carrier.side_of(sender.index)
        direction = link.direction_from(sender.index)
        if not carrier.is_open[1 - side]:
            alive = self._end(carrier, 1 - side).alive
            _refuse(direction, data, DropReason.CLOSED if alive else DropReason.NODE_DOWN)
            return
        if link.down:
            _refuse(direction, data, DropReason.DOWN)
            return
        epoch = link.epoch
        if self.local[link.b if side == 0 else link.a]:
            for arrival, frame in direction.transmit(data, now):
                self.scheduler.call_at(arrival, self._arrive, (carrier, 1 - side, epoch, frame))
        else:
            a, b, outbox = link.a, link.b, self.outbox
            for arrival, frame in direction.transmit(data, now):
                outbox.append((arrival, REMOTE_FRAME, a, b, 1 - side, epoch, frame))

    def deliver_remote(self, items: Sequence[RemoteItem]) -> None:
        """Schedule what other workers sent to this one's nodes (a partitioned run).

        Items are scheduled in the order of their ``(time, kind, a, b, side)`` (a stable
        sort, so a duplicated frame keeps its place): entries at equal times then run in
        an order that depends on the items alone, not on which worker sent them first.
        """
        for when, kind, a, b, side, epoch, data in sorted(items, key=lambda x: x[:5]):
            carrier = self._cross[(a, b)]
            if kind == REMOTE_FRAME:
                self.scheduler.call_at(when, self._arrive, (carrier, side, epoch, data))
            else:
                self.scheduler.call_at(when, self._peer_close, (carrier, side, epoch))

    def _arrive(self, args: tuple[Carrier, int, int, bytes]) -> None:
        carrier, side, epoch, data = args
        link = carrier.link
        direction = link.forward if side == 1 else link.reverse
        receiver = self._end(carrier, side)
        if epoch != link.epoch:
            direction.stats.drop(DropReason.IN_FLIGHT)
        elif not carrier.is_open[side]:
            direction.stats.drop(DropReason.CLOSED)
        elif not receiver.alive:
            direction.stats.drop(DropReason.NODE_DOWN)
        else:
            now = self.scheduler.now
            direction.stats.frames_delivered += 1
            direction.stats.bytes_delivered += len(data)
            self.trace.frame(now, link.other(receiver.index), receiver.index, data)
            receiver.receive(carrier.transports[side], data, now)

    def command(self, sender: SimNode, request: CloseRequest | DialRequest, now: float) -> None:
        """Carry out a node's transport command."""
        if isinstance(request, CloseRequest):
            carrier = sender.transports.get(request.transport)
            if carrier is None or not carrier.is_open[carrier.side_of(sender.index)]:
                return
            self.trace.record(
                now, "close", node=sender.index, transport=request.transport, reason=request.reason
            )
            self._close_side(carrier, carrier.side_of(sender.index), notify_peer=True, now=now)
        else:
            self._dial(sender, request, now)

    def _dial(self, sender: SimNode, request: DialRequest, now: float) -> None:
        target = _parse_endpoint(request.endpoint, self.topology.nodes)
        link = None
        if target is not None and target != sender.index:
            link = self.links.get((min(sender.index, target), max(sender.index, target)))
        if link is None or target is None:
            reason = f"no simulated link from node {sender.index} to {request.endpoint}"
        elif not link.up:
            reason = "the link is down"
        elif not self.nodes[target].alive:
            reason = "no answer: the node is down"
        elif link.carrier is not None:
            reason = "a carrier to this neighbour is already open"
        elif not self.local[target]:
            reason = "the link joins two workers of a partitioned run: it cannot be dialled"
        else:
            self.trace.record(now, "dial", node=sender.index, endpoint=request.endpoint, ok=True)
            self._open_carrier(link, now, dialer=sender.index, dial=request.dial)
            return
        self.trace.record(
            now, "dial", node=sender.index, endpoint=request.endpoint, ok=False, reason=reason
        )
        if request.dial is not None:
            self.scheduler.call_at(now, self._deliver_dial_failed, (sender, request.dial, reason))

    def _deliver_dial_failed(self, args: tuple[SimNode, int, str]) -> None:
        sn, dial, reason = args
        if sn.alive:
            sn.dial_failed(dial, reason, self.scheduler.now)

    def app_event(self, sender: SimNode, event: object, now: float) -> None:
        """An application event: end-to-end datagrams go to ``on_datagram``."""
        datagram = as_app_datagram(event)
        if datagram is not None and self.on_datagram is not None:
            self.on_datagram(sender.index, datagram, now)
            return
        self.trace.record(now, "event", node=sender.index, event=describe_event(event))

    def send_app(self, src: int, dst: int, payload: bytes, now: float) -> str | None:
        """Ask node ``src`` to send ``payload`` to node ``dst``; returns a refusal or None."""
        sn = self.nodes[src]
        if not sn.alive:
            return "the source node is down"
        return sn.send_datagram(self.nodes[dst].node_id, payload, now)

    # -- faults ------------------------------------------------------------------------

    def set_down(self, link: SimLink, cause: DownCause, *, silent: bool) -> None:
        """Take ``link`` down for ``cause``; frames on it are lost."""
        now = self.scheduler.now
        was_up = link.up
        link.down |= cause
        if not was_up:
            return
        link.epoch += 1
        link.forward.reset(now)
        link.reverse.reset(now)
        self.version += 1
        self.trace.record(now, "link", a=link.a, b=link.b, up=False, cause=cause.name)
        carrier = link.carrier
        if carrier is not None and not silent:
            for side in (0, 1):
                if carrier.is_open[side]:
                    self._close_side(carrier, side, notify_peer=False, now=now)

    def clear_down(self, link: SimLink, cause: DownCause) -> None:
        """Remove one down cause; the link comes up when none is left."""
        if not link.down & cause:
            return
        link.down &= ~cause
        if link.down:
            return
        now = self.scheduler.now
        self.version += 1
        self.trace.record(now, "link", a=link.a, b=link.b, up=True, cause=cause.name)
        self._open_carrier(link, now)

    def partition(self, groups: Sequence[Sequence[int]], *, silent: bool = False) -> None:
        """Split the network: links between different groups go down.

        Nodes not named in any group form one more group. A new partition replaces the
        current one: links it leaves cut stay down (no carrier churn), the others heal.
        """
        group = [len(groups)] * self.topology.nodes
        for number, members in enumerate(groups):
            for node in members:
                group[node] = number
        self._partitioned = True
        for link in self.links.values():
            if group[link.a] != group[link.b]:
                self.set_down(link, DownCause.PARTITION, silent=silent)
            else:
                self.clear_down(link, DownCause.PARTITION)

    def heal(self) -> None:
        """End the current partition."""
        if not self._partitioned:
            return
        self._partitioned = False
        for link in self.links.values():
            self.clear_down(link, DownCause.PARTITION)

    def crash(self, index: int, *, keep_state: bool = False, silent: bool = False) -> None:
        """Stop node ``index``: its object is dropped, or frozen when ``keep_state``.

        Raises:
            StateError: the node is already down.
        """
        sn = self.nodes[index]
        if not sn.alive:
            raise StateError(f"node {index} is already down")
        now = self.scheduler.now
        sn.stop(keep_state=keep_state)
        self.version += 1
        for link in self.node_links[index]:
            carrier = link.carrier
            if carrier is None or (keep_state and silent):
                continue  # a frozen process keeps its sockets when nobody is told
            side = carrier.side_of(index)
            carrier.is_open[side] = False
            link.carrier = None
            if not silent and carrier.is_open[1 - side]:
                direction = link.direction_from(index)
                when = max(now + link.profile.latency, direction.last_arrival)
                self.scheduler.call_at(when, self._peer_close, (carrier, 1 - side, link.epoch))

    def restart(self, index: int) -> None:
        """Bring node ``index`` back: resume the frozen object or build a new one.

        Raises:
            StateError: the node is running.
        """
        sn = self.nodes[index]
        if sn.alive:
            raise StateError(f"node {index} is running")
        now = self.scheduler.now
        if sn.frozen:
            sn.start(None, now)
            for tid, carrier in list(sn.transports.items()):
                if not carrier.is_open[carrier.side_of(index)]:
                    del sn.transports[tid]
                    sn.closed(tid, now)
        else:
            sn.start(self._build(index, sn.incarnation + 1), now)
        self.version += 1
        for link in self.node_links[index]:
            self._open_carrier(link, now)
        sn.pump(now)

    def set_profile(self, a: int, b: int, profile: LinkProfile | None) -> None:
        """Use ``profile`` on the link from now on; None restores the scenario's."""
        link = self.link(a, b)
        link.set_profile(profile if profile is not None else link.base_profile)
        self.version += 1

    # -- ground truth and totals -----------------------------------------------------

    def truth(self) -> GroundTruth:
        """Reachability and best paths right now (cached until something changes)."""
        if self._truth is None or self._truth_version != self.version:
            edges = [
                (link.a, link.b, link.profile.mean_delay) for link in self.links.values() if link.up
            ]
            self._truth = GroundTruth(self.topology.nodes, edges, [sn.alive for sn in self.nodes])
            self._truth_version = self.version
        return self._truth

    def bytes_sent_by(self, index: int) -> int:
        """Bytes node ``index`` put on its links (frames that went on the medium)."""
        return sum(link.direction_from(index).stats.bytes_sent for link in self.node_links[index])

    def frames_sent(self) -> int:
        """Frames put on every link in both directions."""
        return sum(
            link.forward.stats.frames_sent + link.reverse.stats.frames_sent
            for link in self.links.values()
        )

    def total_link_bytes(self) -> int:
        """Bytes put on every link in both directions."""
        return sum(
            link.forward.stats.bytes_sent + link.reverse.stats.bytes_sent
            for link in self.links.values()
        )


def _refuse(direction: LinkDirection, data: bytes, reason: DropReason) -> None:
    stats = direction.stats
    stats.frames_offered += 1
    stats.bytes_offered += len(data)
    stats.drop(reason)


def _parse_endpoint(endpoint: str, nodes: int) -> int | None:
    if not endpoint.startswith(ENDPOINT_PREFIX):
        return None
    rest = endpoint[len(ENDPOINT_PREFIX) :]
    if not rest.isdigit() or int(rest) >= nodes:
        return None
    return int(rest)
