"""Messaging end to end with durable storage, beside the store and the network alone.

Four node processes on loopback TCP in a line, A - R1 - R2 - B, each one OS process
(``bench/support/msg_node.py``) running ``NodeDriver`` over a ``Node`` whose message
store is a ``SqliteMessageStore`` (WAL, ``synchronous=FULL``: every commit fsyncs). A
sends; to R1 is one hop, to B three hops (through R1 and R2). Every figure is measured
in the same run as its ceiling or peer:

* **messages per second**, a burst of 100-byte messages sent back to back: until the
  last ``MessageReceived`` at the receiver (end to end) and until the last
  ``MessageDelivered`` back at the sender. Ceiling (a): commits per second of
  ``SqliteMessageStore.add_outgoing`` alone, same message size, in this process, on the
  same file system: a message costs the sender that commit (and another when its ACK
  comes) and the receiver one, so end to end cannot beat it. Also shown: the three
  commits of one message done one after another (``store_cycle``).
* **latency of one 100-byte message** (median, p99), each sent when the previous one was
  delivered, timed from the call to ``send_message`` (which returns after the commit) to
  ``MessageReceived`` at the receiver, and to ``MessageDelivered`` back at the sender.
  Peer (b): the session ping over the same path (``await driver.ping(peer)``, wall
  time), a round trip of the network and the session layers with no storage.

Cases are interleaved round by round; throughputs (and the store's rates) are the median
round (other jobs' fsyncs make the disk's pace jump between rounds, and the best round
of a store-only loop catches quiet moments that a burst across processes does not),
latency pools the samples of every round. Times come from CLOCK_MONOTONIC, which all
processes share.

    .venv/bin/python bench/messaging.py [--quick] [--json] [--dir DIR] [--rounds R --count N]

``--quick`` finishes in well under a minute; ``--json`` makes the last line one JSON
object with every figure, its same-run ceiling and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import link
from machine import machine
from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity
from meshnet.ids import MessageId
from meshnet.runtime.msgstore import SqliteMessageStore
from meshnet.services.messaging import (
    Conversation,
    InboxState,
    IncomingMessage,
    OutboxState,
    OutgoingMessage,
)

SIZE = 100
NODE = Path(__file__).resolve().parent / "support" / "msg_node.py"
TICKS = os.sysconf("SC_CLK_TCK")
LINE = ("A", "R1", "R2", "B")
PATHS = {"1hop": "R1", "3hop": "B"}


class NodeProc:
    """One node process; each command is answered by one JSON line."""

    def __init__(self, directory: Path, name: str, lifetime: float) -> None:
        command = [sys.executable, str(NODE), "--db", str(directory / f"{name}.db")]
        command += ["--name", name, "--listen", "tcp:127.0.0.1:0", "--lifetime", str(lifetime)]
        self.name = name
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        started = self.answer()
        self.node_id: str = started["node_id"]
        self.endpoint: str = started["listening"][0]

    def answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"node {self.name} exited (code {self.process.wait()})")
        reply: dict[str, Any] = json.loads(line)
        if reply.get("event") == "error":
            raise RuntimeError(f"node {self.name}: {reply['message']}")
        return reply

    def ask(self, **fields: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(fields) + "\n")
        self.process.stdin.flush()
        return self.answer()

    def cpu(self) -> float:
        """CPU seconds the process has used so far (user + system)."""
        with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                self.ask(cmd="stop")
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class Line:
    """A - R1 - R2 - B, each linked to the next, with routes from A to R1 and to B."""

    def __init__(self, directory: Path, lifetime: float) -> None:
        self.nodes: dict[str, NodeProc] = {}
        try:
            for name in LINE:
                self.nodes[name] = NodeProc(directory, name, lifetime)
            for near, far in itertools.pairwise(LINE):
                self.nodes[near].ask(cmd="connect", endpoint=self.nodes[far].endpoint)
            for hops, name in PATHS.items():
                route = self.sender.ask(cmd="route", peer=self.nodes[name].node_id, timeout=60)
                path = route["path"]
                expected = int(hops[0])
                if path is None or len(path) != expected:
                    raise RuntimeError(f"route to {name}: {path} (wanted {expected} hops)")
        except BaseException:
            self.close()
            raise

    @property
    def sender(self) -> NodeProc:
        return self.nodes["A"]

    def received(self, name: str, ids: set[str]) -> dict[str, float]:
        """The receiver's MessageReceived times of ``ids`` (waits a little for stragglers)."""
        times: dict[str, float] = {}
        for _ in range(100):
            times.update(self.nodes[name].ask(cmd="received")["times"])
            if ids <= times.keys():
                return times
            time.sleep(0.05)
        raise RuntimeError(f"{name} reported {len(ids - times.keys())} messages missing")

    def cpu(self) -> dict[str, float]:
        return {name: node.cpu() for name, node in self.nodes.items()}

    def close(self) -> None:
        for node in self.nodes.values():
            node.close()


# -- the ceilings ---------------------------------------------------------------------------


def _outgoing(i: int, peer: Any) -> OutgoingMessage:
    return OutgoingMessage(
        id=MessageId(i.to_bytes(16, "big")),
        peer=peer,
        epoch=b"E" * 8,
        seq=i,
        created=1.0,
        expires=1e9,
        body=b"x" * SIZE,
    )


def store_rates(directory: Path, count: int) -> tuple[float, float]:
    """Commits/s of ``add_outgoing`` alone; messages/s of the three commits of a message."""
    peer = Identity.generate(SeededEntropy(7, "peer"), created=0).node_id
    sender = SqliteMessageStore.open(directory / f"ceiling-{time.monotonic_ns()}-s.db")
    receiver = SqliteMessageStore.open(directory / f"ceiling-{time.monotonic_ns()}-r.db")
    try:
        start = time.perf_counter()
        for i in range(count):
            conversation = Conversation(peer=peer, epoch=b"E" * 8, next_seq=i + 1)
            sender.add_outgoing(_outgoing(i, peer), conversation)
        alone = count / (time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(count, 2 * count):
            message = _outgoing(i, peer)
            conversation = Conversation(peer=peer, epoch=b"E" * 8, next_seq=i + 1)
            sender.add_outgoing(message, conversation)
            incoming = IncomingMessage(
                id=message.id,
                peer=peer,
                epoch=message.epoch,
                seq=i,
                created=1.0,
                expires=1e9,
                body=message.body,
                received_at=2.0,
                state=InboxState.DELIVERED,
                delivered_at=2.0,
            )
            receiver.commit_incoming([incoming], conversation)
            sender.update_outgoing(replace(message, state=OutboxState.DELIVERED, delivered_at=3.0))
        cycle = count / (time.perf_counter() - start)
    finally:
        sender.close()
        receiver.close()
    return alone, cycle


# -- the run --------------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(directory: Path, rounds: int, count: int) -> dict[str, float]:
    """Every figure; ``count`` sets the number of messages per round (a burst's size)."""
    n_burst = count
    n_latency = n_ping = max(1, count // 2)
    n_store = count
    line = Line(directory, lifetime=900.0)
    echo = link.Child("sealed-echo")
    ping: dict[str, list[float]] = {hops: [] for hops in PATHS}
    ping_wall: dict[str, list[float]] = {hops: [] for hops in PATHS}
    sealed: list[float] = []
    received: dict[str, list[float]] = {hops: [] for hops in PATHS}
    delivered: dict[str, list[float]] = {hops: [] for hops in PATHS}
    commit: dict[str, list[float]] = {hops: [] for hops in PATHS}
    e2e: dict[str, list[float]] = {hops: [] for hops in PATHS}
    acked: dict[str, list[float]] = {hops: [] for hops in PATHS}
    cpu: dict[str, list[dict[str, float]]] = {hops: [] for hops in PATHS}
    alone: list[float] = []
    cycle: list[float] = []
    try:
        for _ in range(rounds):
            for hops, name in PATHS.items():
                peer = line.nodes[name].node_id
                answers = line.sender.ask(cmd="ping", peer=peer, count=n_ping)
                ping[hops] += answers["rtt"]
                ping_wall[hops] += answers["wall"]
                samples = line.sender.ask(cmd="latency", peer=peer, count=n_latency, size=SIZE)
                rows = samples["samples"]
                times = line.received(name, {row[0] for row in rows})
                for message_id, start, returned, back in rows:
                    received[hops].append(times[message_id] - start)
                    delivered[hops].append(back - start)
                    commit[hops].append(returned - start)
                before = line.cpu()
                result = line.sender.ask(cmd="burst", peer=peer, count=n_burst, size=SIZE)
                after = line.cpu()
                times = line.received(name, set(result["ids"]))
                last = max(times[i] for i in result["ids"])
                e2e[hops].append(n_burst / (last - result["start"]))
                acked[hops].append(n_burst / (result["delivered"] - result["start"]))
                cpu[hops].append({k: (after[k] - before[k]) / n_burst for k in after})
            sealed += asyncio.run(link.rtt_sealed(echo.port, n_ping))
            rate, per_message = store_rates(directory, n_store)
            alone.append(rate)
            cycle.append(per_message)
    finally:
        line.close()
        echo.close()
    figures: dict[str, float] = {
        "store_commits_per_s": statistics.median(alone),
        "store_commits_per_s_best": max(alone),
        "store_cycle_messages_per_s": statistics.median(cycle),
        "sealed_rtt_ms_median": statistics.median(sealed) * 1e3,
        "sealed_rtt_ms_p99": quantile(sealed, 0.99) * 1e3,
    }
    sealed_median = figures["sealed_rtt_ms_median"]
    for hops in PATHS:
        rate = statistics.median(e2e[hops])
        middle = sorted(range(rounds), key=lambda r: e2e[hops][r])[rounds // 2]
        ping_median = statistics.median(ping[hops]) * 1e3
        ping_p99 = quantile(ping[hops], 0.99) * 1e3
        figures |= {
            f"msgs_per_s_{hops}": rate,
            f"msgs_per_s_{hops}_best": max(e2e[hops]),
            f"msgs_per_s_{hops}_delivered": statistics.median(acked[hops]),
            f"msgs_per_s_{hops}_vs_store": rate / figures["store_commits_per_s"],
            f"msgs_per_s_{hops}_vs_cycle": rate / figures["store_cycle_messages_per_s"],
            f"ping_ms_median_{hops}": ping_median,
            f"ping_ms_p99_{hops}": ping_p99,
            f"ping_wall_ms_median_{hops}": statistics.median(ping_wall[hops]) * 1e3,
            f"send_ms_median_{hops}": statistics.median(commit[hops]) * 1e3,
        }
        for what, values in (("received", received[hops]), ("delivered", delivered[hops])):
            median, p99 = statistics.median(values) * 1e3, quantile(values, 0.99) * 1e3
            figures |= {
                f"latency_ms_median_{hops}_{what}": median,
                f"latency_ms_p99_{hops}_{what}": p99,
                f"latency_ms_median_{hops}_{what}_vs_ping": median / ping_median,
                f"latency_ms_p99_{hops}_{what}_vs_ping": p99 / ping_p99,
                f"latency_ms_median_{hops}_{what}_vs_sealed": median / sealed_median,
            }
        for name, seconds in cpu[hops][middle].items():
            figures[f"cpu_ms_per_msg_{hops}_{name}"] = seconds * 1e3
    figures["load_average"] = os.getloadavg()[0]
    return figures


def report(figures: dict[str, float]) -> None:
    print(f"{'':<34} {'1 hop':>10} {'3 hops':>10}")

    def row(label: str, key: str, unit: str = "") -> None:
        cells = [f"{figures[key.format(hops=h)]:>10.2f}" for h in PATHS]
        print(f"{label:<34} {' '.join(cells)} {unit}")

    row("messages/s end to end", "msgs_per_s_{hops}")
    row("messages/s delivered back", "msgs_per_s_{hops}_delivered")
    row("  end to end / store commits (a)", "msgs_per_s_{hops}_vs_store")
    row("  end to end / store cycle", "msgs_per_s_{hops}_vs_cycle")
    row("send_message (commit), median ms", "send_ms_median_{hops}")
    row("latency to received, median ms", "latency_ms_median_{hops}_received")
    row("latency to received, p99 ms", "latency_ms_p99_{hops}_received")
    row("latency to delivered, median ms", "latency_ms_median_{hops}_delivered")
    row("latency to delivered, p99 ms", "latency_ms_p99_{hops}_delivered")
    row("session ping rtt (b), median ms", "ping_ms_median_{hops}")
    row("session ping rtt (b), p99 ms", "ping_ms_p99_{hops}")
    row("session ping, wall, median ms", "ping_wall_ms_median_{hops}")
    row("  received median / ping median", "latency_ms_median_{hops}_received_vs_ping")
    row("  delivered median / ping median", "latency_ms_median_{hops}_delivered_vs_ping")
    row("  delivered p99 / ping p99", "latency_ms_p99_{hops}_delivered_vs_ping")
    row("  delivered median / sealed pair", "latency_ms_median_{hops}_delivered_vs_sealed")
    for name in LINE:
        row(f"CPU ms per message, {name}", f"cpu_ms_per_msg_{{hops}}_{name}")
    print(
        f"sealed asyncio pair, 64 B round trip over 1 hop: median "
        f"{figures['sealed_rtt_ms_median']:.3f} ms, p99 {figures['sealed_rtt_ms_p99']:.3f} ms"
    )
    print(
        f"store alone (a): {figures['store_commits_per_s']:.0f} commits/s; the three commits "
        f"of one message one after another: {figures['store_cycle_messages_per_s']:.0f}/s "
        f"(load average {figures['load_average']:.1f} on {os.cpu_count()} cores)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short rounds (< 1 minute)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--dir", type=Path, help="where the databases go (default: a temp dir)")
    parser.add_argument("--rounds", type=int, help="rounds (default 2 quick, 4 full)")
    parser.add_argument("--count", type=int, help="messages per burst (default 150 / 600)")
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 4)
    count = args.count or (150 if args.quick else 600)
    directory = Path(tempfile.mkdtemp(prefix="meshnet-bench-", dir=args.dir))
    try:
        figures = measure(directory, rounds, count)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    report(figures)
    if args.json:
        print(
            json.dumps(
                {
                    "benchmark": "messaging",
                    "machine": machine(),
                    "quick": args.quick,
                    "rounds": rounds,
                    "messages_per_burst": count,
                    "message_bytes": SIZE,
                    "figures": {k: round(v, 4) for k, v in sorted(figures.items())},
                }
            )
        )


if __name__ == "__main__":
    main()
