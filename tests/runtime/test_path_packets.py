"""Session packet size per path over real carriers: 64 KiB packets on an all-TCP path,
the configured size as soon as a UDP link is on the way (docs/protocol/session.md §2)."""

from __future__ import annotations

import asyncio

import pytest
from tests.runtime.support import run, started

from meshnet.node.events import PeerConnected
from meshnet.runtime.driver import NodeDriver
from meshnet.session.config import SessionConfig
from meshnet.session.events import StreamDataReceived, StreamFinished

WAIT = 30.0
DATA = bytes(range(256)) * 4096  # 1 MiB


async def _link(a: NodeDriver, b: NodeDriver, endpoint: str) -> None:
    sub = a.subscribe(kinds=[PeerConnected])
    a.connect(endpoint, expected_peer=b.node.identity.node_id)
    await asyncio.wait_for(sub.wait_for(PeerConnected), WAIT)
    sub.close()


async def _stream(a: NodeDriver, c: NodeDriver) -> int:
    """Send DATA from ``a`` to ``c`` end to end; the packet budget ``a`` ends with."""
    far = c.node.identity.node_id
    for _ in range(int(WAIT / 0.02)):
        if a.node.route_to(far) is not None:
            break
        await asyncio.sleep(0.02)
    received = bytearray()
    sub = c.subscribe(kinds=[StreamDataReceived, StreamFinished])
    stream = a.open_stream(far)
    await a.stream_write(stream, DATA)
    a.stream_close(stream)
    async for event in sub:
        if isinstance(event, StreamDataReceived):
            received += event.data
        elif isinstance(event, StreamFinished):
            break
    assert bytes(received) == DATA
    (session,) = a.node.status(a.now()).sessions.sessions
    return session.max_packet


@pytest.mark.parametrize(("second", "budget"), [("tcp", 65535), ("udp", 1100)])
def test_the_packet_budget_follows_the_links_of_the_path(second: str, budget: int) -> None:
    async def main() -> None:
        a = await started("a")
        b = await started("b", ["tcp:127.0.0.1:0", "udp:127.0.0.1:0"])
        c = await started("c", [f"{second}:127.0.0.1:0"])
        try:
            await _link(a, b, b.listening[0])
            await _link(b, c, c.listening[0])
            assert await asyncio.wait_for(_stream(a, c), WAIT) == budget
        finally:
            for driver in (a, b, c):
                await driver.stop()

    assert SessionConfig().max_packet == 1100
    run(main())
