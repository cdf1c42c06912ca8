"""The identity payload codec: round trips, size limits, truncation, versions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity
from meshnet.errors import DecodeError
from meshnet.noise.payload import (
    MAX_EXTENSION,
    PAYLOAD_VERSION,
    HandshakePayload,
    Role,
    signing_input,
)
from meshnet.wire.buffer import MAX_VARINT, Writer

IDENTITY = Identity.generate(SeededEntropy(3, "payload"), created=1_700_000_000)


def _payload(capabilities: int = 0, extension: bytes = b"") -> HandshakePayload:
    return HandshakePayload(
        version=PAYLOAD_VERSION,
        capabilities=capabilities,
        record=IDENTITY.record,
        signature=bytes(range(64)),
        extension=extension,
    )


@settings(max_examples=100, deadline=None)
@given(
    capabilities=st.integers(min_value=0, max_value=MAX_VARINT),
    extension=st.binary(max_size=MAX_EXTENSION),
)
def test_round_trip(capabilities: int, extension: bytes) -> None:
    payload = _payload(capabilities, extension)
    assert HandshakePayload.decode(payload.encode()) == payload


def test_every_truncation_and_any_trailing_byte_is_refused() -> None:
    encoded = _payload(5, b"ext").encode()
    for length in range(len(encoded)):
        with pytest.raises(DecodeError):
            HandshakePayload.decode(encoded[:length])
    with pytest.raises(DecodeError, match="trailing"):
        HandshakePayload.decode(encoded + b"\x00")


def test_size_limits() -> None:
    over = (
        Writer()
        .u8(1)
        .varint(0)
        .blob(IDENTITY.record.encode())
        .raw(bytes(64))
        .blob(bytes(MAX_EXTENSION + 1))
    )
    with pytest.raises(DecodeError, match="over limit"):
        HandshakePayload.decode(bytes(over))
    long_record = Writer().u8(1).varint(0).blob(IDENTITY.record.encode() + b"x")
    with pytest.raises(DecodeError, match="over limit"):
        HandshakePayload.decode(bytes(long_record))
    with pytest.raises(ValueError, match="extension"):
        _payload(extension=bytes(MAX_EXTENSION + 1)).encode()


def test_unknown_version_is_refused() -> None:
    encoded = bytearray(_payload().encode())
    encoded[0] = 2
    with pytest.raises(DecodeError, match="version 2"):
        HandshakePayload.decode(bytes(encoded))


def test_signing_input_is_domain_role_hash() -> None:
    h = bytes(range(32))
    assert signing_input(Role.INITIATOR, h) == b"meshnet-handshake-v1I" + h
    assert signing_input(Role.RESPONDER, h) == b"meshnet-handshake-v1R" + h
