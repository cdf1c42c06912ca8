"""A MeshNet node in its own process, steered by JSON lines (for the netns tests).

Run inside a network namespace (``ip netns exec NS python node_proc.py ...``). It
prints one JSON object per line on stdout: ``started`` (node id, endpoints), then every
node event, and the answer to each command. Commands arrive as JSON lines on stdin:

* ``{"cmd": "connect", "endpoint": E, "expected": ID}``
* ``{"cmd": "stream", "peer": ID, "interval": S}``: send ``seq N`` payloads to the
  neighbour every S seconds, skipping while there is no link (counted);
* ``{"cmd": "send", "peer": ID, "text": T}``
* ``{"cmd": "status"}``: links (peer, endpoint, link id) and driver counters;
* ``{"cmd": "stop"}`` (or end of stdin): stop cleanly and exit.

The process also exits on its own after ``--lifetime`` seconds, so a test that dies
never leaves it behind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from meshnet.crypto.entropy import SeededEntropy, SystemEntropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.errors import StateError
from meshnet.link.config import LinkConfig
from meshnet.node.config import NodeConfig
from meshnet.node.events import (
    NeighbourDataReceived,
    NodeEvent,
    PeerConnected,
    PeerDialFailed,
    PeerDisconnected,
)
from meshnet.node.node import Node
from meshnet.node.peers import Backoff
from meshnet.runtime.driver import NodeDriver


def emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def describe(event: NodeEvent) -> dict[str, Any]:
    if isinstance(event, PeerConnected):
        return {
            "event": "connected",
            "peer": str(event.peer),
            "link": event.link,
            "endpoint": event.endpoint,
        }
    if isinstance(event, PeerDisconnected):
        return {
            "event": "disconnected",
            "peer": str(event.peer),
            "reason": event.reason,
            "by_peer": event.by_peer,
        }
    if isinstance(event, PeerDialFailed):
        return {"event": "dial_failed", "endpoint": event.endpoint, "reason": event.reason}
    if isinstance(event, NeighbourDataReceived):
        return {
            "event": "data",
            "peer": str(event.peer),
            "link": event.link,
            "text": event.payload.decode(),
        }
    return {"event": type(event).__name__}


async def stream(driver: NodeDriver, peer: NodeId, interval: float) -> None:
    seq = 0
    while True:
        try:
            driver.send_to_neighbour(peer, b"seq %d" % seq)
            seq += 1
        except StateError:
            driver.count("stream_no_link")
        await asyncio.sleep(interval)  # a paced sender, not a timing assumption


async def main(args: argparse.Namespace) -> None:
    link = LinkConfig(
        keepalive_interval=args.keepalive,
        dead_peer_timeout=args.dead,
        probe_interval=args.keepalive,
        handshake_retry=0.2,
        handshake_timeout=2.0,
    )
    node = Node(
        identity=Identity.generate(SeededEntropy(args.seed, args.label), created=1_700_000_000),
        entropy=SystemEntropy(),
        verifier=SignatureVerifier(),
        config=NodeConfig(link=link, backoff=Backoff(base=0.2, max_delay=1.0)),
    )
    driver = NodeDriver(node)
    await driver.start(args.listen)
    emit(event="started", node_id=str(node.node_id), listening=list(driver.listening))
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []

    async def events() -> None:
        async for event in driver.subscribe():
            emit(**describe(event))

    tasks.append(loop.create_task(events()))
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        name = command["cmd"]
        if name == "connect":
            expected = NodeId.from_text(command["expected"]) if command.get("expected") else None
            driver.connect(command["endpoint"], expected_peer=expected)
        elif name == "stream":
            peer = NodeId.from_text(command["peer"])
            tasks.append(loop.create_task(stream(driver, peer, command["interval"])))
        elif name == "send":
            driver.send_to_neighbour(NodeId.from_text(command["peer"]), command["text"].encode())
        elif name == "status":
            status = driver.status()
            emit(
                event="status",
                links=[
                    {"peer": link.peer, "endpoint": link.endpoint, "link": link.link}
                    for link in status.node.links.links
                ],
                counters=dict(status.counters),
            )
        elif name == "stop":
            break
    for task in tasks:
        task.cancel()
    await driver.stop()
    emit(event="stopped")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--listen", action="append", default=[])
    parser.add_argument("--keepalive", type=float, default=0.5)
    parser.add_argument("--dead", type=float, default=30.0)
    parser.add_argument("--lifetime", type=float, default=120.0)
    arguments = parser.parse_args()
    asyncio.run(asyncio.wait_for(main(arguments), arguments.lifetime))
