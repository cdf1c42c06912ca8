"""``SessionPair``: two SessionManagers joined by a seeded, unreliable in-memory network.

Like h11's ConnectionPair and aioquic's ``client_and_server``: real cores on both ends,
explicit time, and a network in between that loses, duplicates, delays and reorders
packets from a ``SeededEntropy`` stream (same seed, same run). Every packet that enters
the network is recorded in ``wire`` so tests can inspect what a relay would see.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity, IdentityRecord, NodeId, SignatureVerifier
from meshnet.ids import StreamId
from meshnet.session.config import SessionConfig
from meshnet.session.events import (
    SessionEvent,
    StreamDataReceived,
    StreamFinished,
    StreamWritable,
)
from meshnet.session.manager import SessionManager
from meshnet.session.packets import Packet


def identity(seed: int, label: str) -> Identity:
    return Identity.generate(SeededEntropy(seed, label), created=1_700_000_000)


@dataclass
class Path:
    """One direction of the network."""

    delay: float = 0.02
    jitter: float = 0.0
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0  # chance that a packet is held back by an extra delay
    reorder_delay: float = 0.03
    down: bool = False  # drop everything (an outage, a failed relay)
    room: int = 0  # what routing says this direction carries whole (PacketDelivered.room)


@dataclass
class Side:
    name: str
    identity: Identity
    manager: SessionManager
    events: list[SessionEvent] = field(default_factory=list)
    received: dict[StreamId, bytearray] = field(default_factory=dict)
    finished: set[StreamId] = field(default_factory=set)
    reading: bool = True  # take events (and so give flow-control credit) as they come
    outgoing: dict[StreamId, tuple[memoryview, bool]] = field(default_factory=dict)
    blocked: set[StreamId] = field(default_factory=set)

    @property
    def node_id(self) -> NodeId:
        return self.identity.node_id

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.events if isinstance(e, kind)]

    def drain(self, now: float) -> None:
        if not self.reading:
            return
        while (event := self.manager.next_event()) is not None:
            self.events.append(event)
            if isinstance(event, StreamDataReceived):
                self.received.setdefault(event.stream, bytearray()).extend(event.data)
            elif isinstance(event, StreamFinished):
                self.finished.add(event.stream)
            elif isinstance(event, StreamWritable):
                self.blocked.discard(event.stream)
        self.pump(now)

    def write(self, stream: StreamId, data: bytes, now: float, *, close: bool = True) -> None:
        """Write ``data`` as the buffer allows, the rest whenever it is writable again."""
        self.outgoing[stream] = (memoryview(data), close)
        self.pump(now)

    def pump(self, now: float) -> None:
        for stream, (pending, close) in list(self.outgoing.items()):
            if stream in self.blocked:
                continue
            chunk = bytes(pending[:262144])
            taken = self.manager.stream_send(stream, chunk, now) if chunk else 0
            rest = pending[taken:]
            if rest:
                self.outgoing[stream] = (rest, close)
                if taken < len(chunk):
                    self.blocked.add(stream)  # StreamWritable will follow
                continue
            del self.outgoing[stream]
            if close:
                self.manager.stream_close(stream, now)


class SessionPair:
    """Sides ``a`` and ``b`` and the network between them, at time ``now``."""

    def __init__(
        self,
        *,
        seed: int = 1,
        config: SessionConfig | None = None,
        a_config: SessionConfig | None = None,
        b_config: SessionConfig | None = None,
        ab: Path | None = None,
        ba: Path | None = None,
        records: bool = True,
    ) -> None:
        self.now = 0.0
        self.verifier = SignatureVerifier()
        self.directory: dict[NodeId, IdentityRecord] = {}
        self.entropy = SeededEntropy(seed, "network")
        root = SeededEntropy(seed, "sides")
        base = config or SessionConfig()
        self.a = self._side("a", identity(seed, "a"), a_config or base, root)
        self.b = self._side("b", identity(seed, "b"), b_config or base, root)
        if records:
            self.publish()
        self.paths = {"a": ab or Path(), "b": ba or Path()}
        self.wire: list[tuple[str, bytes]] = []
        self.capture = True
        self.delivered = 0
        self.views = False  # deliver packets as memoryviews (what routing hands up)
        self._flight: list[tuple[float, int, str, bytes, int]] = []
        self._seq = 0

    def _side(self, name: str, ident: Identity, config: SessionConfig, root: SeededEntropy) -> Side:
        manager = SessionManager(
            identity=ident,
            config=config,
            entropy=root.fork(name),
            verifier=self.verifier,
            lookup_record=self.directory.get,
        )
        return Side(name, ident, manager)

    def publish(self) -> None:
        """Make both identity records known to both sides (routing announcements)."""
        self.directory[self.a.node_id] = self.a.identity.record
        self.directory[self.b.node_id] = self.b.identity.record

    def other(self, side: Side) -> Side:
        return self.b if side is self.a else self.a

    # -- the network ---------------------------------------------------------------------

    def _send(self, side: Side, destination: NodeId, sent: Packet) -> None:
        packet = bytes(sent)  # what crosses the network: a Headroom's packet, not its room
        peer = self.other(side)
        assert destination == peer.node_id, "a side sent to a node not in the pair"
        if self.capture:
            self.wire.append((side.name, packet))
        path = self.paths[side.name]
        rnd = self.entropy.random_float
        if path.down or rnd() < path.loss:
            return
        copies = 2 if rnd() < path.duplicate else 1
        for _ in range(copies):
            delay = path.delay + path.jitter * rnd()
            if rnd() < path.reorder:
                delay += path.reorder_delay
            self._seq += 1
            entry = (self.now + delay, self._seq, peer.name, packet, path.room)
            heapq.heappush(self._flight, entry)

    def flush(self) -> None:
        for side in (self.a, self.b):
            for destination, packet in side.manager.packets_to_send(self.now):
                self._send(side, destination, packet)

    def step(self, until: float) -> None:
        """Advance to the next thing that happens (no later than ``until``)."""
        self.flush()
        candidates = [until]
        for side in (self.a, self.b):
            timer = side.manager.get_timer()
            if timer is not None:
                candidates.append(timer)
        if self._flight:
            candidates.append(self._flight[0][0])
        self.now = max(self.now, min(candidates))
        while self._flight and self._flight[0][0] <= self.now:
            _, _, name, packet, room = heapq.heappop(self._flight)
            side = self.a if name == "a" else self.b
            data = memoryview(packet) if self.views else packet
            side.manager.receive_packet(self.other(side).node_id, data, self.now, room=room)
            self.delivered += 1
        for side in (self.a, self.b):
            timer = side.manager.get_timer()
            if timer is not None and timer <= self.now:
                side.manager.handle_timer(self.now)
        for side in (self.a, self.b):
            side.drain(self.now)
        self.flush()

    def run(self, seconds: float, *, until: Callable[[], bool] | None = None) -> bool:
        """Run for ``seconds`` of virtual time, or until ``until()`` holds (returned)."""
        end = self.now + seconds
        stalled = 0
        while self.now < end:
            if until is not None and until():
                return True
            before = (self.now, self.delivered)
            self.step(end)
            stalled = stalled + 1 if (self.now, self.delivered) == before else 0
            assert stalled < 1000, "a timer fires again and again at the same time"
        return until() if until is not None else False

    def inject(self, side: Side, packet: bytes) -> None:
        """Deliver raw bytes to ``side`` as if from its peer, now."""
        side.manager.receive_packet(self.other(side).node_id, packet, self.now)
        side.drain(self.now)

    # -- helpers -------------------------------------------------------------------------

    def establish(self, initiator: Side | None = None) -> None:
        """Open a session from ``initiator`` (default ``a``) with one datagram."""
        side = initiator or self.a
        side.manager.send_datagram(self.other(side).node_id, b"hello", self.now)
        ok = self.run(30.0, until=self._both_established)
        assert ok, "the session did not establish"

    def _both_established(self) -> bool:
        from meshnet.session.state import SessionState

        live = (SessionState.ESTABLISHED, SessionState.REKEYING)
        return (
            self.a.manager.session_state(self.b.node_id) in live
            and self.b.manager.session_state(self.a.node_id) in live
        )

    def writable_events(self, side: Side) -> int:
        return len(side.of(StreamWritable))
