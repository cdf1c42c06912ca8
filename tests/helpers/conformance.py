"""One suite of link behaviour that every transport must pass (trio's check_two_way_stream).

A ``Harness`` hides how nodes are joined: ``MemoryHarness`` (``tests/helpers/memory.py``,
virtual time, deterministic), and ``RuntimeHarness`` over loopback TCP or UDP (the real
asyncio driver). Each ``check_*`` coroutine takes a harness and asserts one behaviour;
``CHECKS`` lists them all so a test module can parametrize over (harness, check).

Every wait is bounded: virtual seconds in memory, ``asyncio.wait_for`` on loopback (a
bound on a hang, never a timing assertion).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from tests.helpers.memory import MemoryNetwork, MemoryNode

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.node.config import NodeConfig
from meshnet.node.events import (
    NeighbourDataReceived,
    NodeEvent,
    PeerConnected,
    PeerDialFailed,
    PeerDisconnected,
)
from meshnet.node.node import Node
from meshnet.node.status import NodeStatus
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.endpoints import parse_endpoint
from meshnet.runtime.subscriptions import Subscription
from meshnet.runtime.transports import RuntimeConfig
from meshnet.wire.framing import encode_frame

__all__ = ["CHECKS", "Harness", "MemoryHarness", "RuntimeHarness", "identity"]

E = TypeVar("E", bound=NodeEvent)
WAIT = 20.0  # bound on any one wait, in (virtual or real) seconds


def identity(seed: int, label: str) -> Identity:
    """A fixed identity for tests."""
    return Identity.generate(SeededEntropy(seed, label), created=1_700_000_000)


class Harness(Protocol):
    """Nodes on one kind of transport, seen the same way whatever the transport."""

    name: str
    ordered: bool
    """True when payloads arrive in the order sent (streams, and the memory queue)."""

    async def add(self, name: str, *, ident: Identity | None = None) -> str:
        """Start node ``name``; return the endpoint it is reachable at."""
        ...

    def node_id(self, name: str) -> NodeId: ...
    def connect(self, name: str, endpoint: str, expected: NodeId | None = None) -> None: ...
    def disconnect(self, name: str, endpoint: str) -> None: ...
    def send(self, name: str, peer: NodeId, payload: bytes) -> None: ...
    def status(self, name: str) -> NodeStatus: ...

    async def wait_event(
        self, name: str, kind: type[E], predicate: Callable[[E], bool] | None = None
    ) -> E:
        """The next event of ``kind`` at ``name`` (matching ``predicate``), bounded."""
        ...

    async def send_garbage(self, name: str, chunks: list[bytes]) -> None:
        """Send raw bytes to ``name``'s endpoint from a stranger (no handshake)."""
        ...

    async def close(self) -> None: ...


# -- the memory harness -------------------------------------------------------------


class MemoryHarness:
    """Nodes on a ``MemoryNetwork`` (datagram carriers with an MTU, virtual time)."""

    def __init__(self, *, datagram: bool = True) -> None:
        self.name = "memory-datagram" if datagram else "memory-stream"
        self.ordered = True
        self.net = MemoryNetwork(datagram=datagram)
        self._seen: dict[str, int] = {}

    async def add(self, name: str, *, ident: Identity | None = None) -> str:
        member = self.net.add(name, identity=ident or identity(7, name))
        self._seen[name] = 0
        return member.endpoint

    def _member(self, name: str) -> MemoryNode:
        return self.net.nodes[name]

    def node_id(self, name: str) -> NodeId:
        return self._member(name).node_id

    def connect(self, name: str, endpoint: str, expected: NodeId | None = None) -> None:
        member = self._member(name)
        member.node.connect(endpoint, self.net.now, expected_peer=expected)
        member.pump()

    def disconnect(self, name: str, endpoint: str) -> None:
        member = self._member(name)
        member.node.disconnect(endpoint, self.net.now)
        member.pump()

    def send(self, name: str, peer: NodeId, payload: bytes) -> None:
        member = self._member(name)
        member.node.send_to_neighbour(peer, payload, self.net.now)
        member.pump()

    def status(self, name: str) -> NodeStatus:
        return self._member(name).node.status(self.net.now)

    async def wait_event(
        self, name: str, kind: type[E], predicate: Callable[[E], bool] | None = None
    ) -> E:
        member = self._member(name)
        found: list[E] = []

        def seen() -> bool:
            events = member.events
            while self._seen[name] < len(events):
                event = events[self._seen[name]]
                self._seen[name] += 1
                if isinstance(event, kind) and (predicate is None or predicate(event)):
                    found.append(event)
                    return True
            return False

        self.net.run_until(seen, within=WAIT)
        return found[0]

    async def send_garbage(self, name: str, chunks: list[bytes]) -> None:
        self.net.inject(self._member(name), chunks)

    async def close(self) -> None:
        return None


# -- the loopback harness -----------------------------------------------------------


class RuntimeHarness:
    """Nodes on ``NodeDriver``s over loopback ``tcp`` or ``udp``."""

    def __init__(
        self,
        scheme: str,
        *,
        config: NodeConfig | None = None,
        runtime: RuntimeConfig | None = None,
    ) -> None:
        self.name = f"loopback-{scheme}"
        self.scheme = scheme
        self.ordered = scheme == "tcp"
        self.config = config
        self.runtime = runtime
        self.verifier = SignatureVerifier()
        self.drivers: dict[str, NodeDriver] = {}
        self.subs: dict[str, Subscription] = {}
        self.endpoints: dict[str, str] = {}

    async def add(self, name: str, *, ident: Identity | None = None) -> str:
        node = Node(
            identity=ident or identity(7, name),
            entropy=SeededEntropy(7, f"node:{name}"),
            verifier=self.verifier,
            config=self.config,
        )
        driver = NodeDriver(node, config=self.runtime)
        self.subs[name] = driver.subscribe()
        await driver.start([f"{self.scheme}:127.0.0.1:0"])
        self.drivers[name] = driver
        self.endpoints[name] = driver.listening[0]
        return driver.listening[0]

    def node_id(self, name: str) -> NodeId:
        return self.drivers[name].node.node_id

    def connect(self, name: str, endpoint: str, expected: NodeId | None = None) -> None:
        self.drivers[name].connect(endpoint, expected_peer=expected)

    def disconnect(self, name: str, endpoint: str) -> None:
        self.drivers[name].disconnect(endpoint)

    def send(self, name: str, peer: NodeId, payload: bytes) -> None:
        self.drivers[name].send_to_neighbour(peer, payload)

    def status(self, name: str) -> NodeStatus:
        return self.drivers[name].status().node

    async def wait_event(
        self, name: str, kind: type[E], predicate: Callable[[E], bool] | None = None
    ) -> E:
        return await asyncio.wait_for(self.subs[name].wait_for(kind, predicate), WAIT)

    async def send_garbage(self, name: str, chunks: list[bytes]) -> None:
        endpoint = parse_endpoint(self.endpoints[name])
        if self.scheme == "udp":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                for chunk in chunks:
                    sock.sendto(chunk, (endpoint.host, endpoint.port))
            return
        reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
        try:
            for chunk in chunks:
                writer.write(chunk)
            await writer.drain()
            # The node closes a stream that speaks garbage: wait for that, bounded.
            await asyncio.wait_for(reader.read(), WAIT)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def close(self) -> None:
        errors = {name: d.status().counter("node_error") for name, d in self.drivers.items()}
        for driver in self.drivers.values():
            await driver.stop()
        assert not any(errors.values()), f"a core raised into the driver: {errors}"


# -- the checks ---------------------------------------------------------------------


def _payload(seed: int, size: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


async def _linked(h: Harness) -> tuple[NodeId, NodeId]:
    """Nodes a (dialler) and b (listener), linked; returns their ids."""
    await h.add("a")
    endpoint = await h.add("b")
    h.connect("a", endpoint)
    a_id, b_id = h.node_id("a"), h.node_id("b")
    await h.wait_event("a", PeerConnected, lambda e: e.peer == b_id)
    await h.wait_event("b", PeerConnected, lambda e: e.peer == a_id)
    return a_id, b_id


async def check_handshake_learns_ids(h: Harness) -> None:
    await h.add("a")
    endpoint = await h.add("b")
    h.connect("a", endpoint)
    at_a = await h.wait_event("a", PeerConnected)
    at_b = await h.wait_event("b", PeerConnected)
    assert at_a.peer == h.node_id("b")
    assert at_b.peer == h.node_id("a")
    assert at_a.outbound and not at_b.outbound
    assert at_a.first_contact  # no id was given: trust on first use
    assert not at_b.first_contact
    assert [p.expected for p in h.status("a").peers] == [str(h.node_id("b"))]


async def _exchange(h: Harness, sender: str, receiver: str, payloads: list[bytes]) -> None:
    to = h.node_id(receiver)
    for payload in payloads:
        h.send(sender, to, payload)
    got = [
        (await h.wait_event(receiver, NeighbourDataReceived)).payload for _ in range(len(payloads))
    ]
    if h.ordered:
        assert got == payloads
    else:
        assert sorted(got) == sorted(payloads)


async def check_payloads_both_ways(h: Harness) -> None:
    await _linked(h)
    sizes = [0, 1, 2, 100, 1000, 1199, 1200, 1201, 4000, 17, 3]
    await _exchange(h, "a", "b", [_payload(i, n) for i, n in enumerate(sizes * 3)])
    await _exchange(h, "b", "a", [_payload(100 + i, n) for i, n in enumerate(sizes * 3)])


async def check_64k_payload(h: Harness) -> None:
    await _linked(h)
    big = _payload(64, 64 * 1024)
    await _exchange(h, "a", "b", [big])
    await _exchange(h, "b", "a", [big[::-1], big])


async def check_close_reaches_peer(h: Harness) -> None:
    a_id, b_id = await _linked(h)
    endpoint = h.status("a").peers[0].endpoint
    h.disconnect("a", endpoint)
    at_b = await h.wait_event("b", PeerDisconnected)
    at_a = await h.wait_event("a", PeerDisconnected)
    assert (at_b.peer, at_b.by_peer, at_b.reason) == (a_id, True, "normal")
    assert (at_a.peer, at_a.by_peer) == (b_id, False)


async def check_peer_mismatch_refused(h: Harness) -> None:
    """A dials the endpoint where it expects B, but M (another identity) answers there."""
    await h.add("a")
    await h.add("b")
    impostor = await h.add("m", ident=identity(99, "mallory"))
    b_id = h.node_id("b")
    h.connect("a", impostor, expected=b_id)
    failed = await h.wait_event("a", PeerDialFailed)
    assert failed.endpoint == impostor
    assert "expected" in failed.reason.lower() or b_id.short() in failed.reason
    assert failed.retry_in is not None  # still configured: it will try again, and refuse again
    assert not [link for link in h.status("a").links.links if link.peer != str(b_id)]


async def check_garbage_then_good_peer(h: Harness) -> None:
    await h.add("a")
    endpoint = await h.add("b")
    await h.send_garbage(
        "b",
        [
            encode_frame(b"\x01" + b"\x00" * 40),  # an INIT that is far too short
            encode_frame(b"\xff" * 64),  # an unknown frame type
            encode_frame(b""),  # an empty frame
        ],
    )
    h.connect("a", endpoint)
    connected = await h.wait_event("a", PeerConnected)
    assert connected.peer == h.node_id("b")
    assert dict(h.status("b").links.drops), "the garbage was not counted"


CHECKS: dict[str, Callable[[Harness], Awaitable[None]]] = {
    "handshake_learns_ids": check_handshake_learns_ids,
    "payloads_both_ways": check_payloads_both_ways,
    "64k_payload": check_64k_payload,
    "close_reaches_peer": check_close_reaches_peer,
    "peer_mismatch_refused": check_peer_mismatch_refused,
    "garbage_then_good_peer": check_garbage_then_good_peer,
}
