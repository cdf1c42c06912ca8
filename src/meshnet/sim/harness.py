"""The driver contract, and ``SimNode``: one node pumped on virtual time.

``DrivenNode`` is what both drivers (``runtime/`` on asyncio, ``sim/`` on virtual time)
call on a node; ``meshnet.node.Node`` satisfies it, and so does any toy node a test
writes. ``NodeFactory`` builds one from seeded entropy, again after a crash that lost
its state (same identity stream, so the same ``NodeId``).

``SimNode`` feeds one input to the node, then runs the same pump as aioquic's asyncio
``transmit()`` and ``runtime/driver.py``:

1. send every frame from ``datagrams_to_send(now)`` onto the simulated links;
2. carry out ``transport_commands()`` (close a transport, dial an endpoint);
3. drain ``next_event()`` into the trace and the metrics;
4. re-arm the node's single timer at ``get_timer()``. A stale heap entry is not
   removed; it carries an older generation number and is ignored when it fires.

The driver never calls a node from inside that node's pump: everything the pump asks
for (a transport opening, a peer hearing a close) is scheduled, even at the same time.

How the driver recognises the node layer's commands and events is kept in
``interpret_command`` and ``as_app_datagram``, the two functions to change when the
node layer's classes change.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from meshnet.crypto.entropy import SeededEntropy
from meshnet.errors import LocalError, StateError
from meshnet.ids import TransportId
from meshnet.sim.link import Carrier

if TYPE_CHECKING:
    from meshnet.crypto.identity import NodeId
    from meshnet.sim.scheduler import Scheduler

__all__ = [
    "AppDatagram",
    "CloseRequest",
    "DialRequest",
    "DrivenNode",
    "NodeFactory",
    "NodeHost",
    "SimNode",
    "as_app_datagram",
    "describe_event",
    "interpret_command",
]

TIMER_SPIN_LIMIT = 10_000
"""Timer firings at one instant after which a node is reported as spinning."""


class DrivenNode(Protocol):
    """What a driver calls on a node (DESIGN.md §1: the verbs of every core)."""

    @property
    def node_id(self) -> NodeId:
        """The node's identity."""

    def transport_opened(
        self,
        transport: TransportId,
        now: float,
        *,
        outbound: bool,
        endpoint: str,
        datagram: bool,
        mtu: int,
    ) -> None:
        """A carrier to a neighbour exists; ``outbound`` on the side that dialled."""

    def transport_closed(self, transport: TransportId, now: float) -> None:
        """The carrier went away (link cut, peer crashed, or we asked to close it)."""

    def receive_datagram(self, transport: TransportId, data: bytes, now: float) -> None:
        """One frame arrived on ``transport``."""

    def datagrams_to_send(self, now: float) -> list[tuple[TransportId, bytes]]:
        """Frames to put on carriers."""

    def transport_commands(self) -> Sequence[object]:
        """Requests to the driver (see ``interpret_command``)."""

    def get_timer(self) -> float | None:
        """The node's next deadline, or None."""

    def handle_timer(self, now: float) -> None:
        """The deadline passed."""

    def next_event(self) -> object | None:
        """The next application event, or None."""

    def send_datagram(self, destination: NodeId, payload: bytes, now: float) -> None:
        """Send ``payload`` end to end over the mesh to ``destination``."""


class NodeFactory(Protocol):
    """Builds a node; called again with equal ``identity_entropy`` after a crash."""

    def __call__(
        self, *, index: int, identity_entropy: SeededEntropy, entropy: SeededEntropy
    ) -> DrivenNode:
        """Args:
        index: the node's number in the topology.
        identity_entropy: the stream to derive the node's keys from; the same bytes
            on every call for this index, so a rebuilt node keeps its ``NodeId``.
        entropy: the node's runtime randomness; a fresh stream per incarnation.
        """


@dataclass(frozen=True, slots=True)
class CloseRequest:
    """The node asked to shut one of its transports."""

    transport: TransportId
    reason: str


@dataclass(frozen=True, slots=True)
class DialRequest:
    """The node asked for an outbound transport to ``endpoint`` (``sim:<index>``)."""

    endpoint: str
    dial: int | None
    """The node's id for this dial, when its commands carry one."""


def interpret_command(command: object) -> CloseRequest | DialRequest:
    """Recognise a transport command by its attributes (``transport`` or ``endpoint``).

    Raises:
        StateError: the object is neither kind; the node and driver disagree.
    """
    transport = getattr(command, "transport", None)
    if isinstance(transport, int):
        return CloseRequest(TransportId(transport), str(getattr(command, "reason", "")))
    endpoint = getattr(command, "endpoint", None)
    if isinstance(endpoint, str):
        dial = getattr(command, "dial", None)
        return DialRequest(endpoint, dial if isinstance(dial, int) else None)
    raise StateError(f"the simulator does not know the transport command {command!r}")


@dataclass(frozen=True, slots=True)
class AppDatagram:
    """An end-to-end datagram the node handed to its application."""

    source: NodeId
    payload: bytes
    hops: int | None
    """Relays crossed, when the node's event says (an optional ``hops`` attribute)."""


def as_app_datagram(event: object) -> AppDatagram | None:
    """The datagram in a ``DatagramReceived`` event (with ``source`` and ``payload``)."""
    if type(event).__name__ != "DatagramReceived":
        return None
    source = getattr(event, "source", None)
    payload = getattr(event, "payload", None)
    if source is None or not isinstance(payload, bytes):
        return None
    hops = getattr(event, "hops", None)
    return AppDatagram(cast("NodeId", source), payload, hops if isinstance(hops, int) else None)


def describe_event(event: object) -> dict[str, Any]:
    """A JSON-ready summary of any event: its class name and its simple fields."""
    out: dict[str, Any] = {"type": type(event).__name__}
    if dataclasses.is_dataclass(event) and not isinstance(event, type):
        for field in dataclasses.fields(event):
            value = getattr(event, field.name)
            if isinstance(value, enum.Enum):
                out[field.name] = value.name
            elif isinstance(value, float) and not math.isfinite(value):
                out[field.name] = repr(value)  # JSON has no inf or nan
            elif value is None or isinstance(value, bool | int | float | str):
                out[field.name] = value
            elif hasattr(value, "raw"):  # a NodeId (a bytes subclass: test it first)
                out[field.name] = str(value)
            elif isinstance(value, bytes):
                out[field.name] = f"<{len(value)} bytes>"
    return out


class NodeHost(Protocol):
    """What a ``SimNode`` needs from the network it lives in."""

    scheduler: Scheduler

    def transmit(self, sender: SimNode, transport: TransportId, data: bytes, now: float) -> None:
        """Put one frame on the carrier ``transport`` of ``sender``."""

    def command(self, sender: SimNode, request: CloseRequest | DialRequest, now: float) -> None:
        """Carry out a transport command (by scheduling, never synchronously)."""

    def app_event(self, sender: SimNode, event: object, now: float) -> None:
        """Record an application event of ``sender``."""


class SimNode:
    """One node in the simulator: its inputs, its pump and its timer.

    Args:
        index: the node's number in the topology.
        host: the network that carries its frames.
        node: the node object (rebuilt by the network after a crash that lost state).
    """

    __slots__ = (
        "_next_transport",
        "_spin",
        "_spin_at",
        "_timer_at",
        "_timer_gen",
        "alive",
        "frozen",
        "host",
        "incarnation",
        "index",
        "node",
        "node_id",
        "transports",
    )

    def __init__(self, *, index: int, host: NodeHost, node: DrivenNode) -> None:
        self.index = index
        self.host = host
        self.node = node
        self.node_id: NodeId = node.node_id
        self.alive = True
        self.frozen = False
        """Crashed with its state kept: the same object resumes at restart."""
        self.incarnation = 0
        self.transports: dict[TransportId, Carrier] = {}
        """This node's open transports and the carrier each one rides on."""
        self._next_transport = 1
        self._timer_gen = 0
        self._timer_at: float | None = None
        self._spin_at = -1.0
        self._spin = 0

    def new_transport_id(self) -> TransportId:
        """A transport id this node has never used (ids are not reused across crashes)."""
        tid = self._next_transport
        self._next_transport += 1
        return TransportId(tid)

    # -- inputs ----------------------------------------------------------------------

    def opened(
        self,
        transport: TransportId,
        now: float,
        *,
        outbound: bool,
        endpoint: str,
        mtu: int,
        dial: int | None = None,
    ) -> None:
        """Tell the node a carrier exists."""
        try:
            if dial is None:
                self.node.transport_opened(
                    transport, now, outbound=outbound, endpoint=endpoint, datagram=True, mtu=mtu
                )
            else:
                cast(Any, self.node).transport_opened(
                    transport,
                    now,
                    outbound=outbound,
                    endpoint=endpoint,
                    datagram=True,
                    mtu=mtu,
                    dial=dial,
                )
        except Exception as exc:
            self._note(exc, now, "transport_opened")
            raise
        self.pump(now)

    def closed(self, transport: TransportId, now: float) -> None:
        """Tell the node a carrier went away."""
        try:
            self.node.transport_closed(transport, now)
        except Exception as exc:
            self._note(exc, now, "transport_closed")
            raise
        self.pump(now)

    def receive(self, transport: TransportId, data: bytes, now: float) -> None:
        """Hand the node one frame."""
        try:
            self.node.receive_datagram(transport, data, now)
        except Exception as exc:
            self._note(exc, now, "receive_datagram")
            raise
        self.pump(now)

    def dial_failed(self, dial: int, reason: str, now: float) -> None:
        """Tell a node whose commands carry dial ids that one failed (if it listens)."""
        method = getattr(self.node, "dial_failed", None)
        if callable(method):
            method(dial, now, reason)
            self.pump(now)

    def send_datagram(self, destination: NodeId, payload: bytes, now: float) -> str | None:
        """Ask the node to send end to end; returns why it refused, or None."""
        refusal: str | None = None
        try:
            self.node.send_datagram(destination, payload, now)
        except LocalError as exc:
            refusal = f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            self._note(exc, now, "send_datagram")
            raise
        self.pump(now)
        return refusal

    def _note(self, exc: Exception, now: float, verb: str) -> None:
        exc.add_note(f"in simulated node {self.index} ({verb}) at t={now!r}")

    # -- the pump and the timer ------------------------------------------------------

    def pump(self, now: float) -> None:
        """Frames out, commands, events, timer: after every input."""
        node, host = self.node, self.host
        for transport, data in node.datagrams_to_send(now):
            host.transmit(self, transport, data, now)
        for command in node.transport_commands():
            host.command(self, interpret_command(command), now)
        while (event := node.next_event()) is not None:
            host.app_event(self, event, now)
        self._arm(now)

    def _arm(self, now: float) -> None:
        deadline = self.node.get_timer()
        if deadline == self._timer_at:
            return
        self._timer_gen += 1
        self._timer_at = deadline
        if deadline is not None:
            when = deadline if deadline > now else now
            self.host.scheduler.call_at(when, self._on_timer, self._timer_gen, self.index)

    def _on_timer(self, generation: int) -> None:
        if generation != self._timer_gen or not self.alive:
            return  # a stale entry (lazy deletion) or a crashed node
        now = self.host.scheduler.now
        self._timer_at = None
        if now == self._spin_at:
            self._spin += 1
            if self._spin > TIMER_SPIN_LIMIT:
                raise StateError(
                    f"simulated node {self.index}: its timer fired {TIMER_SPIN_LIMIT} times at "
                    f"t={now!r}; get_timer() keeps returning a time <= now after handle_timer()"
                )
        else:
            self._spin_at, self._spin = now, 0
        try:
            self.node.handle_timer(now)
        except Exception as exc:
            self._note(exc, now, "handle_timer")
            raise
        self.pump(now)

    # -- crash and restart -----------------------------------------------------------

    def stop(self, *, keep_state: bool) -> None:
        """The node crashes (state lost) or freezes (state kept); its timer is dropped."""
        self.alive = False
        self.frozen = keep_state
        self._timer_gen += 1
        self._timer_at = None

    def start(self, node: DrivenNode | None, now: float) -> None:
        """Resume the frozen node (``node`` None) or run a rebuilt one.

        Raises:
            StateError: the rebuilt node has another identity than before.
        """
        if node is not None:
            if node.node_id != self.node_id:
                raise StateError(
                    f"simulated node {self.index} came back as {node.node_id!s} instead of "
                    f"{self.node_id!s}: the factory must rebuild the identity from "
                    "identity_entropy"
                )
            self.node = node
            self.incarnation += 1
            self.transports = {}
        self.alive = True
        self.frozen = False
        self._arm(now)
