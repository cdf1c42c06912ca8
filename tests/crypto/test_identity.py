"""Identity and IdentityRecord: generation, record codec and signature, key bytes, secrecy."""

from __future__ import annotations

import base64
import copy
import hashlib
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import (
    IDENTITY_RECORD_SIZE,
    KEY_FILE_MAGIC,
    KEY_FILE_SIZE,
    RECORD_SIGNATURE_DOMAIN,
    Identity,
    IdentityRecord,
    NodeId,
    SignatureVerifier,
)
from meshnet.crypto.keys import base32_encode
from meshnet.crypto.primitives import ed25519_verify
from meshnet.errors import AuthenticationError, DecodeError, KeyFileError

CREATED = 1_795_000_000


def _identity(label: str = "n1", created: int = CREATED) -> Identity:
    return Identity.generate(SeededEntropy(1, label), created=created)


def test_generation_is_deterministic_under_seeded_entropy() -> None:
    assert _identity("a").node_id == _identity("a").node_id
    assert _identity("a").record == _identity("a").record
    assert _identity("a").node_id != _identity("b").node_id


def test_keys_come_from_the_entropy_stream() -> None:
    entropy = SeededEntropy(9)
    expected = SeededEntropy(9).random_bytes(64)
    identity = Identity.generate(entropy, created=0)
    same = Identity(signing_seed=expected[:32], static_private=expected[32:], created=0)
    assert identity.node_id == same.node_id
    assert identity.static_private_bytes() == expected[32:]


def test_record_is_signed_at_generation_and_verifies_from_the_node_id() -> None:
    identity = _identity()
    record = identity.record
    assert record.node_id == identity.node_id
    assert record.static_public == identity.static_public
    assert record.created == identity.created == CREATED
    record.verify(SignatureVerifier())
    assert record.signed_data().startswith(RECORD_SIGNATURE_DOMAIN)
    assert ed25519_verify(record.node_id.raw, record.signature, record.signed_data())


def test_sign_produces_signatures_the_node_id_verifies() -> None:
    identity = _identity()
    signature = identity.sign(b"announce")
    assert SignatureVerifier().verify(identity.node_id, signature, b"announce")
    assert not SignatureVerifier().verify(_identity("x").node_id, signature, b"announce")


def test_record_codec_round_trip_and_layout() -> None:
    record = _identity().record
    data = record.encode()
    assert len(data) == IDENTITY_RECORD_SIZE == 137
    assert data[0] == 1
    assert data[1:33] == record.node_id.raw
    assert data[33:65] == record.static_public
    assert int.from_bytes(data[65:73], "big") == CREATED
    assert data[73:] == record.signature
    assert IdentityRecord.decode(data) == record
    assert IdentityRecord.decode(memoryview(data)) == record


@given(
    node=st.binary(min_size=32, max_size=32),
    static=st.binary(min_size=32, max_size=32),
    created=st.integers(0, 2**64 - 1),
    signature=st.binary(min_size=64, max_size=64),
)
def test_record_codec_round_trips_any_field_values(
    node: bytes, static: bytes, created: int, signature: bytes
) -> None:
    record = IdentityRecord(
        node_id=NodeId(node), static_public=static, created=created, signature=signature
    )
    assert IdentityRecord.decode(record.encode()) == record


def test_record_decode_is_strict() -> None:
    data = _identity().record.encode()
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            IdentityRecord.decode(data[:cut])
    with pytest.raises(DecodeError):
        IdentityRecord.decode(data + b"\x00")
    with pytest.raises(DecodeError, match="version"):
        IdentityRecord.decode(b"\x02" + data[1:])


@settings(max_examples=50)
@given(position=st.integers(0, IDENTITY_RECORD_SIZE - 1), flip=st.integers(1, 255))
def test_any_tampering_breaks_the_record(position: int, flip: int) -> None:
    data = bytearray(_identity().record.encode())
    data[position] ^= flip
    try:
        record = IdentityRecord.decode(bytes(data))
    except DecodeError:
        assert position == 0  # only the version byte makes it unparsable
        return
    with pytest.raises(AuthenticationError, match="invalid signature"):
        record.verify(SignatureVerifier())


def test_record_cannot_be_moved_to_another_node_id() -> None:
    mine, theirs = _identity("me"), _identity("them")
    forged = IdentityRecord(
        node_id=theirs.node_id,
        static_public=mine.static_public,
        created=CREATED,
        signature=mine.sign(
            IdentityRecord.signing_input(theirs.node_id, mine.static_public, CREATED)
        ),
    )
    with pytest.raises(AuthenticationError):
        forged.verify(SignatureVerifier())


def test_record_constructor_checks_sizes() -> None:
    record = _identity().record
    with pytest.raises(ValueError):
        IdentityRecord(
            node_id=record.node_id, static_public=b"x", created=0, signature=record.signature
        )
    with pytest.raises(ValueError):
        IdentityRecord(
            node_id=record.node_id, static_public=record.static_public, created=0, signature=b""
        )
    with pytest.raises(ValueError):
        IdentityRecord(
            node_id=record.node_id,
            static_public=record.static_public,
            created=-1,
            signature=record.signature,
        )


def test_key_bytes_round_trip() -> None:
    identity = _identity()
    data = identity.to_bytes()
    assert len(data) == KEY_FILE_SIZE == 114
    assert data.startswith(KEY_FILE_MAGIC)
    again = Identity.from_bytes(data)
    assert again.node_id == identity.node_id
    assert again.record == identity.record
    assert again.static_private_bytes() == identity.static_private_bytes()
    assert again.to_bytes() == data


def test_key_bytes_truncated_at_every_length() -> None:
    data = _identity().to_bytes()
    with pytest.raises(KeyFileError, match="empty"):
        Identity.from_bytes(b"")
    for cut in range(1, len(data)):
        with pytest.raises(KeyFileError, match="truncated"):
            Identity.from_bytes(data[:cut])


@settings(max_examples=60)
@given(position=st.integers(8 + 2, KEY_FILE_SIZE - 1), flip=st.integers(1, 255))
def test_key_bytes_corruption_is_detected(position: int, flip: int) -> None:
    data = bytearray(_identity().to_bytes())
    data[position] ^= flip
    with pytest.raises(KeyFileError, match="corrupted"):
        Identity.from_bytes(bytes(data))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n", "PEM"),
        (b"openssh-key-v1\x00\x00\x00", "SSH"),
        (b"node_id = 'abc'\nport = 4000\n", "text file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "unknown format"),
        (b"\x00\x01\x02\xff" * 40, "unknown format"),
        (b"\x01\x02\x03binary\x00", "unknown format"),
    ],
)
def test_foreign_files_are_named(data: bytes, reason: str) -> None:
    with pytest.raises(KeyFileError, match=reason):
        Identity.from_bytes(data)


def test_wrong_version_kind_and_length() -> None:
    data = bytearray(_identity().to_bytes())
    with pytest.raises(KeyFileError, match="version 7 is not supported"):
        Identity.from_bytes(bytes(data[:8]) + b"\x07" + bytes(data[9:]))
    with pytest.raises(KeyFileError, match="another kind"):
        Identity.from_bytes(bytes(data[:9]) + b"\x05" + bytes(data[10:]))
    with pytest.raises(KeyFileError, match="corrupted"):
        Identity.from_bytes(bytes(data) + b"\n")


def _encodings(secret: bytes) -> list[str]:
    return [
        secret.hex(),
        secret.hex().upper(),
        base32_encode(secret),
        base64.b64encode(secret).decode().rstrip("="),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
        repr(secret)[2:-1],
    ]


def test_secrets_never_appear_in_repr_str_errors_or_pickles() -> None:
    identity = _identity()
    key_file = identity.to_bytes()
    secrets = [key_file[18:50], identity.static_private_bytes()]
    texts = [repr(identity), str(identity), f"{identity}", repr([identity])]
    for mutate in (lambda d: d[:-1], lambda d: d + b"x", lambda d: d[:-1] + b"\x00"):
        with pytest.raises(KeyFileError) as info:
            Identity.from_bytes(mutate(key_file))
        texts.append(str(info.value))
        texts.append(repr(info.value))
    with pytest.raises(TypeError) as pickled:
        pickle.dumps(identity)
    texts.append(str(pickled.value))
    for text in texts:
        for secret in secrets:
            for encoded in _encodings(secret):
                assert encoded not in text
    assert identity.node_id.short() in repr(identity)


def test_copies_are_the_same_immutable_object() -> None:
    identity = _identity()
    assert copy.copy(identity) is identity
    assert copy.deepcopy({"id": identity})["id"] is identity


def test_constructor_checks_inputs() -> None:
    with pytest.raises(ValueError):
        Identity(signing_seed=bytes(31), static_private=bytes(32), created=0)
    with pytest.raises(ValueError):
        Identity(signing_seed=bytes(32), static_private=bytes(33), created=0)
    with pytest.raises(ValueError):
        Identity(signing_seed=bytes(32), static_private=bytes(32), created=2**64)


def test_record_matches_the_documented_layout_from_known_keys() -> None:
    # docs/protocol/identity.md §2, built from RFC 8032 / RFC 7748 test keys and checked
    # with `cryptography` directly, not through our wrappers.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    seed = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
    ed_public = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
    x_private = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    x_public = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    identity = Identity(signing_seed=seed, static_private=x_private, created=0x01020304)
    encoded = identity.record.encode()
    assert encoded[:73] == b"\x01" + ed_public + x_public + bytes.fromhex("0000000001020304")
    signed = b"meshnet identity record v1\x00" + ed_public + x_public + encoded[65:73]
    Ed25519PublicKey.from_public_bytes(ed_public).verify(encoded[73:], signed)
    key_file = identity.to_bytes()
    assert key_file[:18] == b"meshnet\x00\x01\x01" + bytes.fromhex("0000000001020304")
    assert key_file[18:82] == seed + x_private
    assert key_file[82:] == hashlib.sha256(b"meshnet key file v1\x00" + key_file[:82]).digest()


@given(st.binary(max_size=2 * IDENTITY_RECORD_SIZE))
def test_record_decode_of_arbitrary_bytes_only_raises_decode_error(data: bytes) -> None:
    try:
        record = IdentityRecord.decode(data)
    except DecodeError:
        return
    assert record.encode() == data
    with pytest.raises(AuthenticationError):
        record.verify(SignatureVerifier(capacity=0))


@settings(max_examples=50)
@given(st.binary(max_size=3 * KEY_FILE_SIZE))
def test_key_bytes_from_arbitrary_data_only_raise_key_file_error(data: bytes) -> None:
    with pytest.raises(KeyFileError):
        Identity.from_bytes(data)
