"""The cost of one 64 KiB packet per node (sender, relay, sink), for a cost breakdown.

``relay_inproc.py``'s three nodes on a virtual clock, fed the driver's way (a frame goes
through ``receive_neighbour_data``, a relayed frame the relay hands back is delivered at
once), so the relay takes its hot path as in ``bench/relay.py``. After a 1 MiB warm-up,
``MIB`` more mebibytes of 64 KiB writes are streamed, and only then is one node's work
measured:

- ``callgrind ROLE``: every call into node ROLE (sender, relay or sink) goes through
  ``functools.reduce``, and nothing else of ours does, so

      PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=functools_reduce --callgrind-out-file=/tmp/parts.ROLE \\
        .venv/bin/python bench/support/relay_parts.py callgrind ROLE 2

  counts that node's instructions only; ``callgrind_annotate --inclusive=yes`` splits
  them into the AEAD (OpenSSL), copies (memmove), allocation and the interpreter.
- ``profile``: a ``cProfile`` per node, call counts per packet by function (tottime is
  load-dependent; the counts are not).
"""

from __future__ import annotations

import cProfile
import functools
import pstats
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relay_inproc import STEP, WARM, Chain

from meshnet.session.events import StreamDataReceived

ROLES = ("sender", "relay", "sink")


class Measured(Chain):
    """The chain with every call into a node going through ``self.call``."""

    def __init__(self) -> None:
        super().__init__(list(ROLES))
        self.wrap: list[Callable[[Callable[[], Any]], Any]] = [self._plain] * 3
        self.relayed = 0

    @staticmethod
    def _plain(thunk: Callable[[], Any]) -> Any:
        return thunk()

    def call(self, i: int, thunk: Callable[[], Any]) -> Any:
        return self.wrap[i](thunk)

    def deliver(self, i: int, transport: Any, frame: Any) -> None:
        """Feed a frame the driver's way; a relayed frame handed back goes on at once."""
        j = self.wires[(i, transport)]
        node = self.nodes[j]
        got = self.call(j, lambda: node.receive_neighbour_data(transport, frame, self.now))
        if isinstance(got, tuple):
            self.relayed += 1
            self.deliver(j, got[0], got[1])

    def pump(self) -> None:
        moved = True
        while moved:
            moved = False
            for i, node in enumerate(self.nodes):
                out = self.call(i, lambda n=node: n.datagrams_to_send(self.now))
                self.call(i, node.transport_commands)
                for transport, frame in out:
                    self.deliver(i, transport, frame)
                    moved = True
            for i, node in enumerate(self.nodes):
                while (event := self.call(i, node.next_event)) is not None:
                    self.events[i].append(event)
                deadline = self.call(i, node.get_timer)
                if deadline is not None and deadline <= self.now:
                    self.call(i, lambda n=node: n.handle_timer(self.now))
                    moved = True

    def stream(self, stream: Any, payload: bytes, total: int) -> None:
        sender = self.nodes[0]
        sent = got = 0
        while got < total:
            self.now += STEP
            while sent < total:
                taken = self.call(0, lambda: sender.stream_send(stream, payload, self.now))
                sent += taken
                if taken < len(payload):
                    break
            self.pump()
            for event in self.events[-1]:
                if isinstance(event, StreamDataReceived):
                    got += len(event.data)
            for events in self.events:
                events.clear()


def through_reduce(thunk: Callable[[], Any]) -> Any:
    return functools.reduce(lambda _, f: f(), (thunk,), None)


def setup() -> tuple[Measured, Any, bytes]:
    chain = Measured()
    stream, payload = chain.open_stream()
    chain.stream(stream, payload, WARM)
    return chain, stream, payload


def main(argv: list[str]) -> None:
    chain, stream, payload = setup()
    packets = (int(argv[-1]) << 20) // len(payload)
    if argv[0] == "callgrind":
        chain.wrap[ROLES.index(argv[1])] = through_reduce
        chain.relayed = 0
        chain.stream(stream, payload, int(argv[2]) << 20)
        print(f"{packets} packets, {chain.relayed} relayed at once", file=sys.stderr)
        return
    profiles = [cProfile.Profile() for _ in ROLES]

    chain.wrap = [profile.runcall for profile in profiles]
    chain.relayed = 0
    chain.stream(stream, payload, int(argv[1]) << 20)
    print(f"{packets} packets, {chain.relayed} relayed at once")
    for role, profile in zip(ROLES, profiles, strict=True):
        stats = pstats.Stats(profile)
        rows = stats.stats  # type: ignore[attr-defined]
        calls = sum(row[1] for row in rows.values())
        print(f"\n== {role}: {calls / packets:.1f} Python-level calls per packet")
        top = sorted(rows.items(), key=lambda kv: -kv[1][1])[:45]
        for (path, line, name), row in top:
            where = "/".join(Path(path).parts[-2:]) if path != "~" else "~"
            print(f"{row[1] / packets:8.2f} {row[2] * 1e6 / packets:7.1f}us  {where}:{line} {name}")


if __name__ == "__main__":
    main(sys.argv[1:])
