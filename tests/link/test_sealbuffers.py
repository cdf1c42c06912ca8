"""Large frames sealed into reused buffers: assembled and sealed correctly, prefixed in
place for stream carriers, and a buffer reused only after its frame was given back."""

from __future__ import annotations

import pytest
from tests.link.pair import LinkPair, Side

from meshnet.link.events import LinkPayloadReceived
from meshnet.link.sealbuffers import (
    HEADROOM,
    POOLED_MIN,
    SPARES,
    FrameBuffer,
    SealBuffers,
    stream_record,
)


def payloads(side: Side) -> list[bytes]:
    return [bytes(e.payload) for e in side.of(LinkPayloadReceived)]


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_plaintext_is_code_prefix_and_payload(kind: type) -> None:
    buffers = SealBuffers()
    payload = kind(bytes(range(256)) * 20)
    assert bytes(buffers.plaintext(b"\x10", b"\x01", payload)) == b"\x10\x01" + bytes(payload)
    assert bytes(buffers.plaintext(b"\x10", b"", b"abc")) == b"\x10abc"  # reused, shorter


def test_a_record_is_the_frame_behind_its_length_written_into_the_headroom() -> None:
    frame = SealBuffers().take(5000)
    frame[:] = b"\x04" * 5000
    assert type(frame.obj) is FrameBuffer and len(frame) == 5000
    record = stream_record(frame)
    assert record is not None and record.obj is frame.obj  # no copy
    assert bytes(record) == (5000).to_bytes(HEADROOM, "big") + b"\x04" * 5000


@pytest.mark.parametrize(
    "frame", [b"\x04abc", memoryview(b"\x04abc"), memoryview(bytearray(b"\x04abc"))]
)
def test_other_frames_have_no_record_and_are_never_kept(frame: bytes | memoryview) -> None:
    buffers = SealBuffers()
    assert stream_record(frame) is None
    buffers.give_back(frame)
    assert buffers.spares == 0


def test_a_buffer_is_reused_only_after_its_frame_is_given_back() -> None:
    buffers = SealBuffers()
    first = buffers.take(POOLED_MIN)
    second = buffers.take(POOLED_MIN)
    assert first.obj is not second.obj  # neither given back: two buffers
    buffers.give_back(first)
    buffers.give_back(first)  # twice: still one spare, never handed out twice
    assert buffers.spares == 1
    third = buffers.take(POOLED_MIN - 10)  # smaller frames fit a larger buffer
    assert third.obj is first.obj and len(third) == POOLED_MIN - 10
    assert buffers.take(POOLED_MIN).obj is not first.obj  # in use again


def test_too_small_spares_are_dropped_and_spares_are_bounded() -> None:
    buffers = SealBuffers()
    frames = [buffers.take(POOLED_MIN) for _ in range(SPARES + 2)]
    for frame in frames:
        buffers.give_back(frame)
    assert buffers.spares == SPARES
    big = buffers.take(2 * POOLED_MIN)  # no spare is large enough: a new buffer
    assert all(big.obj is not frame.obj for frame in frames) and buffers.spares == 0


def test_stream_link_seals_large_payloads_into_reused_buffers_only_once_released() -> None:
    pair = LinkPair(datagram=False, views=True)
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la is not None
    sent = [bytes([i]) * 60_000 for i in range(6)]
    for payload in sent[:3]:  # three frames in flight at once: three buffers
        pair.a.manager.send(la, payload, pair.now, prefix=b"\x01")
    held = pair.take(pair.a)
    assert len({id(frame.obj) for _, frame in held}) == 3  # type: ignore[union-attr]
    pair.deliver(pair.a, held)
    pair.a.manager.release_frames(frame for _, frame in held)
    for payload in sent[3:]:  # sealed into the released buffers, opened correctly
        pair.a.manager.send(la, payload, pair.now, prefix=b"\x01")
        frames = pair.take(pair.a)
        assert frames[0][1].obj in [frame.obj for _, frame in held]  # type: ignore[union-attr]
        pair.deliver(pair.a, frames)
        pair.a.manager.release_frames(frame for _, frame in frames)
    assert payloads(pair.b) == [b"\x01" + payload for payload in sent]


def test_small_payloads_and_datagram_links_use_fresh_bytes() -> None:
    for datagram, size in ((False, POOLED_MIN - 100), (True, 60_000)):
        pair = LinkPair(datagram=datagram, mtu=1 << 20)
        la = pair.a.manager.link_to(pair.b.node_id)
        assert la is not None
        pair.a.manager.send(la, bytes(size), pair.now)
        frames = pair.take(pair.a)
        assert all(type(frame) is bytes for _, frame in frames)
        pair.deliver(pair.a, frames)
        assert payloads(pair.b) == [bytes(size)]


def test_lent_payloads_share_one_buffer_and_others_are_copies_of_their_own() -> None:
    pair = LinkPair(datagram=False, views=True)
    pair.b.manager.lend_payloads([0x01])
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la is not None
    sent = [(prefix, bytes([i]) * 60_000) for i, prefix in enumerate(b"\x01\x02\x01\x02")]
    for prefix, payload in sent:
        pair.a.manager.send(la, payload, pair.now, prefix=bytes([prefix]))
    pair.flow()  # all four opened before the events are looked at
    got = [e.payload for e in pair.b.of(LinkPayloadReceived)]
    assert got[0].obj is got[2].obj  # lent: one reused buffer, valid until the next frame
    assert bytes(got[0]) != b"\x01" + sent[0][1]  # later frames were opened over it
    assert got[1].obj is not got[3].obj  # copies: each intact
    assert [bytes(got[1]), bytes(got[3])] == [b"\x02" + sent[1][1], b"\x02" + sent[3][1]]
