"""UDP transports: one socket shared by every peer; each remote address is a carrier.

``UdpSocket`` is the ``asyncio.DatagramProtocol`` of one bound socket (a listening
address, or the ephemeral socket the driver dials from). Each remote address it talks
to is a ``UdpPeer`` carrier with its own ``TransportId``:

* a datagram from an unknown address opens an inbound carrier for it (the node decides
  whether the bytes are worth anything: garbage is counted there and costs nothing
  more than a table entry);
* a ``Dial`` to ``udp:HOST:PORT`` opens an outbound carrier (it starts a handshake); if
  the address already had a carrier, the new one takes over receiving for it, and the
  old one stays until evicted, so a link riding it moves over (the link layer moves
  links to wherever their authenticated frames arrive from: roaming);
* the table is bounded (``udp_max_peers``): when it is full, the address heard from
  least recently is closed, except one that carries a link (we sent it an encrypted
  link frame within ``linked_grace``: an attacker spoofing source addresses cannot make
  us do that). If only linked addresses are left, a new address is refused instead.

Each datagram is one link frame of at most ``udp_mtu`` bytes; the link layer fragments
larger frames itself. The event loop reports one datagram per readiness; the socket
then reads whatever else is waiting (up to ``_READ_BATCH``) and the node is pumped once
for the whole batch (a 64 KiB payload arrives as some 55 datagrams). Writes beyond the
socket's hard cap are dropped and counted (datagram semantics: the layers above
recover), and the socket's high-water mark makes ``wait_writable`` wait, which slows
senders before anything is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
from collections import OrderedDict
from typing import Any, Protocol, cast

from meshnet.ids import TransportId
from meshnet.link.messages import FrameType
from meshnet.runtime.endpoints import Endpoint, Scheme, format_address
from meshnet.runtime.transports import CarrierHost, Writability
from meshnet.wire.framing import Frame

__all__ = ["UdpPeer", "UdpSocket", "open_udp", "pick_socket", "resolve_udp"]

_MAX_CARRIERS_PER_ADDRESS = 2
_EVICTION_SCAN = 64  # linked addresses skipped at most per eviction
_READ_BATCH = 64  # datagrams read per readiness event before the node is pumped
_MAX_DATAGRAM = 65535
_TRANSPORT = FrameType.TRANSPORT  # an encrypted link frame: only a linked peer gets one
Address = tuple[str, int]


class _DatagramTransport(Protocol):
    """What the selector loop's datagram transport offers (typeshed lists less)."""

    def sendto(self, data: Frame, addr: Any = None) -> None: ...
    def get_write_buffer_size(self) -> int: ...
    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def is_closing(self) -> bool: ...
    def close(self) -> None: ...
    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


class UdpPeer:
    """One remote address on a shared UDP socket (the ``Carrier`` for UDP)."""

    datagram = True

    def __init__(self, sock: UdpSocket, address: tuple[Any, ...], endpoint: str) -> None:
        self.transport_id = TransportId(0)
        self.socket = sock
        self.address = address
        self.key: Address = (address[0], address[1])
        self.endpoint = endpoint
        self.closed = False
        self.linked_at = -1e18  # when we last sent it an encrypted link frame

    def send(self, frames: list[Frame]) -> None:
        """Send each frame as one datagram."""
        if any(frame and frame[0] == _TRANSPORT for frame in frames):
            self.linked_at = self.socket.now()
        self.socket.send(frames, self.address)

    def close(self) -> None:
        self.socket.forget(self)

    def abort(self) -> None:
        self.socket.forget(self)

    def buffered(self) -> int:
        return 0  # the socket's buffer is shared: counted once, on the socket

    async def wait_writable(self) -> None:
        await self.socket.wait_writable()

    def set_reading(self, reading: bool) -> None:
        """Reading is paused per socket, not per remote address."""


class UdpSocket(asyncio.DatagramProtocol):
    """A bound UDP socket and the table of remote addresses it talks to.

    Args:
        host: the driver.
        sock: the bound, non-blocking socket (the transport wraps it).
    """

    def __init__(self, host: CarrierHost, sock: socket.socket) -> None:
        self._host = host
        self._socket = sock  # ours: read directly to drain a batch per readiness event
        self._peers: OrderedDict[Address, list[UdpPeer]] = OrderedDict()
        self._writability = Writability()
        self.transport: _DatagramTransport | None = None
        self.local_endpoint = ""
        self.family = socket.AF_INET
        self.closed = asyncio.get_running_loop().create_future()

    # -- asyncio.DatagramProtocol -----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(_DatagramTransport, transport)
        config = self._host.config
        self.transport.set_write_buffer_limits(
            high=config.write_high_water, low=config.write_low_water
        )
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            self.family = sock.family
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                with contextlib.suppress(OSError):  # the kernel caps the size; best effort
                    sock.setsockopt(socket.SOL_SOCKET, option, config.udp_socket_buffer)
        name = self.transport.get_extra_info("sockname")
        self.local_endpoint = format_address(Scheme.UDP, name[0], name[1])
        if not self._host.reading:
            self.transport.pause_reading()

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        batch: list[tuple[TransportId, bytes]] = []
        self._route(data, addr, batch)
        host, sock = self._host, self._socket
        for _ in range(_READ_BATCH - 1):
            if not host.reading or self.transport is None:
                break
            try:
                data, addr = sock.recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                host.count("udp_socket_error")
                break
            self._route(data, addr, batch)
        if batch:
            host.datagrams_received(batch)

    def _route(
        self, data: bytes, addr: tuple[Any, ...], batch: list[tuple[TransportId, bytes]]
    ) -> None:
        """Find (or open) the carrier of ``addr`` and queue ``data`` for it."""
        key: Address = (addr[0], addr[1])
        carriers = self._peers.get(key)
        if carriers is None:
            if len(self._peers) >= self._host.config.udp_max_peers and not self._make_room():
                self._host.count("udp_table_full")
                return
            endpoint = format_address(Scheme.UDP, key[0], key[1])
            peer = self._open(addr, endpoint, outbound=False, dial=None)
        else:
            self._peers.move_to_end(key)
            peer = carriers[-1]
        batch.append((peer.transport_id, data))

    def error_received(self, exc: Exception) -> None:
        self._host.count("udp_socket_error")

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._writability.resume()
        for carriers in list(self._peers.values()):
            for peer in list(carriers):
                self.forget(peer)
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        self._writability.pause()

    def resume_writing(self) -> None:
        self._writability.resume()

    # -- the table of remote addresses --------------------------------------------------

    @property
    def peer_count(self) -> int:
        return sum(len(c) for c in self._peers.values())

    def open_outbound(self, address: tuple[Any, ...], endpoint: str, dial: int) -> UdpPeer:
        """A carrier to ``address`` that starts a handshake (the answer to a ``Dial``)."""
        return self._open(address, endpoint, outbound=True, dial=dial)

    def _open(
        self, address: tuple[Any, ...], endpoint: str, *, outbound: bool, dial: int | None
    ) -> UdpPeer:
        peer = UdpPeer(self, address, endpoint)
        carriers = self._peers.get(peer.key)
        if carriers is None:
            if len(self._peers) >= self._host.config.udp_max_peers:
                self._make_room()  # our own dials may go over the bound if it fails
            carriers = self._peers[peer.key] = []
        else:
            self._peers.move_to_end(peer.key)
            if len(carriers) >= _MAX_CARRIERS_PER_ADDRESS:
                self.forget(carriers[0])
        carriers.append(peer)
        peer.transport_id = self._host.carrier_opened(
            peer, outbound=outbound, endpoint=endpoint, mtu=self._host.config.udp_mtu, dial=dial
        )
        return peer

    def _make_room(self) -> bool:
        """Close the least recently heard address that carries no link; False if none."""
        now, grace = self.now(), self._host.linked_grace
        for _ in range(min(_EVICTION_SCAN, len(self._peers))):
            key, carriers = next(iter(self._peers.items()))
            if any(now - c.linked_at < grace for c in carriers):
                self._peers.move_to_end(key)  # a live link: keep it, look further
                continue
            self._host.count("udp_peer_evicted")
            for old in list(carriers):
                self.forget(old)
            return True
        return False

    def now(self) -> float:
        return self._host.now()

    def forget(self, peer: UdpPeer) -> None:
        """Close one remote-address carrier (the socket itself stays)."""
        if peer.closed:
            return
        peer.closed = True
        carriers = self._peers.get(peer.key)
        if carriers is not None and peer in carriers:
            carriers.remove(peer)
            if not carriers:
                del self._peers[peer.key]
        self._host.carrier_closed(peer.transport_id)

    # -- sending ---------------------------------------------------------------------

    def send(self, frames: list[Frame], address: tuple[Any, ...]) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            self._host.count("send_on_closed_transport")
            return
        cap = self._host.config.write_hard_cap
        for frame in frames:
            if transport.get_write_buffer_size() > cap:
                self._host.count("udp_send_dropped")
                continue
            transport.sendto(frame, address)

    def buffered(self) -> int:
        transport = self.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    async def wait_writable(self) -> None:
        await self._writability.wait()

    def set_reading(self, reading: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if reading:
            transport.resume_reading()
        else:
            transport.pause_reading()

    def close(self) -> None:
        """Close the socket and every carrier on it."""
        if self.transport is not None:
            self.transport.close()


async def resolve_udp(endpoint: Endpoint, timeout: float) -> tuple[int, tuple[Any, ...]]:
    """The address family and socket address to send to for ``endpoint``.

    Literal addresses are converted at once; names are resolved (bounded by ``timeout``).

    Raises:
        OSError: the name does not resolve.
        TimeoutError: resolving took longer than ``timeout``.
    """
    if endpoint.is_literal:
        infos = socket.getaddrinfo(
            endpoint.host, endpoint.port, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST
        )
    else:
        loop = asyncio.get_running_loop()
        infos = await asyncio.wait_for(
            loop.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_DGRAM), timeout
        )
    if not infos:
        raise OSError(f"{endpoint.host} has no address")
    family, _, _, _, address = infos[0]
    return family, address


def pick_socket(
    sockets: list[UdpSocket], family: int, address: tuple[Any, ...]
) -> UdpSocket | None:
    """A listening socket that can reach ``address`` (so peers learn our listening port).

    A socket bound to the wildcard address reaches anything of its family; one bound to
    a loopback address reaches only loopback, and one bound to another address only
    non-loopback ones. None: dial from an ephemeral socket instead.
    """
    target = ipaddress.ip_address(str(address[0]).partition("%")[0])
    for sock in sockets:
        if sock.family != family or sock.transport is None:
            continue
        bound = ipaddress.ip_address(str(sock.transport.get_extra_info("sockname")[0]))
        if bound.is_unspecified or bound.is_loopback == target.is_loopback:
            return sock
    return None


async def open_udp(host: CarrierHost, local: tuple[str, int]) -> UdpSocket:
    """A UDP socket bound to ``local`` (``("::", 0)``: an ephemeral one to dial from).

    Raises:
        OSError: the address cannot be bound; the message names it.
    """
    loop = asyncio.get_running_loop()
    where = format_address(Scheme.UDP, local[0], local[1])
    try:
        infos = await loop.getaddrinfo(
            local[0], local[1], type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE
        )
        family, kind, proto, _, address = infos[0]
        raw = socket.socket(family, kind, proto)
        try:
            raw.setblocking(False)
            raw.bind(address)
            _, sock = await loop.create_datagram_endpoint(lambda: UdpSocket(host, raw), sock=raw)
        except BaseException:
            raw.close()
            raise
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else exc.strerror  # asyncio's repeats the address
        raise OSError(exc.errno, f"cannot listen on {where}: {why}") from exc
    return sock
