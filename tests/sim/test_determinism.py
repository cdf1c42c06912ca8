"""Same scenario and seed: byte-identical trace. Different seed: a different one."""

from __future__ import annotations

import functools
import hashlib
import io
import os

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import NodeId
from meshnet.sim.faults import CrashNode, CutLink, DegradeLinks, Partition
from meshnet.sim.profile import GilbertElliott, JitterModel, LinkProfile
from meshnet.sim.sampling import Sampler
from meshnet.sim.simulation import MeasureSpec, Simulation
from meshnet.sim.topology import random_geometric
from meshnet.sim.trace import Trace
from meshnet.sim.traffic import Burst, Flow, RandomPairs

from .toynode import ToyFactory, ToyNode

PROFILE = LinkProfile(
    latency=0.02,
    jitter=0.005,
    jitter_model=JitterModel.NORMAL,
    loss=0.01,
    burst_loss=GilbertElliott(to_bad=0.01, to_good=0.3, loss_bad=0.7),
    bandwidth=2_000_000,
    queue_bytes=20_000,
)


def run(seed: int, factory: object = None, *, duration: float = 12.0) -> tuple[str, str, bytes]:
    """A busy scenario: random graph, every link effect, traffic of all kinds, faults."""
    topology = random_geometric(30, 4.0, Sampler(SeededEntropy(1, "topology")))
    sink = io.StringIO()
    sim = Simulation(
        topology=topology,
        node_factory=factory if factory is not None else ToyFactory(redial=True),  # type: ignore[arg-type]
        seed=seed,
        profile=PROFILE,
        traffic=[
            Flow(src=0, dst=29, rate=10.0, size=300, start=1.0),
            RandomPairs(rate=10.0, size=120, start=1.0),
            Burst(src=5, dst=6, count=40, at=7.0, size=900),
        ],
        faults=[
            CutLink(at=5.0, a=topology.edges[0][0], b=topology.edges[0][1], duration=3.0),
            DegradeLinks(
                at=6.0,
                changes=(("duplicate", 0.1), ("reorder", 0.1), ("corrupt", 0.05)),
                duration=4.0,
            ),
            CrashNode(at=9.0, node=3, duration=4.0),
            CrashNode(at=10.0, node=4, duration=2.0, keep_state=True),
            Partition(at=10.0, groups=(tuple(range(15)),), duration=1.5, silent=True),
        ],
        measure=MeasureSpec(probe_pairs=8, probe_interval=0.5, probe_start=1.0),
        duration=duration,
        trace=Trace(sink=sink, frames=True),
    )
    report = sim.run()
    return report.digest, report.content_digest, sink.getvalue().encode()


@functools.cache
def run_toy(seed: int) -> tuple[str, str, bytes]:
    return run(seed)


def test_same_seed_gives_a_byte_identical_trace() -> None:
    digest_a, content_a, trace_a = run_toy(7)
    digest_b, content_b, trace_b = run(7)
    assert (digest_a, content_a) == (digest_b, content_b)
    assert hashlib.sha256(trace_a).digest() == hashlib.sha256(trace_b).digest()
    assert trace_a.count(b'"kind":"deliver"') > 200  # the run did real work
    assert trace_a.count(b'"kind":"fault"') == 10


def test_different_seeds_give_different_traces() -> None:
    assert run_toy(7)[0] != run_toy(8)[0]
    assert run_toy(7)[1] != run_toy(8)[1]


class UnseededFactory(ToyFactory):
    """A node that draws message ids from the OS instead of its entropy (a bug)."""

    def __call__(
        self, *, index: int, identity_entropy: SeededEntropy, entropy: SeededEntropy
    ) -> ToyNode:
        node = ToyNode(NodeId(identity_entropy.random_bytes(32)), _OsEntropy())
        return node


class _OsEntropy:
    def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)

    def random_float(self) -> float:
        raise NotImplementedError

    def random_below(self, n: int) -> int:
        raise NotImplementedError


def test_content_digest_exposes_a_node_that_ignores_its_entropy() -> None:
    first, second = run(7, UnseededFactory(), duration=3.0), run(7, UnseededFactory(), duration=3.0)
    assert first[1] != second[1]  # the frames carry the unseeded ids
