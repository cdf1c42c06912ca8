"""One messaging node in its own OS process, driven by ``bench/messaging.py``.

It runs the real ``NodeDriver`` over a ``Node`` whose message store is a
``SqliteMessageStore`` at ``--db`` (WAL, ``synchronous=FULL``), prints a ``started``
JSON line (node id, endpoints), then answers JSON-line commands on stdin with one JSON
line each. Times are ``time.monotonic()`` (CLOCK_MONOTONIC: the same clock in every
process of the machine, so the bench can subtract one process's time from another's).

* ``{"cmd": "connect", "endpoint": E}`` -> ``connected``
* ``{"cmd": "route", "peer": ID, "timeout": T}``: wait until ``route_to(peer)`` is
  known (or T seconds) -> ``route`` (the path or null, seconds waited)
* ``{"cmd": "ping", "peer": ID, "count": N}``: N session pings one after another ->
  ``ping`` (wall seconds around each ``driver.ping``, and each ``PingAnswered.rtt``)
* ``{"cmd": "latency", "peer": ID, "count": N, "size": S}``: N messages of S bytes one
  at a time, each sent when the previous one was delivered -> ``latency`` (per message:
  id, time before ``send_message``, after it returned, at ``MessageDelivered``)
* ``{"cmd": "burst", "peer": ID, "count": N, "size": S}``: N messages sent back to back
  (the event loop runs between sends) -> ``burst`` when all are delivered (first send,
  last send returned, last delivered, CPU seconds of this process, the ids)
* ``{"cmd": "received"}`` -> ``received``: the time of every ``MessageReceived`` since
  the last such command (id -> time), then forgets them
* ``{"cmd": "stop"}`` (or end of stdin): stop cleanly.

The process exits on its own after ``--lifetime`` seconds, so a failed run never leaves
it behind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from meshnet.crypto.entropy import SeededEntropy, SystemEntropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.ids import MessageId
from meshnet.node.config import NodeConfig
from meshnet.node.events import MessageDelivered, MessageReceived
from meshnet.node.node import Node
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.msgstore import SqliteMessageStore
from meshnet.services.messaging import MessagingConfig

WAIT = 120.0
"""The most one command waits for deliveries before giving up."""

# The receiver accepts messages as fast as the bench sends them: the per-sender quota
# (50/s, burst 500 by default) is a defence against floods, not what is measured here.
BENCH_MESSAGING = MessagingConfig(peer_rate=1e9, peer_burst=1 << 30, max_held=1 << 16)


def emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


class Recorder:
    """The time of each ``MessageReceived`` and ``MessageDelivered``; delivery waiters."""

    def __init__(self, driver: NodeDriver) -> None:
        self.driver = driver
        self.received: dict[str, float] = {}
        self.delivered: dict[MessageId, float] = {}
        self.waiting: set[MessageId] = set()
        self.all_delivered = asyncio.Event()

    async def run(self) -> None:
        async for event in self.driver.subscribe(kinds=[MessageReceived, MessageDelivered]):
            now = time.monotonic()
            if isinstance(event, MessageReceived):
                self.received[event.id.hex()] = now
            elif isinstance(event, MessageDelivered):
                self.delivered[event.id] = now
                self.waiting.discard(event.id)
                if not self.waiting:
                    self.all_delivered.set()

    def expect(self, ids: set[MessageId]) -> None:
        """Wait for these ids (some may be delivered already)."""
        self.waiting |= ids - self.delivered.keys()
        if self.waiting:
            self.all_delivered.clear()
        else:
            self.all_delivered.set()

    async def settled(self) -> None:
        await asyncio.wait_for(self.all_delivered.wait(), WAIT)


def body(i: int, size: int) -> bytes:
    return f"m{i}:".encode().ljust(size, b"x")


async def route(driver: NodeDriver, peer: NodeId, timeout: float) -> None:
    start = time.monotonic()
    path = driver.node.route_to(peer)
    while path is None and time.monotonic() - start < timeout:
        await asyncio.sleep(0.05)
        path = driver.node.route_to(peer)
    hops = [str(hop) for hop in path] if path is not None else None
    emit(event="route", path=hops, waited=time.monotonic() - start)


async def ping(driver: NodeDriver, peer: NodeId, count: int) -> None:
    wall, rtt = [], []
    for _ in range(count):
        start = time.monotonic()
        answer = await driver.ping(peer)
        wall.append(time.monotonic() - start)
        rtt.append(answer.rtt)
    emit(event="ping", wall=wall, rtt=rtt)


async def latency(recorder: Recorder, peer: NodeId, count: int, size: int) -> None:
    driver, samples = recorder.driver, []
    for i in range(count):
        start = time.monotonic()
        message_id = driver.send_message(peer, body(i, size))
        returned = time.monotonic()
        recorder.expect({message_id})
        await recorder.settled()
        samples.append([message_id.hex(), start, returned, recorder.delivered[message_id]])
    emit(event="latency", samples=samples)


async def burst(recorder: Recorder, peer: NodeId, count: int, size: int) -> None:
    driver, ids = recorder.driver, set()
    cpu = time.process_time()
    start = time.monotonic()
    for i in range(count):
        ids.add(driver.send_message(peer, body(i, size)))
        await asyncio.sleep(0)  # let the network run between sends
    sent = time.monotonic()
    recorder.expect(ids)
    await recorder.settled()
    emit(
        event="burst",
        start=start,
        sent=sent,
        delivered=max(recorder.delivered[i] for i in ids),
        cpu=time.process_time() - cpu,
        ids=[i.hex() for i in ids],
    )


async def main(args: argparse.Namespace) -> None:
    store = SqliteMessageStore.open(Path(args.db))
    node = Node(
        identity=Identity.generate(SeededEntropy(2024, args.name), created=1_700_000_000),
        entropy=SystemEntropy(),
        verifier=SignatureVerifier(),
        config=NodeConfig(messaging=BENCH_MESSAGING),
        message_store=store,
        wall_offset=time.time() - time.monotonic(),
    )
    driver = NodeDriver(node)
    await driver.start(args.listen)
    emit(event="started", node_id=str(node.node_id), listening=list(driver.listening))
    loop = asyncio.get_running_loop()
    recorder = Recorder(driver)
    watcher = loop.create_task(recorder.run())
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        name = command["cmd"]
        peer = NodeId.from_text(command["peer"]) if "peer" in command else None
        if name == "connect":
            driver.connect(command["endpoint"])
            emit(event="connected")
        elif name == "route" and peer is not None:
            await route(driver, peer, command["timeout"])
        elif name == "ping" and peer is not None:
            await ping(driver, peer, command["count"])
        elif name == "latency" and peer is not None:
            await latency(recorder, peer, command["count"], command["size"])
        elif name == "burst" and peer is not None:
            await burst(recorder, peer, command["count"], command["size"])
        elif name == "received":
            emit(event="received", times=recorder.received)
            recorder.received = {}
        elif name == "stop":
            break
        else:
            emit(event="error", message=f"bad command {command!r}")
    watcher.cancel()
    await driver.stop()
    store.close()
    emit(event="stopped")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--name", required=True, help="the identity's seed label")
    parser.add_argument("--listen", action="append", default=[])
    parser.add_argument("--lifetime", type=float, default=600.0)
    arguments = parser.parse_args()
    asyncio.run(asyncio.wait_for(main(arguments), arguments.lifetime))
