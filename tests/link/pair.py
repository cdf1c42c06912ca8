"""``LinkPair``: two LinkManagers joined by an in-memory wire, on explicit time.

Like h11's ConnectionPair: push frames through two real cores with a fake network in
between, and let tests drop, duplicate, reorder, corrupt or capture what crosses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity, NodeId, SignatureVerifier
from meshnet.ids import TransportId
from meshnet.link.config import LinkConfig
from meshnet.link.events import LinkEvent
from meshnet.link.manager import CloseTransport, LinkManager

Filter = Callable[[str, TransportId, bytes], bytes | None]


def identity(seed: int, label: str) -> Identity:
    return Identity.generate(SeededEntropy(seed, label), created=1_700_000_000)


@dataclass
class Side:
    name: str
    identity: Identity
    manager: LinkManager
    events: list[LinkEvent] = field(default_factory=list)
    commands: list[CloseTransport] = field(default_factory=list)

    @property
    def node_id(self) -> NodeId:
        return self.identity.node_id

    def drain(self) -> None:
        while (event := self.manager.next_event()) is not None:
            self.events.append(event)
        self.commands.extend(self.manager.transport_commands())

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.events if isinstance(e, kind)]


class LinkPair:
    """Two managers, ``a`` dialling ``b`` over transport 1 unless told otherwise.

    Every frame crossing the wire passes through ``self.filter(sender, transport,
    frame)``, which may return the frame, another frame, or None (dropped). ``wire``
    records everything that crossed, for inspection.
    """

    def __init__(
        self,
        *,
        datagram: bool = True,
        config: LinkConfig | None = None,
        seed: int = 1,
        expect: NodeId | None = None,
        mtu: int | None = None,
        connect: bool = True,
        b_identity: Identity | None = None,
        views: bool = False,
        b_config: LinkConfig | None = None,
    ) -> None:
        self.config = config or LinkConfig()
        self.b_config = b_config or self.config
        self.datagram = datagram
        self.mtu = mtu or (1200 if datagram else 1 << 20)
        self.now = 0.0
        self.verifier = SignatureVerifier()
        entropy = SeededEntropy(seed)
        self.a = self._side("a", identity(seed, "a"), entropy)
        self.b = self._side("b", b_identity or identity(seed, "b"), entropy, self.b_config)
        self.filter: Filter = lambda sender, tid, frame: frame
        self.wire: list[tuple[str, TransportId, bytes]] = []
        # views: frames arrive as views of one reused buffer, overwritten after each call
        # (how the TCP driver hands them over), so a core that kept one would see garbage
        self._scratch = memoryview(bytearray(self.mtu + 4096)) if views else None
        # transport ids are per side; the wire maps a's transport t to b's transport t
        if connect:
            self.open(TransportId(1), expect=expect)

    def _side(
        self, name: str, ident: Identity, entropy: SeededEntropy, config: LinkConfig | None = None
    ) -> Side:
        manager = LinkManager(
            identity=ident,
            config=config or self.config,
            entropy=entropy.fork(name),
            verifier=self.verifier,
        )
        return Side(name, ident, manager)

    def open(self, tid: TransportId, *, expect: NodeId | None = None, dialer: str = "a") -> None:
        dial, listen = (self.a, self.b) if dialer == "a" else (self.b, self.a)
        listen.manager.transport_opened(
            tid,
            self.now,
            outbound=False,
            endpoint=f"mem:{dial.name}:{tid}",
            datagram=self.datagram,
            mtu=self.mtu,
        )
        dial.manager.transport_opened(
            tid,
            self.now,
            outbound=True,
            endpoint=f"mem:{listen.name}:{tid}",
            datagram=self.datagram,
            mtu=self.mtu,
            expected_peer=expect,
        )
        self.flow()

    def other(self, side: Side) -> Side:
        return self.b if side is self.a else self.a

    def take(self, side: Side) -> list[tuple[TransportId, bytes]]:
        """Frames ``side`` wants to send, not yet delivered."""
        frames = side.manager.datagrams_to_send(self.now)
        side.drain()
        return frames

    def deliver(self, side: Side, frames: list[tuple[TransportId, bytes]]) -> None:
        """Deliver frames sent by ``side`` to the other side (through the filter)."""
        peer = self.other(side)
        for tid, frame in frames:
            assert len(frame) <= self.mtu, f"a {len(frame)}-byte frame on a {self.mtu}-byte MTU"
            out = self.filter(side.name, tid, frame)
            if out is None:
                continue
            self.wire.append((side.name, tid, out))
            scratch = self._scratch
            if scratch is None:
                peer.manager.receive_datagram(tid, out, self.now)
                continue
            scratch[: len(out)] = out
            peer.manager.receive_datagram(tid, scratch[: len(out)], self.now)
            scratch[: len(out)] = b"\xee" * len(out)
        peer.drain()

    def flow(self, rounds: int = 50) -> None:
        """Exchange frames until both sides are quiet (bounded)."""
        for _ in range(rounds):
            fa, fb = self.take(self.a), self.take(self.b)
            if not fa and not fb:
                return
            self.deliver(self.a, fa)
            self.deliver(self.b, fb)
        raise AssertionError("link pair did not go quiet")

    def advance(self, seconds: float, *, step: float = 0.5) -> None:
        """Move time forward, firing both sides' timers and exchanging frames."""
        end = self.now + seconds
        while self.now < end:
            nxt = min(
                t
                for t in (
                    self.a.manager.get_timer(),
                    self.b.manager.get_timer(),
                    end,
                    self.now + step,
                )
                if t is not None
            )
            self.now = max(self.now, nxt)
            for side in (self.a, self.b):
                timer = side.manager.get_timer()
                if timer is not None and timer <= self.now:
                    side.manager.handle_timer(self.now)
                    side.drain()
            self.flow()
