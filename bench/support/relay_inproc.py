"""Three ``Node``s joined in memory (sender, relay, sink), for deterministic instruction counts.

The real processes of ``relay_slice.py`` spread by a few percent from run to run under
callgrind (how many frames a read brings, announcements and timers all depend on
timing), which hides a cut of one percent. Here the same node code runs without
sockets, event loop or driver, on a virtual clock, so the count of the session,
routing and link layers repeats to about a thousand instructions per packet (0.03%): after a
``WARM`` MiB warm-up it streams ``MIB`` more mebibytes of 64 KiB writes through the
relay and exits. The difference between two slices divided by the packets between
them is the count per 64 KiB packet (docs/benchmarks.md, Relay, session 8):

    for n in 4 12; do
      PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/tmp/inproc.$n \\
        .venv/bin/python bench/support/relay_inproc.py $n 2>&1 | grep Collected
    done
    # (Collected at 12 - Collected at 4) / 128 packets: the three nodes together
"""

from __future__ import annotations

import os
import sys

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity, SignatureVerifier
from meshnet.ids import StreamId, TransportId
from meshnet.link.config import LinkConfig
from meshnet.node.config import NodeConfig
from meshnet.node.node import Node
from meshnet.session.events import StreamDataReceived

LINK = LinkConfig(handshake_rate=1e9, handshake_burst=1 << 30)
WARM = 1 << 20
STEP = 1e-4  # virtual seconds per round of writes
MTU = 1 << 20  # a stream carrier: frames of any size


def make(label: str) -> Node:
    return Node(
        identity=Identity.generate(SeededEntropy(2025, label), created=1_700_000_000),
        entropy=SeededEntropy(2025, label + "-entropy"),
        verifier=SignatureVerifier(),
        config=NodeConfig(link=LINK),
    )


class Chain:
    """Nodes 0 .. n-1 joined in a line by in-memory stream transports."""

    def __init__(self, labels: list[str]) -> None:
        self.nodes = [make(label) for label in labels]
        self.now = 0.0
        self.wires: dict[tuple[int, TransportId], int] = {}
        self.events: list[list[object]] = [[] for _ in self.nodes]
        for i in range(len(self.nodes) - 1):
            transport = TransportId(100 + i)
            left, right = self.nodes[i], self.nodes[i + 1]
            left.transport_opened(
                transport, 0.0, outbound=True, endpoint=f"mem:{i + 1}", datagram=False, mtu=MTU
            )
            right.transport_opened(
                transport, 0.0, outbound=False, endpoint=f"mem:{i}", datagram=False, mtu=MTU
            )
            self.wires[(i, transport)] = i + 1
            self.wires[(i + 1, transport)] = i

    def open_stream(self) -> tuple[StreamId, bytes]:
        """Once the first node has a route to the last (announcements on the virtual
        clock), open a stream from it to the last; with a 64 KiB payload to write."""
        first, last = self.nodes[0], self.nodes[-1]
        while first.route_to(last.node_id) is None:
            self.now += 0.05
            for node in self.nodes:
                deadline = node.get_timer()
                if deadline is not None and deadline <= self.now:
                    node.handle_timer(self.now)
            self.pump()
            if self.now > 120:
                raise SystemExit("no route to the sink")
        stream = first.open_stream(last.node_id, self.now)
        self.pump()
        return stream, os.urandom(64 * 1024)

    def pump(self) -> None:
        """Deliver frames, collect events and run due timers until nothing moves."""
        moved = True
        while moved:
            moved = False
            for i, node in enumerate(self.nodes):
                out = node.datagrams_to_send(self.now)
                node.transport_commands()
                for transport, frame in out:
                    self.nodes[self.wires[(i, transport)]].receive_datagram(
                        transport, frame, self.now
                    )
                    moved = True
            for i, node in enumerate(self.nodes):
                while (event := node.next_event()) is not None:
                    self.events[i].append(event)
                deadline = node.get_timer()
                if deadline is not None and deadline <= self.now:
                    node.handle_timer(self.now)
                    moved = True


def main(mib: int) -> None:
    chain = Chain(["sender", "relay", "sink"])
    sender = chain.nodes[0]
    stream, payload = chain.open_stream()

    def stream_bytes(total: int) -> None:
        sent = got = 0
        while got < total:
            chain.now += STEP
            while sent < total:
                taken = sender.stream_send(stream, payload, chain.now)
                sent += taken
                if taken < len(payload):
                    break
            chain.pump()
            for event in chain.events[-1]:
                if isinstance(event, StreamDataReceived):
                    got += len(event.data)
            for events in chain.events:
                events.clear()

    stream_bytes(WARM)
    if mib:
        stream_bytes(mib << 20)


if __name__ == "__main__":
    main(int(sys.argv[1]))
