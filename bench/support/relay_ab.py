"""MeshNet alone through one relay: CPU per 64 KiB of each process, for A/B runs.

``bench/relay.py`` runs every chain and ceiling; this runs only MeshNet's one-relay chain
(sender here, relay and sink as ``mesh_node.py`` processes), ``ROUNDS`` rounds of
``MIB`` mebibytes after a 1 MiB warm-up, and prints per round the wall rate, the CPU
microseconds per 64 KiB of sender / relay / sink and their sum, and the median 64 B
round trip. To compare two trees, run the same command with ``PYTHONPATH`` pointing at
the other tree's ``src`` (it comes before the installed package), alternating
(docs/benchmarks.md, Relay, session 9):

    git archive BASE src | tar -x -C /tmp/base
    PYTHONPATH=/tmp/base/src .venv/bin/python bench/support/relay_ab.py 32 2
    .venv/bin/python bench/support/relay_ab.py 32 2
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

import relay as bench  # bench/relay.py, found through the path above


async def main(mib: int, rounds: int) -> None:
    script = str(bench.SUPPORT / "mesh_node.py")
    sink = bench.Child(script, "sink", "--label", "ab-sink")
    relay = bench.Child(
        script, "relay", "--label", "ab-relay0", "--connect", sink.endpoint, sink.node_id
    )
    chain = [relay, sink]
    sender = bench.MeshSender(chain, "ab", None)
    try:
        await sender.start()
        await sender.bulk(1 << 20)
        await sender.rtt(50)
        for _ in range(rounds):
            total = mib << 20
            with bench.Meter(chain) as meter:
                await sender.bulk(total)
            us = [seconds / (total / bench.PAYLOAD) * 1e6 for seconds in meter.cpus]
            rtt = statistics.median(await sender.rtt(100)) * 1e6
            per = " / ".join(f"{u:5.1f}" for u in us)
            wall = total / meter.wall / 1e6
            print(f"wall {wall:6.0f} MB/s  us/64k {per}  sum {sum(us):5.1f}  rtt {rtt:5.0f}")
    finally:
        await sender.stop()
        for child in chain:
            child.close()


if __name__ == "__main__":
    asyncio.run(
        main(
            int(sys.argv[1]) if len(sys.argv) > 1 else 32,
            int(sys.argv[2]) if len(sys.argv) > 2 else 3,
        )
    )
