"""``PacketBuilder``: fills and seals a session's DATA packets (aioquic ``packet_builder``).

One packet at a time, never over ``max_packet`` bytes (docs/protocol/session.md §4):

1. the packet number (varint), never reused, rekeys included;
2. an ACK frame when one is due, or for free when the packet carries other frames,
   with a PATH_ROOM frame beside it while the peer's packets come over a stream path;
3. if the congestion window allows, or a probe is owed: REKEY fragments, control
   frames (credit, resets, MAX_STREAMS), queued datagrams, then STREAM frames
   round-robin over the streams (retransmissions first); a PING when the packet must
   elicit an acknowledgement (a probe, a keepalive, confirming new keys) but has
   nothing else;
4. seal under the current epoch; hand ``recovery`` what it carried, so an
   acknowledgement or a loss can be applied to each frame later.

Packets with only an ACK frame are not in flight (RFC 9002 §2) and are not tracked.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from meshnet.session.acks import AckTracker
from meshnet.session.frames import MIN_STREAM_HEADER, Frame, FrameType, PathRoom, encode_frame
from meshnet.session.keys import KeyRing
from meshnet.session.packets import DATA_OVERHEAD
from meshnet.session.recovery import LossRecovery, SentPacket
from meshnet.session.streamset import StreamSet
from meshnet.wire.buffer import Writer, varint_size
from meshnet.wire.headroom import Headroom

__all__ = ["PacketBuilder", "PingProbe", "datagram_room"]

_PN_ROOM = 8  # packet numbers below 2^56 take at most 8 varint bytes
_PING = bytes([FrameType.PING])
_TAIL_MARGIN = 64  # packet number, piggybacked ACK and STREAM header, roughly


def datagram_room(max_packet: int) -> int:
    """The largest datagram payload a packet of ``max_packet`` bytes carries."""
    room = max_packet - DATA_OVERHEAD - _PN_ROOM - 1
    return room - varint_size(room)


def _encoded(frame: Frame) -> bytes:
    writer = Writer()
    encode_frame(frame, writer)
    return bytes(writer)


class PacketBuilder:
    """The outgoing side of one session: packet numbers, datagram queue, probes."""

    __slots__ = (
        "_acks",
        "_recovery",
        "_streams",
        "built_bytes",
        "bytes_sent",
        "datagrams",
        "held",
        "last_eliciting_sent",
        "packets_sent",
        "ping_needed",
        "pings",
        "pn",
        "probes",
        "queued_bytes",
        "room_reported",
        "room_seen",
    )

    def __init__(
        self, *, streams: StreamSet, acks: AckTracker, recovery: LossRecovery, now: float
    ) -> None:
        self._streams = streams
        self._acks = acks
        self._recovery = recovery
        self.pn = 0
        self.datagrams: deque[bytes] = deque()
        self.queued_bytes = 0
        self.probes = 0  # probe packets owed (sent even when the window is full)
        self.ping_needed = False
        self.pings: list[PingProbe] = []  # application pings waiting for a packet
        self.last_eliciting_sent = now
        self.bytes_sent = 0
        self.packets_sent = 0
        self.room_seen = 0  # the path room of the peer's latest packet (routing says)
        self.room_reported = 0  # what our latest PATH_ROOM said
        self.held = False  # the last ``build_all`` kept a part-filled tail back
        self.built_bytes = 0  # what the last ``build_all`` sealed, in bytes

    # -- datagram queue ------------------------------------------------------------------

    def queue_datagram(self, payload: bytes, *, max_count: int, max_bytes: int) -> int:
        """Queue ``payload``, dropping the oldest to stay in bounds; return how many."""
        queue = self.datagrams
        dropped = 0
        while queue and (len(queue) >= max_count or self.queued_bytes + len(payload) > max_bytes):
            self.queued_bytes -= len(queue.popleft())
            dropped += 1
        queue.append(payload)
        self.queued_bytes += len(payload)
        return dropped

    def drop_datagrams(self, *, larger_than: int | None = None) -> int:
        """Drop queued datagrams (all, or those over ``larger_than``); return how many."""
        before = len(self.datagrams)
        if larger_than is None:
            self.datagrams.clear()
        else:
            self.datagrams = deque(d for d in self.datagrams if len(d) <= larger_than)
        self.queued_bytes = sum(len(d) for d in self.datagrams)
        return before - len(self.datagrams)

    # -- packets -------------------------------------------------------------------------

    def seal_alone(self, frame: Frame, keys: KeyRing, now: float) -> Headroom:
        """A packet carrying only ``frame`` (CLOSE while lingering), not tracked."""
        payload = Writer().varint(self.pn)
        encode_frame(frame, payload)
        self.pn += 1
        packet = keys.seal(bytes(payload), now)
        self.bytes_sent += len(packet)
        self.packets_sent += 1
        return packet

    def build_all(self, keys: KeyRing, max_packet: int, now: float, budget: int) -> list[Headroom]:
        """The packets the window (and owed probes) allows now, stopping once they add up
        to ``budget`` bytes (the caller asks again soon: ``has_more``)."""
        out: list[Headroom] = []
        total = 0
        self.held = False
        while total < budget:
            if out and self._only_tail(keys, max_packet):
                self.held = True  # sent at the next call, with whatever is written by then
                break
            packet = self._build(keys, max_packet, now)
            if packet is None:
                break
            out.append(packet)
            total += len(packet)
        self.built_bytes = total
        return out

    def _only_tail(self, keys: KeyRing, max_packet: int) -> bool:
        """True when the next packet would carry only the part-filled end of what the
        application wrote (nothing else to send; a pending ACK went in the first packet).

        After a full packet, such a tail waits for the next call (the caller asks for a
        timer now): an application writing in pieces of about a packet fills it in the
        meantime, so a 64 KiB write costs one packet instead of a full one and a runt
        (every node of the path pays per packet). docs/protocol/session.md §4.
        """
        if (
            not self._streams.has_stream_data
            or keys.outbox
            or keys.confirm_needed
            or self._streams.control
            or self.datagrams
            or self.ping_needed
            or self.pings
            or self.probes
            or not self._recovery.cc.can_send(max_packet)  # an ACK must come first anyway
        ):
            return False
        return self._streams.only_tail_below(max_packet - DATA_OVERHEAD - _TAIL_MARGIN)

    def _has_work(self, keys: KeyRing) -> bool:
        streams = self._streams
        return bool(
            keys.outbox
            or keys.confirm_needed
            or streams.control
            or self.datagrams
            or streams.has_stream_data
            or self.ping_needed
            or self.pings
            or self.probes
        )

    def _build(self, keys: KeyRing, max_packet: int, now: float) -> Headroom | None:
        probe = self.probes > 0
        acks = self._acks
        if not probe and not (acks.pending and acks.ack_due(now)) and not self._has_work(keys):
            return None  # the common call after a received packet: nothing to say yet
        limit = max_packet - DATA_OVERHEAD
        payload = Writer().varint(self.pn)
        records: list[object] = []
        ack_largest: int | None = None
        recovery = self._recovery
        send_ok = probe or recovery.cc.can_send(max_packet)
        if acks.pending and (acks.ack_due(now) or (send_ok and self._has_work(keys))):
            ack = acks.frame(now)
            if ack is not None:
                encode_frame(ack, payload)
                ack_largest = ack.largest
                if self.room_seen or self.room_reported:  # never on a datagram path
                    encode_frame(PathRoom(self.room_seen), payload)
                    self.room_reported = self.room_seen
        eliciting = False
        if send_ok:
            eliciting = self._fill(keys, payload, limit, records)
            if not eliciting and (self.ping_needed or self.pings or probe or keys.confirm_needed):
                payload.raw(_PING)
                eliciting = True
            if self.pings:
                records.extend(self.pings)  # answered by this packet's acknowledgement
                self.pings = []
        if not eliciting and ack_largest is None:
            return None
        self.ping_needed = False
        keys.confirm_needed = False  # any packet on the new keys makes the peer switch
        if probe and eliciting:
            self.probes -= 1
        packet = keys.seal(payload.view(), now)  # no copy of up to 64 KiB of plaintext
        recovery.on_sent(
            SentPacket(self.pn, now, len(packet), eliciting, eliciting, records, ack_largest)
        )
        self.pn += 1
        self.bytes_sent += len(packet)
        self.packets_sent += 1
        if eliciting:
            self.last_eliciting_sent = now
        return packet

    def _fill(self, keys: KeyRing, payload: Writer, limit: int, records: list[object]) -> bool:
        """Add the REKEY, control, datagram and STREAM frames that fit; True if any."""
        added = False
        outbox = keys.outbox
        while outbox:
            encoded = _encoded(outbox[0])
            if len(payload) + len(encoded) > limit:
                break  # the rest go in the next packet
            outbox.pop(0)
            payload.raw(encoded)
            added = True
        control = self._streams.control
        while control:
            encoded = _encoded(control[0])
            if len(payload) + len(encoded) > limit:
                break
            records.append(control.popleft())
            payload.raw(encoded)
            added = True
        datagrams = self.datagrams
        while datagrams:
            size = len(datagrams[0])
            if len(payload) + 1 + varint_size(size) + size > limit:
                break
            self.queued_bytes -= size
            payload.u8(FrameType.DATAGRAM).blob(datagrams.popleft())
            added = True
        streams = self._streams
        while streams.has_stream_data:
            room = limit - len(payload)
            if room <= MIN_STREAM_HEADER:
                break  # no STREAM frame fits (the packet is full): no search
            record = streams.write_stream_frame(room, payload)
            if record is None:
                break
            records.append(record)
            added = True
        return added


@dataclass(slots=True, eq=False)
class PingProbe:
    """An application ping riding on one ack-eliciting packet (re-queued if it is lost)."""

    token: int
    resent: int = 0
