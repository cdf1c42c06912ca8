"""``NodeDriver`` over loopback: lifecycle, dial failures, reconnection, link replacement."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import pytest
from tests.runtime.rawpeer import RawPeer
from tests.runtime.support import make_node, run, started

from meshnet.errors import ConfigError, LocalError, StateError
from meshnet.link.config import LinkConfig
from meshnet.node.config import NodeConfig
from meshnet.node.events import (
    NeighbourDataReceived,
    PeerConnected,
    PeerDialFailed,
    PeerDisconnected,
)
from meshnet.node.peers import Backoff
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.endpoints import parse_endpoint
from meshnet.runtime.subscriptions import Overflow
from meshnet.runtime.tcp import TcpConnection

T = TypeVar("T")
WAIT = 20.0
QUICK_REDIAL = NodeConfig(
    backoff=Backoff(base=0.05, max_delay=0.2),
    link=LinkConfig(handshake_retry=0.1, handshake_timeout=0.5),
)


async def wait(aw: Awaitable[T]) -> T:
    return await asyncio.wait_for(aw, WAIT)


def test_start_binds_real_ports_and_stop_closes_everything() -> None:
    async def main() -> None:
        driver = await started("a", ["tcp:127.0.0.1:0", "udp:127.0.0.1:0", "tcp:[::1]:0"])
        sub = driver.subscribe()
        listening = driver.listening
        assert [parse_endpoint(e).scheme.value for e in listening] == ["tcp", "udp", "tcp"]
        assert all(parse_endpoint(e).port != 0 for e in listening)
        with pytest.raises(StateError):
            await driver.start([])
        await driver.stop()
        await driver.stop()  # twice is fine
        tcp = parse_endpoint(listening[0])
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(tcp.host, tcp.port)
        assert [event async for event in sub] == []  # the subscription ended
        with pytest.raises(StateError, match="stopped"):
            driver.connect(listening[0])

    run(main())


def test_a_failed_listen_leaves_nothing_open() -> None:
    async def main() -> None:
        first = await started("a", ["tcp:127.0.0.1:0"])
        try:
            second = NodeDriver(make_node("b"))
            with pytest.raises(OSError, match=r"cannot listen on tcp:127\.0\.0\.1"):
                await second.start(["udp:127.0.0.1:0", first.listening[0]])
            udp = parse_endpoint(second.listening[0])
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, local_addr=(udp.host, udp.port)
            )
            transport.close()  # the port was free again: the failed start closed it
            with pytest.raises(ConfigError):
                await NodeDriver(make_node("c")).start(["sctp:127.0.0.1:1"])
        finally:
            await first.stop()

    run(main())


def test_commands_need_a_running_driver_and_a_link() -> None:
    async def main() -> None:
        idle = NodeDriver(make_node("idle"))
        with pytest.raises(StateError, match="new"):
            idle.connect("tcp:127.0.0.1:1")
        driver = await started("a")
        try:
            stranger = make_node("stranger").node_id
            with pytest.raises(StateError, match="no link"):
                driver.send_to_neighbour(stranger, b"x")
            with pytest.raises(StateError, match="no link"):
                await driver.send(stranger, b"x")
            with pytest.raises(ConfigError):
                driver.connect("tcp:127.0.0.1")
        finally:
            await driver.stop()

    run(main())


def test_refused_dial_is_reported_and_retried_without_piling_up() -> None:
    async def main() -> None:
        closed = await started("gone")
        endpoint = closed.listening[0]
        await closed.stop()
        a = await started("a", config=QUICK_REDIAL)
        try:
            sub = a.subscribe(kinds=[PeerDialFailed])
            assert a.connect(endpoint.upper().replace("TCP", "tcp")) == endpoint
            for _ in range(4):
                failed = await wait(sub.get())
                assert isinstance(failed, PeerDialFailed)
                assert failed.endpoint == endpoint
                assert "refused" in failed.reason.lower()
                assert failed.retry_in is not None and failed.retry_in > 0
                status = a.status()
                assert status.dials_in_progress <= 1
                assert [p.dialing for p in status.node.peers].count(True) <= 1
            assert a.status().counter("dial_failed") >= 4
        finally:
            await a.stop()

    run(main())


@pytest.mark.parametrize("scheme", ["tcp", "udp"])
def test_link_comes_back_after_the_peer_restarts(scheme: str) -> None:
    async def main() -> None:
        b = await started("b", [f"{scheme}:127.0.0.1:0"], config=QUICK_REDIAL)
        endpoint = b.listening[0]
        a = await started("a", [f"{scheme}:127.0.0.1:0"], config=QUICK_REDIAL)
        b2: NodeDriver | None = None
        try:
            sub = a.subscribe()
            b_id = b.node.node_id
            a.connect(endpoint, expected_peer=b_id)
            first = await wait(sub.wait_for(PeerConnected))
            assert first.peer == b_id and not first.first_contact
            await b.stop()  # the peer's process goes away, saying goodbye
            gone = await wait(sub.wait_for(PeerDisconnected))
            assert (gone.peer, gone.by_peer, gone.reason) == (b_id, True, "shutdown")
            await wait(sub.wait_for(PeerDialFailed))  # nobody there for a while
            # The same identity comes back on the same address.
            b2 = NodeDriver(make_node("b", config=QUICK_REDIAL))
            await b2.start([endpoint])
            back = await wait(sub.wait_for(PeerConnected))
            assert back.peer == b_id
            b2_sub = b2.subscribe(kinds=[NeighbourDataReceived])
            a.send_to_neighbour(b_id, b"hello again")
            received = await wait(b2_sub.get())
            assert isinstance(received, NeighbourDataReceived)
            assert received.payload == b"hello again"
        finally:
            await a.stop()
            if b2 is not None:
                await b2.stop()

    run(main())


def test_redialled_tcp_connection_replaces_the_old_one_under_the_same_link() -> None:
    """The same NodeId dials again from elsewhere: b sees no new peer and no loss."""

    async def main() -> None:
        b = await started("b")
        sub = b.subscribe()
        old = RawPeer(make_node("a"))
        a2 = NodeDriver(make_node("a"))  # the same identity, in a new "process"
        try:
            await old.open(b.listening[0])
            await wait(old.handshake())
            first = await wait(sub.wait_for(PeerConnected))
            a_id = first.peer
            (old_status,) = b.status().node.links.links
            await a2.start(["tcp:127.0.0.2:0"])
            a2_sub = a2.subscribe()
            a2.connect(b.listening[0], expected_peer=b.node.node_id)
            await wait(a2_sub.wait_for(PeerConnected))
            await wait(old.wait_closed())  # b closed the replaced connection
            a2.send_to_neighbour(b.node.node_id, b"from the new place")
            data = await wait(sub.wait_for(NeighbourDataReceived))
            assert (data.peer, data.link, data.payload) == (a_id, first.link, b"from the new place")
            b.send_to_neighbour(a_id, b"answer")
            answer = await wait(a2_sub.wait_for(NeighbourDataReceived))
            assert answer.payload == b"answer"
            status = b.status()
            assert [link.link for link in status.node.links.links] == [first.link]
            assert status.node.links.links[0].endpoint != old_status.endpoint
            assert sub.get_nowait() is None  # no PeerDisconnected, no second PeerConnected
        finally:
            await old.close()
            await a2.stop()
            await b.stop()

    run(main())


def test_backlogged_subscriber_pauses_reading_and_loses_nothing() -> None:
    async def main() -> None:
        b = await started("b")
        a = await started("a")
        try:
            slow = b.subscribe(kinds=[NeighbourDataReceived], limit=8)
            monitor = b.subscribe(kinds=[NeighbourDataReceived], limit=2, overflow=Overflow.DROP)
            connected = a.subscribe(kinds=[PeerConnected])
            a.connect(b.listening[0])
            await wait(connected.get())
            b_id = b.node.node_id
            payloads = [bytes([i]) * 1000 for i in range(200)]
            for payload in payloads:
                await a.send(b_id, payload)

            async def paused() -> None:
                while not b.status().reading_paused:
                    await asyncio.sleep(0.005)

            await wait(paused())
            got = []
            for _ in payloads:
                event = await wait(slow.get())
                assert isinstance(event, NeighbourDataReceived)
                got.append(event.payload)
            assert got == payloads
            assert not b.status().reading_paused
            assert monitor.dropped > 0 and len(monitor) == 2
        finally:
            await a.stop()
            await b.stop()

    run(main())


def test_stop_cancels_dials_in_flight() -> None:
    async def main() -> None:
        b = await started("b")
        a = await started("a")
        try:
            sub = b.subscribe()
            a.connect(b.listening[0])
            a.connect("udp:localhost:9")
            assert a.status().dials_in_progress == 2
            await a.stop()
            assert a.status().dials_in_progress == 0
            assert a.status().tcp_connections == 0
            assert b.status().tcp_connections == 0
            assert sub.get_nowait() is None
        finally:
            await a.stop()
            await b.stop()

    run(main())


def test_a_core_that_raises_is_contained(caplog: pytest.LogCaptureFixture) -> None:
    """A bug in a core must not close the shared UDP socket or stop the timer."""

    async def main() -> None:
        b = await started("b", ["udp:127.0.0.1:0"])
        a = await started("a", ["udp:127.0.0.1:0"])
        try:
            sa, sb = a.subscribe(), b.subscribe(kinds=[NeighbourDataReceived])
            a.connect(b.listening[0])
            await wait(sa.wait_for(PeerConnected))
            receive = b.node.receive_datagram
            armed = [True]

            def buggy(transport: object, data: bytes, now: float) -> None:
                if armed[0]:
                    armed[0] = False
                    raise RuntimeError("a bug in a core")
                receive(transport, data, now)  # type: ignore[arg-type]

            b.node.receive_datagram = buggy  # type: ignore[method-assign]
            a.send_to_neighbour(b.node.node_id, b"maybe lost to the bug")
            a.send_to_neighbour(b.node.node_id, b"after the bug")
            await wait(sb.wait_for(NeighbourDataReceived, lambda e: e.payload == b"after the bug"))
            assert not armed[0]
            assert b.status().counter("node_error") == 1
            assert b.status().udp_peers == 1
        finally:
            await a.stop()
            await b.stop()

    with caplog.at_level("ERROR", logger="meshnet.runtime.driver"):
        run(main())
    assert "the node raised in receive_datagram" in caplog.text


def test_dialling_our_own_tcp_endpoint_is_refused_not_raised() -> None:
    async def main() -> None:
        a = await started("a", config=QUICK_REDIAL)
        try:
            sub = a.subscribe(kinds=[PeerDialFailed, PeerConnected])
            a.connect(a.listening[0])
            event = await asyncio.wait_for(sub.get(), 3)  # the handshake timeout is 0.5 s
            assert isinstance(event, PeerDialFailed)
            assert a.status().counter("node_error") == 0
        finally:
            await a.stop()

    run(main())


def test_dialling_our_own_udp_endpoint_fails_and_retries() -> None:
    async def main() -> None:
        a = await started("a", ["udp:127.0.0.1:0"], config=QUICK_REDIAL)
        try:
            sub = a.subscribe(kinds=[PeerDialFailed, PeerConnected])
            a.connect(a.listening[0])
            event = await wait(sub.get())
            assert isinstance(event, PeerDialFailed)
            assert a.status().counter("node_error") == 0
        finally:
            await a.stop()

    run(main())


def test_a_listener_answers_inside_the_pump_and_subscriptions_still_see_everything() -> None:
    async def main() -> None:
        b = await started("b")
        a = await started("a")
        try:
            seen_by_b = b.subscribe(kinds=[NeighbourDataReceived])
            answers = a.subscribe(kinds=[NeighbourDataReceived])
            connected = a.subscribe(kinds=[PeerConnected])

            def echo(event: object) -> None:
                assert isinstance(event, NeighbourDataReceived)
                if event.payload == b"boom":
                    raise RuntimeError("the application's bug")
                b.send_to_neighbour(event.peer, event.payload[::-1])

            b.listen(echo, kinds=[NeighbourDataReceived])
            a.connect(b.listening[0])
            await wait(connected.get())
            b_id = b.node.node_id
            for payload in (b"one", b"boom", b"two"):
                a.send_to_neighbour(b_id, payload)
            first = await wait(answers.get())
            second = await wait(answers.get())
            assert isinstance(first, NeighbourDataReceived)
            assert isinstance(second, NeighbourDataReceived)
            assert (first.payload, second.payload) == (b"eno", b"owt")
            got = [await wait(seen_by_b.get()) for _ in range(3)]
            assert [e.payload for e in got if isinstance(e, NeighbourDataReceived)] == [
                b"one",
                b"boom",
                b"two",
            ]
            assert b.status().counter("listener_error") == 1
        finally:
            await a.stop()
            await b.stop()

    run(main())


def test_our_own_address_is_reported_once_and_not_redialled() -> None:
    """A bootstrap list naming every node of a group names us too: one try, then never."""

    async def main() -> None:
        driver = await started("a", config=QUICK_REDIAL)
        try:
            me = driver.node.node_id
            with pytest.raises(LocalError, match="own id"):
                driver.connect(driver.listening[0], expected_peer=me)
            with pytest.raises(LocalError, match="own id"):
                driver.disconnect_peer(me)
            with pytest.raises(LocalError, match="itself"):
                await driver.trace(me)
            events = driver.subscribe(kinds=[PeerDialFailed, PeerConnected])
            driver.connect(driver.listening[0])
            failed = await wait(events.get())
            assert isinstance(failed, PeerDialFailed)
            assert failed.retry_in is None and "not dialled again" in failed.reason
            (peer,) = driver.status().node.peers
            assert not peer.connected and not peer.dialing and "own identity" in peer.last_error
            assert driver.node.peers.get_timer() is None  # no attempt is scheduled
        finally:
            await driver.stop()

    run(main())


def test_a_connection_completing_after_stop_is_aborted_not_leaked() -> None:
    async def main() -> None:
        b = await started("b")
        a = await started("a")
        await a.stop()
        try:
            endpoint = parse_endpoint(b.listening[0])
            loop = asyncio.get_running_loop()
            # What a dial whose task was cancelled a moment too late would do.
            transport, _ = await loop.create_connection(
                lambda: TcpConnection(a, a._admission, outbound=True, endpoint="x", dial=1),
                endpoint.host,
                endpoint.port,
            )
            assert transport.is_closing()
            status = a.status()
            assert status.counter("tcp_after_stop") == 1 and status.tcp_connections == 0
        finally:
            await b.stop()

    run(main())
