"""A MeshNet node process for ``bench/relay.py``: a relay, or the far end of the streams.

    python bench/support/mesh_node.py relay --label r1 [--connect ENDPOINT ID]
    python bench/support/mesh_node.py sink --label sink

It runs a ``NodeDriver`` listening on loopback TCP, links to ``--connect`` (the next
node of the chain, whose id it must prove), prints ``ENDPOINT NODE_ID`` and serves
until its stdin closes. A ``relay`` only forwards (its node does that by itself). A
``sink`` reads every stream opened to it, counting the bytes, and when the peer finishes
a stream answers with an end-to-end datagram ``D`` + the count; a datagram starting
with ``E`` is echoed back as it is (round trips).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from meshnet.crypto.entropy import SeededEntropy, SystemEntropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.ids import StreamId
from meshnet.link.config import LinkConfig
from meshnet.node.config import NodeConfig
from meshnet.node.node import Node
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.transports import RuntimeConfig
from meshnet.session.config import SessionConfig
from meshnet.session.events import (
    DatagramReceived,
    StreamDataReceived,
    StreamFinished,
    StreamOpened,
)

BENCH_LINK = LinkConfig(handshake_rate=1e9, handshake_burst=1 << 30)
BENCH_RUNTIME = RuntimeConfig(tcp_accept_rate=1e9, tcp_accept_burst=1 << 30)


def make_driver(label: str, max_packet: int | None) -> NodeDriver:
    session = (
        SessionConfig()
        if max_packet is None
        else SessionConfig(max_packet=max_packet, max_stream_path_packet=max_packet)
    )
    node = Node(
        identity=Identity.generate(SeededEntropy(2025, label), created=1_700_000_000),
        entropy=SystemEntropy(),
        verifier=SignatureVerifier(),
        config=NodeConfig(link=BENCH_LINK, session=session),
    )
    return NodeDriver(node, config=BENCH_RUNTIME)


class Sink:
    """Counts every stream's bytes, answers its end, echoes ``E`` datagrams.

    It is a driver *listener*: it runs inside the driver's pump as each event comes
    out of the node (no queue, no task wake-up), as the sealed ceiling's sink works
    inside ``data_received``.
    """

    def __init__(self, driver: NodeDriver) -> None:
        self.driver = driver
        self.counts: dict[StreamId, int] = {}
        self.peers: dict[StreamId, NodeId] = {}

    def __call__(self, event: object) -> None:
        driver, counts = self.driver, self.counts
        if isinstance(event, StreamDataReceived):
            counts[event.stream] = counts.get(event.stream, 0) + len(event.data)
        elif isinstance(event, StreamOpened):
            self.peers[event.stream] = event.peer
        elif isinstance(event, StreamFinished):
            count = counts.pop(event.stream, 0)
            driver.send_datagram(self.peers.pop(event.stream), b"D" + count.to_bytes(8, "big"))
        elif isinstance(event, DatagramReceived) and event.payload[:1] == b"E":
            driver.send_datagram(event.source, event.payload)


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    driver = make_driver(args.label, args.max_packet)
    await driver.start(["tcp:127.0.0.1:0"])
    if args.connect:
        endpoint, node = args.connect
        driver.connect(endpoint, expected_peer=NodeId.from_text(node))
    if args.role == "sink":
        kinds = [StreamOpened, StreamDataReceived, StreamFinished, DatagramReceived]
        driver.listen(Sink(driver), kinds=kinds)
    print(f"{driver.listening[0]} {driver.node.node_id}", flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()  # until the parent closes our stdin
    if args.status:
        status = driver.status()
        node = status.node
        print(
            f"{args.label}: routing drops {dict(node.routing.counters.drops)}, "
            f"forwarded {node.routing.counters.forwarded}, node drops {dict(node.drops)}, "
            f"driver {dict(status.counters)}",
            file=sys.stderr,
        )
    await driver.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=("relay", "sink"))
    parser.add_argument("--label", required=True)
    parser.add_argument("--connect", nargs=2, metavar=("ENDPOINT", "NODE_ID"))
    parser.add_argument(
        "--max-packet", type=int, help="fixed session packet size (default: core's)"
    )
    parser.add_argument("--status", action="store_true", help="print drop counters at exit")
    asyncio.run(serve(parser.parse_args()))
