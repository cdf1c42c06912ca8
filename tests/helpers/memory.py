"""``MemoryNetwork``: real ``Node``s joined by in-memory carriers, on explicit virtual time.

The in-memory twin of ``meshnet.runtime.driver``: each ``MemoryNode`` runs the same pump
steps after every input (send ``datagrams_to_send``, carry out ``transport_commands``,
drain ``next_event``), and the network moves frames between nodes through one FIFO
queue with a fixed latency. Nothing here reads a clock or a socket, so a run with the
same seeds is the same run every time.

Endpoints are ``mem:NAME``. A ``Dial`` to one opens a carrier on each side at once; a
``CloseTransport`` closes both ends after the frames already queued on them arrive.
Carriers are datagram carriers with an MTU (the simulator's kind: the link layer
fragments large frames) unless the network is built with ``datagram=False``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.ids import TransportId
from meshnet.node.commands import Dial, TransportCommand
from meshnet.node.config import NodeConfig
from meshnet.node.events import NodeEvent
from meshnet.node.node import Node

__all__ = ["MemoryNetwork", "MemoryNode"]

_MAX_PUMP_ROUNDS = 64
_STREAM_MTU = 1 << 20


@dataclass(slots=True)
class _Delivery:
    at: float
    node: MemoryNode
    transport: TransportId
    frame: bytes | None  # None: the carrier closes here (after the frames before it)


class MemoryNode:
    """One ``Node`` on a ``MemoryNetwork``; its events collect in ``events``."""

    def __init__(self, network: MemoryNetwork, name: str, node: Node) -> None:
        self.network = network
        self.name = name
        self.node = node
        self.events: list[NodeEvent] = []
        self.closed_transports: list[TransportId] = []
        self._next_transport = 1

    @property
    def endpoint(self) -> str:
        return f"mem:{self.name}"

    @property
    def node_id(self) -> NodeId:
        return self.node.node_id

    def allocate(self) -> TransportId:
        tid = TransportId(self._next_transport)
        self._next_transport += 1
        return tid

    def pump(self) -> None:
        """The driver's pump: frames out, commands, events (bounded rounds)."""
        node, net = self.node, self.network
        for _ in range(_MAX_PUMP_ROUNDS):
            out = node.datagrams_to_send(net.now)
            commands = node.transport_commands()
            for tid, frame in out:
                net.transmit(self, tid, frame)
            for command in commands:
                net.carry_out(self, command)
            while (event := node.next_event()) is not None:
                self.events.append(event)
            if not out and not commands:
                return
        raise AssertionError(f"{self.name}: the pump did not go quiet")

    def of(self, kind: type[NodeEvent]) -> list[NodeEvent]:
        return [e for e in self.events if isinstance(e, kind)]


class MemoryNetwork:
    """Nodes joined by in-memory carriers with a fixed one-way ``latency`` (seconds).

    Args:
        datagram: carriers are datagram carriers (True) or reliable streams.
        mtu: the datagram MTU handed to nodes.
        latency: one-way delay of every frame.
    """

    def __init__(self, *, datagram: bool = True, mtu: int = 1200, latency: float = 0.001) -> None:
        self.datagram = datagram
        self.mtu = mtu if datagram else _STREAM_MTU
        self.latency = latency
        self.now = 0.0
        self.verifier = SignatureVerifier()
        self.nodes: dict[str, MemoryNode] = {}
        self._queue: deque[_Delivery] = deque()
        self._peer: dict[tuple[str, TransportId], tuple[MemoryNode, TransportId]] = {}

    def add(
        self,
        name: str,
        *,
        seed: int = 1,
        identity: Identity | None = None,
        config: NodeConfig | None = None,
    ) -> MemoryNode:
        """A new node ``name`` reachable at ``mem:NAME`` (identity from ``seed`` unless given)."""
        entropy = SeededEntropy(seed, f"node:{name}")
        ident = identity or Identity.generate(entropy.fork("identity"), created=1_700_000_000)
        node = Node(
            identity=ident, entropy=entropy.fork("node"), verifier=self.verifier, config=config
        )
        member = MemoryNode(self, name, node)
        self.nodes[name] = member
        return member

    # -- carriers --------------------------------------------------------------------

    def transmit(self, sender: MemoryNode, transport: TransportId, frame: bytes) -> None:
        target = self._peer.get((sender.name, transport))
        if target is not None:
            self._queue.append(_Delivery(self.now + self.latency, target[0], target[1], frame))

    def carry_out(self, member: MemoryNode, command: TransportCommand) -> None:
        if isinstance(command, Dial):
            self._dial(member, command)
            return
        target = self._peer.pop((member.name, command.transport), None)
        if target is not None:
            self._peer.pop((target[0].name, target[1]), None)
            self._queue.append(_Delivery(self.now + self.latency, target[0], target[1], None))
        member.node.transport_closed(command.transport, self.now)
        member.closed_transports.append(command.transport)

    def _dial(self, member: MemoryNode, dial: Dial) -> None:
        scheme, _, name = dial.endpoint.partition(":")
        target = self.nodes.get(name) if scheme == "mem" else None
        if target is None:
            member.node.dial_failed(dial.dial, self.now, f"no node at {dial.endpoint}")
            return
        ours, theirs = self._join(member, target)
        target.node.transport_opened(
            theirs,
            self.now,
            outbound=False,
            endpoint=f"mem:{member.name}/{ours}",
            datagram=self.datagram,
            mtu=self.mtu,
        )
        target.pump()
        member.node.transport_opened(
            ours,
            self.now,
            outbound=True,
            endpoint=dial.endpoint,
            datagram=self.datagram,
            mtu=self.mtu,
            dial=dial.dial,
        )

    def _join(self, a: MemoryNode, b: MemoryNode) -> tuple[TransportId, TransportId]:
        ta, tb = a.allocate(), b.allocate()
        self._peer[(a.name, ta)] = (b, tb)
        self._peer[(b.name, tb)] = (a, ta)
        return ta, tb

    def inject(self, target: MemoryNode, frames: list[bytes]) -> TransportId:
        """Open a carrier from nowhere to ``target`` and deliver ``frames`` on it (garbage)."""
        tid = target.allocate()
        target.node.transport_opened(
            tid,
            self.now,
            outbound=False,
            endpoint=f"mem:stranger/{tid}",
            datagram=self.datagram,
            mtu=self.mtu,
        )
        target.pump()
        for frame in frames:
            if tid in target.closed_transports:
                break
            target.node.receive_datagram(tid, frame, self.now)
            target.pump()
        return tid

    # -- time ------------------------------------------------------------------------

    def _next_time(self) -> float | None:
        times = [self._queue[0].at] if self._queue else []
        times += [t for m in self.nodes.values() if (t := m.node.get_timer()) is not None]
        return min(times) if times else None

    def step(self) -> bool:
        """Deliver what is due now, or move time to the next thing that happens.

        Returns:
            False when nothing is left to happen.
        """
        if self._queue and self._queue[0].at <= self.now:
            delivery = self._queue.popleft()
            node = delivery.node.node
            if delivery.frame is None:
                node.transport_closed(delivery.transport, self.now)
            else:
                node.receive_datagram(delivery.transport, delivery.frame, self.now)
            delivery.node.pump()
            return True
        due = [
            m
            for m in self.nodes.values()
            if (t := m.node.get_timer()) is not None and t <= self.now
        ]
        for member in due:
            member.node.handle_timer(self.now)
            member.pump()
        if due:
            return True
        upcoming = self._next_time()
        if upcoming is None:
            return False
        self.now = max(self.now, upcoming)
        return True

    def run_until(
        self, condition: Callable[[], bool], *, within: float = 60.0, max_steps: int = 1_000_000
    ) -> None:
        """Run until ``condition()`` holds.

        Raises:
            AssertionError: it did not hold within ``within`` virtual seconds.
        """
        deadline = self.now + within
        for _ in range(max_steps):
            if condition():
                return
            upcoming = self._next_time()
            if upcoming is None or upcoming > deadline:
                if condition():
                    return
                raise AssertionError(f"condition not met within {within} virtual seconds")
            self.step()
        raise AssertionError("condition not met within the step bound")

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass, delivering and firing everything due."""
        end = self.now + seconds
        for _ in range(1_000_000):
            upcoming = self._next_time()
            if upcoming is None or upcoming > end:
                self.now = end
                return
            self.step()
        raise AssertionError("advance did not finish within the step bound")

    def start(self) -> None:
        """Pump every node once (sends what commands before the first input produced)."""
        for member in self.nodes.values():
            member.pump()
