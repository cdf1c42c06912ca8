"""What the asyncio driver and its transports (TCP, UDP) share.

* ``RuntimeConfig``: the driver's own limits (connection caps, buffer marks, timeouts),
  beside the node's ``NodeConfig``.
* ``Carrier``: one transport as the driver sees it (a TCP connection, one remote
  address on a shared UDP socket): send frames, close after flushing, writability.
* ``CarrierHost``: what a transport calls back into (the driver), so ``tcp.py`` and
  ``udp.py`` never import ``driver.py``.
* ``RuntimeStatus``: the driver's snapshot: the node's status plus the runtime's
  counters of refused, dropped and closed things.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from meshnet.errors import ConfigError
from meshnet.ids import TransportId
from meshnet.node.status import NodeStatus
from meshnet.runtime.tcpread import ReadBuffer
from meshnet.wire.framing import Frame

__all__ = ["Carrier", "CarrierHost", "RuntimeConfig", "RuntimeStatus", "Writability"]

_KIB = 1024
_MIB = 1024 * _KIB


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeConfig:
    """Limits of the asyncio driver. Durations are in seconds, sizes in bytes."""

    connect_timeout: float = 10.0
    """Give up opening an outbound TCP connection after this long."""
    tcp_max_connections: int = 1024
    """TCP connections open at once, both directions; more inbound ones are refused."""
    tcp_max_per_source: int = 32
    """Inbound TCP connections open at once from one source address."""
    tcp_accept_rate: float = 20.0
    """Inbound TCP connections accepted per second from one source address."""
    tcp_accept_burst: int = 40
    """Burst size of that token bucket."""
    first_frame_timeout: float = 10.0
    """Close an inbound TCP connection that sent no complete frame in this long."""
    link_timeout: float = 30.0
    """Close an inbound TCP connection that carries no link this long after it opened
    (its handshake was refused, dropped or never finished); above the handshake timeout."""
    idle_timeout: float = 90.0
    """Close a TCP connection from which nothing was received for this long."""
    write_high_water: int = 1 * _MIB
    """A transport buffering more than this is not writable (``wait_writable`` waits)."""
    write_low_water: int = 256 * _KIB
    """... and becomes writable again when its buffer drains below this."""
    write_hard_cap: int = 8 * _MIB
    """Beyond this, a TCP connection is aborted and UDP datagrams are dropped (counted)."""
    max_frame: int | None = None
    """Largest TCP frame accepted; None: the link's ``max_payload`` plus 4 KiB."""
    udp_mtu: int = 1200
    """UDP payload bytes per datagram (fits the IPv6 minimum MTU of 1280)."""
    udp_max_peers: int = 4096
    """Remote addresses tracked per UDP socket; the least recently heard is dropped."""
    udp_socket_buffer: int = 4 * _MIB
    """SO_RCVBUF/SO_SNDBUF asked for on UDP sockets (the kernel may cap it)."""
    housekeeping_interval: float = 1.0
    """How often idle and silent TCP connections are looked for."""
    close_timeout: float = 5.0
    """A TCP connection still flushing this long after it was asked to close is aborted."""
    stop_timeout: float = 2.0
    """How long ``stop()`` lets connections flush their goodbyes."""
    announce_endpoints: bool = True
    """Announce where we listen (interface addresses for wildcard listeners) to the mesh,
    so nodes that learn of us through relays may link to us directly."""

    def __post_init__(self) -> None:
        for name in (
            "connect_timeout",
            "tcp_accept_rate",
            "first_frame_timeout",
            "link_timeout",
            "idle_timeout",
            "housekeeping_interval",
            "close_timeout",
            "stop_timeout",
        ):
            if not getattr(self, name) > 0:
                raise ConfigError(f"runtime.{name} must be a positive number of seconds")
        for name in (
            "tcp_max_connections",
            "tcp_max_per_source",
            "tcp_accept_burst",
            "write_low_water",
            "udp_max_peers",
            "udp_socket_buffer",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"runtime.{name} must be at least 1")
        if not self.write_low_water <= self.write_high_water <= self.write_hard_cap:
            raise ConfigError("runtime: need write_low_water <= write_high_water <= write_hard_cap")
        if not 256 <= self.udp_mtu <= 65507:
            raise ConfigError("runtime.udp_mtu must be between 256 and 65507")
        if self.max_frame is not None and self.max_frame < 256:
            raise ConfigError("runtime.max_frame must be at least 256")


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeStatus:
    """A snapshot of a running driver."""

    node: NodeStatus
    """The node's own status (links, configured peers, link-layer drops)."""
    listening: tuple[str, ...]
    """Endpoints the driver listens on, with the ports actually bound."""
    tcp_connections: int
    """TCP connections open now, both directions."""
    udp_peers: int
    """Remote UDP addresses tracked now, over every socket."""
    dials_in_progress: int
    """Outbound transports being opened."""
    buffered_bytes: int
    """Bytes written to transports and not yet taken by the kernel, over all of them."""
    reading_paused: bool
    """True while a slow event subscriber holds reading back."""
    counters: tuple[tuple[str, int], ...]
    """Refused, dropped and closed things, by reason (e.g. ``tcp_rate_limited``)."""

    def counter(self, name: str) -> int:
        """The value of one counter (0 when it never happened)."""
        return dict(self.counters).get(name, 0)


class Writability:
    """An awaitable "the transport is below its high-water mark" flag."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._event.set()

    @property
    def writable(self) -> bool:
        return self._event.is_set()

    def pause(self) -> None:
        self._event.clear()

    def resume(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        if not self._event.is_set():
            await self._event.wait()


class Carrier(Protocol):
    """One transport of link frames, as the driver drives it."""

    transport_id: TransportId
    datagram: bool

    def send(self, frames: list[Frame]) -> None:
        """Queue ``frames`` for the peer, in order (a frame may be a view of a pooled
        buffer: keeping it, or a view of it, keeps the buffer from reuse)."""

    def close(self) -> None:
        """Close after sending what is queued; the host hears ``carrier_closed`` later."""

    def abort(self) -> None:
        """Close at once, dropping what is queued."""

    def buffered(self) -> int:
        """Bytes queued and not yet taken by the kernel."""

    async def wait_writable(self) -> None:
        """Return when the carrier is below its high-water mark, or closed."""

    def set_reading(self, reading: bool) -> None:
        """Stop or resume reading (shared UDP sockets ignore it per peer)."""


class CarrierHost(Protocol):
    """The driver, as its transports see it."""

    @property
    def config(self) -> RuntimeConfig: ...

    @property
    def max_frame(self) -> int:
        """The largest frame a stream carrier accepts (and the MTU it reports)."""

    @property
    def linked_grace(self) -> float:
        """A UDP address we sent a link frame within this many seconds carries a link."""

    @property
    def reading(self) -> bool:
        """False while event subscribers are backlogged: new carriers start paused."""

    @property
    def running(self) -> bool:
        """False once the driver stops: a connection completing then is aborted."""

    @property
    def read_buffer(self) -> ReadBuffer:
        """The buffer every TCP connection reads into, one read at a time."""

    def now(self) -> float:
        """The driver's clock (the event loop's monotonic time)."""

    def count(self, reason: str) -> None:
        """Count one refused, dropped or closed thing."""

    def carrier_opened(
        self,
        carrier: Carrier,
        *,
        outbound: bool,
        endpoint: str,
        mtu: int,
        dial: int | None,
    ) -> TransportId:
        """Register a new carrier and tell the node; returns its TransportId."""

    def frames_received(self, transport: TransportId, frames: list[Frame], now: float) -> None:
        """Feed frames from one carrier to the node, then pump once (views of the read
        buffer among them are valid only during the call); ``now`` is the clock just read."""

    def datagrams_received(self, batch: list[tuple[TransportId, bytes]]) -> None:
        """Feed datagrams from several carriers to the node, then pump once."""

    def carrier_closed(self, transport: TransportId) -> None:
        """The carrier is gone (closed by either side); tell the node."""

    def carrier_writable(self, transport: TransportId, writable: bool) -> None:
        """The carrier's write buffer passed its high-water mark (False) or drained
        below the low-water mark (True); may be called from inside ``Carrier.send``."""
