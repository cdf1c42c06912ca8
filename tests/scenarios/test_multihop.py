"""Multi-hop delivery through the real node code in the simulator (fixed seeds)."""

from __future__ import annotations

from typing import Any

from tests.helpers.simnet import build_network

from meshnet.sim.harness import AppDatagram
from meshnet.sim.simulation import Simulation

SECRET = b"meet at the old mill at dawn; bring the radio batteries" * 4


def capture(sim: Simulation) -> list[tuple[int, AppDatagram, float]]:
    """Record every end-to-end datagram any node receives (and still feed the traffic)."""
    got: list[tuple[int, AppDatagram, float]] = []
    previous = sim.network.on_datagram

    def hook(index: int, datagram: AppDatagram, now: float) -> None:
        got.append((index, datagram, now))
        if previous is not None and datagram.payload != SECRET:
            previous(index, datagram, now)

    sim.network.on_datagram = hook
    return got


def record_router_input(sim: Simulation, index: int, into: list[bytes]) -> None:
    router: Any = sim.node(index).router  # type: ignore[attr-defined]
    original = router.receive_packet

    def receive_packet(link: Any, data: bytes, now: float) -> None:
        into.append(bytes(data))
        original(link, data, now)

    router.receive_packet = receive_packet


def test_line_of_ten_first_packet_crosses_eight_relays_as_ciphertext() -> None:
    sim = build_network(n=10, topology="line", seed=11)
    relayed: list[bytes] = []
    for relay in range(1, 9):
        record_router_input(sim, relay, relayed)
    got = capture(sim)
    # The very first packet, sent before any route or session exists.
    assert sim.network.send_app(0, 9, SECRET, sim.now) is None
    assert sim.run_until(lambda: bool(got), limit=30.0)
    (index, datagram, when) = got[0]
    assert index == 9 and datagram.payload == SECRET
    assert datagram.source == sim.node(0).node_id
    assert when < 10.0
    # Relays carried it: every hop's router handled packets, none held the plaintext.
    assert len(relayed) > 8
    chunks = {SECRET[i : i + 12] for i in range(0, len(SECRET) - 12, 6)}
    assert not any(chunk in data for data in relayed for chunk in chunks)


def test_same_seed_same_delivery_time() -> None:
    times = []
    for _ in range(2):
        sim = build_network(n=6, topology="line", seed=5)
        got = capture(sim)
        sim.network.send_app(0, 5, SECRET, sim.now)
        sim.run_until(lambda got=got: bool(got), limit=30.0)
        times.append(got[0][2])
    assert times[0] == times[1]


def test_every_pair_of_a_grid_can_talk() -> None:
    sim = build_network(n=16, topology="grid", seed=3)
    sim.run_for(10.0)
    got = capture(sim)
    pairs = [(a, b) for a in range(16) for b in range(16) if a != b and (a * 7 + b) % 5 == 0]
    for a, b in pairs:
        sim.network.send_app(a, b, SECRET, sim.now)
    sim.run_for(20.0)
    delivered = {(sim_index_of(sim, d.source), i) for i, d, _ in got}
    assert delivered == set(pairs)


def sim_index_of(sim: Simulation, node_id: object) -> int:
    return next(i for i in range(len(sim.network.nodes)) if sim.node(i).node_id == node_id)
