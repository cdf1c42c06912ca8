"""Load-independent counts per 64 B round trip of ``bench/link.py``, two OS processes.

``link N`` runs N round trips of the link (this process a ``LinkClient``, the echo a
child serving ``bench/link.py --serve link``: a listener echoing); ``sealed N`` runs N
round trips of the sealed pair (``SealedRtt`` against ``--serve sealed-echo``). After
a warm-up of 200 round trips, both processes count, per round trip:

* event-loop iterations (``_run_once``), selector waits that returned events and
  that returned none, callbacks run (``Handle._run``), ``call_soon`` and ``call_at``
  calls, timer handles cancelled;
* CPU time of each process (traced ones are slowed by the tracing);
* with ``--strace``, the system calls of both processes (``strace -c -f`` attached for
  the N round trips only; the tables go to stderr).

The counts do not depend on the machine's load (the selector waits that returned
nothing may: a timer that fires during a round trip makes one):

    .venv/bin/python bench/support/link_rtt_counts.py link 2000 [--strace]
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import link  # bench/link.py, found through the line above

WARM = 200
COUNTS: Counter[str] = Counter()


def install_counters(loop: asyncio.AbstractEventLoop) -> None:
    """Count the loop's iterations, selector waits and scheduling calls in ``COUNTS``."""
    base: Any = loop
    run_once, select = base._run_once, base._selector.select
    call_soon, call_at = base.call_soon, base.call_at

    def counted_run_once() -> None:
        COUNTS["loop_iterations"] += 1
        run_once()

    def counted_select(timeout: float | None = None) -> Any:
        events = select(timeout)
        COUNTS["select_with_events" if events else "select_empty"] += 1
        return events

    def counted_call_soon(*args: Any, **kwargs: Any) -> Any:
        COUNTS["call_soon"] += 1
        return call_soon(*args, **kwargs)

    def counted_call_at(*args: Any, **kwargs: Any) -> Any:
        COUNTS["call_at"] += 1
        return call_at(*args, **kwargs)

    base._run_once, base._selector.select = counted_run_once, counted_select
    base.call_soon, base.call_at = counted_call_soon, counted_call_at
    handle_run, timer_cancel = asyncio.Handle._run, asyncio.TimerHandle.cancel

    def counted_handle_run(self: asyncio.Handle) -> None:
        COUNTS["callbacks_run"] += 1
        handle_run(self)

    def counted_cancel(self: asyncio.TimerHandle) -> None:
        COUNTS["timers_cancelled"] += 1
        timer_cancel(self)

    asyncio.Handle._run = counted_handle_run  # type: ignore[method-assign]
    asyncio.TimerHandle.cancel = counted_cancel  # type: ignore[method-assign]


async def serve(kind: str) -> None:
    """The child: ``bench/link.py``'s server, its counts printed on SIGUSR1 (stderr)."""
    loop = asyncio.get_running_loop()
    install_counters(loop)
    loop.add_signal_handler(
        signal.SIGUSR1, lambda: print(json.dumps(dict(COUNTS)), file=sys.stderr, flush=True)
    )
    await link.serve(kind)


async def main(kind: str, rounds: int, use_strace: bool) -> None:
    loop = asyncio.get_running_loop()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "link" if kind == "link" else "sealed-echo"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stderr is not None and child.stdin is not None
    endpoint, node = child.stdout.readline().split()
    wrapper: Any = link.Child.__new__(link.Child)
    wrapper.process, wrapper.endpoint = child, endpoint
    wrapper.port = int(endpoint.rsplit(":", 1)[1])
    wrapper.node_id = link.NodeId.from_text(node) if node != "-" else None
    client: Any = link.LinkClient(wrapper) if kind == "link" else link.SealedRtt(wrapper.port)
    await client.start()
    await client.rtt(WARM)
    tracers = []
    if use_strace:
        for pid in (child.pid, os.getpid()):
            tracers.append(
                subprocess.Popen(
                    ["strace", "-c", "-f", "-p", str(pid)], stderr=subprocess.PIPE, text=True
                )
            )
        time.sleep(1.0)  # strace attaches
    install_counters(loop)
    child.send_signal(signal.SIGUSR1)
    before = json.loads(child.stderr.readline())
    cpu, child_cpu = time.process_time(), wrapper.cpu()
    await client.rtt(rounds)
    cpu, child_cpu = time.process_time() - cpu, wrapper.cpu() - child_cpu
    mine = dict(COUNTS)
    child.send_signal(signal.SIGUSR1)
    after = json.loads(child.stderr.readline())
    for tracer, name in zip(tracers, ("echo", "client"), strict=False):
        tracer.send_signal(signal.SIGINT)
        _, table = tracer.communicate(timeout=30)
        print(f"{name}:\n{table}", file=sys.stderr)
    await client.stop()
    child.stdin.close()
    child.wait(timeout=30)
    print(f"{kind}: per round trip, {rounds} round trips")
    print(f"  CPU client {cpu / rounds * 1e6:.1f} us, echo {child_cpu / rounds * 1e6:.1f} us")
    for name in sorted(set(mine) | set(after)):
        theirs = after.get(name, 0) - before.get(name, 0)
        print(f"  {name:20} client {mine.get(name, 0) / rounds:5.2f}  echo {theirs / rounds:5.2f}")


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        asyncio.run(serve(sys.argv[2]))
    else:
        asyncio.run(main(sys.argv[1], int(sys.argv[2]), "--strace" in sys.argv))
