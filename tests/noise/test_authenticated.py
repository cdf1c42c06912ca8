"""AuthenticatedHandshake: identities proven over XX and IK, hybrid and classic."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshnet.crypto.entropy import SeededEntropy
from meshnet.crypto.identity import Identity, IdentityRecord, SignatureVerifier
from meshnet.errors import (
    AuthenticationError,
    HandshakeError,
    PeerMismatchError,
    RemoteError,
    StateError,
)
from meshnet.noise.authenticated import AuthenticatedHandshake, HandshakeResult, protocol_name
from meshnet.noise.payload import MAX_EXTENSION

CREATED = 1_700_000_000
VERIFIER = SignatureVerifier()


def identity(label: str, seed: int = 1) -> Identity:
    return Identity.generate(SeededEntropy(seed, label), created=CREATED)


ALICE, BOB, CAROL = identity("alice"), identity("bob"), identity("carol")


class Impostor:
    """Presents ``record`` but holds ``static_from``'s X25519 key and signs as ``signer``."""

    def __init__(self, record: IdentityRecord, static_from: Identity, signer: Identity) -> None:
        self.record = record
        self._static = static_from
        self._signer = signer

    @property
    def static_public(self) -> bytes:
        return self._static.static_public

    def static_private_bytes(self) -> bytes:
        return self._static.static_private_bytes()

    def static_private_key(self) -> X25519PrivateKey:
        return self._static.static_private_key()

    def sign(self, data: bytes) -> bytes:
        return self._signer.sign(data)


def make_pair(
    pattern: str = "XX",
    *,
    hybrid: bool = True,
    initiator: Identity | Impostor = ALICE,
    responder: Identity | Impostor = BOB,
    initiator_expects: Identity | None = None,
    responder_expects: Identity | None = None,
    peer_record: IdentityRecord | None = None,
    seed: int = 1,
) -> tuple[AuthenticatedHandshake, AuthenticatedHandshake]:
    common = {"pattern": pattern, "hybrid": hybrid, "prologue": b"test", "verifier": VERIFIER}
    if pattern == "IK" and peer_record is None:
        peer_record = responder.record
    first = AuthenticatedHandshake(
        identity=initiator,  # type: ignore[arg-type]
        initiator=True,
        expected_peer=initiator_expects.node_id if initiator_expects else None,
        peer_record=peer_record,
        extension=b"from initiator",
        capabilities=3,
        entropy=SeededEntropy(seed, "i"),
        **common,  # type: ignore[arg-type]
    )
    second = AuthenticatedHandshake(
        identity=responder,  # type: ignore[arg-type]
        initiator=False,
        expected_peer=responder_expects.node_id if responder_expects else None,
        extension=b"from responder",
        capabilities=5,
        entropy=SeededEntropy(seed, "r"),
        **common,  # type: ignore[arg-type]
    )
    return first, second


def run(
    initiator: AuthenticatedHandshake,
    responder: AuthenticatedHandshake,
    alter: Callable[[int, bytes], bytes] = lambda i, m: m,
) -> list[bytes]:
    messages = []
    index = 0
    while not (initiator.complete and responder.complete):
        writer, reader = (initiator, responder) if index % 2 == 0 else (responder, initiator)
        message = writer.write_message()
        messages.append(message)
        reader.read_message(alter(index, message))
        index += 1
    return messages


def check_results(a: HandshakeResult, b: HandshakeResult) -> None:
    assert a.peer == BOB.node_id and b.peer == ALICE.node_id
    assert a.peer_record == BOB.record and b.peer_record == ALICE.record
    assert (a.peer_extension, b.peer_extension) == (b"from responder", b"from initiator")
    assert (a.peer_capabilities, b.peer_capabilities) == (5, 3)
    assert a.handshake_hash == b.handshake_hash
    assert a.protocol_name == b.protocol_name
    counter, sealed = a.send.encrypt(b"hello bob", b"hdr")
    assert b.receive.decrypt(counter, sealed, b"hdr") == b"hello bob"
    counter, sealed = b.send.encrypt(b"hello alice")
    assert a.receive.decrypt(counter, sealed) == b"hello alice"


@pytest.mark.parametrize("pattern", ["XX", "IK"])
@pytest.mark.parametrize("hybrid", [True, False])
def test_round_trip_proves_both_identities(pattern: str, hybrid: bool) -> None:
    initiator, responder = make_pair(pattern, hybrid=hybrid)
    messages = run(initiator, responder)
    assert len(messages) == (3 if pattern == "XX" else 2)
    assert initiator.complete and responder.complete
    check_results(initiator.result(), responder.result())
    assert initiator.result() is initiator.result()
    assert initiator.result().protocol_name == protocol_name(pattern, hybrid=hybrid)  # type: ignore[arg-type]


def test_protocol_names() -> None:
    assert protocol_name("XX", hybrid=True) == "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s"
    assert protocol_name("IK", hybrid=True) == "Noise_IKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s"
    assert protocol_name("XX", hybrid=False) == "Noise_XX_25519_ChaChaPoly_BLAKE2s"
    assert protocol_name("IK", hybrid=False) == "Noise_IK_25519_ChaChaPoly_BLAKE2s"


def test_signature_covers_domain_role_and_h_before_the_payload() -> None:
    initiator, responder = make_pair("XX")
    responder.read_message(initiator.write_message())
    initiator.read_message(responder.write_message())
    h = initiator._noise.payload_hash
    proof = initiator._peer
    assert proof is not None
    assert proof.signature == BOB.sign(b"meshnet-handshake-v1" + b"R" + h)
    assert initiator.peer == BOB.node_id and responder.peer is None


@pytest.mark.parametrize("pattern", ["XX", "IK"])
def test_a_responder_other_than_expected_is_refused(pattern: str) -> None:
    # CAROL answers; ALICE expects BOB. In IK, CAROL holds BOB's X25519 key (stolen)
    # under her own record, so only the NodeId check can catch her.
    if pattern == "IK":
        carol_with_bobs_key = Identity(
            signing_seed=bytes(32), static_private=BOB.static_private_bytes(), created=CREATED
        )
        initiator, responder = make_pair(
            "IK", responder=carol_with_bobs_key, peer_record=BOB.record
        )
        impostor_id = carol_with_bobs_key.node_id
    else:
        initiator, responder = make_pair("XX", responder=CAROL, initiator_expects=BOB)
        impostor_id = CAROL.node_id
    responder.read_message(initiator.write_message())
    with pytest.raises(PeerMismatchError) as info:
        initiator.read_message(responder.write_message())
    assert str(BOB.node_id) in str(info.value) and str(impostor_id) in str(info.value)
    assert initiator.failed and not initiator.complete
    with pytest.raises(StateError):
        initiator.write_message()
    with pytest.raises(StateError):
        initiator.result()


def test_an_initiator_other_than_expected_is_refused() -> None:
    initiator, responder = make_pair("XX", initiator=CAROL, responder_expects=ALICE)
    responder.read_message(initiator.write_message())
    initiator.read_message(responder.write_message())
    with pytest.raises(PeerMismatchError, match=str(CAROL.node_id)):
        responder.read_message(initiator.write_message())
    assert responder.failed


def test_a_record_for_another_static_key_is_refused() -> None:
    # CAROL replays BOB's genuine record but holds only her own X25519 key.
    impostor = Impostor(BOB.record, static_from=CAROL, signer=CAROL)
    initiator, responder = make_pair("XX", responder=impostor)
    responder.read_message(initiator.write_message())
    with pytest.raises(HandshakeError, match="another static key"):
        initiator.read_message(responder.write_message())


def test_a_stolen_static_key_without_the_signing_key_is_refused() -> None:
    # CAROL stole BOB's X25519 key and replays his record, but cannot sign as BOB.
    impostor = Impostor(BOB.record, static_from=BOB, signer=CAROL)
    initiator, responder = make_pair("XX", responder=impostor)
    responder.read_message(initiator.write_message())
    with pytest.raises(HandshakeError, match="signature"):
        initiator.read_message(responder.write_message())


def test_a_forged_record_is_refused() -> None:
    forged = IdentityRecord(
        node_id=BOB.node_id,
        static_public=CAROL.record.static_public,
        created=CREATED,
        signature=bytes(64),
    )
    impostor = Impostor(forged, static_from=CAROL, signer=CAROL)
    initiator, responder = make_pair("XX", responder=impostor)
    responder.read_message(initiator.write_message())
    with pytest.raises(HandshakeError, match="invalid identity payload"):
        initiator.read_message(responder.write_message())


def test_ik_peer_record_is_checked_up_front() -> None:
    forged = IdentityRecord(
        node_id=BOB.node_id, static_public=BOB.static_public, created=CREATED, signature=bytes(64)
    )
    with pytest.raises(AuthenticationError):
        make_pair("IK", peer_record=forged)
    with pytest.raises(PeerMismatchError):
        make_pair("IK", initiator_expects=CAROL)


def test_ik_initiator_with_a_stale_record_fails_in_noise() -> None:
    # ALICE has CAROL's record but BOB answers: Noise itself fails (es/ss mismatch).
    initiator, responder = make_pair("IK", peer_record=CAROL.record)
    with pytest.raises(HandshakeError):
        responder.read_message(initiator.write_message())
    assert responder.failed


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pattern": "XX", "initiator": True, "peer_record": BOB.record}, "peer_record"),
        ({"pattern": "IK", "initiator": False, "peer_record": BOB.record}, "peer_record"),
        ({"pattern": "IK", "initiator": True}, "peer_record"),
        ({"pattern": "NN", "initiator": True}, "pattern"),
        (
            {"pattern": "XX", "initiator": True, "extension": bytes(MAX_EXTENSION + 1)},
            "extension",
        ),
    ],
)
def test_construction_checks(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        AuthenticatedHandshake(
            identity=ALICE,
            entropy=SeededEntropy(1),
            verifier=VERIFIER,
            **kwargs,  # type: ignore[arg-type]
        )


def test_state_rules() -> None:
    initiator, responder = make_pair("XX", hybrid=False)
    with pytest.raises(StateError):
        initiator.read_message(b"x" * 100)  # our turn to write: nothing is harmed
    assert not initiator.failed and initiator.writes_next
    with pytest.raises(StateError):
        responder.write_message()
    with pytest.raises(StateError, match="not complete"):
        initiator.result()
    run(initiator, responder)
    for side in (initiator, responder):
        with pytest.raises(StateError, match="complete"):
            side.write_message()
        with pytest.raises(StateError, match="complete"):
            side.read_message(b"")
    assert "complete" in repr(initiator)


def test_a_non_empty_payload_where_none_belongs_is_refused() -> None:
    initiator, responder = make_pair("XX", hybrid=False)
    with pytest.raises(HandshakeError, match="empty payload"):
        responder.read_message(initiator.write_message() + b"!")
    assert responder.failed


# -- hostile input -------------------------------------------------------------------


def assert_fails_cleanly(
    initiator: AuthenticatedHandshake,
    responder: AuthenticatedHandshake,
    alter: Callable[[int, bytes], bytes],
) -> None:
    """The altered handshake fails with a RemoteError, and that side is then unusable."""
    index = 0
    sides = (initiator, responder)
    while True:
        writer, reader = sides[index % 2], sides[(index + 1) % 2]
        failing = writer
        try:
            message = writer.write_message()
            failing = reader
            reader.read_message(alter(index, message))
        except RemoteError:
            break
        assert not (initiator.complete and responder.complete), "altered handshake completed"
        index += 1
    assert failing.failed and not failing.complete
    with pytest.raises(StateError):
        failing.write_message()
    with pytest.raises(StateError):
        failing.read_message(b"")
    with pytest.raises(StateError):
        failing.result()


def _sizes(pattern: str, hybrid: bool) -> list[int]:
    return [len(m) for m in run(*make_pair(pattern, hybrid=hybrid))]


@pytest.mark.parametrize(
    ("pattern", "hybrid", "stride"),
    [("XX", False, 1), ("IK", False, 1), ("XX", True, 11), ("IK", True, 11)],
)
def test_flipping_any_byte_fails_cleanly(pattern: str, hybrid: bool, stride: int) -> None:
    for number, size in enumerate(_sizes(pattern, hybrid)):
        positions = set(range(0, size, stride)) | set(range(max(0, size - 300), size))
        for position in sorted(positions):

            def flip(i: int, message: bytes, number: int = number, at: int = position) -> bytes:
                if i != number:
                    return message
                changed = bytearray(message)
                changed[at] ^= 0x80
                return bytes(changed)

            assert_fails_cleanly(*make_pair(pattern, hybrid=hybrid), flip)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from([("XX", True), ("XX", False), ("IK", True), ("IK", False)]),
    number=st.integers(min_value=0, max_value=2),
    cut=st.integers(min_value=0, max_value=4000),
    garbage=st.binary(max_size=64),
    mode=st.sampled_from(["truncate", "extend", "replace"]),
)
def test_hostile_messages_fail_cleanly(
    kind: tuple[str, bool], number: int, cut: int, garbage: bytes, mode: str
) -> None:
    pattern, hybrid = kind
    number %= 3 if pattern == "XX" else 2

    def alter(i: int, message: bytes) -> bytes:
        if i != number:
            return message
        if mode == "truncate":
            return message[: cut % len(message)]
        if mode == "extend":
            return message + garbage + b"\x00"
        return garbage

    assert_fails_cleanly(*make_pair(pattern, hybrid=hybrid), alter)


@pytest.mark.parametrize(
    ("pattern", "hybrid", "sizes"),
    [
        ("XX", True, [1216, 1406, 270]),
        ("XX", False, [32, 302, 270]),
        ("IK", True, [1502, 1358]),
        ("IK", False, [302, 254]),
    ],
)
def test_message_sizes_match_the_protocol_doc(pattern: str, hybrid: bool, sizes: list[int]) -> None:
    """docs/protocol/noise.md §4, for an empty extension and capabilities below 128."""
    common = {"pattern": pattern, "hybrid": hybrid, "verifier": VERIFIER}
    initiator = AuthenticatedHandshake(
        identity=ALICE,
        initiator=True,
        peer_record=BOB.record if pattern == "IK" else None,
        entropy=SeededEntropy(1, "i"),
        **common,  # type: ignore[arg-type]
    )
    responder = AuthenticatedHandshake(
        identity=BOB,
        initiator=False,
        entropy=SeededEntropy(1, "r"),
        **common,  # type: ignore[arg-type]
    )
    assert [len(m) for m in run(initiator, responder)] == sizes


@pytest.mark.parametrize("pattern", ["XX", "IK"])
def test_hybrid_and_classic_peers_never_complete(pattern: str) -> None:
    for initiator_hybrid in (True, False):
        initiator = make_pair(pattern, hybrid=initiator_hybrid)[0]
        responder = make_pair(pattern, hybrid=not initiator_hybrid)[1]
        assert_fails_cleanly(initiator, responder, lambda i, m: m)
