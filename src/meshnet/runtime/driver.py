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
import os
import socket
from collections import Counter
from collections.abc import Sequence

from meshnet.crypto.identity import IdentityRecord, NodeId
from meshnet.errors import ConfigError, StateError
from meshnet.ids import TransportId
from meshnet.link.messages import CloseReason
from meshnet.node.commands import Dial
from meshnet.node.node import Node
from meshnet.runtime.endpoints import Endpoint, Scheme, parse_endpoint
from meshnet.runtime.interfaces import announceable_endpoints
from meshnet.runtime.knownpeers import KnownPeers
from meshnet.runtime.linkverbs import LinkVerbs
from meshnet.runtime.messageverbs import MessageVerbs
from meshnet.runtime.pings import PingWaiters
from meshnet.runtime.pump import DriverState, Pump
from meshnet.runtime.sessionverbs import SessionVerbs
from meshnet.runtime.streams import StreamWaiters
from meshnet.runtime.subscriptions import EventHub
from meshnet.runtime.tcp import TcpAdmission, TcpConnection, dial_tcp, listen_tcp
from meshnet.runtime.tcpread import ReadBuffer
from meshnet.runtime.transports import Carrier, RuntimeConfig, RuntimeStatus
from meshnet.runtime.udp import UdpSocket, open_udp, pick_socket, resolve_udp

__all__ = ["NodeDriver"]


_FRAME_SLACK = 4096  # link headers, the AEAD tag and handshake framing around a payload


class NodeDriver(Pump, LinkVerbs, SessionVerbs, MessageVerbs):
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
        self._state = DriverState.NEW
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
        return self._state is DriverState.RUNNING

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

    def carrier_writable(self, transport: TransportId, writable: bool) -> None:
        # Called from inside a write (in the middle of a flush): tell the node after it.
        if self._loop is not None and self._state is DriverState.RUNNING:
            self._loop.call_soon(self._set_writable, transport, writable)

    def _set_writable(self, transport: TransportId, writable: bool) -> None:
        if transport in self._carriers and self._state is DriverState.RUNNING:
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
        if self._state is not DriverState.NEW:
            raise StateError("a driver starts once")
        endpoints = [parse_endpoint(text) for text in listen]
        self._loop = asyncio.get_running_loop()
        self._state = DriverState.RUNNING
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
        if self._state in (DriverState.STOPPING, DriverState.STOPPED):
            return
        self._state = DriverState.STOPPING
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
        self._state = DriverState.STOPPED

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
        if self._state is not DriverState.RUNNING:
            raise StateError(f"the driver is {self._state.value}, not running")

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
        if self._state is DriverState.RUNNING:
            self.node.dial_failed(dial.dial, self.now(), reason)
            self._pump()

    async def _dial_udp(self, dial: Dial, endpoint: Endpoint) -> None:
        family, address = await resolve_udp(endpoint, self._config.connect_timeout)
        sock = pick_socket(self._udp, family, address) or self._udp_dialers.get(family)
        if sock is None or sock.transport is None:
            wildcard = "::" if family == socket.AF_INET6 else "0.0.0.0"
            sock = self._udp_dialers[family] = await open_udp(self, (wildcard, 0))
        if self._state is DriverState.RUNNING:
            sock.open_outbound(address, dial.endpoint, dial.dial)

    # -- read-only views for the local API (``meshnet.api.control.NodeControl``) ------

    @property
    def identity_record(self) -> IdentityRecord:
        """The node's signed identity record."""
        return self.node.identity.record

    def route_to(self, peer: NodeId) -> tuple[NodeId, ...] | None:
        """Relays then ``peer``, as a packet would go now; None when unreachable."""
        return self.node.route_to(peer)
