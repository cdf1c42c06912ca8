"""The caching announcement decoder: same answers as a fresh decode, bounded, hostile-safe."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.routing.test_messages import _simple, announcements

from meshnet.errors import DecodeError
from meshnet.routing.decoder import AnnouncementDecoder
from meshnet.routing.messages import MAX_ANNOUNCEMENT, Announcement, decode_announcement


def _fresh_or_error(data: bytes) -> tuple[Announcement, int] | str:
    try:
        return decode_announcement(data)
    except DecodeError:
        return "error"


def _cached_or_error(decoder: AnnouncementDecoder, data: bytes) -> tuple[Announcement, int] | str:
    try:
        return decoder.decode(data)
    except DecodeError:
        return "error"


@settings(max_examples=40)
@given(announcements(), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_a_cached_decode_equals_a_fresh_one_whatever_the_age(
    announcement: Announcement, first_age: int, second_age: int
) -> None:
    decoder = AnnouncementDecoder()
    first = decoder.decode(announcement.encode(first_age))
    second = decoder.decode(announcement.encode(second_age))
    assert first == decode_announcement(announcement.encode(first_age))
    assert second == decode_announcement(announcement.encode(second_age))
    assert second[0] is first[0]  # one shared object, with its derived bytes
    assert second[0].tail == announcement.encode(0)[3:]
    assert second[0].prefixes == frozenset(e.prefix for e in announcement.neighbours)
    assert decoder.status().hits == 1 and decoder.status().misses == 1


@settings(max_examples=200)
@given(st.integers(0, 400), st.integers(0, 255))
def test_mutated_packets_get_the_fresh_answer_after_the_good_one_is_cached(
    position: int, value: int
) -> None:
    decoder = AnnouncementDecoder()
    good = _simple().encode(9)
    decoder.decode(good)
    data = bytearray(good)
    data[position % len(data)] = value
    assert _cached_or_error(decoder, bytes(data)) == _fresh_or_error(bytes(data))


def test_bad_packets_raise_every_time_and_are_never_cached() -> None:
    decoder = AnnouncementDecoder()
    good = _simple().encode(0)
    bad = [good[:-1], good + b"x", b"\x21" + good[1:], b"", good[:3], bytes(MAX_ANNOUNCEMENT + 1)]
    for _ in range(2):
        for data in bad:
            with pytest.raises(DecodeError):
                decoder.decode(data)
    assert decoder.status().entries == 0 and decoder.status().hits == 0


def test_the_cache_is_bounded_and_forgets_the_least_recently_used() -> None:
    decoder = AnnouncementDecoder(capacity=2)
    one, two, three = (_simple(sequence=n).encode(0) for n in (1, 2, 3))
    decoder.decode(one)
    decoder.decode(two)
    decoder.decode(one)  # a hit: two is now the least recently used
    decoder.decode(three)
    assert decoder.status().entries == 2
    decoder.decode(one)
    assert decoder.status().hits == 2
    decoder.decode(two)  # evicted: decoded again
    assert decoder.status().misses == 4 and decoder.status().entries == 2


def test_capacity_zero_decodes_every_time() -> None:
    decoder = AnnouncementDecoder(capacity=0)
    data = _simple().encode(0)
    assert decoder.decode(data) == decoder.decode(data) == decode_announcement(data)
    assert decoder.status().hits == 0 and decoder.status().entries == 0
    with pytest.raises(ValueError):
        AnnouncementDecoder(capacity=-1)
