"""``Headroom``: headers written in front of a packet without copying it."""

from __future__ import annotations

import pytest

from meshnet.wire.headroom import Headroom


def test_prepend_writes_into_the_room_and_keeps_the_buffer() -> None:
    packet = Headroom.allocate(5, room=8)
    packet.view()[:] = b"hello"
    buffer = packet.buffer
    assert packet.prepend(b"ab") and packet.prepend(b"x")
    assert packet.buffer is buffer and len(buffer) == 13  # no new buffer, no resize
    assert bytes(packet) == b"xabhello" and len(packet) == 8 and packet.room == 5


def test_prepend_without_room_changes_nothing() -> None:
    packet = Headroom(bytearray(b"..body"), 2)
    assert not packet.prepend(b"abc")
    assert bytes(packet) == b"body" and packet.room == 2
    assert packet.prepend(b"ab") and bytes(packet) == b"abbody" and packet.room == 0
    assert not packet.prepend(b"z")


def test_a_start_outside_the_buffer_is_refused() -> None:
    with pytest.raises(ValueError):
        Headroom(bytearray(4), 5)
    with pytest.raises(ValueError):
        Headroom(bytearray(4), -1)


def test_a_view_held_elsewhere_does_not_stop_a_prepend() -> None:
    packet = Headroom.allocate(3, room=4)
    held = packet.view()  # the buffer is exported: a resize would raise BufferError
    assert packet.prepend(b"hd")
    assert bytes(held) == bytes(3) and bytes(packet) == b"hd" + bytes(3)
