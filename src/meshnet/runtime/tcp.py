"""TCP transports: one connection is one carrier of length-prefixed link frames.

Pipeline of one connection (``TcpConnection``, an ``asyncio.BufferedProtocol``):

1. ``connection_made``: TCP_NODELAY on, write-buffer marks set. An inbound connection
   first passes ``TcpAdmission`` (a global cap, a per-source cap and a per-source token
   bucket, all before any handshake work); a refused one is aborted and counted.
   Admitted connections are registered with the host, which tells the node.
2. ``get_buffer``/``buffer_updated``: the loop reads into the driver's shared
   ``ReadBuffer``; ``FrameReader`` cuts every complete frame out of the read in place
   (``wire/framing.py``), and the host feeds them to the node and pumps once for the whole
   read. Frames reach the node as views of the read buffer (the link layer decrypts out
   of them and copies what it keeps, ``LinkManager.receive_datagram``). A length
   prefix over the limit closes the connection (counted); the listener is unaffected.
3. ``send``: frames are length-prefixed and written in one ``write`` (the first encrypted
   link frame marks the connection as carrying a link); while bytes are queued in the
   transport already, prefix and frame are appended separately (no joined copy). A
   large frame the link sealed into a pooled buffer has room for its prefix in front
   (``link/sealbuffers.py``): it goes out as one write, uncopied (the pool reuses the
   buffer only once nothing, the transport included, refers to it). Above
   the high-water mark the carrier is not writable (``wait_writable`` waits, which is
   how senders are slowed); above the hard cap the peer is not reading at all and the
   connection is aborted (counted), so a peer that never reads cannot grow our memory.
4. ``connection_lost``: the host tells the node the transport is gone.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections import Counter

from meshnet.errors import DecodeError
from meshnet.ids import TransportId
from meshnet.link.limits import SourceRateLimiter
from meshnet.link.messages import FrameType
from meshnet.link.sealbuffers import stream_record
from meshnet.runtime.endpoints import Endpoint, Scheme, format_address
from meshnet.runtime.tcpread import DIRECT_READ_MIN
from meshnet.runtime.transports import CarrierHost, RuntimeConfig, Writability
from meshnet.wire.framing import FRAME_HEADER_SIZE, Frame, FrameReader

__all__ = ["TcpAdmission", "TcpConnection", "dial_tcp", "listen_tcp"]

_NO_TRANSPORT = TransportId(0)
_TRANSPORT = FrameType.TRANSPORT  # an encrypted link frame: we only send one on a link


def _framed(frame: Frame) -> bytes:
    """``frame`` behind its 4-byte length (``encode_frame``, for bytes or a view)."""
    return len(frame).to_bytes(FRAME_HEADER_SIZE, "big") + frame


class TcpAdmission:
    """Whether one more inbound connection may be accepted, decided before any work.

    Args:
        config: the caps and the per-source token bucket.
    """

    def __init__(self, config: RuntimeConfig) -> None:
        self._config = config
        self._limiter = SourceRateLimiter(
            rate=config.tcp_accept_rate, burst=config.tcp_accept_burst
        )
        self._per_source: Counter[str] = Counter()
        self.open = 0

    def admit(self, source: str, now: float) -> str | None:
        """Take a slot for a connection from ``source``; the refusal reason, or None."""
        config = self._config
        if self.open >= config.tcp_max_connections:
            return "tcp_over_capacity"
        if self._per_source[source] >= config.tcp_max_per_source:
            return "tcp_over_source_capacity"
        if not self._limiter.allow(source, now):
            return "tcp_rate_limited"
        self.opened(source)
        return None

    def opened(self, source: str | None) -> None:
        """Count a connection; ``source`` None for outbound ones (no per-source cap)."""
        self.open += 1
        if source is not None:
            self._per_source[source] += 1

    def closed(self, source: str | None) -> None:
        self.open -= 1
        if source is not None:
            self._per_source[source] -= 1
            if self._per_source[source] <= 0:
                del self._per_source[source]


class TcpConnection(asyncio.BufferedProtocol):
    """One TCP connection carrying link frames (the ``Carrier`` for TCP).

    Args:
        host: the driver.
        admission: the shared admission state (counts every connection).
        outbound: True for a connection we dialled.
        endpoint: for outbound connections, the endpoint text that was dialled.
        dial: for outbound connections, the node's dial id.
    """

    datagram = False

    def __init__(
        self,
        host: CarrierHost,
        admission: TcpAdmission,
        *,
        outbound: bool,
        endpoint: str = "",
        dial: int | None = None,
    ) -> None:
        self.transport_id = _NO_TRANSPORT
        self.endpoint = endpoint
        self.outbound = outbound
        self.opened = self.last_received = host.now()
        self.linked = False  # we sent an encrypted link frame on it: it carries a link
        self.closing_since: float | None = None
        self.frames_received = 0
        self._host = host
        self._admission = admission
        self._dial = dial
        self._source = ""
        self._transport: asyncio.Transport | None = None
        self._writability = Writability()
        self._reader = FrameReader(host.max_frame)
        self._read = host.read_buffer  # shared by every connection of the driver
        self._direct = False  # the last read went into the reader's frame buffer
        self._hard_cap = host.config.write_hard_cap

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        host, config = self._host, self._host.config
        if not host.running:
            # A dial that completed as the driver stopped (its task cancelled a moment too
            # late, or an accept racing the listener's close): nothing may outlive stop().
            host.count("tcp_after_stop")
            transport.abort()
            return
        peer = transport.get_extra_info("peername")
        self._source = str(peer[0]) if peer else "?"
        if not self.outbound:
            refusal = self._admission.admit(self._source, host.now())
            if refusal is not None:
                host.count(refusal)
                transport.abort()
                return
            host.count("tcp_accepted")
            self.endpoint = format_address(Scheme.TCP, peer[0], peer[1])
        else:
            self._admission.opened(None)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=config.write_high_water, low=config.write_low_water)
        if not host.reading:
            transport.pause_reading()
        self.transport_id = host.carrier_opened(
            self,
            outbound=self.outbound,
            endpoint=self.endpoint,
            mtu=self._reader.max_frame,
            dial=self._dial,
        )

    def get_buffer(self, sizehint: int) -> memoryview:
        space = self._reader.space(DIRECT_READ_MIN)  # the rest of a large frame: read
        self._direct = space is not None  # it straight into its place, uncopied
        return space if space is not None else self._read.view

    def buffer_updated(self, nbytes: int) -> None:
        if self._transport is None:
            return
        try:
            if self._direct:
                frames = self._reader.filled(nbytes)
            else:
                frames = self._reader.cut(self._read.view[:nbytes])
        except DecodeError:
            self._host.count("tcp_bad_frame_length")
            self.abort()
            return
        self.last_received = now = self._host.now()
        if frames:
            self.frames_received += len(frames)
            self._host.frames_received(self.transport_id, frames, now)

    def eof_received(self) -> bool:
        return False  # a half-closed link is of no use: close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is None:
            return  # refused at admission; never registered
        self._transport = None
        self._writability.resume()  # wake senders: they will find the link gone
        self._admission.closed(None if self.outbound else self._source)
        self._host.carrier_closed(self.transport_id)

    def pause_writing(self) -> None:
        self._writability.pause()
        if self._transport is not None:
            self._host.carrier_writable(self.transport_id, False)

    def overdue(self, now: float, config: RuntimeConfig) -> str | None:
        """Why this connection should be cut now (a counter name), or None.

        A goodbye that cannot be flushed, an inbound connection that sent no frame or
        never came to carry a link, and a connection silent for ``idle_timeout``.
        """
        if self.closing_since is not None:
            return "tcp_close_timeout" if now - self.closing_since >= config.close_timeout else None
        inbound = not self.outbound
        if inbound and self.frames_received == 0:
            silent = now - self.opened >= config.first_frame_timeout
            return "tcp_first_frame_timeout" if silent else None
        if inbound and not self.linked and now - self.opened >= config.link_timeout:
            return "tcp_no_link_timeout"  # its handshake was refused or stalled
        if now - self.last_received >= config.idle_timeout:
            return "tcp_idle_closed"
        return None

    def trim(self, now: float, idle: float) -> None:
        """Free the frame reader's buffers once nothing arrived for ``idle`` seconds."""
        if now - self.last_received >= idle:
            self._reader.trim()

    def resume_writing(self) -> None:
        self._writability.resume()
        if self._transport is not None:
            self._host.carrier_writable(self.transport_id, True)

    # -- Carrier -----------------------------------------------------------------------

    def send(self, frames: list[Frame]) -> None:
        """Write ``frames``, each behind its length. A frame sealed into a ``FrameBuffer``
        carries room for its length in front (``stream_record``): prefix and frame go
        out in one write, uncopied (and the buffer is not reused while the transport
        keeps a view of it, ``link/sealbuffers.py``).
        """
        transport = self._transport
        if transport is None or transport.is_closing():
            self._host.count("send_on_closed_transport")
            return
        if not self.linked:
            self.linked = any(frame and frame[0] == _TRANSPORT for frame in frames)
        if transport.get_write_buffer_size():
            # Bytes are queued already, so a write only appends to the transport's
            # buffer: prefix and frame go in separately, with no joined copy of each frame.
            write = transport.write
            for frame in frames:
                record = stream_record(frame)
                if record is not None:
                    write(record)
                else:
                    write(len(frame).to_bytes(FRAME_HEADER_SIZE, "big"))
                    write(frame)
        elif len(frames) == 1:  # one send() call: a whole frame
            frame = frames[0]
            if type(frame) is bytes:  # small frames: a joined copy is cheapest
                transport.write(len(frame).to_bytes(FRAME_HEADER_SIZE, "big") + frame)
                if len(frame) < self._hard_cap:
                    return  # into an empty buffer: at most this frame stays buffered
            else:
                record = stream_record(frame)
                transport.write(record if record is not None else _framed(frame))
        else:
            transport.write(b"".join([stream_record(frame) or _framed(frame) for frame in frames]))
        if transport.get_write_buffer_size() > self._hard_cap:
            self._host.count("tcp_write_overflow")
            self.abort()

    def close(self) -> None:
        if self._transport is not None and self.closing_since is None:
            self.closing_since = self._host.now()
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def buffered(self) -> int:
        transport = self._transport
        return transport.get_write_buffer_size() if transport is not None else 0

    async def wait_writable(self) -> None:
        await self._writability.wait()

    def set_reading(self, reading: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if reading:
            transport.resume_reading()
        else:
            transport.pause_reading()


async def dial_tcp(
    host: CarrierHost, admission: TcpAdmission, *, endpoint: Endpoint, text: str, dial: int
) -> None:
    """Open an outbound connection for the node's ``Dial`` (``text`` as it named it).

    Raises:
        TimeoutError: no connection within ``connect_timeout``.
        OSError: the connection was refused or could not be made.
    """
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(
        loop.create_connection(
            lambda: TcpConnection(host, admission, outbound=True, endpoint=text, dial=dial),
            endpoint.host,
            endpoint.port,
        ),
        host.config.connect_timeout,
    )


async def listen_tcp(
    host: CarrierHost, admission: TcpAdmission, endpoint: Endpoint
) -> tuple[asyncio.Server, list[str]]:
    """Listen on ``endpoint``; return the server and the endpoints actually bound.

    Raises:
        OSError: the address cannot be bound; the message names the endpoint.
    """
    loop = asyncio.get_running_loop()
    try:
        server = await loop.create_server(
            lambda: TcpConnection(host, admission, outbound=False),
            endpoint.host,
            endpoint.port,
            reuse_address=True,
        )
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else exc.strerror  # asyncio's repeats the address
        raise OSError(exc.errno, f"cannot listen on {endpoint}: {why}") from exc
    bound = [sock.getsockname() for sock in server.sockets]
    return server, [format_address(Scheme.TCP, name[0], name[1]) for name in bound]
