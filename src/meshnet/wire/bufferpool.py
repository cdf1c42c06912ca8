"""``BufferPool``: a few large buffers, each reused once nothing but the pool refers to it.

A 64 KiB packet or frame sealed into a fresh ``bytearray`` costs an allocation, a zero
fill and, depending on glibc's dynamic mmap threshold, page faults, every time. The
link layer (``link/sealbuffers.py``, its sealed frames) and the session layer
(``session/keys.py``, its sealed DATA packets) both seal into buffers of a pool instead.

When is a pooled buffer free? Whatever a consumer does with what was sealed into it
(the TCP carrier's asyncio transport copies what the socket did not take on Python 3.11
and keeps a view of it on 3.12+, a paused link queues a packet, the simulator queues a
frame), it holds a reference to the buffer: the buffer itself, or a view, whose managed
buffer refers to it (views of views share that one managed buffer). So a buffer that
only the pool refers to, as CPython's reference count says exactly, holds nothing
anyone still reads, and can be written again. Nobody gives a buffer back, and nothing
can change under a holder. (Another interpreter would need another test of "free".)

The pool is bounded: when every buffer is taken, ``take`` makes a fresh one, which
replaces a free pooled buffer of the wrong size if there is one and is otherwise freed
with its last reference.
"""

from __future__ import annotations

from collections.abc import Callable
from sys import getrefcount
from typing import Generic, TypeVar

__all__ = ["BufferPool"]

B = TypeVar("B", bound=bytearray)

_FREE = 3  # references to a pooled buffer nothing else holds: the pool's list, the
# local variable in ``take`` and ``getrefcount``'s argument


class BufferPool(Generic[B]):
    """At most ``limit`` buffers made by ``make(size)``, reused once free.

    Args:
        limit: buffers kept, at most.
        make: makes a zero-filled buffer of a given size (``bytearray`` or a subclass
            that marks a layout).
    """

    __slots__ = ("_buffers", "_limit", "_make")

    def __init__(self, limit: int, make: Callable[[int], B]) -> None:
        self._buffers: list[B] = []
        self._limit = limit
        self._make = make

    def __len__(self) -> int:
        """Buffers in the pool, free or taken."""
        return len(self._buffers)

    def take(self, size: int, *, exact: bool) -> B:
        """A free pooled buffer of ``size`` bytes (``exact``) or at least ``size`` bytes,
        else a fresh one of ``size`` bytes."""
        buffers = self._buffers
        for buffer in buffers:  # a for loop: an iterator holds no reference to an item
            if getrefcount(buffer) == _FREE and (
                len(buffer) == size if exact else len(buffer) >= size
            ):
                return buffer
        fresh = self._make(size)
        if len(buffers) < self._limit:
            buffers.append(fresh)
        else:
            for i in range(len(buffers)):  # not enumerate: its reused tuple holds a reference
                buffer = buffers[i]
                if getrefcount(buffer) == _FREE:  # free but the wrong size: make room
                    buffers[i] = fresh
                    break
        return fresh

    def clear(self) -> None:
        """Forget every buffer (those still taken are freed with their last reference)."""
        self._buffers.clear()
