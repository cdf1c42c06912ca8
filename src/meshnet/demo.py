"""``make demo``: a local mesh of real node processes, and the shell on one of them.

The demo starts ``--nodes`` (default 5) ``meshnet up`` processes on loopback, each with
a fresh identity in a temporary state directory, linked in a line (node i dials node
i-1, naming the identity it must prove), so traffic between the ends crosses every
node in between. Once the far end's announcement has reached the first node, the far
end sends it a message (relayed end to end), and the demo opens ``meshnet shell`` on
the first node with a short printed tour.

At a terminal the shell is interactive; Ctrl-C abandons a line, ``exit`` or Ctrl-D
ends the demo. Without a terminal (CI, a pipe) the tour runs by itself. Either way
every process the demo started is stopped on the way out, also after an error or a
Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from meshnet.api.client import MeshClient
from meshnet.crypto.entropy import SystemEntropy
from meshnet.crypto.identity import Identity
from meshnet.errors import MeshnetError
from meshnet.runtime.home import Home
from meshnet.runtime.keyfile import save_identity

__all__ = ["NodeProcess", "main", "poll", "start_node", "stopping", "tour_lines", "wait_for"]

NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
STEP_TIMEOUT = 30.0
"""Seconds any one startup step may take before the demo gives up (and cleans up)."""

T = TypeVar("T")


@dataclass
class NodeProcess:
    """A ``meshnet up`` process the demo (or a test) started, and its JSON event lines."""

    name: str
    home: Path
    process: subprocess.Popen[str]
    node_id: str = ""
    endpoint: str = ""
    lines: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)
    reader: threading.Thread | None = None

    def client(self) -> MeshClient:
        return MeshClient(Home(self.home).api_socket, timeout=10.0)


def _reader(proc: NodeProcess, stream: IO[str]) -> None:
    for raw in stream:
        line = raw.strip()
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                proc.lines.put(json.loads(line))


def start_node(name: str, home: Path, connect: Sequence[str] = ()) -> NodeProcess:
    """Start ``meshnet up`` on a loopback port with state in ``home``, dialling ``connect``."""
    args = [sys.executable, "-m", "meshnet", "up", "--json", "--home", str(home)]
    args += ["--listen", "tcp:127.0.0.1:0", "--no-discovery"]
    for peer in connect:
        args += ["--connect", peer]
    process = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the terminal's Ctrl-C is for the shell, not the nodes
    )
    proc = NodeProcess(name, home, process)
    assert process.stdout is not None
    proc.reader = threading.Thread(target=_reader, args=(proc, process.stdout), daemon=True)
    proc.reader.start()
    return proc


def wait_for(proc: NodeProcess, kind: str, timeout: float = STEP_TIMEOUT) -> dict[str, Any]:
    """The next event line of ``kind`` from ``proc`` (TimeoutError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = proc.lines.get(timeout=left)
        except queue.Empty:
            break
        if event.get("event") == kind:
            return event
    raise TimeoutError(f"{proc.name} did not report {kind} within {timeout:.0f}s")


def poll(what: str, probe: Callable[[], T | None], timeout: float = STEP_TIMEOUT) -> T:
    """``probe()`` every 0.2 s until it gives a value; bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            value = probe()
            if value is not None:
                return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f}s")
        time.sleep(0.2)


@contextlib.contextmanager
def stopping(procs: list[NodeProcess]) -> Iterator[None]:
    """On the way out, stop every process in ``procs`` (SIGTERM, then SIGKILL after 10 s)."""
    try:
        yield
    finally:
        for proc in procs:
            if proc.process.poll() is None:
                proc.process.terminate()
        for proc in procs:
            try:
                proc.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.process.kill()
                proc.process.wait()
            if proc.reader is not None:
                proc.reader.join(timeout=5)  # it ends at the pipe's end of file
            if proc.process.stdout is not None:
                proc.process.stdout.close()


def _prepare(names: Sequence[str], root: Path) -> dict[str, str]:
    """A state directory per node: a fresh identity, and a config naming every node.

    Returns the node ids by name. With the petnames in every config, the shell and the
    commands accept ``erin`` wherever a node is named.
    """
    ids = {}
    for name in names:
        identity = Identity.generate(SystemEntropy(), created=int(time.time()))
        Home(root / name).create()
        save_identity(Home(root / name).identity_key, identity)
        ids[name] = str(identity.node_id)
    for name in names:
        petnames = "".join(f'{other} = "{ids[other]}"\n' for other in names if other != name)
        text = f'[node]\nname = "{name}"\n\n[peers.petnames]\n{petnames}'
        Home(root / name).config.write_text(text)
    return ids


def _start_line(names: Sequence[str], root: Path, procs: list[NodeProcess]) -> None:
    ids = _prepare(names, root)
    for i, name in enumerate(names):
        connect = [f"{procs[-1].name}@{procs[-1].endpoint}"] if procs else []
        proc = start_node(name, root / name, connect)
        procs.append(proc)
        started = wait_for(proc, "Started")
        proc.node_id = started["node_id"]
        if proc.node_id != ids[name]:
            raise RuntimeError(f"{name} started with another identity than the one made for it")
        proc.endpoint = started["listening"][0]
        print(f"  {name:6} {proc.node_id[:16]}...  listening on {proc.endpoint}")
        if i:
            wait_for(proc, "PeerConnected")
            print(f"         linked to {procs[-2].name} (hybrid X25519 + ML-KEM-768 handshake)")


def _reachable(client: MeshClient) -> set[str]:
    """The nodes ``client``'s node has a path to."""
    routes = client.routes()["routes"]
    return {str(route["destination"]) for route in routes if route.get("path")}


def _messages(proc: NodeProcess) -> Any:
    """``proc``'s client, for the message calls (send_message, inbox)."""
    return proc.client()


def _settle(procs: list[NodeProcess]) -> None:
    """Wait until the first node knows every node, then the far end writes to it."""
    first, far = procs[0], procs[-1]
    others = {p.node_id for p in procs[1:]}
    poll(
        "the first node to find a path to every node",
        lambda: others <= _reachable(first.client()) or None,
    )
    text = f"hello {first.name}, this is {far.name}, {len(procs) - 1} hops away"
    _messages(far).send_message(first.node_id, text)

    def arrived() -> bool | None:
        messages = _messages(first).inbox(peer=far.node_id)["messages"]
        return any(m.get("text") == text for m in messages) or None

    poll(f"{far.name}'s message to reach {first.name}", arrived)
    print(f"\n{far.name} sent {first.name} a message through {len(procs) - 2} relays: {text!r}")


def tour_lines(far: str) -> list[tuple[str, str]]:
    """The tour: (shell command, what it shows)."""
    return [
        ("peers", "your neighbours: only the next node, the mesh is a line"),
        ("routes", "link quality (RTT, loss) and the source routes in use"),
        (f"trace {far}", "the relays on the way to the far end, hop by hop"),
        (f"chat {far}", "the conversation with the far end (its message is there)"),
        ('send "hello"', "answer it: relayed end to end, stored until acknowledged"),
        ("status", "a summary of the node"),
    ]


def _print_tour(first: NodeProcess, far: NodeProcess, interactive: bool) -> list[str]:
    lines = tour_lines(far.name)
    print(f"\nOpening the shell on {first.name}. A short tour:")
    for command, meaning in lines:
        print(f"  meshnet> {command:22} {meaning}")
    if interactive:
        print("Also: routes --watch (live), help, exit. Tab completes commands and names.\n")
    return [command for command, _ in lines]


def _shell(first: NodeProcess, script: list[str] | None) -> int:
    args = [sys.executable, "-m", "meshnet", "shell", "--home", str(first.home)]
    if script is None:
        previous = signal.signal(signal.SIGINT, lambda *_: None)  # Ctrl-C is the shell's
        try:
            return subprocess.call(args)
        finally:
            signal.signal(signal.SIGINT, previous)
    done = subprocess.run(args, input="\n".join(script) + "\n", text=True, check=False)
    return done.returncode


def _check_reply(first: NodeProcess, far: NodeProcess) -> None:
    """After the tour: the "hello" sent from the shell reached the far end."""

    def arrived() -> bool | None:
        messages = _messages(far).inbox(peer=first.node_id)["messages"]
        return any(m.get("text") == "hello" for m in messages) or None

    poll(f"the tour's message to reach {far.name}", arrived)
    print(f'\n{far.name} received {first.name}\'s "hello", relayed end to end.')


def _wait_for_api(proc: NodeProcess) -> None:
    """Until ``proc``'s local API socket exists (``meshnet up`` makes it once it listens)."""
    socket = Home(proc.home).api_socket
    poll(f"{proc.name}'s API socket", lambda: socket.exists() or None, timeout=30)


def run(nodes: int, *, interactive: bool) -> int:
    names = [NAMES[i] if i < len(NAMES) else f"node{i}" for i in range(nodes)]
    procs: list[NodeProcess] = []
    with tempfile.TemporaryDirectory(prefix="meshnet-demo-") as tmp, stopping(procs):
        print(f"MeshNet demo: {nodes} node processes on loopback, linked in a line.\n")
        try:
            _start_line(names, Path(tmp), procs)
            _wait_for_api(procs[0])
            _settle(procs)
            first, far = procs[0], procs[-1]
            script = _print_tour(first, far, interactive)
            status = _shell(first, None if interactive else script)
            if not interactive:
                _check_reply(first, far)
        except KeyboardInterrupt:
            print()
            status = 130
        except (TimeoutError, RuntimeError, MeshnetError, OSError) as exc:
            print(f"demo: {exc}", file=sys.stderr)
            status = 1
        print("stopping every node...")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meshnet.demo", description=__doc__)
    parser.add_argument("--nodes", type=int, default=5, help="how many node processes (3-10)")
    parser.add_argument(
        "--tour", action="store_true", help="run the tour by itself even at a terminal"
    )
    args = parser.parse_args(argv)
    if not 3 <= args.nodes <= len(NAMES):
        parser.error(f"--nodes must be between 3 and {len(NAMES)}")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not args.tour
    return run(args.nodes, interactive=interactive)


if __name__ == "__main__":
    raise SystemExit(main())
