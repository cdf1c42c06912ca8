"""Length-prefixed frames over byte streams (TCP): ``encode_frame`` and ``StreamDeframer``.

A stream transport carries link frames as records: a 4-byte big-endian length, then
that many bytes (DESIGN.md §3, Links). Datagram transports need none of this: one
datagram is one frame. The runtime deframes *before* handing bytes to a core, so cores
only ever see whole frames (STYLE.md Part B §2).

Theory of operation of ``StreamDeframer.feed``:

1. If a partial frame is buffered, complete its 4-byte header from the new data and
   check the length against ``max_frame`` at once: a hostile length (up to 2^32-1) is
   refused before a single byte of it is buffered.
2. Complete the buffered frame's body from the new data; emit it if whole.
3. Cut every complete frame straight out of the new data through a ``memoryview``
   (one copy per frame, into the ``bytes`` handed out).
4. Buffer the incomplete tail, checking its header if it has one.

Each input byte is copied at most twice (into the buffer, out as a frame), so feeding
a stream in any chunking costs linear time, and memory stays bounded by
``max_frame + 4`` plus the caller's chunk. After a ``DecodeError`` the stream is out of
sync for good: every later ``feed`` raises too, and the transport should be closed.
"""

from __future__ import annotations

from meshnet.errors import DecodeError

__all__ = ["FRAME_HEADER_SIZE", "MAX_FRAME_SIZE", "StreamDeframer", "encode_frame"]

FRAME_HEADER_SIZE = 4
MAX_FRAME_SIZE = (1 << 32) - 1
"""The largest length a 4-byte prefix can state; ``max_frame`` must not exceed it."""


def encode_frame(payload: bytes) -> bytes:
    """``payload`` with its 4-byte big-endian length prefix.

    Raises:
        ValueError: ``payload`` is longer than a 4-byte length can state.
    """
    if len(payload) > MAX_FRAME_SIZE:
        raise ValueError(f"frame of {len(payload)} bytes is too long for a 4-byte length")
    return len(payload).to_bytes(FRAME_HEADER_SIZE, "big") + payload


class StreamDeframer:
    """Reassembles length-prefixed frames from stream chunks of any size.

    Args:
        max_frame: the largest payload accepted, in bytes (at most 2^32-1).
    """

    __slots__ = ("_buffer", "_failed", "_max_frame", "_pending")

    def __init__(self, max_frame: int) -> None:
        if not 0 <= max_frame <= MAX_FRAME_SIZE:
            raise ValueError(f"max_frame must be between 0 and {MAX_FRAME_SIZE}")
        self._max_frame = max_frame
        self._buffer = bytearray()
        self._pending = -1  # total size (header + payload) of the buffered frame, once known
        self._failed: str | None = None

    @property
    def max_frame(self) -> int:
        """The largest payload accepted."""
        return self._max_frame

    @property
    def buffered(self) -> int:
        """Bytes held for a frame that is not complete yet."""
        return len(self._buffer)

    def _frame_size(self, header: bytes | bytearray | memoryview) -> int:
        length = int.from_bytes(header, "big")
        if length > self._max_frame:
            self._failed = f"frame length {length} over the limit of {self._max_frame}"
            self._buffer = bytearray()
            raise DecodeError(self._failed)
        return FRAME_HEADER_SIZE + length

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add stream bytes; return the frames (payloads only) they complete, in order.

        Raises:
            DecodeError: a frame states a length over ``max_frame`` (now or earlier).
        """
        if self._failed is not None:
            raise DecodeError(f"stream already failed: {self._failed}")
        frames: list[bytes] = []
        with memoryview(data) as outer:
            view = outer.cast("B") if outer.format != "B" or outer.ndim != 1 else outer
            start = self._finish_buffered(view, frames) if self._buffer else 0
            self._split(view, start, frames)
        return frames

    def _finish_buffered(self, view: memoryview, frames: list[bytes]) -> int:
        """Steps 1-2: complete the buffered frame from ``view``; return bytes consumed."""
        buffer = self._buffer
        used = 0
        if self._pending < 0:
            used = min(FRAME_HEADER_SIZE - len(buffer), len(view))
            buffer += view[:used]
            if len(buffer) < FRAME_HEADER_SIZE:
                return used
            self._pending = self._frame_size(buffer)
        take = min(self._pending - len(buffer), len(view) - used)
        buffer += view[used : used + take]
        used += take
        if len(buffer) == self._pending:
            with memoryview(buffer) as whole:
                frames.append(bytes(whole[FRAME_HEADER_SIZE:]))
            self._buffer = bytearray()
            self._pending = -1
        return used

    def _split(self, view: memoryview, pos: int, frames: list[bytes]) -> None:
        """Steps 3-4: emit whole frames from ``view[pos:]`` and buffer the tail."""
        if self._buffer:  # the buffered frame is still incomplete: all input was used
            return
        end = len(view)
        while end - pos >= FRAME_HEADER_SIZE:
            size = self._frame_size(view[pos : pos + FRAME_HEADER_SIZE])
            if end - pos < size:
                self._pending = size
                break
            frames.append(bytes(view[pos + FRAME_HEADER_SIZE : pos + size]))
            pos += size
        if pos < end:
            self._buffer += view[pos:]
