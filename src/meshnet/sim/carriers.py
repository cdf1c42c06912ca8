"""``CarrierNetwork``: the links of a simulated network and the frames they carry.

The base of ``SimNetwork`` (``network.py``): the nodes and links of one run, and how a
link that is up carries one *carrier* (a transport at each end) with its frames.
Frames a node sends on a transport go through the link's direction model
(``link.py``) and arrive later as scheduled entries; on arrival they are checked
against the link's epoch (lost if the link went down meanwhile), the carrier end
(lost if closed) and the receiver (lost if down), then handed to the node.

Closing follows TCP rather than magic: the end that closes (its node asked, or it
crashed) closes at once; the other end hears about it one propagation delay later,
after the frames already in flight (FIFO). A cut closes both ends at once
(``set_down``); a link that comes up again gets a new carrier with new ids.

In a partitioned run (``parallel.py``) each worker process holds the whole network but
drives only its own nodes (``local``): the others are built (their ``NodeId`` is
needed) and never get an input. A frame for a node of another worker is fated here,
on the sender's side (its queue, loss and delay), and put in ``outbox`` as a
``RemoteItem``; the receiving worker schedules it with ``deliver_remote``. A close is
carried the same way. Every scheduled entry names the node it acts on, for the
scheduler's ``horizon``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from meshnet.errors import ConfigError
from meshnet.ids import TransportId
from meshnet.sim.harness import AppDatagram, DrivenNode, NodeFactory, SimNode
from meshnet.sim.link import Carrier, DownCause, DropReason, LinkDirection, SimLink
from meshnet.sim.paths import GroundTruth
from meshnet.sim.profile import LinkProfile
from meshnet.sim.sampling import Sampler, root_entropy
from meshnet.sim.scheduler import Scheduler
from meshnet.sim.topology import Topology
from meshnet.sim.trace import Trace

__all__ = [
    "ENDPOINT_PREFIX",
    "REMOTE_CLOSE",
    "REMOTE_FRAME",
    "CarrierNetwork",
    "Edge",
    "RemoteItem",
]

ENDPOINT_PREFIX = "sim:"
"""Endpoints in the simulator are ``sim:<node index>``."""

Edge = tuple[int, int]

REMOTE_FRAME = 0
"""A ``RemoteItem`` carrying a frame."""
REMOTE_CLOSE = 1
"""A ``RemoteItem`` telling the receiving end that its peer closed the carrier."""

RemoteItem = tuple[float, int, int, int, int, int, bytes]
"""``(time, kind, a, b, receiving side, link epoch, frame)`` for another worker."""


class CarrierNetwork:
    """The simulated nodes and links of one run, and the carriers on the links.

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

    def _build(self, index: int, incarnation: int) -> DrivenNode:
        return self._factory(
            index=index,
            identity_entropy=self._root.fork(f"node/{index}/identity"),
            entropy=self._root.fork(f"node/{index}/run/{incarnation}"),
        )

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
                sn.index,
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
        sender, receiver = (link.a, link.b) if side == 0 else (link.b, link.a)
        self.scheduler.call_at(now, self._deliver_close, (carrier, side), sender)
        other = 1 - side
        if notify_peer and carrier.is_open[other]:
            direction = link.direction_from(sender)
            when = max(now + link.profile.latency, direction.last_arrival)
            if self.local[receiver]:
                args = (carrier, other, link.epoch)
                self.scheduler.call_at(when, self._peer_close, args, receiver)
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
        receiver = link.b if side == 0 else link.a
        if self.local[receiver]:
            for arrival, frame in direction.transmit(data, now):
                self.scheduler.call_at(
                    arrival, self._arrive, (carrier, 1 - side, epoch, frame), receiver
                )
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
            node = b if side else a
            if kind == REMOTE_FRAME:
                self.scheduler.call_at(when, self._arrive, (carrier, side, epoch, data), node)
            else:
                self.scheduler.call_at(when, self._peer_close, (carrier, side, epoch), node)

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


def _refuse(direction: LinkDirection, data: bytes, reason: DropReason) -> None:
    stats = direction.stats
    stats.frames_offered += 1
    stats.bytes_offered += len(data)
    stats.drop(reason)
