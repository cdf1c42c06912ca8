"""``StreamSet``: the streams of one session, their ids, limits and session-wide credit.

Stream ids (docs/protocol/session.md §6): stream *number* n of the side that opened it,
with the low bit saying who opened it: 0 for the node whose NodeId sorts lower. Both
sides compute the same id without a handshake role, so ids survive a session replaced
by a new handshake in the other direction. Applications see only ``StreamId`` handles,
unique within the node and never reused.

Limits, all QUIC-style credit (RFC 9000 §4):

* **streams**: the peer may open stream numbers below the credit we gave (starting at
  ``max_streams``, raised by MAX_STREAMS as its streams close); a frame for a higher
  number is a protocol violation. Opening number n implicitly opens every lower
  number (frames may arrive out of order). Locally, at most ``max_streams`` of our
  streams are open at once (``StateError`` beyond), and a stream above the peer's
  credit holds its data until MAX_STREAMS.
* **bytes per stream**: ``SendStream.max_data`` / ``RecvStream.max_data_sent``.
* **bytes per session**: new bytes on all streams together stay below MAX_DATA.

Credit returns as the application takes ``StreamDataReceived`` events
(``on_consumed``), never as data merely arrives.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from meshnet.crypto.identity import NodeId
from meshnet.errors import DecodeError, StateError
from meshnet.ids import StreamId
from meshnet.session.config import SessionConfig
from meshnet.session.events import (
    SessionEvent,
    StreamDataReceived,
    StreamFinished,
    StreamOpened,
    StreamReset,
    StreamWritable,
)
from meshnet.session.frames import (
    Frame,
    MaxData,
    MaxStreamData,
    MaxStreams,
    ResetStream,
    StopSending,
    Stream,
    encode_stream_header,
    stream_header_size,
)
from meshnet.session.packets import TransportParameters
from meshnet.session.state import RecvState, SendState
from meshnet.session.streams import ReceiveBudget, RecvStream, SendStream, grown_window
from meshnet.wire.buffer import Writer

__all__ = ["StreamRecord", "StreamSet"]


@dataclass(slots=True, eq=False)
class _Stream:
    handle: StreamId
    wire_id: int
    local: bool
    send: SendStream
    recv: RecvStream
    opened: bool = False  # StreamOpened reported (peer streams) / our open is known
    reset_reported: bool = False
    queued: bool = False  # in the send round-robin
    removed: bool = False


_WRITABLE = (SendState.READY, SendState.SEND)

StreamRecord = tuple[_Stream, int, int, bool]
"""What a sent packet remembers of one STREAM frame: stream, offset, length, FIN."""


class StreamSet:
    """Every stream of one session.

    Args:
        local: our NodeId; peer: the peer's (they decide the id direction bit).
        events: the manager's event queue.
        allocate_handle: gives a fresh node-wide ``StreamId``.
        release_handle: called once a stream is gone for good.
        budget: the node-wide allowance the session's receive window grows from.
    """

    def __init__(
        self,
        *,
        local: NodeId,
        peer: NodeId,
        config: SessionConfig,
        events: deque[SessionEvent],
        allocate_handle: Callable[[], StreamId],
        release_handle: Callable[[StreamId], None],
        budget: ReceiveBudget | None = None,
    ) -> None:
        self.peer = peer
        self._budget = budget
        self._granted = 0  # growth of recv_window taken from the budget
        self._config = config
        self._events = events
        self._allocate = allocate_handle
        self._release = release_handle
        self._our_bit = 0 if local < peer else 1
        self.by_wire: dict[int, _Stream] = {}
        self.by_handle: dict[StreamId, _Stream] = {}
        self._local_opened = 0
        self._local_live = 0
        self._peer_credit = 0  # stream numbers we may use: unknown before the handshake
        self._peer_opened = 0
        self._peer_closed = 0
        self._streams_sent = config.max_streams
        self._initial_stream_data = 0  # the peer's per-stream credit for new streams
        self.send_credit = 0  # the peer's MAX_DATA
        self.sent_total = 0
        self.recv_max_sent = config.session_receive_window
        self.recv_window = config.session_receive_window  # grows (auto-tuning)
        self._recv_updated = float("-inf")
        self.recv_highest = 0
        self.recv_consumed = 0
        self.control: deque[Frame] = deque()
        self._ready: deque[_Stream] = deque()
        self.last_activity = 0.0

    # -- parameters and commands ---------------------------------------------------------

    def set_peer_parameters(self, params: TransportParameters) -> None:
        """The handshake told us the peer's initial credit."""
        self._peer_credit = max(self._peer_credit, params.max_streams)
        self.send_credit = max(self.send_credit, params.max_data)
        self._initial_stream_data = params.max_stream_data
        for entry in self.by_wire.values():
            entry.send.max_data = max(entry.send.max_data, params.max_stream_data)
            self._enqueue(entry)

    def parameters(self) -> TransportParameters:
        """Our transport parameters for the handshake payload."""
        config = self._config
        return TransportParameters(
            max_data=config.session_receive_window,
            max_stream_data=config.stream_receive_window,
            max_streams=config.max_streams,
        )

    @property
    def live(self) -> int:
        """Streams open now (both directions, ours and the peer's)."""
        return len(self.by_wire)

    def open(self, service: int, now: float) -> StreamId:
        """Open a stream of ours; its data waits until the peer's credit allows.

        Raises:
            StateError: ``max_streams`` of our streams are open already.
        """
        if self._local_live >= self._config.max_streams:
            raise StateError(f"{self._local_live} streams to this peer are open already")
        number = self._local_opened
        self._local_opened += 1
        self._local_live += 1
        entry = self._new(number << 1 | self._our_bit, local=True, service=service)
        entry.opened = True
        self.last_activity = now
        self._enqueue(entry)
        return entry.handle

    def _new(self, wire_id: int, *, local: bool, service: int | None) -> _Stream:
        config = self._config
        handle = self._allocate()
        entry = _Stream(
            handle,
            wire_id,
            local,
            SendStream(
                buffer_limit=config.stream_send_buffer,
                max_data=self._initial_stream_data,
                service=service if local else None,
            ),
            RecvStream(handle=handle, window=config.stream_receive_window, service=None),
        )
        self.by_wire[wire_id] = entry
        self.by_handle[handle] = entry
        return entry

    def get(self, handle: StreamId) -> _Stream:
        """The stream behind ``handle``; ``StateError`` when it is gone."""
        entry = self.by_handle.get(handle)
        if entry is None:
            raise StateError(f"stream {handle} is closed")
        return entry

    def write(self, handle: StreamId, data: bytes, now: float) -> int:
        """Buffer bytes on a stream; return how many were taken."""
        entry = self.get(handle)
        taken = entry.send.write(data)
        if taken:
            self.last_activity = now
            self._enqueue(entry)
        return taken

    def finish(self, handle: StreamId) -> None:
        """Finish our direction of a stream (FIN after the data)."""
        entry = self.get(handle)
        entry.send.finish()
        self._enqueue(entry)

    def reset(self, handle: StreamId, code: int) -> None:
        """Abandon both directions: RESET_STREAM ours, STOP_SENDING theirs."""
        entry = self.get(handle)
        if entry.send.reset(code):
            self.control.append(ResetStream(entry.wire_id, code, entry.send.final_size))
        recv = entry.recv
        if recv.state in (RecvState.RECV, RecvState.SIZE_KNOWN):
            self.control.append(StopSending(entry.wire_id, code))
        self._stop_reading(entry)
        entry.reset_reported = True
        self._check_removal(entry)

    def _stop_reading(self, entry: _Stream) -> None:
        entry.recv.stop()
        self._discard_undelivered(entry)

    def _discard_undelivered(self, entry: _Stream) -> None:
        """Bytes received that nobody will read count as taken (session credit)."""
        recv = entry.recv
        extra = recv.highest - recv.delivered
        if extra > 0:
            recv.delivered = recv.highest
            recv.consumed += extra
            self._credit_session(extra, 0.0, 0.0)  # nothing was read: never grows

    # -- frames from the peer ------------------------------------------------------------

    def _lookup(self, wire_id: int) -> _Stream | None:
        """The stream for a frame, opening peer streams as needed; None when closed.

        Raises:
            DecodeError: a stream the peer may not use.
        """
        entry = self.by_wire.get(wire_id)
        if entry is not None:
            return entry
        number, bit = wire_id >> 1, wire_id & 1
        if bit == self._our_bit:
            if number >= self._local_opened:
                raise DecodeError(f"frame for stream {wire_id} we never opened")
            return None
        if number < self._peer_opened:
            return None
        if number >= self._streams_sent:
            raise DecodeError(f"stream {wire_id} beyond the stream credit {self._streams_sent}")
        for opened in range(self._peer_opened, number + 1):
            entry = self._new(opened << 1 | bit, local=False, service=None)
        self._peer_opened = number + 1
        return entry

    def on_stream(self, frame: Stream, now: float) -> None:
        """Take a STREAM frame.

        Raises:
            DecodeError: a flow-control or stream-limit violation (fatal).
        """
        entry = self._lookup(frame.stream_id)
        if entry is None:
            return
        recv = entry.recv
        if frame.service is not None and recv.service is None:
            recv.service = frame.service
        grown, ready = recv.on_data(frame.offset, frame.data, frame.fin)
        self.recv_highest += grown
        if self.recv_highest > self.recv_max_sent:
            raise DecodeError("session data beyond the MAX_DATA credit")
        if recv.state is RecvState.RESET_READ:
            self._discard_undelivered(entry)  # the application stopped reading
            return
        if not entry.opened and recv.service is not None:
            entry.opened = True
            opened = StreamOpened(stream=entry.handle, peer=self.peer, service=recv.service)
            self._events.append(opened)
        if not entry.opened:
            return  # hold events until the peer's first frame says which service
        self._deliver(entry, ready, now)

    def _deliver(self, entry: _Stream, ready: list[bytes], now: float) -> None:
        events = self._events
        for chunk in ready:
            events.append(StreamDataReceived(entry.handle, chunk))
            self.last_activity = now
        recv = entry.recv
        if recv.finished:
            recv.mark_read()
            events.append(StreamFinished(entry.handle))
            self._check_removal(entry)

    def on_reset(self, frame: ResetStream) -> None:
        """Take a RESET_STREAM: the peer abandoned its direction."""
        entry = self._lookup(frame.stream_id)
        if entry is None:
            return
        recv = entry.recv
        if recv.state not in (RecvState.RECV, RecvState.SIZE_KNOWN):
            return
        self.recv_highest += recv.on_reset(frame.error_code, frame.final_size)
        if self.recv_highest > self.recv_max_sent:
            raise DecodeError("reset final size beyond the MAX_DATA credit")
        self._discard_undelivered(entry)
        recv.reset_delivered()
        if entry.opened:
            self._report_reset(entry, frame.error_code)
        elif entry.send.reset(frame.error_code):  # never reported: nobody would close it
            self.control.append(ResetStream(entry.wire_id, frame.error_code, 0))
        self._check_removal(entry)

    def on_stop_sending(self, frame: StopSending) -> None:
        """Take a STOP_SENDING: abandon our direction as asked."""
        entry = self._lookup(frame.stream_id)
        if entry is None:
            return
        if entry.send.reset(frame.error_code, by_peer=True):
            self.control.append(ResetStream(entry.wire_id, frame.error_code, entry.send.final_size))
            self._report_reset(entry, frame.error_code)

    def _report_reset(self, entry: _Stream, code: int) -> None:
        if entry.opened and not entry.reset_reported:
            entry.reset_reported = True
            self._events.append(StreamReset(entry.handle, code))

    def on_max_data(self, frame: MaxData) -> None:
        """Take a MAX_DATA: more session credit."""
        if frame.maximum > self.send_credit:
            self.send_credit = frame.maximum
            for entry in self.by_wire.values():
                self._enqueue(entry)

    def on_max_stream_data(self, frame: MaxStreamData) -> None:
        """Take a MAX_STREAM_DATA: more credit on one stream."""
        entry = self._lookup(frame.stream_id)
        if entry is not None and frame.maximum > entry.send.max_data:
            entry.send.max_data = frame.maximum
            self._enqueue(entry)

    def on_max_streams(self, frame: MaxStreams) -> None:
        """Take a MAX_STREAMS: we may open more streams."""
        if frame.maximum > self._peer_credit:
            self._peer_credit = frame.maximum
            for entry in self.by_wire.values():
                self._enqueue(entry)

    # -- credit --------------------------------------------------------------------------

    def _credit_session(self, count: int, now: float, grow_within: float) -> None:
        if count <= 0:
            return
        self.recv_consumed += count
        window = self.recv_window
        if self.recv_max_sent - self.recv_consumed <= window // 2:
            limit = self._config.max_session_receive_window
            grown = grown_window(window, now - self._recv_updated, grow_within, limit)
            if grown > window and self._budget is not None:
                extra = self._budget.grant(grown - window)
                self._granted += extra
                grown = window + extra
            self.recv_window = grown
            self._recv_updated = now
            self.recv_max_sent = self.recv_consumed + self.recv_window
            self.control.append(MaxData(self.recv_max_sent))

    def on_consumed(self, handle: StreamId, count: int, now: float, grow_within: float) -> None:
        """The application took ``count`` bytes of ``handle`` from the event queue.

        ``grow_within`` is two round trips: credit updates closer together than that
        grow the windows (``grown_window``).
        """
        self._credit_session(count, now, grow_within)
        entry = self.by_handle.get(handle)
        if entry is None:
            return
        limit = self._config.max_stream_receive_window
        maximum = entry.recv.on_consumed(count, now, grow_within, limit)
        if maximum is not None:
            self.control.append(MaxStreamData(entry.wire_id, maximum))
        self._check_removal(entry)

    # -- frames to the peer --------------------------------------------------------------

    def _enqueue(self, entry: _Stream) -> None:
        if not entry.queued and not entry.removed and entry.send.wants_to_send():
            entry.queued = True
            self._ready.append(entry)

    @property
    def has_stream_data(self) -> bool:
        """True while some stream may have a frame to send."""
        return bool(self._ready)

    def only_tail_below(self, room: int) -> bool:
        """True when what the streams have to send is new data only (no loss, FIN,
        opening or reset), some but under ``room`` bytes in all: a part-filled packet
        that a following write would fill (``PacketBuilder.build_all`` holds it)."""
        credit = self.send_credit - self.sent_total
        total = 0
        for entry in self._ready:
            tail = entry.send.unsent_tail(credit)
            if tail is None:
                return False
            total += tail
            if total >= room:
                return False
        return total > 0

    def write_stream_frame(self, room: int, out: Writer) -> StreamRecord | None:
        """Append the next STREAM frame fitting ``room`` bytes to ``out``, round-robin
        over streams; its data is copied once, from the send buffer into ``out``."""
        ready = self._ready
        for _ in range(len(ready)):
            entry = ready.popleft()
            entry.queued = False
            send = entry.send
            if entry.local and (entry.wire_id >> 1) >= self._peer_credit:
                continue  # above the peer's stream credit: MAX_STREAMS re-queues it
            service = send.service if send.base == 0 else None
            header = stream_header_size(entry.wire_id, send.write_offset, room, service)
            if room <= header:
                entry.queued = True
                ready.appendleft(entry)
                return None
            taken = send.next_range(room - header, self.send_credit - self.sent_total)
            if taken is None:
                continue
            offset, end, fin, new_bytes = taken
            self.sent_total += new_bytes
            self._enqueue(entry)
            service = service if offset == 0 else None
            encode_stream_header(out, entry.wire_id, offset, end - offset, fin=fin, service=service)
            if end > offset:
                for part in send.parts(offset, end):
                    out.raw(part)
            return entry, offset, end - offset, fin
        return None

    def on_stream_acked(self, record: StreamRecord) -> None:
        """A STREAM frame we sent was acknowledged."""
        entry, offset, length, fin = record
        if entry.removed:
            return
        send = entry.send
        freed = send.on_acked(offset, length, fin)
        if freed and send.blocked and send.writable() and send.state in _WRITABLE:
            send.blocked = False
            self._events.append(StreamWritable(entry.handle))
        self._check_removal(entry)

    def on_stream_lost(self, record: StreamRecord) -> None:
        """A STREAM frame we sent was lost: queue its bytes again."""
        entry, offset, length, fin = record
        if entry.removed:
            return
        entry.send.on_lost(offset, length, fin)
        self._enqueue(entry)

    def on_control_acked(self, frame: Frame) -> None:
        """A control frame we sent was acknowledged."""
        if isinstance(frame, ResetStream):
            entry = self.by_wire.get(frame.stream_id)
            if entry is not None:
                entry.send.on_reset_acked()
                self._check_removal(entry)

    def on_control_lost(self, frame: Frame) -> None:
        """Send a lost control frame again if it still says something new."""
        if isinstance(frame, MaxData):
            if frame.maximum == self.recv_max_sent:
                self.control.append(frame)
            return
        if isinstance(frame, MaxStreams):
            if frame.maximum == self._streams_sent:
                self.control.append(frame)
            return
        stream_id = getattr(frame, "stream_id", None)
        entry = self.by_wire.get(stream_id) if stream_id is not None else None
        if entry is None:
            return
        if isinstance(frame, MaxStreamData):
            if frame.maximum == entry.recv.max_data_sent and entry.recv.state is RecvState.RECV:
                self.control.append(frame)
        elif isinstance(frame, ResetStream):
            if entry.send.state is SendState.RESET_SENT:
                self.control.append(frame)
        elif isinstance(frame, StopSending) and entry.recv.reset_code is None:
            self.control.append(frame)

    # -- lifetime ------------------------------------------------------------------------

    def _check_removal(self, entry: _Stream) -> None:
        recv = entry.recv
        if entry.removed or not entry.send.done or not recv.done:
            return
        if recv.consumed < recv.delivered:
            return  # data events still wait in the queue: keep the handle for credit
        entry.removed = True
        del self.by_wire[entry.wire_id]
        del self.by_handle[entry.handle]
        self._release(entry.handle)
        if entry.local:
            self._local_live -= 1
            return
        self._peer_closed += 1
        window = self._config.max_streams
        if self._peer_closed + window - self._streams_sent >= max(1, window // 4):
            self._streams_sent = self._peer_closed + window
            self.control.append(MaxStreams(self._streams_sent))

    def release_budget(self) -> None:
        """Give the receive-window growth back to the node (idempotent)."""
        if self._budget is not None and self._granted:
            self._budget.release(self._granted)
        self._granted = 0

    def close_all(self, code: int) -> None:
        """The session ended: tell the application of every stream, forget them all."""
        self.release_budget()
        for entry in list(self.by_wire.values()):
            if (
                entry.opened
                and not entry.reset_reported
                and not (entry.send.done and entry.recv.done)
            ):
                self._events.append(StreamReset(entry.handle, code))
            entry.removed = True
            self._release(entry.handle)
        self.by_wire.clear()
        self.by_handle.clear()
        self._ready.clear()
        self.control.clear()
