"""Hostile handshake input: flipped bytes, wrong lengths, random bytes.

Whatever a peer sends, the only exceptions are ``RemoteError`` subclasses, the
handshake never completes with an altered message, and the party that raised refuses
any further use with ``StateError``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.noise.pairs import handshake_pair, protocol_name, run_handshake

from meshnet.errors import RemoteError, StateError
from meshnet.noise.handshake import HandshakeState

Alter = Callable[[int, bytes], bytes]


def drive(
    initiator: HandshakeState, responder: HandshakeState, alter: Alter
) -> tuple[HandshakeState, RemoteError] | None:
    """Run the handshake passing every message through ``alter``.

    Returns:
        The party that raised and its error, or None if the handshake completed.
    """
    index = 0
    while not (initiator.complete and responder.complete):
        writer, reader = (initiator, responder) if index % 2 == 0 else (responder, initiator)
        try:
            message = writer.write_message(b"payload")
        except RemoteError as exc:
            return writer, exc
        try:
            reader.read_message(alter(index, message))
        except RemoteError as exc:
            return reader, exc
        index += 1
    return None


def assert_fails_cleanly(name: str, alter: Alter) -> None:
    outcome = drive(*handshake_pair(name), alter)
    assert outcome is not None, "an altered handshake completed"
    party, _ = outcome
    assert party.failed
    with pytest.raises(StateError):
        party.write_message(b"")
    with pytest.raises(StateError):
        party.read_message(b"")
    with pytest.raises(StateError):
        party.split()


def _sizes(name: str) -> list[int]:
    return [len(m) for m in run_handshake(*handshake_pair(name), lambda i: b"payload")]


def _positions(size: int, every: bool) -> list[int]:
    if every:
        return list(range(size))
    # Hybrid messages run to 1.2 KB: both ends in full, a stride through the middle.
    return sorted(
        set(range(min(size, 48))) | set(range(max(0, size - 48), size)) | set(range(0, size, 17))
    )


FLIP_CASES = [
    (protocol_name("XX"), True),
    (protocol_name("IK", 1), True),
    (protocol_name("NNpsk0+psk2", 2), True),
    (protocol_name("X1K1", 3), True),
    (protocol_name("X"), True),
    (protocol_name("XXhfs"), False),
    (protocol_name("IKhfs", 1), False),
]


@pytest.mark.parametrize(("name", "every"), FLIP_CASES)
def test_flipping_any_byte_of_any_message_fails_cleanly(name: str, every: bool) -> None:
    for number, size in enumerate(_sizes(name)):
        for position in _positions(size, every):

            def flip(
                i: int, message: bytes, number: int = number, position: int = position
            ) -> bytes:
                if i != number:
                    return message
                changed = bytearray(message)
                changed[position] ^= 0x01
                return bytes(changed)

            assert_fails_cleanly(name, flip)


@pytest.mark.parametrize("name", [protocol_name("XX"), protocol_name("IKhfs"), protocol_name("N")])
def test_every_wrong_length_fails_cleanly(name: str) -> None:
    for number, size in enumerate(_sizes(name)):
        for length in [*range(0, size, 1 if size < 200 else 7), size + 1, size + 16, 65535, 65536]:

            def resize(i: int, message: bytes, number: int = number, length: int = length) -> bytes:
                if i != number:
                    return message
                return message[:length] + bytes(max(0, length - len(message)))

            assert_fails_cleanly(name, resize)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from([protocol_name("XX"), protocol_name("IK", 1), protocol_name("XXhfs")]),
    number=st.integers(min_value=0, max_value=2),
    garbage=st.binary(max_size=1500),
)
def test_random_bytes_fail_cleanly(name: str, number: int, garbage: bytes) -> None:
    number = number % len(_sizes(name))

    def replace(i: int, message: bytes) -> bytes:
        return garbage if i == number else message

    assert_fails_cleanly(name, replace)


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=200))
def test_garbage_as_the_first_message_of_every_suite(data: bytes) -> None:
    for suite in range(4):
        _, responder = handshake_pair(protocol_name("XX", suite))
        try:
            responder.read_message(data)
        except RemoteError:
            assert responder.failed
            with pytest.raises(StateError):
                responder.write_message()
        else:
            # XX message 1 is e plus a cleartext payload: any 32+ bytes parse.
            assert len(data) >= responder.protocol.dh.DHLEN
