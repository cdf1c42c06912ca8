"""Reading TCP link frames without copying them: one shared read buffer, frames cut in place.

A ``TcpConnection`` is an ``asyncio.BufferedProtocol``: the event loop reads straight
into a buffer the protocol hands it (``get_buffer``) and then says how many bytes came
(``buffer_updated``). Every connection of a driver reads into the same ``ReadBuffer``
(reads run one at a time on the loop, and each is consumed before the next begins), so
an idle connection holds no buffer at all, and no read allocates one.

``FrameReader.cut`` (``wire/framing.py``) cuts the length-prefixed frames (a 4-byte
big-endian length, then the frame) out of one read:

1. A frame left incomplete by earlier reads is completed from the new bytes first (it
   lives in the reader's frame buffer, the only bytes a connection keeps).
2. Every whole frame inside the read is handed out as a ``memoryview`` of the shared
   buffer: no copy. Such a view is valid only until the next read into the buffer, so
   the caller hands it to the node at once (the link layer decrypts out of it and
   keeps nothing of it) and copies what it must keep.
3. An incomplete tail is copied into the frame buffer, its length checked first: a
   length over ``max_frame`` (up to 2^32-1) is refused before a byte of it is
   buffered, and after that refusal the stream is out of sync for good.

When an incomplete frame still misses ``DIRECT_READ_MIN`` bytes or more (a 64 KiB frame
cut by the end of a read), the next read goes straight into the missing part of the
frame buffer (``FrameReader.space``/``filled``) instead of the shared buffer: the kernel
puts the rest of the frame in its place, and it is not copied again.

Memory per connection: while frames arrive, at most two frame buffers of
``max_frame + 4`` bytes (reused frame after frame); none once the stream pauses on a
frame boundary or stays silent for a housekeeping interval (``TcpConnection.trim``).
"""

from __future__ import annotations

from meshnet.wire.framing import FRAME_HEADER_SIZE

__all__ = ["DIRECT_READ_MIN", "READ_BUFFER_SIZE", "ReadBuffer"]

READ_BUFFER_SIZE = 256 * 1024
"""Bytes asked of the kernel per read (asyncio's own default for stream transports)."""
DIRECT_READ_MIN = 16 * 1024
"""A frame missing at least this many bytes is read straight into its own buffer."""


class ReadBuffer:
    """The buffer every TCP connection of one driver reads into, one read at a time.

    Args:
        size: bytes per read.
    """

    __slots__ = ("view",)

    def __init__(self, size: int = READ_BUFFER_SIZE) -> None:
        if size < FRAME_HEADER_SIZE:
            raise ValueError("a read buffer must hold at least a frame header")
        self.view = memoryview(bytearray(size))
