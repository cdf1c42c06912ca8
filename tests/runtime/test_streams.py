"""End-to-end streams and datagrams through ``NodeDriver`` over loopback TCP."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from tests.runtime.support import identity, run, started

from meshnet.errors import StateError
from meshnet.node.events import PeerConnected
from meshnet.runtime.driver import NodeDriver
from meshnet.session.events import (
    DatagramReceived,
    StreamDataReceived,
    StreamFinished,
    StreamOpened,
)

T = TypeVar("T")
WAIT = 30.0


async def wait(aw: Awaitable[T]) -> T:
    return await asyncio.wait_for(aw, WAIT)


async def linked_pair() -> tuple[NodeDriver, NodeDriver]:
    a = await started("a")
    b = await started("b")
    sub = a.subscribe(kinds=[PeerConnected])
    a.connect(b.listening[0], expected_peer=b.node.identity.node_id)
    await wait(sub.wait_for(PeerConnected))
    sub.close()
    return a, b


def test_a_stream_larger_than_the_send_buffer_arrives_whole_and_in_order() -> None:
    payload = hashlib.shake_256(b"stream").digest(3 * 1024 * 1024 + 17)

    async def main() -> None:
        a, b = await linked_pair()
        inbox = b.subscribe(kinds=[StreamOpened, StreamDataReceived, StreamFinished])
        try:
            stream = a.open_stream(b.node.identity.node_id, service=7)
            writer = asyncio.ensure_future(a.stream_write(stream, payload))
            opened = await wait(inbox.wait_for(StreamOpened))
            assert (opened.peer, opened.service) == (a.node.identity.node_id, 7)
            received = bytearray()
            while True:
                event = await wait(inbox.get())
                if isinstance(event, StreamFinished):
                    break
                assert isinstance(event, StreamDataReceived)
                assert event.stream == opened.stream
                received += event.data
                if len(received) == len(payload) and writer.done():
                    a.stream_close(stream)
            await writer
            assert bytes(received) == payload
        finally:
            await a.stop()
            await b.stop()

    run(main())


def test_a_writer_waiting_for_room_fails_when_the_peer_resets_the_stream() -> None:
    async def main() -> None:
        a, b = await linked_pair()
        inbox = b.subscribe(kinds=[StreamOpened])
        try:
            stream = a.open_stream(b.node.identity.node_id)
            writer = asyncio.ensure_future(a.stream_write(stream, bytes(32 * 1024 * 1024)))
            opened = await wait(inbox.wait_for(StreamOpened))
            b.stream_reset(opened.stream, code=9)
            with pytest.raises(StateError, match=r"reset|unknown|closed"):
                await wait(writer)
            with pytest.raises(StateError):
                await a.stream_write(stream, b"more")
        finally:
            await a.stop()
            await b.stop()

    run(main())


def test_stopping_the_driver_fails_a_waiting_writer() -> None:
    async def main() -> None:
        a, b = await linked_pair()
        try:
            stream = a.open_stream(b.node.identity.node_id)
            await b.stop()  # nothing will ever acknowledge: the writer must wait for room
            writer = asyncio.ensure_future(a.stream_write(stream, bytes(32 * 1024 * 1024)))
            await asyncio.sleep(0)  # one turn of the loop: the writer reaches its first wait
            assert not writer.done()
            await a.stop()
            with pytest.raises(StateError, match="stopped"):
                await wait(writer)
        finally:
            await a.stop()

    run(main())


def test_a_datagram_reaches_the_neighbour_end_to_end() -> None:
    async def main() -> None:
        a, b = await linked_pair()
        inbox = b.subscribe(kinds=[DatagramReceived])
        try:
            a.send_datagram(b.node.identity.node_id, b"ping over a session")
            got = await wait(inbox.wait_for(DatagramReceived))
            assert (got.source, got.payload) == (a.node.identity.node_id, b"ping over a session")
        finally:
            await a.stop()
            await b.stop()

    run(main())


def test_ping_measures_the_round_trip_and_a_stranger_never_answers() -> None:
    async def main() -> None:
        a, b = await linked_pair()
        try:
            first = await a.ping(b.node.identity.node_id)
            second = await a.ping(b.node.identity.node_id)
            assert first.peer == b.node.identity.node_id
            assert second.token != first.token and second.rtt >= 0.0
            stranger = identity(99, "nobody").node_id  # no announcement: no session
            with pytest.raises((TimeoutError, StateError)):
                await a.ping(stranger, timeout=0.5)
        finally:
            await a.stop()
            await b.stop()

    run(main())


async def until(condition: Callable[[], bool]) -> None:
    """Wait (bounded by WAIT) until ``condition()`` holds, checking every 20 ms."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await wait(poll())


def test_trace_pings_every_node_on_the_route_through_a_relay() -> None:
    async def main() -> None:
        a, b = await linked_pair()
        c = await started("c")
        try:
            b.connect(c.listening[0], expected_peer=c.node.identity.node_id)
            far = c.node.identity.node_id
            await until(lambda: a.node.route_to(far) is not None)
            hops = await a.trace(far)
            assert [hop.node for hop in hops] == [b.node.identity.node_id, far]
            assert all(hop.rtt is not None and hop.error == "" for hop in hops)
            with pytest.raises(StateError, match="no route"):
                await a.trace(identity(98, "nowhere").node_id)
        finally:
            for driver in (a, b, c):
                await driver.stop()

    run(main())
