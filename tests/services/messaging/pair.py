"""Two (or more) ``MessagingService`` cores joined by in-memory reliable streams.

``StreamNet`` plays the session layer for every member: ``open_stream`` hands out a
stream id both ends share, ``stream_send`` queues bytes (accepting at most ``window``
bytes per call when a window is set), and ``deliver`` carries everything queued to the
other end, reporting ``stream_opened`` before the first bytes, as the node does. ``cut``
ends every stream between two members the way a session that closes would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.errors import StateError
from meshnet.ids import MessageId, StreamId
from meshnet.services.messaging import (
    MemoryMessageStore,
    MessageDelivered,
    MessageReceived,
    MessageStore,
    MessagingConfig,
    MessagingEvent,
    MessagingService,
)

VERIFIER = SignatureVerifier()


@dataclass
class _Stream:
    opener: NodeId
    peer: NodeId
    service: int
    announced: bool = False
    closed_by: set[NodeId] = field(default_factory=set)


class Port:
    """One member's view of the ``StreamNet`` (a ``StreamTransport``)."""

    def __init__(self, net: StreamNet, local: NodeId) -> None:
        self.net = net
        self.local = local

    def open_stream(self, destination: NodeId, now: float, *, service: int = 0) -> StreamId:
        if not self.net.reachable(self.local, destination):
            raise StateError("the session table is full")  # stands for any refusal
        self.net.next_id += 1
        stream = StreamId(self.net.next_id)
        self.net.streams[stream] = _Stream(self.local, destination, service)
        return stream

    def stream_send(self, stream: StreamId, data: bytes, now: float) -> int:
        entry = self.net.streams.get(stream)
        if entry is None or self.local in entry.closed_by:
            raise StateError(f"stream {stream} is closed or unknown")
        taken = data if self.net.window is None else data[: self.net.window]
        self.net.queue.append((stream, self.local, bytes(taken)))
        return len(taken)

    def stream_close(self, stream: StreamId, now: float) -> None:
        entry = self.net.streams.get(stream)
        if entry is None:
            raise StateError("unknown stream")
        entry.closed_by.add(self.local)
        self.net.queue.append((stream, self.local, None))

    def stream_reset(self, stream: StreamId, now: float, error_code: int = 0) -> None:
        entry = self.net.streams.pop(stream, None)
        if entry is None:
            raise StateError("unknown stream")
        other = entry.peer if self.local == entry.opener else entry.opener
        self.net.resets.append((other, stream))


class StreamNet:
    def __init__(self, *, window: int | None = None) -> None:
        self.members: dict[NodeId, MessagingService] = {}
        self.streams: dict[StreamId, _Stream] = {}
        self.queue: list[tuple[StreamId, NodeId, bytes | None]] = []
        self.resets: list[tuple[NodeId, StreamId]] = []
        self.down: set[frozenset[NodeId]] = set()
        self.offline: set[NodeId] = set()
        self.next_id = 0
        self.window = window
        self.events: dict[NodeId, list[MessagingEvent]] = {}

    def reachable(self, a: NodeId, b: NodeId) -> bool:
        return frozenset((a, b)) not in self.down and b not in self.offline

    def add(
        self,
        seed: int,
        *,
        store: MessageStore | None = None,
        config: MessagingConfig | None = None,
        identity: Identity | None = None,
    ) -> MessagingService:
        identity = identity or Identity.generate(SeededEntropy(seed, "identity"), created=0)
        service = MessagingService(
            identity=identity,
            verifier=VERIFIER,
            store=store if store is not None else MemoryMessageStore(),
            transport=Port(self, identity.node_id),
            entropy=SeededEntropy(seed, f"run/{len(self.members)}"),
            config=config,
        )
        self.members[identity.node_id] = service
        self.events.setdefault(identity.node_id, [])
        self.offline.discard(identity.node_id)
        return service

    def deliver(self, now: float) -> int:
        """Carry every queued write and reset; return how many items moved."""
        moved = 0
        while self.queue or self.resets:
            queue, self.queue = self.queue, []
            resets, self.resets = self.resets, []
            for member, stream in resets:
                moved += 1
                service = self.members.get(member)
                if service is not None and member not in self.offline and service.owns(stream):
                    service.stream_reset(stream, now)
            for stream, writer, data in queue:
                entry = self.streams.get(stream)
                if entry is None:
                    continue
                reader = entry.peer if writer == entry.opener else entry.opener
                if not self.reachable(writer, reader):
                    continue
                service = self.members[reader]
                moved += 1
                if not entry.announced:
                    entry.announced = True
                    if not service.stream_opened(stream, writer, entry.service):
                        continue
                if data is None:
                    service.stream_finished(stream, now)
                else:
                    service.stream_data(stream, data, now)
        self.collect()
        return moved

    def collect(self) -> None:
        for node, service in self.members.items():
            while (event := service.next_event()) is not None:
                self.events[node].append(event)

    def cut(self, a: NodeId, b: NodeId, now: float) -> None:
        """The session between ``a`` and ``b`` ends: both lose every stream between them."""
        for stream, entry in list(self.streams.items()):
            if {entry.opener, entry.peer} == {a, b}:
                del self.streams[stream]
        self.queue = [q for q in self.queue if q[0] in self.streams]
        for node, other in ((a, b), (b, a)):
            if node not in self.offline:
                self.members[node].session_ended(other, now)
        self.collect()

    def crash(self, node: NodeId, now: float) -> None:
        """``node`` stops: its streams die and its object is forgotten (its store stays)."""
        self.offline.add(node)
        for other in list(self.members):
            if other != node:
                self.cut(node, other, now)

    def run(self, until: float, start: float, step: float = 0.5) -> float:
        """Fire timers and deliver every ``step`` seconds from ``start`` to ``until``."""
        now = start
        for _ in range(int((until - start) / step) + 1):
            for node, service in self.members.items():
                if node in self.offline:
                    continue
                timer = service.get_timer()
                if timer is not None and timer <= now:
                    service.handle_timer(now)
            self.deliver(now)
            now += step
        return now

    def received(self, node: NodeId) -> list[MessageReceived]:
        return [e for e in self.events[node] if isinstance(e, MessageReceived)]

    def delivered(self, node: NodeId) -> list[MessageId]:
        return [e.id for e in self.events[node] if isinstance(e, MessageDelivered)]
