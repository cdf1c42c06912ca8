"""Protocol names (§8): parsing, resolving function sets, naming unsupported parts."""

from __future__ import annotations

import pytest

from meshnet.errors import ConfigError
from meshnet.noise.functions import MLKEM768Functions, X448Functions
from meshnet.noise.protocol import NoiseProtocol, parse_protocol_name, unsupported_parts


def test_parse_splits_the_four_sections() -> None:
    parsed = parse_protocol_name("Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s")
    assert (parsed.pattern, parsed.dh, parsed.kem, parsed.cipher, parsed.hash) == (
        "XXhfs",
        "25519",
        "MLKEM768",
        "ChaChaPoly",
        "BLAKE2s",
    )
    assert parse_protocol_name("Noise_N_448_AESGCM_SHA512").kem is None


@pytest.mark.parametrize(
    "name",
    [
        "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s",
        "Noise_NNpsk0+psk2_448_AESGCM_SHA512",
        "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s",
        "Noise_IKhfs_25519+MLKEM768_AESGCM_BLAKE2b",
        "Noise_X1X1_448_ChaChaPoly_SHA256",
    ],
)
def test_from_name_round_trips(name: str) -> None:
    protocol = NoiseProtocol.from_name(name)
    assert protocol.name == name


def test_from_name_resolves_function_sets() -> None:
    protocol = NoiseProtocol.from_name("Noise_IKhfs_448+MLKEM768_AESGCM_SHA512")
    assert isinstance(protocol.dh, X448Functions)
    assert isinstance(protocol.kem, MLKEM768Functions)
    assert protocol.hash.HASHLEN == 64
    assert protocol.hash.BLOCKLEN == 128
    assert protocol.cipher.name == "AESGCM"


@pytest.mark.parametrize(
    "name",
    [
        "Noise_XX_25519_ChaChaPoly",
        "Nois_XX_25519_ChaChaPoly_BLAKE2s",
        "Noise_XX_25519+_ChaChaPoly_BLAKE2s",
        "Noise_XX_25519+A+B_ChaChaPoly_BLAKE2s",
        "Noise_XX_25519_Cha-Cha_BLAKE2s",
        "Noise_XX_25519_ChaChaPoly_" + "B" * 250,
    ],
)
def test_malformed_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError):
        NoiseProtocol.from_name(name)


def test_a_kem_goes_with_hfs_and_only_with_it() -> None:
    with pytest.raises(ConfigError, match="needs a KEM"):
        NoiseProtocol.from_name("Noise_XXhfs_25519_ChaChaPoly_BLAKE2s")
    with pytest.raises(ConfigError, match="takes no KEM"):
        NoiseProtocol.from_name("Noise_XX_25519+MLKEM768_ChaChaPoly_BLAKE2s")


def test_unsupported_parts_are_named() -> None:
    assert unsupported_parts("Noise_XX_25519_ChaChaPoly_BLAKE2s") == []
    assert unsupported_parts("Noise_XXfallback_25519_ChaChaPoly_SHA3/256") == [
        "pattern modifier 'fallback'",
        "hash 'SHA3/256'",
    ]
    assert unsupported_parts("Noise_QQ_P256+Kyber512_Deoxys_BLAKE2s") == [
        "handshake pattern 'QQ'",
        "DH 'P256'",
        "KEM 'Kyber512'",
        "cipher 'Deoxys'",
    ]
    with pytest.raises(ConfigError, match="unsupported"):
        NoiseProtocol.from_name("Noise_XX_25519_ChaChaPoly_SHA3/256")
