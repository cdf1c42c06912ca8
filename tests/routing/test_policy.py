"""Link metrics, their estimator and hysteresis, and the two shipped path policies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import NodeId
from meshnet.routing.messages import NeighbourEntry
from meshnet.routing.metrics import LinkEstimator, LinkMetrics
from meshnet.routing.paths import shortest_paths
from meshnet.routing.policy import MAX_LINK_COST, EtxLatencyPolicy, HopCountPolicy, PathPolicy

metrics = st.builds(
    LinkMetrics,
    rtt=st.none() | st.floats(0, 100, allow_nan=False),
    loss=st.floats(0, 1, allow_nan=False),
)


def test_estimator_averages_its_first_samples_then_smooths_and_counts_losses() -> None:
    estimator = LinkEstimator(rtt_gain=0.125, loss_gain=0.0625)
    assert estimator.metrics == LinkMetrics(rtt=None, loss=0.0)
    estimator.sample(0.100, lost=False)
    assert estimator.metrics.rtt == pytest.approx(0.100)  # the first sample sets it
    assert estimator.metrics.jitter == 0.0  # unknown after one sample
    estimator.sample(0.200, lost=False)
    assert estimator.metrics.rtt == pytest.approx(0.150)  # warm start: the mean of two
    estimator.sample(None, lost=True)
    assert estimator.metrics.loss == pytest.approx(0.0625)
    assert estimator.metrics.rtt == pytest.approx(0.150)  # a loss says nothing of delay
    estimator.sample(None, lost=False)  # neither: ignored
    assert estimator.samples == 3


def test_after_warm_up_the_rtt_is_an_ewma_and_jitter_rises_slowly() -> None:
    estimator = LinkEstimator(rtt_gain=0.125, loss_gain=0.0625)
    for i in range(20):
        estimator.sample(0.009 if i % 2 else 0.011, lost=False)
    before, jitter = estimator.metrics.rtt, estimator.metrics.jitter
    assert before is not None and jitter == pytest.approx(estimator.rtt_var, rel=0.1)
    estimator.sample(0.060, lost=False)  # one probe stuck behind a flood
    assert estimator.metrics.rtt == pytest.approx(before + (0.060 - before) / 8)  # gain 1/8 now
    assert estimator.rtt_var > 2 * jitter  # the deviation jumps ...
    assert estimator.metrics.jitter < 1.1 * jitter  # ... the usual jitter barely moves


def test_a_lasting_rise_of_delay_is_followed() -> None:
    estimator = LinkEstimator(rtt_gain=0.125, loss_gain=0.0625)
    for i in range(40):
        estimator.sample(0.010 + (0.002 if i % 2 else -0.002), lost=False)
    for _ in range(40):
        estimator.sample(0.050, lost=False)
    assert estimator.metrics.rtt == pytest.approx(0.050, rel=0.05)


def test_jitter_alone_is_not_announced_but_a_real_shift_is() -> None:
    """A link with 2 ms of jitter per sample re-announces only when its delay moves."""
    estimator = LinkEstimator(rtt_gain=0.125, loss_gain=0.0625)
    jitter = SeededEntropy(3, "jitter")
    announced = LinkMetrics(rtt=None, loss=0.0)
    changes = 0
    for i in range(1000):
        base = 0.010 if i < 500 else 0.030
        estimator.sample(base + (jitter.random_float() - 0.5) * 0.008, lost=False)
        metrics = estimator.metrics.quantised()
        if metrics.differs(announced, 0.2):
            announced, changes = metrics, changes + 1
            if i >= 500:
                break
    assert i < 510  # the shift from 10 to 30 ms was announced within 10 probes
    assert changes == 2  # the first measurement, then the shift: never the jitter


def test_loss_estimate_converges_to_the_loss_ratio() -> None:
    estimator = LinkEstimator(rtt_gain=0.125, loss_gain=0.0625)
    for i in range(400):
        estimator.sample(None if i % 4 == 0 else 0.05, lost=i % 4 == 0)
    assert estimator.metrics.loss == pytest.approx(0.25, abs=0.05)


@given(metrics)
def test_quantised_metrics_survive_an_announcement(m: LinkMetrics) -> None:
    q = m.quantised()
    assert LinkMetrics.from_entry(q.to_entry(b"p" * 8)) == q
    assert q.quantised() == q
    if m.rtt is None:
        assert q.rtt is None
    else:
        assert q.rtt == pytest.approx(min(m.rtt, 65.534), abs=0.0005 + 1e-9)  # half a ms, rounded
    assert q.loss == pytest.approx(m.loss, abs=1 / 510)


def test_etx_is_one_over_delivery_ratio_and_capped() -> None:
    assert LinkMetrics(rtt=0.01, loss=0.0).etx == 1.0
    assert LinkMetrics(rtt=0.01, loss=0.5).etx == pytest.approx(2.0)
    # round-trip loss of 0.19 = forward 10% and reverse 10%: ETX = 1/(0.9*0.9)
    assert LinkMetrics(rtt=0.01, loss=0.19).etx == pytest.approx(1 / 0.81)
    assert LinkMetrics(rtt=0.01, loss=1.0).etx == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("before", "after", "significant"),
    [
        (LinkMetrics(rtt=None, loss=0), LinkMetrics(rtt=0.05, loss=0), True),
        (LinkMetrics(rtt=0.050, loss=0), LinkMetrics(rtt=0.059, loss=0), False),  # +18%
        (LinkMetrics(rtt=0.050, loss=0), LinkMetrics(rtt=0.061, loss=0), True),  # +22%
        (LinkMetrics(rtt=0.050, loss=0), LinkMetrics(rtt=0.039, loss=0), True),  # -22%
        (LinkMetrics(rtt=0.001, loss=0), LinkMetrics(rtt=0.0025, loss=0), False),  # < 5 ms
        (LinkMetrics(rtt=0.010, loss=0), LinkMetrics(rtt=0.0149, loss=0), False),  # +49%, < 5 ms
        (LinkMetrics(rtt=0.010, loss=0), LinkMetrics(rtt=0.0151, loss=0), True),  # +51%, > 5 ms
        (LinkMetrics(rtt=0.05, loss=0.0), LinkMetrics(rtt=0.05, loss=0.15), False),  # ETX 1.18
        (LinkMetrics(rtt=0.05, loss=0.0), LinkMetrics(rtt=0.05, loss=0.2), True),  # ETX 1.25
    ],
)
def test_hysteresis(before: LinkMetrics, after: LinkMetrics, significant: bool) -> None:
    assert after.differs(before, 0.2) is significant


def test_entry_of_unmeasured_link() -> None:
    assert LinkMetrics(rtt=None, loss=0.0).to_entry(b"x" * 8) == NeighbourEntry(
        prefix=b"x" * 8, rtt_ms=None, loss=0
    )


# -- policies ----------------------------------------------------------------------------


@given(metrics)
def test_costs_are_integers_in_range(m: LinkMetrics) -> None:
    for policy in (HopCountPolicy(), EtxLatencyPolicy()):
        cost = policy.link_cost(m)
        assert isinstance(cost, int)
        assert 1 <= cost <= MAX_LINK_COST


def test_etx_latency_formula() -> None:
    policy = EtxLatencyPolicy()
    assert policy.link_cost(LinkMetrics(rtt=0.020, loss=0.0)) == 30  # 1 x (10 + 20) ms
    assert policy.link_cost(LinkMetrics(rtt=0.020, loss=0.5)) == 60  # ETX 2
    assert policy.link_cost(LinkMetrics(rtt=None, loss=0.0)) == 110  # unmeasured: 100 ms
    assert policy.link_cost(LinkMetrics(rtt=60.0, loss=1.0)) == MAX_LINK_COST
    assert EtxLatencyPolicy(hop_penalty=0.0).link_cost(LinkMetrics(rtt=0.0, loss=0.0)) == 1
    assert HopCountPolicy().link_cost(LinkMetrics(rtt=9.0, loss=0.9)) == 1


@given(metrics, metrics)
def test_etx_latency_cost_grows_with_rtt_and_loss(a: LinkMetrics, b: LinkMetrics) -> None:
    if a.rtt is None or b.rtt is None:
        return
    policy = EtxLatencyPolicy()
    if a.rtt <= b.rtt and a.loss <= b.loss:
        assert policy.link_cost(a) <= policy.link_cost(b)


def test_negative_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        EtxLatencyPolicy(hop_penalty=-1)


def test_policies_on_a_toy_graph() -> None:
    """S reaches D directly over a slow satellite hop, via A over fast lossy links, or via
    B over clean medium links. Hop count takes the satellite; ETX/latency the clean path."""
    s, a, b, d = (NodeId(bytes([i]) * 32) for i in (1, 2, 3, 4))
    links = {
        (s, d): LinkMetrics(rtt=0.400, loss=0.0),
        (s, a): LinkMetrics(rtt=0.020, loss=0.5),
        (a, d): LinkMetrics(rtt=0.020, loss=0.5),
        (s, b): LinkMetrics(rtt=0.040, loss=0.0),
        (b, d): LinkMetrics(rtt=0.040, loss=0.0),
    }

    def best(policy: PathPolicy) -> tuple[tuple[NodeId, ...] | None, int]:
        graph: dict[NodeId, list[tuple[NodeId, int]]] = {}
        for (tail, head), m in links.items():
            graph.setdefault(tail, []).append((head, policy.link_cost(m)))
        tree = shortest_paths(graph, s)
        return tree.path_to(d), tree.cost[d]

    assert best(HopCountPolicy()) == ((d,), 1)
    assert best(EtxLatencyPolicy()) == ((b, d), 100)  # via A: 2 x 60 = 120; direct: 410
    assert HopCountPolicy().name == "hop-count"
    assert EtxLatencyPolicy().name == "etx-latency"
