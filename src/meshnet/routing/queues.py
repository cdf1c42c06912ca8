"""``FairQueue``: one neighbour link's data queue, fair between sources.

A relay forwards for everyone, so one busy (or hostile) source must not take a link
from the others (docs/protocol/routing.md §4.4). Packets wait in one FIFO per source
node id; ``pop`` serves the sources by deficit round robin (Shreedhar & Varghese,
SIGCOMM 1995): each source, on its turn, earns ``quantum`` bytes of credit and sends
packets while its credit covers them, so every backlogged source gets an equal share of
bytes whatever its packet sizes.

The queue is bounded in packets and in bytes. When a packet does not fit, packets are
dropped from the tail of the *longest* source queue (longest-queue drop) until it
does; if the newcomer's own source is the longest (or ties for it), the newcomer is
what goes. A source sending faster than its share therefore loses its own packets, not
others'.
"""

from __future__ import annotations

from collections import deque

from meshnet.crypto.identity import NodeId

__all__ = ["FairQueue"]


class FairQueue:
    """Per-source FIFOs served by deficit round robin, with longest-queue drop.

    Args:
        max_packets: most packets held.
        max_bytes: most bytes held.
        quantum: bytes of credit a source earns per turn.
    """

    __slots__ = (
        "_active",
        "_bytes",
        "_deficit",
        "_max_bytes",
        "_max_packets",
        "_packets",
        "_quantum",
        "_queues",
        "_sizes",
        "_turn_started",
    )

    def __init__(self, *, max_packets: int, max_bytes: int, quantum: int) -> None:
        self._max_packets = max_packets
        self._max_bytes = max_bytes
        self._quantum = quantum
        self._queues: dict[NodeId, deque[bytes]] = {}
        self._sizes: dict[NodeId, int] = {}
        self._deficit: dict[NodeId, int] = {}
        self._active: deque[NodeId] = deque()
        self._turn_started = False
        self._packets = 0
        self._bytes = 0

    def __len__(self) -> int:
        return self._packets

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._bytes

    def push(self, source: NodeId, packet: bytes) -> int:
        """Queue ``packet`` from ``source``.

        Returns:
            How many packets were dropped to respect the bounds (the newcomer included,
            if it was the one dropped); 0 when everything fits.
        """
        queue = self._queues.get(source)
        if queue is None:
            queue = self._queues[source] = deque()
            self._sizes[source] = 0
            self._deficit[source] = 0
            self._active.append(source)
        queue.append(packet)
        self._sizes[source] += len(packet)
        self._packets += 1
        self._bytes += len(packet)
        dropped = 0
        while self._packets > self._max_packets or self._bytes > self._max_bytes:
            longest = max(self._sizes, key=lambda s: (self._sizes[s], s == source, s.raw))
            self._drop_tail(longest)
            dropped += 1
        return dropped

    def _drop_tail(self, source: NodeId) -> None:
        queue = self._queues[source]
        packet = queue.pop()
        self._sizes[source] -= len(packet)
        self._packets -= 1
        self._bytes -= len(packet)
        if not queue:
            self._forget(source)

    def _forget(self, source: NodeId) -> None:
        del self._queues[source]
        del self._sizes[source]
        del self._deficit[source]
        if self._active and self._active[0] == source:
            self._active.popleft()
            self._turn_started = False
        else:
            self._active.remove(source)

    def pop(self) -> bytes | None:
        """The next packet by deficit round robin, or None when empty."""
        while self._active:
            source = self._active[0]
            if not self._turn_started:
                self._deficit[source] += self._quantum
                self._turn_started = True
            queue = self._queues[source]
            size = len(queue[0])
            if size > self._deficit[source] and len(self._active) == 1:
                # alone, it would take turn after turn earning a quantum each time: give
                # it those turns at once (a 64 KiB packet is 44 turns of 1500 bytes)
                need = size - self._deficit[source]
                self._deficit[source] += -(-need // self._quantum) * self._quantum
            if size <= self._deficit[source]:
                packet = queue.popleft()
                self._deficit[source] -= size
                self._sizes[source] -= size
                self._packets -= 1
                self._bytes -= size
                if not queue:
                    self._forget(source)
                return packet
            self._active.rotate(-1)
            self._turn_started = False
        return None

    def clear(self) -> int:
        """Drop everything; returns how many packets were held."""
        dropped = self._packets
        self._queues.clear()
        self._sizes.clear()
        self._deficit.clear()
        self._active.clear()
        self._turn_started = False
        self._packets = 0
        self._bytes = 0
        return dropped

    def sources(self) -> int:
        """How many sources have packets waiting."""
        return len(self._queues)
