"""``SimControl``: the API's ``NodeControl`` over a node of a simulated network.

The handlers' unit tests run against real node snapshots (links, the link-state
database, routes) without sockets: node 0 of a simulated line, at the simulator's
virtual time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from meshnet.crypto.identity import IdentityRecord, NodeId
from meshnet.node.node import Node
from meshnet.node.status import NodeStatus
from meshnet.runtime.endpoints import parse_endpoint
from meshnet.sim.simulation import Simulation


@dataclass(frozen=True, slots=True)
class Snapshot:
    node: NodeStatus
    listening: tuple[str, ...] = ("tcp:127.0.0.1:4100",)
    tcp_connections: int = 1
    udp_peers: int = 0
    dials_in_progress: int = 0
    buffered_bytes: int = 0
    reading_paused: bool = False
    counters: tuple[tuple[str, int], ...] = (("dial_failed", 2),)


class SimControl:
    """Node ``index`` of ``sim`` as the API sees it."""

    def __init__(self, sim: Simulation, index: int = 0) -> None:
        self.sim = sim
        self.index = index

    @property
    def node(self) -> Node:
        return cast(Node, self.sim.node(self.index))

    @property
    def identity_record(self) -> IdentityRecord:
        return self.node.identity.record

    def status(self) -> Snapshot:
        return Snapshot(node=self.node.status(self.sim.now))

    def route_to(self, peer: NodeId) -> tuple[NodeId, ...] | None:
        return self.node.route_to(peer)

    def connect(self, endpoint: str, *, expected_peer: NodeId | None = None) -> str:
        canonical = str(parse_endpoint(endpoint))
        self.node.connect(canonical, self.sim.now, expected_peer=expected_peer)
        return canonical

    def disconnect(self, endpoint: str) -> bool:
        return self.node.disconnect(str(parse_endpoint(endpoint)), self.sim.now)

    def disconnect_peer(self, peer: NodeId) -> tuple[tuple[str, ...], bool]:
        return self.node.disconnect_peer(peer, self.sim.now)
