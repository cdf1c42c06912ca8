"""A short slice of ``bench/relay.py``'s one-relay stream, for instruction counts.

Three real processes on loopback TCP, as in the benchmark: this one sends, a relay and
a sink (``mesh_node.py``). After a 1 MiB warm-up it streams ``MIB`` more mebibytes and
exits; stderr names the processes (``pids sender P relay P sink P``). Under
``valgrind --tool=callgrind --trace-children=yes`` each process's count is
load-independent; the difference between two slices divided by the packets between
them is the count per 64 KiB packet (docs/benchmarks.md, Relay, session 7):

    for n in 2 10; do
      valgrind --tool=callgrind --trace-children=yes \\
        --callgrind-out-file=/tmp/cg.$n.%p.out \\
        .venv/bin/python bench/support/relay_slice.py $n 2> /tmp/cg.$n.err
    done
    # per process: (Collected at 10 - Collected at 2) / 128 packets
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import relay  # bench/relay.py, found through the line above


async def main(mib: int) -> None:
    relay.ROUTE_WAIT = 600.0  # announcements are slow under valgrind
    chain = relay.mesh_chain(1, "slice", None)
    sender = relay.MeshSender(chain, "slice", None)
    pids = [os.getpid(), *(child.process.pid for child in chain)]
    print("pids sender {} relay {} sink {}".format(*pids), file=sys.stderr, flush=True)
    try:
        await sender.start()
        await sender.bulk(1 << 20)
        if mib:
            await sender.bulk(mib << 20)
    finally:
        await sender.stop()
        for child in chain:
            child.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
