"""``MessagingService``: messages that are never lost, over end-to-end streams (sans-IO).

Theory of operation (docs/protocol/messaging.md):

1. ``send`` gives the message a random 16-byte id and the next sequence number of our
   conversation with the peer, commits it to the store and only then returns.
2. Each peer with something to send gets a ``Channel``: a stream we open to its
   ``MESSAGING_SERVICE``; the stream starts with a FLOOR (the lowest number still
   pending) and the READ receipts the peer has not confirmed, then every pending
   message in order. A message stays pending until its ACK, its cancellation or its
   expiry, whatever happens to streams and sessions.
3. When the stream is reset, its session closes or fails, or a written message is not
   acknowledged within ``ack_timeout``, the channel backs off (exponential, jittered
   from the ``Entropy``) and then opens a new stream and writes everything pending
   again: at-least-once on the wire; the receiver's ``Inbox`` makes it exactly once.
4. Frames from a peer arrive on streams *it* opened; the sender of every frame is the
   session's authenticated peer, so no frame can speak for another node.
5. Mailboxes (``mailbox.py``): after ``mailbox_after`` failed attempts to reach a peer
   that named a mailbox, its pending messages are also sealed to it (``sealed.py``)
   and deposited there; a node that named a mailbox collects from it.

The service calls its ``StreamTransport`` (the node's ``SessionManager``) and its
``MessageStore`` synchronously; it reads no clock: ``now`` comes in, and unix time is
``now + wall_offset`` (the driver knows the offset).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict, deque
from typing import Protocol

from meshnet.crypto.entropy import Entropy
from meshnet.crypto.identity import Identity, IdentityRecord, NodeId, SignatureVerifier
from meshnet.deadlines import DeadlineHeap
from meshnet.errors import AuthenticationError, DecodeError, LocalError, StateError
from meshnet.ids import MessageId, StreamId
from meshnet.services.messaging.channel import Channel
from meshnet.services.messaging.config import MESSAGING_SERVICE, MessagingConfig
from meshnet.services.messaging.events import (
    MessageDelivered,
    MessageExpired,
    MessageRead,
    MessagingEvent,
    MessagingStatus,
)
from meshnet.services.messaging.inbox import Inbox
from meshnet.services.messaging.mailbox import MailboxHost
from meshnet.services.messaging.messages import (
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
from meshnet.services.messaging.outbox import Outbox
from meshnet.services.messaging.records import (
    IncomingMessage,
    OutboxState,
    OutgoingMessage,
)
from meshnet.services.messaging.sealed import open_sealed, seal
from meshnet.services.messaging.store import MessageStore
from meshnet.wire.codes import MessagingFrame
from meshnet.wire.framing import StreamDeframer

__all__ = ["MessagingService", "StreamTransport"]

_MAX_RETIRED = 1024  # streams we stopped using whose late events we still swallow
_MAX_MAILBOXES_KNOWN = 4096  # peers whose mailbox we remember
_DEPOSIT_BATCH = 64  # messages sealed and deposited per failed attempt
_COLLECT_AGAIN = 1.0  # after mail came: collect again this soon (there may be more)
_EXPIRE_EVERY = 3600.0  # held mail is checked for age this often (or 4x per max age)


class StreamTransport(Protocol):
    """The stream verbs of ``SessionManager`` that messaging uses."""

    def open_stream(self, destination: NodeId, now: float, *, service: int = 0) -> StreamId: ...

    def stream_send(self, stream: StreamId, data: bytes, now: float) -> int: ...

    def stream_close(self, stream: StreamId, now: float) -> None: ...

    def stream_reset(self, stream: StreamId, now: float, error_code: int = 0) -> None: ...


class MessagingService:
    """The messaging core of one node.

    Args:
        identity: our keys (mail we deposit is signed, mail for us is opened, with them).
        verifier: checks the identity records peers send with their mailbox.
        store: the durable store; every write is committed before the call returns.
        transport: opens and writes end-to-end streams.
        entropy: message ids, epochs and backoff jitter.
        config: limits and timers.
        wall_offset: unix time minus ``now`` (0 where ``now`` already is unix time).
    """

    def __init__(
        self,
        *,
        identity: Identity,
        verifier: SignatureVerifier,
        store: MessageStore,
        transport: StreamTransport,
        entropy: Entropy,
        config: MessagingConfig | None = None,
        wall_offset: float = 0.0,
    ) -> None:
        self.identity = identity
        self.local = identity.node_id
        self._verifier = verifier
        self.config = config or MessagingConfig()
        self.store = store
        self.wall_offset = wall_offset
        self._transport = transport
        self._entropy = entropy
        self._events: deque[MessagingEvent] = deque()
        self._drops: dict[str, int] = {}
        self.inbox = Inbox(store=store, config=self.config, events=self._events, drop=self._drop)
        self.outbox_state = Outbox(
            store=store, config=self.config, entropy=entropy, wall_offset=wall_offset
        )
        self._channels: dict[NodeId, Channel] = {}
        self._ours: dict[StreamId, NodeId] = {}
        self._retired: OrderedDict[StreamId, None] = OrderedDict()
        self._theirs: dict[StreamId, tuple[NodeId, StreamDeframer]] = {}
        self._timers: DeadlineHeap[NodeId] = DeadlineHeap()
        self.mailboxes = MailboxHost(store=store, config=self.config, drop=self._drop)
        self._mailbox: NodeId | None = None
        self._collect_at: float | None = None
        self._expire_at: float | None = 0.0 if self.mailboxes.owners else None
        """When held mail is next checked for age (0: at the first timer after a restart)."""
        self._mailbox_of: OrderedDict[NodeId, tuple[NodeId, IdentityRecord]] = OrderedDict()
        for peer in self.outbox_state.peers():
            self._timers.set(peer, 0.0)
        for peer in self.inbox.unreported:
            self._timers.set(peer, 0.0)

    # -- helpers -------------------------------------------------------------------------

    def _drop(self, reason: str) -> None:
        self._drops[reason] = self._drops.get(reason, 0) + 1

    def _wall(self, now: float) -> float:
        return now + self.wall_offset

    def _channel(self, peer: NodeId) -> Channel:
        channel = self._channels.get(peer)
        if channel is None:
            channel = self._channels[peer] = Channel(peer)
        return channel

    # -- commands ------------------------------------------------------------------------

    def send(
        self, peer: NodeId, body: bytes, now: float, *, expires_in: float | None = None
    ) -> MessageId:
        """Accept a message for ``peer``; it is committed to the store when this returns.

        Raises:
            LocalError: the peer is this node, the body is over ``max_body``, or
                ``expires_in`` is not positive.
        """
        if peer == self.local:
            raise LocalError("a node does not send messages to itself")
        message = self.outbox_state.create(peer, body, self._wall(now), expires_in)
        channel = self._channel(peer)
        if channel.stream is not None:
            channel.unsent.append(message.id)
        self._service(channel, now)
        return message.id

    def cancel(self, message_id: MessageId, now: float) -> None:
        """Stop retrying a pending message (one already delivered cannot be recalled).

        Raises:
            LocalError: no message we sent has this id.
            StateError: the message is no longer pending.
        """
        self.outbox_state.check_cancel(message_id)
        message = self._settle(message_id, OutboxState.CANCELLED, now)
        self._floor_changed(message.peer, now)

    def mark_read(self, message_id: MessageId, now: float) -> None:
        """Mark a received message read; the read receipt goes back to its sender.

        Raises:
            LocalError: no received message has this id.
            StateError: it is held (not delivered yet).
        """
        message = self.inbox.mark_read(message_id, self._wall(now))
        if message is not None:
            channel = self._channel(message.peer)
            if channel.stream is not None:
                channel.queue_receipt(MessagingFrame.READ, message_id)
            self._service(channel, now)

    def use_mailbox(self, mailbox: NodeId | None, now: float) -> None:
        """Name the node that holds our mail while we are away (None: no mailbox).

        The mailbox is asked to hold our mail, every peer we talk to from now on hears
        where to leave it, and we collect from the mailbox every ``collect_interval``.

        Raises:
            LocalError: ``mailbox`` is this node.
        """
        if mailbox == self.local:
            raise LocalError("a node is not its own mailbox")
        self._mailbox = mailbox
        self._collect_at = None
        if mailbox is not None:
            channel = self._channel(mailbox)
            if channel.stream is not None:  # a new stream starts with the notice anyway
                channel.control.append(MailboxNotice(mailbox=mailbox, record=self.identity.record))
            self._collect(mailbox, now)

    def _collect(self, mailbox: NodeId, now: float) -> None:
        self._collect_at = now + self.config.collect_interval
        channel = self._channel(mailbox)
        if Collect() not in channel.control:
            channel.control.append(Collect())
        self._service(channel, now)

    def outbox(self, *, peer: NodeId | None = None, limit: int = 100) -> list[OutgoingMessage]:
        """The newest ``limit`` messages we sent (every state), oldest first."""
        return self.store.list_outgoing(peer=peer, limit=limit)

    def inbox_messages(
        self, *, peer: NodeId | None = None, limit: int = 100, unread: bool = False
    ) -> list[IncomingMessage]:
        """The newest ``limit`` messages delivered to us (not yet marked read, if
        ``unread``), in delivery order."""
        return self.store.list_incoming(peer=peer, limit=limit, unread=unread)

    # -- settling outgoing messages ------------------------------------------------------

    def _settle(self, message_id: MessageId, state: OutboxState, now: float) -> OutgoingMessage:
        message = self.outbox_state.settle(message_id, state, self._wall(now))
        channel = self._channels.get(message.peer)
        if channel is not None:
            channel.written.pop(message_id, None)
            self._arm(channel)
        return message

    def _floor_changed(self, peer: NodeId, now: float) -> None:
        channel = self._channels.get(peer)
        if channel is not None and channel.stream is not None:
            channel.control.append(self.outbox_state.floor(peer))
            self._service(channel, now)

    def _on_receipt(self, peer: NodeId, receipt: Receipt, now: float) -> None:
        channel = self._channel(peer)
        if receipt.kind is MessagingFrame.ACK:
            for message_id in receipt.ids:
                message = self.outbox_state.pending.get(message_id)
                if message is None:
                    continue  # acknowledged twice, cancelled or expired meanwhile
                if message.peer != peer:
                    self._drop("foreign_ack")
                    continue
                self._settle(message_id, OutboxState.DELIVERED, now)
                channel.failures = 0
                self._events.append(MessageDelivered(id=message_id, peer=peer))
        elif receipt.kind is MessagingFrame.READ:
            for message_id in receipt.ids:
                self._on_read(peer, message_id, now)
                channel.queue_receipt(MessagingFrame.READ_ACK, message_id)
            self._service(channel, now)
        elif receipt.kind is MessagingFrame.READ_ACK:
            self.inbox.read_acknowledged(peer, receipt.ids)
        elif receipt.kind is MessagingFrame.DEPOSITED:
            for message_id in receipt.ids:
                message = self.outbox_state.pending.get(message_id)
                known = self._mailbox_of.get(message.peer) if message is not None else None
                if known is not None and known[0] == peer:
                    self.outbox_state.deposited.add(message_id)
        else:
            self.mailboxes.release(peer, receipt.ids)

    def _on_read(self, peer: NodeId, message_id: MessageId, now: float) -> None:
        message = self.outbox_state.pending.get(message_id)
        if message is not None:
            if message.peer != peer:
                self._drop("foreign_read")
                return
            self._settle(message_id, OutboxState.DELIVERED, now)  # read implies delivered
            self._events.append(MessageDelivered(id=message_id, peer=peer))
        if self.outbox_state.mark_read(peer, message_id, self._wall(now)):
            self._events.append(MessageRead(id=message_id, peer=peer))
        elif message is None:
            stored = self.store.outgoing(message_id)
            if stored is None or stored.peer != peer:
                self._drop("foreign_read")

    # -- our stream to each peer ---------------------------------------------------------

    def _wants_stream(self, channel: Channel, now: float) -> bool:
        if any(
            channel.has_receipts(kind) for kind in channel.receipts if kind != MessagingFrame.READ
        ):
            return True  # answers go now: the peer is talking to us
        if now < channel.retry_at:
            return False
        if channel.control:
            return True
        peer = channel.peer
        return self.outbox_state.has_pending(peer) or bool(self.inbox.unreported.get(peer))

    def _open(self, channel: Channel, now: float) -> None:
        peer = channel.peer
        try:
            stream = self._transport.open_stream(peer, now, service=MESSAGING_SERVICE)
        except (StateError, LocalError):
            self._drop("stream_refused")
            self._lose(channel, now)
            return
        channel.stream = stream
        channel.last_write = now
        self._ours[stream] = peer
        if self._mailbox is not None:
            notice = MailboxNotice(mailbox=self._mailbox, record=self.identity.record)
            channel.control.appendleft(notice)
            if peer == self._mailbox and Collect() not in channel.control:
                channel.control.append(Collect())
        channel.control.appendleft(self.outbox_state.floor(peer))
        for message_id in self.inbox.unreported.get(peer, ()):
            channel.queue_receipt(MessagingFrame.READ, message_id)
        channel.unsent.extend(self.outbox_state.pending_to(peer))

    def _next_frame(self, channel: Channel, now: float) -> Frame | None:
        frame = channel.next_control()
        if frame is not None:
            return frame
        while channel.unsent:
            message_id = channel.unsent.popleft()
            if message_id not in self.outbox_state.pending or message_id in channel.written:
                continue
            channel.written[message_id] = now
            return self.outbox_state.frame(message_id)
        return None

    def _service(self, channel: Channel, now: float) -> None:
        """Open the channel's stream if it needs one, then write what fits."""
        if channel.stream is None and self._wants_stream(channel, now):
            self._open(channel, now)
        stream = channel.stream
        if stream is not None:
            try:
                while True:
                    if channel.buffer:
                        taken = self._transport.stream_send(stream, channel.buffer, now)
                        channel.buffer = channel.buffer[taken:]
                        if channel.buffer:
                            break  # flow control: StreamWritable resumes
                    frame = self._next_frame(channel, now)
                    if frame is None:
                        break
                    channel.buffer = encode_record(frame)
                    channel.last_write = now
            except StateError:
                self._lose(channel, now)
        self._arm(channel)

    def _retire(self, stream: StreamId) -> None:
        self._ours.pop(stream, None)
        self._theirs.pop(stream, None)
        self._retired[stream] = None
        while len(self._retired) > _MAX_RETIRED:
            self._retired.popitem(last=False)

    def _lose(self, channel: Channel, now: float) -> None:
        if channel.stream is not None:
            self._retire(channel.stream)
        channel.lost(now, self.config, self._entropy)
        self._arm(channel)
        if channel.failures >= self.config.mailbox_after:
            self._deposit(channel.peer, now)

    def _deposit(self, peer: NodeId, now: float) -> None:
        """Seal what is pending for ``peer`` and leave it with ``peer``'s mailbox."""
        known = self._mailbox_of.get(peer)
        if known is None or known[0] in (self.local, peer):
            return
        mailbox, record = known
        channel = self._channel(mailbox)
        if channel.stream is None and now < channel.retry_at:
            return  # the mailbox is unreachable too: try at the next failure
        outbox = self.outbox_state
        batch = [m for m in outbox.pending_to(peer) if m not in outbox.deposited]
        for message_id in batch[:_DEPOSIT_BATCH]:
            frame = outbox.frame(message_id)
            try:
                sealed = seal(frame, sender=self.identity, recipient=record, entropy=self._entropy)
            except ValueError:
                self._drop("bad_record")  # a low-order static key: nothing can be sealed
                del self._mailbox_of[peer]
                return
            channel.control.append(Deposit(recipient=peer, id=message_id, sealed=sealed))
        if batch:
            self._service(channel, now)

    def _arm(self, channel: Channel) -> None:
        peer = channel.peer
        if channel.stream is not None:
            deadline = channel.ack_deadline(self.config)
            if deadline is None and not channel.buffer and not channel.unsent:
                deadline = channel.last_write + self.config.stream_idle
        elif self.outbox_state.has_pending(peer) or self.inbox.unreported.get(peer):
            deadline = channel.retry_at
        else:
            deadline = None
        self._timers.set(peer, deadline)

    # -- stream events from the session layer --------------------------------------------

    def owns(self, stream: StreamId) -> bool:
        """Whether ``stream`` is a messaging stream (its events are ours)."""
        return stream in self._ours or stream in self._theirs or stream in self._retired

    def stream_opened(self, stream: StreamId, peer: NodeId, service: int) -> bool:
        """A peer opened a stream; True when it is a messaging stream (we keep it)."""
        if service != MESSAGING_SERVICE:
            return False
        self._theirs[stream] = (peer, StreamDeframer(MAX_RECORD))
        return True

    def stream_data(self, stream: StreamId, data: bytes, now: float) -> None:
        """Bytes on a messaging stream: frames from the peer that opened it."""
        entry = self._theirs.get(stream)
        if entry is None:
            self._drop("unexpected_data")  # a peer writing on our stream: not our protocol
            return
        peer, deframer = entry
        try:
            records = deframer.feed(data)
        except DecodeError:
            self._drop("oversize_record")
            self._retire(stream)
            with contextlib.suppress(StateError):
                self._transport.stream_reset(stream, now)
            return
        with self.store.batch():  # one disk sync for everything this read carried
            for record in records:
                try:
                    frame = decode_frame(record)
                except DecodeError:
                    self._drop("malformed")
                    continue
                self._on_frame(peer, frame, now)

    def _on_frame(self, peer: NodeId, frame: Frame, now: float) -> None:
        if isinstance(frame, MessageFrame):
            if self.inbox.receive(peer, frame, now, self._wall(now)):
                channel = self._channel(peer)
                channel.queue_receipt(MessagingFrame.ACK, frame.id)
                self._service(channel, now)
        elif isinstance(frame, Receipt):
            self._on_receipt(peer, frame, now)
        elif isinstance(frame, Floor):
            self.inbox.floor(peer, frame, self._wall(now))
        else:
            self._on_mailbox_frame(peer, frame, now)

    def _on_mailbox_frame(
        self, peer: NodeId, frame: MailboxNotice | Deposit | Collect | Mail, now: float
    ) -> None:
        if isinstance(frame, Mail):
            self._on_mail(peer, frame, now)
            return
        if not self.inbox.allowed(peer, now):
            self._drop("quota")
            return
        channel = self._channel(peer)
        if isinstance(frame, MailboxNotice):
            self._on_notice(peer, frame, now)
        elif isinstance(frame, Deposit):
            if self.mailboxes.deposit(frame, self._wall(now)):
                channel.queue_receipt(MessagingFrame.DEPOSITED, frame.id)
                if self._expire_at is None:
                    self._expire_at = now + self._expire_every()
        else:
            channel.control.extend(self.mailboxes.collect(peer, self._wall(now)))
        self._service(channel, now)

    def _on_notice(self, peer: NodeId, frame: MailboxNotice, now: float) -> None:
        if frame.mailbox == self.local:
            if self.mailboxes.register(peer, self._wall(now)) and self._expire_at is None:
                self._expire_at = now + self._expire_every()
            return
        try:
            if frame.record.node_id != peer:
                raise AuthenticationError("the record is not the sender's")
            frame.record.verify(self._verifier)
        except AuthenticationError:
            self._drop("bad_record")
            return
        self._mailbox_of.pop(peer, None)
        self._mailbox_of[peer] = (frame.mailbox, frame.record)
        while len(self._mailbox_of) > _MAX_MAILBOXES_KNOWN:
            self._mailbox_of.popitem(last=False)

    def _on_mail(self, mailbox: NodeId, frame: Mail, now: float) -> None:
        """Mail our mailbox held: open it, file it under its signed sender, release it."""
        if mailbox != self._mailbox:
            self._drop("unexpected_mail")
            return
        release = True
        try:
            sender, message = open_sealed(frame.sealed, recipient=self.identity)
        except (AuthenticationError, DecodeError):
            self._drop("bad_seal")
        else:
            if sender == self.local or message.id != frame.id:
                self._drop("bad_seal")
            elif self.inbox.receive(sender, message, now, self._wall(now)):
                to_sender = self._channel(sender)  # best effort: it retries until we meet
                to_sender.queue_receipt(MessagingFrame.ACK, message.id)
                self._service(to_sender, now)
            else:
                release = False  # refused (quota): the mailbox keeps it for later
        if release:
            self._channel(mailbox).queue_receipt(MessagingFrame.RELEASE, frame.id)
            self._service(self._channel(mailbox), now)
        self._collect_at = now + _COLLECT_AGAIN

    def stream_writable(self, stream: StreamId, now: float) -> None:
        peer = self._ours.get(stream)
        if peer is not None:
            self._service(self._channel(peer), now)

    def stream_finished(self, stream: StreamId, now: float) -> None:
        """The peer finished its direction: finish ours too, so the stream is freed."""
        peer = self._ours.get(stream)
        if peer is not None:
            if self._channel(peer).stream != stream:
                self._retire(stream)  # the peer answered our FIN: the stream is done
        elif stream in self._theirs:
            self._retire(stream)
            with contextlib.suppress(StateError):
                self._transport.stream_close(stream, now)

    def stream_reset(self, stream: StreamId, now: float) -> None:
        peer = self._ours.get(stream)
        channel = self._channels.get(peer) if peer is not None else None
        if channel is not None and channel.stream == stream:
            self._lose(channel, now)
        else:
            self._retire(stream)

    def session_ended(self, peer: NodeId, now: float) -> None:
        """The session to ``peer`` closed or could not be made: its streams are gone."""
        for stream in [s for s, (p, _) in self._theirs.items() if p == peer]:
            self._retire(stream)
        channel = self._channels.get(peer)
        if channel is not None and channel.stream is not None:
            self._lose(channel, now)

    # -- events, time, inspection --------------------------------------------------------

    def next_event(self) -> MessagingEvent | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        deadlines = [
            t
            for t in (
                self._timers.earliest(),
                self.outbox_state.expiry_timer(),
                self._collect_at,
                self._expire_at,
            )
            if t is not None
        ]
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        if self._expire_at is not None and self._expire_at <= now:
            self.mailboxes.expire(self._wall(now))
            busy = self.mailboxes.owners or self.mailboxes.held()
            self._expire_at = now + self._expire_every() if busy else None
        mailbox = self._mailbox
        if mailbox is not None and self._collect_at is not None and self._collect_at <= now:
            self._collect(mailbox, now)
        for message_id in self.outbox_state.expired(now):
            message = self._settle(message_id, OutboxState.EXPIRED, now)
            self._events.append(MessageExpired(id=message_id, peer=message.peer))
            self._floor_changed(message.peer, now)
        for peer in self._timers.pop_due(now):
            channel = self._channel(peer)
            stream = channel.stream
            deadline = channel.ack_deadline(self.config)
            if stream is not None and deadline is not None and deadline <= now:
                self._drop("ack_timeout")
                with contextlib.suppress(StateError):
                    self._transport.stream_reset(stream, now)
                self._lose(channel, now)
            elif stream is not None and deadline is None and self._idle(channel, now):
                channel.stream = None  # stays in _ours until the peer finishes it too
                with contextlib.suppress(StateError):
                    self._transport.stream_close(stream, now)
            self._service(channel, now)

    def _expire_every(self) -> float:
        return min(_EXPIRE_EVERY, self.config.mailbox_max_age / 4)

    def _idle(self, channel: Channel, now: float) -> bool:
        return (
            not channel.buffer
            and not channel.unsent
            and not channel.control
            and now >= channel.last_write + self.config.stream_idle
        )

    def status(self) -> MessagingStatus:
        return MessagingStatus(
            outbox_pending=len(self.outbox_state.pending),
            inbox_held=self.inbox.held,
            peers_sending=len(self.outbox_state.peers()),
            streams_open=len(self._ours) + len(self._theirs),
            mailbox=str(self._mailbox) if self._mailbox is not None else None,
            mailbox_owners=len(self.mailboxes.owners),
            mailbox_held=self.mailboxes.held(),
            drops=tuple(sorted(self._drops.items())),
        )
