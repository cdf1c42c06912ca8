"""Length-prefixed frames over byte streams (TCP): ``encode_frame``, ``FrameReader`` and
``StreamDeframer``.

A stream transport carries link frames as records: a 4-byte big-endian length, then
that many bytes (DESIGN.md §3, Links). Datagram transports need none of this: one
datagram is one frame. The runtime deframes *before* handing bytes to a core, so cores
only ever see whole frames (STYLE.md Part B §2).

Theory of operation of ``FrameReader.cut``:

1. If a partial frame is held, complete its 4-byte header from the new bytes and check
   the length against ``max_frame`` at once: a hostile length (up to 2^32-1) is refused
   before a single byte of it is buffered. Then complete its body; hand it out if whole
   (as a view of the reader's frame buffer, valid until the next call).
2. Cut every complete frame straight out of the new bytes as a ``memoryview``: no copy.
   Such a view is valid as long as the bytes passed in are (the TCP carrier's shared
   read buffer: until the next read).
3. Copy the incomplete tail into the reader's frame buffer, checking its header if it
   has one. The frame buffer is allocated at the frame's full size once its length is
   known and reused for the next incomplete frame (two of them alternate, so the frame
   handed out in step 1 stays valid while the tail is held), and let go of when the
   stream pauses on a frame boundary.

A reader may also take the rest of an incomplete frame straight from the socket:
``space(minimum)`` is the missing part of the frame buffer (when at least ``minimum``
bytes are missing), ``filled(n)`` says ``n`` bytes were read into it and hands out the
frame once whole. The TCP carrier reads a large frame's rest this way, uncopied.

``StreamDeframer.feed`` is the same for callers that keep their frames: each comes out
as ``bytes`` (one copy). Each input byte is copied at most twice, so feeding a stream in
any chunking costs linear time, and memory stays bounded by two frame buffers of
``max_frame + 4`` plus the caller's chunk. After a ``DecodeError`` the stream is out of
sync for good: every later call raises too, and the transport should be closed.
"""

from __future__ import annotations

from typing import ClassVar

from meshnet.errors import DecodeError

__all__ = [
    "FRAME_HEADER_SIZE",
    "MAX_FRAME_SIZE",
    "Frame",
    "FrameReader",
    "StreamDeframer",
    "encode_frame",
]

FRAME_HEADER_SIZE = 4
MAX_FRAME_SIZE = (1 << 32) - 1
"""The largest length a 4-byte prefix can state; ``max_frame`` must not exceed it."""

Frame = bytes | memoryview


def encode_frame(payload: bytes) -> bytes:
    """``payload`` with its 4-byte big-endian length prefix.

    Raises:
        ValueError: ``payload`` is longer than a 4-byte length can state.
    """
    if len(payload) > MAX_FRAME_SIZE:
        raise ValueError(f"frame of {len(payload)} bytes is too long for a 4-byte length")
    return len(payload).to_bytes(FRAME_HEADER_SIZE, "big") + payload


class FrameReader:
    """Cuts length-prefixed frames out of successive reads of one stream.

    Args:
        max_frame: the largest frame accepted, in bytes (at most 2^32-1).
    """

    __slots__ = ("_buffer", "_failed", "_have", "_max_frame", "_need", "_spare")
    _COPY: ClassVar[bool] = False
    """Hand frames out as ``bytes`` copies (``StreamDeframer``) rather than views."""

    def __init__(self, max_frame: int) -> None:
        if not 0 <= max_frame <= MAX_FRAME_SIZE:
            raise ValueError(f"max_frame must be between 0 and {MAX_FRAME_SIZE}")
        self._max_frame = max_frame
        self._buffer = bytearray()  # an incomplete frame, header included, in [:_have]
        self._spare = bytearray()  # the other buffer: a frame completed in it is in use
        self._have = 0
        self._need = -1  # its total size (header + frame), once its header is whole
        self._failed: str | None = None

    @property
    def max_frame(self) -> int:
        return self._max_frame

    @property
    def buffered(self) -> int:
        """Bytes held for a frame that is not complete yet."""
        return self._have

    def _size(self, header: memoryview | bytearray) -> int:
        length = int.from_bytes(header, "big")
        if length > self._max_frame:
            self._failed = f"frame length {length} over the limit of {self._max_frame}"
            self._buffer, self._have = bytearray(), 0
            raise DecodeError(self._failed)
        return FRAME_HEADER_SIZE + length

    def _hold(self, data: memoryview, need: int, *, swap: bool) -> None:
        """Start an incomplete frame with ``data`` (its first bytes; ``need`` its total
        size, or -1 while its header is incomplete) in the frame buffer; in the other
        one (``swap``) when a frame handed out by this call lives in the current one."""
        if swap:
            self._buffer, self._spare = self._spare, self._buffer
        room = max(need, FRAME_HEADER_SIZE)
        if len(self._buffer) < room:
            self._buffer = bytearray(room)
        self._buffer[: len(data)] = data
        self._have, self._need = len(data), need

    def cut(self, view: memoryview) -> list[Frame]:
        """The frames the bytes of ``view`` complete, in order (views into ``view``, and a
        frame completed from earlier reads as a view of the frame buffer: valid until
        the next call).

        Raises:
            DecodeError: a frame states a length over ``max_frame`` (now or earlier).
        """
        if self._failed is not None:
            raise DecodeError(f"stream already failed: {self._failed}")
        frames: list[Frame] = []
        end = len(view)
        pos = self._complete(view, frames) if self._have else 0
        if self._have:  # still incomplete: every byte of the read went into it
            return frames
        swap = bool(frames)  # the first frame is a view of the frame buffer
        limit = self._max_frame
        while end - pos >= FRAME_HEADER_SIZE:
            size = FRAME_HEADER_SIZE + int.from_bytes(view[pos : pos + FRAME_HEADER_SIZE], "big")
            if size - FRAME_HEADER_SIZE > limit:  # refused by ``_size``, which says why
                self._size(view[pos : pos + FRAME_HEADER_SIZE])
            if end - pos < size:
                self._hold(view[pos:], size, swap=swap)
                return frames
            frame = view[pos + FRAME_HEADER_SIZE : pos + size]
            frames.append(bytes(frame) if self._COPY else frame)
            pos += size
        if pos < end:
            self._hold(view[pos:], -1, swap=swap)
        elif not swap:
            self._buffer = self._spare = bytearray()  # paused at a frame boundary: let go
        return frames

    def trim(self) -> None:
        """Let go of the frame buffers unless a frame is incomplete (an idle stream)."""
        if not self._have:
            self._buffer = self._spare = bytearray()

    def space(self, minimum: int) -> memoryview | None:
        """Where the rest of the incomplete frame can be read straight into (the frame
        buffer), if its header is whole and at least ``minimum`` bytes are missing."""
        need = self._need
        if need < 0 or need - self._have < minimum:
            return None
        return memoryview(self._buffer)[self._have : need]

    def filled(self, nbytes: int) -> list[Frame]:
        """``nbytes`` were read into ``space()``: the frame, once it is complete."""
        self._have += nbytes
        if self._have < self._need:
            return []
        return [self._whole()]

    def _whole(self) -> Frame:
        whole = memoryview(self._buffer)[FRAME_HEADER_SIZE : self._need]
        self._have, self._need = 0, -1
        return bytes(whole) if self._COPY else whole

    def _complete(self, view: memoryview, frames: list[Frame]) -> int:
        """Step 1: add ``view``'s bytes to the incomplete frame; return how many it took."""
        have = self._have
        used = 0
        if self._need < 0:
            used = min(FRAME_HEADER_SIZE - have, len(view))
            self._buffer[have : have + used] = view[:used]
            have += used
            self._have = have
            if have < FRAME_HEADER_SIZE:
                return used
            need = self._size(self._buffer[:FRAME_HEADER_SIZE])
            if len(self._buffer) < need:
                grown = bytearray(need)
                grown[:have] = self._buffer[:have]
                self._buffer = grown
            self._need = need
        take = min(self._need - have, len(view) - used)
        self._buffer[have : have + take] = view[used : used + take]
        self._have = have + take
        used += take
        if self._have == self._need:
            frames.append(self._whole())
        return used


class StreamDeframer(FrameReader):
    """``FrameReader`` for callers that keep what they get: every frame as ``bytes``.

    Args:
        max_frame: the largest payload accepted, in bytes (at most 2^32-1).
    """

    __slots__ = ()
    _COPY: ClassVar[bool] = True

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add stream bytes; return the frames (payloads only) they complete, in order.

        Raises:
            DecodeError: a frame states a length over ``max_frame`` (now or earlier).
        """
        with memoryview(data) as outer:
            view = outer.cast("B") if outer.format != "B" or outer.ndim != 1 else outer
            return self.cut(view)  # type: ignore[return-value]  # _COPY: all bytes
