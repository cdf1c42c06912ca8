"""``ToyNode``: a small plaintext flooding node that speaks the driver contract.

It lets the simulator be tested before the real ``meshnet.node.Node`` exists, and
measures the simulator's own overhead (``bench/sim_scale.py``). It is sans-IO and
deterministic, like a real core: time comes in as ``now``, randomness from the
``Entropy`` it is given, and nothing iterates over an unordered set.

Protocol (every frame ends with a CRC-32 of the rest; a bad CRC is a counted drop):

* ``HELLO`` = type 1, sender NodeId (32 bytes). Sent when a transport opens and every
  ``hello_interval`` on each transport; a transport silent for ``dead_after`` is closed
  with a ``CloseTransport`` command.
* ``DATA`` = type 2, message id (8), ttl (1), hops (1), source (32), destination (32),
  payload. Flooded to every transport but the one it came on; each node forwards a
  (source, id) once. The destination emits ``DatagramReceived(source, payload, hops)``.

With ``redial=True`` a node asks for ``Dial(endpoint)`` ``redial_after`` seconds after a
transport to a neighbour closed.
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
from dataclasses import dataclass

from meshnet.crypto.entropy import Entropy, SeededEntropy
from meshnet.crypto.identity import NodeId
from meshnet.errors import StateError
from meshnet.ids import TransportId

HELLO = 1
DATA = 2
_DATA_HEADER = struct.Struct(">B8sBB32s32s")
_CRC = struct.Struct(">I")
SEEN_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class CloseTransport:
    transport: TransportId
    reason: str


@dataclass(frozen=True, slots=True)
class Dial:
    endpoint: str


@dataclass(frozen=True, slots=True)
class DatagramReceived:
    source: NodeId
    payload: bytes
    hops: int


@dataclass(frozen=True, slots=True)
class NeighbourUp:
    peer: NodeId
    transport: int
    outbound: bool


def _seal(body: bytes) -> bytes:
    return body + _CRC.pack(zlib.crc32(body))


class _Transport:
    __slots__ = ("endpoint", "last_heard", "outbound", "peer")

    def __init__(self, endpoint: str, outbound: bool, now: float) -> None:
        self.endpoint = endpoint
        self.outbound = outbound
        self.peer: NodeId | None = None
        self.last_heard = now


class ToyNode:
    def __init__(
        self,
        node_id: NodeId,
        entropy: Entropy,
        *,
        hello_interval: float = 1.0,
        dead_after: float = 3.5,
        ttl: int = 32,
        redial: bool = False,
        redial_after: float = 2.0,
    ) -> None:
        self.node_id = node_id
        self._entropy = entropy
        self.hello_interval = hello_interval
        self.dead_after = dead_after
        self.ttl = ttl
        self.redial = redial
        self.redial_after = redial_after
        self._transports: dict[TransportId, _Transport] = {}
        self._out: list[tuple[TransportId, bytes]] = []
        self._events: deque[object] = deque()
        self._commands: list[object] = []
        self._seen: dict[tuple[bytes, bytes], None] = {}
        self._next_hello: float | None = None
        self._redials: list[tuple[float, str]] = []
        self.corrupt_dropped = 0
        self.frames_received = 0
        self.opened_with: list[dict[str, object]] = []
        self.closed_transports: list[TransportId] = []

    # -- driver verbs ----------------------------------------------------------------

    def transport_opened(
        self,
        transport: TransportId,
        now: float,
        *,
        outbound: bool,
        endpoint: str,
        datagram: bool,
        mtu: int,
    ) -> None:
        self.opened_with.append(
            {
                "transport": transport,
                "outbound": outbound,
                "endpoint": endpoint,
                "datagram": datagram,
                "mtu": mtu,
            }
        )
        self._transports[transport] = _Transport(endpoint, outbound, now)
        self._out.append((transport, _seal(bytes([HELLO]) + self.node_id.raw)))
        if self._next_hello is None:
            self._next_hello = now + self.hello_interval

    def transport_closed(self, transport: TransportId, now: float) -> None:
        self.closed_transports.append(transport)
        t = self._transports.pop(transport, None)
        if t is not None and self.redial:
            self._redials.append((now + self.redial_after, t.endpoint))

    def receive_datagram(self, transport: TransportId, data: bytes, now: float) -> None:
        t = self._transports.get(transport)
        if t is None:
            return
        self.frames_received += 1
        if len(data) < 5 or zlib.crc32(data[:-4]) != _CRC.unpack(data[-4:])[0]:
            self.corrupt_dropped += 1
            return
        body = data[:-4]
        t.last_heard = now
        if body[0] == HELLO and len(body) == 33:
            if t.peer is None:
                t.peer = NodeId(bytes(body[1:]))
                self._events.append(
                    NeighbourUp(peer=t.peer, transport=transport, outbound=t.outbound)
                )
        elif body[0] == DATA and len(body) >= _DATA_HEADER.size:
            self._on_data(transport, body)

    def _on_data(self, came_on: TransportId, body: bytes) -> None:
        _, msg_id, ttl, hops, src, dst = _DATA_HEADER.unpack_from(body)
        key = (src, msg_id)
        if key in self._seen:
            return
        self._remember(key)
        if dst == self.node_id.raw:
            payload = body[_DATA_HEADER.size :]
            self._events.append(DatagramReceived(NodeId(src), payload, hops + 1))
            return
        if ttl <= 1:
            return
        forwarded = (
            _DATA_HEADER.pack(DATA, msg_id, ttl - 1, hops + 1, src, dst) + body[_DATA_HEADER.size :]
        )
        self._flood(_seal(forwarded), skip=came_on)

    def _remember(self, key: tuple[bytes, bytes]) -> None:
        self._seen[key] = None
        if len(self._seen) > SEEN_LIMIT:
            del self._seen[next(iter(self._seen))]

    def _flood(self, frame: bytes, skip: TransportId | None = None) -> None:
        for tid in self._transports:
            if tid != skip:
                self._out.append((tid, frame))

    def datagrams_to_send(self, now: float) -> list[tuple[TransportId, bytes]]:
        out, self._out = self._out, []
        return out

    def transport_commands(self) -> list[object]:
        commands, self._commands = self._commands, []
        return commands

    def next_event(self) -> object | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        deadlines = [when for when, _ in self._redials]
        if self._next_hello is not None:
            deadlines.append(self._next_hello)
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        due = [(w, e) for w, e in self._redials if w <= now]
        self._redials = [(w, e) for w, e in self._redials if w > now]
        for _, endpoint in due:
            self._commands.append(Dial(endpoint))
        if self._next_hello is not None and now >= self._next_hello:
            for tid, t in list(self._transports.items()):
                if now - t.last_heard > self.dead_after:
                    self._commands.append(CloseTransport(tid, "peer timeout"))
                    continue
                self._out.append((tid, _seal(bytes([HELLO]) + self.node_id.raw)))
            self._next_hello = now + self.hello_interval

    # -- application -----------------------------------------------------------------

    def send_datagram(self, destination: NodeId, payload: bytes, now: float) -> None:
        if not self._transports:
            raise StateError("no neighbours to flood to")
        msg_id = self._entropy.random_bytes(8)
        self._remember((self.node_id.raw, msg_id))
        header = _DATA_HEADER.pack(DATA, msg_id, self.ttl, 0, self.node_id.raw, destination.raw)
        self._flood(_seal(header + payload))


class ToyFactory:
    """Builds ``ToyNode``s for the simulator; options apply to every node.

    With ``keep=True`` every node built is kept in ``built`` (crashes included), so a
    test can look at an object the simulator has since replaced.
    """

    def __init__(self, *, keep: bool = False, **options: object) -> None:
        self.options = options
        self.keep = keep
        self.built: list[ToyNode] = []

    def __call__(
        self, *, index: int, identity_entropy: SeededEntropy, entropy: SeededEntropy
    ) -> ToyNode:
        node = ToyNode(NodeId(identity_entropy.random_bytes(32)), entropy, **self.options)  # type: ignore[arg-type]
        if self.keep:
            self.built.append(node)
        return node


make_toy_node = ToyFactory()
"""A factory with default options (usable as ``--node tests.sim.toynode:make_toy_node``)."""
