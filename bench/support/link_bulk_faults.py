"""Page faults and CPU per 64 KiB frame of ``bench/link.py``'s bulk case, both processes.

``link N`` sends N 64 KiB payloads through the link (this process a ``LinkClient``, the
receiver a child serving ``bench/link.py --serve link``); ``sealed N`` the sealed pair
(``bulk_sealed`` against ``--serve sealed``). After a warm-up of one such round, both
processes count, per frame, over ``--rounds`` rounds (each line one round):

* minor page faults (``/proc/PID/stat`` field ``minflt``): a fresh 64 KiB object that
  glibc serves from new pages (mmap, or heap grown back after a trim) faults in
  16 pages;
* CPU time (``/proc/PID/schedstat``).

``--cpus S,R`` pins the sender to CPU S and the receiver to CPU R (the same CPU, or
two: whether the scheduler put both processes on one core or on two changes the cost
per frame of both pairs).

With ``--strace``, one more round runs with ``strace -c -f`` attached to both
processes (the tables go to stderr): mmap/munmap/brk/madvise per frame show whether
memory goes back to the kernel and comes again frame after frame.

    .venv/bin/python bench/support/link_bulk_faults.py link 2000 [--rounds 3] [--cpus 0,1]
    .venv/bin/python bench/support/link_bulk_faults.py link 500 --rounds 1 --strace
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import link  # bench/link.py, found through the line above
from support.link_pairs import PAYLOAD, bulk_sealed


def minflt(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[7])


def cpu(pid: int) -> float:
    with open(f"/proc/{pid}/schedstat", encoding="ascii") as schedstat:
        return int(schedstat.read().split()[0]) / 1e9


async def run(kind: str, frames: int, rounds: int, traced: bool, cpus: str | None) -> None:
    child = link.Child(kind)
    if cpus is not None:
        sender, receiver = (int(cpu) for cpu in cpus.split(","))
        os.sched_setaffinity(0, {sender})
        os.sched_setaffinity(child.process.pid, {receiver})
    client = link.LinkClient(child) if kind == "link" else None
    pids = {"sender": os.getpid(), "receiver": child.process.pid}
    total = frames * PAYLOAD

    async def one() -> None:
        if client is not None:
            await client.bulk(total)
        else:
            await bulk_sealed(child.port, total)

    try:
        if client is not None:
            await client.start()
        await one()  # warm-up
        for _ in range(rounds):
            before = {side: (minflt(pid), cpu(pid)) for side, pid in pids.items()}
            start = time.perf_counter()
            await one()
            wall = time.perf_counter() - start
            figures: dict[str, float] = {"mbps": total / wall / 1e6}
            for side, pid in pids.items():
                figures[f"faults_per_frame_{side}"] = (minflt(pid) - before[side][0]) / frames
                figures[f"cpu_us_per_frame_{side}"] = (cpu(pid) - before[side][1]) / frames * 1e6
            print(json.dumps({"kind": kind, **{k: round(v, 2) for k, v in figures.items()}}))
        if traced:
            tracers = [
                subprocess.Popen(["strace", "-c", "-f", "-p", str(pid)])
                for pid in pids.values()
                if pid != os.getpid()
            ]
            tracers.append(subprocess.Popen(["strace", "-c", "-f", "-p", str(os.getpid())]))
            await asyncio.sleep(1.0)  # let both attach
            await one()
            for tracer in tracers:
                tracer.send_signal(signal.SIGINT)
                tracer.wait(timeout=30)
    finally:
        if client is not None:
            await client.stop()
        child.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["link", "sealed"])
    parser.add_argument("frames", type=int)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--strace", action="store_true")
    parser.add_argument("--cpus", help="S,R: pin the sender to CPU S, the receiver to CPU R")
    args = parser.parse_args()
    asyncio.run(run(args.kind, args.frames, args.rounds, args.strace, args.cpus))


if __name__ == "__main__":
    main()
