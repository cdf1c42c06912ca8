"""``Mesh``: Routers joined by in-memory links, on a virtual clock set by the test.

Like tests/link/pair.py one layer up: real ``Router`` cores, a fake network in
between. Each link has a one-way latency; every packet a router emits is delivered to
the other end that much later, unless the link went down meanwhile or ``filter`` says
otherwise. ``run_until`` advances time event by event (deliveries and the routers'
own timers), so tests read like a trace with explicit ``now``.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.deadlines import DeadlineHeap
from meshnet.ids import LinkId
from meshnet.routing.config import RoutingConfig
from meshnet.routing.events import RoutingEvent
from meshnet.routing.policy import PathPolicy
from meshnet.routing.router import Router

Filter = Callable[[int, int, bytes], bytes | None]
"""(sender index, receiver index, packet) -> the packet to deliver, or None to lose it."""


def make_identity(seed: int, label: str) -> Identity:
    return Identity.generate(SeededEntropy(seed, f"identity/{label}"), created=1_700_000_000)


@dataclass
class MeshNode:
    index: int
    identity: Identity
    router: Router
    events: list[RoutingEvent] = field(default_factory=list)

    @property
    def node_id(self) -> NodeId:
        return self.identity.node_id

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [event for event in self.events if isinstance(event, kind)]


@dataclass
class Wire:
    a: int
    b: int
    link_a: LinkId
    link_b: LinkId
    latency: float
    up: bool = True

    def link_at(self, node: int) -> LinkId:
        return self.link_a if node == self.a else self.link_b

    def other(self, node: int) -> int:
        return self.b if node == self.a else self.a


class Mesh:
    """Routers on in-memory links.

    Args:
        seed: seeds identities and every router's entropy.
        config: the routing config of every node unless ``add`` says otherwise.
    """

    def __init__(self, *, seed: int = 1, config: RoutingConfig | None = None) -> None:
        self.seed = seed
        self.config = config or RoutingConfig()
        self.verifier = SignatureVerifier()
        self.now = 0.0
        self.nodes: list[MeshNode] = []
        self.wires: dict[tuple[int, int], Wire] = {}
        self.filter: Filter = lambda sender, receiver, packet: packet
        self.sent: list[tuple[float, int, int, bytes]] = []
        self._by_link: dict[tuple[int, LinkId], Wire] = {}
        self._heap: list[tuple[float, int, int, bytes, Wire]] = []
        self._timers: DeadlineHeap[int] = DeadlineHeap()
        self._touched: set[int] = set()
        self._seq = itertools.count()
        self._lives = itertools.count(1)
        self._next_link = 1

    # -- building --------------------------------------------------------------------

    def _router(
        self,
        ident: Identity,
        *,
        label: str,
        config: RoutingConfig | None = None,
        policy: PathPolicy | None = None,
        initial_sequence: int = 0,
    ) -> Router:
        return Router(
            identity=ident,
            config=config or self.config,
            entropy=SeededEntropy(self.seed, f"router/{label}"),
            verifier=self.verifier,
            policy=policy,
            initial_sequence=initial_sequence,
        )

    def add(
        self,
        *,
        identity: Identity | None = None,
        config: RoutingConfig | None = None,
        policy: PathPolicy | None = None,
    ) -> int:
        index = len(self.nodes)
        ident = identity or make_identity(self.seed, str(index))
        router = self._router(ident, label=str(index), config=config, policy=policy)
        self.nodes.append(MeshNode(index, ident, router))
        self._touched.add(index)
        return index

    def add_many(self, count: int, *, policy: PathPolicy | None = None) -> list[int]:
        return [self.add(policy=policy) for _ in range(count)]

    def connect(
        self,
        a: int,
        b: int,
        *,
        latency: float = 0.005,
        rtt: float | None = None,
        loss: float = 0.0,
        stream: bool = False,
    ) -> Wire:
        """Bring up a link between nodes ``a`` and ``b`` (and measure it if ``rtt``);
        ``stream``: the link runs over a stream carrier (TCP)."""
        link_a, link_b = LinkId(self._next_link), LinkId(self._next_link + 1)
        self._next_link += 2
        wire = Wire(a, b, link_a, link_b, latency)
        self.wires[(min(a, b), max(a, b))] = wire
        self._by_link[(a, link_a)] = wire
        self._by_link[(b, link_b)] = wire
        na, nb = self.nodes[a], self.nodes[b]
        na.router.link_up(link_a, nb.node_id, self.now, record=nb.identity.record, stream=stream)
        nb.router.link_up(link_b, na.node_id, self.now, record=na.identity.record, stream=stream)
        self._touched.update((a, b))
        if rtt is not None:
            self.measure(a, b, rtt=rtt, loss=loss)
        return wire

    def wire(self, a: int, b: int) -> Wire:
        return self.wires[(min(a, b), max(a, b))]

    def measure(self, a: int, b: int, *, rtt: float, loss: float = 0.0, samples: int = 64) -> None:
        """Feed both ends ``samples`` probe outcomes: a ``loss`` share lost, the rest ``rtt``."""
        wire = self.wire(a, b)
        lost_so_far = 0
        for i in range(samples):
            lost = lost_so_far < round(loss * (i + 1))
            lost_so_far += lost
            for node in (a, b):
                router = self.nodes[node].router
                router.link_measured(wire.link_at(node), None if lost else rtt, lost, self.now)
        self._touched.update((a, b))

    def disconnect(self, a: int, b: int) -> None:
        """The link between ``a`` and ``b`` fails: both ends are told; packets on it are lost."""
        wire = self.wires.pop((min(a, b), max(a, b)))
        wire.up = False
        self.nodes[wire.a].router.link_down(wire.link_a, self.now)
        self.nodes[wire.b].router.link_down(wire.link_b, self.now)
        self._touched.update((wire.a, wire.b))

    def restart(self, index: int, *, initial_sequence: int = 0) -> None:
        """Replace node ``index``'s router by a fresh one (same identity), links re-made."""
        node = self.nodes[index]
        peers = [(w.other(index), w.latency) for w in self.wires.values() if index in (w.a, w.b)]
        for peer, _ in peers:
            self.disconnect(index, peer)
        node.router = self._router(
            node.identity,
            label=f"{index}/{next(self._lives)}",
            policy=node.router.policy,
            initial_sequence=initial_sequence,
        )
        self._touched.add(index)
        for peer, latency in peers:
            self.connect(index, peer, latency=latency)

    # -- running ---------------------------------------------------------------------

    def touch(self, index: int) -> None:
        """Node ``index`` was driven from outside (a test called one of its methods)."""
        self._touched.add(index)

    def _pump(self) -> None:
        """Collect events and output of every node touched since, and re-arm its timer."""
        touched, self._touched = sorted(self._touched), set()
        for index in touched:
            node = self.nodes[index]
            while (event := node.router.next_event()) is not None:
                node.events.append(event)
            for link, sent in node.router.packets_to_send(self.now):
                packet = bytes(sent)  # what crosses the wire: a Headroom's packet, no room
                wire = self._by_link.get((node.index, link))
                if wire is None or not wire.up:
                    continue
                receiver = wire.other(node.index)
                self.sent.append((self.now, node.index, receiver, packet))
                entry = (self.now + wire.latency, next(self._seq), node.index, packet, wire)
                heapq.heappush(self._heap, entry)
            self._timers.set(index, node.router.get_timer())

    def run_until(self, until: float, *, max_steps: int = 1_000_000) -> None:
        self._touched.update(range(len(self.nodes)))  # tests may have called any router
        for _ in range(max_steps):
            self._pump()
            upcoming = self._timers.earliest()
            if self._heap and (upcoming is None or self._heap[0][0] < upcoming):
                upcoming = self._heap[0][0]
            if upcoming is None or upcoming > until:
                self.now = max(self.now, until)
                return
            self.now = max(self.now, upcoming)
            while self._heap and self._heap[0][0] <= self.now:
                _, _, sender, packet, wire = heapq.heappop(self._heap)
                receiver = wire.other(sender)
                delivered = self.filter(sender, receiver, packet) if wire.up else None
                if delivered is not None:
                    self.deliver(receiver, wire.link_at(receiver), delivered)
            for index in self._timers.pop_due(self.now):
                self.nodes[index].router.handle_timer(self.now)
                self._touched.add(index)
        raise AssertionError("mesh did not settle within max_steps")

    def deliver(self, receiver: int, link: LinkId, packet: bytes) -> None:
        """Hand ``packet``, arrived on ``link``, to ``receiver``'s router."""
        self.nodes[receiver].router.receive_packet(link, packet, self.now)
        self._touched.add(receiver)

    def run_for(self, duration: float) -> None:
        self.run_until(self.now + duration)

    # -- conveniences ----------------------------------------------------------------

    def send(self, a: int, b: int, payload: bytes) -> None:
        self.nodes[a].router.send(self.nodes[b].node_id, payload, self.now)

    def line(self, count: int, *, latency: float = 0.005) -> list[int]:
        nodes = self.add_many(count)
        for a, b in itertools.pairwise(nodes):
            self.connect(a, b, latency=latency)
        return nodes

    def ring(self, count: int, *, latency: float = 0.005) -> list[int]:
        nodes = self.line(count, latency=latency)
        self.connect(nodes[-1], nodes[0], latency=latency)
        return nodes

    def index_of(self, node: NodeId) -> int:
        return next(n.index for n in self.nodes if n.node_id == node)

    def path(self, a: int, b: int) -> list[int] | None:
        """The route ``a`` would use to ``b``, as node indices (relays then ``b``)."""
        route = self.nodes[a].router.route_to(self.nodes[b].node_id)
        return None if route is None else [self.index_of(n) for n in route]

    def control_bytes(self, since: float = 0.0) -> int:
        """Bytes of announcements and summaries sent since ``since``."""
        return sum(len(p) for t, _, _, p in self.sent if t >= since and p[0] in (0x20, 0x21))
