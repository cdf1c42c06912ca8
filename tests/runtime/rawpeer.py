"""``RawPeer``: a real ``Node`` driven by hand over one raw TCP connection.

Misbehaving peers need a real handshake (to get past the door) and then behaviour no
honest driver has: stop sending, stop reading, stop half-way. A ``RawPeer`` runs the
node's verbs itself over an ``asyncio`` stream, one step at a time, so a test decides
exactly what crosses the wire and when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from meshnet.ids import TransportId
from meshnet.node.events import PeerConnected
from meshnet.node.node import Node
from meshnet.runtime.endpoints import parse_endpoint
from meshnet.wire.framing import StreamDeframer, encode_frame

_TID = TransportId(1)


class RawPeer:
    """A node with a raw TCP connection to ``endpoint`` that it drives by hand."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self._deframer = StreamDeframer(1 << 20)
        self._loop = asyncio.get_running_loop()

    async def open(self, endpoint: str, *, source: str = "127.0.0.1", rcvbuf: int = 0) -> None:
        """Connect (from ``source``); ``rcvbuf`` > 0 shrinks our receive buffer first."""
        target = parse_endpoint(endpoint)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.bind((source, 0))
        sock.setblocking(False)
        try:
            await self._loop.sock_connect(sock, (target.host, target.port))
        except BaseException:
            sock.close()
            raise
        self.reader, self.writer = await asyncio.open_connection(sock=sock)
        self.node.transport_opened(
            _TID, self._loop.time(), outbound=True, endpoint=endpoint, datagram=False, mtu=1 << 20
        )

    async def flush(self) -> int:
        """Write what the node wants to send; return how many frames that was."""
        assert self.writer is not None
        out = self.node.datagrams_to_send(self._loop.time())
        for _, frame in out:
            self.writer.write(encode_frame(frame))
        await self.writer.drain()
        return len(out)

    async def step(self) -> bool:
        """Read once and feed the node; False at end of stream."""
        assert self.reader is not None
        data = await self.reader.read(1 << 16)
        if not data:
            return False
        for frame in self._deframer.feed(data):
            self.node.receive_datagram(_TID, frame, self._loop.time())
        return True

    async def handshake(self) -> PeerConnected:
        """Complete the link handshake (bounded by the caller's timeout)."""
        while True:
            await self.flush()
            while (event := self.node.next_event()) is not None:
                if isinstance(event, PeerConnected):
                    await self.flush()  # FINISH
                    return event
            if not await self.step():
                raise ConnectionError("the node closed the connection during the handshake")

    async def wait_closed(self) -> None:
        """Read (and discard) until the other side closes the connection."""
        assert self.reader is not None
        with contextlib.suppress(ConnectionError):
            while await self.reader.read(1 << 16):
                pass

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()
