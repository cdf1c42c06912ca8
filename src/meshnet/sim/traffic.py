"""Application traffic: who sends what to whom, when, and how much.

Sources are values (``Flow``, ``RandomPairs``, ``Burst``, ``Probes``); the
``TrafficGenerator`` schedules them and hands each message to the source node's
``send_datagram``. Every payload starts with a small header the generator can read
back at the far end without any help from the relays::

    b"MSIM" | message id (u64) | send time (f64) | flow index (u16) | zero padding

so the receiving side knows the message, its latency and its flow. Records: ``send``
(with the ground truth at send time: reachable, best delay, fewest hops), ``deliver``,
``dup`` (a second copy), ``misdelivered`` (it reached another node) and ``datagram``
(an end-to-end datagram that is not ours).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from meshnet.crypto.entropy import SeededEntropy
from meshnet.errors import ConfigError
from meshnet.sim.harness import AppDatagram
from meshnet.sim.sampling import Sampler

if TYPE_CHECKING:
    from meshnet.sim.network import SimNetwork

__all__ = [
    "HEADER_SIZE",
    "Burst",
    "Flow",
    "Probes",
    "RandomPairs",
    "TrafficGenerator",
    "TrafficSpec",
    "decode_payload",
    "encode_payload",
]

_MAGIC = b"MSIM"
_HEADER = struct.Struct(">4sQdH")
HEADER_SIZE = _HEADER.size
"""Smallest payload the generator sends (22 bytes)."""
_ANY_NODE = -1
"""The scheduler's node for an entry that may act on any node (Scheduler.call_at)."""


def encode_payload(msg: int, sent_at: float, flow: int, size: int) -> bytes:
    """A traffic payload of ``size`` bytes (at least ``HEADER_SIZE``)."""
    header = _HEADER.pack(_MAGIC, msg, sent_at, flow)
    return header + bytes(size - len(header))


def decode_payload(payload: bytes) -> tuple[int, float, int] | None:
    """``(message id, send time, flow index)``, or None for a foreign payload."""
    if len(payload) < HEADER_SIZE or not payload.startswith(_MAGIC):
        return None
    _, msg, sent_at, flow = _HEADER.unpack_from(payload)
    return msg, sent_at, flow


def _check_size(size: int) -> None:
    if size < HEADER_SIZE:
        raise ConfigError(f"traffic size must be at least {HEADER_SIZE} bytes, got {size}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Flow:
    """``rate`` messages per second from ``src`` to ``dst``, evenly spaced."""

    src: int
    dst: int
    rate: float
    size: int = 64
    start: float = 0.0
    stop: float | None = None
    name: str = ""

    def __post_init__(self) -> None:
        _check_size(self.size)
        if self.rate <= 0 or self.src == self.dst:
            raise ConfigError("a flow needs rate > 0 and src != dst")


@dataclass(frozen=True, slots=True, kw_only=True)
class RandomPairs:
    """Poisson arrivals at ``rate`` per second in total, each between a random pair."""

    rate: float
    size: int = 64
    start: float = 0.0
    stop: float | None = None
    nodes: tuple[int, ...] | None = None
    """Choose endpoints among these nodes only (all nodes by default)."""
    name: str = ""

    def __post_init__(self) -> None:
        _check_size(self.size)
        if self.rate <= 0:
            raise ConfigError("random traffic needs rate > 0")
        if self.nodes is not None and len(self.nodes) < 2:
            raise ConfigError("random traffic needs at least two nodes to choose from")


@dataclass(frozen=True, slots=True, kw_only=True)
class Burst:
    """``count`` messages from ``src`` to ``dst`` starting ``at``, ``interval`` apart."""

    src: int
    dst: int
    count: int
    at: float
    size: int = 64
    interval: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        _check_size(self.size)
        if self.count < 1 or self.interval < 0 or self.src == self.dst:
            raise ConfigError("a burst needs count >= 1, interval >= 0 and src != dst")


@dataclass(frozen=True, slots=True, kw_only=True)
class Probes:
    """Measurement traffic: ``pairs`` sampled pairs, one probe each every ``interval``."""

    pairs: int
    interval: float
    size: int = HEADER_SIZE
    start: float = 0.0
    stop: float | None = None
    name: str = "probe"

    def __post_init__(self) -> None:
        _check_size(self.size)
        if self.pairs < 1 or self.interval <= 0:
            raise ConfigError("probes need pairs >= 1 and interval > 0")


TrafficSpec = Flow | RandomPairs | Burst | Probes


class TrafficGenerator:
    """Schedules traffic sources and records what was sent and what arrived.

    Args:
        network: the network to send through.
        specs: the sources; their position is the flow index in every payload.
        entropy: the traffic stream; each source forks its own from it.
        end: no source sends at or after this time.
    """

    def __init__(
        self,
        network: SimNetwork,
        specs: tuple[TrafficSpec, ...],
        entropy: SeededEntropy,
        *,
        end: float,
    ) -> None:
        if len(specs) > 0xFFFF:
            raise ConfigError("at most 65535 traffic sources")
        self.network = network
        self.specs = specs
        self.end = end
        self.names = [
            spec.name or f"{type(spec).__name__.lower()}{i}" for i, spec in enumerate(specs)
        ]
        self._samplers = [Sampler(entropy.fork(f"source/{i}")) for i in range(len(specs))]
        self._next_msg = 1
        self._pending: dict[int, int] = {}  # message id -> destination
        self._delivered: set[int] = set()  # membership only, never iterated
        self.probe_pairs: list[tuple[int, int]] = []
        self._base = [0.0] * len(specs)  # when each periodic source started

    def start(self) -> None:
        """Schedule the first message of every source."""
        now = self.network.scheduler.now
        nodes = self.network.topology.nodes
        for flow, spec in enumerate(self.specs):
            for node in _endpoints(spec):
                if not 0 <= node < nodes:
                    raise ConfigError(f"traffic {self.names[flow]}: no node {node}")
            if isinstance(spec, Probes):
                self._start_probes(flow, spec, now)
            elif isinstance(spec, Burst):
                for k in range(spec.count):
                    self._at(spec.at + k * spec.interval, (flow, k, 0), spec.src)
            elif isinstance(spec, RandomPairs):
                self._base[flow] = max(spec.start, now)
                src, dst = self._random_pair(flow, spec)
                self._at(self._base[flow], (flow, src, dst), _ANY_NODE)
            else:
                self._base[flow] = max(spec.start, now)
                self._at(self._base[flow], (flow, 0, 0), spec.src)

    def _at(self, when: float, args: tuple[int, int, int], src: int) -> None:
        if when < self.end:
            self.network.scheduler.call_at(when, self._fire, args, src)

    def _start_probes(self, flow: int, spec: Probes, now: float) -> None:
        sampler, nodes = self._samplers[flow], self.network.topology.nodes
        wanted = min(spec.pairs, nodes * (nodes - 1))
        while len(self.probe_pairs) < wanted:
            pair = (sampler.below(nodes), sampler.below(nodes))
            if pair[0] != pair[1] and pair not in self.probe_pairs:
                self.probe_pairs.append(pair)
        self._base[flow] = max(spec.start, now)
        for k, (src, _) in enumerate(self.probe_pairs):
            self._at(self._probe_time(flow, spec, k, 0), (flow, k, 0), src)

    def _probe_time(self, flow: int, spec: Probes, pair: int, n: int) -> float:
        return self._base[flow] + spec.interval * (n + pair / len(self.probe_pairs))

    def _fire(self, args: tuple[int, int, int]) -> None:
        # args: (flow index, message or pair number, round), or for random pairs (flow
        # index, source, destination), drawn one message ahead (the draws keep their
        # order in the stream). A random-pair entry is scheduled as acting on no known
        # node: it schedules the next message, whose source may be any node and whose
        # time may come at once, so a partitioned run bounds it by the least reach of
        # all (naming its source let a worker run past a message another worker's entry
        # was about to schedule for one of its nodes, parallel.py).
        # Periodic times are computed from the start time and the count, never
        # accumulated (no float drift).
        flow, k, n = args
        spec, now = self.specs[flow], self.network.scheduler.now
        stop = spec.stop if not isinstance(spec, Burst) and spec.stop is not None else self.end
        if now >= stop:
            return
        if isinstance(spec, Flow):
            self.send(spec.src, spec.dst, spec.size, flow)
            self._at(self._base[flow] + (k + 1) / spec.rate, (flow, k + 1, 0), spec.src)
        elif isinstance(spec, RandomPairs):
            self.send(k, n, spec.size, flow)
            when = now + self._samplers[flow].exponential(1.0 / spec.rate)
            src, dst = self._random_pair(flow, spec)
            self._at(when, (flow, src, dst), _ANY_NODE)
        elif isinstance(spec, Probes):
            src, dst = self.probe_pairs[k]
            self.send(src, dst, spec.size, flow, pair=k)
            self._at(self._probe_time(flow, spec, k, n + 1), (flow, k, n + 1), src)
        else:
            self.send(spec.src, spec.dst, spec.size, flow)

    def _random_pair(self, flow: int, spec: RandomPairs) -> tuple[int, int]:
        sampler = self._samplers[flow]
        pool = spec.nodes
        count = len(pool) if pool is not None else self.network.topology.nodes
        i = sampler.below(count)
        j = sampler.below(count - 1)
        j = j + 1 if j >= i else j
        return (pool[i], pool[j]) if pool is not None else (i, j)

    def send(self, src: int, dst: int, size: int, flow: int, *, pair: int | None = None) -> int:
        """Send one message now and record it; returns its message id."""
        network = self.network
        now = network.scheduler.now
        msg = self._next_msg
        self._next_msg += 1
        if not network.local[src]:
            # A partitioned run: every worker draws the same traffic; the source's
            # worker sends and records it, the others only learn where it goes.
            self._pending[msg] = dst
            return msg
        truth = network.truth()
        best = truth.best_delay(src, dst)
        fields: dict[str, object] = {
            "msg": msg,
            "src": src,
            "dst": dst,
            "size": size,
            "flow": self.names[flow],
            "reachable": best is not None,
            "best": best,
            "min_hops": truth.min_hops(src, dst),
        }
        if pair is not None:
            fields["pair"] = pair
        refusal = network.send_app(src, dst, encode_payload(msg, now, flow, size), now)
        if refusal is not None:
            fields["refused"] = refusal
        else:
            self._pending[msg] = dst
        network.trace.record(now, "send", **fields)
        return msg

    def on_datagram(self, receiver: int, datagram: AppDatagram, now: float) -> None:
        """Called by the network for every end-to-end datagram a node delivered."""
        trace = self.network.trace
        decoded = decode_payload(datagram.payload)
        if decoded is None:
            trace.record(
                now,
                "datagram",
                node=receiver,
                source=str(datagram.source),
                size=len(datagram.payload),
            )
            return
        msg, sent_at, _ = decoded
        dst = self._pending.pop(msg, None)
        if dst is None:
            kind = "dup" if msg in self._delivered else "unknown"
            trace.record(now, kind, msg=msg, node=receiver)
        elif dst != receiver:
            self._pending[msg] = dst
            trace.record(now, "misdelivered", msg=msg, node=receiver)
        else:
            self._delivered.add(msg)
            trace.record(
                now, "deliver", msg=msg, node=receiver, latency=now - sent_at, hops=datagram.hops
            )

    def probe_reachability(self) -> list[bool]:
        """For each probe pair, whether it is reachable in the ground truth right now."""
        truth = self.network.truth()
        return [truth.reachable(s, d) for s, d in self.probe_pairs]


def _endpoints(spec: TrafficSpec) -> tuple[int, ...]:
    if isinstance(spec, Flow | Burst):
        return (spec.src, spec.dst)
    if isinstance(spec, RandomPairs):
        return spec.nodes or ()
    return ()
