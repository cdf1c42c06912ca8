"""``PendingPackets``: packets a source holds briefly while it has no path to their destination.

Right after start-up, or after a partition heals, a destination may be missing from the
link-state database for a moment. Rather than fail the first packet, the source keeps
it up to ``pending_timeout`` (3 s) and sends it as soon as a path appears
(docs/protocol/routing.md §4.5). The area is bounded in packets and bytes over all
destinations; what does not fit, or waits too long, is reported as unreachable.
"""

from __future__ import annotations

from collections import deque

from meshnet.crypto.identity import NodeId
from meshnet.deadlines import DeadlineHeap
from meshnet.wire.headroom import Outgoing

__all__ = ["PendingPackets"]


class PendingPackets:
    """Payloads waiting for a path, by destination, each with a deadline.

    Args:
        timeout: how long a payload may wait.
        max_packets: most payloads held.
        max_bytes: most payload bytes held.
    """

    __slots__ = (
        "_bytes",
        "_count",
        "_deadlines",
        "_max_bytes",
        "_max_packets",
        "_queues",
        "_timeout",
    )

    def __init__(self, *, timeout: float, max_packets: int, max_bytes: int) -> None:
        self._timeout = timeout
        self._max_packets = max_packets
        self._max_bytes = max_bytes
        self._queues: dict[NodeId, deque[tuple[float, Outgoing]]] = {}
        self._deadlines: DeadlineHeap[NodeId] = DeadlineHeap()
        self._count = 0
        self._bytes = 0

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def hold(self, destination: NodeId, payload: Outgoing, now: float) -> bool:
        """Keep ``payload`` for ``destination``; False when there is no room."""
        if self._count >= self._max_packets or self._bytes + len(payload) > self._max_bytes:
            return False
        queue = self._queues.get(destination)
        if queue is None:
            queue = self._queues[destination] = deque()
            self._deadlines.set(destination, now + self._timeout)
        queue.append((now + self._timeout, payload))
        self._count += 1
        self._bytes += len(payload)
        return True

    def destinations(self) -> list[NodeId]:
        """Destinations with payloads waiting, ascending."""
        return sorted(self._queues)

    def take(self, destination: NodeId) -> list[Outgoing]:
        """Remove and return every payload waiting for ``destination``, oldest first."""
        queue = self._queues.pop(destination, None)
        if queue is None:
            return []
        self._deadlines.set(destination, None)
        self._count -= len(queue)
        self._bytes -= sum(len(payload) for _, payload in queue)
        return [payload for _, payload in queue]

    def next_deadline(self) -> float | None:
        """When the oldest payload runs out of time."""
        return self._deadlines.earliest()

    def expire(self, now: float) -> list[tuple[NodeId, int]]:
        """Drop payloads past their deadline; returns (destination, how many) pairs."""
        dropped: list[tuple[NodeId, int]] = []
        for destination in self._deadlines.pop_due(now):
            queue = self._queues[destination]
            count = 0
            while queue and queue[0][0] <= now:
                _, payload = queue.popleft()
                self._count -= 1
                self._bytes -= len(payload)
                count += 1
            if queue:
                self._deadlines.set(destination, queue[0][0])
            else:
                del self._queues[destination]
            dropped.append((destination, count))
        return dropped
