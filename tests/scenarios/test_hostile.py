"""A hostile node inside a network of real nodes: the honest ones keep delivering.

The hostile node runs the real node code, but its ``Router`` is wrapped so that, on top
of what it honestly sends, it (a) floods announcements as fast as it is pumped, each
re-signed with a new sequence number; (b) replays announcements of other origins it
received earlier (older sequence numbers, or byte-identical copies); (c) announces
links to nodes it is not linked to. It still relays data. Honest nodes exchange
datagrams throughout (over links of 1 Mbit/s, no loss) and must deliver at least 99%
of them, while counting what they refused (``router.status(now).counters``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from tests.helpers.simnet import build_network

from meshnet.routing.announce import AnnounceTrigger
from meshnet.routing.messages import Announcement, NeighbourEntry, prefix_of
from meshnet.sim.harness import AppDatagram
from meshnet.sim.profile import LinkProfile
from meshnet.sim.simulation import Simulation
from meshnet.wire.codes import RoutingPacket

SIDE = 5
NODES = SIDE * SIDE
HOSTILE = 12  # the centre of the grid: many shortest paths cross it
PAIRS = [(0, 24), (24, 0), (4, 20), (20, 4), (2, 22), (10, 14), (7, 17), (11, 13), (6, 18)]
TAG = b"honest:"
PUMP_EVERY = 0.02  # the hostile node asks to be woken this often
BURST = 3  # hostile packets per neighbour per pump


class HostileRouter:
    """Wraps one node's real ``Router`` with misbehaviour switched on by ``modes``."""

    def __init__(self, sim: Simulation, index: int, modes: set[str]) -> None:
        self.sim = sim
        self.index = index
        self.modes = modes
        self.router: Any = sim.node(index).router  # type: ignore[attr-defined]
        self.flooding: Any = self.router._flooding
        self.heard: dict[bytes, list[bytes]] = {}
        self.replayed = 0
        self.forged = 0
        self.phantoms: tuple[NeighbourEntry, ...] = ()
        self._cursor = 0
        self._wrap("receive_packet", self._receive_packet)
        self._wrap("packets_to_send", self._packets_to_send)
        self._wrap("get_timer", self._get_timer)

    def _wrap(self, name: str, make: Callable[[Any], Any]) -> None:
        setattr(self.router, name, make(getattr(self.router, name)))

    def _receive_packet(self, original: Any) -> Any:
        def receive_packet(link: Any, data: bytes, now: float) -> None:
            if data[:1] == bytes((RoutingPacket.ANNOUNCE,)):
                copies = self.heard.setdefault(data[4:36], [])
                if bytes(data) not in copies:
                    copies.append(bytes(data))
            original(link, data, now)

        return receive_packet

    def _get_timer(self, original: Any) -> Any:
        def get_timer() -> float | None:
            due: float | None = original()
            soon = float(self.router._now) + PUMP_EVERY
            return soon if due is None or due > soon else due

        return get_timer

    def _packets_to_send(self, original: Any) -> Any:
        def packets_to_send(now: float) -> list[tuple[Any, bytes]]:
            out: list[tuple[Any, bytes]] = original(now)
            links = [neighbour.link for neighbour in self.router._neighbours]
            extra: list[bytes] = []
            if "flood" in self.modes:
                extra += [self._forge(now) for _ in range(BURST)]
            if "replay" in self.modes:
                extra += self._old_announcements(BURST)
            out += [(link, packet) for link in links for packet in extra]
            return out

        return packets_to_send

    def _forge(self, now: float) -> bytes:
        """Our own announcement again, re-signed with the next sequence number."""
        flooding = self.flooding
        flooding.sequence += 1
        announcement = Announcement.create(
            self.router._identity,
            sequence=flooding.sequence,
            lifetime=self.router._config.lifetime,
            neighbours=flooding._own_neighbours(),
            endpoints=flooding.endpoints,
        )
        self.router._lsdb.install_own(announcement, now)
        self.forged += 1
        return announcement.encode(0)

    def _old_announcements(self, count: int) -> list[bytes]:
        pool = [packet for copies in self.heard.values() for packet in copies]
        if not pool:
            return []
        chosen = [pool[(self._cursor + i) % len(pool)] for i in range(count)]
        self._cursor += count
        self.replayed += count
        return chosen

    def announce_phantoms(self, targets: list[int]) -> None:
        """From now on announce links to ``targets`` (we have none) and announce at once."""
        self.phantoms = tuple(
            NeighbourEntry(prefix=prefix_of(self.sim.node(t).node_id), rtt_ms=1, loss=0)
            for t in targets
        )
        honest = self.flooding._own_neighbours

        def own_neighbours() -> tuple[NeighbourEntry, ...]:
            entries = {entry.prefix: entry for entry in (*honest(), *self.phantoms)}
            return tuple(entries[prefix] for prefix in sorted(entries))

        self.flooding._own_neighbours = own_neighbours
        self.flooding.announce(AnnounceTrigger.SEQUENCE, self.sim.now)
        self.sim.network.nodes[self.index].pump(self.sim.now)


class Deliveries:
    """Honest datagrams sent and delivered, by message number."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.sent = 0
        self.delivered: set[int] = set()
        previous = sim.network.on_datagram

        def hook(index: int, datagram: AppDatagram, now: float) -> None:
            if datagram.payload.startswith(TAG):
                self.delivered.add(int(datagram.payload[len(TAG) :]))
            elif previous is not None:
                previous(index, datagram, now)

        sim.network.on_datagram = hook

    def run(self, seconds: float, period: float) -> tuple[int, int]:
        """Send on every pair each ``period`` for ``seconds``; (sent, delivered) of those."""
        first = self.sent
        end = self.sim.now + seconds
        while self.sim.now < end - 1e-9:
            for src, dst in PAIRS:
                payload = TAG + str(self.sent).encode()
                self.sim.network.send_app(src, dst, payload, self.sim.now)
                self.sent += 1
            self.sim.run_for(period)
        self.sim.run_for(3.0)
        numbers = range(first, self.sent)
        return len(numbers), sum(n in self.delivered for n in numbers)


def rejected(sim: Simulation, reason: str, nodes: list[int]) -> int:
    """How many announcements ``nodes`` refused for ``reason`` so far."""
    total = 0
    for i in nodes:
        counters = sim.node(i).router.status(sim.now).counters  # type: ignore[attr-defined]
        total += dict(counters.announcements_rejected).get(reason, 0)
    return total


def neighbours_of(node: int) -> list[int]:
    r, c = divmod(node, SIDE)
    near = [(r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)]
    return [y * SIDE + x for y, x in near if 0 <= y < SIDE and 0 <= x < SIDE]


@pytest.mark.parametrize(
    "modes",
    [{"flood"}, {"replay"}, {"phantom"}, {"flood", "replay", "phantom"}],
    ids=["flood", "replay", "phantom", "all"],
)
def test_honest_nodes_keep_delivering_and_count_the_hostile_input(modes: set[str]) -> None:
    sim = build_network(
        n=NODES,
        topology="grid",
        seed=8,
        profile=LinkProfile(latency=0.005, bandwidth=1_000_000),
        keep_records=False,
    )
    honest = [i for i in range(NODES) if i != HOSTILE]
    near = neighbours_of(HOSTILE)
    traffic = Deliveries(sim)
    hostile = HostileRouter(sim, HOSTILE, set())  # honest for now; it listens
    sim.run_for(8.0)
    # Old announcements to replay: a far link flaps, its ends announce twice more.
    sim.cut(0, 1)
    sim.run_for(3.0)
    sim.repair(0, 1)
    sim.run_for(5.0)
    baseline = traffic.run(5.0, 0.5)
    assert baseline[1] == baseline[0]

    hostile.modes = modes - {"phantom"}
    if "phantom" in modes:
        hostile.announce_phantoms([0, 4, 20, 24, 2, 10])
    before = {r: rejected(sim, r, near) for r in ("rate_limited", "stale", "duplicate")}
    sent, delivered = traffic.run(15.0, 0.25)
    ratio = delivered / sent
    counted = {r: rejected(sim, r, near) - before[r] for r in before}
    print(
        f"\n{sorted(modes)}: delivered {delivered}/{sent} = {ratio:.2%}; forged "
        f"{hostile.forged}, replayed {hostile.replayed}; neighbours rejected {counted}"
    )
    assert ratio >= 0.99

    if "flood" in modes:
        assert hostile.forged > 1000
        assert counted["rate_limited"] > hostile.forged  # each neighbour refuses most
    if "replay" in modes:
        assert hostile.replayed > 1000
        assert counted["stale"] + counted["duplicate"] >= hostile.replayed
    if "phantom" in modes:
        origin = sim.node(HOSTILE).node_id
        phantom_prefixes = {entry.prefix.hex() for entry in hostile.phantoms}
        for i in honest:
            status = sim.node(i).router.status(sim.now)  # type: ignore[attr-defined]
            entry = next(e for e in status.database if e.origin == origin)
            links = {link.prefix: link for link in entry.links}
            assert phantom_prefixes <= set(links)  # the forged links were heard ...
            assert not any(links[p].confirmed for p in phantom_prefixes)  # ... never used
            for route in status.routes:
                path = (status.node_id, *route.path)
                for a, b in itertools.pairwise(path):
                    if a == origin:
                        assert prefix_of(b).hex() not in phantom_prefixes
