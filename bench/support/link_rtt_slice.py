"""A short slice of ``bench/link.py``'s 64 B round trip, both ends on one loop, for counts.

``link N`` runs N link round trips (two ``NodeDriver``s over loopback TCP, the echo
side a listener, the sender awaiting a subscription, as in the bench); ``sealed N`` runs
N round trips of the sealed pair's protocol client. Node entropy is seeded, so with
``PYTHONHASHSEED=0`` a count under ``valgrind --tool=callgrind`` repeats; the
difference of two slices divided by the round trips between them is the count per round
trip (docs/benchmarks.md, Link, session 8):

    for n in 200 1000; do
      PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.link.$n \\
        .venv/bin/python bench/support/link_rtt_slice.py link $n
    done
    # (Collected at 1000 - Collected at 200) / 800

``--profile`` prints cProfile's call counts per round trip instead (N round trips
after a warm-up of 200).
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import link  # bench/link.py, found through the line above
from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import SignatureVerifier
from meshnet.node.config import NodeConfig
from meshnet.node.events import NeighbourDataReceived, PeerConnected
from meshnet.node.node import Node
from meshnet.runtime.driver import NodeDriver


def seeded_node(label: str) -> Node:
    return Node(
        identity=link.ident(label),
        entropy=SeededEntropy(7, label),
        verifier=SignatureVerifier(),
        config=NodeConfig(link=link.BENCH_LINK),
    )


async def main(kind: str, rounds: int, profile: bool) -> None:
    loop = asyncio.get_running_loop()
    profiler = cProfile.Profile() if profile else None
    warm = 200 if profile else 0
    if kind == "sealed":
        server = await loop.create_server(lambda: link.SealedPeer(echo=True), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        await link.rtt_sealed_protocol(port, warm)
        if profiler:
            profiler.enable()
        await link.rtt_sealed_protocol(port, rounds)
        if profiler:
            profiler.disable()
        server.close()
    else:
        echo = NodeDriver(seeded_node("receiver"), config=link.BENCH_RUNTIME)
        sender = NodeDriver(seeded_node("sender"), config=link.BENCH_RUNTIME)
        await echo.start(["tcp:127.0.0.1:0"])
        echo.listen(link.LinkApp(echo).on_event, kinds=[NeighbourDataReceived])
        await sender.start([])
        sub = sender.subscribe(kinds=[PeerConnected, NeighbourDataReceived])
        peer = echo.node.node_id
        sender.connect(echo.listening[0], expected_peer=peer)
        await asyncio.wait_for(sub.wait_for(PeerConnected), 600)
        message = b"E" * link.SMALL
        for i in range(warm + rounds):
            if profiler and i == warm:
                profiler.enable()
            sender.send_to_neighbour(peer, message)
            await sub.get()
        if profiler:
            profiler.disable()
        await sender.stop()
        await echo.stop()
    if profiler:
        stats = pstats.Stats(profiler)
        total = sum(v[1] for v in stats.stats.values())  # type: ignore[attr-defined]
        print(f"{total / rounds:.1f} calls per round trip")
        rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][1])  # type: ignore[attr-defined]
        for (path, line, name), (_cc, nc, tt, _ct, _callers) in rows[:60]:
            where = f"{Path(path).name}:{line} {name}"
            print(f"{nc / rounds:6.2f}  {tt / rounds * 1e6:6.2f}us  {where}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--profile"]
    asyncio.run(main(args[0], int(args[1]), "--profile" in sys.argv))
