"""End-to-end streams and round trips directly, through one and two relays, beside ceilings.

Every figure is measured in the same run, on loopback TCP, one OS process per node;
this process is the sender of every case:

* **MeshNet** (``bench/support/mesh_node.py``): the sender's ``NodeDriver`` links to
  the first node of a chain of 0, 1 or 2 relay processes ending in a sink process;
  it waits until routing knows the sink (announcements), then measures (a) **stream
  throughput**: an end-to-end stream (``open_stream``, ``await stream_write`` of 64 KiB
  pieces, ``stream_close``) until the sink's datagram says every byte arrived, and (b)
  **round trip**: a 64 B end-to-end datagram echoed by the sink, median.
* **Ceilings** (``bench/support/sealed.py``): plain asyncio processes in the same chain
  shape; every hop has its own ChaCha20-Poly1305 key, each 64 KiB frame is sealed by the
  sender, opened and sealed again by each relay, opened by the sink. With no relay this
  is the *encrypted hop*; with relays the *encrypted relay chain*. Same bulk protocol
  (the sink answers when all bytes arrived) and 64 B echo. The ceiling is the best
  plain Python does: no 64 KiB object is allocated per frame (reads into one buffer,
  ``decrypt_into`` / ``encrypt_into`` into reused ones).

Goal: through one relay, stream throughput >= 50% of the encrypted relay-chain ceiling.
Rounds are interleaved (a noisy moment hurts every case alike) and the best kept.
Besides wall-clock figures the CPU time of every process is read from ``/proc``;
``cpu`` figures divide the bytes by the CPU seconds of the busiest process of the chain
(the rate if each process had a core to itself; the machine may have fewer cores than
a chain has processes); each process's CPU per 64 KiB (sender, relays, sink) is printed
too, for the round with the best ``cpu`` figure. MeshNet runs twice: with the core's
default ``SessionConfig`` (the goal's figure: on these all-TCP paths the sessions move
up to 65,535-byte packets once the peer reports the path, docs/protocol/session.md §2),
and with the packet size fixed at ``--fixed-packet`` bytes (default 1100, the size a
datagram path keeps; 0 skips it), where the per-packet costs weigh 60 times more.

    .venv/bin/python bench/relay.py [--quick] [--json] [--fixed-packet N]

``RELAY_STATUS=1`` makes every MeshNet node print its drop counters to stderr at exit.

``--quick`` finishes in well under a minute; ``--json`` makes the last line one JSON
object with every figure, its same-run ceiling and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from machine import machine
from meshnet.crypto.entropy import SeededEntropy, SystemEntropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.node.config import NodeConfig
from meshnet.node.events import DatagramReceived, PeerConnected
from meshnet.node.node import Node
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.subscriptions import Subscription
from meshnet.session.config import SessionConfig
from support.sealed import BULK, DONE, ECHO, TOTAL, Client

SUPPORT = Path(__file__).with_name("support")
PAYLOAD = 64 * 1024
SMALL = 64
TICKS = os.sysconf("SC_CLK_TCK")
RELAYS = (0, 1, 2)
ROUTE_WAIT = 30.0
GOALS = {"relay1_vs_chain": 0.50}


class Child:
    """One helper process; its first line names where it listens (and its node id)."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().split()
        if not first:
            raise RuntimeError(f"{args[0]} did not start")
        self.endpoint = first[0]
        self.port = int(self.endpoint.rsplit(":", 1)[1])
        self.node_id = first[1] if len(first) > 1 else ""

    def cpu(self) -> float:
        """CPU seconds the process has used so far (user + system).

        From ``/proc/PID/schedstat`` (nanoseconds on a CPU) where the kernel has it, else
        from ``/proc/PID/stat`` in clock ticks (10 ms: coarse for quick rounds).
        """
        try:
            with open(f"/proc/{self.process.pid}/schedstat", encoding="ascii") as schedstat:
                return int(schedstat.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            pass
        with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def sealed_chain(relays: int) -> list[Child]:
    """A sink and ``relays`` relays in front of it; the first child is the sender's hop."""
    chain = [Child(str(SUPPORT / "sealed.py"), "sink", "--hop", str(relays))]
    for hop in range(relays - 1, -1, -1):
        chain.insert(
            0,
            Child(
                str(SUPPORT / "sealed.py"), "relay", "--hop", str(hop), "--to", str(chain[0].port)
            ),
        )
    return chain


def fixed_packet(size: int) -> SessionConfig:
    """Sessions that use ``size``-byte packets on every path."""
    return SessionConfig(max_packet=size, max_stream_path_packet=size)


def mesh_chain(relays: int, tag: str, max_packet: int | None) -> list[Child]:
    """A sink node and ``relays`` relay nodes, each linked to the next one."""
    extra = ["--max-packet", str(max_packet)] if max_packet else []
    if os.environ.get("RELAY_STATUS"):
        extra.append("--status")
    script = str(SUPPORT / "mesh_node.py")
    chain = [Child(script, "sink", "--label", f"{tag}-sink", *extra)]
    for i in range(relays):
        ahead = chain[0]
        chain.insert(
            0,
            Child(
                script,
                "relay",
                "--label",
                f"{tag}-relay{i}",
                "--connect",
                ahead.endpoint,
                ahead.node_id,
                *extra,
            ),
        )
    return chain


class Meter:
    """Wall time and the CPU time of this process and every child around one measurement."""

    def __init__(self, chain: list[Child]) -> None:
        self.chain = chain

    def _cpus(self) -> list[float]:
        return [time.process_time(), *(child.cpu() for child in self.chain)]

    def __enter__(self) -> Meter:
        self.wall, self.cpus = time.perf_counter(), self._cpus()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpus = [after - before for after, before in zip(self._cpus(), self.cpus, strict=True)]

    @property
    def busiest(self) -> float:
        return max(self.cpus)


# -- the ceiling's sender ----------------------------------------------------------------


class SealedSender:
    def __init__(self, chain: list[Child]) -> None:
        self.chain = chain
        self.client = Client()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: self.client, "127.0.0.1", self.chain[0].port)

    async def _reply(self) -> bytes:
        kind, plain = await self.client.replies.get()
        assert kind == DONE
        return plain

    async def bulk(self, total: int) -> None:
        chunk, send = os.urandom(PAYLOAD), self.client.send
        await send(TOTAL, total.to_bytes(8, "big"))
        for _ in range(total // PAYLOAD):
            await send(BULK, chunk)
        assert int.from_bytes(await self._reply(), "big") == total

    async def rtt(self, rounds: int) -> list[float]:
        message, samples = b"E" * SMALL, []
        for _ in range(rounds):
            start = time.perf_counter()
            await self.client.send(ECHO, message)
            assert await self._reply() == message
            samples.append(time.perf_counter() - start)
        return samples

    async def stop(self) -> None:
        if self.client.transport is not None:
            self.client.transport.close()


# -- MeshNet's sender -------------------------------------------------------------------


class MeshSender:
    def __init__(self, chain: list[Child], tag: str, max_packet: int | None) -> None:
        self.chain = chain
        self.sink = NodeId.from_text(chain[-1].node_id)
        session = SessionConfig() if max_packet is None else fixed_packet(max_packet)
        node = Node(
            identity=Identity.generate(SeededEntropy(2025, f"{tag}-sender"), created=1_700_000_000),
            entropy=SystemEntropy(),
            verifier=SignatureVerifier(),
            config=NodeConfig(session=session),
        )
        self.driver = NodeDriver(node)
        self.sub: Subscription | None = None

    async def start(self) -> None:
        driver = self.driver
        await driver.start([])
        self.sub = driver.subscribe(kinds=[PeerConnected, DatagramReceived])
        driver.connect(
            self.chain[0].endpoint, expected_peer=NodeId.from_text(self.chain[0].node_id)
        )
        await asyncio.wait_for(self.sub.wait_for(PeerConnected), 30)
        for _ in range(int(ROUTE_WAIT / 0.05)):  # announcements come on their own schedule
            if driver.node.route_to(self.sink) is not None:
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"no route to the sink after {ROUTE_WAIT:g} s")

    async def bulk(self, total: int) -> None:
        driver, sub = self.driver, self.sub
        assert sub is not None
        chunk = os.urandom(PAYLOAD)
        stream = driver.open_stream(self.sink)
        for _ in range(total // PAYLOAD):
            await driver.stream_write(stream, chunk)
        driver.stream_close(stream)
        done = await asyncio.wait_for(sub.wait_for(DatagramReceived), 300)
        assert done.payload == b"D" + total.to_bytes(8, "big"), done.payload

    async def rtt(self, rounds: int) -> list[float]:
        driver, sub = self.driver, self.sub
        assert sub is not None
        message, samples = b"E" * SMALL, []
        for _ in range(rounds):
            start = time.perf_counter()
            driver.send_datagram(self.sink, message)
            back = await asyncio.wait_for(sub.wait_for(DatagramReceived), 30)
            assert back.payload == message
            samples.append(time.perf_counter() - start)
        return samples

    async def stop(self) -> None:
        await self.driver.stop()


# -- the run ------------------------------------------------------------------------------


async def measure(quick: bool, max_packet: int | None) -> dict[str, float]:
    rounds = 2 if quick else 4
    n_rtt = 100 if quick else 400
    mib = 1 << 20
    totals = {"sealed": (16 if quick else 128) * mib, "mesh": (8 if quick else 64) * mib}
    variants: list[tuple[str, int | None]] = [("mesh", None)]
    if max_packet:
        variants.append((f"mesh{max_packet}", max_packet))
        totals[f"mesh{max_packet}"] = (2 if quick else 16) * mib
    chains: dict[str, list[Child]] = {}
    senders: dict[str, SealedSender | MeshSender] = {}
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    rtt: dict[str, list[float]] = {}
    per_process: dict[str, list[list[float]]] = {}  # CPU us per 64 KiB, sender first
    try:
        for relays in RELAYS:
            name = f"sealed{relays}"
            chains[name] = sealed_chain(relays)
            senders[name] = SealedSender(chains[name])
            for variant, packet in variants:
                name = f"{variant}{relays}"
                chains[name] = mesh_chain(relays, name, packet)
                senders[name] = MeshSender(chains[name], name, packet)
        await asyncio.gather(*(sender.start() for sender in senders.values()))
        for sender in senders.values():  # warm up: sessions, handshakes, buffers
            await sender.bulk(1 << 20)
            await sender.rtt(10)
        for _ in range(rounds):
            for name, sender in senders.items():
                total = totals[name[:-1]]  # the name ends in the relay count
                with Meter(chains[name]) as meter:
                    await sender.bulk(total)
                wall.setdefault(name, []).append(total / meter.wall / 1e6)
                cpu.setdefault(name, []).append(total / meter.busiest / 1e6)
                us = [seconds / (total / PAYLOAD) * 1e6 for seconds in meter.cpus]
                per_process.setdefault(name, []).append(us)
                rtt.setdefault(name, []).append(statistics.median(await sender.rtt(n_rtt)))
    finally:
        for sender in senders.values():
            await sender.stop()
        for chain in chains.values():
            for child in chain:
                child.close()
    figures: dict[str, float] = {}
    for relays in RELAYS:
        ceiling = f"sealed{relays}"
        figures[f"relay{relays}_ceiling_mbps"] = max(wall[ceiling])
        figures[f"relay{relays}_ceiling_cpu_mbps"] = max(cpu[ceiling])
        figures[f"relay{relays}_ceiling_rtt_us"] = min(rtt[ceiling]) * 1e6
        for variant in ("ceiling", *(v for v, _ in variants)):
            name = ceiling if variant == "ceiling" else f"{variant}{relays}"
            best = min(per_process[name], key=max)  # the round of the best cpu figure
            for role, us in zip(_roles(relays), best, strict=True):
                figures[f"relay{relays}_{variant}_us64k_{role}"] = us
        for variant, _ in variants:
            name = f"{variant}{relays}"
            figures[f"relay{relays}_{variant}_mbps"] = max(wall[name])
            figures[f"relay{relays}_{variant}_cpu_mbps"] = max(cpu[name])
            figures[f"relay{relays}_{variant}_rtt_us"] = min(rtt[name]) * 1e6
            figures[f"relay{relays}_{variant}_vs_ceiling"] = max(wall[name]) / max(wall[ceiling])
            figures[f"relay{relays}_{variant}_cpu_vs_ceiling"] = max(cpu[name]) / max(cpu[ceiling])
            figures[f"relay{relays}_{variant}_rtt_vs_ceiling"] = min(rtt[name]) / min(rtt[ceiling])
    figures["relay1_vs_chain"] = figures["relay1_mesh_vs_ceiling"]
    figures["load_average"] = os.getloadavg()[0]
    return figures


def _roles(relays: int) -> list[str]:
    return ["sender", *(f"relay{i}" for i in range(relays)), "sink"]


def report(figures: dict[str, float], variants: list[str]) -> None:
    print(f"{'':<12} {'case':<28} {'MB/s wall':>10} {'MB/s cpu':>10} {'rtt us':>10}")
    for relays in RELAYS:
        where = ("direct", "1 relay", "2 relays")[relays]
        rows = [("sealed ceiling", f"relay{relays}_ceiling")]
        rows += [(f"MeshNet ({v})", f"relay{relays}_{v}") for v in variants]
        for i, (case, key) in enumerate(rows):
            group = where if i == 0 else ""
            print(
                f"{group:<12} {case:<28} {figures[key + '_mbps']:>10.1f} "
                f"{figures[key + '_cpu_mbps']:>10.1f} {figures[key + '_rtt_us']:>10.0f}"
            )
        for v in variants:
            key = f"relay{relays}_{v}"
            ratios = (figures[f"{key}_{what}vs_ceiling"] for what in ("", "cpu_", "rtt_"))
            print(f"{'':<12} {'/ ceiling (' + v + ')':<28}", *(f"{r:>10.3f}" for r in ratios))
    print("CPU us per 64 KiB by process (sender, relays, sink), best round:")
    for relays in RELAYS:
        for v in ("ceiling", *variants):
            us = [figures[f"relay{relays}_{v}_us64k_{role}"] for role in _roles(relays)]
            print(f"  {relays} relay(s) {v:<10}", " / ".join(f"{x:.0f}" for x in us))
    print(
        f"goal: through 1 relay >= {GOALS['relay1_vs_chain']:.2f} of the chain ceiling; "
        f"measured {figures['relay1_vs_chain']:.3f} (wall). cpu: bytes per CPU second of "
        "the busiest process of the chain. rtt: median of 64 B echoes, best round "
        f"(load average {figures['load_average']:.1f} on {os.cpu_count()} cores)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short rounds (< 1 minute)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument(
        "--fixed-packet",
        type=int,
        default=1100,
        help="also measure MeshNet with session packets fixed at this size (0: skip)",
    )
    args = parser.parse_args()
    figures: dict[str, Any] = asyncio.run(measure(args.quick, args.fixed_packet or None))
    figures.update({f"goal_{name}": value for name, value in GOALS.items()})
    variants = ["mesh"] + ([f"mesh{args.fixed_packet}"] if args.fixed_packet else [])
    report(figures, variants)
    if args.json:
        rounded = {k: round(v, 4) for k, v in figures.items()}
        print(json.dumps({**rounded, "machine": machine()}, sort_keys=True))


if __name__ == "__main__":
    main()
