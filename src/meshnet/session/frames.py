"""Session frames: the plaintext of a sealed DATA packet, and their codec.

A DATA packet's plaintext is a packet number (varint) followed by one or more frames,
each starting with its ``SessionFrame`` type byte (docs/protocol/session.md §4)::

    PING             -
    ACK              largest | delay (microseconds) | range count | first range |
                     (gap | range length) * count                      (RFC 9000 §19.3)
    STREAM           flags (FIN 0x01, SERVICE 0x02) | stream id | offset | [service] |
                     length | data
    DATAGRAM         length | data
    MAX_DATA         maximum
    MAX_STREAM_DATA  stream id | maximum
    MAX_STREAMS      maximum
    RESET_STREAM     stream id | error code | final size
    STOP_SENDING     stream id | error code
    CLOSE            reason | text (blob, UTF-8, <= 200 bytes)
    REKEY            step (u8, 1 or 2) | sender index (u32) | receiver index (u32, 0 in
                     step 1) | fragment (u8) | count (u8) | chunk (blob)

Every number not marked otherwise is a varint (``wire/buffer.py``). Decoding enforces the
limits below and raises ``DecodeError``, so a peer's bytes never raise anything else.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from meshnet.errors import DecodeError
from meshnet.wire.buffer import Reader, Writer, varint_size
from meshnet.wire.codes import SessionFrame

__all__ = [
    "MAX_ACK_RANGES",
    "MAX_CLOSE_TEXT",
    "MAX_FRAME_DATA",
    "MAX_OFFSET",
    "MAX_PATH_ROOM",
    "MAX_REKEY_FRAGMENTS",
    "MIN_STREAM_HEADER",
    "Ack",
    "Close",
    "CloseReason",
    "Datagram",
    "Frame",
    "FrameType",
    "MaxData",
    "MaxStreamData",
    "MaxStreams",
    "PathRoom",
    "Ping",
    "Rekey",
    "ResetStream",
    "StopSending",
    "Stream",
    "StreamErrorCode",
    "decode_frames",
    "encode_frame",
    "stream_header_size",
]

FrameType = SessionFrame

MAX_FRAME_DATA = 65536
"""The most data bytes one STREAM or DATAGRAM frame carries."""
MAX_OFFSET = (1 << 62) - 1
"""Stream offsets, flow-control limits and stream ids stay below this (QUIC's 2^62)."""
MAX_ACK_RANGES = 256
"""The most ranges one ACK frame may carry."""
MAX_CLOSE_TEXT = 200
"""Bytes of reason text in a CLOSE frame."""
MAX_PATH_ROOM = 65535
"""The largest path room a PATH_ROOM frame reports."""
MAX_REKEY_FRAGMENTS = 16
"""The most fragments one rekey handshake message is cut into."""

_FIN, _SERVICE = 0x01, 0x02
_REKEY = struct.Struct(">BBIIBB")
_PING = bytes([FrameType.PING])


class CloseReason(enum.IntEnum):
    """Why a session closed; sent in CLOSE frames and reported in ``SessionClosed``."""

    NORMAL = 0
    IDLE_TIMEOUT = 1
    HANDSHAKE_TIMEOUT = 2
    HANDSHAKE_FAILED = 3
    NO_IDENTITY_RECORD = 4
    PROTOCOL_ERROR = 5
    REPLACED = 6  # a newer session with the same peer took over
    KEYS_EXPIRED = 7
    OVERLOADED = 8  # evicted to make room for another session
    SHUTDOWN = 9


class StreamErrorCode(enum.IntEnum):
    """Error codes the session layer itself puts in RESET_STREAM and STOP_SENDING.

    Applications choose their own codes below ``0x3F00``; these sit above them.
    """

    NO_ERROR = 0
    REFUSED = 0x3F00  # the peer has too many streams open
    SESSION_CLOSED = 0x3F01  # the session ended before the stream did


@dataclass(frozen=True, slots=True)
class Ping:
    """Asks the peer for an acknowledgement."""


@dataclass(frozen=True, slots=True)
class Ack:
    ranges: tuple[tuple[int, int], ...]
    """Received packet numbers as inclusive ``(low, high)`` ranges, highest first, with at
    least one missing number between two ranges."""
    delay: int
    """Microseconds between receiving the largest packet and sending this frame."""

    @property
    def largest(self) -> int:
        """The highest packet number the frame acknowledges."""
        return self.ranges[0][1]


@dataclass(frozen=True, slots=True)
class Stream:
    stream_id: int
    offset: int
    data: bytes
    fin: bool = False
    service: int | None = None
    """The stream's service number; carried by every frame at offset 0."""


@dataclass(frozen=True, slots=True)
class Datagram:
    payload: bytes


@dataclass(frozen=True, slots=True)
class MaxData:
    maximum: int


@dataclass(frozen=True, slots=True)
class MaxStreamData:
    stream_id: int
    maximum: int


@dataclass(frozen=True, slots=True)
class MaxStreams:
    maximum: int


@dataclass(frozen=True, slots=True)
class ResetStream:
    stream_id: int
    error_code: int
    final_size: int


@dataclass(frozen=True, slots=True)
class StopSending:
    stream_id: int
    error_code: int


@dataclass(frozen=True, slots=True)
class PathRoom:
    """The largest packet the path from the frame's receiver to its sender carries
    whole (every link a stream link), or 0; sent with ACKs, never acknowledged."""

    room: int


@dataclass(frozen=True, slots=True)
class Close:
    reason: int
    text: str = ""


@dataclass(frozen=True, slots=True)
class Rekey:
    step: int
    """1: the rekey initiator's message; 2: the responder's answer."""
    sender_index: int
    """The sender's index for the new key epoch."""
    receiver_index: int
    """Step 2: the rekey initiator's index this answers; step 1: 0."""
    fragment: int
    count: int
    chunk: bytes


Frame = (
    Ping
    | Ack
    | Stream
    | Datagram
    | MaxData
    | MaxStreamData
    | MaxStreams
    | ResetStream
    | StopSending
    | Close
    | Rekey
    | PathRoom
)


MIN_STREAM_HEADER = 5
"""The smallest STREAM frame header: type, flags, then one byte each for the stream id,
offset and length (``stream_header_size``'s least)."""


def stream_header_size(stream_id: int, offset: int, length: int, service: int | None) -> int:
    """Bytes a STREAM frame spends before its data."""
    size = 2 + varint_size(stream_id) + varint_size(offset) + varint_size(length)
    return size + varint_size(service) if service is not None else size


def encode_stream_header(
    out: Writer, stream_id: int, offset: int, length: int, *, fin: bool, service: int | None
) -> None:
    """Append a STREAM frame up to its data (``length`` bytes of which must follow)."""
    flags = (_FIN if fin else 0) | (_SERVICE if service is not None else 0)
    out.u8(FrameType.STREAM).u8(flags).varint(stream_id).varint(offset)
    if service is not None:
        out.varint(service)
    out.varint(length)


def _encode_ack(frame: Ack, out: Writer) -> None:
    ranges = frame.ranges
    high, low = ranges[0][1], ranges[0][0]
    out.u8(FrameType.ACK).varint(high).varint(frame.delay).varint(len(ranges) - 1)
    out.varint(high - low)
    for next_low, next_high in ranges[1:]:
        out.varint(low - next_high - 2).varint(next_high - next_low)
        low = next_low


def encode_frame(frame: Frame, out: Writer) -> None:
    """Append ``frame``'s encoding to ``out``.

    Raises:
        ValueError: a field is out of range (a caller's mistake, never peer input).
    """
    if isinstance(frame, Stream):
        data = frame.data
        encode_stream_header(
            out, frame.stream_id, frame.offset, len(data), fin=frame.fin, service=frame.service
        )
        out.raw(data)
    elif isinstance(frame, Ack):
        _encode_ack(frame, out)
    elif isinstance(frame, Ping):
        out.raw(_PING)
    elif isinstance(frame, Datagram):
        out.u8(FrameType.DATAGRAM).blob(frame.payload)
    elif isinstance(frame, MaxData):
        out.u8(FrameType.MAX_DATA).varint(frame.maximum)
    elif isinstance(frame, MaxStreamData):
        out.u8(FrameType.MAX_STREAM_DATA).varint(frame.stream_id).varint(frame.maximum)
    elif isinstance(frame, MaxStreams):
        out.u8(FrameType.MAX_STREAMS).varint(frame.maximum)
    elif isinstance(frame, ResetStream):
        out.u8(FrameType.RESET_STREAM).varint(frame.stream_id)
        out.varint(frame.error_code).varint(frame.final_size)
    elif isinstance(frame, StopSending):
        out.u8(FrameType.STOP_SENDING).varint(frame.stream_id).varint(frame.error_code)
    elif isinstance(frame, PathRoom):
        out.u8(FrameType.PATH_ROOM).varint(frame.room)
    elif isinstance(frame, Close):
        text = frame.text.encode("utf-8")[:MAX_CLOSE_TEXT]
        out.u8(FrameType.CLOSE).varint(frame.reason).blob(text)
    else:
        out.raw(
            _REKEY.pack(
                FrameType.REKEY,
                frame.step,
                frame.sender_index,
                frame.receiver_index,
                frame.fragment,
                frame.count,
            )
        )
        out.blob(frame.chunk)


def _decode_ack(reader: Reader) -> Ack:
    high = reader.varint(MAX_OFFSET)
    delay = reader.varint()
    count = reader.varint(MAX_ACK_RANGES - 1)
    first = reader.varint(high)
    low = high - first
    ranges = [(low, high)]
    for _ in range(count):
        gap = reader.varint()
        high = low - gap - 2
        length = reader.varint()
        low = high - length
        if low < 0:
            raise DecodeError("ACK range below packet number 0")
        ranges.append((low, high))
    return Ack(tuple(ranges), delay)


def _decode_stream(reader: Reader) -> Stream:
    flags = reader.u8()
    if flags & ~(_FIN | _SERVICE):
        raise DecodeError(f"unknown STREAM flags {flags:#x}")
    stream_id = reader.varint(MAX_OFFSET)
    offset = reader.varint(MAX_OFFSET)
    service = reader.varint() if flags & _SERVICE else None
    data = reader.blob(MAX_FRAME_DATA)
    if offset + len(data) > MAX_OFFSET:
        raise DecodeError("STREAM frame ends beyond the largest offset")
    if service is not None and offset != 0:
        raise DecodeError("a service number rides only at offset 0")
    return Stream(stream_id, offset, data, bool(flags & _FIN), service)


def _decode_rekey(reader: Reader) -> Rekey:
    step, sender, receiver = reader.u8(), reader.u32(), reader.u32()
    fragment, count = reader.u8(), reader.u8()
    if step not in (1, 2):
        raise DecodeError(f"rekey step {step} does not exist")
    if not 0 < count <= MAX_REKEY_FRAGMENTS or fragment >= count:
        raise DecodeError(f"rekey fragment {fragment} of {count}")
    return Rekey(step, sender, receiver, fragment, count, reader.blob(MAX_FRAME_DATA))


def _decode_one(kind: int, reader: Reader) -> Frame:
    if kind == FrameType.STREAM:
        return _decode_stream(reader)
    if kind == FrameType.ACK:
        return _decode_ack(reader)
    if kind == FrameType.PING:
        return Ping()
    if kind == FrameType.DATAGRAM:
        return Datagram(reader.blob(MAX_FRAME_DATA))
    if kind == FrameType.MAX_DATA:
        return MaxData(reader.varint(MAX_OFFSET))
    if kind == FrameType.MAX_STREAM_DATA:
        return MaxStreamData(reader.varint(MAX_OFFSET), reader.varint(MAX_OFFSET))
    if kind == FrameType.MAX_STREAMS:
        return MaxStreams(reader.varint(MAX_OFFSET))
    if kind == FrameType.RESET_STREAM:
        return ResetStream(reader.varint(MAX_OFFSET), reader.varint(), reader.varint(MAX_OFFSET))
    if kind == FrameType.STOP_SENDING:
        return StopSending(reader.varint(MAX_OFFSET), reader.varint())
    if kind == FrameType.CLOSE:
        reason = reader.varint()
        return Close(reason, reader.blob(MAX_CLOSE_TEXT).decode("utf-8", errors="replace"))
    if kind == FrameType.REKEY:
        return _decode_rekey(reader)
    if kind == FrameType.PATH_ROOM:
        return PathRoom(reader.varint(MAX_PATH_ROOM))
    raise DecodeError(f"unknown session frame type {kind:#x}")


def decode_frames(reader: Reader) -> list[Frame]:
    """Decode every frame left in ``reader`` (at least one).

    Raises:
        DecodeError: no frame, an unknown type, a truncated frame or a field over a limit.
    """
    if not reader.remaining:
        raise DecodeError("a packet without frames")
    frames: list[Frame] = []
    while reader.remaining:
        frames.append(_decode_one(reader.u8(), reader))
    return frames
