"""Writers waiting for room on end-to-end streams, woken by the node's stream events.

A stream's send buffer is bounded (session flow control): ``Node.stream_send`` takes
what fits and the session reports ``StreamWritable`` once acknowledgements free room.
``StreamWaiters`` turns that event into an awaitable for the driver's
``stream_write``; a ``StreamReset`` (the peer reset the stream, or its session ended)
fails the waiter instead, so a writer never waits for a stream that is gone.
"""

from __future__ import annotations

import asyncio

from meshnet.errors import StateError
from meshnet.ids import StreamId
from meshnet.node.events import NodeEvent
from meshnet.session.events import StreamReset, StreamWritable

__all__ = ["WAKING_EVENTS", "StreamWaiters"]

WAKING_EVENTS = (StreamWritable, StreamReset)
"""The node events ``StreamWaiters.on_event`` acts on."""


class StreamWaiters:
    """One future per stream whose writer waits for room (at most one writer each)."""

    def __init__(self) -> None:
        self._waiting: dict[StreamId, asyncio.Future[None]] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def wait(self, stream: StreamId) -> asyncio.Future[None]:
        """A future resolved when ``stream`` has room, failed when it is reset.

        Raises:
            StateError: another writer already waits on ``stream``.
        """
        if stream in self._waiting:
            raise StateError(f"stream {stream} already has a writer waiting for room")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[stream] = future
        future.add_done_callback(lambda _: self._forget(stream, future))
        return future

    def _forget(self, stream: StreamId, future: asyncio.Future[None]) -> None:
        if self._waiting.get(stream) is future:
            del self._waiting[stream]

    def on_event(self, event: NodeEvent) -> None:
        """Wake the writer of the stream ``event`` concerns, if one waits."""
        if not isinstance(event, WAKING_EVENTS):
            return
        future = self._waiting.pop(event.stream, None)
        if future is None or future.done():
            return
        if isinstance(event, StreamWritable):
            future.set_result(None)
        else:
            future.set_exception(StateError(f"stream {event.stream} was reset (code {event.code})"))

    def fail_all(self, reason: str) -> None:
        """Fail every waiting writer (the driver is stopping)."""
        waiting, self._waiting = self._waiting, {}
        for stream, future in waiting.items():
            if not future.done():
                future.set_exception(StateError(f"stream {stream}: {reason}"))
