"""Link frames: the outer frames a transport carries and the inner frames they seal.

Outer frames (one per datagram, or one per length-prefixed record on a stream)::

    HANDSHAKE_INIT      type | sender index (u32)                       | Noise message 1
    HANDSHAKE_RESPONSE  type | sender index (u32) | receiver index (u32) | Noise message 2
    HANDSHAKE_FINISH    type | receiver index (u32)                      | Noise message 3
    TRANSPORT           type | receiver index (u32) | counter (u64)      | AEAD ciphertext
    FRAGMENT            type | frame id (u32) | index (u8) | count (u8)  | chunk

The receiver index names the receiving side's key epoch (WireGuard's index), so a
frame is matched to its link without trusting the address it came from: that is what
lets a link roam to a new address. The TRANSPORT header is the AEAD's associated data.

Inner frames (the plaintext of a TRANSPORT frame) start with one type byte:
``DATA`` (payload for the layers above), ``KEEPALIVE``, ``PROBE``/``PROBE_ECHO`` (a probe
id; the prober times the round trip), ``PROBE_WITH_ECHOES`` (a probe that carries the
echoes of the neighbour's probes with how long each was held, instead of PROBE_ECHO
frames), ``CLOSE`` (reason code and text) and ``REKEY`` (a step of the fresh handshake
that replaces the keys, carried inside the old keys).
See docs/protocol/link.md.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from meshnet.errors import DecodeError
from meshnet.wire.codes import LinkFrame, LinkInner

__all__ = [
    "FRAGMENT_HEADER",
    "FINISH_HEADER",
    "INIT_HEADER",
    "CAPABILITY_PROBE_ECHOES",
    "MAX_CLOSE_TEXT",
    "MAX_ECHOES",
    "MAX_HELD_US",
    "MAX_PROBE_INTERVAL_MS",
    "MAX_HANDSHAKE_MESSAGE",
    "RESPONSE_HEADER",
    "TRANSPORT_HEADER",
    "Close",
    "CloseReason",
    "Data",
    "FrameType",
    "InnerFrame",
    "InnerType",
    "KeepAlive",
    "Probe",
    "ProbeEcho",
    "ProbeWithEchoes",
    "Rekey",
    "decode_inner",
    "encode_inner",
]

FrameType = LinkFrame
InnerType = LinkInner

INIT_HEADER = struct.Struct(">BI")
RESPONSE_HEADER = struct.Struct(">BII")
FINISH_HEADER = struct.Struct(">BI")
TRANSPORT_HEADER = struct.Struct(">BIQ")
FRAGMENT_HEADER = struct.Struct(">BIBB")
_PROBE = struct.Struct(">BI")
_REKEY = struct.Struct(">BBI")
_PROBE_WITH_ECHOES = struct.Struct(">BIBIB")  # type, id, flags, interval ms, echo count
_ECHO = struct.Struct(">II")  # the echoed probe's id, microseconds it was held

MAX_HANDSHAKE_MESSAGE = 65535  # Noise spec §3: no message is longer
MAX_CLOSE_TEXT = 200
MAX_ECHOES = 8
"""Echoes one PROBE_WITH_ECHOES carries at most (the sender probes early rather than hold more)."""
MAX_HELD_US = 2**32 - 1
"""A hold time is sent in microseconds as a u32 (about 71 minutes), clamped to this."""
MAX_PROBE_INTERVAL_MS = 2**32 - 1
CAPABILITY_PROBE_ECHOES = 1 << 0
"""Handshake capability bit: this end sends and understands PROBE_WITH_ECHOES (link.md §3)."""
PROBE_ANSWER = 0x01
"""Flag of PROBE_WITH_ECHOES: the sender has no RTT sample yet; answer with a probe now."""


class CloseReason(enum.IntEnum):
    """Why a link closed; sent in CLOSE frames and reported in ``LinkClosed``."""

    NORMAL = 0
    SHUTDOWN = 1
    PEER_TIMEOUT = 2
    HANDSHAKE_TIMEOUT = 3
    HANDSHAKE_FAILED = 4
    PEER_MISMATCH = 5
    PROTOCOL_ERROR = 6
    AUTHENTICATION_FAILED = 7
    REPLACED = 8  # a newer link to the same peer took over
    TRANSPORT_LOST = 9
    OVERLOADED = 10


@dataclass(frozen=True, slots=True)
class Data:
    payload: bytes


@dataclass(frozen=True, slots=True)
class KeepAlive:
    pass


@dataclass(frozen=True, slots=True)
class Probe:
    probe_id: int


@dataclass(frozen=True, slots=True)
class ProbeEcho:
    probe_id: int


@dataclass(frozen=True, slots=True)
class ProbeWithEchoes:
    """A probe that also answers the neighbour's probes (Babel's RTT extension, RFC 9616).

    ``echoes`` are (the neighbour's probe id, microseconds we held it before this probe
    went out): the neighbour's RTT sample is its time since sending minus the hold.
    """

    probe_id: int
    interval_ms: int  # how often the sender probes: how long an echo may take to come
    answer: bool  # the sender has no RTT sample yet: probe back now
    echoes: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Close:
    reason: CloseReason
    text: str = ""


@dataclass(frozen=True, slots=True)
class Rekey:
    step: int  # 1, 2 or 3: which handshake message this is
    sender_index: int  # the sender's index for the new key epoch (0 in step 3)
    message: bytes


InnerFrame = Data | KeepAlive | Probe | ProbeEcho | ProbeWithEchoes | Close | Rekey

_KEEPALIVE = bytes([InnerType.KEEPALIVE])


def encode_inner(frame: InnerFrame) -> bytes:
    """Serialize an inner frame (the plaintext of a TRANSPORT frame)."""
    if isinstance(frame, Data):
        return bytes([InnerType.DATA]) + frame.payload
    if isinstance(frame, KeepAlive):
        return _KEEPALIVE
    if isinstance(frame, Probe):
        return _PROBE.pack(InnerType.PROBE, frame.probe_id)
    if isinstance(frame, ProbeEcho):
        return _PROBE.pack(InnerType.PROBE_ECHO, frame.probe_id)
    if isinstance(frame, ProbeWithEchoes):
        head = _PROBE_WITH_ECHOES.pack(
            InnerType.PROBE_WITH_ECHOES,
            frame.probe_id,
            PROBE_ANSWER if frame.answer else 0,
            frame.interval_ms,
            len(frame.echoes),
        )
        return head + b"".join(_ECHO.pack(probe_id, held) for probe_id, held in frame.echoes)
    if isinstance(frame, Close):
        text = frame.text.encode()[:MAX_CLOSE_TEXT]
        return bytes([InnerType.CLOSE, frame.reason]) + text
    return _REKEY.pack(InnerType.REKEY, frame.step, frame.sender_index) + frame.message


def decode_inner(plaintext: bytes) -> InnerFrame:
    """Parse an inner frame.

    Raises:
        DecodeError: unknown type, wrong size, or a field out of range.
    """
    if not plaintext:
        raise DecodeError("empty inner frame")
    kind = plaintext[0]
    if kind == InnerType.DATA:
        return Data(plaintext[1:])
    if kind == InnerType.KEEPALIVE:
        if len(plaintext) != 1:
            raise DecodeError("keepalive with a body")
        return KeepAlive()
    if kind in (InnerType.PROBE, InnerType.PROBE_ECHO):
        if len(plaintext) != _PROBE.size:
            raise DecodeError("probe of the wrong size")
        probe_id = _PROBE.unpack(plaintext)[1]
        return Probe(probe_id) if kind == InnerType.PROBE else ProbeEcho(probe_id)
    if kind == InnerType.PROBE_WITH_ECHOES:
        return _decode_probe_with_echoes(plaintext)
    if kind == InnerType.CLOSE:
        if len(plaintext) < 2 or len(plaintext) > 2 + MAX_CLOSE_TEXT:
            raise DecodeError("close frame of the wrong size")
        try:
            reason = CloseReason(plaintext[1])
        except ValueError:
            reason = CloseReason.PROTOCOL_ERROR
        return Close(reason, plaintext[2:].decode("utf-8", errors="replace"))
    if kind == InnerType.REKEY:
        if len(plaintext) < _REKEY.size or len(plaintext) > _REKEY.size + MAX_HANDSHAKE_MESSAGE:
            raise DecodeError("rekey frame of the wrong size")
        _, step, sender = _REKEY.unpack_from(plaintext)
        if step not in (1, 2, 3):
            raise DecodeError(f"rekey step {step} does not exist")
        return Rekey(step, sender, plaintext[_REKEY.size :])
    raise DecodeError(f"unknown inner frame type {kind:#x}")


def _decode_probe_with_echoes(plaintext: bytes) -> ProbeWithEchoes:
    if len(plaintext) < _PROBE_WITH_ECHOES.size:
        raise DecodeError("probe with echoes shorter than its header")
    _, probe_id, flags, interval_ms, count = _PROBE_WITH_ECHOES.unpack_from(plaintext)
    if count > MAX_ECHOES:
        raise DecodeError(f"probe with {count} echoes, over the limit of {MAX_ECHOES}")
    if len(plaintext) != _PROBE_WITH_ECHOES.size + count * _ECHO.size:
        raise DecodeError("probe with echoes of the wrong size")
    if flags & ~PROBE_ANSWER:
        raise DecodeError(f"probe with unknown flags {flags:#x}")
    echoes = tuple(
        _ECHO.unpack_from(plaintext, _PROBE_WITH_ECHOES.size + i * _ECHO.size) for i in range(count)
    )
    return ProbeWithEchoes(probe_id, interval_ms, bool(flags & PROBE_ANSWER), echoes)
