"""Large frames sealed into reused buffers over real TCP: a buffer the transport may still
hold (what it could not send at once) is never sealed into again, so no frame that
waits in a transport is ever rewritten, whichever way the transport keeps it; once the
transport lets go of it, the pool's buffer is reused."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.runtime.support import run, started

from meshnet.link.sealbuffers import POOL, FrameBuffer
from meshnet.node.events import NeighbourDataReceived, PeerConnected
from meshnet.runtime.tcp import TcpConnection

WAIT = 20.0


class ViewKeepingTransport(asyncio.Transport):
    """Wraps a real transport; while ``holding``, keeps *views* of what is written (as
    asyncio on Python 3.12+ keeps what the socket did not take), not copies, and
    writes them through only on ``release``. A frame buffer rewritten while held is
    sent rewritten: the peer's link fails authentication."""

    def __init__(self, inner: asyncio.Transport) -> None:
        super().__init__()
        self.inner = inner
        self.holding = False
        self.held: list[memoryview] = []
        self.buffers: list[int] = []  # the pooled frame buffers written, by id

    def write(self, data: Any) -> None:
        if type(memoryview(data).obj) is FrameBuffer:
            self.buffers.append(id(memoryview(data).obj))
        if self.holding or self.held:
            self.held.append(memoryview(data).cast("B"))
        else:
            self.inner.write(data)

    def release(self) -> None:
        self.holding = False
        for view in self.held:
            self.inner.write(bytes(view))
        self.held.clear()

    def get_write_buffer_size(self) -> int:
        return sum(len(view) for view in self.held) + self.inner.get_write_buffer_size()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.inner.set_write_buffer_limits(high, low)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.inner.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self.inner.is_closing()

    def close(self) -> None:
        self.inner.close()

    def abort(self) -> None:
        self.inner.abort()

    def pause_reading(self) -> None:
        self.inner.pause_reading()

    def resume_reading(self) -> None:
        self.inner.resume_reading()


def test_frames_a_transport_holds_are_never_rewritten(monkeypatch: pytest.MonkeyPatch) -> None:
    wrapped: list[ViewKeepingTransport] = []
    connection_made = TcpConnection.connection_made

    def wrap(self: TcpConnection, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        proxy = ViewKeepingTransport(transport)
        wrapped.append(proxy)
        connection_made(self, proxy)

    monkeypatch.setattr(TcpConnection, "connection_made", wrap)

    async def scenario() -> None:
        a, b = await started("a"), await started("b")
        try:
            up = a.subscribe(kinds=[PeerConnected])
            received = b.subscribe(kinds=[NeighbourDataReceived])
            a.connect(b.listening[0], expected_peer=b.node.node_id)
            await asyncio.wait_for(up.wait_for(PeerConnected), WAIT)
            sent = [bytes([i]) * 60_000 for i in range(12)]
            for proxy in wrapped:
                proxy.holding = True  # the socket "takes nothing": every frame waits
            for payload in sent[:6]:
                a.send_to_neighbour(b.node.node_id, payload)
            held = {buffer for proxy in wrapped for buffer in proxy.buffers}
            assert len(held) == 6  # each frame in a buffer of its own, none rewritten
            for proxy in wrapped:
                proxy.release()
                proxy.buffers.clear()
            for payload in sent[6:]:  # the socket takes everything: buffers are reused
                a.send_to_neighbour(b.node.node_id, payload)
            reused = {buffer for proxy in wrapped for buffer in proxy.buffers}
            assert len(reused) <= POOL and reused <= held  # the pool's, free again
            got = [(await asyncio.wait_for(received.get(), WAIT)) for _ in sent]
            assert [e.payload for e in got if isinstance(e, NeighbourDataReceived)] == sent
            links = a.status().node.links.links
            assert len(links) == 1 and links[0].state == "established"
        finally:
            await a.stop()
            await b.stop()

    run(scenario())
