"""``Inbox``: the receiving half of messaging (docs/protocol/messaging.md §4).

What it guarantees, given a store whose commits are durable:

* **exactly once**: a message id already in the store is a duplicate; it is
  acknowledged again (our earlier ACK may have been lost) and never delivered again;
* **in order per sender**: each sender numbers its messages (``epoch``, ``seq``); the
  next expected number is stored with the conversation; a message from further ahead
  is stored as ``HELD`` (and acknowledged) until the gap is filled or the sender's
  FLOOR says the missing ones were cancelled or expired;
* **acknowledged only when stored**: ``receive`` returns ``True`` (send an ACK) only
  after ``commit_incoming`` returned;
* **bounded**: a token bucket per sender and a cap on held messages per sender; a
  message over either is refused (not acknowledged, so an honest sender retries later)
  and counted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from meshnet.crypto.identity import NodeId
from meshnet.errors import LocalError, StateError
from meshnet.ids import MessageId
from meshnet.services.messaging.config import MessagingConfig
from meshnet.services.messaging.events import MessageReceived, MessagingEvent
from meshnet.services.messaging.messages import Floor, MessageFrame
from meshnet.services.messaging.records import Conversation, InboxState, IncomingMessage
from meshnet.services.messaging.store import MessageStore

__all__ = ["Inbox"]

_MAX_BUCKETS = 4096


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


@dataclass(slots=True)
class _Receiving:
    conversation: Conversation | None
    held: dict[int, IncomingMessage] = field(default_factory=dict)


class Inbox:
    """Receiver-side state over a ``MessageStore``.

    Args:
        store: where messages and conversations are committed.
        config: quotas and limits.
        events: the service's event queue (``MessageReceived`` goes there).
        drop: counts a refused message by reason.
    """

    def __init__(
        self,
        *,
        store: MessageStore,
        config: MessagingConfig,
        events: deque[MessagingEvent],
        drop: Callable[[str], None],
    ) -> None:
        self._store = store
        self._config = config
        self._events = events
        self._drop = drop
        self._peers: dict[NodeId, _Receiving] = {}
        self._buckets: dict[NodeId, _Bucket] = {}
        self.unreported: dict[NodeId, dict[MessageId, None]] = {}
        """Read receipts the sender has not confirmed yet, per sender."""
        for message in store.unreported_reads():
            self.unreported.setdefault(message.peer, {})[message.id] = None

    @property
    def held(self) -> int:
        """Messages held (in memory) for an earlier one of their conversation."""
        return sum(len(state.held) for state in self._peers.values())

    def _state(self, peer: NodeId) -> _Receiving:
        state = self._peers.get(peer)
        if state is None:
            state = _Receiving(self._store.receiver_conversation(peer))
            for message in self._store.held_incoming(peer):
                state.held[message.seq] = message
            self._peers[peer] = state
        return state

    def allowed(self, peer: NodeId, now: float) -> bool:
        """Take one token from ``peer``'s bucket; False when it is over its quota."""
        config = self._config
        bucket = self._buckets.get(peer)
        if bucket is None:
            if len(self._buckets) >= _MAX_BUCKETS:
                self._buckets.clear()  # forgetting a bucket only ever refills it
            bucket = self._buckets[peer] = _Bucket(float(config.peer_burst), now)
        elapsed = max(0.0, now - bucket.at)
        bucket.tokens = min(float(config.peer_burst), bucket.tokens + elapsed * config.peer_rate)
        bucket.at = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    # -- frames from a peer --------------------------------------------------------------

    def receive(self, peer: NodeId, frame: MessageFrame, now: float, wall: float) -> bool:
        """Take a MESSAGE from the authenticated ``peer``; True when it is stored (ACK it)."""
        existing = self._store.incoming(frame.id)
        if existing is not None:
            if existing.peer != peer:
                self._drop("foreign_id")  # another sender's id: never acknowledged for it
                return False
            self._drop("duplicate")
            return True
        if len(frame.body) > self._config.max_body:
            self._drop("oversize")
            return False
        if not self.allowed(peer, now):
            self._drop("quota")
            return False
        state = self._state(peer)
        changed: list[IncomingMessage] = []
        conversation = state.conversation
        if conversation is None or conversation.epoch != frame.epoch:
            changed += self._release_all(state, wall)
            conversation = Conversation(peer=peer, epoch=frame.epoch, next_seq=0)
        message = IncomingMessage(
            id=frame.id,
            peer=peer,
            epoch=frame.epoch,
            seq=frame.seq,
            created=frame.created,
            expires=frame.expires,
            body=frame.body,
            received_at=wall,
            state=InboxState.HELD,
        )
        if frame.seq > conversation.next_seq:
            if frame.seq in state.held:
                self._drop("seq_conflict")  # another id under a held number: not ours to pick
                return False
            if len(state.held) >= self._config.max_held:
                self._drop("held_quota")
                return False
            state.held[frame.seq] = message
            changed.append(message)
        else:
            if frame.seq < conversation.next_seq:
                self._drop("late")  # its number was skipped (FLOOR): delivered anyway
            changed.append(replace(message, state=InboxState.DELIVERED, delivered_at=wall))
            if frame.seq == conversation.next_seq:
                conversation = replace(conversation, next_seq=frame.seq + 1)
        state.conversation = conversation
        changed += self._release_from(state, wall)
        self._commit(state, changed)
        return True

    def floor(self, peer: NodeId, frame: Floor, wall: float) -> None:
        """Take a FLOOR: every number below it is settled at the sender."""
        state = self._state(peer)
        conversation = state.conversation
        changed: list[IncomingMessage] = []
        if conversation is None or conversation.epoch != frame.epoch:
            changed += self._release_all(state, wall)
            conversation = Conversation(peer=peer, epoch=frame.epoch, next_seq=frame.floor)
        elif frame.floor > conversation.next_seq:
            for seq in sorted(s for s in state.held if s < frame.floor):
                changed.append(self._deliver(state.held.pop(seq), wall))
            conversation = replace(conversation, next_seq=frame.floor)
        else:
            return
        state.conversation = conversation
        changed += self._release_from(state, wall)
        self._commit(state, changed)

    def _deliver(self, message: IncomingMessage, wall: float) -> IncomingMessage:
        return replace(message, state=InboxState.DELIVERED, delivered_at=wall)

    def _release_all(self, state: _Receiving, wall: float) -> list[IncomingMessage]:
        """A new epoch: the old conversation's held messages go out, in order."""
        released = [self._deliver(state.held[seq], wall) for seq in sorted(state.held)]
        state.held.clear()
        return released

    def _release_from(self, state: _Receiving, wall: float) -> list[IncomingMessage]:
        """Deliver held messages that are next in line now."""
        released: list[IncomingMessage] = []
        conversation = state.conversation
        assert conversation is not None
        while (message := state.held.pop(conversation.next_seq, None)) is not None:
            released.append(self._deliver(message, wall))
            conversation = replace(conversation, next_seq=conversation.next_seq + 1)
        state.conversation = conversation
        return released

    def _commit(self, state: _Receiving, changed: list[IncomingMessage]) -> None:
        assert state.conversation is not None
        self._store.commit_incoming(changed, state.conversation)
        for message in changed:  # only after the commit: a crash re-delivers nothing
            if message.state is InboxState.DELIVERED:
                self._events.append(
                    MessageReceived(
                        id=message.id,
                        peer=message.peer,
                        seq=message.seq,
                        created=message.created,
                        body=message.body,
                    )
                )

    def read_acknowledged(self, peer: NodeId, ids: tuple[MessageId, ...]) -> None:
        """READ_ACK: the sender stored our read receipts."""
        waiting = self.unreported.get(peer)
        for message_id in ids:
            message = self._store.incoming(message_id)
            if message is None or message.peer != peer or message.read_reported:
                continue
            self._store.update_incoming(replace(message, read_reported=True))
            if waiting is not None:
                waiting.pop(message_id, None)
        if waiting is not None and not waiting:
            del self.unreported[peer]

    # -- the application -----------------------------------------------------------------

    def mark_read(self, message_id: MessageId, wall: float) -> IncomingMessage | None:
        """Mark a delivered message read; the new record, or None when it already was.

        Raises:
            LocalError: no message has this id.
            StateError: the message is held, not delivered yet.
        """
        message = self._store.incoming(message_id)
        if message is None:
            raise LocalError(f"no received message has id {message_id.hex()}")
        if message.state is not InboxState.DELIVERED:
            raise StateError(f"message {message_id.hex()} is not delivered yet")
        if message.read_at is not None:
            return None
        message = replace(message, read_at=wall, read_reported=False)
        self._store.update_incoming(message)
        self.unreported.setdefault(message.peer, {})[message.id] = None
        return message
