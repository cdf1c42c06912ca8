"""The driver's pump: frames in, the node's output out, the one timer.

``Pump`` is mixed into ``NodeDriver`` (``driver.py`` holds the carriers' host, the
lifecycle and the sockets). After every input the driver pumps once (the order is in
``driver.py``'s docstring): frames to send are written, transport commands carried out,
events published (``EventHub``), the timer re-armed at ``node.get_timer()``.

The fast path lives here too: ``frames_received`` feeds a read's frames to
``Node.receive_neighbour_data``, which hands a neighbour's payload back as its event (or
a relayed frame already sealed for the next link) instead of queueing it; the driver
publishes or writes it at once. A core that raises while being fed has a bug: it is
logged and counted (``node_error``), never let out.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import Counter
from typing import Protocol

from meshnet.ids import TransportId
from meshnet.node.commands import Dial, TransportCommand
from meshnet.node.events import NeighbourDataReceived, PeerConnected, PeerDisconnected
from meshnet.node.node import Node
from meshnet.runtime.knownpeers import KnownPeers, KnownPeersError
from meshnet.runtime.pings import PING_EVENTS, PingWaiters
from meshnet.runtime.streams import WAKING_EVENTS, StreamWaiters
from meshnet.runtime.subscriptions import EventHub
from meshnet.runtime.transports import Carrier
from meshnet.wire.framing import Frame

__all__ = ["DriverState", "Pump"]

log = logging.getLogger("meshnet.runtime.driver")  # the name it had before the split

_MAX_PUMP_ROUNDS = 16


class DriverState(enum.Enum):
    """Where a driver is in its life (it starts once and stops once)."""

    NEW = "new"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class _Driver(Protocol):
    """What the pump uses of the driver."""

    node: Node
    _known: KnownPeers | None
    _state: DriverState
    _loop: asyncio.AbstractEventLoop | None
    _carriers: dict[TransportId, Carrier]
    _hub: EventHub
    _writers: StreamWaiters
    _pings: PingWaiters
    _dials: set[asyncio.Task[None]]
    _counters: Counter[str]
    _timer: asyncio.TimerHandle | None
    _timer_at: float | None
    _last_now: float
    _pumping: bool
    _again: bool

    def now(self) -> float: ...
    def count(self, reason: str) -> None: ...
    async def _open_dial(self, dial: Dial) -> None: ...
    def _node_failed(self, verb: str) -> None: ...
    def _write_now(self, transport: TransportId, frame: Frame) -> None: ...
    def _pump(self, now: float | None = None) -> None: ...
    def _pin(self, event: PeerConnected) -> None: ...
    def _flush(self, out: list[tuple[TransportId, Frame]]) -> None: ...
    def _carry_out(self, command: TransportCommand) -> None: ...
    def _arm_timer(self) -> None: ...
    def _fire(self) -> None: ...


class Pump:
    """Feeding the node, pumping its output, the timer (a mixin of ``NodeDriver``)."""

    def frames_received(
        self: _Driver, transport: TransportId, frames: list[Frame], now: float
    ) -> None:
        """Feed one read's frames to the node; neighbour payloads take the fast path.

        A frame whose only outcome is a ``NeighbourDataReceived`` comes back from the
        node instead of being queued (``Node.receive_neighbour_data``) and is published
        at once, inside a pump of its own (listeners' sends go out in it); a relay's
        routed packet the node sealed for the next link at once is written at once
        (nothing else of the node's was queued). From the first
        frame that went the general way on, the rest are fed as ``receive_datagram``
        and one pump follows, so events keep their order.
        """
        node = self.node
        fast = not self._pumping
        try:
            for frame in frames:
                if fast:
                    event = node.receive_neighbour_data(transport, frame, now)
                    if isinstance(event, NeighbourDataReceived):  # the neighbour case, first
                        self._pumping, self._again = True, False  # a pump of its own:
                        try:  # step 3, publishing, as the pump would
                            self._hub.publish(event)
                        finally:
                            self._pumping = False
                        if self._again:  # a listener's command queued something: pump it
                            self._pump(now)
                    elif event is None:
                        fast = False
                    else:  # a relayed frame, sealed for the next link: nothing else was
                        self._write_now(*event)  # queued, so it goes now
                else:
                    node.receive_datagram(transport, frame, now)
        except Exception:  # a bug in a core: contain it to this carrier
            fast = False
            self._node_failed("receive_datagram")
            carrier = self._carriers.get(transport)
            if carrier is not None:
                carrier.abort()
        if not fast:
            self._pump(now)

    def datagrams_received(self: _Driver, batch: list[tuple[TransportId, bytes]]) -> None:
        node, now = self.node, self.now()
        for transport, frame in batch:
            try:
                node.receive_datagram(transport, frame, now)
            except Exception:  # a bug in a core: drop this datagram, keep the socket
                self._node_failed("receive_datagram")
        self._pump()

    def _node_failed(self: _Driver, verb: str) -> None:
        """The node raised out of a driver verb: a bug (peers' bytes must never do that).

        The driver logs it, counts it (``node_error``) and keeps serving everyone else.
        """
        log.exception("the node raised in %s; the input is dropped", verb)
        self.count("node_error")

    def _write_now(self: _Driver, transport: TransportId, frame: Frame) -> None:
        """Write a frame the node handed back instead of queueing it (in order)."""
        carrier = self._carriers.get(transport)
        if carrier is None:
            self.count("send_no_transport")
        else:
            carrier.send([frame])

    def _pump(self: _Driver, now: float | None = None) -> None:
        """One pump (see the module docstring); ``now`` when the caller just read the clock."""
        if self._pumping:
            self._again = True
            return
        self._pumping = True
        node = self.node
        if now is None:
            now = self.now()
        publish = self._hub.publish
        try:
            for _ in range(_MAX_PUMP_ROUNDS):
                self._again = False
                out = node.datagrams_to_send(now)
                if out:
                    self._flush(out)
                for command in node.transport_commands():
                    self._carry_out(command)
                while (event := node.next_event()) is not None:
                    if type(event) is NeighbourDataReceived:  # the hot path: nothing to note
                        pass
                    elif isinstance(event, PeerDisconnected):
                        self._counters[f"link_closed_{event.reason}"] += 1
                    elif isinstance(event, PeerConnected) and event.first_contact:
                        self._pin(event)
                    elif isinstance(event, WAKING_EVENTS) and self._writers:
                        self._writers.on_event(event)
                    elif isinstance(event, PING_EVENTS) and self._pings:
                        self._pings.on_event(event)
                    publish(event)
                if not self._again:
                    break
        finally:
            self._pumping = False
        if self._state is DriverState.RUNNING:
            self._arm_timer()

    def _pin(self: _Driver, event: PeerConnected) -> None:
        """Record a first contact's identity for its endpoint (trust on first use)."""
        if self._known is None:
            return
        try:
            if self._known.record(event.endpoint, event.peer, time.time()):
                log.info("trusting %s at %s from now on", event.peer.short(), event.endpoint)
        except KnownPeersError as exc:
            self.count("known_peers_write_failed")
            log.warning("%s", exc)

    def _flush(self: _Driver, out: list[tuple[TransportId, Frame]]) -> None:
        """Write the frames, those for one carrier in one ``send``."""
        carriers = self._carriers
        if len(out) == 1:
            tid, frame = out[0]
            carrier = carriers.get(tid)
            if carrier is None:
                self.count("send_no_transport")
            else:
                carrier.send([frame])
            return
        batches: dict[TransportId, list[Frame]] = {}
        for tid, frame in out:
            batches.setdefault(tid, []).append(frame)
        for tid, frames in batches.items():
            carrier = carriers.get(tid)
            if carrier is None:
                self._counters["send_no_transport"] += len(frames)
            else:
                carrier.send(frames)

    def _carry_out(self: _Driver, command: TransportCommand) -> None:
        if isinstance(command, Dial):
            if self._state is DriverState.RUNNING:
                assert self._loop is not None
                task = self._loop.create_task(self._open_dial(command))
                self._dials.add(task)
                task.add_done_callback(self._dials.discard)
            return
        carrier = self._carriers.get(command.transport)
        if carrier is not None:
            carrier.close()

    def _arm_timer(self: _Driver) -> None:
        deadline = self.node.get_timer()
        armed = self._timer_at
        if deadline == armed:
            return
        if self._timer is not None and armed is not None and (deadline is None or deadline > armed):
            return  # the armed timer fires first and re-arms then (a later deadline
            # moves on every packet: a probe timeout, a keepalive; no cancel + call_at)
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        assert self._loop is not None
        self._timer = self._loop.call_at(deadline, self._fire) if deadline is not None else None

    def _fire(self: _Driver) -> None:
        deadline = self._timer_at
        self._timer = self._timer_at = None
        now = self.now()
        if deadline is not None and now < deadline:  # the loop fires within its resolution
            now = self._last_now = deadline
        try:
            self.node.handle_timer(now)
        except Exception:  # keep the timer alive: a dead timer would stall every link
            self._node_failed("handle_timer")
        self._pump()
