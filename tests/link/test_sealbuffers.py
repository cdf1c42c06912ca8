"""Large frames sealed into reused buffers: assembled and sealed correctly, prefixed in
place for stream carriers, and a buffer reused only once nothing but the pool refers to it."""

from __future__ import annotations

import pytest
from tests.link.pair import LinkPair, Side

from meshnet.link.events import LinkPayloadReceived
from meshnet.link.sealbuffers import (
    HEADROOM,
    POOL,
    POOLED_MIN,
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
def test_other_frames_have_no_record(frame: bytes | memoryview) -> None:
    assert stream_record(frame) is None


def test_a_buffer_is_reused_only_once_nothing_refers_to_it() -> None:
    buffers = SealBuffers()
    first = buffers.take(POOLED_MIN)
    buffer = id(first.obj)
    assert id(buffers.take(POOLED_MIN).obj) != buffer  # the frame is alive: taken
    kept = memoryview(first)[10:]  # a view of the frame, as asyncio 3.12+ keeps one
    del first
    assert id(buffers.take(POOLED_MIN).obj) != buffer  # the view holds it
    record = stream_record(kept)
    del kept
    assert record is not None and id(buffers.take(POOLED_MIN).obj) != buffer
    del record
    assert id(buffers.take(POOLED_MIN).obj) == buffer  # nothing refers to it: reused
    third = buffers.take(POOLED_MIN - 10)  # smaller frames fit a larger buffer
    assert id(third.obj) == buffer and len(third) == POOLED_MIN - 10
    assert id(buffers.take(POOLED_MIN).obj) != buffer  # held by ``third`` again
    del third
    assert id(buffers.take(POOLED_MIN).obj) == buffer and buffers.pooled == 2


def test_a_reference_to_the_buffer_itself_holds_it() -> None:
    buffers = SealBuffers()
    frame = buffers.take(POOLED_MIN)
    buffer = frame.obj
    del frame
    assert buffers.take(POOLED_MIN).obj is not buffer
    address = id(buffer)
    del buffer
    assert id(buffers.take(POOLED_MIN).obj) == address


def test_the_pool_is_bounded_and_a_free_small_buffer_makes_room() -> None:
    buffers = SealBuffers()
    frames = [buffers.take(POOLED_MIN) for _ in range(POOL + 2)]  # all held
    assert len({id(frame.obj) for frame in frames}) == POOL + 2 and buffers.pooled == POOL
    frames.clear()
    big = buffers.take(2 * POOLED_MIN)  # no free buffer is large enough: a new one
    assert len(big) == 2 * POOLED_MIN and buffers.pooled == POOL
    buffer = id(big.obj)
    del big
    assert id(buffers.take(2 * POOLED_MIN).obj) == buffer  # it replaced a small one


def test_stream_link_seals_large_payloads_into_buffers_nothing_else_holds() -> None:
    pair = LinkPair(datagram=False, views=True)
    la = pair.a.manager.link_to(pair.b.node_id)
    assert la is not None
    sent = [bytes([i]) * 60_000 for i in range(6)]
    for payload in sent[:3]:  # three frames in flight at once: three buffers
        pair.a.manager.send(la, payload, pair.now, prefix=b"\x01")
    held = pair.take(pair.a)
    buffers = {id(frame.obj) for _, frame in held}  # type: ignore[union-attr]
    assert len(buffers) == 3
    pair.deliver(pair.a, held)
    del held
    pair.wire.clear()  # the pair's record of the wire: nothing refers to the frames now
    for payload in sent[3:]:  # sealed into the same buffers, opened correctly
        pair.a.manager.send(la, payload, pair.now, prefix=b"\x01")
        frames = pair.take(pair.a)
        assert id(frames[0][1].obj) in buffers  # type: ignore[union-attr]
        pair.deliver(pair.a, frames)
        del frames
        pair.wire.clear()
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
