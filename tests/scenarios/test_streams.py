"""Reliable end-to-end streams across relays in the simulator, through failures."""

from __future__ import annotations

from typing import Any

from tests.helpers.simnet import build_network

from meshnet.ids import StreamId
from meshnet.node.events import StreamDataReceived, StreamFinished, StreamOpened
from meshnet.sim.simulation import Simulation


class StreamSink:
    """Collects stream events the simulator hands to the application."""

    def __init__(self, sim: Simulation) -> None:
        self.data: dict[tuple[int, StreamId], bytearray] = {}
        self.finished: set[tuple[int, StreamId]] = set()
        self.opened: list[tuple[int, StreamOpened]] = []
        previous = sim.network.app_event

        def app_event(sender: Any, event: object, now: float) -> None:
            if isinstance(event, StreamDataReceived):
                self.data.setdefault((sender.index, event.stream), bytearray()).extend(event.data)
            elif isinstance(event, StreamFinished):
                self.finished.add((sender.index, event.stream))
            elif isinstance(event, StreamOpened):
                self.opened.append((sender.index, event))
            previous(sender, event, now)

        sim.network.app_event = app_event  # type: ignore[method-assign]


def app(sim: Simulation, index: int, call: Any) -> Any:
    """Run an application command on node ``index`` as its driver would: then pump it."""
    result = call(sim.node(index))
    sim.network.nodes[index].pump(sim.now)
    return result


def pattern(size: int) -> bytes:
    return bytes((i * 131 + i // 251) & 0xFF for i in range(size))


def send_all(sim: Simulation, src: int, dst: int, payload: bytes, limit: float) -> StreamId:
    """Open a stream from ``src`` to ``dst`` and push ``payload`` through flow control."""
    target = sim.node(dst).node_id
    stream: StreamId = app(sim, src, lambda n: n.open_stream(target, sim.now))
    offset = 0

    def pushed() -> bool:
        nonlocal offset
        if offset < len(payload):
            chunk = payload[offset : offset + 65536]
            offset += app(sim, src, lambda n: n.stream_send(stream, chunk, sim.now))
            if offset == len(payload):
                app(sim, src, lambda n: n.stream_close(stream, sim.now))
        return offset >= len(payload)

    while not pushed():
        before = sim.now
        sim.run_until(lambda: False, limit=before + 0.05)
        assert sim.now < limit, "the sender never got the whole payload accepted"
    return stream


def received(sink: StreamSink, index: int) -> bytes:
    return b"".join(bytes(v) for (i, _), v in sorted(sink.data.items()) if i == index)


def test_stream_crosses_four_relays_intact() -> None:
    sim = build_network(n=6, topology="line", seed=21)
    sink = StreamSink(sim)
    sim.run_for(3.0)
    payload = pattern(300_000)
    send_all(sim, 0, 5, payload, limit=120.0)
    assert sim.run_until(lambda: any(i == 5 for i, _ in sink.finished), limit=120.0)
    assert received(sink, 5) == payload
    assert sink.opened and sink.opened[0][1].peer == sim.node(0).node_id


def test_stream_survives_a_relay_crash_on_a_ring() -> None:
    sim = build_network(n=6, topology="ring", seed=4)
    sink = StreamSink(sim)
    sim.run_for(3.0)
    src, dst = 0, 3
    path: Any = sim.node(src).route_to(sim.node(dst).node_id)  # type: ignore[attr-defined]
    relay_ids = list(path[:-1])
    relay = next(i for i in range(6) if sim.node(i).node_id == relay_ids[0])
    payload = pattern(400_000)
    target = sim.node(dst).node_id
    stream = app(sim, src, lambda n: n.open_stream(target, sim.now))
    offset = app(sim, src, lambda n: n.stream_send(stream, payload, sim.now))
    sim.run_for(0.3)
    before_crash = len(received(sink, dst))
    assert 0 < before_crash < len(payload)  # the crash really lands mid-transfer
    sim.crash(relay)  # the other side of the ring must carry the rest
    while offset < len(payload):
        rest = payload[offset:]
        offset += app(sim, src, lambda n, rest=rest: n.stream_send(stream, rest, sim.now))
        sim.run_for(0.05)
        assert sim.now < 200.0
    app(sim, src, lambda n: n.stream_close(stream, sim.now))
    assert sim.run_until(lambda: any(i == dst for i, _ in sink.finished), limit=240.0)
    assert received(sink, dst) == payload
