"""HandshakeState: every pattern round-trips; state rules; payload-hash hook; errors."""

from __future__ import annotations

import dataclasses

import pytest
from tests.noise.pairs import handshake_pair, protocol_name, run_handshake

from meshnet.crypto.entropy import SeededEntropy
from meshnet.errors import HandshakeError, StateError
from meshnet.noise.functions import KeyPair, MLKEM768Functions
from meshnet.noise.handshake import MAX_MESSAGE_LEN, HandshakeState
from meshnet.noise.patterns import FUNDAMENTAL, PATTERNS
from meshnet.noise.protocol import NoiseProtocol
from meshnet.noise.symmetric import SymmetricState
from meshnet.noise.transport import TransportCipher


def _pattern_names() -> list[str]:
    names = []
    for base, pattern in sorted(PATTERNS.items()):
        count = len(pattern.messages)
        names += [base, f"{base}psk0", f"{base}psk{count}", f"{base}psk0+psk{count}"]
    names += [f"{base}hfs" for base in sorted(FUNDAMENTAL) if base != "KK"]
    names += ["XXhfs+psk3", "IKhfs+psk0+psk2", "NNpsk0+psk1+psk2", "XXpsk0+psk1+psk2+psk3"]
    return names


PATTERN_NAMES = _pattern_names()


@pytest.mark.parametrize(
    "name",
    [protocol_name(p, i) for i, p in enumerate(PATTERN_NAMES)],
)
def test_every_pattern_round_trips_and_split_keys_agree(name: str) -> None:
    initiator, responder = handshake_pair(name, seed=len(name))
    payloads = SeededEntropy(name, "payloads")

    def payload(i: int) -> bytes:
        return payloads.random_bytes(payloads.random_below(200))

    run_handshake(initiator, responder, payload)
    assert initiator.get_handshake_hash() == responder.get_handshake_hash()
    (i1, i2), (r1, r2) = initiator.split(), responder.split()
    assert (i1.k, i2.k) == (r1.k, r2.k)
    assert i1.k != i2.k
    forward = TransportCipher.from_cipher_state(i1), TransportCipher.from_cipher_state(r1)
    counter, sealed = forward[0].encrypt(b"to responder", b"hdr")
    assert forward[1].decrypt(counter, sealed, b"hdr") == b"to responder"
    if not initiator.protocol.pattern.one_way:
        back = TransportCipher.from_cipher_state(r2), TransportCipher.from_cipher_state(i2)
        counter, sealed = back[0].encrypt(b"to initiator")
        assert back[1].decrypt(counter, sealed) == b"to initiator"


def test_multi_psk_needs_both_psks_to_match() -> None:
    name = protocol_name("NNpsk0+psk2")
    initiator, responder = handshake_pair(name)
    run_handshake(initiator, responder)
    initiator, _ = handshake_pair(name)
    # The responder holds the right first PSK but a wrong second one.
    good = handshake_pair(name)[1]._psks
    responder = HandshakeState(
        protocol=name,
        initiator=False,
        prologue=b"meshnet test",
        psks=[good[0], bytes(32)],
        entropy=SeededEntropy(1, "responder"),
    )
    responder.read_message(initiator.write_message())
    with pytest.raises(HandshakeError):
        initiator.read_message(responder.write_message())


def test_same_seed_same_classic_transcript() -> None:
    name = protocol_name("XX")
    first = run_handshake(*handshake_pair(name, seed=5))
    second = run_handshake(*handshake_pair(name, seed=5))
    other = run_handshake(*handshake_pair(name, seed=6))
    assert first == second
    assert first != other


def test_hybrid_message_sizes() -> None:
    initiator, responder = handshake_pair("Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s")
    sizes = [len(m) for m in run_handshake(initiator, responder)]
    assert sizes == [32 + 1184, 32 + 1088 + 16 + 32 + 16 + 16, 32 + 16 + 16]
    initiator, responder = handshake_pair("Noise_IKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s")
    sizes = [len(m) for m in run_handshake(initiator, responder)]
    assert sizes == [32 + 1184 + 16 + 32 + 16 + 16, 32 + 1088 + 16 + 16]


def test_payload_builder_sees_h_before_the_payload_and_reader_agrees() -> None:
    initiator, responder = handshake_pair(protocol_name("XX"))
    seen: list[bytes] = []

    def build(h: bytes) -> bytes:
        seen.append(h)
        return b"signed:" + h

    responder.read_message(initiator.write_message())
    message = responder.write_message(build)
    assert responder.payload_hash == seen[0]
    assert initiator.read_message(message) == b"signed:" + seen[0]
    assert initiator.payload_hash == seen[0]
    assert initiator.remote_static is not None
    assert initiator.remote_ephemeral is not None


def test_turns_are_enforced_without_harming_the_state() -> None:
    initiator, responder = handshake_pair(protocol_name("NN"))
    assert initiator.writes_next and not responder.writes_next
    with pytest.raises(StateError, match="ours to write"):
        initiator.read_message(b"x" * 48)
    with pytest.raises(StateError, match="ours to read"):
        responder.write_message()
    with pytest.raises(StateError, match="not complete"):
        initiator.split()
    with pytest.raises(StateError, match="not complete"):
        initiator.get_handshake_hash()
    run_handshake(initiator, responder)
    assert initiator.message_index == responder.message_index == 2
    assert not initiator.writes_next and not responder.writes_next
    with pytest.raises(StateError, match="complete"):
        initiator.write_message()
    with pytest.raises(StateError, match="complete"):
        responder.read_message(b"")
    assert initiator.split() is initiator.split()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"protocol": "Noise_XX_25519_ChaChaPoly_BLAKE2s", "initiator": True}, "needs 's'"),
        (
            {"protocol": "Noise_NN_25519_ChaChaPoly_BLAKE2s", "initiator": True, "s": bytes(32)},
            "does not use 's'",
        ),
        ({"protocol": "Noise_NK_25519_ChaChaPoly_BLAKE2s", "initiator": True}, "needs 'rs'"),
        (
            {"protocol": "Noise_NK_25519_ChaChaPoly_BLAKE2s", "initiator": True, "rs": b"x"},
            "'rs' must be 32 bytes",
        ),
        (
            {"protocol": "Noise_NN_25519_ChaChaPoly_BLAKE2s", "initiator": True, "re": bytes(32)},
            "does not use 're'",
        ),
        ({"protocol": "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2s", "initiator": True}, "1 PSKs"),
        (
            {
                "protocol": "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2s",
                "initiator": True,
                "psks": [b"short"],
            },
            "32 bytes",
        ),
        ({"protocol": "Noise_NN_25519_ChaChaPoly_BLAKE2s", "initiator": True}, "entropy"),
        (
            {
                "protocol": "Noise_N_25519_ChaChaPoly_BLAKE2s",
                "initiator": False,
                "s": bytes(32),
                "e": bytes(32),
            },
            "does not use 'e'",
        ),
    ],
)
def test_initialize_refuses_missing_or_unused_keys(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HandshakeState(**kwargs)


def test_fixed_ephemeral_key_pairs_are_used_as_given() -> None:
    protocol = NoiseProtocol.from_name("Noise_NN_25519_ChaChaPoly_BLAKE2s")
    fixed: KeyPair = protocol.dh.keypair(bytes(range(32)))
    initiator = HandshakeState(protocol=protocol, initiator=True, e=fixed)
    assert initiator.write_message()[:32] == fixed.public


def test_an_oversized_payload_is_refused_before_anything_changes() -> None:
    initiator, responder = handshake_pair(protocol_name("NN"))
    with pytest.raises(ValueError, match="65535"):
        initiator.write_message(bytes(MAX_MESSAGE_LEN))
    assert not initiator.failed
    run_handshake(initiator, responder, lambda i: bytes(MAX_MESSAGE_LEN - 32 - 16 * i))


def test_an_oversized_built_payload_fails_the_state() -> None:
    initiator, _ = handshake_pair(protocol_name("NN"))
    with pytest.raises(ValueError, match="65535"):
        initiator.write_message(lambda h: bytes(MAX_MESSAGE_LEN))
    assert initiator.failed
    with pytest.raises(StateError, match="failed"):
        initiator.write_message()


class RecordedKEM(MLKEM768Functions):
    """ML-KEM-768 key pairs, but an encapsulation that replays one ciphertext and output.

    ``cryptography``'s encapsulation draws its own randomness; replaying a fixed pair
    lets a test hold everything but the KEM output constant.
    """

    def __init__(self, ciphertext: bytes, output: bytes) -> None:
        self.ciphertext, self.output = ciphertext, output

    def generate_kem_ciphertext(self, public_key: bytes) -> tuple[bytes, bytes]:
        return self.ciphertext, self.output

    def kem(self, key_pair: KeyPair, ciphertext: bytes) -> bytes:
        assert ciphertext == self.ciphertext
        return self.output


def test_kem_output_alone_changes_the_keys() -> None:
    """Everything fixed (seeded keys, one recorded KEM ciphertext) but the KEM output."""
    base = NoiseProtocol.from_name("Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s")
    ciphertext = bytes(range(256)) * 4 + bytes(64)

    def keys(output: bytes) -> tuple[bytes | None, bytes | None, bytes]:
        protocol = dataclasses.replace(base, kem=RecordedKEM(ciphertext, output))
        initiator, responder = handshake_pair(protocol, seed=9)
        messages = run_handshake(initiator, responder)
        (i1, i2), (r1, r2) = initiator.split(), responder.split()
        assert (i1.k, i2.k) == (r1.k, r2.k)
        return i1.k, i2.k, messages[0] + messages[1][: 32 + 1088 + 16]

    first, second = keys(bytes(32)), keys(b"\x01" + bytes(31))
    assert first[2] == second[2]  # the same bytes on the wire up to the ciphertext
    assert first[0] != second[0] and first[1] != second[1]


def test_hfs_tokens_follow_the_hfs_spec_step_by_step() -> None:
    """NNhfs against the spec steps written out on a bare SymmetricState."""
    kem = RecordedKEM(bytes(range(256)) * 4 + bytes(64), b"\x42" * 32)
    protocol = dataclasses.replace(
        NoiseProtocol.from_name("Noise_NNhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s"), kem=kem
    )
    dh = protocol.dh
    e_i, e_r = dh.keypair(b"\x01" * 32), dh.keypair(b"\x02" * 32)
    initiator = HandshakeState(
        protocol=protocol, initiator=True, prologue=b"P", e=e_i, entropy=SeededEntropy(1, "i")
    )
    responder = HandshakeState(protocol=protocol, initiator=False, prologue=b"P", e=e_r)
    messages = run_handshake(initiator, responder, lambda i: b"payload %d" % i)

    e1 = kem.generate_kem_keypair(SeededEntropy(1, "i"))
    ref = SymmetricState(
        protocol.name.encode(), cipher=protocol.cipher, hash_functions=protocol.hash
    )
    ref.mix_hash(b"P")
    # -> e, e1: e in clear; e1 = EncryptAndHash(KEM public key), in clear (no key yet)
    ref.mix_hash(e_i.public)
    first = e_i.public + ref.encrypt_and_hash(e1.public) + ref.encrypt_and_hash(b"payload 0")
    # <- e, ee, ekem1: EncryptAndHash(ciphertext), then MixKey(kem_output)
    ref.mix_hash(e_r.public)
    ref.mix_key(dh.dh(e_r, e_i.public))
    second = e_r.public + ref.encrypt_and_hash(kem.ciphertext)
    ref.mix_key(kem.output)
    second += ref.encrypt_and_hash(b"payload 1")
    assert messages == [first, second]
    assert initiator.get_handshake_hash() == ref.get_handshake_hash()
    assert [c.k for c in initiator.split()] == [c.k for c in ref.split()]
