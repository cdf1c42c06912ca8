"""kill -9 on real processes: the sender right after ``send`` returned, the receiver
mid-delivery, the relay mid-transfer. Each message is delivered exactly once, intact.

Three ``msgnode.py`` processes on loopback TCP: sender and receiver both link only to
the relay, so every message crosses it. Every node keeps its SQLite database across
the kill and the restart.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("msgnode.py")
BOUND = 90.0
"""The most one scenario may take (every wait below is bounded by its deadline)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Proc:
    """One node process; its JSON lines are read by a thread into a queue."""

    def __init__(self, db: Path, seed: int, listen: list[str]) -> None:
        command = [sys.executable, str(SCRIPT), "--db", str(db), "--seed", str(seed)]
        for endpoint in listen:
            command += ["--listen", endpoint]
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"}
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.reader_done = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        self.started = self.wait_for("started", deadline=time.monotonic() + 30.0)
        self.node_id: str = self.started["node_id"]

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        with stdout:
            for line in stdout:
                if not line.endswith("\n"):
                    break  # the last line, cut short by kill -9: nothing was promised in it
                self.lines.put(json.loads(line))
        self.reader_done.set()

    def command(self, **fields: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(fields) + "\n")
        self.process.stdin.flush()

    def next(self, deadline: float) -> dict[str, Any]:
        left = deadline - time.monotonic()
        assert left > 0, "the node process did not answer in time"
        return self.lines.get(timeout=left)

    def wait_for(self, event: str, deadline: float) -> dict[str, Any]:
        while True:
            line = self.next(deadline)
            if line.get("event") == event:
                return line

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no cleanup of any kind
        self.process.wait(timeout=10)
        self._close()

    def _close(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        self.reader_done.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.command(cmd="stop")
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._close()


class World:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.relay_endpoint = f"tcp:127.0.0.1:{free_port()}"
        self.procs: dict[str, Proc] = {}
        self.dead: list[Proc] = []
        self.received: list[dict[str, Any]] = []  # every MessageReceived, all incarnations
        self.sent: dict[str, str] = {}

    def start(self, name: str) -> Proc:
        seed = {"sender": 1, "relay": 2, "receiver": 3}[name]
        listen = [self.relay_endpoint] if name == "relay" else []
        if name in self.procs:
            self.dead.append(self.procs[name])
        proc = Proc(self.tmp / f"{name}.db", seed, listen)
        if name != "relay":
            proc.command(cmd="connect", endpoint=self.relay_endpoint)
        self.procs[name] = proc
        return proc

    def drain(self, name: str) -> None:
        """Take every line a process has printed so far into the world's records."""
        proc = self.procs[name]
        while True:
            try:
                line = proc.lines.get_nowait()
            except queue.Empty:
                return
            self.note(line)

    def note(self, line: dict[str, Any]) -> None:
        if line.get("event") == "received":
            self.received.append(line)
        elif line.get("event") == "sent":
            self.sent[line["id"]] = line["text"]

    def wait(self, name: str, event: str, count: int, deadline: float) -> None:
        """Until ``count`` lines of ``event`` were seen from ``name`` (in this world)."""
        records = self.received if event == "received" else None
        while True:
            seen = len(records) if records is not None else len(self.sent)
            if seen >= count:
                return
            self.note(self.procs[name].next(deadline))

    def inbox_until(self, wanted: set[str], deadline: float) -> dict[str, str]:
        """The receiver's stored inbox (id -> text), once it holds every id in ``wanted``."""
        proc = self.procs["receiver"]
        while True:
            proc.command(cmd="inbox")
            while (line := proc.next(deadline)).get("event") != "inbox":
                self.note(line)
            inbox = {i: text for i, text in line["messages"]}
            if wanted <= inbox.keys():
                return inbox
            wait = min(0.5, max(0.01, deadline - time.monotonic()))
            with contextlib.suppress(queue.Empty):  # the next delivery, or half a second
                self.note(proc.lines.get(timeout=wait))

    def close(self) -> None:
        for proc in self.dead + list(self.procs.values()):
            if proc.process.poll() is None:
                proc.kill()
            else:
                proc._close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "victims",
    [
        ("sender",),
        ("receiver",),
        ("relay",),
        ("relay", "receiver"),
        ("receiver", "sender", "relay"),
    ],
    ids="-".join,
)
def test_kill_9_loses_and_duplicates_nothing(tmp_path: Path, victims: tuple[str, ...]) -> None:
    world = World(tmp_path)
    deadline = time.monotonic() + BOUND
    try:
        world.start("relay")
        sender, receiver = world.start("sender"), world.start("receiver")
        total = 30
        sender.command(cmd="send", peer=receiver.node_id, count=total, prefix="m", size=20_000)
        if victims[0] == "sender":
            world.wait("sender", "sent", 10, deadline)  # send returned for these ten
        else:
            world.wait("sender", "sent", total, deadline)
        for victim in victims:
            if victim != "sender" or victims[0] != "sender":
                # kill mid-delivery: a few more messages have arrived since the last kill
                world.wait("receiver", "received", len(world.received) + 3, deadline)
            world.procs[victim].kill()
            world.drain(victim)
            world.start(victim)
        promised = dict(world.sent)  # every message whose send returned
        assert len(promised) >= 10
        inbox = world.inbox_until(set(promised), deadline)
        ids = [line["id"] for line in world.received]
        assert len(ids) == len(set(ids)), "a message reached the application twice"
        assert len(inbox) == len(set(inbox))
        # an event may die with a killed receiver, never the stored message
        assert {line["id"]: line["text"] for line in world.received}.items() <= inbox.items()
        assert all(promised[i] == text for i, text in inbox.items() if i in promised)  # intact
        order = [int(text.split()[1].rstrip(":x")) for text in inbox.values()]
        assert order == sorted(order)
    finally:
        for proc in world.procs.values():
            proc.stop()
        world.close()
