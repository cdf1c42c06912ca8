"""The two halves of a reliable stream: send buffer with retransmission, receive reassembly.

Send half (``SendStream``): the application's bytes wait in one ``bytearray`` from the
lowest unacknowledged offset (``base``) to ``write_offset``. New bytes go out from
``sent_offset`` within the peer's credit; ranges declared lost go into ``_lost`` and are
sent again first; acknowledged ranges above ``base`` wait in ``_acked`` until ``base``
can move past them, which frees buffer space (the application hears ``StreamWritable``).
The buffer never holds more than ``buffer_limit`` bytes.

Receive half (``RecvStream``): in-order bytes go straight to the application; bytes
ahead of a gap are kept, without duplicates (``RangeSet.gaps``), until the gap fills.
A peer may not send past the credit we gave (``max_data_sent``), so what is held is
bounded by the window; credit grows as the application *takes* the data
(``on_consumed``), not as it arrives, which is what makes a slow reader stop the sender.

Stream states and their rules are in ``state.py``; this module keeps the bytes.
"""

from __future__ import annotations

from bisect import insort
from collections import deque

from meshnet.errors import DecodeError
from meshnet.ids import StreamId
from meshnet.session.rangeset import RangeSet
from meshnet.session.state import (
    RecvInput,
    RecvState,
    SendInput,
    SendState,
    recv_transition,
    send_transition,
)

__all__ = ["ReceiveBudget", "RecvStream", "SendStream", "grown_window"]


class ReceiveBudget:
    """The node-wide allowance for session receive windows above their initial size.

    Sessions ask for a window growth with ``grant`` and give it back with ``release``
    when they end: however many sessions auto-tune, together they hold at most
    ``limit`` bytes more than their initial windows.
    """

    __slots__ = ("limit", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def grant(self, wanted: int) -> int:
        """Up to ``wanted`` more bytes of window: what is left of the allowance."""
        given = max(0, min(wanted, self.limit - self.used))
        self.used += given
        return given

    def release(self, amount: int) -> None:
        """A session that ended gives back the growth it was granted."""
        self.used = max(0, self.used - amount)


def grown_window(window: int, since_update: float, grow_within: float, limit: int) -> int:
    """The receive window for the next credit update (flow-control auto-tuning).

    A credit update is due when the application took half a window. If the previous
    one was less than ``grow_within`` (two round trips) ago, the data flowed as fast as
    the window let it: double the window, up to ``limit``.
    """
    if since_update < grow_within and window < limit:
        return min(window * 2, limit)
    return window


class SendStream:
    """Our direction of one stream."""

    __slots__ = (
        "_acked",
        "_chunks",
        "_cursor",
        "_head",
        "_lost",
        "base",
        "blocked",
        "buffer_limit",
        "fin_acked",
        "fin_pending",
        "max_data",
        "open_pending",
        "reset_code",
        "reset_pending",
        "sent_offset",
        "service",
        "state",
        "write_offset",
    )

    def __init__(self, *, buffer_limit: int, max_data: int, service: int | None) -> None:
        self.state = SendState.READY
        self.buffer_limit = buffer_limit
        self.max_data = max_data
        self.service = service
        self.open_pending = service is not None  # we opened it: tell the peer even if empty
        self._chunks: deque[bytes] = deque()  # the unacknowledged bytes, as written
        self._head = 0  # the stream offset of the first byte of ``_chunks[0]``
        self._cursor = (0, 0)  # where ``parts`` last began: a chunk's index and offset
        self.base = 0
        self.write_offset = 0
        self.sent_offset = 0
        self._acked = RangeSet()
        self._lost = RangeSet()
        self.fin_pending = False  # the FIN must (again) go out
        self.fin_acked = False
        self.blocked = False  # the application was refused bytes: tell it when writable
        self.reset_code: int | None = None
        self.reset_pending = False

    # -- commands ------------------------------------------------------------------------

    def write(self, data: bytes) -> int:
        """Buffer what fits of ``data``; return how many bytes were taken.

        Raises:
            StateError: the stream was finished or reset.
        """
        send_transition(self.state, SendInput.APP_WRITE)
        room = self.buffer_limit - (self.write_offset - self.base)
        taken = min(room, len(data))
        if taken < len(data):
            self.blocked = True
        if taken > 0:
            # kept as written, not appended to one buffer: a bytearray whose front was
            # acknowledged away moves everything it holds each time it must grow
            self._chunks.append(bytes(data[:taken] if taken < len(data) else data))
            self.write_offset += taken
        return taken

    def parts(self, start: int, end: int) -> list[memoryview]:
        """Views of the buffered bytes ``[start, end)``, one per chunk they span (no
        copy: the packet builder writes them straight into the packet).

        The search starts at the chunk where the previous call began when ``start`` is
        not behind it (new data goes out in order), not at the first unacknowledged
        chunk: a 4 MiB send buffer holds 64 chunks of 64 KiB.
        """
        parts: list[memoryview] = []
        chunks = self._chunks
        index, position = self._cursor
        if position > start or index >= len(chunks):  # a retransmission behind it
            index, position = 0, self._head
        count = len(chunks)
        while index < count:
            chunk = chunks[index]
            chunk_end = position + len(chunk)
            if chunk_end > start:
                if position >= end:
                    break
                if not parts:
                    self._cursor = (index, position)
                parts.append(memoryview(chunk)[max(start - position, 0) : end - position])
            position = chunk_end
            index += 1
        return parts

    def finish(self) -> None:
        """The application has no more bytes: the FIN follows the last one."""
        result = send_transition(self.state, SendInput.APP_FINISH)
        if result.verdict.value == "accept":
            self.state = result.next_state
            self.fin_pending = True

    def reset(self, code: int, *, by_peer: bool = False) -> bool:
        """Abandon the stream; True when a RESET_STREAM must now be sent."""
        inp = SendInput.STOP_RECEIVED if by_peer else SendInput.APP_RESET
        result = send_transition(self.state, inp)
        if result.verdict.value != "accept":
            return False
        self.state = result.next_state
        self.reset_code = code
        self.reset_pending = True
        self._chunks.clear()
        self._head = self.write_offset
        self._cursor = (0, self._head)
        self._lost = RangeSet()
        self.fin_pending = False
        self.open_pending = False
        return True

    # -- sending -------------------------------------------------------------------------

    @property
    def final_size(self) -> int:
        """The stream's size as the peer must see it (what was sent, after a reset)."""
        return self.write_offset if self.reset_code is None else self.sent_offset

    def wants_to_send(self) -> bool:
        """True when a frame would carry something (the credit may still be short)."""
        if self.reset_code is not None:
            return self.reset_pending
        return bool(
            self._lost
            or self.fin_pending
            or self.open_pending
            or (self.write_offset > self.sent_offset and self.sent_offset < self.max_data)
        )

    def unsent_tail(self, credit: int) -> int | None:
        """How many new bytes the next frame would carry when it carries only new data
        and no FIN (None when it carries anything else: a loss, the FIN, the opening,
        a reset): what ``PacketBuilder`` weighs before sending a part-filled packet."""
        if self.reset_code is not None or self._lost or self.fin_pending or self.open_pending:
            return None
        limit = min(self.write_offset, self.max_data, self.sent_offset + max(credit, 0))
        return max(limit - self.sent_offset, 0)

    def next_range(self, room: int, credit: int) -> tuple[int, int, bool, int] | None:
        """The next STREAM frame's range within ``room`` data bytes, taken (sent) but not
        copied out (``parts`` gives its bytes).

        Args:
            room: the most data bytes the frame may carry.
            credit: session-wide bytes of new data the peer still allows.

        Returns:
            ``(start, end, fin, new_bytes)`` or None when nothing may go out.
        """
        if self.reset_code is not None:
            return None
        lost = self._lost.first()
        while lost is not None and lost[1] <= self.base:  # acknowledged since it was lost
            self._lost.pop_first()
            lost = self._lost.first()
        if lost is not None:
            start, end = max(lost[0], self.base), lost[1]
            end = min(end, start + room)
            self._lost.remove_below(end)
            fin = self.fin_pending and end == self.write_offset and self.sent_offset == end
            if fin:
                self.fin_pending = False
            return start, end, fin, 0
        start = self.sent_offset
        limit = min(self.write_offset, self.max_data, start + room, start + max(credit, 0))
        limit = max(limit, start)
        fin = (
            self.fin_pending and limit == self.write_offset and (self.state is SendState.DATA_SENT)
        )
        if limit == start and not fin and not self.open_pending:
            return None
        self.sent_offset = limit
        self.open_pending = False
        if fin:
            self.fin_pending = False
        self._mark_sent()
        return start, limit, fin, limit - start

    def _mark_sent(self) -> None:
        result = send_transition(self.state, SendInput.FRAME_SENT)
        if result.verdict.value == "accept":
            self.state = result.next_state

    # -- acknowledgements and losses -----------------------------------------------------

    def on_acked(self, offset: int, length: int, fin: bool) -> bool:
        """A frame carrying ``[offset, offset + length)`` (and maybe the FIN) arrived.

        Returns:
            True when buffer space was freed.
        """
        if fin:
            self.fin_acked = True
        freed = False
        if length:
            self._acked.add(offset, offset + length)
            first = self._acked.first()
            if first is not None and first[0] <= self.base:
                end = self._acked.pop_first()[1]
                if end > self.base:
                    self.base = end
                    freed = True
                    chunks = self._chunks
                    while chunks and self._head + len(chunks[0]) <= end:
                        self._head += len(chunks.popleft())
                    self._cursor = (0, self._head)  # the indices moved
        self._check_done()
        return freed

    def on_lost(self, offset: int, length: int, fin: bool) -> None:
        """A frame carrying ``[offset, offset + length)`` was lost: send it again."""
        if self.reset_code is not None:
            return
        start = max(offset, self.base)
        for gap_start, gap_end in self._acked.gaps(start, offset + length):
            self._lost.add(gap_start, gap_end)
        if fin and not self.fin_acked:
            self.fin_pending = True
        if offset == 0 and length == 0 and self.service is not None and self.base == 0:
            self.open_pending = not self._acked and not self.fin_acked

    def on_reset_acked(self) -> None:
        """The peer acknowledged our RESET_STREAM."""
        result = send_transition(self.state, SendInput.RESET_ACKED)
        if result.verdict.value == "accept":
            self.state = result.next_state

    def _check_done(self) -> None:
        if self.state is SendState.DATA_SENT and self.fin_acked and self.base == self.write_offset:
            self.state = send_transition(self.state, SendInput.ALL_ACKED).next_state

    @property
    def done(self) -> bool:
        """True in a terminal state."""
        return self.state in (SendState.DATA_RECVD, SendState.RESET_RECVD)

    @property
    def buffered(self) -> int:
        """Bytes held that the peer has not acknowledged."""
        return self.write_offset - self.base

    def writable(self) -> bool:
        """True once a blocked application may write again (half the buffer is free)."""
        return self.buffered <= self.buffer_limit // 2


class RecvStream:
    """The peer's direction of one stream."""

    __slots__ = (
        "_chunks",
        "_offsets",
        "_received",
        "consumed",
        "delivered",
        "final_size",
        "handle",
        "highest",
        "max_data_sent",
        "reset_code",
        "service",
        "state",
        "updated",
        "window",
    )

    def __init__(self, *, handle: StreamId, window: int, service: int | None) -> None:
        self.handle = handle
        self.state = RecvState.RECV
        self.window = window
        self.updated = float("-inf")  # when the last credit update was made
        self.max_data_sent = window
        self.service = service
        self.delivered = 0  # bytes handed to the application (events queued)
        self.consumed = 0  # bytes the application took
        self.highest = 0  # highest offset received (flow-control accounting)
        self.final_size: int | None = None
        self.reset_code: int | None = None
        self._received = RangeSet()  # ranges held above ``delivered``
        self._chunks: dict[int, bytes] = {}
        self._offsets: list[int] = []

    def on_data(self, offset: int, data: bytes, fin: bool) -> tuple[int, list[bytes]]:
        """Take a STREAM frame.

        Returns:
            ``(newly_counted, ready)``: how much ``highest`` grew (session flow-control
            accounting) and the in-order bytes now ready for the application.

        Raises:
            DecodeError: beyond our credit, or a final size that contradicts one
                known (a fatal error for the session).
        """
        end = offset + len(data)
        if end > self.max_data_sent:
            raise DecodeError(f"stream data to {end} beyond the credit {self.max_data_sent}")
        final = self.final_size
        if final is not None and (end > final or (fin and end != final)):
            raise DecodeError("stream data beyond its final size")
        if fin:
            if end < self.highest:
                raise DecodeError("final size below data already received")
            self.final_size = end
            self._advance(RecvInput.FIN_RECEIVED)
        else:
            self._advance(RecvInput.FRAME_RECEIVED)
        grown = max(0, end - self.highest)
        self.highest = max(self.highest, end)
        if self.state not in (RecvState.RECV, RecvState.SIZE_KNOWN):
            return grown, []
        ready: list[bytes] = []
        if offset <= self.delivered < end and not self._offsets:
            ready.append(data[self.delivered - offset :] if offset < self.delivered else data)
            self.delivered = end
        elif end > self.delivered:
            self._hold(max(offset, self.delivered), offset, data)
            self._release(ready)
        if self.final_size is not None and self.delivered == self.final_size:
            self._advance(RecvInput.ALL_RECEIVED)
        return grown, ready

    def _hold(self, start: int, offset: int, data: bytes) -> None:
        for gap_start, gap_end in list(self._received.gaps(start, offset + len(data))):
            self._chunks[gap_start] = data[gap_start - offset : gap_end - offset]
            insort(self._offsets, gap_start)
            self._received.add(gap_start, gap_end)

    def _release(self, ready: list[bytes]) -> None:
        offsets, chunks = self._offsets, self._chunks
        while offsets and offsets[0] == self.delivered:
            chunk = chunks.pop(offsets.pop(0))
            ready.append(chunk)
            self.delivered += len(chunk)
        self._received.remove_below(self.delivered)

    def _advance(self, inp: RecvInput) -> bool:
        result = recv_transition(self.state, inp)
        if result.verdict.value == "accept":
            self.state = result.next_state
            return True
        return False

    @property
    def finished(self) -> bool:
        """True when every byte up to the FIN was handed out (report the end once)."""
        return self.state is RecvState.DATA_RECVD

    def mark_read(self) -> None:
        """The application was told the stream ended (``StreamFinished``)."""
        self._advance(RecvInput.ALL_READ)

    def on_reset(self, code: int, final_size: int) -> int:
        """The peer abandoned its direction.

        Returns:
            How much ``highest`` grew to the final size (session accounting).

        Raises:
            DecodeError: the final size contradicts what we know.
        """
        known = self.final_size
        if (known is not None and final_size != known) or final_size < self.highest:
            raise DecodeError("reset with a final size that contradicts the stream")
        if final_size > self.max_data_sent:
            raise DecodeError("reset with a final size beyond the credit")
        grown = final_size - self.highest
        self.highest = final_size
        self.final_size = final_size
        if self._advance(RecvInput.RESET_RECEIVED):
            self.reset_code = code
            self._chunks.clear()
            self._offsets.clear()
        return grown

    def reset_delivered(self) -> None:
        """The application was told of the peer's reset."""
        self._advance(RecvInput.RESET_DELIVERED)

    def stop(self) -> None:
        """The application abandoned reading: drop what is held."""
        self._advance(RecvInput.APP_STOP)
        self._chunks.clear()
        self._offsets.clear()

    def on_consumed(self, count: int, now: float, grow_within: float, limit: int) -> int | None:
        """The application took ``count`` bytes.

        Args:
            count: bytes taken.
            now: the current time.
            grow_within: when this update follows the previous one within this long
                (two round trips), the window was the limit: it doubles ...
            limit: ... up to this.

        Returns:
            A new credit to advertise (MAX_STREAM_DATA), or None while the old one is
            still more than half a window ahead.
        """
        self.consumed += count
        if self.final_size is not None or self.state not in (RecvState.RECV,):
            return None
        if self.max_data_sent - self.consumed <= self.window // 2:
            self.window = grown_window(self.window, now - self.updated, grow_within, limit)
            self.updated = now
            self.max_data_sent = self.consumed + self.window
            return self.max_data_sent
        return None

    @property
    def done(self) -> bool:
        """True in a terminal state."""
        return self.state in (RecvState.DATA_READ, RecvState.RESET_READ)
