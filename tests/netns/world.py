"""The netns tests' world: namespaces joined by veth, and node processes inside them.

``World`` creates namespaces ``mn<tag>a``/``mn<tag>b`` joined by a veth pair, with
addresses in ``10.201.<n>.0/24`` assigned inside them and no route anywhere else, and
removes them again. ``Ring`` makes ``size`` namespaces ``mnr<tag>n<i>`` in a ring, node
``i`` joined to node ``i+1`` by a veth pair on ``10.202.<i>.0/24`` (``.1`` on ``i``'s
side, ``.2`` on ``i+1``'s): a node can reach only its two neighbours. ``NodeProcess``
runs ``node_proc.py`` in a namespace and reads its JSON events. ``require_netns`` skips
without root, except under CI (``CI`` set), where a skip would hide a broken setup: it
fails instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

NODE = Path(__file__).with_name("node_proc.py")
WAIT = 30.0
PORT = 4100


def require_netns() -> None:
    reason = None
    if not sys.platform.startswith("linux"):
        reason = "network namespaces exist only on Linux"
    elif os.geteuid() != 0:
        reason = "needs root to create network namespaces (run as root, as CI does)"
    elif shutil.which("ip") is None:
        reason = "needs iproute2's `ip` command (make system-deps installs it)"
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"netns tests cannot run: {reason}; CI is set, so this is a failure")
    pytest.skip(reason)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class World:
    """Two namespaces joined by a veth pair, on 10.201.<subnet>.0/24."""

    tag: str
    subnet: int
    ns_a: str = field(init=False)
    ns_b: str = field(init=False)
    if_a: str = field(init=False)
    if_b: str = field(init=False)

    def __post_init__(self) -> None:
        self.ns_a, self.ns_b = f"mn{self.tag}a", f"mn{self.tag}b"
        self.if_a, self.if_b = f"mnv{self.tag}a", f"mnv{self.tag}b"

    def address(self, host: int) -> str:
        return f"10.201.{self.subnet}.{host}"

    def build(self) -> None:
        ip("netns", "add", self.ns_a)
        ip("netns", "add", self.ns_b)
        ip("link", "add", self.if_a, "type", "veth", "peer", "name", self.if_b)
        ip("link", "set", self.if_a, "netns", self.ns_a)
        ip("link", "set", self.if_b, "netns", self.ns_b)
        for ns, dev, host in ((self.ns_a, self.if_a, 2), (self.ns_b, self.if_b, 1)):
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "addr", "add", f"{self.address(host)}/24", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
        # Deleting a primary address must promote the new one, not take it along.
        for key in ("all", self.if_a):
            subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    self.ns_a,
                    "sysctl",
                    "-qw",
                    f"net.ipv4.conf.{key}.promote_secondaries=1",
                ],
                check=True,
                capture_output=True,
                timeout=10,
            )

    def move_a(self, old: int, new: int) -> None:
        """Change a's address: add the new one, then remove the old one."""
        ip("-n", self.ns_a, "addr", "add", f"{self.address(new)}/24", "dev", self.if_a)
        ip("-n", self.ns_a, "addr", "del", f"{self.address(old)}/24", "dev", self.if_a)

    def destroy(self) -> None:
        for ns in (self.ns_a, self.ns_b):  # removing a namespace removes its veth end
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=10)


@dataclass
class Ring:
    """``size`` namespaces in a ring; link ``i`` joins node ``i`` and node ``i + 1``."""

    tag: str
    size: int = 5
    nodes: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.nodes = [f"mnr{self.tag}n{i}" for i in range(self.size)]

    @staticmethod
    def address(link: int, side: int) -> str:
        """The address on link ``link`` of its node ``link`` (side 1) or ``link + 1`` (2)."""
        return f"10.202.{link}.{side}"

    def build(self) -> None:
        for ns in self.nodes:
            ip("netns", "add", ns)
            ip("-n", ns, "link", "set", "lo", "up")
        for i in range(self.size):
            j = (i + 1) % self.size
            near, far = f"mrv{self.tag}l{i}a", f"mrv{self.tag}l{i}b"
            ip("link", "add", near, "type", "veth", "peer", "name", far)
            for dev, ns, side in ((near, self.nodes[i], 1), (far, self.nodes[j], 2)):
                ip("link", "set", dev, "netns", ns)
                ip("-n", ns, "addr", "add", f"{self.address(i, side)}/24", "dev", dev)
                ip("-n", ns, "link", "set", dev, "up")

    def destroy(self) -> None:
        for ns in self.nodes:  # removing a namespace removes its veth ends
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=10)


class NodeProcess:
    """One ``node_proc.py`` inside a namespace; its JSON events are kept in order."""

    def __init__(self, process: asyncio.subprocess.Process, name: str) -> None:
        self.process = process
        self.name = name
        self.events: list[dict[str, Any]] = []
        self.node_id = ""
        self._read = 0

    @classmethod
    async def start(cls, ns: str, name: str, *args: str) -> NodeProcess:
        process = await asyncio.create_subprocess_exec(
            "ip",
            "netns",
            "exec",
            ns,
            sys.executable,
            str(NODE),
            "--seed",
            "1",
            "--label",
            name,
            "--lifetime",
            "100",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        node = cls(process, name)
        started = await node.expect(lambda e: e["event"] == "started")
        node.node_id = started["node_id"]
        return node

    def command(self, **fields: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(fields) + "\n").encode())

    async def expect(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The next event (from where the last expect stopped) matching ``predicate``."""

        async def scan() -> dict[str, Any]:
            assert self.process.stdout is not None
            while True:
                while self._read < len(self.events):
                    event = self.events[self._read]
                    self._read += 1
                    if predicate(event):
                        return event
                line = await self.process.stdout.readline()
                if not line:
                    raise AssertionError(f"{self.name} exited: {await self._stderr()}")
                self.events.append(json.loads(line))

        try:
            return await asyncio.wait_for(scan(), WAIT)
        except TimeoutError:
            raise AssertionError(f"{self.name}: no such event; saw {self.events[-8:]}") from None

    async def _stderr(self) -> str:
        assert self.process.stderr is not None
        return (await self.process.stderr.read()).decode()[-2000:]

    def seen(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]

    async def kill(self) -> None:
        """SIGKILL the node (``ip netns exec`` execs, so this is the node's own pid)."""
        self.process.kill()
        await self.process.wait()

    async def close(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ConnectionError):
                self.command(cmd="stop")
                assert self.process.stdin is not None
                self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
