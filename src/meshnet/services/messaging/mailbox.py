"""``MailboxHost``: holding sealed mail for nodes that asked us to (store-and-forward).

A node that will be offline names a mailbox: a node that is often online. It tells the
mailbox (MAILBOX naming the mailbox itself: "hold my mail") and its correspondents
(MAILBOX naming the mailbox, with its identity record: "leave my mail there, sealed
with this key"). A sender that keeps failing to reach the recipient seals its pending
messages to the recipient's key and DEPOSITs them with the mailbox; the owner COLLECTs
them when it is back and RELEASEs what it stored. The sender still retries directly
and keeps each message pending until the recipient's own ACK, so a mailbox that loses
or withholds mail delays it but never loses it, and cannot read, forge or alter it
(``sealed.py``).

The host side is bounded: at most ``mailbox_owners`` owners, ``mailbox_items`` items
per owner, each held at most ``mailbox_max_age``; an owner not heard from (a notice or a
collect) for ``mailbox_max_age`` is forgotten once nothing is held for it, so owners that
never come back do not keep the places for ever. Deposits and collects are also charged
to the peer's message quota (by the service). Refusals, expired mail and expired owners
are counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from meshnet.crypto.identity import NodeId
from meshnet.ids import MessageId
from meshnet.services.messaging.config import MessagingConfig
from meshnet.services.messaging.messages import Deposit, Mail
from meshnet.services.messaging.store import MessageStore

__all__ = ["MAIL_BATCH", "MailboxHost"]

MAIL_BATCH = 64
"""Most MAIL frames one COLLECT is answered with; the owner collects again for more."""


class MailboxHost:
    """The mail this node holds for others, over the store."""

    def __init__(
        self, *, store: MessageStore, config: MessagingConfig, drop: Callable[[str], None]
    ) -> None:
        self._store = store
        self._config = config
        self._drop = drop
        self.owners: set[NodeId] = set(store.mailbox_owners())

    def register(self, owner: NodeId, wall: float) -> bool:
        """``owner`` asks us (again) to hold its mail; False when we hold for too many."""
        if owner not in self.owners and len(self.owners) >= self._config.mailbox_owners:
            self._drop("mailbox_owners")
            return False
        self._store.add_mailbox_owner(owner, wall)
        self.owners.add(owner)
        return True

    def deposit(self, frame: Deposit, wall: float) -> bool:
        """Hold ``frame``'s sealed mail; True when it is stored (answer DEPOSITED)."""
        owner = frame.recipient
        if owner not in self.owners:
            self._drop("mailbox_not_owner")
            return False
        if self._store.mailbox_count(owner) >= self._config.mailbox_items:
            self._drop("mailbox_full")
            return False
        self._store.deposit(owner, frame.id, frame.sealed, wall)
        return True

    def collect(self, owner: NodeId, wall: float) -> list[Mail]:
        """What we hold for ``owner`` (one batch); the owner is heard from at ``wall``."""
        if owner not in self.owners:
            self._drop("mailbox_not_owner")
            return []
        self._store.add_mailbox_owner(owner, wall)
        items = self._store.mailbox_items(owner, MAIL_BATCH)
        return [Mail(id=message_id, sealed=sealed) for message_id, sealed in items]

    def release(self, owner: NodeId, ids: Sequence[MessageId]) -> None:
        """``owner`` stored these: forget them."""
        if owner in self.owners:
            self._store.release(owner, ids)

    def expire(self, wall: float) -> int:
        """Delete the mail deposited more than ``mailbox_max_age`` before ``wall``, then
        forget the owners not heard from for as long that we hold nothing for (their
        places go to others); how much mail expired."""
        before = wall - self._config.mailbox_max_age
        expired = self._store.expire_mail(before)
        for _ in range(expired):
            self._drop("mailbox_expired")
        for owner in self._store.forget_mailbox_owners(before):
            self.owners.discard(owner)
            self._drop("mailbox_owner_expired")
        return expired

    def held(self) -> int:
        return sum(self._store.mailbox_count(owner) for owner in self.owners)
