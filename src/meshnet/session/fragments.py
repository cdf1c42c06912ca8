"""Cutting handshake messages into packet-sized fragments, and putting them back.

A hybrid IK handshake message is about 1.4-1.5 KB, more than one session packet
(``max_packet`` is about 1100 bytes on a UDP path), so both the outer handshake
(INIT/RESPONSE packets) and the rekey handshake (REKEY frames) travel as numbered
fragments of one message: ``fragment`` of ``count``, all chunks the same size but
the last.

Fragments arrive unauthenticated (the rebuilt message authenticates itself when Noise
reads it), so ``Reassembler`` holds up against garbage: at most ``max_pending`` partial
messages, oldest dropped first, each at most ``MAX_FRAGMENTS`` chunks and
``MAX_MESSAGE`` bytes, forgotten after ``timeout`` seconds. A fragment that disagrees
with the partial message under the same key (another count) starts it over, which is
also what happens when the sender re-cut the message for a new packet size.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["MAX_FRAGMENTS", "MAX_MESSAGE", "Reassembler", "split_message"]

MAX_FRAGMENTS = 16
"""The most fragments one handshake message is cut into."""
MAX_MESSAGE = 8192
"""The largest handshake message reassembled (IKhfs messages are about 1.5 KB)."""

K = TypeVar("K", bound=Hashable)


def split_message(message: bytes, room: int) -> list[bytes]:
    """Cut ``message`` into chunks of at most ``room`` bytes (at least one chunk).

    Raises:
        ValueError: more than ``MAX_FRAGMENTS`` chunks would be needed.
    """
    if room <= 0:
        raise ValueError("no room for a fragment")
    count = max(1, -(-len(message) // room))
    if count > MAX_FRAGMENTS:
        raise ValueError(f"a {len(message)}-byte message needs {count} fragments")
    return [message[i * room : (i + 1) * room] for i in range(count)]


@dataclass(slots=True)
class _Partial:
    count: int
    started: float
    chunks: dict[int, bytes] = field(default_factory=dict)
    size: int = 0


class Reassembler(Generic[K]):
    """Bounded reassembly of fragmented messages, keyed by the caller.

    Args:
        max_pending: partial messages held at once; the oldest goes first.
        timeout: seconds after which a partial message is forgotten.
    """

    __slots__ = ("_partials", "_timeout", "dropped", "max_pending")

    def __init__(self, *, max_pending: int, timeout: float) -> None:
        self.max_pending = max_pending
        self._timeout = timeout
        self._partials: OrderedDict[K, _Partial] = OrderedDict()
        self.dropped = 0
        """Partial messages abandoned (evicted, timed out or restarted)."""

    def add(self, key: K, fragment: int, count: int, chunk: bytes, now: float) -> bytes | None:
        """Add one fragment; return the whole message once every fragment is in.

        A fragment with an out-of-range index or count, or one that would make the
        message too large, is ignored (returns None).
        """
        if not 0 <= fragment < count <= MAX_FRAGMENTS:
            return None
        if count == 1:
            self._partials.pop(key, None)
            return chunk
        partial = self._partials.get(key)
        if partial is not None and (
            partial.count != count or now - partial.started > self._timeout
        ):
            del self._partials[key]
            self.dropped += 1
            partial = None
        if partial is None:
            self._expire(now)
            while len(self._partials) >= self.max_pending:
                self._partials.popitem(last=False)
                self.dropped += 1
            partial = _Partial(count, now)
            self._partials[key] = partial
        if fragment in partial.chunks:
            return None
        if partial.size + len(chunk) > MAX_MESSAGE:
            del self._partials[key]
            self.dropped += 1
            return None
        partial.chunks[fragment] = chunk
        partial.size += len(chunk)
        if len(partial.chunks) < count:
            return None
        del self._partials[key]
        return b"".join(partial.chunks[i] for i in range(count))

    def discard(self, key: K) -> None:
        """Forget the partial message under ``key``, if any."""
        self._partials.pop(key, None)

    def _expire(self, now: float) -> None:
        partials = self._partials
        while partials:
            key, partial = next(iter(partials.items()))
            if now - partial.started <= self._timeout:
                return
            del partials[key]
            self.dropped += 1

    def __len__(self) -> int:
        return len(self._partials)
