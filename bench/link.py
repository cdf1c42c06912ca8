"""One link hop over loopback TCP between two OS processes, beside its ceilings.

Every figure is measured in the same run, the link beside what plain Python can do on
the same machine:

* **bulk throughput**, 64 KiB payloads, sender in this process, receiver in a child
  process: (a) a plain asyncio TCP pair (no crypto); (b) a plain asyncio pair that seals
  each 64 KiB frame with ChaCha20-Poly1305 (``cryptography``) behind a length prefix:
  the Python ceiling for one encrypted hop. It allocates nothing per frame: the sender
  seals with ``encrypt_into`` into one reused buffer and hands it to ``sock_sendall``
  (which returns once the kernel took all of it), the receiver (a ``BufferedProtocol``)
  reads into one reused buffer and opens each frame in place with ``decrypt_into`` into
  one reused plaintext buffer; (link) ``NodeDriver.send`` to a neighbour
  whose driver hands ``NeighbourDataReceived`` events to a listener (``driver.listen``:
  a callback inside the pump, as the sealed pair's receiver works inside
  ``data_received``). Goal: link >= 60% of (b). Beside it, (link, queue): the same
  application reading a subscription (``driver.subscribe``: a task woken per batch).
  The sender waits for the receiver's "all received" message, so the figure is
  end to end. Best of the rounds, rounds interleaved.
* **small-frame round trip**: 64 B echoed by the other process; link vs (b). Goal:
  <= 1.5x. Both echo applications: listener and subscription. The sealed client
  sends with ``sock_sendall`` and reads with ``sock_recv_into`` (the lowest round trip
  of the plain clients tried: a protocol client and a ``StreamReader`` one are slower).
  The clients are connected once and measured in short alternating batches
  (``RTT_BATCH`` round trips of (b), of the link, of the link with a subscription, in
  an order that rotates from batch to batch; a few batches after each bulk round), so
  the ceiling and the link see the same moments of the machine: its load and how fast
  the kernel wakes the other process (on a quiet machine that wake-up alone moves
  (b) between about 35 and 90 µs). Reported: each kind's median over all its round
  trips, and the ratio as the median over the batches of (link batch median / median
  of the (b) batch beside it), with the lowest and highest batch ratio; CPU likewise.
* **link establishment**: ``connect`` until ``PeerConnected`` with the hybrid
  (X25519 + ML-KEM-768) handshake over loopback TCP, median. Goal: <= 5 ms.
* **node core**: two ``Node``s joined in this process, no sockets: CPU per neighbour
  round trip (64 B and 64 KiB) through the same calls the drivers make.
* **one process**: the sealed pair and the link pair (two drivers) with both ends on one
  event loop over loopback TCP, CPU per 64 B round trip: the Python of each without the
  cost of waking another process; link minus sealed minus node core is the driver's and
  asyncio's share.
* **memory**: in a fresh process, 1,000 idle links established in memory between a
  hub node and 1,000 spoke nodes (both ends of every link in the process): RSS growth
  per link and the process's peak RSS; and, in another process, the bytes a link holds
  according to ``tracemalloc`` (on fewer links: tracing is slow).

    .venv/bin/python bench/link.py [--quick] [--json]

``--quick`` finishes in well under a minute; ``--json`` makes the last line one JSON
object with every figure, its same-run ceiling and their ratio. The ceilings (a) and (b)
live in ``bench/support/link_pairs.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from meshnet.crypto.entropy import SeededEntropy, SystemEntropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.ids import TransportId
from meshnet.link.config import LinkConfig
from meshnet.node.config import NodeConfig
from meshnet.node.events import (
    NeighbourDataReceived,
    NodeEvent,
    PeerConnected,
    PeerDisconnected,
)
from meshnet.node.node import Node
from meshnet.runtime.driver import NodeDriver
from meshnet.runtime.subscriptions import Subscription
from meshnet.runtime.transports import RuntimeConfig
from support.link_pairs import (  # the ceilings (a) and (b), bench/support/link_pairs.py
    PAYLOAD,
    SMALL,
    PlainSink,
    SealedPeer,
    SealedRtt,
    bulk_plain,
    bulk_sealed,
    rtt_sealed,  # noqa: F401 (bench/messaging.py uses link.rtt_sealed)
    rtt_sealed_protocol,
)

TICKS = os.sysconf("SC_CLK_TCK")
STREAM: dict[str, Any] = {"datagram": False, "mtu": 1 << 20}
GOALS = {"throughput_ratio": 0.60, "throughput_mbps": 300.0, "rtt_ratio": 1.5, "handshake_ms": 5.0}
# The node under test accepts connections and handshakes as fast as the bench makes them.
BENCH_LINK = LinkConfig(handshake_rate=1e9, handshake_burst=1 << 30)
BENCH_RUNTIME = RuntimeConfig(tcp_accept_rate=1e9, tcp_accept_burst=1 << 30)


def ident(label: str) -> Identity:
    return Identity.generate(SeededEntropy(2024, label), created=1_700_000_000)


def make_node(label: str) -> Node:
    return Node(
        identity=ident(label),
        entropy=SystemEntropy(),
        verifier=SignatureVerifier(),
        config=NodeConfig(link=BENCH_LINK),
    )


# -- the receiving process ------------------------------------------------------------


async def serve(kind: str) -> None:
    """The receiving process: print where it listens, serve until stdin closes."""
    loop = asyncio.get_running_loop()
    driver: NodeDriver | None = None
    tasks: list[asyncio.Task[None]] = []
    server: asyncio.Server | None = None
    if kind in ("link", "link-queue"):
        driver = NodeDriver(make_node("receiver"), config=BENCH_RUNTIME)
        await driver.start(["tcp:127.0.0.1:0"])
        app = LinkApp(driver)
        if kind == "link":
            driver.listen(app.on_event, kinds=[NeighbourDataReceived])
        else:
            tasks.append(
                loop.create_task(app.read(driver.subscribe(kinds=[NeighbourDataReceived])))
            )
        where = f"{driver.listening[0]} {driver.node.node_id}"
    else:
        factories: dict[str, Callable[[], asyncio.BaseProtocol]] = {
            "plain": PlainSink,
            "sealed": lambda: SealedPeer(echo=False),
            "sealed-echo": lambda: SealedPeer(echo=True),
        }
        server = await loop.create_server(factories[kind], "127.0.0.1", 0)
        where = f"tcp:127.0.0.1:{server.sockets[0].getsockname()[1]} -"
    print(where, flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()  # until the parent closes our stdin
    for task in tasks:
        task.cancel()
    if driver is not None:
        await driver.stop()
    if server is not None:
        server.close()


class LinkApp:
    """Echo b"E..." payloads; count bulk ones after b"X" + total; answer b"D" when done."""

    def __init__(self, driver: NodeDriver) -> None:
        self.driver = driver
        self.expected = -1
        self.count = 0

    def on_event(self, event: NodeEvent) -> None:
        assert isinstance(event, NeighbourDataReceived)
        payload = event.payload
        if self.expected >= 0:
            self.count += len(payload)
            if self.count >= self.expected:
                self.driver.send_to_neighbour(event.peer, b"D")
                self.expected, self.count = -1, 0
        elif payload[:1] == b"E":
            self.driver.send_to_neighbour(event.peer, payload)
        elif payload[:1] == b"X":
            self.expected = int.from_bytes(payload[1:9], "big")

    async def read(self, sub: Subscription) -> None:
        async for event in sub:
            self.on_event(event)


class Child:
    """A receiving process of one kind."""

    def __init__(self, kind: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        endpoint, node = self.process.stdout.readline().split()
        self.endpoint = endpoint
        self.port = int(endpoint.rsplit(":", 1)[1])
        self.node_id = NodeId.from_text(node) if node != "-" else None

    def cpu(self) -> float:
        """CPU seconds the child has used so far (user + system).

        From ``/proc/PID/schedstat`` (nanoseconds on a CPU) where the kernel has it, else
        from ``/proc/PID/stat`` in clock ticks (10 ms: too coarse for short rounds).
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
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


# -- the sending process: throughput ------------------------------------------------------


class LinkClient:
    """A sending node linked to the ``link`` child once, reused by every round."""

    def __init__(self, child: Child) -> None:
        assert child.node_id is not None
        self.peer = child.node_id
        self.child = child
        self.driver = NodeDriver(make_node("sender"), config=BENCH_RUNTIME)
        self.sub: Subscription | None = None

    async def start(self) -> None:
        await self.driver.start([])
        self.sub = self.driver.subscribe(kinds=[PeerConnected, NeighbourDataReceived])
        self.driver.connect(self.child.endpoint, expected_peer=self.peer)
        await asyncio.wait_for(self.sub.wait_for(PeerConnected), 30)

    async def bulk(self, total: int) -> None:
        driver, peer, sub = self.driver, self.peer, self.sub
        assert sub is not None
        chunk = os.urandom(PAYLOAD)
        driver.send_to_neighbour(peer, b"X" + total.to_bytes(8, "big"))
        for _ in range(total // PAYLOAD):
            await driver.send(peer, chunk)
        await asyncio.wait_for(sub.wait_for(NeighbourDataReceived), 120)

    async def rtt(self, rounds: int) -> list[float]:
        driver, peer, sub = self.driver, self.peer, self.sub
        assert sub is not None
        message = b"E" * SMALL
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            driver.send_to_neighbour(peer, message)
            await sub.get()
            samples.append(time.perf_counter() - start)
        return samples

    async def stop(self) -> None:
        await self.driver.stop()


# -- round trips ----------------------------------------------------------------------------


async def establishment(child: Child, rounds: int) -> list[float]:
    driver = NodeDriver(make_node("dialler"), config=BENCH_RUNTIME)
    await driver.start([])
    sub = driver.subscribe(kinds=[PeerConnected, PeerDisconnected])
    samples = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            endpoint = driver.connect(child.endpoint, expected_peer=child.node_id)
            await asyncio.wait_for(sub.wait_for(PeerConnected), 30)
            samples.append(time.perf_counter() - start)
            driver.disconnect(endpoint)
            await asyncio.wait_for(sub.wait_for(PeerDisconnected), 30)
    finally:
        await driver.stop()
    return samples


# -- both ends in this process (no cross-process wake-ups) ---------------------------------


async def in_process(quick: bool) -> dict[str, float]:
    """CPU per 64 B round trip with both ends on this process's loop, over loopback TCP.

    The sealed pair (client and echo server) and the link pair (two ``NodeDriver``s, a
    listener echoing) beside each other: what the Python of each costs without the
    kernel waking another process. The link's extra over the sealed pair, minus the node
    core's CPU, is what the driver and asyncio around the core cost. Best of 5.
    """
    n = 600 if quick else 3000
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SealedPeer(echo=True), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    echo = NodeDriver(make_node("receiver"), config=BENCH_RUNTIME)
    sender = NodeDriver(make_node("sender"), config=BENCH_RUNTIME)
    best = {"sealed": float("inf"), "link": float("inf")}
    try:
        await echo.start(["tcp:127.0.0.1:0"])
        echo.listen(LinkApp(echo).on_event, kinds=[NeighbourDataReceived])
        await sender.start([])
        sub = sender.subscribe(kinds=[PeerConnected, NeighbourDataReceived])
        peer = echo.node.node_id
        sender.connect(echo.listening[0], expected_peer=peer)
        await asyncio.wait_for(sub.wait_for(PeerConnected), 30)
        message = b"E" * SMALL

        async def link_rounds(count: int) -> None:
            for _ in range(count):
                sender.send_to_neighbour(peer, message)
                await sub.get()

        await rtt_sealed_protocol(port, n // 5)
        await link_rounds(n // 5)
        for _ in range(5):
            start = time.process_time()
            await rtt_sealed_protocol(port, n)
            best["sealed"] = min(best["sealed"], (time.process_time() - start) / n)
            start = time.process_time()
            await link_rounds(n)
            best["link"] = min(best["link"], (time.process_time() - start) / n)
    finally:
        await sender.stop()
        await echo.stop()
        server.close()
    return {
        "inproc_cpu_per_rtt_sealed_us": best["sealed"] * 1e6,
        "inproc_cpu_per_rtt_link_us": best["link"] * 1e6,
    }


# -- the node core alone (no IO) ------------------------------------------------------------


def core(quick: bool) -> dict[str, float]:
    """Two ``Node``s joined in this process, no sockets: CPU per neighbour round trip.

    Each round trip is what both processes' cores do for one echo: ``send_to_neighbour``,
    ``datagrams_to_send``, ``receive_datagram`` and the driver's per-input calls
    (``transport_commands``, ``next_event``, ``get_timer``), both ways. Best of 5.
    """
    a, b = make_node("core-a"), make_node("core-b")
    tid = TransportId(1)
    a.transport_opened(tid, 0.0, outbound=True, endpoint="mem:b", **STREAM)
    b.transport_opened(tid, 0.0, outbound=False, endpoint="mem:a", **STREAM)
    for _ in range(8):
        for t, frame in a.datagrams_to_send(0.0):
            b.receive_datagram(t, frame, 0.0)
        for t, frame in b.datagrams_to_send(0.0):
            a.receive_datagram(t, frame, 0.0)
    while a.next_event() is not None or b.next_event() is not None:
        pass
    clock = [1.0]

    def one_way(src: Node, dst: Node, payload: bytes) -> bytes:
        now = clock[0] = clock[0] + 1e-5
        src.send_to_neighbour(dst.node_id, payload, now)
        for t, frame in src.datagrams_to_send(now):
            dst.receive_datagram(t, frame, now)
        src.transport_commands()
        src.get_timer()
        event = dst.next_event()
        assert isinstance(event, NeighbourDataReceived)
        dst.next_event()
        dst.transport_commands()
        dst.get_timer()
        return event.payload

    figures = {}
    for size, name in ((SMALL, "core_us_per_rtt_64"), (PAYLOAD, "core_us_per_rtt_64k")):
        payload = os.urandom(size)
        n = (2000 if size == SMALL else 300) * (1 if quick else 5)
        best = float("inf")
        for _ in range(5):
            start = time.process_time()
            for _ in range(n):
                one_way(b, a, one_way(a, b, payload))
            best = min(best, (time.process_time() - start) / n)
        figures[name] = best * 1e6
    return figures


# -- memory (in a fresh process) -------------------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory(count: int, *, traced: bool) -> dict[str, float]:
    """A hub linked in memory to ``count`` spokes; both ends of each link are here.

    With ``traced``, ``tracemalloc`` counts the bytes the links hold (slow: use a small
    ``count``); without it, the process's RSS growth and peak are measured.
    """
    verifier = SignatureVerifier()
    entropy = SeededEntropy(7, "memory")

    def node(label: str) -> Node:
        return Node(
            identity=Identity.generate(entropy.fork(f"id:{label}"), created=1_700_000_000),
            entropy=entropy.fork(label),
            verifier=verifier,
            config=NodeConfig(link=BENCH_LINK),
        )

    hub = node("hub")
    spokes = [node(f"spoke-{i}") for i in range(count)]
    gc.collect()
    if traced:
        tracemalloc.start()
    before_traced, before_rss = tracemalloc.get_traced_memory()[0], rss_bytes()
    for i, spoke in enumerate(spokes):
        tid = TransportId(i + 1)
        hub.transport_opened(tid, 0.0, outbound=False, endpoint=f"mem:{i}", **STREAM)
        spoke.transport_opened(tid, 0.0, outbound=True, endpoint="mem:hub", **STREAM)
        for _ in range(8):
            out = spoke.datagrams_to_send(0.0)
            back = hub.datagrams_to_send(0.0)
            if not out and not back:
                break
            for t, frame in out:
                hub.receive_datagram(t, frame, 0.0)
            for _, frame in back:
                spoke.receive_datagram(tid, frame, 0.0)
        while spoke.next_event() is not None:
            pass
    while hub.next_event() is not None:
        pass
    gc.collect()
    links = len(hub.status(0.0).links.links)
    assert links == count, f"only {links} of {count} links came up"
    if traced:
        held = tracemalloc.get_traced_memory()[0] - before_traced
        tracemalloc.stop()
        return {"traced_bytes_per_link": held / count}
    return {
        "links": float(count),
        "rss_bytes_per_link": (rss_bytes() - before_rss) / count,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# -- the run ------------------------------------------------------------------------------------


class Meter:
    """Wall time and the CPU time of both processes around one measurement."""

    def __init__(self, child: Child) -> None:
        self.child = child

    def __enter__(self) -> Meter:
        self.wall, self.cpu, self.child_cpu = (
            time.perf_counter(),
            time.process_time(),
            self.child.cpu(),
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        self.child_cpu = self.child.cpu() - self.child_cpu

    @property
    def busiest(self) -> float:
        """CPU seconds of the busier side: the time if each side had a core to itself."""
        return max(self.cpu, self.child_cpu)

    @property
    def both(self) -> float:
        return self.cpu + self.child_cpu


RTT_BATCH = 50
"""Round trips per batch: short, so each batch of the link and the batch of (b) beside
it see the same moment of the machine (its load, its cores' sleep states)."""


def batch_ratios(link: list[list[float]], sealed: list[list[float]]) -> list[float]:
    """Per batch, the link's median over the median of (b)'s batch measured beside it."""
    return [
        statistics.median(mine) / statistics.median(theirs)
        for mine, theirs in zip(link, sealed, strict=True)
    ]


async def round_trips(
    clients: dict[str, SealedRtt | LinkClient],
    children: dict[str, Child],
    batches: int,
    order: int,
) -> tuple[dict[str, list[list[float]]], dict[str, list[float]]]:
    """``batches`` batches of ``RTT_BATCH`` round trips of every client, interleaved:
    batch i of each kind, in an order that rotates with ``order + i``, then batch i + 1.
    Returns each kind's samples per batch and its CPU (both processes) per round trip
    per batch."""
    kinds = list(clients)
    samples: dict[str, list[list[float]]] = {kind: [] for kind in kinds}
    cpu: dict[str, list[float]] = {kind: [] for kind in kinds}
    for i in range(batches):
        shift = (order + i) % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            with Meter(children[kind]) as meter:
                samples[kind].append(await clients[kind].rtt(RTT_BATCH))
            cpu[kind].append(meter.both / RTT_BATCH)
    return samples, cpu


async def measure(quick: bool) -> dict[str, float]:
    total = (32 if quick else 128) << 20
    rounds = 3 if quick else 5
    batches = 4 if quick else 12  # round-trip batches per round, per kind
    kinds = ("plain", "sealed", "link", "link-queue")
    links = ("link", "link-queue")
    wall: dict[str, list[float]] = {kind: [] for kind in kinds}
    busiest: dict[str, list[float]] = {kind: [] for kind in kinds}
    sides: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
    rtt: dict[str, list[list[float]]] = {kind: [] for kind in ("sealed", *links)}
    rtt_cpu: dict[str, list[float]] = {kind: [] for kind in ("sealed", *links)}
    children = {kind: Child(kind) for kind in ("plain", "sealed", "sealed-echo", *links)}
    clients = {kind: LinkClient(children[kind]) for kind in links}
    sealed_rtt = SealedRtt(children["sealed-echo"].port)
    rtt_clients: dict[str, SealedRtt | LinkClient] = {"sealed": sealed_rtt, **clients}
    rtt_children = {"sealed": children["sealed-echo"], **{kind: children[kind] for kind in links}}
    try:
        for client in clients.values():
            await client.start()
        await sealed_rtt.start()
        await round_trips(rtt_clients, rtt_children, 1, 0)  # warm-up, not counted
        for r in range(rounds):  # interleaved, so a noisy moment hurts every case alike
            for kind in kinds:
                with Meter(children[kind]) as meter:
                    if kind == "plain":
                        await bulk_plain(children[kind].port, total)
                    elif kind == "sealed":
                        await bulk_sealed(children[kind].port, total)
                    else:
                        await clients[kind].bulk(total)
                frames = total / PAYLOAD
                wall[kind].append(total / meter.wall / 1e6)
                busiest[kind].append(total / meter.busiest / 1e6)
                sides[kind].append((meter.cpu / frames * 1e6, meter.child_cpu / frames * 1e6))
            samples, cpu = await round_trips(rtt_clients, rtt_children, batches, r)
            for kind, kept in rtt.items():
                kept.extend(samples[kind])
                rtt_cpu[kind].extend(cpu[kind])
        await sealed_rtt.stop()
        for client in clients.values():
            await client.stop()
        n_setup = 30 if quick else 200
        with Meter(children["link"]) as setup_meter:
            setup = await establishment(children["link"], n_setup)
    finally:
        await sealed_rtt.stop()
        for client in clients.values():
            await client.stop()
        for child in children.values():
            child.close()
    best = {kind: max(values) for kind, values in wall.items()}
    best_cpu = {kind: max(values) for kind, values in busiest.items()}
    per_frame = {kind: min(values, key=max) for kind, values in sides.items()}
    median_us = {
        kind: statistics.median([s for batch in kept for s in batch]) * 1e6
        for kind, kept in rtt.items()
    }
    cpu_us = {kind: statistics.median(values) * 1e6 for kind, values in rtt_cpu.items()}
    ratio = {kind: statistics.median(batch_ratios(rtt[kind], rtt["sealed"])) for kind in links}
    cpu_ratio = {
        kind: statistics.median(
            [mine / theirs for mine, theirs in zip(rtt_cpu[kind], rtt_cpu["sealed"], strict=True)]
        )
        for kind in links
    }
    return {
        "throughput_link_queue_mbps": best["link-queue"],
        "throughput_link_queue_vs_sealed": best["link-queue"] / best["sealed"],
        "cpu_throughput_link_queue_mbps": best_cpu["link-queue"],
        "cpu_throughput_link_queue_vs_sealed": best_cpu["link-queue"] / best_cpu["sealed"],
        "cpu_us_per_frame_sender_link_queue": per_frame["link-queue"][0],
        "cpu_us_per_frame_receiver_link_queue": per_frame["link-queue"][1],
        "rtt_link_queue_us": median_us["link-queue"],
        "rtt_link_queue_vs_sealed": ratio["link-queue"],
        "cpu_per_rtt_link_queue_us": cpu_us["link-queue"],
        "cpu_per_rtt_link_queue_vs_sealed": cpu_ratio["link-queue"],
        "throughput_plain_mbps": best["plain"],
        "throughput_sealed_mbps": best["sealed"],
        "throughput_link_mbps": best["link"],
        "throughput_link_vs_sealed": best["link"] / best["sealed"],
        "throughput_link_vs_plain": best["link"] / best["plain"],
        "cpu_throughput_plain_mbps": best_cpu["plain"],
        "cpu_throughput_sealed_mbps": best_cpu["sealed"],
        "cpu_throughput_link_mbps": best_cpu["link"],
        "cpu_throughput_link_vs_sealed": best_cpu["link"] / best_cpu["sealed"],
        "cpu_us_per_frame_sender_sealed": per_frame["sealed"][0],
        "cpu_us_per_frame_receiver_sealed": per_frame["sealed"][1],
        "cpu_us_per_frame_sender_link": per_frame["link"][0],
        "cpu_us_per_frame_receiver_link": per_frame["link"][1],
        "rtt_sealed_us": median_us["sealed"],
        "rtt_link_us": median_us["link"],
        "rtt_link_vs_sealed": ratio["link"],
        "rtt_link_vs_sealed_of_medians": median_us["link"] / median_us["sealed"],
        "rtt_batches": float(len(rtt["sealed"])),
        "rtt_link_vs_sealed_batch_min": min(batch_ratios(rtt["link"], rtt["sealed"])),
        "rtt_link_vs_sealed_batch_max": max(batch_ratios(rtt["link"], rtt["sealed"])),
        "cpu_per_rtt_sealed_us": cpu_us["sealed"],
        "cpu_per_rtt_link_us": cpu_us["link"],
        "cpu_per_rtt_link_vs_sealed": cpu_ratio["link"],
        "handshake_ms_median": statistics.median(setup) * 1e3,
        "handshake_ms_p90": statistics.quantiles(setup, n=10)[-1] * 1e3,
        "cpu_per_link_setup_ms": setup_meter.both / n_setup * 1e3,
        "load_average": os.getloadavg()[0],
    }


def memory_in_child(count: int, *, traced: bool = False) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory", str(count), *(["--traced"] if traced else [])],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def report(figures: dict[str, float]) -> None:
    rows = [
        (
            "bulk 64 KiB, MB/s",
            "plain TCP (a)",
            "throughput_plain_mbps",
            "cpu_throughput_plain_mbps",
        ),
        (
            "",
            "sealed ChaCha20-Poly1305 (b)",
            "throughput_sealed_mbps",
            "cpu_throughput_sealed_mbps",
        ),
        ("", "link (NodeDriver, listener)", "throughput_link_mbps", "cpu_throughput_link_mbps"),
        (
            "",
            "link / (b)  [goal >= 0.60]",
            "throughput_link_vs_sealed",
            "cpu_throughput_link_vs_sealed",
        ),
        (
            "",
            "link, queue (subscription)",
            "throughput_link_queue_mbps",
            "cpu_throughput_link_queue_mbps",
        ),
        (
            "",
            "link, queue / (b)",
            "throughput_link_queue_vs_sealed",
            "cpu_throughput_link_queue_vs_sealed",
        ),
        ("CPU us per 64 KiB", "sealed (b): sender", "", "cpu_us_per_frame_sender_sealed"),
        ("", "sealed (b): receiver", "", "cpu_us_per_frame_receiver_sealed"),
        ("", "link: sender", "", "cpu_us_per_frame_sender_link"),
        ("", "link: receiver", "", "cpu_us_per_frame_receiver_link"),
        ("", "link, queue: sender", "", "cpu_us_per_frame_sender_link_queue"),
        ("", "link, queue: receiver", "", "cpu_us_per_frame_receiver_link_queue"),
        ("round trip 64 B, us", "sealed pair (b)", "rtt_sealed_us", "cpu_per_rtt_sealed_us"),
        ("", "link (listener)", "rtt_link_us", "cpu_per_rtt_link_us"),
        ("", "link / (b)  [goal <= 1.5]", "rtt_link_vs_sealed", "cpu_per_rtt_link_vs_sealed"),
        ("", "link / (b): lowest batch", "rtt_link_vs_sealed_batch_min", ""),
        ("", "link / (b): highest batch", "rtt_link_vs_sealed_batch_max", ""),
        ("", "link / (b): of the medians", "rtt_link_vs_sealed_of_medians", ""),
        ("", "link, queue (subscription)", "rtt_link_queue_us", "cpu_per_rtt_link_queue_us"),
        (
            "",
            "link, queue / (b)",
            "rtt_link_queue_vs_sealed",
            "cpu_per_rtt_link_queue_vs_sealed",
        ),
        ("node core, no IO", "CPU us per 64 B round trip", "", "core_us_per_rtt_64"),
        ("", "CPU us per 64 KiB round trip", "", "core_us_per_rtt_64k"),
        (
            "one process, 64 B",
            "sealed pair, CPU us per rtt",
            "",
            "inproc_cpu_per_rtt_sealed_us",
        ),
        ("", "link pair, CPU us per rtt", "", "inproc_cpu_per_rtt_link_us"),
        ("", "link - sealed - node core", "", "inproc_driver_us_per_rtt"),
        ("link setup, ms", "median  [goal <= 5]", "handshake_ms_median", "cpu_per_link_setup_ms"),
        ("", "90th percentile", "handshake_ms_p90", ""),
        ("memory, idle links", "bytes per link (traced)", "traced_bytes_per_link", ""),
        ("", "bytes per link (RSS)", "rss_bytes_per_link", ""),
        ("", f"peak RSS, {int(figures['links'])} links (MB)", "peak_rss_mb", ""),
    ]
    print(f"{'':<22} {'':<32} {'wall':>10} {'cpu':>10}")
    for group, name, by_wall, by_cpu in rows:
        wall = f"{figures[by_wall]:>10.2f}" if by_wall else " " * 10
        cpu = f"{figures[by_cpu]:>10.2f}" if by_cpu else ""
        print(f"{group:<22} {name:<32} {wall} {cpu}")
    print(
        "wall: measured (bulk: best round; round trip: median of all, ratio: median of the "
        f"{int(figures['rtt_batches'])} batch ratios); cpu: throughput per CPU second of the "
        "busier process, CPU us of each process per 64 KiB frame, CPU us/ms of both "
        "processes per round trip (median of batches) / setup "
        f"(load average {figures['load_average']:.1f} on {os.cpu_count()} cores)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short rounds (< 1 minute)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--memory", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    if args.memory:
        print(json.dumps(memory(args.memory, traced=args.traced)))
        return
    figures = asyncio.run(measure(args.quick))
    figures.update(core(args.quick))
    figures.update(asyncio.run(in_process(args.quick)))
    figures["inproc_driver_us_per_rtt"] = (
        figures["inproc_cpu_per_rtt_link_us"]
        - figures["inproc_cpu_per_rtt_sealed_us"]
        - figures["core_us_per_rtt_64"]
    )
    figures.update(memory_in_child(1000))
    figures.update(memory_in_child(50 if args.quick else 200, traced=True))
    figures.update({f"goal_{name}": value for name, value in GOALS.items()})
    report(figures)
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in figures.items()}, sort_keys=True))


if __name__ == "__main__":
    main()
