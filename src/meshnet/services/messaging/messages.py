"""Messaging frames: bytes <-> values (docs/protocol/messaging.md §2).

A messaging stream carries records, each a 4-byte big-endian length and that many bytes
(``wire.framing``); the first byte of a record is its ``MessagingFrame`` code. Every
decoder here has hard limits: a body is at most ``MAX_BODY`` bytes, a receipt frame
names at most ``MAX_IDS`` ids, and a record is at most ``MAX_RECORD`` bytes, so a
peer's bytes either parse exactly or raise ``DecodeError`` (never anything else).

The sender of a frame is never written in it: it is the session's authenticated peer.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshnet.crypto.identity import IDENTITY_RECORD_SIZE, IdentityRecord, NodeId
from meshnet.errors import DecodeError
from meshnet.ids import MessageId
from meshnet.wire.buffer import Reader, Writer
from meshnet.wire.codes import MessagingFrame
from meshnet.wire.framing import encode_frame

__all__ = [
    "EPOCH_SIZE",
    "MAX_BODY",
    "MAX_IDS",
    "MAX_MESSAGE",
    "MAX_RECORD",
    "MAX_SEALED",
    "MESSAGE_ID_SIZE",
    "SEAL_OVERHEAD",
    "Collect",
    "Deposit",
    "Floor",
    "Frame",
    "Mail",
    "MailboxNotice",
    "MessageFrame",
    "Receipt",
    "decode_frame",
    "encode_message",
    "encode_record",
]

MESSAGE_ID_SIZE = 16
EPOCH_SIZE = 8
MAX_BODY = 65536
"""The largest message body, in bytes (64 KiB)."""
MAX_IDS = 256
"""The most message ids one receipt frame may carry."""
_MAX_SEQ = (1 << 63) - 1
_MAX_MILLIS = (1 << 64) - 1
MAX_MESSAGE = 1 + MESSAGE_ID_SIZE + EPOCH_SIZE + 9 + 8 + 8 + 3 + MAX_BODY
"""The largest MESSAGE record (a full body)."""
SEAL_OVERHEAD = 32 + 32 + 64 + 16
"""Sealing adds an ephemeral key, the sender's NodeId, its signature and an AEAD tag."""
MAX_SEALED = SEAL_OVERHEAD + MAX_MESSAGE
"""The largest sealed message (``sealed.py``)."""
MAX_RECORD = 1 + 32 + MESSAGE_ID_SIZE + 3 + MAX_SEALED
"""The largest record a messaging stream may carry (a DEPOSIT of a full message)."""

_RECEIPTS = (
    MessagingFrame.ACK,
    MessagingFrame.READ,
    MessagingFrame.READ_ACK,
    MessagingFrame.DEPOSITED,
    MessagingFrame.RELEASE,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageFrame:
    """MESSAGE: ``id (16) | epoch (8) | seq (varint) | created_ms (u64) |
    expires_ms (u64) | body (varint length, <= 64 KiB)``."""

    id: MessageId
    epoch: bytes
    """The sender's conversation epoch: sequence numbers start again when it changes."""
    seq: int
    """The message's place in the sender's conversation with this receiver."""
    created: float
    """Unix seconds (carried in milliseconds)."""
    expires: float
    """Unix seconds after which the sender gives up (carried in milliseconds)."""
    body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """ACK, READ or READ_ACK: ``count (varint, 1..256) | ids (16 each)``."""

    kind: MessagingFrame
    ids: tuple[MessageId, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Floor:
    """FLOOR: ``epoch (8) | floor (varint)``: every seq below ``floor`` is settled."""

    epoch: bytes
    floor: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MailboxNotice:
    """MAILBOX: ``mailbox (32) | identity record (137)``.

    Sent to the mailbox itself it asks it to hold our mail; sent to anyone else it says
    where to leave mail for us, and with which key to seal it (the signed record).
    """

    mailbox: NodeId
    record: IdentityRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class Deposit:
    """DEPOSIT: ``recipient (32) | id (16) | sealed (varint length, bytes)``."""

    recipient: NodeId
    id: MessageId
    sealed: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Collect:
    """COLLECT: no fields."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Mail:
    """MAIL: ``id (16) | sealed (varint length, bytes)``."""

    id: MessageId
    sealed: bytes


Frame = MessageFrame | Receipt | Floor | MailboxNotice | Deposit | Collect | Mail


def _millis(seconds: float) -> int:
    return min(max(0, round(seconds * 1000)), _MAX_MILLIS)


def encode_message(frame: MessageFrame) -> bytes:
    """The MESSAGE record of ``frame`` without a length prefix (what sealing covers).

    Raises:
        ValueError: the id, epoch or body has the wrong size.
    """
    if len(frame.id) != MESSAGE_ID_SIZE or len(frame.epoch) != EPOCH_SIZE:
        raise ValueError("a message id is 16 bytes and an epoch 8")
    if len(frame.body) > MAX_BODY:
        raise ValueError(f"a message body is at most {MAX_BODY} bytes")
    out = Writer()
    out.u8(MessagingFrame.MESSAGE).raw(frame.id).raw(frame.epoch).varint(frame.seq)
    out.u64(_millis(frame.created)).u64(_millis(frame.expires)).blob(frame.body)
    return bytes(out)


def _check_id(message_id: bytes) -> None:
    if len(message_id) != MESSAGE_ID_SIZE:
        raise ValueError("a message id is 16 bytes")


def encode_record(frame: Frame) -> bytes:
    """``frame`` as one length-prefixed record for a messaging stream.

    Raises:
        ValueError: a field is out of range (a body over ``MAX_BODY``, no ids ...).
    """
    out = Writer()
    if isinstance(frame, MessageFrame):
        out.raw(encode_message(frame))
    elif isinstance(frame, MailboxNotice):
        out.u8(MessagingFrame.MAILBOX).raw(frame.mailbox.raw).raw(frame.record.encode())
    elif isinstance(frame, Deposit):
        _check_id(frame.id)
        if len(frame.sealed) > MAX_SEALED:
            raise ValueError(f"a sealed message is at most {MAX_SEALED} bytes")
        out.u8(MessagingFrame.DEPOSIT).raw(frame.recipient.raw).raw(frame.id).blob(frame.sealed)
    elif isinstance(frame, Collect):
        out.u8(MessagingFrame.COLLECT)
    elif isinstance(frame, Mail):
        _check_id(frame.id)
        if len(frame.sealed) > MAX_SEALED:
            raise ValueError(f"a sealed message is at most {MAX_SEALED} bytes")
        out.u8(MessagingFrame.MAIL).raw(frame.id).blob(frame.sealed)
    elif isinstance(frame, Receipt):
        if frame.kind not in _RECEIPTS or not 1 <= len(frame.ids) <= MAX_IDS:
            raise ValueError(f"a receipt carries 1 to {MAX_IDS} ids")
        out.u8(frame.kind).varint(len(frame.ids))
        for message_id in frame.ids:
            _check_id(message_id)
            out.raw(message_id)
    else:
        if len(frame.epoch) != EPOCH_SIZE:
            raise ValueError("an epoch is 8 bytes")
        out.u8(MessagingFrame.FLOOR).raw(frame.epoch).varint(frame.floor)
    return encode_frame(bytes(out))


def decode_frame(record: bytes) -> Frame:
    """Parse one record (without its length prefix).

    Raises:
        DecodeError: the record is empty, too long, of an unknown type, truncated,
            has trailing bytes, or a field is over its limit.
    """
    if not record:
        raise DecodeError("empty messaging record")
    if len(record) > MAX_RECORD:
        raise DecodeError(f"messaging record of {len(record)} bytes over {MAX_RECORD}")
    reader = Reader(record)
    kind = reader.u8()
    frame: Frame
    if kind == MessagingFrame.MESSAGE:
        message_id = MessageId(reader.raw(MESSAGE_ID_SIZE))
        epoch = reader.raw(EPOCH_SIZE)
        seq = reader.varint(_MAX_SEQ)
        created = reader.u64() / 1000
        expires = reader.u64() / 1000
        body = reader.blob(MAX_BODY)
        frame = MessageFrame(
            id=message_id, epoch=epoch, seq=seq, created=created, expires=expires, body=body
        )
    elif kind in _RECEIPTS:
        count = reader.varint(MAX_IDS)
        if count == 0:
            raise DecodeError("a receipt names no message")
        ids = tuple(MessageId(reader.raw(MESSAGE_ID_SIZE)) for _ in range(count))
        frame = Receipt(kind=MessagingFrame(kind), ids=ids)
    elif kind == MessagingFrame.FLOOR:
        frame = Floor(epoch=reader.raw(EPOCH_SIZE), floor=reader.varint(_MAX_SEQ))
    elif kind == MessagingFrame.MAILBOX:
        mailbox = NodeId.from_raw(reader.raw(32))
        frame = MailboxNotice(
            mailbox=mailbox, record=IdentityRecord.decode(reader.raw(IDENTITY_RECORD_SIZE))
        )
    elif kind == MessagingFrame.DEPOSIT:
        recipient = NodeId.from_raw(reader.raw(32))
        message_id = MessageId(reader.raw(MESSAGE_ID_SIZE))
        frame = Deposit(recipient=recipient, id=message_id, sealed=reader.blob(MAX_SEALED))
    elif kind == MessagingFrame.COLLECT:
        frame = Collect()
    elif kind == MessagingFrame.MAIL:
        message_id = MessageId(reader.raw(MESSAGE_ID_SIZE))
        frame = Mail(id=message_id, sealed=reader.blob(MAX_SEALED))
    else:
        raise DecodeError(f"unknown messaging frame type 0x{kind:02x}")
    reader.finish()
    return frame
