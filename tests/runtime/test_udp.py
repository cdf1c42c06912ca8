"""UDP over loopback: one shared socket, roaming to a new source address, a bounded table."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import Awaitable
from typing import Any, TypeVar

from tests.runtime.support import run, started

from meshnet.node.events import NeighbourDataReceived, PeerConnected, PeerDisconnected
from meshnet.runtime.endpoints import parse_endpoint
from meshnet.runtime.transports import RuntimeConfig

T = TypeVar("T")
WAIT = 20.0


async def wait(aw: Awaitable[T]) -> T:
    return await asyncio.wait_for(aw, WAIT)


class _Relay(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Any) -> None:
        self.on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None
        self.received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.received += 1
        self.on_datagram(self, data, addr)


class RebindingProxy:
    """A NAT that changes its public port: ``a`` talks to ``front``; ``b`` sees ``back``.

    ``rebind()`` moves to a second back socket, so ``b`` suddenly hears ``a`` from a new
    source address (what a roaming laptop or a NAT rebinding looks like).
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.client: tuple[Any, ...] | None = None
        self.front: _Relay | None = None
        self.backs: list[_Relay] = []
        self.current = 0

    async def start(self) -> str:
        loop = asyncio.get_running_loop()
        _, self.front = await loop.create_datagram_endpoint(
            lambda: _Relay(self._from_client), local_addr=("127.0.0.1", 0)
        )
        for _ in range(2):
            _, back = await loop.create_datagram_endpoint(
                lambda: _Relay(self._from_target), local_addr=("127.0.0.1", 0)
            )
            self.backs.append(back)
        assert self.front.transport is not None
        host, port = self.front.transport.get_extra_info("sockname")[:2]
        return f"udp:{host}:{port}"

    def back_endpoint(self, index: int) -> str:
        transport = self.backs[index].transport
        assert transport is not None
        host, port = transport.get_extra_info("sockname")[:2]
        return f"udp:{host}:{port}"

    def _from_client(self, relay: _Relay, data: bytes, addr: tuple[Any, ...]) -> None:
        self.client = addr
        transport = self.backs[self.current].transport
        assert transport is not None
        transport.sendto(data, self.target)

    def _from_target(self, relay: _Relay, data: bytes, addr: tuple[Any, ...]) -> None:
        if self.front is not None and self.front.transport is not None and self.client:
            self.front.transport.sendto(data, self.client)

    def rebind(self) -> None:
        self.current = 1

    def close(self) -> None:
        for relay in [self.front, *self.backs]:
            if relay is not None and relay.transport is not None:
                relay.transport.close()


def test_link_roams_to_a_new_source_address() -> None:
    async def main() -> None:
        b = await started("b", ["udp:127.0.0.1:0"])
        a = await started("a", ["udp:127.0.0.1:0"])
        target = parse_endpoint(b.listening[0])
        proxy = RebindingProxy((target.host, target.port))
        try:
            front = await proxy.start()
            sa, sb = a.subscribe(), b.subscribe()
            b_id, a_id = b.node.node_id, a.node.node_id
            a.connect(front, expected_peer=b_id)
            await wait(sa.wait_for(PeerConnected))
            linked = await wait(sb.wait_for(PeerConnected))
            assert linked.endpoint == proxy.back_endpoint(0)
            a.send_to_neighbour(b_id, b"before")
            assert (await wait(sb.wait_for(NeighbourDataReceived))).payload == b"before"

            proxy.rebind()  # from now on b hears a from another address
            for i in range(3):  # a keeps sending: some frame arrives from the new address
                a.send_to_neighbour(b_id, b"after %d" % i)
                event = await wait(sb.wait_for(NeighbourDataReceived))
                assert event.payload == b"after %d" % i and event.link == linked.link
            (link,) = b.status().node.links.links
            assert link.endpoint == proxy.back_endpoint(1)
            b.send_to_neighbour(a_id, b"reply")  # b answers at the new address
            assert (await wait(sa.wait_for(NeighbourDataReceived))).payload == b"reply"
            assert proxy.backs[1].received > 0
            assert sb.get_nowait() is None  # no PeerDisconnected, no new PeerConnected
        finally:
            proxy.close()
            await a.stop()
            await b.stop()

    run(main())


def test_one_socket_serves_many_peers() -> None:
    async def main() -> None:
        hub = await started("hub", ["udp:127.0.0.1:0"])
        spokes = [await started(f"spoke-{i}", ["udp:127.0.0.1:0"]) for i in range(3)]
        try:
            sub = hub.subscribe(kinds=[PeerConnected])
            for spoke in spokes:
                spoke.connect(hub.listening[0])
            peers = {(await wait(sub.get())).peer for _ in spokes}  # type: ignore[union-attr]
            assert peers == {s.node.node_id for s in spokes}
            status = hub.status()
            assert status.udp_peers == 3
            assert len(status.listening) == 1
        finally:
            for driver in [*spokes, hub]:
                await driver.stop()

    run(main())


def test_address_table_is_bounded_and_keeps_linked_peers() -> None:
    bound = 8
    runtime = RuntimeConfig(udp_max_peers=bound)

    async def main() -> None:
        b = await started("b", ["udp:127.0.0.1:0"], runtime=runtime)
        a = await started("a", ["udp:127.0.0.1:0"])
        try:
            sa, sb = a.subscribe(), b.subscribe()
            a.connect(b.listening[0])
            await wait(sa.wait_for(PeerConnected))
            await wait(sb.wait_for(PeerConnected))
            target = parse_endpoint(b.listening[0])
            sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4 * bound)]
            try:
                for i, sock in enumerate(sockets):
                    sock.sendto(hashlib.sha256(b"%d" % i).digest(), (target.host, target.port))

                async def all_seen() -> None:
                    while sum(dict(b.status().node.links.drops).values()) < len(sockets):
                        await asyncio.sleep(0.01)
                        if b.status().udp_peers > bound:
                            raise AssertionError("the address table grew past its bound")

                await wait(all_seen())
            finally:
                for sock in sockets:
                    sock.close()
            status = b.status()
            assert status.udp_peers <= bound
            assert status.counter("udp_peer_evicted") >= 3 * bound
            # The linked peer was never evicted: its link is intact and working.
            a.send_to_neighbour(b.node.node_id, b"still here")
            assert (await wait(sb.wait_for(NeighbourDataReceived))).payload == b"still here"
            assert not [e for e in [sb.get_nowait()] if isinstance(e, PeerDisconnected)]
        finally:
            await a.stop()
            await b.stop()

    run(main())


def test_a_burst_of_datagrams_is_read_in_batches() -> None:
    """Datagrams waiting together are fed to the node together, with one pump."""

    async def main() -> None:
        b = await started("b", ["udp:127.0.0.1:0"])
        a = await started("a", ["udp:127.0.0.1:0"])
        try:
            sa, sb = a.subscribe(), b.subscribe(kinds=[NeighbourDataReceived])
            a.connect(b.listening[0])
            await wait(sa.wait_for(PeerConnected))
            pumps = 0
            pump = b._pump

            def counting() -> None:
                nonlocal pumps
                pumps += 1
                pump()

            b._pump = counting  # type: ignore[method-assign]
            count = 300
            for i in range(count):  # no yield: they all wait in b's socket together
                a.send_to_neighbour(b.node.node_id, b"%d" % i)
            got = {int((await wait(sb.get())).payload) for _ in range(count)}  # type: ignore[union-attr]
            assert got == set(range(count))
            assert pumps <= count // 10, pumps
        finally:
            await a.stop()
            await b.stop()

    run(main())
