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

Lifetime: a frame is handed out by ``datagrams_to_send`` like any other, and nobody
gives it back. ``take`` reuses a buffer of its bounded pool (at most ``POOL`` buffers,
``wire/bufferpool.py``) only when nothing but the pool refers to it any more, so
whatever a carrier does with a frame is safe: asyncio on Python 3.11 copies what the
socket did not take, 3.12+ keeps a view of it (the buffer stays taken until the
transport has sent and dropped it), the simulator queues the frame itself.

Opening: a stream link opens a large frame with ``TransportCipher.decrypt_into`` into
one reused *opening* buffer (``opened``). A DATA payload whose first byte the manager's
owner declared ``lent`` (``LinkManager.lend_payloads``: the node, for neighbour
payloads, which it copies into the application's ``bytes`` at once) goes up as a view
of that buffer, valid until the next frame; any other payload is copied out first (one
copy, where ``decrypt`` allocated and zero-filled a fresh object).

Datagram links do not use this: their large frames are split into fragments anyway.
"""

from __future__ import annotations

from meshnet.wire.bufferpool import BufferPool
from meshnet.wire.framing import FRAME_HEADER_SIZE, Frame

__all__ = [
    "HEADROOM",
    "POOL",
    "POOLED_MIN",
    "FrameBuffer",
    "Payload",
    "SealBuffers",
    "stream_record",
]

HEADROOM = FRAME_HEADER_SIZE
"""Bytes kept free before a frame in its ``FrameBuffer``: a stream carrier's prefix."""
POOLED_MIN = 4096
"""Payloads smaller than this are sealed into fresh ``bytes`` (small objects are cheap)."""
POOL = 4
"""Frame buffers kept for reuse, at most (per link manager, made at the first large frame)."""

Payload = bytes | bytearray | memoryview
"""What a link sends for the layers above (read once, while it is sealed)."""


class FrameBuffer(bytearray):
    """A buffer holding one sealed frame at offset ``HEADROOM`` (the type marks that
    layout for ``stream_record``)."""

    __slots__ = ()


class SealBuffers:
    """The reused plaintext and opening buffers and the frame buffer pool of one link
    manager."""

    __slots__ = ("_opened", "_plain", "_pool", "lent")

    def __init__(self) -> None:
        self._plain = bytearray()
        self._opened = bytearray()
        self._pool = BufferPool(POOL, FrameBuffer)
        self.lent: frozenset[int] = frozenset()
        """First payload bytes of the DATA payloads handed up as views of the reused
        opening buffer (``LinkManager.lend_payloads``)."""

    @property
    def pooled(self) -> int:
        """Frame buffers in the pool (free or taken)."""
        return len(self._pool)

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
        """``size`` writable bytes for a frame: a view after the headroom of a pooled
        buffer large enough that nothing else refers to, or of a new one."""
        need = HEADROOM + size
        return memoryview(self._pool.take(need, exact=False))[HEADROOM:need]


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
