"""``AnnouncementDecoder``: ANNOUNCE packets decoded once, behind a bounded LRU cache.

Flooding hands every node the same signed announcement bytes, once from each
neighbour, and the age in the header is the only part that changes on the way.
Decoding (parsing, building the ``Announcement`` and checking its fields) is a pure
function of the bytes after the header (``tail``: body and signature), so, like
``crypto.verifier.SignatureVerifier``, its result can be remembered and shared: by one
node, and by every node of a simulation (1,000 nodes then hold one decoded, immutable
``Announcement``, its ``tail`` bytes and its prefix set, not 1,000 copies).

Only successful decodes are cached, keyed by the tail bytes themselves (a hit compares
them in full, so two different packets can never share an entry). A packet that fails
to decode raises ``DecodeError`` as ``decode_announcement`` does, every time. The cache
evicts the least recently used entry beyond ``capacity``. There is no global instance:
the node (or simulation) makes one.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from meshnet.errors import DecodeError
from meshnet.routing.messages import MAX_ANNOUNCEMENT, Announcement, decode_announcement
from meshnet.wire.codes import RoutingPacket

__all__ = ["DEFAULT_DECODER_CAPACITY", "AnnouncementDecoder", "DecoderStatus"]

DEFAULT_DECODER_CAPACITY = 4096
"""Announcements remembered: a few per origin of a 1,000-node mesh."""

_HEADER = 3  # type u8, age u16


@dataclass(frozen=True, slots=True, kw_only=True)
class DecoderStatus:
    """A snapshot of an ``AnnouncementDecoder``'s cache counters."""

    hits: int
    """Decodes answered from the cache."""
    misses: int
    """Packets decoded (successfully or not)."""
    entries: int
    """Announcements held in the cache now."""
    capacity: int
    """The most announcements the cache holds."""


class AnnouncementDecoder:
    """Decodes ANNOUNCE packets, remembering recent results.

    Args:
        capacity: how many announcements to cache; 0 disables the cache.
    """

    __slots__ = ("_cache", "_capacity", "_hits", "_misses")

    def __init__(self, capacity: int = DEFAULT_DECODER_CAPACITY) -> None:
        if capacity < 0:
            raise ValueError("cache capacity must be zero or positive")
        self._capacity = capacity
        self._cache: OrderedDict[bytes, Announcement] = OrderedDict()
        self._hits = 0
        self._misses = 0

    def decode(self, data: bytes) -> tuple[Announcement, int]:
        """``decode_announcement(data)``: the announcement (maybe shared) and its age.

        Raises:
            DecodeError: exactly when ``decode_announcement`` does.
        """
        if len(data) > MAX_ANNOUNCEMENT:
            raise DecodeError(f"announcement of {len(data)} bytes over {MAX_ANNOUNCEMENT}")
        if len(data) > _HEADER and data[0] == RoutingPacket.ANNOUNCE:
            cached = self._cache.get(data[_HEADER:])
            if cached is not None:
                self._hits += 1
                self._cache.move_to_end(cached.tail)
                return cached, int.from_bytes(data[1:_HEADER], "big")
        self._misses += 1
        announcement, age = decode_announcement(data)
        if self._capacity:
            self._cache[announcement.tail] = announcement
            if len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
        return announcement, age

    def status(self) -> DecoderStatus:
        """The cache counters now."""
        return DecoderStatus(
            hits=self._hits,
            misses=self._misses,
            entries=len(self._cache),
            capacity=self._capacity,
        )

    def __repr__(self) -> str:
        return f"AnnouncementDecoder(capacity={self._capacity}, entries={len(self._cache)})"
