"""Reading TCP link frames without copying them: one shared read buffer, frames cut in place.

A ``TcpConnection`` is an ``asyncio.BufferedProtocol``: the event loop reads straight
into a buffer the protocol hands it (``get_buffer``) and then says how many bytes came
(``buffer_updated``). Every connection of a driver reads into the same ``ReadBuffer``
(reads run one at a time on the loop, and each is consumed before the next begins), so
an idle connection holds no buffer at all, and no read allocates one.

``FrameReader.cut`` cuts the length-prefixed frames (``wire/framing.py``'s format: a
4-byte big-endian length, then the frame) out of one read:

1. A frame left incomplete by earlier reads is completed from the new bytes first (it
   lives in the connection's own ``bytearray``, the only bytes a connection keeps).
2. Every whole frame inside the read is handed out as a ``memoryview`` of the shared
   buffer: no copy. Such a view is valid only until the next read into the buffer, so
   the caller hands it to the node at once (the link layer decrypts out of it and
   keeps nothing of it) and copies what it must keep.
3. An incomplete tail is copied into the connection's ``bytearray``, its length checked
   first: a length over ``max_frame`` (up to 2^32-1) is refused before a byte of it is
   buffered, and after that refusal the stream is out of sync for good.

Memory per connection: at most ``max_frame + 4`` bytes of one incomplete frame.
"""

from __future__ import annotations

from meshnet.errors import DecodeError
from meshnet.wire.framing import FRAME_HEADER_SIZE, MAX_FRAME_SIZE

__all__ = ["READ_BUFFER_SIZE", "FrameReader", "ReadBuffer"]

READ_BUFFER_SIZE = 256 * 1024
"""Bytes asked of the kernel per read (asyncio's own default for stream transports)."""

Frame = bytes | memoryview


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


class FrameReader:
    """Cuts length-prefixed frames out of successive reads of one stream.

    Args:
        max_frame: the largest frame accepted, in bytes (at most 2^32-1).
    """

    __slots__ = ("_failed", "_max_frame", "_need", "_partial")

    def __init__(self, max_frame: int) -> None:
        if not 0 <= max_frame <= MAX_FRAME_SIZE:
            raise ValueError(f"max_frame must be between 0 and {MAX_FRAME_SIZE}")
        self._max_frame = max_frame
        self._partial = bytearray()  # an incomplete frame, header included
        self._need = -1  # its total size (header + frame), once its header is whole
        self._failed: str | None = None

    @property
    def max_frame(self) -> int:
        return self._max_frame

    @property
    def buffered(self) -> int:
        """Bytes held for a frame that is not complete yet."""
        return len(self._partial)

    def _size(self, header: memoryview | bytearray) -> int:
        length = int.from_bytes(header, "big")
        if length > self._max_frame:
            self._failed = f"frame length {length} over the limit of {self._max_frame}"
            self._partial = bytearray()
            raise DecodeError(self._failed)
        return FRAME_HEADER_SIZE + length

    def cut(self, view: memoryview) -> list[Frame]:
        """The frames the bytes of ``view`` complete, in order (views into ``view``, and a
        frame completed from earlier reads as a view of its own buffer).

        Raises:
            DecodeError: a frame states a length over ``max_frame`` (now or earlier).
        """
        if self._failed is not None:
            raise DecodeError(f"stream already failed: {self._failed}")
        frames: list[Frame] = []
        end = len(view)
        pos = self._complete(view, frames) if self._partial else 0
        if self._partial:  # still incomplete: every byte of the read went into it
            return frames
        while end - pos >= FRAME_HEADER_SIZE:
            size = self._size(view[pos : pos + FRAME_HEADER_SIZE])
            if end - pos < size:
                self._need = size
                break
            frames.append(view[pos + FRAME_HEADER_SIZE : pos + size])
            pos += size
        if pos < end:
            self._partial += view[pos:]
        return frames

    def _complete(self, view: memoryview, frames: list[Frame]) -> int:
        """Step 1: add ``view``'s bytes to the incomplete frame; return how many it took."""
        partial = self._partial
        used = 0
        if self._need < 0:
            used = min(FRAME_HEADER_SIZE - len(partial), len(view))
            partial += view[:used]
            if len(partial) < FRAME_HEADER_SIZE:
                return used
            self._need = self._size(partial)
        take = min(self._need - len(partial), len(view) - used)
        partial += view[used : used + take]
        used += take
        if len(partial) == self._need:
            frames.append(memoryview(partial)[FRAME_HEADER_SIZE:])  # it owns the bytearray
            self._partial = bytearray()
            self._need = -1
        return used
