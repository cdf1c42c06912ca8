"""The messaging frame codec: round trips, limits, and a fuzzed decoder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity
from meshnet.errors import DecodeError
from meshnet.ids import MessageId
from meshnet.services.messaging.messages import (
    MAX_BODY,
    MAX_IDS,
    MAX_RECORD,
    Collect,
    Deposit,
    Floor,
    Frame,
    Mail,
    MailboxNotice,
    MessageFrame,
    Receipt,
    decode_frame,
    encode_record,
)
from meshnet.wire.codes import MessagingFrame

ids = st.binary(min_size=16, max_size=16).map(MessageId)
epochs = st.binary(min_size=8, max_size=8)
millis = st.integers(min_value=0, max_value=(1 << 53)).map(lambda ms: ms / 1000)
messages = st.builds(
    MessageFrame,
    id=ids,
    epoch=epochs,
    seq=st.integers(min_value=0, max_value=(1 << 63) - 1),
    created=millis,
    expires=millis,
    body=st.binary(max_size=2048),
)
receipts = st.builds(
    Receipt,
    kind=st.sampled_from(
        [
            MessagingFrame.ACK,
            MessagingFrame.READ,
            MessagingFrame.READ_ACK,
            MessagingFrame.DEPOSITED,
            MessagingFrame.RELEASE,
        ]
    ),
    ids=st.lists(ids, min_size=1, max_size=MAX_IDS).map(tuple),
)
IDS = [Identity.generate(SeededEntropy(i, "frames"), created=0) for i in range(3)]
nodes = st.sampled_from([i.node_id for i in IDS])
sealed = st.binary(max_size=300)
mailbox_frames = st.one_of(
    st.builds(MailboxNotice, mailbox=nodes, record=st.sampled_from([i.record for i in IDS])),
    st.builds(Deposit, recipient=nodes, id=ids, sealed=sealed),
    st.builds(Collect),
    st.builds(Mail, id=ids, sealed=sealed),
)
floors = st.builds(Floor, epoch=epochs, floor=st.integers(min_value=0, max_value=(1 << 63) - 1))


def unframe(record: bytes) -> bytes:
    assert int.from_bytes(record[:4], "big") == len(record) - 4
    return record[4:]


@given(st.one_of(messages, receipts, floors, mailbox_frames))
def test_every_frame_round_trips(frame: Frame) -> None:
    assert decode_frame(unframe(encode_record(frame))) == frame


@given(st.binary(max_size=512))
def test_the_decoder_parses_or_refuses_any_bytes(data: bytes) -> None:
    try:
        frame = decode_frame(data)
    except DecodeError:
        return
    assert unframe(encode_record(frame)) == data  # one encoding per value


@given(st.one_of(messages, receipts, floors, mailbox_frames), st.data())
def test_truncated_or_extended_frames_are_refused(frame: Frame, data: st.DataObject) -> None:
    record = unframe(encode_record(frame))
    cut = data.draw(st.integers(min_value=0, max_value=len(record) - 1))
    with pytest.raises(DecodeError):
        decode_frame(record[:cut])
    with pytest.raises(DecodeError):
        decode_frame(record + b"\x00")


def test_a_full_body_fits_and_one_byte_more_does_not() -> None:
    full = MessageFrame(
        id=MessageId(bytes(16)),
        epoch=bytes(8),
        seq=(1 << 63) - 1,
        created=1e12,
        expires=1e12,
        body=b"x" * MAX_BODY,
    )
    record = unframe(encode_record(full))
    assert len(record) <= MAX_RECORD
    assert decode_frame(record) == full
    with pytest.raises(ValueError):
        encode_record(
            MessageFrame(
                id=full.id,
                epoch=full.epoch,
                seq=0,
                created=0.0,
                expires=0.0,
                body=b"x" * (MAX_BODY + 1),
            )
        )
    with pytest.raises(DecodeError):
        decode_frame(record + b"x")
    with pytest.raises(DecodeError):
        decode_frame(b"\x60" + b"\x00" * MAX_RECORD)


def test_receipts_name_one_to_max_ids() -> None:
    with pytest.raises(DecodeError):
        decode_frame(bytes([MessagingFrame.ACK, 0]))
    too_many = bytes([MessagingFrame.ACK, 0x81, 0x02])  # varint 257
    with pytest.raises(DecodeError):
        decode_frame(too_many + bytes(16 * (MAX_IDS + 1)))
    with pytest.raises(ValueError):
        encode_record(Receipt(kind=MessagingFrame.ACK, ids=()))
