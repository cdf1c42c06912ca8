"""A messaging node in its own process, for the kill -9 tests (``test_msgcrash.py``).

It runs the real ``NodeDriver`` with a ``SqliteMessageStore`` at ``--db`` and prints one
JSON object per line: ``started`` (node id, endpoints), then ``sent`` (id, text) each
time ``send_message`` has *returned* (the message is committed), ``received`` (id,
peer, text) for every ``MessageReceived`` and ``delivered`` (id) for every
``MessageDelivered``. Commands arrive as JSON lines on stdin:

* ``{"cmd": "connect", "endpoint": E}``
* ``{"cmd": "send", "peer": ID, "count": N, "prefix": P, "size": S}``: N messages of S
  bytes whose text starts with ``P i:``;
* ``{"cmd": "inbox"}``: every message in the inbox, as ``inbox`` (ids and texts);
* ``{"cmd": "stop"}`` (or end of stdin): stop cleanly.

The process exits on its own after ``--lifetime`` seconds, so a failed test never
leaves it behind.
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
from meshnet.link.config import LinkConfig
from meshnet.node.config import NodeConfig
from meshnet.node.events import MessageDelivered, MessageReceived
from meshnet.node.node import Node
from meshnet.node.peers import Backoff
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.msgstore import SqliteMessageStore
from meshnet.services.messaging import MessagingConfig
from meshnet.session.config import SessionConfig


def emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def config() -> NodeConfig:
    """Short timers, so a crash is noticed and repaired within seconds."""
    return NodeConfig(
        link=LinkConfig(
            keepalive_interval=0.5,
            probe_interval=0.5,
            dead_peer_timeout=3.0,
            handshake_retry=0.2,
            handshake_timeout=2.0,
        ),
        session=SessionConfig(handshake_timeout=4.0, record_timeout=4.0),
        messaging=MessagingConfig(retry_initial=0.2, retry_max=1.0, ack_timeout=5.0),
        backoff=Backoff(base=0.2, max_delay=1.0),
    )


async def main(args: argparse.Namespace) -> None:
    store = SqliteMessageStore.open(Path(args.db))
    node = Node(
        identity=Identity.generate(SeededEntropy(args.seed, "msgnode"), created=1_700_000_000),
        entropy=SystemEntropy(),
        verifier=SignatureVerifier(),
        config=config(),
        message_store=store,
        wall_offset=time.time() - time.monotonic(),
    )
    driver = NodeDriver(node)
    await driver.start(args.listen)
    emit(event="started", node_id=str(node.node_id), listening=list(driver.listening))
    loop = asyncio.get_running_loop()

    async def events() -> None:
        async for event in driver.subscribe(kinds=[MessageReceived, MessageDelivered]):
            if isinstance(event, MessageReceived):
                emit(
                    event="received",
                    id=event.id.hex(),
                    peer=str(event.peer),
                    text=event.body.decode(),
                )
            elif isinstance(event, MessageDelivered):
                emit(event="delivered", id=event.id.hex())

    watcher = loop.create_task(events())
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        name = command["cmd"]
        if name == "connect":
            driver.connect(command["endpoint"])
        elif name == "send":
            peer = NodeId.from_text(command["peer"])
            for i in range(command["count"]):
                text = f"{command['prefix']} {i}:".ljust(command["size"], "x")
                message_id = driver.send_message(peer, text.encode())
                emit(event="sent", id=message_id.hex(), text=text)
                await asyncio.sleep(0)  # let the network run between sends
        elif name == "inbox":
            messages = driver.inbox(limit=100_000)
            emit(event="inbox", messages=[[m.id.hex(), m.body.decode()] for m in messages])
        elif name == "stop":
            break
    watcher.cancel()
    await driver.stop()
    store.close()
    emit(event="stopped")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--listen", action="append", default=[])
    parser.add_argument("--lifetime", type=float, default=120.0)
    arguments = parser.parse_args()
    asyncio.run(asyncio.wait_for(main(arguments), arguments.lifetime))
