"""LAN discovery between real ``meshnet up`` processes: three hosts on one bridge.

Four namespaces: a "switch" holding a Linux bridge, and three nodes, each joined to the
bridge by a veth pair, on ``10.201.200.1-3/24`` with a multicast route on that veth and
no route anywhere else. Each node runs ``python -m meshnet up --json`` listening on
``tcp:0.0.0.0:4100`` with no peer configured; the test reads their JSON event lines
until every node reports ``PeerConnected`` for both others (the links came from the
beacons alone). Then two of the nodes that found each other this way exchange a message
end to end: three ``node_proc.py --discovery`` processes (the same ``Discovery`` as
``meshnet up``, plus a command channel) link up, node 1 sends node 3 a message over
the messaging service, node 3 receives it from node 1's proven id, node 1 gets the
delivered receipt and, once node 3 marks it read, the read receipt. Every wait is
bounded; processes and namespaces go in ``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.netns.world import PORT, NodeProcess, ip, require_netns
from tests.runtime.support import run

from meshnet.crypto.identity import NodeId

pytestmark = pytest.mark.netns

WAIT = 40.0
NODES = 3


@dataclass
class Lan:
    """A bridge in its own namespace and ``NODES`` node namespaces plugged into it."""

    tag: str
    switch: str = field(init=False)
    nodes: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.switch = f"mnd{self.tag}s"
        self.nodes = [f"mnd{self.tag}n{i}" for i in range(1, NODES + 1)]

    def build(self) -> None:
        ip("netns", "add", self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        ip("-n", self.switch, "link", "set", "br0", "up")
        for i, ns in enumerate(self.nodes, start=1):
            near, far = f"mdv{self.tag}n{i}", f"mdv{self.tag}s{i}"
            ip("netns", "add", ns)
            ip("link", "add", near, "type", "veth", "peer", "name", far)
            ip("link", "set", near, "netns", ns)
            ip("link", "set", far, "netns", self.switch)
            ip("-n", self.switch, "link", "set", far, "master", "br0")
            ip("-n", self.switch, "link", "set", far, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "addr", "add", f"10.201.200.{i}/24", "dev", near)
            ip("-n", ns, "link", "set", near, "up")
            ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", near)

    def destroy(self) -> None:
        for ns in [*self.nodes, self.switch]:  # a namespace takes its veth ends along
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=10)


@pytest.fixture
def lan() -> Iterator[Lan]:
    require_netns()
    built = Lan(tag=f"{os.getpid() % 100000}")
    try:
        built.build()
        yield built
    finally:
        built.destroy()


class Daemon:
    """``meshnet up --json`` in a namespace; its JSON lines are kept in order."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, ns: str, home: Path, listen: str, *extra: str) -> Daemon:
        process = await asyncio.create_subprocess_exec(
            "ip",
            "netns",
            "exec",
            ns,
            sys.executable,
            "-m",
            "meshnet",
            "up",
            "--json",
            "--home",
            str(home),
            "--listen",
            listen,
            *extra,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def read_until(self, done: Any) -> None:
        """Read event lines until ``done(self)`` holds (bounded by WAIT)."""

        async def scan() -> None:
            assert self.process.stdout is not None
            while not done(self):
                line = await self.process.stdout.readline()
                if not line:
                    assert self.process.stderr is not None
                    err = (await self.process.stderr.read()).decode()[-2000:]
                    raise AssertionError(f"meshnet up exited: {err}")
                if line.startswith(b"{"):
                    self.events.append(json.loads(line))

        try:
            await asyncio.wait_for(scan(), WAIT)
        except TimeoutError:
            raise AssertionError(f"timed out; saw {self.events[-8:]}") from None

    def seen(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]

    @property
    def node_id(self) -> str:
        return str(self.seen("Started")[0]["node_id"])

    def peers(self) -> set[str]:
        return {str(e["peer"]) for e in self.seen("PeerConnected")}

    async def close(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def discover(lan: Lan, tmp: Path, listen: str) -> None:
    daemons: list[Daemon] = []
    try:
        for i, ns in enumerate(lan.nodes):
            daemons.append(await Daemon.start(ns, tmp / f"node{i}", listen))
        for daemon in daemons:
            await daemon.read_until(lambda d: bool(d.seen("Started")))
            assert daemon.seen("Started")[0]["discovery"] is True
        ids = {d.node_id for d in daemons}
        assert len(ids) == NODES
        for daemon in daemons:
            others = ids - {daemon.node_id}
            await daemon.read_until(lambda d, others=others: others <= d.peers())
            assert daemon.peers() == others
            for up in daemon.seen("PeerConnected"):
                assert up["first_contact"] is False  # each dial named the NodeId it expected
                assert up["endpoint"].startswith(("tcp:10.201.200.", "tcp:[fe80:"))
        # Of each pair exactly one side dialled: the lower NodeId.
        ups = [(d.node_id, e) for d in daemons for e in d.seen("PeerConnected")]
        outbound = {(me, e["peer"]) for me, e in ups if e["outbound"]}
        lower = {
            (me, e["peer"]) for me, e in ups if NodeId.from_text(me) < NodeId.from_text(e["peer"])
        }
        assert outbound == lower
    finally:
        for daemon in daemons:
            await daemon.close()


def test_three_nodes_on_one_lan_link_with_zero_configuration(lan: Lan, tmp_path: Path) -> None:
    run(discover(lan, tmp_path, f"tcp:0.0.0.0:{PORT}"), bound=90)


def test_ipv6_link_local_beacons_link_three_nodes(lan: Lan, tmp_path: Path) -> None:
    """Listening on IPv6 only: beacons go to ff02::4d4e:1 and dials to fe80::...%veth."""
    run(discover(lan, tmp_path, f"tcp:[::]:{PORT}"), bound=90)


def test_no_discovery_turns_the_beacons_off(lan: Lan, tmp_path: Path) -> None:
    async def scenario() -> None:
        daemon = await Daemon.start(lan.nodes[0], tmp_path, f"tcp:0.0.0.0:{PORT}", "--no-discovery")
        try:
            await daemon.read_until(lambda d: bool(d.seen("Started")))
            assert daemon.seen("Started")[0]["discovery"] is False
        finally:
            await daemon.close()

    run(scenario(), bound=60)


async def message_after_discovery(lan: Lan) -> None:
    nodes: list[NodeProcess] = []
    try:
        for i, ns in enumerate(lan.nodes, start=1):
            listen = ("--listen", f"tcp:0.0.0.0:{PORT}", "--discovery")
            nodes.append(await NodeProcess.start(ns, f"lan{i}", *listen))
        assert all(node.seen("started")[0]["discovery"] for node in nodes)
        for node in nodes:
            others = {other.node_id for other in nodes} - {node.node_id}
            for _ in others:
                up = await node.expect(lambda e: e["event"] == "connected")
                assert up["peer"] in others
        sender, receiver = nodes[0], nodes[2]
        sender.command(cmd="route", peer=receiver.node_id)  # its identity record is known
        route = await sender.expect(lambda e: e["event"] == "route")
        assert route["path"] == [receiver.node_id]
        sender.command(cmd="message", peer=receiver.node_id, text="found you on the LAN")
        sent = await sender.expect(lambda e: e["event"] == "message_sent")

        got = await receiver.expect(lambda e: e["event"] == "MessageReceived")
        assert (got["id"], got["peer"]) == (sent["id"], sender.node_id)
        assert got["text"] == "found you on the LAN"
        delivered = await sender.expect(lambda e: e["event"] == "MessageDelivered")
        assert (delivered["id"], delivered["peer"]) == (sent["id"], receiver.node_id)
        receiver.command(cmd="mark_read", id=got["id"])
        read = await sender.expect(lambda e: e["event"] == "MessageRead")
        assert (read["id"], read["peer"]) == (sent["id"], receiver.node_id)
        assert nodes[1].seen("MessageReceived") == []  # only its addressee got it
    finally:
        for node in nodes:
            await node.close()


def test_nodes_found_by_discovery_exchange_a_message(lan: Lan) -> None:
    run(message_after_discovery(lan), bound=90)
