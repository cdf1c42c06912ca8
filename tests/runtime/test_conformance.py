"""The link conformance suite (tests/helpers/conformance.py) on every transport."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from tests.helpers.conformance import CHECKS, Harness, MemoryHarness, RuntimeHarness
from tests.helpers.memory import MemoryNetwork
from tests.runtime.support import run, started

from meshnet.node.events import NeighbourDataReceived, PeerConnected

HARNESSES: dict[str, Callable[[], Harness]] = {
    "memory-datagram": lambda: MemoryHarness(datagram=True),
    "memory-stream": lambda: MemoryHarness(datagram=False),
    "tcp": lambda: RuntimeHarness("tcp"),
    "udp": lambda: RuntimeHarness("udp"),
}


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("transport", sorted(HARNESSES))
def test_link_conformance(transport: str, check: str) -> None:
    async def main() -> None:
        harness = HARNESSES[transport]()
        try:
            await CHECKS[check](harness)
        finally:
            await harness.close()

    run(main())


def test_memory_network_is_deterministic() -> None:
    """Same seeds, same inputs: the same events at the same virtual times."""

    def trace() -> list[tuple[float, str, str]]:
        net = MemoryNetwork(datagram=True)
        a, b = net.add("a"), net.add("b")
        a.node.connect(b.endpoint, net.now)
        a.pump()
        net.run_until(lambda: bool(a.of(PeerConnected)) and bool(b.of(PeerConnected)))
        a.node.send_to_neighbour(b.node_id, bytes(5000), net.now)
        a.pump()
        net.advance(12.0)  # keepalives and probes
        return [(net.now, m.name, repr(e)) for m in (a, b) for e in m.events]

    first = trace()
    assert first == trace()
    assert any("NeighbourDataReceived" in event for _, _, event in first)


@pytest.mark.parametrize("scheme", ["tcp", "udp"])
def test_link_over_ipv6_loopback(scheme: str) -> None:

    async def main() -> None:
        b = await started("b", [f"{scheme}:[::1]:0"])
        a = await started("a", [f"{scheme}:[::1]:0"])
        try:
            assert b.listening[0].startswith(f"{scheme}:[::1]:")
            sa, sb = a.subscribe(), b.subscribe()
            a.connect(b.listening[0], expected_peer=b.node.node_id)
            connected = await asyncio.wait_for(sa.wait_for(PeerConnected), 20)
            assert connected.endpoint == b.listening[0]
            inbound = await asyncio.wait_for(sb.wait_for(PeerConnected), 20)
            assert inbound.endpoint.startswith(f"{scheme}:[::1]:")
            a.send_to_neighbour(b.node.node_id, b"over IPv6")
            data = await asyncio.wait_for(sb.wait_for(NeighbourDataReceived), 20)
            assert data.payload == b"over IPv6"
        finally:
            await a.stop()
            await b.stop()

    run(main())
