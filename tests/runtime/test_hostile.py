"""Hostile peers over loopback TCP: each misbehaviour is counted and survived.

Every test first links a well-behaved peer ``a`` to the node under attack ``b``, lets
the attacker loose, checks that ``b`` counted it in ``status()``, and checks that ``a``
and ``b`` still exchange payloads. Waits are bounded by ``asyncio.wait_for`` (a bound
on a hang, not a timing assertion); where a condition can only be observed across the
kernel (bytes buffered, connections reaped), a bounded poll waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from tests.runtime.rawpeer import RawPeer
from tests.runtime.support import make_node, run, started

from meshnet.ids import TransportId
from meshnet.link.config import LinkConfig
from meshnet.node.config import NodeConfig
from meshnet.node.events import NeighbourDataReceived, PeerConnected, PeerDisconnected
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.endpoints import parse_endpoint
from meshnet.runtime.subscriptions import Subscription
from meshnet.runtime.transports import RuntimeConfig
from meshnet.wire.framing import encode_frame

WAIT = 20.0
FAST = LinkConfig(
    handshake_retry=0.2,
    handshake_timeout=1.0,
    keepalive_interval=0.2,
    probe_interval=0.3,
    dead_peer_timeout=1.0,
)


@dataclass
class Served:
    a: NodeDriver
    b: NodeDriver
    sa: Subscription
    sb: Subscription

    async def still_serving(self) -> None:
        """A payload each way between the good peer and the node under attack."""
        a_id, b_id = self.a.node.node_id, self.b.node.node_id
        for sender, receiver, sub, to in (
            (self.a, self.b, self.sb, b_id),
            (self.b, self.a, self.sa, a_id),
        ):
            token = hashlib.sha256(
                repr((sender.node.node_id, receiver.node.node_id)).encode()
            ).digest()
            sender.send_to_neighbour(to, token)
            await asyncio.wait_for(
                sub.wait_for(NeighbourDataReceived, lambda e, t=token: e.payload == t), WAIT
            )


@contextlib.asynccontextmanager
async def served(
    *, link: LinkConfig | None = None, runtime: RuntimeConfig | None = None
) -> AsyncIterator[Served]:
    config = NodeConfig(link=link) if link is not None else None
    b = await started("b", config=config, runtime=runtime)
    a = await started("a", config=config)
    try:
        sa, sb = a.subscribe(), b.subscribe()
        a.connect(b.listening[0])
        await asyncio.wait_for(sa.wait_for(PeerConnected), WAIT)
        await asyncio.wait_for(sb.wait_for(PeerConnected), WAIT)
        yield Served(a, b, sa, sb)
        assert b.status().counter("node_error") == 0, "a core raised on hostile input"
    finally:
        await a.stop()
        await b.stop()


async def poll(condition: Callable[[], bool], what: str) -> None:
    """Wait (bounded) for a condition only observable across the kernel."""

    async def loop() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(loop(), WAIT)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


async def send_raw(endpoint: str, data: bytes, *, source: str = "127.0.0.1") -> bytes:
    """Open a connection, send ``data``, return what comes back until the node closes it."""
    target = parse_endpoint(endpoint)
    reader, writer = await asyncio.open_connection(target.host, target.port, local_addr=(source, 0))
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(closed_by_peer(reader), WAIT)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def closed_by_peer(reader: asyncio.StreamReader) -> bytes:
    """What arrives until the other side closes (a reset counts as closed)."""
    try:
        return await reader.read()
    except ConnectionResetError:
        return b""


def drops(driver: NodeDriver) -> dict[str, int]:
    return dict(driver.status().node.links.drops)


def noise(n: int) -> bytes:
    return hashlib.shake_256(b"garbage").digest(n)


def test_garbage_instead_of_a_handshake() -> None:
    async def main() -> None:
        async with served() as s:
            endpoint = s.b.listening[0]
            # Framed garbage: the node cannot parse it and closes the stream.
            assert await send_raw(endpoint, encode_frame(b"\x07" + noise(500))) == b""
            assert await send_raw(endpoint, encode_frame(b"\x04" + noise(5))) == b""
            # Unframed garbage: its first bytes are a length far over the limit.
            assert await send_raw(endpoint, b"\x7f" + noise(4000)) == b""
            assert drops(s.b)["DecodeError"] == 2
            assert s.b.status().counter("tcp_bad_frame_length") == 1
            await s.still_serving()

    run(main())


def test_length_prefix_of_2_32_minus_1_closes_only_that_connection() -> None:
    async def main() -> None:
        async with served() as s:
            assert await send_raw(s.b.listening[0], b"\xff\xff\xff\xff" + noise(100)) == b""
            status = s.b.status()
            assert status.counter("tcp_bad_frame_length") == 1
            assert status.tcp_connections == 1  # only the good link is left
            await s.still_serving()

    run(main())


async def _init_frame() -> bytes:
    """A valid HANDSHAKE_INIT frame from a fresh node (captured, not sent)."""
    node = make_node("initiator", seed=5)
    node.transport_opened(
        TransportId(1), 0.0, outbound=True, endpoint="x", datagram=False, mtu=1 << 20
    )
    ((_, frame),) = node.datagrams_to_send(0.0)
    return frame


def test_truncated_and_oversized_handshake_messages() -> None:
    async def main() -> None:
        init = await _init_frame()
        async with served() as s:
            endpoint = s.b.listening[0]
            assert await send_raw(endpoint, encode_frame(init[: len(init) // 2])) == b""
            assert await send_raw(endpoint, encode_frame(init[:3])) == b""
            assert await send_raw(endpoint, encode_frame(init + noise(60_000))) == b""
            counted = drops(s.b)
            assert sum(counted.get(k, 0) for k in ("DecodeError", "HandshakeError")) == 3, counted
            assert s.b.status().node.links.handshakes_in_progress == 0
            await s.still_serving()

    run(main())


def test_half_open_handshakes_stay_at_the_bound() -> None:
    bound = 4
    link = LinkConfig(
        max_half_open=bound, handshake_rate=1000.0, handshake_burst=1000, handshake_timeout=1.0
    )

    runtime = RuntimeConfig(link_timeout=2.0, housekeeping_interval=0.05)

    async def main() -> None:
        async with served(link=link, runtime=runtime) as s:
            attackers = [RawPeer(make_node(f"half-{i}", seed=i)) for i in range(3 * bound)]
            try:
                seen: list[int] = []
                for attacker in attackers:
                    await attacker.open(s.b.listening[0])
                    await attacker.flush()  # INIT, then silence: never FINISH

                def all_handled() -> bool:
                    status = s.b.status().node.links
                    seen.append(status.handshakes_in_progress)
                    return dict(status.drops).get("half_open_full", 0) == 2 * bound

                await poll(all_handled, "every INIT past the bound refused")
                assert max(seen) <= bound
                assert s.b.status().node.links.handshakes_in_progress == bound
                await s.still_serving()
                # The half-open ones time out; the refused ones never became links:
                # every attacking connection is closed in the end.
                for attacker in attackers:
                    await asyncio.wait_for(attacker.wait_closed(), WAIT)
                assert drops(s.b)["handshake_timeout"] == bound
                assert s.b.status().counter("tcp_no_link_timeout") == 2 * bound
                assert s.b.status().node.links.handshakes_in_progress == 0
                assert s.b.status().tcp_connections == 1
                await s.still_serving()
            finally:
                for attacker in attackers:
                    await attacker.close()

    run(main())


def test_connection_flood_is_rate_limited_per_source() -> None:
    runtime = RuntimeConfig(tcp_accept_rate=5.0, tcp_accept_burst=10)

    async def main() -> None:
        async with served(runtime=runtime) as s:
            loop = asyncio.get_running_loop()
            target = parse_endpoint(s.b.listening[0])
            before = s.b.status().counter("tcp_accepted")  # the good peer's connection
            start = loop.time()
            for _ in range(60):
                with contextlib.suppress(ConnectionError):
                    _, writer = await asyncio.open_connection(
                        target.host, target.port, local_addr=("127.0.0.3", 0)
                    )
                    writer.close()
                    with contextlib.suppress(ConnectionError):
                        await writer.wait_closed()

            def handled() -> int:
                status = s.b.status()
                return status.counter("tcp_accepted") + status.counter("tcp_rate_limited")

            await poll(lambda: handled() == 60 + before, "every flood connection handled")
            elapsed = loop.time() - start  # every admission happened within this
            await poll(lambda: s.b.status().tcp_connections == 1, "flood connections reaped")
            admitted = s.b.status().counter("tcp_accepted") - before
            assert s.b.status().counter("tcp_rate_limited") == 60 - admitted > 0
            assert 0 < admitted <= 10 + 5.0 * elapsed + 1
            # Another peer (another source address) is not held back by the flood.
            c = await started("c")
            try:
                sc = c.subscribe()
                c.connect(s.b.listening[0])
                await asyncio.wait_for(sc.wait_for(PeerConnected), WAIT)
            finally:
                await c.stop()
            await s.still_serving()

    run(main())


def test_silent_connections_are_capped_per_source_and_reaped() -> None:
    # The first-frame timeout is long beside opening eight loopback connections, even on
    # a loaded machine: were the first three reaped before the last were opened, they
    # would free their places and fewer would be refused.
    runtime = RuntimeConfig(
        tcp_max_per_source=3, first_frame_timeout=1.5, housekeeping_interval=0.05
    )

    async def main() -> None:
        async with served(runtime=runtime) as s:
            target = parse_endpoint(s.b.listening[0])
            streams = [
                await asyncio.open_connection(target.host, target.port, local_addr=("127.0.0.4", 0))
                for _ in range(8)
            ]
            try:
                for reader, _ in streams:
                    assert await asyncio.wait_for(closed_by_peer(reader), WAIT) == b""
            finally:
                for _, writer in streams:
                    writer.close()
                    with contextlib.suppress(ConnectionError):
                        await writer.wait_closed()
            status = s.b.status()
            assert status.counter("tcp_over_source_capacity") == 5
            assert status.counter("tcp_first_frame_timeout") == 3
            await s.still_serving()

    run(main())


def test_peer_that_never_reads_slows_the_sender() -> None:
    runtime = RuntimeConfig(
        write_high_water=256 * 1024, write_low_water=64 * 1024, write_hard_cap=1024 * 1024
    )

    async def main() -> None:
        async with served(runtime=runtime) as s:
            sink = RawPeer(make_node("sink", seed=3))
            try:
                await sink.open(s.b.listening[0], rcvbuf=64 * 1024)
                await asyncio.wait_for(sink.handshake(), WAIT)
                peer = sink.node.node_id
                await asyncio.wait_for(s.sb.wait_for(PeerConnected, lambda e: e.peer == peer), WAIT)
                payload = noise(64 * 1024)
                sent = 0
                peak = 0

                async def sender() -> None:
                    nonlocal sent, peak
                    while True:
                        await s.b.send(peer, payload)
                        sent += 1
                        peak = max(peak, s.b.status().buffered_bytes)
                        await asyncio.sleep(0)  # let the loop run even if send never waits

                task = asyncio.ensure_future(sender())
                try:
                    await poll(
                        lambda: s.b.status().buffered_bytes >= runtime.write_high_water,
                        "the sink's buffer reaching the high-water mark",
                    )
                    before = sent
                    await s.still_serving()  # other links keep flowing meanwhile
                    assert sent == before, "the sender did not wait for room"
                    assert not task.done()
                    # The node heard of it too: routed packets for that link now wait
                    # in the router's bounded queues instead of the carrier's buffer.
                    assert s.b.status().counter("carrier_paused") >= 1
                    link = s.b.node.link_to(peer)
                    assert link is not None
                    neighbour = s.b.node.router._neighbours.get(link)
                    assert neighbour is not None and neighbour.paused
                finally:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                assert peak <= runtime.write_high_water + len(payload) + 1024
                assert s.b.status().counter("tcp_write_overflow") == 0
            finally:
                await sink.close()

    run(main())


def test_peer_that_never_reads_is_cut_off_at_the_hard_cap() -> None:
    runtime = RuntimeConfig(
        write_high_water=256 * 1024, write_low_water=64 * 1024, write_hard_cap=1024 * 1024
    )

    async def main() -> None:
        async with served(runtime=runtime) as s:
            sink = RawPeer(make_node("sink", seed=4))
            try:
                await sink.open(s.b.listening[0], rcvbuf=64 * 1024)
                await asyncio.wait_for(sink.handshake(), WAIT)
                peer = sink.node.node_id
                await asyncio.wait_for(s.sb.wait_for(PeerConnected, lambda e: e.peer == peer), WAIT)
                payload = noise(64 * 1024)
                peak = 0
                for _ in range(500):  # never waits: the kernel buffers fill, then ours
                    if s.b.node.link_to(peer) is None:
                        break
                    s.b.send_to_neighbour(peer, payload)
                    peak = max(peak, s.b.status().buffered_bytes)
                    await asyncio.sleep(0)
                else:
                    raise AssertionError("the link to a peer that never reads was never cut")
                assert peak <= runtime.write_hard_cap + len(payload) + 1024
                assert s.b.status().counter("tcp_write_overflow") == 1
                gone = await asyncio.wait_for(
                    s.sb.wait_for(PeerDisconnected, lambda e: e.peer == peer), WAIT
                )
                assert gone.reason == "transport_lost"
                await s.still_serving()
            finally:
                await sink.close()

    run(main())


def test_silent_peer_is_closed_by_the_dead_peer_timeout() -> None:
    async def main() -> None:
        async with served(link=FAST) as s:
            mute = RawPeer(make_node("mute", seed=6, config=NodeConfig(link=FAST)))
            try:
                await mute.open(s.b.listening[0])
                await asyncio.wait_for(mute.handshake(), WAIT)
                peer = mute.node.node_id
                # From here on the peer sends nothing at all (not even keepalives).
                gone = await asyncio.wait_for(
                    s.sb.wait_for(PeerDisconnected, lambda e: e.peer == peer), WAIT
                )
                assert (gone.reason, gone.by_peer) == ("peer_timeout", False)
                await asyncio.wait_for(mute.wait_closed(), WAIT)
                assert s.b.status().counter("link_closed_peer_timeout") == 1
                await s.still_serving()
            finally:
                await mute.close()

    run(main())


def test_goodbye_that_cannot_be_flushed_is_aborted() -> None:
    """A silent peer that also stopped reading: the close gives up after close_timeout."""
    runtime = RuntimeConfig(
        write_high_water=256 * 1024,
        write_low_water=64 * 1024,
        write_hard_cap=4 * 1024 * 1024,
        close_timeout=0.3,
        housekeeping_interval=0.05,
    )

    async def main() -> None:
        async with served(link=FAST, runtime=runtime) as s:
            sink = RawPeer(make_node("stuck", seed=8, config=NodeConfig(link=FAST)))
            try:
                await sink.open(s.b.listening[0], rcvbuf=64 * 1024)
                await asyncio.wait_for(sink.handshake(), WAIT)
                peer = sink.node.node_id
                await asyncio.wait_for(s.sb.wait_for(PeerConnected, lambda e: e.peer == peer), WAIT)

                async def fill() -> None:  # until the buffer sits at the high-water mark
                    while s.b.status().buffered_bytes < runtime.write_high_water:
                        await s.b.send(peer, noise(64 * 1024))
                        await asyncio.sleep(0)

                await asyncio.wait_for(fill(), WAIT)
                gone = await asyncio.wait_for(
                    s.sb.wait_for(PeerDisconnected, lambda e: e.peer == peer), WAIT
                )
                assert gone.reason == "peer_timeout"
                await poll(lambda: s.b.status().tcp_connections == 1, "the stuck connection cut")
                assert s.b.status().counter("tcp_close_timeout") == 1
                await s.still_serving()
            finally:
                await sink.close()

    run(main())
