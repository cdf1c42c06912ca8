"""A network split in two halves and healed: the real node in the simulator.

On a 6x6 grid the three left columns lose the three right ones (every link between them
goes down, loudly or silently). While split, datagrams between the halves are not
delivered and datagrams inside each half still are; after the heal, traffic between the
halves resumes by itself (links reopen, announcements flood, paths are recomputed): no
operator action, only virtual time.
"""

from __future__ import annotations

import pytest
from tests.helpers.simnet import build_network

from meshnet.sim.harness import AppDatagram
from meshnet.sim.simulation import Simulation

SIDE = 6
LEFT = [r * SIDE + c for r in range(SIDE) for c in range(SIDE // 2)]
RIGHT = [r * SIDE + c for r in range(SIDE) for c in range(SIDE // 2, SIDE)]
ACROSS = [(0, 35), (35, 0), (12, 17), (30, 5), (8, 27), (20, 15)]
INSIDE = [(0, 32), (32, 0), (13, 2), (3, 35), (35, 5), (22, 9)]
TAG = b"partition-probe:"


class Recorder:
    """Sends tagged datagrams and records (source, destination, sent, delivered)."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.sent: list[tuple[int, int, float]] = []
        self.delivered: dict[int, float] = {}
        self.index = {sim.node(i).node_id: i for i in range(SIDE * SIDE)}
        previous = sim.network.on_datagram

        def hook(index: int, datagram: AppDatagram, now: float) -> None:
            if datagram.payload.startswith(TAG):
                number = int(datagram.payload[len(TAG) :])
                src, dst, _ = self.sent[number]
                assert (self.index[datagram.source], index) == (src, dst)
                self.delivered.setdefault(number, now)
            elif previous is not None:
                previous(index, datagram, now)

        sim.network.on_datagram = hook

    def send(self, pairs: list[tuple[int, int]]) -> list[int]:
        numbers = []
        for src, dst in pairs:
            numbers.append(len(self.sent))
            self.sim.network.send_app(src, dst, TAG + str(len(self.sent)).encode(), self.sim.now)
            self.sent.append((src, dst, self.sim.now))
        return numbers

    def every(self, pairs: list[tuple[int, int]], seconds: float, period: float) -> list[int]:
        """Send to every pair each ``period`` for ``seconds``; the message numbers."""
        numbers: list[int] = []
        end = self.sim.now + seconds
        while self.sim.now < end - 1e-9:
            numbers += self.send(pairs)
            self.sim.run_for(period)
        return numbers


@pytest.mark.parametrize("silent", [False, True], ids=["loud", "silent"])
def test_partition_stops_traffic_between_halves_only_and_heal_restores_it(silent: bool) -> None:
    sim = build_network(n=SIDE * SIDE, topology="grid", seed=4, keep_records=False)
    log = Recorder(sim)
    sim.run_for(10.0)
    warm = log.send(ACROSS + INSIDE)
    sim.run_for(3.0)
    assert all(n in log.delivered for n in warm)

    sim.partition(LEFT, RIGHT, silent=silent)
    truth = sim.network.truth()
    assert not any(truth.reachable(a, b) for a, b in ACROSS)
    assert all(truth.reachable(a, b) for a, b in INSIDE)
    split_at = sim.now
    during = log.every(ACROSS + INSIDE, 20.0, 0.5)
    across = [n for n in during if log.sent[n][:2] in ACROSS]
    inside = [n for n in during if log.sent[n][:2] in INSIDE]
    sim.run_for(3.0)
    assert not any(n in log.delivered for n in across)
    inside_ratio = sum(n in log.delivered for n in inside) / len(inside)
    assert inside_ratio == 1.0

    sim.heal()
    healed_at = sim.now
    assert all(sim.network.truth().reachable(a, b) for a, b in ACROSS)
    after = log.every(ACROSS, 10.0, 0.5)
    sim.run_for(3.0)
    back: dict[tuple[int, int], float] = {}
    for n in after:
        src, dst, _ = log.sent[n]
        if n in log.delivered:
            back.setdefault((src, dst), log.delivered[n] - healed_at)
    assert set(back) == set(ACROSS)
    # Once a pair is back it stays back: every message sent 5 s after the heal arrives.
    late = [n for n in after if log.sent[n][2] >= healed_at + 5.0]
    assert late and all(n in log.delivered for n in late)
    worst = max(back.values())
    print(
        f"\n{'silent' if silent else 'loud'} split at {split_at:.1f}: across pairs back "
        f"{worst:.3f} s (virtual) after the heal; inside delivery {inside_ratio:.0%}"
    )
    assert worst < 5.0
