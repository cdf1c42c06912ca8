"""Splitting link frames to fit a datagram transport's MTU, and putting them back.

A datagram transport (UDP, a LoRa modem, a simulated link) carries one frame per
datagram, sized to avoid IP fragmentation. A frame larger than the transport's MTU
(a hybrid handshake message is about 1.3 KB; a 64 KiB payload is far more) is cut into
``FRAGMENT`` frames::

    0x05 | frame id (u32) | index (u8) | count (u8) | chunk

Fragments travel outside encryption (the frame they rebuild is itself authenticated, or
is a handshake message that authenticates itself), so reassembly must hold up against a
peer sending garbage: it keeps at most ``max_pending`` partial frames of at most
``max_frame`` bytes each per transport, drops the oldest when full, and forgets any
partial frame older than ``timeout`` seconds. Every drop is counted by reason.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from meshnet.errors import DecodeError
from meshnet.link.messages import FRAGMENT_HEADER, FrameType
from meshnet.wire.framing import Frame

__all__ = ["MAX_FRAGMENTS", "Reassembler", "split_frame"]

MAX_FRAGMENTS = 255


def split_frame(frame: Frame, *, mtu: int, frame_id: int) -> list[Frame]:
    """Cut ``frame`` into fragment frames of at most ``mtu`` bytes (or return it whole).

    Raises:
        ValueError: the frame needs more than ``MAX_FRAGMENTS`` pieces at this MTU.
    """
    if len(frame) <= mtu:
        return [frame]
    room = mtu - FRAGMENT_HEADER.size
    count = -(-len(frame) // room)
    if count > MAX_FRAGMENTS or room <= 0:
        raise ValueError(f"frame of {len(frame)} bytes does not fit {MAX_FRAGMENTS} fragments")
    fid = frame_id & 0xFFFFFFFF
    view = memoryview(frame)
    return [
        FRAGMENT_HEADER.pack(FrameType.FRAGMENT, fid, i, count) + view[i * room : (i + 1) * room]
        for i in range(count)
    ]


@dataclass(slots=True)
class _Partial:
    count: int
    started: float
    chunks: dict[int, bytes] = field(default_factory=dict)
    size: int = 0


class Reassembler:
    """Bounded reassembly of fragment frames arriving on one transport.

    Args:
        max_frame: the largest frame that may be rebuilt, in bytes.
        max_pending: how many partial frames may be held at once.
        timeout: seconds after which an incomplete frame is forgotten.
    """

    def __init__(self, *, max_frame: int, max_pending: int = 8, timeout: float = 5.0) -> None:
        self._max_frame = max_frame
        self._max_pending = max_pending
        self._timeout = timeout
        self._partials: OrderedDict[int, _Partial] = OrderedDict()
        self.drops: dict[str, int] = {}

    def _drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def receive(self, data: bytes, now: float) -> bytes | None:
        """Feed one FRAGMENT frame; return the rebuilt frame when the last piece arrives.

        Raises:
            DecodeError: the fragment header is malformed.
        """
        if len(data) < FRAGMENT_HEADER.size:
            raise DecodeError("fragment shorter than its header")
        _, fid, index, count = FRAGMENT_HEADER.unpack_from(data)
        if count < 2 or index >= count:
            raise DecodeError(f"fragment index {index} of {count} is invalid")
        self.expire(now)
        partial = self._partials.get(fid)
        if partial is None:
            if len(self._partials) >= self._max_pending:
                self._partials.popitem(last=False)
                self._drop("reassembly_full")
            partial = self._partials[fid] = _Partial(count=count, started=now)
        elif partial.count != count:
            del self._partials[fid]
            raise DecodeError("fragments of one frame disagree on the count")
        chunk = data[FRAGMENT_HEADER.size :]
        if index in partial.chunks:
            self._drop("duplicate_fragment")
            return None
        partial.size += len(chunk)
        if partial.size > self._max_frame:
            del self._partials[fid]
            raise DecodeError(f"reassembled frame over {self._max_frame} bytes")
        partial.chunks[index] = chunk
        if len(partial.chunks) < partial.count:
            return None
        del self._partials[fid]
        return b"".join(partial.chunks[i] for i in range(partial.count))

    def expire(self, now: float) -> None:
        """Forget partial frames older than the timeout."""
        while self._partials:
            fid, oldest = next(iter(self._partials.items()))
            if oldest.started + self._timeout > now:  # as next_deadline() computes it
                break
            del self._partials[fid]
            self._drop("reassembly_timeout")

    def next_deadline(self) -> float | None:
        """When the oldest partial frame times out, or None when nothing is pending."""
        if not self._partials:
            return None
        return next(iter(self._partials.values())).started + self._timeout

    @property
    def pending(self) -> int:
        return len(self._partials)
