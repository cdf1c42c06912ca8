"""``FairQueue``: one neighbour link's data queue, fair between neighbours and sources.

A relay forwards for everyone, so one busy (or hostile) source must not take a link
from the others (docs/protocol/routing.md §4.3). The source node id in a routed header
is only the previous relay's word, though: a hostile relay could spread its packets over
made-up sources and win more turns. So fairness has two levels:

1. between the *neighbours the packets came from* (``via``: the peer the link layer
   proved; our own id for packets we send), so a neighbour gets at most its share of
   the link however many sources it claims;
2. within one neighbour's share, between the *sources* it carries.

Both levels are deficit round robin (Shreedhar & Varghese, SIGCOMM 1995): each lane, on
its turn, earns ``quantum`` bytes of credit and sends packets while its credit covers
them, so every backlogged lane gets an equal share of bytes whatever its packet sizes.

The queue is bounded in packets and in bytes. When a packet does not fit, packets are
dropped from the tail of the *longest* source queue of the *longest* neighbour lane
(longest-queue drop) until it does; on a tie the newcomer's own lane is the one that
loses. A neighbour or source sending faster than its share therefore loses its own
packets, not others'.
"""

from __future__ import annotations

from collections import deque

from meshnet.crypto.identity import NodeId
from meshnet.wire.headroom import Outgoing

__all__ = ["FairQueue"]


class _Fifo:
    """One source's packets, oldest first, with its byte count and DRR credit. Sizes
    are kept beside the packets: ``len`` of a ``Headroom`` is a Python call, and each
    packet would otherwise be measured at every level on the way in and out."""

    __slots__ = ("bytes", "deficit", "packets", "sizes", "taken")

    def __init__(self) -> None:
        self.packets: deque[Outgoing] = deque()
        self.sizes: deque[int] = deque()
        self.bytes = 0
        self.deficit = 0
        self.taken = 0  # the size of the packet ``take`` returned last

    def __bool__(self) -> bool:
        return bool(self.packets)

    def push(self, key: bytes | None, packet: Outgoing, inner: bytes | None, size: int) -> None:
        self.packets.append(packet)
        self.sizes.append(size)
        self.bytes += size

    def head(self) -> int:
        return self.sizes[0]

    def take(self) -> Outgoing:
        self.taken = size = self.sizes.popleft()
        self.bytes -= size
        return self.packets.popleft()

    pop = take  # alone or not, a FIFO has one order

    def drop_tail(self, newcomer: tuple[bytes, ...]) -> int:
        self.packets.pop()
        size = self.sizes.pop()
        self.bytes -= size
        return size


class _Lanes:
    """Deficit round robin over lanes keyed by a node id's bytes; a lane is a ``_Fifo``
    or, one level up, another ``_Lanes``. Counts the packets and bytes of everything
    below, and has its own DRR credit when it is a lane itself."""

    __slots__ = (
        "_active",
        "_lanes",
        "_nested",
        "_quantum",
        "_spare",
        "_turn_started",
        "bytes",
        "deficit",
        "taken",
    )

    def __init__(self, quantum: int, *, nested: bool) -> None:
        self._quantum = quantum
        self._nested = nested
        self._lanes: dict[bytes, _Fifo | _Lanes] = {}
        self._active: deque[bytes] = deque()  # the round; every lane in it has packets
        self._turn_started = False
        self._spare: _Fifo | _Lanes | None = None  # the last lane that emptied, for reuse
        self.bytes = 0
        self.deficit = 0
        self.taken = 0  # the size of the packet ``pop`` or ``take`` returned last

    def __bool__(self) -> bool:
        return bool(self._lanes)

    def __len__(self) -> int:
        return len(self._lanes)

    def push(self, key: bytes | None, packet: Outgoing, inner: bytes | None, size: int) -> None:
        """Queue ``packet`` (``size`` bytes) in ``key``'s lane (in its ``inner`` lane one
        level down); a new lane joins the round last."""
        assert key is not None
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._spare
            if lane is None:
                lane = _Lanes(self._quantum, nested=False) if self._nested else _Fifo()
            else:
                self._spare = None
            self._lanes[key] = lane
            self._active.append(key)
        lane.push(inner, packet, None, size)
        self.bytes += size

    def pop(self) -> Outgoing | None:
        """The next packet by deficit round robin, or None when empty."""
        active = self._active
        if len(active) == 1:  # alone (see ``head``): no round to run
            key = active[0]
            lane = self._lanes[key]
            packet = lane.pop()
            assert packet is not None  # a lane in the round is never empty
            self.taken = size = lane.taken
            self._took(key, lane, size)
            return packet
        return self.take() if self.head() >= 0 else None

    def head(self) -> int:
        """The size of the packet ``take`` returns next (-1: empty). Advances the round
        to the lane whose credit covers its head packet, earning credit on the way.

        A lane alone in the round sends without spending credit: with nobody to share
        with, credit means nothing (it stays 0 and the lane's turn unstarted, so a lane
        that joins starts a fair round with it). This keeps the common case, one source
        through one neighbour, cheap on the relay's hot path.
        """
        active = self._active
        lanes = self._lanes
        if len(active) == 1:
            return lanes[active[0]].head()
        while active:
            lane = lanes[active[0]]
            if not self._turn_started:
                lane.deficit += self._quantum
                self._turn_started = True
            size = lane.head()
            if size <= lane.deficit:
                return size
            active.rotate(-1)
            self._turn_started = False
        return -1

    def take(self) -> Outgoing:
        """The packet ``head`` sized (call ``head`` first; the queue is not empty)."""
        key = self._active[0]
        lane = self._lanes[key]
        packet = lane.take()
        self.taken = size = lane.taken
        if len(self._active) > 1:
            lane.deficit -= size
        self._took(key, lane, size)
        return packet

    def drop_tail(self, newcomer: tuple[bytes, ...]) -> int:
        """Drop the newest packet of the longest lane (by bytes; on a tie the lane of
        ``newcomer[0]`` loses), and so on one level down with ``newcomer[1:]``; returns
        the size dropped."""
        lanes = self._lanes
        mine = newcomer[0]
        key = max(lanes, key=lambda k: (lanes[k].bytes, k == mine, k))
        lane = lanes[key]
        size = lane.drop_tail(newcomer[1:])
        self._took(key, lane, size)
        return size

    def _took(self, key: bytes, lane: _Fifo | _Lanes, size: int) -> None:
        self.bytes -= size
        if lane:
            return
        del self._lanes[key]
        # Reused by the next lane that opens: on a relay each packet usually leaves
        # before the next arrives, which would otherwise build and drop a lane (two
        # levels of them) per packet. An empty lane holds nothing but its credit.
        lane.deficit = 0
        if isinstance(lane, _Lanes):
            lane._turn_started = False
        self._spare = lane
        active = self._active
        if active[0] == key:
            active.popleft()
            self._turn_started = False
        else:
            active.remove(key)
        if len(active) == 1:  # alone now: it starts afresh when another lane joins
            self._lanes[active[0]].deficit = 0
            self._turn_started = False


class FairQueue:
    """Per-neighbour, then per-source FIFOs served by deficit round robin, with
    longest-queue drop.

    Args:
        max_packets: most packets held.
        max_bytes: most bytes held.
        quantum: bytes of credit a lane earns per turn, at both levels.
    """

    __slots__ = ("_max_bytes", "_max_packets", "_packets", "_quantum", "_vias")

    def __init__(self, *, max_packets: int, max_bytes: int, quantum: int) -> None:
        self._max_packets = max_packets
        self._max_bytes = max_bytes
        self._quantum = quantum
        self._vias = _Lanes(quantum, nested=True)
        self._packets = 0

    def __len__(self) -> int:
        return self._packets

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._vias.bytes

    def push(self, via: NodeId, source: NodeId, packet: Outgoing) -> int:
        """Queue ``packet`` from ``source``, received from neighbour ``via`` (our own id
        for packets we send).

        Returns:
            How many packets were dropped to respect the bounds (the newcomer included,
            if it was the one dropped); 0 when everything fits.
        """
        vias = self._vias
        vias.push(via.raw, packet, source.raw, len(packet))
        self._packets += 1
        dropped = 0
        while self._packets > self._max_packets or vias.bytes > self._max_bytes:
            vias.drop_tail((via.raw, source.raw))
            self._packets -= 1
            dropped += 1
        return dropped

    def pop(self) -> Outgoing | None:
        """The next packet by deficit round robin, or None when empty."""
        packet = self._vias.pop()
        if packet is not None:
            self._packets -= 1
        return packet

    def clear(self) -> int:
        """Drop everything; returns how many packets were held."""
        dropped = self._packets
        self._vias = _Lanes(self._quantum, nested=True)
        self._packets = 0
        return dropped

    def neighbours(self) -> int:
        """How many neighbours (``via``) have packets waiting."""
        return len(self._vias)
