"""``Headroom``: a packet in a buffer with free room in front, for the headers below it.

A session seals a 64 KiB packet; the router puts its routed header in front of it; the
link layer puts its inner type in front of that and seals the whole again. Joining
each header to the packet copies the packet into a fresh buffer at every layer (and a
fresh 64 KiB object costs page faults besides the copy). Instead the session seals
straight into a buffer with ``PACKET_ROOM`` free bytes in front, and each layer below
writes its header into that room (``prepend``): the packet is never copied between
the layers.

Ownership: a ``Headroom`` belongs to whoever holds it; a layer that passes one on does
not touch it again (the layer below may write into the room). ``view()`` is the packet
as it stands.

``PACKET_ROOM`` is what every layer below a session may need: a routed header (at
most 68 + 32 x 8 = 324 bytes, routing.md §4) and the link's inner type. A layer that
finds too little room joins as before (``prepend`` returns False), so the room is a
saving, never a limit.
"""

from __future__ import annotations

__all__ = ["PACKET_ROOM", "Headroom", "Outgoing"]

PACKET_ROOM = 352
"""Bytes left free in front of a session packet (routed header, link inner type)."""


class Headroom:
    """The packet ``buffer[start:]``; ``buffer[:start]`` is free for headers.

    Args:
        buffer: the buffer, owned by this object from now on.
        start: where the packet begins.
    """

    __slots__ = ("buffer", "start")

    def __init__(self, buffer: bytearray, start: int) -> None:
        if not 0 <= start <= len(buffer):
            raise ValueError(f"start {start} outside a buffer of {len(buffer)} bytes")
        self.buffer = buffer
        self.start = start

    @classmethod
    def allocate(cls, size: int, room: int = PACKET_ROOM) -> Headroom:
        """A zero-filled packet of ``size`` bytes with ``room`` free bytes in front."""
        return cls(bytearray(room + size), room)

    @property
    def room(self) -> int:
        """Free bytes in front of the packet."""
        return self.start

    def __len__(self) -> int:
        return len(self.buffer) - self.start

    def view(self) -> memoryview:
        """The packet (a writable view of the buffer)."""
        return memoryview(self.buffer)[self.start :]

    def prepend(self, header: bytes) -> bool:
        """Put ``header`` in front of the packet; False (and no change) without room."""
        size = len(header)
        start = self.start - size
        if start < 0:
            return False
        self.buffer[start : self.start] = header  # the same length: never a resize
        self.start = start
        return True

    def __bytes__(self) -> bytes:
        return bytes(self.view())

    def __repr__(self) -> str:
        return f"Headroom({len(self)} bytes, room {self.start})"


Outgoing = bytes | Headroom
"""A packet on its way down the layers: ``bytes``, or a ``Headroom`` whose room the
layer below may write its header into."""
