"""Node events fanned out to asyncio subscribers and synchronous listeners.

The driver drains ``Node.next_event()`` after every input and hands each event to an
``EventHub``, which calls every ``Listener`` that wants that kind, then copies it into
every ``Subscription`` that wants it.

* A ``Subscription`` is a bounded queue read with ``await sub.get()`` or ``async for``:
  the reader is a task, woken once per batch of events, on one event loop (the first
  ``get`` that waits looks it up; the driver's subscriptions live on the driver's loop).
* A ``Listener`` is a plain callback run inside the driver's pump, as the event comes
  out of the node: no queue and no task wake-up (an application that answers at once,
  such as an echo, saves a scheduling round per message). The callback must not block;
  it may call the driver's commands (what they send goes out in the same pump). An
  exception it raises is logged and counted (``listener_error``), never raised into
  the pump. A listener holds nothing back, so it has no overflow policy.

What happens when a subscriber falls behind is chosen per subscription:

* ``Overflow.PAUSE`` (the default): once the queue holds ``limit`` events the hub tells
  the driver to stop reading from its transports, so TCP's own flow control slows the
  senders; reading resumes when every such queue is below half its limit. Nothing is
  lost, and memory stays bounded by ``limit`` plus one read. A PAUSE subscriber must
  keep reading (or be closed): while it stalls, keepalives are not read either.
* ``Overflow.DROP``: events that do not fit are dropped and counted in ``dropped``
  (for monitors that must never hold the node back).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import TypeVar

from meshnet.errors import StateError
from meshnet.node.events import NodeEvent

__all__ = ["EventHub", "Listener", "Overflow", "Subscription"]

E = TypeVar("E")
log = logging.getLogger(__name__)


class Overflow(enum.Enum):
    """What a full subscription does."""

    PAUSE = "pause"
    """Hold reading back until the subscriber catches up (lossless)."""
    DROP = "drop"
    """Drop the new event and count it."""


_PAUSE = Overflow.PAUSE


class Subscription:
    """A bounded queue of node events for one consumer (made by ``EventHub.subscribe``)."""

    def __init__(
        self,
        hub: EventHub,
        *,
        kinds: tuple[type[NodeEvent], ...] | None,
        limit: int,
        overflow: Overflow,
    ) -> None:
        self._hub = hub
        self.kinds = kinds
        self.limit = limit
        self.overflow = overflow
        self.dropped = 0
        self.closed = False
        self._queue: deque[NodeEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the reader's, from its first wait

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def backlogged(self) -> bool:
        return self.overflow is Overflow.PAUSE and len(self._queue) >= self.limit

    def _offer(self, event: NodeEvent) -> None:
        if self.kinds is not None and not isinstance(event, self.kinds):
            return
        if self.overflow is Overflow.DROP and len(self._queue) >= self.limit:
            self.dropped += 1
            return
        self._queue.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> NodeEvent | None:
        """The next event if one is queued, else None."""
        if not self._queue:
            return None
        event = self._queue.popleft()
        if self.overflow is Overflow.PAUSE and len(self._queue) == self.limit // 2:
            self._hub.drained()
        return event

    async def get(self) -> NodeEvent:
        """Wait for the next event.

        Raises:
            StateError: the subscription (or its driver) was closed and nothing is left.
        """
        queue = self._queue
        while not queue:
            if self.closed:
                raise StateError("the subscription is closed")
            loop = self._loop
            if loop is None:  # looked up once: asyncio checks the process id per lookup,
                loop = self._loop = asyncio.get_running_loop()  # a getpid system call
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        event = queue.popleft()  # get_nowait, inline: the reader's path per event
        if self.overflow is _PAUSE and len(queue) == self.limit // 2:
            self._hub.drained()
        return event

    async def wait_for(self, kind: type[E], predicate: Callable[[E], bool] | None = None) -> E:
        """Skip events until one of ``kind`` (matching ``predicate``) arrives; return it.

        Bound it with ``asyncio.wait_for`` or ``asyncio.timeout``.

        Raises:
            StateError: the subscription was closed first.
        """
        while True:
            event = await self.get()
            if isinstance(event, kind) and (predicate is None or predicate(event)):
                return event

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> NodeEvent:
        try:
            return await self.get()
        except StateError:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop receiving events; queued ones can still be read."""
        if self.closed:
            return
        self.closed = True
        self._hub.remove(self)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Listener:
    """A callback that receives node events synchronously (made by ``EventHub.listen``)."""

    __slots__ = ("_hub", "callback", "closed", "kinds")

    def __init__(
        self,
        hub: EventHub,
        callback: Callable[[NodeEvent], object],
        kinds: tuple[type[NodeEvent], ...] | None,
    ) -> None:
        self._hub = hub
        self.callback = callback
        self.kinds = kinds
        self.closed = False

    def close(self) -> None:
        """Stop calling the callback (takes effect with the next event)."""
        if not self.closed:
            self.closed = True
            self._hub.remove_listener(self)


class EventHub:
    """Calls each listener and copies each event to every subscription; reports backlog.

    Args:
        on_backlog: called with True when some PAUSE subscription is full (stop
            reading), and with False when none is any more (resume).
        on_error: called (after logging) when a listener's callback raised.
    """

    def __init__(
        self,
        on_backlog: Callable[[bool], None],
        on_error: Callable[[Listener], None] | None = None,
    ) -> None:
        self._subscriptions: list[Subscription] = []
        self._listeners: list[Listener] = []
        self._on_backlog = on_backlog
        self._on_error = on_error
        self.backlogged = False

    def listen(
        self,
        callback: Callable[[NodeEvent], object],
        *,
        kinds: Iterable[type[NodeEvent]] | None = None,
    ) -> Listener:
        listener = Listener(self, callback, tuple(kinds) if kinds is not None else None)
        self._listeners = [*self._listeners, listener]  # copy: publish may be iterating
        return listener

    def remove_listener(self, listener: Listener) -> None:
        self._listeners = [other for other in self._listeners if other is not listener]

    def subscribe(
        self,
        *,
        kinds: Iterable[type[NodeEvent]] | None = None,
        limit: int = 1024,
        overflow: Overflow = Overflow.PAUSE,
    ) -> Subscription:
        if limit < 1:
            raise ValueError("a subscription needs a limit of at least 1")
        sub = Subscription(
            self,
            kinds=tuple(kinds) if kinds is not None else None,
            limit=limit,
            overflow=overflow,
        )
        self._subscriptions.append(sub)
        return sub

    def publish(self, event: NodeEvent) -> None:
        for listener in self._listeners:
            kinds = listener.kinds
            if kinds is not None and not isinstance(event, kinds):
                continue
            try:
                listener.callback(event)
            except Exception:  # the application's bug: keep the node running
                log.exception("an event listener raised; the event is dropped for it")
                if self._on_error is not None:
                    self._on_error(listener)
        backlog = False
        for sub in self._subscriptions:
            sub._offer(event)
            if sub.overflow is _PAUSE and len(sub._queue) >= sub.limit:  # sub.backlogged
                backlog = True
        if backlog and not self.backlogged:
            self.backlogged = True
            self._on_backlog(True)

    def drained(self) -> None:
        """A subscription fell to half its limit: resume reading if none is full."""
        if self.backlogged and not any(
            s.overflow is Overflow.PAUSE and len(s) > s.limit // 2 for s in self._subscriptions
        ):
            self.backlogged = False
            self._on_backlog(False)

    def remove(self, sub: Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)
        self.drained()

    def close(self) -> None:
        """Close every subscription and listener (the driver stopped)."""
        for sub in list(self._subscriptions):
            sub.close()
        for listener in self._listeners:
            listener.closed = True
        self._listeners = []
