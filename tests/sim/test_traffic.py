"""Traffic sources and the payload header the generator reads back at the far end."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.crypto.identity import NodeId
from meshnet.errors import ConfigError
from meshnet.sim.harness import AppDatagram
from meshnet.sim.profile import LinkProfile
from meshnet.sim.simulation import MeasureSpec, Simulation
from meshnet.sim.topology import line, star
from meshnet.sim.trace import Trace
from meshnet.sim.traffic import (
    HEADER_SIZE,
    Burst,
    Flow,
    Probes,
    RandomPairs,
    TrafficSpec,
    decode_payload,
    encode_payload,
)

from .toynode import ToyFactory


@settings(max_examples=100)
@given(
    st.integers(min_value=0, max_value=2**64 - 1),
    st.floats(min_value=0, max_value=1e9, allow_nan=False),
    st.integers(min_value=0, max_value=0xFFFF),
    st.integers(min_value=HEADER_SIZE, max_value=2000),
)
def test_payload_round_trip(msg: int, sent_at: float, flow: int, size: int) -> None:
    payload = encode_payload(msg, sent_at, flow, size)
    assert len(payload) == size
    assert decode_payload(payload) == (msg, sent_at, flow)


def test_foreign_payloads_are_not_ours() -> None:
    assert decode_payload(b"hello world, this is long enough") is None
    assert decode_payload(b"MSIM") is None


def simulate(
    traffic: list[TrafficSpec], *, nodes: int = 5, duration: float = 10.0, **kw: object
) -> Simulation:
    topology = star(nodes) if nodes > 2 else line(2)
    sim = Simulation(
        topology=topology,
        node_factory=ToyFactory(),
        seed=3,
        profile=LinkProfile(latency=0.005),
        traffic=traffic,
        duration=duration,
        trace=Trace(keep=True),
        **kw,  # type: ignore[arg-type]
    )
    sim.run()
    return sim


def sends(sim: Simulation, flow: str | None = None) -> list[dict[str, object]]:
    return [
        r for r in sim.trace.records if r["kind"] == "send" and (flow is None or r["flow"] == flow)
    ]


def test_flow_sends_at_its_rate_between_start_and_stop() -> None:
    sim = simulate([Flow(src=1, dst=2, rate=10.0, start=1.0, stop=6.0, name="f")])
    times = [r["t"] for r in sends(sim, "f")]
    assert len(times) == 50
    assert times[0] == 1.0
    assert times[1] == pytest.approx(1.1)
    assert all({r["src"], r["dst"]} == {1, 2} for r in sends(sim))
    assert sim.finish().pdr == 1.0


def test_traffic_stops_at_the_duration() -> None:
    sim = simulate([Flow(src=1, dst=2, rate=4.0, start=1.0)], duration=3.0)
    assert max(r["t"] for r in sends(sim)) < 3.0  # type: ignore[type-var]


def test_burst_sends_count_messages_spaced_by_interval() -> None:
    sim = simulate([Burst(src=3, dst=4, count=5, at=2.0, interval=0.25, size=100)])
    assert [r["t"] for r in sends(sim)] == [2.0, 2.25, 2.5, 2.75, 3.0]
    assert all(r["size"] == 100 for r in sends(sim))


def test_random_pairs_are_poisson_and_distinct() -> None:
    sim = simulate([RandomPairs(rate=50.0, start=1.0)], nodes=8, duration=41.0)
    got = sends(sim)
    assert len(got) == pytest.approx(2000, rel=0.08)  # 50/s over 40 s
    assert all(r["src"] != r["dst"] for r in got)
    counts = [sum(1 for r in got if r["src"] == n) for n in range(8)]
    assert min(counts) > 0.7 * len(got) / 8


def test_random_pairs_restricted_to_some_nodes() -> None:
    sim = simulate([RandomPairs(rate=20.0, start=1.0, nodes=(2, 5))], nodes=8)
    assert {(r["src"], r["dst"]) for r in sends(sim)} == {(2, 5), (5, 2)}


def test_probes_cycle_over_distinct_sampled_pairs() -> None:
    sim = simulate(
        [], nodes=6, measure=MeasureSpec(probe_pairs=4, probe_interval=1.0, probe_start=1.0)
    )
    pairs = sim.traffic.probe_pairs
    assert len(set(pairs)) == 4 and all(a != b for a, b in pairs)
    probes = sends(sim, "probe")
    assert len(probes) == 36  # 9 seconds of traffic, one probe per pair per second
    assert {r["pair"] for r in probes} == {0, 1, 2, 3}


def test_unknown_nodes_in_traffic_are_refused() -> None:
    with pytest.raises(ConfigError, match="no node 9"):
        simulate([Flow(src=0, dst=9, rate=1.0)])


def test_duplicate_misdelivered_and_foreign_datagrams_are_recorded() -> None:
    sim = Simulation(topology=line(3), node_factory=ToyFactory(), trace=Trace(keep=True))
    sim.run_for(1.0)
    msg = sim.send(0, 2)
    payload = encode_payload(msg, 1.0, 0, 64)
    source = sim.network.nodes[0].node_id
    gen = sim.traffic
    gen.on_datagram(1, AppDatagram(source, payload, None), sim.now)  # wrong node
    gen.on_datagram(2, AppDatagram(source, payload, None), sim.now)  # right node
    gen.on_datagram(2, AppDatagram(source, payload, None), sim.now)  # again
    gen.on_datagram(2, AppDatagram(NodeId(bytes(32)), b"not ours", None), sim.now)
    kinds = [
        r["kind"]
        for r in sim.trace.records
        if r["kind"] in {"misdelivered", "deliver", "dup", "datagram"}
    ]
    assert kinds == ["misdelivered", "deliver", "dup", "datagram"]
    metrics = sim.finish()
    assert (metrics.delivered, metrics.duplicates, metrics.misdelivered) == (1, 1, 1)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Flow(src=0, dst=0, rate=1.0),
        lambda: Flow(src=0, dst=1, rate=0.0),
        lambda: Flow(src=0, dst=1, rate=1.0, size=HEADER_SIZE - 1),
        lambda: RandomPairs(rate=1.0, nodes=(3,)),
        lambda: Burst(src=0, dst=1, count=0, at=1.0),
        lambda: Probes(pairs=0, interval=1.0),
    ],
)
def test_bad_sources_are_refused(build: object) -> None:
    with pytest.raises(ConfigError):
        build()  # type: ignore[operator]
