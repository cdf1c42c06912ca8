"""``NodeDriver``: gives a sans-IO ``Node`` real sockets, the event loop's clock and timers.

Theory of operation
-------------------
The driver owns every socket (TCP listeners and connections, UDP sockets) and knows
them as *carriers*, each with a ``TransportId``. After every input to the node (a
carrier opened or closed, a dial failed, frames read, the timer fired, an application
command) it *pumps* once, in this order (aioquic's ``transmit()``):

1. send ``node.datagrams_to_send(now)`` on their carriers (frames for one carrier in
   one write);
2. carry out ``node.transport_commands()``: ``Dial`` opens an outbound carrier in a task
   (its result is the next input); ``CloseTransport`` closes a carrier after flushing;
3. drain ``node.next_event()`` into the ``EventHub`` (listeners' callbacks, then
   subscribers' bounded queues);
4. re-arm the ONE ``loop.call_at`` timer at ``node.get_timer()``.

Inputs that arrive while a pump runs (a UDP carrier closed by a command) make it go
round again instead of recursing. All frames from one TCP read are fed before one pump.

Flow control. Writing: each carrier has a high-water mark; ``await send()`` (or
``wait_writable``) waits until the peer's carrier is below it, so a slow reader slows
the application; past the hard cap a TCP peer is cut off and UDP datagrams are
dropped, both counted. Reading: a subscriber that falls ``limit`` events behind pauses
reading from every socket until it catches up (``subscriptions.py``).

Time is ``loop.time()`` (monotonic), never wall-clock time.

This module holds the carriers' host, the lifecycle, links to neighbours, events and
the pump; the application's end-to-end verbs are mixed in from ``sessionverbs.py``
(datagrams, streams, ping, trace) and ``messageverbs.py`` (messages).

A core that raises out of ``receive_datagram`` or ``handle_timer`` has a bug (hostile
bytes must become counted drops); the driver logs it, counts ``node_error``, aborts
that TCP connection (a shared UDP socket stays up) and keeps the timer running.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from meshnet.crypto.identity import IdentityRecord, NodeId
from meshnet.errors import ConfigError, StateError
from meshnet.ids import TransportId
from meshnet.link.messages import CloseReason
from meshnet.link.sealbuffers import Payload
from meshnet.node.commands import Dial, TransportCommand
from meshnet.node.events import NeighbourDataReceived, NodeEvent, PeerConnected, PeerDisconnected
from meshnet.node.node import Node
from meshnet.runtime.endpoints import Endpoint, Scheme, parse_endpoint
from meshnet.runtime.interfaces import announceable_endpoints
from meshnet.runtime.knownpeers import KnownPeers, KnownPeersError
from meshnet.runtime.messageverbs import MessageVerbs
from meshnet.runtime.pings import PING_EVENTS, PingWaiters
from meshnet.runtime.sessionverbs import SessionVerbs
from meshnet.runtime.streams import WAKING_EVENTS, StreamWaiters
from meshnet.runtime.subscriptions import EventHub, Listener, Overflow, Subscription
from meshnet.runtime.tcp import TcpAdmission, TcpConnection, dial_tcp, listen_tcp
from meshnet.runtime.tcpread import ReadBuffer
from meshnet.runtime.transports import Carrier, RuntimeConfig, RuntimeStatus
from meshnet.runtime.udp import UdpSocket, open_udp, pick_socket, resolve_udp
from meshnet.wire.framing import Frame

__all__ = ["NodeDriver"]

log = logging.getLogger(__name__)

_MAX_PUMP_ROUNDS = 16
_FRAME_SLACK = 4096  # link headers, the AEAD tag and handshake framing around a payload


class _State(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class NodeDriver(SessionVerbs, MessageVerbs):
    """Runs one ``Node`` on the asyncio event loop: TCP and UDP links, timers, events.

    Args:
        node: the node to drive (the driver is its only IO provider from now on).
        config: the driver's own limits.
        known_peers: the trust-on-first-use record: ``connect`` without a node id
            expects the identity pinned for the endpoint, and a first contact is pinned.
    """

    def __init__(
        self,
        node: Node,
        *,
        config: RuntimeConfig | None = None,
        known_peers: KnownPeers | None = None,
    ) -> None:
        self.node = node
        self._known = known_peers
        self._config = config or RuntimeConfig()
        self._max_frame = self._config.max_frame or node.config.link.max_payload + _FRAME_SLACK
        self._state = _State.NEW
        self._loop: asyncio.AbstractEventLoop | None = None
        self._carriers: dict[TransportId, Carrier] = {}
        self._tcp: dict[TransportId, TcpConnection] = {}
        self._by_endpoint: dict[str, TransportId] = {}
        self._endpoint_of: dict[TransportId, str] = {}
        self._udp: list[UdpSocket] = []
        self._udp_dialers: dict[int, UdpSocket] = {}
        self._servers: list[asyncio.Server] = []
        self._listening: list[str] = []
        self._admission = TcpAdmission(self._config)
        self._read_buffer = ReadBuffer()
        self._hub = EventHub(self._on_backlog, lambda _: self.count("listener_error"))
        self._writers = StreamWaiters()
        self._pings = PingWaiters()
        self._dials: set[asyncio.Task[None]] = set()
        self._counters: Counter[str] = Counter()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._housekeeping: asyncio.TimerHandle | None = None
        self._tcp_gone = asyncio.Event()
        self._next_transport = 1
        self._last_now = 0.0
        self._pumping = False
        self._again = False
        self._reading = True

    # -- CarrierHost -----------------------------------------------------------------

    @property
    def config(self) -> RuntimeConfig:
        return self._config

    @property
    def max_frame(self) -> int:
        return self._max_frame

    @property
    def read_buffer(self) -> ReadBuffer:
        return self._read_buffer

    @property
    def linked_grace(self) -> float:
        return self.node.config.link.dead_peer_timeout

    @property
    def reading(self) -> bool:
        return self._reading

    @property
    def running(self) -> bool:
        return self._state is _State.RUNNING

    def now(self) -> float:
        """The event loop's monotonic clock, never going backwards."""
        assert self._loop is not None, "the driver is not started"
        now = self._loop.time()
        if now < self._last_now:
            return self._last_now
        self._last_now = now
        return now

    def count(self, reason: str) -> None:
        self._counters[reason] += 1

    def carrier_opened(
        self, carrier: Carrier, *, outbound: bool, endpoint: str, mtu: int, dial: int | None
    ) -> TransportId:
        tid = TransportId(self._next_transport)
        self._next_transport += 1
        carrier.transport_id = tid
        self._carriers[tid] = carrier
        if isinstance(carrier, TcpConnection):
            self._tcp[tid] = carrier
            self._tcp_gone.clear()
        self._by_endpoint[endpoint] = tid
        self._endpoint_of[tid] = endpoint
        self.node.transport_opened(
            tid,
            self.now(),
            outbound=outbound,
            endpoint=endpoint,
            datagram=carrier.datagram,
            mtu=mtu,
            dial=dial,
        )
        self._pump()
        return tid

    def frames_received(self, transport: TransportId, frames: list[Frame], now: float) -> None:
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
                    if event is None:
                        fast = False
                        continue
                    if isinstance(event, tuple):  # a relayed frame, sealed for the next link:
                        self._write_now(*event)  # nothing else was queued, so it goes now
                        continue
                    self._pumping, self._again = True, False  # a pump of its own:
                    try:  # step 3, publishing, as the pump would
                        self._hub.publish(event)
                    finally:
                        self._pumping = False
                    if self._again:  # a listener's command queued something: pump it out
                        self._pump(now)
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

    def datagrams_received(self, batch: list[tuple[TransportId, bytes]]) -> None:
        node, now = self.node, self.now()
        for transport, frame in batch:
            try:
                node.receive_datagram(transport, frame, now)
            except Exception:  # a bug in a core: drop this datagram, keep the socket
                self._node_failed("receive_datagram")
        self._pump()

    def _node_failed(self, verb: str) -> None:
        """The node raised out of a driver verb: a bug (peers' bytes must never do that).

        The driver logs it, counts it (``node_error``) and keeps serving everyone else.
        """
        log.exception("the node raised in %s; the input is dropped", verb)
        self.count("node_error")

    def carrier_writable(self, transport: TransportId, writable: bool) -> None:
        # Called from inside a write (in the middle of a flush): tell the node after it.
        if self._loop is not None and self._state is _State.RUNNING:
            self._loop.call_soon(self._set_writable, transport, writable)

    def _set_writable(self, transport: TransportId, writable: bool) -> None:
        if transport in self._carriers and self._state is _State.RUNNING:
            self._counters["carrier_paused" if not writable else "carrier_resumed"] += 1
            self.node.transport_writable(transport, writable, self.now())
            self._pump()

    def carrier_closed(self, transport: TransportId) -> None:
        if self._carriers.pop(transport, None) is None:
            return
        if self._tcp.pop(transport, None) is not None and not self._tcp:
            self._tcp_gone.set()
        endpoint = self._endpoint_of.pop(transport, "")
        if self._by_endpoint.get(endpoint) == transport:
            del self._by_endpoint[endpoint]
        self.node.transport_closed(transport, self.now())
        self._pump()

    # -- lifecycle -------------------------------------------------------------------

    async def start(self, listen: Sequence[str] = ()) -> None:
        """Listen on ``listen`` (``tcp:HOST:PORT``/``udp:HOST:PORT``; port 0 picks one).

        Raises:
            StateError: the driver was started before.
            ConfigError: an endpoint is malformed.
            OSError: a socket could not be bound (nothing stays open then).
        """
        if self._state is not _State.NEW:
            raise StateError("a driver starts once")
        endpoints = [parse_endpoint(text) for text in listen]
        self._loop = asyncio.get_running_loop()
        self._state = _State.RUNNING
        try:
            for endpoint in endpoints:
                if endpoint.scheme is Scheme.TCP:
                    server, bound = await listen_tcp(self, self._admission, endpoint)
                    self._servers.append(server)
                    self._listening.extend(bound)
                else:
                    sock = await open_udp(self, (endpoint.host, endpoint.port))
                    self._udp.append(sock)
                    self._listening.append(sock.local_endpoint)
        except BaseException:
            await self.stop()
            raise
        self._housekeeping = self._loop.call_later(
            self._config.housekeeping_interval, self._housekeep
        )
        if self._config.announce_endpoints and self._listening:
            self.node.set_endpoints(announceable_endpoints(self._listening), self.now())
        self._pump()

    async def stop(self) -> None:
        """Say goodbye on every link, flush, and close everything the driver opened."""
        if self._state in (_State.STOPPING, _State.STOPPED):
            return
        self._state = _State.STOPPING
        if self._loop is not None:
            now = self.now()
            for link in self.node.status(now).links.links:
                self.node.links.close(link.link, now, CloseReason.SHUTDOWN)
            self._pump()
        for server in self._servers:
            server.close()
        for task in list(self._dials):
            task.cancel()
        await asyncio.gather(*self._dials, return_exceptions=True)
        await self._close_connections()
        for sock in [*self._udp, *self._udp_dialers.values()]:
            sock.close()
            await asyncio.wait([sock.closed], timeout=self._config.stop_timeout)
        for server in self._servers:
            await server.wait_closed()
        for handle in (self._timer, self._housekeeping):
            if handle is not None:
                handle.cancel()
        self._timer = self._housekeeping = None
        self._writers.fail_all("the node stopped")
        self._pings.fail_all("the node stopped")
        self._hub.close()
        self._state = _State.STOPPED

    async def _close_connections(self) -> None:
        for conn in list(self._tcp.values()):
            conn.close()
        if self._tcp:
            try:
                await asyncio.wait_for(self._tcp_gone.wait(), self._config.stop_timeout)
            except TimeoutError:
                for conn in list(self._tcp.values()):
                    conn.abort()
                await asyncio.wait_for(self._tcp_gone.wait(), self._config.stop_timeout)

    @property
    def listening(self) -> tuple[str, ...]:
        """The endpoints listened on, with the ports actually bound."""
        return tuple(self._listening)

    def _require_running(self) -> None:
        if self._state is not _State.RUNNING:
            raise StateError(f"the driver is {self._state.value}, not running")

    # -- application commands --------------------------------------------------------

    def connect(self, endpoint: str, *, expected_peer: NodeId | None = None) -> str:
        """Keep a link to ``endpoint`` (redialled with backoff forever); dial it now.

        Args:
            endpoint: ``tcp:HOST:PORT`` or ``udp:HOST:PORT``.
            expected_peer: the NodeId the endpoint must prove; None trusts the first
                identity it shows (``PeerConnected(first_contact=True)``).

        Returns:
            The endpoint in its canonical spelling (how status and events name it).

        Raises:
            ConfigError: the endpoint is malformed.
            LocalError: ``expected_peer`` is this node's own id.
            StateError: the driver is not running.
        """
        self._require_running()
        canonical = str(parse_endpoint(endpoint))
        if expected_peer is None and self._known is not None:
            expected_peer = self._known.expected(canonical)
        self.node.connect(canonical, self.now(), expected_peer=expected_peer)
        self._pump()
        return canonical

    def connect_node(self, node: NodeId) -> str:
        """Keep a direct link to ``node`` at an endpoint it announced (redialled forever).

        Returns:
            The endpoint chosen (the first the node announces).

        Raises:
            LocalError: ``node`` is this node.
            UnknownPeerError: ``node`` announced no endpoint we know of.
        """
        self._require_running()
        endpoint = self.node.connect_node(node, self.now())
        self._pump()
        return endpoint

    def disconnect(self, endpoint: str) -> bool:
        """Stop keeping a link to ``endpoint`` and close it with a goodbye; True when a
        link was up and is closed.

        Raises:
            ConfigError: the endpoint is malformed.
            UnknownPeerError: no such endpoint is configured.
        """
        self._require_running()
        closed = self.node.disconnect(str(parse_endpoint(endpoint)), self.now())
        self._pump()
        return closed

    def disconnect_peer(self, peer: NodeId) -> tuple[tuple[str, ...], bool]:
        """Stop keeping links to ``peer`` and close its link (see ``Node.disconnect_peer``).

        Raises:
            LocalError: ``peer`` is this node.
            UnknownPeerError: ``peer`` is neither configured nor linked.
        """
        self._require_running()
        result = self.node.disconnect_peer(peer, self.now())
        self._pump()
        return result

    def send_to_neighbour(self, peer: NodeId, payload: Payload) -> None:
        """Send ``payload`` on the link to ``peer`` now, without waiting for room.

        Prefer ``await send(...)`` for bulk data: this one never waits, so a TCP peer
        that does not read is cut off once its buffer passes the hard cap.

        Raises:
            StateError: there is no link to ``peer`` (or the driver is not running).
            LocalError: the payload is over the link's size limit.
        """
        if self._state is not _State.RUNNING:
            self._require_running()
        now = self.now()
        sent = self.node.send_to_neighbour_now(peer, payload, now)
        if sent is None:
            self._pump(now)
            return
        self._write_now(*sent)  # the fast path: nothing else was queued, so it goes now

    def _write_now(self, transport: TransportId, frame: Frame) -> None:
        """Write a frame the node handed back instead of queueing it (in order)."""
        carrier = self._carriers.get(transport)
        if carrier is None:
            self.count("send_no_transport")
        else:
            carrier.send([frame])

    async def send(self, peer: NodeId, payload: Payload) -> None:
        """Wait until the link to ``peer`` has room, then send ``payload`` on it.

        Raises:
            StateError: there is no link to ``peer`` (before or after waiting).
            LocalError: the payload is over the link's size limit.
        """
        await self.wait_writable(peer)
        self.send_to_neighbour(peer, payload)

    async def wait_writable(self, peer: NodeId) -> None:
        """Return when the transport of the link to ``peer`` is below its high-water mark.

        Raises:
            StateError: there is no link to ``peer``.
        """
        await self._carrier_for(peer).wait_writable()

    def _carrier_for(self, peer: NodeId) -> Carrier:
        self._require_running()
        link = self.node.link_to(peer)
        conn = self.node.links.connection(link) if link is not None else None
        tid = self._by_endpoint.get(conn.endpoint) if conn is not None else None
        carrier = self._carriers.get(tid) if tid is not None else None
        if carrier is None:
            raise StateError(f"no link to {peer.short()}")
        return carrier

    def subscribe(
        self,
        *,
        kinds: Iterable[type[NodeEvent]] | None = None,
        limit: int = 1024,
        overflow: Overflow = Overflow.PAUSE,
    ) -> Subscription:
        """A queue of the node's events from now on (all kinds, or only ``kinds``).

        Args:
            kinds: event classes to receive; None for every event.
            limit: queue size; what happens past it is ``overflow``.
            overflow: PAUSE holds reading back (lossless); DROP drops and counts.
        """
        return self._hub.subscribe(kinds=kinds, limit=limit, overflow=overflow)

    def listen(
        self,
        callback: Callable[[NodeEvent], object],
        *,
        kinds: Iterable[type[NodeEvent]] | None = None,
    ) -> Listener:
        """Call ``callback`` with each of the node's events from now on, as they happen.

        The callback runs inside the driver's pump, before subscriptions see the event:
        no queue and no task wake-up. It must not block; it may call the driver's
        commands (``send_to_neighbour`` and the like), whose frames go out in the same
        pump. What it raises is logged and counted (``listener_error``). ``close()`` the
        returned ``Listener`` to stop.
        """
        return self._hub.listen(callback, kinds=kinds)

    def status(self) -> RuntimeStatus:
        """A snapshot of the node and of the driver's sockets and counters."""
        now = self.now() if self._loop is not None else 0.0
        buffered = sum(c.buffered() for c in self._tcp.values())
        buffered += sum(s.buffered() for s in [*self._udp, *self._udp_dialers.values()])
        return RuntimeStatus(
            node=self.node.status(now),
            listening=tuple(self._listening),
            tcp_connections=len(self._tcp),
            udp_peers=sum(s.peer_count for s in [*self._udp, *self._udp_dialers.values()]),
            dials_in_progress=len(self._dials),
            buffered_bytes=buffered,
            reading_paused=not self._reading,
            counters=tuple(sorted(self._counters.items())),
        )

    # -- the pump --------------------------------------------------------------------

    def _pump(self, now: float | None = None) -> None:
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
        if self._state is _State.RUNNING:
            self._arm_timer()

    def _pin(self, event: PeerConnected) -> None:
        """Record a first contact's identity for its endpoint (trust on first use)."""
        if self._known is None:
            return
        try:
            if self._known.record(event.endpoint, event.peer, time.time()):
                log.info("trusting %s at %s from now on", event.peer.short(), event.endpoint)
        except KnownPeersError as exc:
            self.count("known_peers_write_failed")
            log.warning("%s", exc)

    def _flush(self, out: list[tuple[TransportId, Frame]]) -> None:
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

    def _carry_out(self, command: TransportCommand) -> None:
        if isinstance(command, Dial):
            if self._state is _State.RUNNING:
                assert self._loop is not None
                task = self._loop.create_task(self._open_dial(command))
                self._dials.add(task)
                task.add_done_callback(self._dials.discard)
            return
        carrier = self._carriers.get(command.transport)
        if carrier is not None:
            carrier.close()

    def _arm_timer(self) -> None:
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

    def _fire(self) -> None:
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

    def _housekeep(self) -> None:
        config, now = self._config, self.now()
        for conn in list(self._tcp.values()):
            reason = conn.overdue(now, config)
            if reason is not None:
                self.count(reason)
                conn.abort()
            else:
                conn.trim(now, config.housekeeping_interval)
        assert self._loop is not None
        self._housekeeping = self._loop.call_later(config.housekeeping_interval, self._housekeep)

    def _on_backlog(self, backlogged: bool) -> None:
        self._reading = not backlogged
        for conn in self._tcp.values():
            conn.set_reading(self._reading)
        for sock in [*self._udp, *self._udp_dialers.values()]:
            sock.set_reading(self._reading)

    # -- dialling --------------------------------------------------------------------

    async def _open_dial(self, dial: Dial) -> None:
        try:
            endpoint = parse_endpoint(dial.endpoint)
            if endpoint.scheme is Scheme.TCP:
                await dial_tcp(
                    self, self._admission, endpoint=endpoint, text=dial.endpoint, dial=dial.dial
                )
            else:
                await self._dial_udp(dial, endpoint)
            return
        except ConfigError as exc:
            reason = str(exc)
        except TimeoutError:
            reason = f"no answer within {self._config.connect_timeout:g} s"
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        self.count("dial_failed")
        if self._state is _State.RUNNING:
            self.node.dial_failed(dial.dial, self.now(), reason)
            self._pump()

    async def _dial_udp(self, dial: Dial, endpoint: Endpoint) -> None:
        family, address = await resolve_udp(endpoint, self._config.connect_timeout)
        sock = pick_socket(self._udp, family, address) or self._udp_dialers.get(family)
        if sock is None or sock.transport is None:
            wildcard = "::" if family == socket.AF_INET6 else "0.0.0.0"
            sock = self._udp_dialers[family] = await open_udp(self, (wildcard, 0))
        if self._state is _State.RUNNING:
            sock.open_outbound(address, dial.endpoint, dial.dial)

    # -- read-only views for the local API (``meshnet.api.control.NodeControl``) ------

    @property
    def identity_record(self) -> IdentityRecord:
        """The node's signed identity record."""
        return self.node.identity.record

    def route_to(self, peer: NodeId) -> tuple[NodeId, ...] | None:
        """Relays then ``peer``, as a packet would go now; None when unreachable."""
        return self.node.route_to(peer)
