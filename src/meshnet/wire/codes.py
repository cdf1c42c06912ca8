"""The one table of message-type codes for every layer (ironwood ``wire.go`` style).

Every message MeshNet puts on the wire starts with a one-byte type code, and every code
lives here, so two layers can never hand out the same number and a reader of a packet
dump can tell from the first byte which layer it belongs to. The byte space is cut into
ranges, one per layer's code space (frame layouts: docs/protocol/link.md)::

    0x00         never valid (a zeroed buffer is not a message)
    0x01-0x0F    link, outer frames   (what a transport carries)          LinkFrame
    0x10-0x1F    link, inner frames   (plaintext inside a TRANSPORT frame) LinkInner
    0x20-0x3F    routing              (announcements, routed packets)
    0x40-0x47    session, packets     (what the routing layer carries)    SessionPacket
    0x48-0x5F    session, frames      (plaintext inside a DATA packet)    SessionFrame
    0x60-0x6F    services, messaging  (frames on a messaging stream)     MessagingFrame
    0x70-0x7F    services, others     (content, tunnels, IP)
    0x80-0x8F    node (payloads the node itself exchanges with a neighbour)
    0x90-0xFF    reserved for extensions

A layer that starts using its range adds an ``IntEnum`` here and lists it in its
``CodeSpace`` entry; ``tests/wire/test_codes.py`` checks that every code sits in its
layer's range and that no two codes are equal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "CODE_SPACES",
    "CodeSpace",
    "LinkFrame",
    "LinkInner",
    "MessagingFrame",
    "NodePacket",
    "RoutingPacket",
    "SessionFrame",
    "SessionPacket",
    "code_space_of",
]


class LinkFrame(enum.IntEnum):
    """Outer link frames: the first byte of every frame a transport carries (link.md)."""

    HANDSHAKE_INIT = 0x01
    """Noise XX message 1 (initiator's ephemeral keys)."""
    HANDSHAKE_RESPONSE = 0x02
    """Noise XX message 2 (responder's keys, identity record, handshake signature)."""
    HANDSHAKE_FINISH = 0x03
    """Noise XX message 3 (initiator's identity record and handshake signature)."""
    TRANSPORT = 0x04
    """An AEAD-sealed inner frame under the link's current keys."""
    FRAGMENT = 0x05
    """One piece of an outer frame too large for the transport's MTU."""


class LinkInner(enum.IntEnum):
    """Inner link frames: the first plaintext byte of a sealed TRANSPORT frame (link.md)."""

    DATA = 0x10
    """A payload for the layers above the link."""
    KEEPALIVE = 0x11
    """Nothing to send; proves the link is alive."""
    PROBE = 0x12
    """A timestamped probe; the neighbour echoes it (RTT and loss samples)."""
    PROBE_ECHO = 0x13
    """The answer to a PROBE, carrying its id."""
    CLOSE = 0x14
    """The sender is closing the link, with a reason."""
    REKEY = 0x15
    """A step of the fresh handshake that replaces the link's keys."""
    PROBE_WITH_ECHOES = 0x16
    """A probe that also echoes the neighbour's probes (how long each was held), so no
    PROBE_ECHO is needed; used when both ends announce the capability (link.md)."""


class RoutingPacket(enum.IntEnum):
    """Routing packets: the first byte of a link payload meant for the router (routing.md)."""

    ANNOUNCE = 0x20
    """A signed link-state announcement, flooded hop by hop."""
    SUMMARY = 0x21
    """A neighbour's (origin, sequence) list for one range of origins (database sync)."""
    DATA = 0x22
    """A source-routed packet carrying an end-to-end payload."""
    ROUTE_ERROR = 0x23
    """A source-routed, signed report that a relay could not reach the next hop."""


class SessionPacket(enum.IntEnum):
    """End-to-end session packets: the first byte of every routed payload (session.md §2)."""

    HANDSHAKE_INIT = 0x40
    """One fragment of Noise IK message 1 (the initiator's keys and identity)."""
    HANDSHAKE_RESPONSE = 0x41
    """One fragment of Noise IK message 2 (the responder's keys and identity)."""
    DATA = 0x42
    """Frames sealed under one of the session's key epochs."""


class SessionFrame(enum.IntEnum):
    """Session frames: the plaintext inside a sealed DATA packet (session.md §4)."""

    PING = 0x48
    """Asks for an acknowledgement; carries nothing."""
    ACK = 0x49
    """Packet numbers received, as ranges, and the delay before acknowledging."""
    STREAM = 0x4A
    """Bytes of a reliable stream at an offset, maybe with the end of the stream."""
    DATAGRAM = 0x4B
    """One unreliable datagram."""
    MAX_DATA = 0x4C
    """Session-wide flow-control credit."""
    MAX_STREAM_DATA = 0x4D
    """One stream's flow-control credit."""
    MAX_STREAMS = 0x4E
    """How many streams the peer may open in total."""
    RESET_STREAM = 0x4F
    """The sender abandons its direction of a stream, with an error code."""
    STOP_SENDING = 0x50
    """The receiver asks the peer to abandon its direction of a stream."""
    CLOSE = 0x51
    """The sender closes the session, with a reason."""
    REKEY = 0x52
    """One fragment of a step of the fresh handshake that replaces the session's keys."""
    PATH_ROOM = 0x53
    """The largest packet the path from the peer to us carries whole (rides with ACKs)."""


class MessagingFrame(enum.IntEnum):
    """Messaging frames: the first byte of each record on a messaging stream (messaging.md)."""

    MESSAGE = 0x60
    """One user message: id, conversation epoch and sequence, times, body."""
    ACK = 0x61
    """Message ids the receiver committed to its inbox (the delivered receipt)."""
    READ = 0x62
    """Message ids the receiving user marked read (the read receipt)."""
    READ_ACK = 0x63
    """Read receipts the original sender has stored: the reader stops repeating them."""
    FLOOR = 0x64
    """Every sequence number below this one is settled at the sender (skip the gaps)."""
    MAILBOX = 0x65
    """"This node holds my mail", with the sender's identity record (sealing key)."""
    DEPOSIT = 0x66
    """A message sealed to a third node, left with that node's mailbox."""
    DEPOSITED = 0x67
    """Deposits the mailbox has stored (the depositor stops repeating them)."""
    COLLECT = 0x68
    """The mailbox's owner asks for what is held for it."""
    MAIL = 0x69
    """One sealed message the mailbox held, handed to its owner."""
    RELEASE = 0x6A
    """Mail the owner has stored: the mailbox forgets it."""


class NodePacket(enum.IntEnum):
    """Link payloads the node handles itself rather than passing to the router."""

    NEIGHBOUR = 0x80
    """Application bytes for the neighbour at the other end of the link (no routing)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeSpace:
    """One layer's range of type codes."""

    name: str
    """Who owns the range, e.g. ``"link outer"``."""
    low: int
    """The first code of the range."""
    high: int
    """The last code of the range (inclusive)."""
    codes: type[enum.IntEnum] | None
    """The enum of codes in use, or ``None`` while the layer has none yet."""

    def __contains__(self, code: object) -> bool:
        return isinstance(code, int) and self.low <= code <= self.high


CODE_SPACES: tuple[CodeSpace, ...] = (
    CodeSpace(name="link outer", low=0x01, high=0x0F, codes=LinkFrame),
    CodeSpace(name="link inner", low=0x10, high=0x1F, codes=LinkInner),
    CodeSpace(name="routing", low=0x20, high=0x3F, codes=RoutingPacket),
    CodeSpace(name="session packets", low=0x40, high=0x47, codes=SessionPacket),
    CodeSpace(name="session frames", low=0x48, high=0x5F, codes=SessionFrame),
    CodeSpace(name="messaging", low=0x60, high=0x6F, codes=MessagingFrame),
    CodeSpace(name="services", low=0x70, high=0x7F, codes=None),
    CodeSpace(name="node", low=0x80, high=0x8F, codes=NodePacket),
)
"""Every layer's range, in byte order; 0x00 and 0x90-0xFF belong to nobody."""


def code_space_of(code: int) -> CodeSpace | None:
    """The range ``code`` falls in, or ``None`` for 0x00 and the reserved 0x90-0xFF."""
    for space in CODE_SPACES:
        if code in space:
            return space
    return None
