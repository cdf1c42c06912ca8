"""A stream across a ring of five real node processes survives a relay killed mid-stream.

Five namespaces in a ring (``world.Ring``: node ``i`` shares a veth pair with ``i - 1``
and ``i + 1`` and can reach no one else), each running ``node_proc.py`` linked over TCP
to its two neighbours. Node 0 opens an end-to-end stream to node 2, which it reaches
only through relays, and writes a known pattern. Half-way (the sender holds there, so
the kill always lands mid-stream) the test SIGKILLs the first relay of the route in use,
read from node 0's ``route_to``, then lets the sender go on. The stream completes over
the other side of the ring: the receiver counts every byte and its digest equals the
pattern's, and node 0's route now avoids the dead relay.

Every wait is bounded; processes and namespaces are removed in ``finally``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest
from tests.netns.node_proc import pattern
from tests.netns.world import PORT, NodeProcess, Ring, require_netns
from tests.runtime.support import run

pytestmark = pytest.mark.netns

SIZE = 4 * 1024 * 1024
HOLD = SIZE // 4


@pytest.fixture
def ring() -> Iterator[Ring]:
    require_netns()
    built = Ring(tag=f"{os.getpid() % 100000}")
    try:
        built.build()
        yield built
    finally:
        built.destroy()


async def start_ring(ring: Ring) -> list[NodeProcess]:
    nodes: list[NodeProcess] = []
    for i, ns in enumerate(ring.nodes):
        nodes.append(await NodeProcess.start(ns, f"r{i}", "--listen", f"tcp:0.0.0.0:{PORT}"))
    for i, node in enumerate(nodes):
        after = nodes[(i + 1) % len(nodes)]
        node.command(
            cmd="connect", endpoint=f"tcp:{ring.address(i, 2)}:{PORT}", expected=after.node_id
        )
    for i, node in enumerate(nodes):
        neighbours = {nodes[(i - 1) % len(nodes)].node_id, nodes[(i + 1) % len(nodes)].node_id}
        for _ in neighbours:
            up = await node.expect(lambda e: e["event"] == "connected")
            assert up["peer"] in neighbours
    return nodes


async def route(node: NodeProcess, peer: NodeProcess) -> list[str]:
    node.command(cmd="route", peer=peer.node_id)
    found = await node.expect(lambda e: e["event"] == "route")
    assert found["path"] is not None, f"{node.name} never learned a route to {peer.name}"
    return list(found["path"])


async def survive_a_relay_kill(ring: Ring) -> None:
    nodes: list[NodeProcess] = []
    try:
        nodes = await start_ring(ring)
        by_id = {node.node_id: node for node in nodes}
        source, target = nodes[0], nodes[2]
        path = await route(source, target)
        assert path[-1] == target.node_id and len(path) >= 2  # through relays only
        relay = by_id[path[0]]

        source.command(cmd="send_stream", peer=target.node_id, size=SIZE, hold=HOLD)
        await source.expect(lambda e: e["event"] in ("stream_held", "stream_failed"))
        assert source.seen("stream_failed") == []
        opened = await target.expect(lambda e: e["event"] == "stream_opened")
        assert opened["peer"] == source.node_id
        flowing = await target.expect(lambda e: e["event"] == "stream_progress")
        assert 0 < flowing["received"] <= HOLD

        await relay.kill()  # mid-stream: the sender holds the other 3/4 until resumed
        source.command(cmd="resume")

        sent = await source.expect(lambda e: e["event"] in ("stream_sent", "stream_failed"))
        assert sent["event"] == "stream_sent", sent
        finished = await target.expect(lambda e: e["event"] == "stream_finished")
        expected = hashlib.sha256(pattern(SIZE)).hexdigest()
        assert finished["stream"] == opened["stream"]
        assert (finished["received"], finished["sha256"]) == (SIZE, expected)
        assert sent["sha256"] == expected
        assert target.seen("stream_reset") == []

        healed = await route(source, target)
        assert healed[-1] == target.node_id
        # the other side of the ring: its relays and the first route's make up the ring
        everyone = {source.node_id, *path[:-1], *healed}
        assert relay.node_id not in healed and everyone == set(by_id)
    finally:
        for node in nodes:
            await node.close()


def test_a_stream_survives_a_relay_killed_mid_stream(ring: Ring) -> None:
    run(survive_a_relay_kill(ring), bound=150)
