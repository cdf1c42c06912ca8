"""The two halves of a stream on their own: retransmission bookkeeping and reassembly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.errors import DecodeError, StateError
from meshnet.ids import StreamId
from meshnet.session.state import RecvState, SendState
from meshnet.session.streams import RecvStream, SendStream, grown_window


def next_chunk(stream: SendStream, room: int, credit: int) -> tuple[int, bytes, bool, int] | None:
    """``next_range`` with the frame's bytes: ``(offset, data, fin, new_bytes)``."""
    taken = stream.next_range(room, credit)
    if taken is None:
        return None
    start, end, fin, new_bytes = taken
    return start, b"".join(stream.parts(start, end)), fin, new_bytes


Frame = tuple[int, bytes, bool]


def _send(limit: int = 100, credit: int = 1000) -> SendStream:
    return SendStream(buffer_limit=limit, max_data=credit, service=5)


def _recv(window: int = 100) -> RecvStream:
    return RecvStream(handle=StreamId(1), window=window, service=None)


def test_a_range_spanning_writes_is_taken_as_views_of_each_write() -> None:
    stream = _send()
    for piece in (b"abc", b"defgh", b"ij"):
        stream.write(piece)
    assert stream.next_range(6, 100) == (0, 6, False, 6)
    parts = stream.parts(0, 6)
    assert [bytes(p) for p in parts] == [b"abc", b"def"]  # no joined copy
    assert stream.next_range(100, 100) == (6, 10, False, 4)
    assert b"".join(stream.parts(6, 10)) == b"ghij"
    stream.on_acked(0, 4, False)  # the first write is dropped, the second still held
    assert [bytes(p) for p in stream.parts(4, 8)] == [b"efgh"]


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(st.binary(min_size=1, max_size=7), min_size=1, max_size=12),
    calls=st.lists(
        st.tuples(st.integers(0, 90), st.integers(0, 12), st.integers(0, 3)), max_size=30
    ),
)
def test_parts_are_the_written_bytes_in_any_order_of_reads_and_acks(
    pieces: list[bytes], calls: list[tuple[int, int, int]]
) -> None:
    # parts() resumes from where its previous call began (new data goes out in order):
    # reads behind that point (retransmissions), ahead of it, and after acknowledgements
    # that drop chunks from the front must all give the bytes written there
    stream = _send(limit=100)
    for piece in pieces:
        stream.write(piece)
    written = b"".join(pieces)
    for at, length, acked in calls:
        start = max(at % (len(written) + 1), stream.base)
        end = min(start + length, len(written))
        assert b"".join(stream.parts(start, end)) == written[start:end]
        if acked:
            stream.on_acked(stream.base, min(acked, len(written) - stream.base), False)


def test_send_buffer_is_bounded_and_reports_blocking() -> None:
    stream = _send(limit=10)
    assert stream.write(b"abcdefgh") == 8 and not stream.blocked
    assert stream.write(b"ijkl") == 2 and stream.blocked
    assert next_chunk(stream, 4, 100) == (0, b"abcd", False, 4)
    assert stream.state is SendState.SEND
    assert next_chunk(stream, 100, 3) == (4, b"efg", False, 3)  # session credit
    assert not stream.writable()
    assert stream.on_acked(0, 4, False)
    assert not stream.writable() and stream.buffered == 6  # more than half still held
    assert not stream.on_acked(5, 2, False)  # above a gap: nothing freed yet
    assert stream.on_acked(4, 1, False)
    assert stream.writable() and stream.buffered == 3


def test_open_frame_and_stream_credit() -> None:
    stream = SendStream(buffer_limit=10, max_data=0, service=2)
    assert stream.wants_to_send()  # announce the stream even before any byte
    assert next_chunk(stream, 10, 10) == (0, b"", False, 0)
    assert not stream.wants_to_send()
    stream.write(b"abc")
    assert next_chunk(stream, 10, 10) is None  # no per-stream credit yet
    stream.max_data = 2
    assert next_chunk(stream, 10, 10) == (0, b"ab", False, 2)


def test_lost_ranges_go_first_and_skip_what_was_acknowledged() -> None:
    stream = _send()
    stream.write(b"0123456789")
    stream.finish()
    assert next_chunk(stream, 4, 100) == (0, b"0123", False, 4)
    assert next_chunk(stream, 4, 100) == (4, b"4567", False, 4)
    assert next_chunk(stream, 4, 100) == (8, b"89", True, 2)
    stream.on_acked(4, 4, False)
    stream.on_lost(0, 4, False)
    stream.on_lost(4, 4, False)  # acknowledged already: nothing to resend
    stream.on_lost(8, 2, True)
    assert next_chunk(stream, 3, 100) == (0, b"012", False, 0)
    assert next_chunk(stream, 10, 100) == (3, b"3", False, 0)
    assert next_chunk(stream, 10, 100) == (8, b"89", True, 0)
    assert next_chunk(stream, 10, 100) is None
    stream.on_acked(0, 4, False)
    assert stream.state is SendState.DATA_SENT
    stream.on_acked(8, 2, True)
    assert stream.state is SendState.DATA_RECVD and stream.done
    with pytest.raises(StateError):
        stream.write(b"late")


def test_a_range_lost_then_acknowledged_is_not_sent_again() -> None:
    stream = _send()
    stream.write(b"abcdef")
    next_chunk(stream, 6, 100)
    stream.on_lost(0, 6, False)
    stream.on_acked(0, 6, False)  # the original arrived after all
    assert next_chunk(stream, 10, 100) is None


def test_reset_drops_the_buffer() -> None:
    stream = _send()
    stream.write(b"abcdef")
    next_chunk(stream, 3, 100)
    assert stream.reset(7)
    assert stream.final_size == 3 and stream.reset_pending
    assert next_chunk(stream, 10, 100) is None
    assert not stream.reset(8)  # once
    stream.on_lost(0, 3, False)
    stream.on_reset_acked()
    assert stream.state is SendState.RESET_RECVD


@settings(max_examples=60)
@given(st.binary(min_size=2, max_size=3000), st.data())
def test_reassembly_in_any_order_with_duplicates(data: bytes, draw: st.DataObject) -> None:
    cuts = sorted(set(draw.draw(st.lists(st.integers(1, len(data) - 1), max_size=20))))
    bounds = [0, *cuts, len(data)]
    pieces = [(bounds[i], data[bounds[i] : bounds[i + 1]]) for i in range(len(bounds) - 1)]
    pieces += draw.draw(st.lists(st.sampled_from(pieces), max_size=5))  # duplicates
    start = draw.draw(st.integers(0, len(data) - 1))
    pieces.append((start, data[start : start + 50]))  # an overlapping retransmission
    order = draw.draw(st.permutations(pieces))
    stream = _recv(window=len(data))
    out = bytearray()
    for offset, piece in order:
        _, ready = stream.on_data(offset, piece, fin=offset + len(piece) == len(data))
        out += b"".join(ready)
        held = sum(map(len, stream._chunks.values()))
        assert held + len(out) <= len(data)  # nothing stored twice
    assert bytes(out) == data
    assert stream.finished
    stream.mark_read()
    assert stream.state is RecvState.DATA_READ


def test_receive_credit_follows_consumption() -> None:
    stream = _recv(window=100)
    grown, ready = stream.on_data(0, b"x" * 60, False)
    assert grown == 60 and ready == [b"x" * 60]
    assert stream.on_consumed(40, 1.0, 0.1, 400) is None  # more than half a window ahead
    assert stream.on_consumed(20, 1.0, 0.1, 400) == 160  # the first update: no growth
    with pytest.raises(DecodeError, match="credit"):
        stream.on_data(150, b"y" * 20, False)


def test_receive_window_grows_only_when_updates_come_fast() -> None:
    stream = _recv(window=100)
    stream.on_data(0, b"x" * 100, False)
    assert stream.on_consumed(60, 1.0, 0.1, 400) == 160  # first update, window 100
    stream.on_data(100, b"x" * 60, False)
    assert stream.on_consumed(60, 1.05, 0.1, 400) == 320  # within 0.1 s: window 200
    stream.on_data(160, b"x" * 160, False)
    assert stream.on_consumed(160, 1.1, 0.1, 400) == 680  # window 400: the limit
    stream.on_data(320, b"x" * 300, False)
    assert stream.on_consumed(300, 1.12, 0.1, 400) == 980  # stays at the limit
    stream.on_data(620, b"x" * 300, False)
    assert stream.on_consumed(300, 5.0, 0.1, 400) == 1280  # a slow reader: no growth
    assert stream.window == 400


@pytest.mark.parametrize(
    ("new", "since", "expected"),
    [(100, 0.05, 200), (100, 0.2, 100), (300, 0.0, 400), (400, 0.0, 400)],
)
def test_grown_window(new: int, since: float, expected: int) -> None:
    assert grown_window(new, since, 0.1, 400) == expected


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ((0, b"abc", True), (0, b"abcd", False)),  # beyond the final size
        ((0, b"abc", True), (0, b"ab", True)),  # a different final size
        ((0, b"abcdef", False), (0, b"abc", True)),  # final size below received data
    ],
)
def test_final_size_violations(first: Frame, second: Frame) -> None:
    stream = _recv()
    stream.on_data(*first)
    with pytest.raises(DecodeError):
        stream.on_data(*second)


def test_reset_checks_the_final_size() -> None:
    stream = _recv()
    stream.on_data(0, b"abcdef", False)
    with pytest.raises(DecodeError):
        stream.on_reset(1, 3)
    with pytest.raises(DecodeError):
        stream.on_reset(1, 1000)
    assert stream.on_reset(1, 10) == 4
    assert stream.state is RecvState.RESET_RECVD and stream.reset_code == 1
    stream.reset_delivered()
    assert stream.done


def test_stopped_stream_holds_nothing() -> None:
    stream = _recv()
    stream.on_data(10, b"later", False)
    stream.stop()
    assert stream.state is RecvState.RESET_READ and not stream._chunks
    assert stream.on_data(0, b"0123456789", False)[1] == []


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_mix_of_writes_acks_and_losses_delivers_the_bytes_written(data: st.DataObject) -> None:
    """Held as the chunks written, the send buffer hands out exactly the right bytes."""
    stream = _send(limit=300, credit=10_000)
    written = bytearray()
    got: dict[int, bytes] = {}  # what the peer received, by offset
    frames: list[tuple[int, int]] = []  # (offset, length) in flight
    for _ in range(data.draw(st.integers(1, 40))):
        action = data.draw(st.sampled_from(["write", "send", "ack", "lose"]))
        if action == "write":
            chunk = data.draw(st.binary(min_size=1, max_size=120))
            taken = stream.write(chunk)
            written += chunk[:taken]
        elif action == "send":
            item = next_chunk(stream, data.draw(st.integers(1, 90)), 10_000)
            if item is not None and item[1]:
                offset, payload, _, _ = item
                assert payload == bytes(written[offset : offset + len(payload)])
                frames.append((offset, len(payload)))
                got[offset] = payload
        elif frames:
            offset, length = frames.pop(data.draw(st.integers(0, len(frames) - 1)))
            if action == "ack":
                stream.on_acked(offset, length, False)
            else:
                stream.on_lost(offset, length, False)
    assert stream.buffered == len(written) - stream.base
