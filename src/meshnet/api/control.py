"""What the API needs of a running node: the ``NodeControl`` protocol.

The handlers never see the driver or its sockets; they see this small surface, which
``runtime.driver.NodeDriver`` implements (and a test can fake). Snapshots are the
node's own frozen status objects; ``DriverSnapshot`` names only the fields the API
reads of the driver's ``RuntimeStatus``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from meshnet.crypto.identity import IdentityRecord, NodeId
from meshnet.ids import MessageId
from meshnet.node.status import NodeStatus
from meshnet.services.messaging import IncomingMessage, OutgoingMessage

__all__ = ["DriverSnapshot", "NodeControl", "PingAnswer", "TracedHop"]


class PingAnswer(Protocol):
    """An answered end-to-end ping."""

    @property
    def rtt(self) -> float: ...

    @property
    def resent(self) -> int: ...


class TracedHop(Protocol):
    """One node of a traced path and what pinging it gave."""

    @property
    def node(self) -> NodeId: ...

    @property
    def rtt(self) -> float | None: ...

    @property
    def error(self) -> str: ...


class DriverSnapshot(Protocol):
    """A frozen snapshot of the node and of its driver's sockets and counters."""

    @property
    def node(self) -> NodeStatus: ...

    @property
    def listening(self) -> tuple[str, ...]: ...

    @property
    def tcp_connections(self) -> int: ...

    @property
    def udp_peers(self) -> int: ...

    @property
    def dials_in_progress(self) -> int: ...

    @property
    def buffered_bytes(self) -> int: ...

    @property
    def reading_paused(self) -> bool: ...

    @property
    def counters(self) -> tuple[tuple[str, int], ...]: ...


class NodeControl(Protocol):
    """The verbs and views the API uses (``NodeDriver`` has them all)."""

    @property
    def identity_record(self) -> IdentityRecord:
        """The node's signed identity record."""
        ...

    def status(self) -> DriverSnapshot:
        """A snapshot of the node and the driver, taken now."""
        ...

    def route_to(self, peer: NodeId) -> tuple[NodeId, ...] | None:
        """Relays then ``peer``, as a packet would go now; None when unreachable."""
        ...

    def connect(self, endpoint: str, *, expected_peer: NodeId | None = None) -> str:
        """Keep a link to ``endpoint``; returns its canonical spelling.

        Raises:
            ConfigError: the endpoint is malformed.
            StateError: the node is not running.
        """
        ...

    def disconnect(self, endpoint: str) -> bool:
        """Stop keeping a link to ``endpoint``; True when a link to it was closed.

        Raises:
            ConfigError: the endpoint is malformed.
            UnknownPeerError: no such endpoint is configured.
        """
        ...

    def disconnect_peer(self, peer: NodeId) -> tuple[tuple[str, ...], bool]:
        """Stop keeping links to ``peer`` and close its link whoever dialled; returns the
        endpoints forgotten and whether a link was closed.

        Raises:
            UnknownPeerError: ``peer`` is neither configured nor linked.
        """
        ...

    def send_message(
        self, peer: NodeId, body: bytes, *, expires_in: float | None = None
    ) -> MessageId:
        """Send a message; it is committed to the message store when this returns.

        Raises:
            LocalError: ``peer`` is this node, the body is too large or ``expires_in`` is
                not positive (a subclass when the store cannot commit).
        """
        ...

    def cancel_message(self, message_id: MessageId) -> None:
        """Stop retrying a sent message.

        Raises:
            LocalError: no sent message has this id. StateError: it is settled already.
        """
        ...

    def mark_read(self, message_id: MessageId) -> None:
        """Mark a received message read (its sender gets a read receipt).

        Raises:
            LocalError: no received message has this id. StateError: it is held.
        """
        ...

    def inbox(
        self, *, peer: NodeId | None = None, limit: int = 100, unread: bool = False
    ) -> list[IncomingMessage]:
        """The newest ``limit`` received messages (only unread ones if ``unread``), oldest
        first."""
        ...

    def outbox(self, *, peer: NodeId | None = None, limit: int = 100) -> list[OutgoingMessage]:
        """The newest ``limit`` sent messages (any state), oldest first."""
        ...

    async def ping(self, destination: NodeId, *, timeout: float = 10.0) -> PingAnswer:
        """Probe ``destination`` end to end and wait for the answer.

        Raises:
            TimeoutError: no answer within ``timeout``.
            StateError: the session failed or closed (the message says why).
        """
        ...

    async def trace(self, destination: NodeId, *, timeout: float = 10.0) -> Sequence[TracedHop]:
        """Ping every node on the route to ``destination`` at once, in path order.

        Raises:
            StateError: there is no route to ``destination``.
        """
        ...
