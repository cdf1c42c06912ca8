"""Probes: RTT and loss from PROBE_WITH_ECHOES (echoes ride on probes) and the fallback.

The ``Prober`` is driven with explicit times (one-way delays made up by the test);
the link pairs show the frames saved and the negotiation with an end that lacks the
capability.
"""

from __future__ import annotations

import pytest
from tests.helpers.simnet import build_network

from meshnet.link.config import LinkConfig
from meshnet.link.events import LinkMeasured
from meshnet.link.messages import MAX_ECHOES, Probe, ProbeWithEchoes
from meshnet.link.probes import Prober

from .pair import LinkPair

CONFIG = LinkConfig(probe_interval=5.0)  # probe every 5 s, loss 3 s after an echo was due


def prober(*, datagram: bool = True, echoes: bool = True) -> Prober:
    return Prober(config=CONFIG, datagram=datagram, echoes=echoes, now=0.0)


def test_echo_carried_by_the_neighbours_probe_gives_the_rtt_without_the_hold() -> None:
    a, b = prober(), prober()
    samples: list[float | None] = []
    probe_a = a.probe(0.0, samples)
    assert isinstance(probe_a, ProbeWithEchoes) and probe_a.answer  # no sample yet
    assert probe_a.interval_ms == 5000
    b.on_probe(probe_a, 0.05, samples)  # 50 ms one way
    probe_b = b.probe(2.05, samples)  # b's own probe, 2 s later, echoes a's
    assert isinstance(probe_b, ProbeWithEchoes)
    assert probe_b.echoes == ((probe_a.probe_id, 2_000_000),)
    a.on_probe(probe_b, 2.10, samples)
    assert samples == [pytest.approx(0.10)]
    assert a.srtt == pytest.approx(0.10) and a.loss == 0.0
    nxt = a.probe(5.0, samples)
    assert isinstance(nxt, ProbeWithEchoes) and not nxt.answer  # a has a sample now


def test_each_probe_echoes_only_what_arrived_since_the_last_one() -> None:
    a, b = prober(), prober()
    samples: list[float | None] = []
    for t in (0.0, 5.0):
        b.on_probe(a.probe(t, samples), t + 0.01, samples)
    first = b.probe(6.0, samples)
    assert isinstance(first, ProbeWithEchoes) and len(first.echoes) == 2
    second = b.probe(11.0, samples)
    assert isinstance(second, ProbeWithEchoes) and second.echoes == ()


def test_a_probe_asking_for_an_answer_or_a_full_echo_list_is_answered_at_once() -> None:
    b = prober()
    samples: list[float | None] = []
    early, unknown = b.on_probe(ProbeWithEchoes(1, 5000, True), 0.0, samples)
    assert early and unknown == 0
    b.probe(0.0, samples)  # the answer clears the list
    for i in range(2, 2 + MAX_ECHOES):
        early, _ = b.on_probe(ProbeWithEchoes(i, 100, False), i * 0.1, samples)
        assert early == (i == 1 + MAX_ECHOES)  # the neighbour probes 50x as often as we do
    answer = b.probe(1.0, samples)
    assert isinstance(answer, ProbeWithEchoes) and len(answer.echoes) == MAX_ECHOES


def test_echoes_held_stay_bounded_whatever_the_peer_sends() -> None:
    """Without the capability nothing is held; with it, never more than MAX_ECHOES."""
    for echoes in (False, True):
        b = prober(echoes=echoes)
        samples: list[float | None] = []
        for i in range(100):  # the caller ignores the request to probe early
            b.on_probe(ProbeWithEchoes(i, 100, True), i * 0.01, samples)
        frame = b.probe(2.0, samples)
        if echoes:
            assert isinstance(frame, ProbeWithEchoes) and len(frame.echoes) == MAX_ECHOES
            assert frame.echoes[-1][0] == 99  # the newest kept
        else:
            assert isinstance(frame, Probe)


def test_echo_of_a_probe_never_sent_gives_no_sample() -> None:
    a = prober()
    samples: list[float | None] = []
    _, unknown = a.on_probe(ProbeWithEchoes(7, 5000, False, ((99, 0),)), 1.0, samples)
    assert unknown == 1 and samples == [] and a.srtt is None


def test_loss_is_counted_only_once_the_echo_can_no_longer_come() -> None:
    """The echo rides on the neighbour's next probe: allow its interval plus probe_timeout."""
    a = prober()
    samples: list[float | None] = []
    a.on_probe(ProbeWithEchoes(1, 20_000, False), 0.0, samples)  # the neighbour: every 20 s
    a.probe(0.0, samples)
    assert a.loss_deadline() == 23.0
    a.expire(22.9, samples)
    assert samples == [] and a.loss == 0.0
    a.expire(23.0, samples)
    assert samples == [None] and a.loss > 0


def test_without_the_capability_a_probe_is_a_plain_probe_lost_after_probe_timeout() -> None:
    a = prober(echoes=False)
    samples: list[float | None] = []
    assert isinstance(a.probe(0.0, samples), Probe)
    assert a.loss_deadline() == 3.0
    assert a.on_echo(1, 0.2, samples) and samples == [pytest.approx(0.2)]


def test_stream_links_count_no_loss() -> None:
    a = prober(datagram=False)
    samples: list[float | None] = []
    for t in range(40):
        a.probe(float(t), samples)
    a.expire(1000.0, samples)
    assert samples == [] and a.loss == 0.0 and a.loss_deadline() is None


def _frames_sent(pair: LinkPair) -> int:
    return sum(side.manager.status(pair.now).links[0].frames_sent for side in (pair.a, pair.b))


@pytest.mark.parametrize("datagram", [True, False], ids=["datagram", "stream"])
def test_echoes_on_probes_halve_an_idle_links_frames(datagram: bool) -> None:
    counts = {}
    for echoes in (False, True):
        pair = LinkPair(
            datagram=datagram, config=LinkConfig(probe_echoes=echoes, probe_interval=5.0)
        )
        pair.advance(10)  # past the first samples
        before = _frames_sent(pair)
        pair.advance(100)
        counts[echoes] = _frames_sent(pair) - before
        conn = pair.a.manager.connection(pair.a.manager.link_to(pair.b.node_id))  # type: ignore[arg-type]
        assert conn is not None and conn.probe_echoes is echoes
        assert pair.a.manager.status(pair.now).links[0].srtt is not None
        assert pair.b.manager.status(pair.now).links[0].srtt is not None
        measured = pair.a.of(LinkMeasured)
        assert measured and not any(m.lost for m in measured)
    assert counts[False] == 80  # 2 sides x (probe + echo) every 5 s
    assert counts[True] == 40  # 2 sides x one probe carrying the echo


@pytest.mark.parametrize("which", ["a", "b"])
def test_an_end_without_the_capability_gets_plain_probes_and_echoes(which: str) -> None:
    old = LinkConfig(probe_echoes=False)
    pair = LinkPair(config=old if which == "a" else None, b_config=old if which == "b" else None)
    pair.advance(30)
    for side in (pair.a, pair.b):
        link = side.manager.link_to(pair.other(side).node_id)
        assert link is not None
        conn = side.manager.connection(link)
        assert conn is not None and not conn.probe_echoes
        assert conn.srtt is not None and conn.loss == 0.0


def test_a_new_link_measures_both_ways_within_a_round_trip() -> None:
    pair = LinkPair(datagram=True)
    pair.advance(0.5)  # well before the second probe (5 s)
    for side in (pair.a, pair.b):
        assert any(m.rtt is not None for m in side.of(LinkMeasured))


def test_an_idle_simulated_mesh_sends_half_the_probe_frames() -> None:
    """Fixed seed, real nodes: frames per link per second on an idle 8-node ring.

    Probes are every 10 s on each side (the default since session 8; 5 s before): 0.4
    frames/s per link with PROBE + PROBE_ECHO, 0.2 with PROBE_WITH_ECHOES (0.8 and 0.4
    at 5 s: 0.842 and 0.442 on the 20-node mesh of docs/protocol/link.md); announcements
    add a little on top.
    """
    sim = build_network(n=8, topology="ring", seed=3, keep_records=False)
    sim.run_for(30.0)
    before, start = sim.network.frames_sent(), sim.now
    sim.run_for(60.0)
    per_link = (sim.network.frames_sent() - before) / (sim.now - start) / len(sim.network.links)
    assert 0.2 <= per_link < 0.25
