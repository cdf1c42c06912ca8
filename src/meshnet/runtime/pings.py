"""Applications waiting for end-to-end ping answers, woken by the node's events.

``Node.ping`` returns a token at once; the answer is a ``PingAnswered`` event when the
peer acknowledges the probe. ``PingWaiters`` turns that into an awaitable for the
driver's ``ping``; a session to that peer that fails or closes fails its waiters with
the reason, so ``meshnet ping`` to an unreachable node says why instead of only
timing out.

``TraceHop`` is one line of ``meshnet trace``: the driver pings every node of the
source route at once. Paths are computed over one shortest-path tree, so the route to
each relay is the start of the route to the destination, and each hop's round trip is
measured over the very links the traced path uses (no new packet type, nothing a
relay must support beyond being a node).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from meshnet.crypto.identity import NodeId
from meshnet.errors import StateError
from meshnet.node.events import NodeEvent
from meshnet.session.events import PingAnswered, SessionClosed, SessionHandshakeFailed

__all__ = ["PING_EVENTS", "PingWaiters", "TraceHop"]

PING_EVENTS = (PingAnswered, SessionHandshakeFailed, SessionClosed)
"""The node events ``PingWaiters.on_event`` acts on."""


@dataclass(frozen=True, slots=True)
class TraceHop:
    """One node of a traced path and what pinging it gave."""

    node: NodeId
    rtt: float | None
    """The round trip to this node (through the hops before it), or None."""
    error: str
    """Why there is no round trip (empty when there is one)."""


class PingWaiters:
    """Futures of pings in flight, by token."""

    def __init__(self) -> None:
        self._waiting: dict[int, tuple[NodeId, asyncio.Future[PingAnswered]]] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def wait(self, peer: NodeId, token: int) -> asyncio.Future[PingAnswered]:
        """A future for the answer to ping ``token`` sent to ``peer``."""
        future: asyncio.Future[PingAnswered] = asyncio.get_running_loop().create_future()
        self._waiting[token] = (peer, future)
        future.add_done_callback(lambda _: self._waiting.pop(token, None))
        return future

    def on_event(self, event: NodeEvent) -> None:
        """Answer or fail the pings ``event`` concerns."""
        if isinstance(event, PingAnswered):
            entry = self._waiting.pop(event.token, None)
            if entry is not None and not entry[1].done():
                entry[1].set_result(event)
        elif isinstance(event, SessionHandshakeFailed | SessionClosed):
            why = f"session to {event.peer.short()} {_verb(event)}: {event.detail}"
            for token, (peer, future) in list(self._waiting.items()):
                if peer == event.peer and not future.done():
                    del self._waiting[token]
                    future.set_exception(StateError(why))

    def fail_all(self, reason: str) -> None:
        """Fail every ping in flight (the driver is stopping)."""
        waiting, self._waiting = self._waiting, {}
        for _, future in waiting.values():
            if not future.done():
                future.set_exception(StateError(reason))


def _verb(event: SessionHandshakeFailed | SessionClosed) -> str:
    return "failed" if isinstance(event, SessionHandshakeFailed) else "closed"
