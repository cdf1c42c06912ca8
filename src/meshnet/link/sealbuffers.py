"""Memory for sealing and opening large frames, allocated once and reused: ``SealBuffers``.

A 64 KiB DATA frame used to be built from four fresh 64 KiB objects (the inner frame
``DATA + payload``, the ciphertext, ``header + ciphertext`` and the TCP carrier's
``length + frame``). Whether glibc serves such an object from its heap or from fresh
zeroed pages (page faults) depends on its dynamic mmap threshold, so the cost per frame
moved between runs. A stream link now seals a frame of at least ``POOLED_MIN`` bytes:

1. into one reused *plaintext* buffer, ``plaintext(prefix, payload)``: the inner frame
   is assembled there with one copy of the payload;
2. with ``TransportCipher.encrypt_into`` into a ``FrameBuffer`` from ``take(size)``::

       | headroom (4 bytes) | TRANSPORT header (13) | ciphertext + tag |
                            ^ the frame: a memoryview of this part

   The headroom is where a stream carrier puts the frame's 4-byte length prefix
   (``stream_record``): prefix and frame go out in one write, without a joined copy.

Lifetime: a frame is handed out by ``datagrams_to_send`` like any other, and its
buffer is reused only after its consumer gives it back (``give_back``, through
``Node.release_frames``), which says that nothing holds the frame any more. The TCP
carrier gives a frame back only when the transport kept none of it: asyncio on Python
3.12+ keeps a view of whatever it could not send at once (3.11 copies it), so a buffer
written while the socket was full is never reused; it is freed with its last reference.
A frame never given back (the simulator and tests give none back) is simply freed the
same way, so nothing can ever change under a holder. At most ``SPARES`` buffers wait.

Opening: a stream link opens a large frame with ``TransportCipher.decrypt_into`` into
one reused *opening* buffer (``opened``). A DATA payload whose first byte the manager's
owner declared ``lent`` (``LinkManager.lend_payloads``: the node, for neighbour
payloads, which it copies into the application's ``bytes`` at once) goes up as a view
of that buffer, valid until the next frame; any other payload is copied out first (one
copy, where ``decrypt`` allocated and zero-filled a fresh object).

Datagram links do not use this: their large frames are split into fragments anyway.
"""

from __future__ import annotations

from meshnet.wire.framing import FRAME_HEADER_SIZE, Frame

__all__ = [
    "HEADROOM",
    "POOLED_MIN",
    "SPARES",
    "FrameBuffer",
    "Payload",
    "SealBuffers",
    "stream_record",
]

HEADROOM = FRAME_HEADER_SIZE
"""Bytes kept free before a frame in its ``FrameBuffer``: a stream carrier's prefix."""
POOLED_MIN = 4096
"""Payloads smaller than this are sealed into fresh ``bytes`` (small objects are cheap)."""
SPARES = 4
"""Buffers given back and kept for reuse, at most."""

Payload = bytes | bytearray | memoryview
"""What a link sends for the layers above (read once, while it is sealed)."""


class FrameBuffer(bytearray):
    """A buffer holding one sealed frame at offset ``HEADROOM`` (the type marks that
    layout for ``stream_record``)."""

    __slots__ = ()


class SealBuffers:
    """The reused plaintext buffer and the spare frame buffers of one link manager."""

    __slots__ = ("_opened", "_plain", "_spares", "lent")

    def __init__(self) -> None:
        self._plain = bytearray()
        self._opened = bytearray()
        self._spares: list[FrameBuffer] = []
        self.lent: frozenset[int] = frozenset()
        """First payload bytes of the DATA payloads handed up as views of the reused
        opening buffer (``LinkManager.lend_payloads``)."""

    @property
    def spares(self) -> int:
        """Frame buffers waiting to be reused."""
        return len(self._spares)

    def plaintext(self, code: bytes, prefix: bytes, payload: Payload) -> memoryview:
        """``code + prefix + payload`` assembled in the reused plaintext buffer.

        The view is valid until the next call; it is sealed at once.
        """
        head = len(code) + len(prefix)
        size = head + len(payload)
        if len(self._plain) < size:
            self._plain = bytearray(size)  # grows to the largest frame sealed, once
        view = memoryview(self._plain)
        view[: len(code)] = code
        view[len(code) : head] = prefix
        view[head:size] = payload
        return view[:size]

    def opened(self, size: int) -> memoryview:
        """``size`` bytes of the reused opening buffer, for a large frame's plaintext.

        Valid until the next call: a payload in it is copied unless its code is ``lent``.
        """
        if len(self._opened) < size:
            self._opened = bytearray(size)
        return memoryview(self._opened)[:size]

    def take(self, size: int) -> memoryview:
        """``size`` writable bytes for a frame: a view after the headroom of a spare
        buffer large enough, or of a new one."""
        need = HEADROOM + size
        spares = self._spares
        while spares:
            buffer = spares.pop()
            if len(buffer) >= need:
                return memoryview(buffer)[HEADROOM:need]
        return memoryview(FrameBuffer(need))[HEADROOM:need]

    def give_back(self, frame: Frame) -> None:
        """Reuse ``frame``'s buffer, if it has one: nothing may hold the frame any more."""
        if type(frame) is memoryview:
            buffer = frame.obj
            spares = self._spares
            if (
                type(buffer) is FrameBuffer
                and len(spares) < SPARES
                and not any(spare is buffer for spare in spares)  # given back twice
            ):
                spares.append(buffer)


def stream_record(frame: Frame) -> memoryview | None:
    """``frame`` behind its 4-byte length prefix, written into the headroom before it,
    when it was sealed into a ``FrameBuffer``; None for any other frame."""
    if type(frame) is not memoryview:
        return None
    buffer = frame.obj
    if type(buffer) is not FrameBuffer:
        return None
    size = len(frame)
    record = memoryview(buffer)[: HEADROOM + size]
    record[:HEADROOM] = size.to_bytes(HEADROOM, "big")
    return record
