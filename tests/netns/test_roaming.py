"""Roaming with real address changes: two node processes in two network namespaces.

Node ``a`` streams payloads to node ``b``; mid-transfer the test changes ``a``'s
interface address. Then:

* UDP: ``a``'s next authenticated frames come from the new address and ``b``'s link
  moves there (same link, no disconnect, replies reach the new address);
* TCP: the old connection is dead; ``a`` notices (its short dead-peer timeout), redials
  from the new address, and ``b``'s link manager puts the new connection under the
  same link: ``b``'s layers above never see the peer leave or arrive again.

Every wait is bounded; processes and namespaces are removed in ``finally``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from tests.netns.world import PORT, NodeProcess, World, require_netns
from tests.runtime.support import run

pytestmark = pytest.mark.netns


@pytest.fixture
def world() -> Iterator[World]:
    require_netns()
    tag = f"{os.getpid() % 100000}"
    built = World(tag=tag, subnet=1 + os.getpid() % 250)
    try:
        built.build()
        yield built
    finally:
        built.destroy()


def _seq(event: dict[str, Any]) -> int:
    return int(event["text"].split()[1]) if event["event"] == "data" else -1


async def roam(world: World, scheme: str) -> None:
    b_endpoint = f"{scheme}:{world.address(1)}:{PORT}"
    a_listen = ["--listen", "udp:0.0.0.0:0"] if scheme == "udp" else []
    # a notices a dead TCP connection quickly; b would wait 30 s (it never has to).
    b = await NodeProcess.start(world.ns_b, "b", "--listen", b_endpoint, "--dead", "30")
    a: NodeProcess | None = None
    try:
        a = await NodeProcess.start(world.ns_a, "a", *a_listen, "--dead", "2")
        a.command(cmd="connect", endpoint=b_endpoint, expected=b.node_id)
        await a.expect(lambda e: e["event"] == "connected")
        linked = await b.expect(lambda e: e["event"] == "connected")
        assert linked["peer"] == a.node_id
        assert world.address(2) in linked["endpoint"] or scheme == "tcp"
        a.command(cmd="stream", peer=b.node_id, interval=0.02)
        before = await b.expect(lambda e: _seq(e) >= 10)

        world.move_a(old=2, new=3)  # mid-transfer

        await b.expect(lambda e: _seq(e) >= _seq(before) + 100)  # the transfer went on
        b.command(cmd="status")
        status = await b.expect(lambda e: e["event"] == "status")
        (link,) = status["links"]
        assert link["peer"] == a.node_id and link["link"] == linked["link"]
        assert f"{scheme}:{world.address(3)}:" in link["endpoint"], link
        b.command(cmd="send", peer=a.node_id, text="reply to the new address")
        await a.expect(lambda e: e["event"] == "data" and e["text"] == "reply to the new address")
        # b's layers above saw one peer arrive, once, and never leave.
        assert len(b.seen("connected")) == 1
        assert b.seen("disconnected") == []
        received = [_seq(e) for e in b.seen("data")]
        assert received == sorted(received) or scheme == "udp"
        if scheme == "udp":
            assert a.seen("disconnected") == []  # the link itself moved
        else:
            assert [e["reason"] for e in a.seen("disconnected")] == ["peer_timeout"]
    finally:
        if a is not None:
            await a.close()
        await b.close()


def test_udp_link_follows_an_address_change(world: World) -> None:
    run(roam(world, "udp"), bound=90)


def test_tcp_redial_from_a_new_address_keeps_the_link(world: World) -> None:
    run(roam(world, "tcp"), bound=90)
