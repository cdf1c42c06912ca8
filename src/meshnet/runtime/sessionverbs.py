"""The driver's end-to-end verbs: datagrams, reliable streams, ping and trace.

``SessionVerbs`` is mixed into ``NodeDriver``: each verb hands one command to the node
at the event loop's time and pumps, as every driver command does. Writers that wait
for room on a stream (``StreamWaiters``) and pings waiting for their answer
(``PingWaiters``) are woken by the driver's pump from the node's events.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from meshnet.crypto.identity import NodeId
from meshnet.errors import LocalError, StateError
from meshnet.ids import StreamId
from meshnet.node.node import Node
from meshnet.runtime.pings import PingWaiters, TraceHop
from meshnet.runtime.streams import StreamWaiters
from meshnet.session.events import PingAnswered

__all__ = ["SessionVerbs"]

_WRITE_CHUNK = 256 * 1024  # stream_write hands the session at most this much per call


class _Driver(Protocol):
    """What the verbs use of the driver."""

    node: Node
    _writers: StreamWaiters
    _pings: PingWaiters

    def now(self) -> float: ...
    def _require_running(self) -> None: ...
    def _pump(self) -> None: ...
    async def ping(self, destination: NodeId, *, timeout: float = 10.0) -> PingAnswered: ...


class SessionVerbs:
    """End-to-end datagrams, streams, ping and trace (a mixin of ``NodeDriver``)."""

    def send_datagram(self: _Driver, destination: NodeId, payload: bytes) -> None:
        """Send an unreliable, end-to-end encrypted datagram to any node of the mesh.

        The session opens on demand (the datagram waits, bounded, while it does).

        Raises:
            StateError: the driver is not running.
            LocalError: the payload is too large or the destination is this node.
        """
        self._require_running()
        self.node.send_datagram(destination, payload, self.now())
        self._pump()

    def open_stream(self: _Driver, destination: NodeId, *, service: int = 0) -> StreamId:
        """Open a reliable, ordered, end-to-end encrypted stream to ``destination``.

        The peer hears ``StreamOpened`` with ``service``; both read with ``subscribe``.

        Raises:
            StateError: too many streams to this peer are open, or the driver is stopped.
        """
        self._require_running()
        stream = self.node.open_stream(destination, self.now(), service=service)
        self._pump()
        return stream

    async def stream_write(self: _Driver, stream: StreamId, data: bytes) -> None:
        """Queue all of ``data`` on ``stream``, waiting for room as flow control asks.

        Returns once the session took every byte (not once the peer has it).

        Raises:
            StateError: the stream is unknown, finished or reset (also while waiting),
                or the driver stopped.
        """
        view = memoryview(data)
        whole = type(data) is bytes and len(data) <= _WRITE_CHUNK  # immutable: kept as is
        while True:
            self._require_running()
            chunk = view[:_WRITE_CHUNK]
            piece = data if whole and len(chunk) == len(data) else bytes(chunk)
            taken = self.node.stream_send(stream, piece, self.now())
            view = view[taken:]
            if not view:
                self._pump()
                return
            if taken == len(chunk) and taken > 0:
                continue  # the chunk fitted whole: offer the next one before waiting
            room = self._writers.wait(stream)
            self._pump()
            await room

    async def ping(self: _Driver, destination: NodeId, *, timeout: float = 10.0) -> PingAnswered:
        """Probe ``destination`` end to end and wait for the answer (round-trip time).

        Raises:
            TimeoutError: no answer within ``timeout`` seconds.
            StateError: the session to ``destination`` failed or closed (the message
                says why), or the driver stopped.
            LocalError: ``destination`` is this node.
        """
        self._require_running()
        token = self.node.ping(destination, self.now())
        answer = self._pings.wait(destination, token)
        self._pump()
        return await asyncio.wait_for(answer, timeout)

    async def trace(
        self: _Driver, destination: NodeId, *, timeout: float = 10.0
    ) -> tuple[TraceHop, ...]:
        """Ping every node on the current route to ``destination`` at once.

        Returns:
            One ``TraceHop`` per relay, then the destination, in path order; a hop
            that does not answer within ``timeout`` has ``rtt`` None and the reason.

        Raises:
            LocalError: ``destination`` is this node.
            StateError: there is no route to ``destination`` (or the driver stopped).
        """
        self._require_running()
        if destination == self.node.node_id:
            raise LocalError("a node does not trace a route to itself")
        path = self.node.route_to(destination)
        if path is None:
            raise StateError(f"no route to {destination.short()}")

        async def probe(hop: NodeId) -> TraceHop:
            try:
                answer = await self.ping(hop, timeout=timeout)
            except TimeoutError:
                return TraceHop(hop, None, f"no answer within {timeout:g} s")
            except StateError as exc:
                return TraceHop(hop, None, str(exc))
            return TraceHop(hop, answer.rtt, "")

        return tuple(await asyncio.gather(*(probe(hop) for hop in path)))

    def stream_close(self: _Driver, stream: StreamId) -> None:
        """Finish our direction of ``stream``; the peer hears ``StreamFinished`` after the data.

        Raises:
            StateError: the stream is unknown or was reset.
        """
        self._require_running()
        self.node.stream_close(stream, self.now())
        self._pump()

    def stream_reset(self: _Driver, stream: StreamId, code: int = 0) -> None:
        """Abandon both directions of ``stream`` at once; the peer hears ``StreamReset``.

        Raises:
            StateError: the stream is unknown.
        """
        self._require_running()
        self.node.stream_reset(stream, self.now(), code)
        self._pump()
