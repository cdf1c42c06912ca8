"""The pump, the single re-armed timer, and the recognition of commands and events."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from tests.helpers.simnet import build_network

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import NodeId
from meshnet.errors import StateError
from meshnet.ids import TransportId
from meshnet.sim.harness import (
    CloseRequest,
    DialRequest,
    as_app_datagram,
    describe_event,
    interpret_command,
)

from .toynode import CloseTransport, DatagramReceived, Dial, ToyFactory


class TimerNode:
    """A node whose deadline a test moves around; it records every firing."""

    def __init__(self, node_id: NodeId) -> None:
        self.node_id = node_id
        self.deadline: float | None = None
        self.fired: list[float] = []
        self.received: list[bytes] = []
        self.next_deadlines: list[float | None] = []
        self.fail_on_receive = False

    def transport_opened(self, transport: TransportId, now: float, **_: object) -> None:
        pass

    def transport_closed(self, transport: TransportId, now: float) -> None:
        pass

    def receive_datagram(self, transport: TransportId, data: bytes, now: float) -> None:
        if self.fail_on_receive:
            raise RuntimeError("bug in node code")
        self.received.append(data)

    def datagrams_to_send(self, now: float) -> list[tuple[TransportId, bytes]]:
        return []

    def transport_commands(self) -> list[object]:
        return []

    def get_timer(self) -> float | None:
        return self.deadline

    def handle_timer(self, now: float) -> None:
        self.fired.append(now)
        self.deadline = self.next_deadlines.pop(0) if self.next_deadlines else None

    def next_event(self) -> object | None:
        return None

    def send_datagram(self, destination: NodeId, payload: bytes, now: float) -> None:
        pass


class TimerFactory:
    def __init__(self) -> None:
        self.nodes: list[TimerNode] = []

    def __call__(
        self, *, index: int, identity_entropy: SeededEntropy, entropy: SeededEntropy
    ) -> TimerNode:
        node = TimerNode(NodeId(identity_entropy.random_bytes(32)))
        self.nodes.append(node)
        return node


def test_moved_deadline_leaves_a_stale_entry_that_is_ignored() -> None:
    factory = TimerFactory()
    sim = build_network(n=2, topology="pair", node_factory=factory)
    node = factory.nodes[0]
    node.deadline = 5.0
    sim.network.nodes[0].pump(sim.now)  # armed at 5
    node.deadline = 10.0
    sim.network.nodes[0].pump(sim.now)  # re-armed at 10; the entry at 5 is stale
    sim.run_for(20.0)
    assert node.fired == [10.0]


def test_past_deadline_fires_now_and_rearms() -> None:
    factory = TimerFactory()
    sim = build_network(n=2, topology="pair", node_factory=factory)
    sim.run_for(3.0)
    node = factory.nodes[1]
    node.deadline = 1.0  # already passed
    node.next_deadlines = [4.5, None]
    sim.network.nodes[1].pump(sim.now)
    sim.run_for(5.0)
    assert node.fired == [3.0, 4.5]


def test_a_timer_that_never_advances_is_reported() -> None:
    factory = TimerFactory()
    sim = build_network(n=2, topology="pair", node_factory=factory)
    node = factory.nodes[0]
    node.deadline = 0.0
    node.next_deadlines = [0.0] * 20_000
    sim.network.nodes[0].pump(sim.now)
    with pytest.raises(StateError, match="timer fired"):
        sim.run_for(1.0)


def test_node_exceptions_say_which_node_and_when() -> None:
    factory = TimerFactory()
    sim = build_network(n=2, topology="pair", node_factory=factory)
    factory.nodes[1].fail_on_receive = True
    sim.run_for(0.5)
    sim.network.transmit(sim.network.nodes[0], TransportId(1), b"hello", sim.now)
    with pytest.raises(RuntimeError) as info:
        sim.run_for(1.0)
    assert any("simulated node 1 (receive_datagram)" in note for note in info.value.__notes__)


def test_crashed_node_timer_does_not_fire() -> None:
    factory = TimerFactory()
    sim = build_network(n=2, topology="pair", node_factory=factory)
    node = factory.nodes[0]
    node.deadline = 2.0
    sim.network.nodes[0].pump(sim.now)
    sim.crash(0, keep_state=True)
    sim.run_for(5.0)
    assert node.fired == []
    sim.restart(0)  # resumed: the overdue deadline fires at once
    sim.run_for(0.0)
    assert node.fired == [5.0]


def test_interpret_command_by_attributes() -> None:
    assert interpret_command(CloseTransport(TransportId(3), "bye")) == CloseRequest(
        TransportId(3), "bye"
    )
    assert interpret_command(Dial("sim:4")) == DialRequest("sim:4", None)

    @dataclass
    class RealDial:
        dial: int
        endpoint: str
        expected_peer: object = None

    assert interpret_command(RealDial(7, "sim:2")) == DialRequest("sim:2", 7)
    with pytest.raises(StateError, match="does not know"):
        interpret_command(object())


def test_app_datagram_recognition() -> None:
    source = NodeId(bytes(32))
    got = as_app_datagram(DatagramReceived(source, b"payload", 3))
    assert got is not None
    assert (got.source, got.payload, got.hops) == (source, b"payload", 3)

    @dataclass
    class NeighbourDataReceived:
        peer: NodeId
        payload: bytes

    assert as_app_datagram(NeighbourDataReceived(source, b"x")) is None


def test_describe_event_keeps_simple_fields() -> None:
    source = NodeId(bytes(32))
    described = describe_event(DatagramReceived(source, b"abc", 2))
    assert described == {
        "type": "DatagramReceived",
        "source": str(source),
        "payload": "<3 bytes>",
        "hops": 2,
    }
    assert describe_event(object()) == {"type": "object"}


def test_restarted_node_must_keep_its_identity() -> None:
    class Forgetful(ToyFactory):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def __call__(self, *, index: int, identity_entropy: SeededEntropy, entropy: SeededEntropy):  # type: ignore[no-untyped-def]
            self.calls += 1
            return super().__call__(index=index, identity_entropy=entropy, entropy=entropy)

    sim = build_network(n=2, topology="pair", node_factory=Forgetful())
    sim.crash(1)
    with pytest.raises(StateError, match="factory must rebuild the identity"):
        sim.restart(1)


def test_describe_event_handles_enums_and_infinities() -> None:
    import enum

    class Reason(enum.Enum):
        TIMEOUT = 1

    @dataclass
    class PeerDialFailed:
        reason: Reason
        retry_in: float
        count: int

    described = describe_event(PeerDialFailed(Reason.TIMEOUT, float("inf"), 3))
    assert described == {
        "type": "PeerDialFailed",
        "reason": "TIMEOUT",
        "retry_in": "inf",
        "count": 3,
    }
