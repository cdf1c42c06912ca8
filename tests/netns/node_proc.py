"""A MeshNet node in its own process, steered by JSON lines (for the netns tests).

Run inside a network namespace (``ip netns exec NS python node_proc.py ...``). It
prints one JSON object per line on stdout: ``started`` (node id, endpoints), then every
node event, and the answer to each command. Commands arrive as JSON lines on stdin:

* ``{"cmd": "connect", "endpoint": E, "expected": ID}``
* ``{"cmd": "stream", "peer": ID, "interval": S}``: send ``seq N`` payloads to the
  neighbour every S seconds, skipping while there is no link (counted);
* ``{"cmd": "send", "peer": ID, "text": T}``
* ``{"cmd": "status"}``: links (peer, endpoint, link id) and driver counters;
* ``{"cmd": "route", "peer": ID}``: waits (bounded) until routing knows a path to the
  node and answers ``route`` with it (relays, then the node; null if none came);
* ``{"cmd": "send_stream", "peer": ID, "size": N, "hold": H}``: once a route is known,
  opens an end-to-end stream and writes N bytes of ``pattern(N)``; after H bytes it
  reports ``stream_held`` and waits for ``{"cmd": "resume"}``; ``stream_sent`` (size,
  sha256) when every byte is written and the stream closed, ``stream_failed`` if not;
* ``{"cmd": "datagram", "peer": ID, "text": T}``: an end-to-end datagram;
* ``{"cmd": "message", "peer": ID, "text": T}``: a message (messaging service);
  answered by ``message_sent`` with its id (hex); ``{"cmd": "mark_read", "id": HEX}``;
* ``{"cmd": "stop"}`` (or end of stdin): stop cleanly and exit.

A stream the node receives is reported as ``stream_opened``, ``stream_progress`` (every
``--progress`` bytes), and ``stream_finished`` with its byte count and sha256;
datagrams as ``datagram``; messaging events by their class name (``api.schema``).

``--discovery`` runs LAN discovery as ``meshnet up`` does. The process also exits on
its own after ``--lifetime`` seconds, so a test that dies never leaves it behind.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from meshnet.api.events import node_event_json
from meshnet.crypto.entropy import SeededEntropy, SystemEntropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.errors import MeshnetError, StateError
from meshnet.ids import MessageId, StreamId
from meshnet.link.config import LinkConfig
from meshnet.node.config import NodeConfig
from meshnet.node.events import (
    DatagramReceived,
    MessageDelivered,
    MessageExpired,
    MessageRead,
    MessageReceived,
    NeighbourDataReceived,
    NodeEvent,
    PeerConnected,
    PeerDialFailed,
    PeerDisconnected,
    StreamDataReceived,
    StreamFinished,
    StreamOpened,
    StreamReset,
)
from meshnet.node.node import Node
from meshnet.node.peers import Backoff
from meshnet.runtime.discovery import Discovery, config_for_listeners
from meshnet.runtime.driver import NodeDriver

ROUTE_WAIT = 20.0
"""How long ``route`` and ``send_stream`` wait for routing to learn the destination."""
ROUTE_POLL = 0.05
_MESSAGES = (MessageReceived, MessageDelivered, MessageRead, MessageExpired)


def emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def pattern(size: int) -> bytes:
    """The known bytes a stream carries (the test computes the same digest)."""
    return hashlib.shake_256(b"meshnet netns stream").digest(size)


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
    if isinstance(event, DatagramReceived):
        return {
            "event": "datagram",
            "source": str(event.source),
            "text": event.payload.decode("utf-8", "replace"),
        }
    if isinstance(event, _MESSAGES):
        return node_event_json(event)
    return {"event": type(event).__name__}


@dataclass
class Incoming:
    """A stream this node receives: its byte count and running digest."""

    peer: str
    received: int = 0
    reported: int = 0
    digest: Any = field(default_factory=hashlib.sha256)


class Streams:
    """Reports the streams this node receives, and writes the ones it is told to send."""

    def __init__(self, driver: NodeDriver, progress: int) -> None:
        self.driver = driver
        self.progress = progress
        self.incoming: dict[StreamId, Incoming] = {}
        self.resume = asyncio.Event()

    def on_event(self, event: NodeEvent) -> bool:
        """Report a stream event; False when ``event`` is not one."""
        if isinstance(event, StreamOpened):
            self.incoming[event.stream] = Incoming(str(event.peer))
            emit(event="stream_opened", stream=event.stream, peer=str(event.peer))
        elif isinstance(event, StreamDataReceived):
            entry = self.incoming.get(event.stream)
            if entry is not None:
                entry.received += len(event.data)
                entry.digest.update(event.data)
                if entry.received - entry.reported >= self.progress:
                    entry.reported = entry.received
                    emit(event="stream_progress", stream=event.stream, received=entry.received)
        elif isinstance(event, StreamFinished):
            entry = self.incoming.pop(event.stream, None)
            if entry is not None:
                emit(
                    event="stream_finished",
                    stream=event.stream,
                    peer=entry.peer,
                    received=entry.received,
                    sha256=entry.digest.hexdigest(),
                )
        elif isinstance(event, StreamReset):
            self.incoming.pop(event.stream, None)
            emit(event="stream_reset", stream=event.stream, code=event.code)
        else:
            return False
        return True

    async def send(self, peer: NodeId, size: int, hold: int, chunk: int) -> None:
        data = pattern(size)
        try:
            if await wait_route(self.driver, peer) is None:
                raise StateError(f"no route to {peer.short()} within {ROUTE_WAIT:g} s")
            stream = self.driver.open_stream(peer)
            emit(event="stream_started", stream=stream)
            sent = 0
            while sent < size:
                if sent == hold:
                    emit(event="stream_held", stream=stream, written=sent)
                    await self.resume.wait()
                end = min(size, sent + chunk, hold if sent < hold else size)
                await self.driver.stream_write(stream, data[sent:end])
                sent = end
            self.driver.stream_close(stream)
        except MeshnetError as exc:
            emit(event="stream_failed", error=f"{type(exc).__name__}: {exc}")
            return
        emit(event="stream_sent", stream=stream, size=size, sha256=hashlib.sha256(data).hexdigest())


async def wait_route(driver: NodeDriver, peer: NodeId) -> tuple[NodeId, ...] | None:
    """The route to ``peer`` once routing has one, polled for at most ``ROUTE_WAIT`` s."""
    for _ in range(int(ROUTE_WAIT / ROUTE_POLL)):
        route = driver.node.route_to(peer)
        if route is not None:
            return route
        await asyncio.sleep(ROUTE_POLL)  # announcements arrive on their own schedule
    return None


async def report_route(driver: NodeDriver, peer: NodeId) -> None:
    route = await wait_route(driver, peer)
    emit(event="route", peer=str(peer), path=None if route is None else [str(n) for n in route])


async def stream(driver: NodeDriver, peer: NodeId, interval: float) -> None:
    seq = 0
    while True:
        try:
            driver.send_to_neighbour(peer, b"seq %d" % seq)
            seq += 1
        except StateError:
            driver.count("stream_no_link")
        await asyncio.sleep(interval)  # a paced sender, not a timing assumption


async def start_discovery(driver: NodeDriver) -> Discovery:
    config = config_for_listeners(driver.listening)
    if config is None:
        raise SystemExit("--discovery needs a listener that is not on loopback")
    discovery = Discovery(driver, config=config)
    await discovery.start()
    return discovery


def run_command(
    command: dict[str, Any],
    driver: NodeDriver,
    streams: Streams,
    spawn: Any,
) -> bool:
    """Carry out one command; False for ``stop``."""
    name = command["cmd"]
    peer = NodeId.from_text(command["peer"]) if "peer" in command else None
    if name == "connect":
        expected = NodeId.from_text(command["expected"]) if command.get("expected") else None
        driver.connect(command["endpoint"], expected_peer=expected)
    elif name == "stream" and peer is not None:
        spawn(stream(driver, peer, command["interval"]))
    elif name == "send" and peer is not None:
        driver.send_to_neighbour(peer, command["text"].encode())
    elif name == "route" and peer is not None:
        spawn(report_route(driver, peer))
    elif name == "send_stream" and peer is not None:
        size = command["size"]
        spawn(streams.send(peer, size, command.get("hold", size), command.get("chunk", 65536)))
    elif name == "resume":
        streams.resume.set()
    elif name == "datagram" and peer is not None:
        driver.send_datagram(peer, command["text"].encode())
    elif name == "message" and peer is not None:
        message = driver.send_message(peer, command["text"].encode())
        emit(event="message_sent", id=message.hex(), peer=str(peer))
    elif name == "mark_read":
        driver.mark_read(MessageId(bytes.fromhex(command["id"])))
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
        return False
    else:
        emit(event="bad_command", command=command)
    return True


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
    discovery = await start_discovery(driver) if args.discovery else None
    emit(
        event="started",
        node_id=str(node.node_id),
        listening=list(driver.listening),
        discovery=discovery is not None,
    )
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []
    streams = Streams(driver, args.progress)

    async def events() -> None:
        async for event in driver.subscribe():
            if not streams.on_event(event):
                emit(**describe(event))

    def spawn(coro: Any) -> None:
        tasks.append(loop.create_task(coro))

    spawn(events())
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if not run_command(json.loads(line), driver, streams, spawn):
            break
    for task in tasks:
        task.cancel()
    if discovery is not None:
        await discovery.stop()
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
    parser.add_argument("--discovery", action="store_true")
    parser.add_argument("--progress", type=int, default=256 * 1024)
    arguments = parser.parse_args()
    asyncio.run(asyncio.wait_for(main(arguments), arguments.lifetime))
