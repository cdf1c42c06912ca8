"""Every vector of the public cacophony file, and the vector runner's own behaviour."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from meshnet.noise.vectors import (
    Outcome,
    check_vector,
    load_vectors,
    main,
    run_vectors,
    summary_line,
)

# /work/shared beside the repository (CI checks shared/ out next to the repo as well).
VECTOR_FILE = Path(__file__).resolve().parents[2].parent / "shared/testvectors/noise/cacophony.txt"
VECTORS = load_vectors(VECTOR_FILE.read_text(encoding="utf-8"))


def test_the_file_holds_every_cacophony_vector() -> None:
    assert len(VECTORS) == 944


@pytest.mark.parametrize(
    "vector",
    VECTORS,
    ids=[f"{i}-{v['protocol_name']}" for i, v in enumerate(VECTORS)],
)
def test_cacophony_vector(vector: Mapping[str, object]) -> None:
    assert check_vector(vector) is None


def _first(name: str) -> dict[str, object]:
    return copy.deepcopy(dict(next(v for v in VECTORS if v["protocol_name"] == name)))


def _flip_ciphertext(vector: dict[str, object], number: int) -> None:
    messages = vector["messages"]
    assert isinstance(messages, list)
    ciphertext = bytearray.fromhex(messages[number]["ciphertext"])
    ciphertext[-1] ^= 1
    messages[number]["ciphertext"] = ciphertext.hex()


def test_a_wrong_handshake_ciphertext_is_reported() -> None:
    vector = _first("Noise_XX_25519_ChaChaPoly_BLAKE2s")
    _flip_ciphertext(vector, 1)
    assert check_vector(vector) == "handshake message 1: ciphertext differs"


def test_a_wrong_transport_ciphertext_is_reported() -> None:
    vector = _first("Noise_NN_25519_AESGCM_SHA256")
    _flip_ciphertext(vector, 3)
    assert check_vector(vector) == "transport message 3: ciphertext differs"


def test_a_wrong_handshake_hash_is_reported() -> None:
    vector = _first("Noise_IK_448_ChaChaPoly_BLAKE2b")
    vector["handshake_hash"] = "00" * 64
    assert check_vector(vector) == "handshake hash differs from the vector's"


def test_one_way_transport_messages_all_go_to_the_responder() -> None:
    vector = _first("Noise_X_25519_ChaChaPoly_SHA256")
    messages = vector["messages"]
    assert isinstance(messages, list) and len(messages) > 2
    assert check_vector(vector) is None


def test_runner_counts_skips_with_the_missing_primitive_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _first("Noise_NN_25519_ChaChaPoly_BLAKE2s")
    bad = _first("Noise_NN_25519_ChaChaPoly_SHA256")
    _flip_ciphertext(bad, 0)
    skipped = _first("Noise_NN_25519_ChaChaPoly_BLAKE2s")
    skipped["protocol_name"] = "Noise_NN_25519_ChaChaPoly_SHA3/256"
    results = run_vectors([good, bad, skipped])
    assert [r.outcome for r in results] == [Outcome.PASSED, Outcome.FAILED, Outcome.SKIPPED]
    assert "SHA3/256" in results[2].reason
    assert summary_line(results) == "1 passed, 1 failed, 1 skipped"

    path = tmp_path / "vectors.json"
    path.write_text(json.dumps({"vectors": [good, bad, skipped]}))
    assert main([str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "1 passed, 1 failed, 1 skipped"
    assert lines[0].startswith("FAIL #1 Noise_NN_25519_ChaChaPoly_SHA256")
    assert lines[1].startswith("SKIP #2") and "hash 'SHA3/256'" in lines[1]


def test_runner_exits_zero_when_everything_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "vectors.json"
    path.write_text(json.dumps([_first("Noise_XXpsk3_25519_AESGCM_SHA512")]))
    assert main([str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == ["1 passed, 0 failed, 0 skipped"]


def test_a_malformed_vector_fails_instead_of_crashing() -> None:
    vector = _first("Noise_NK_25519_ChaChaPoly_BLAKE2s")
    vector["init_remote_static"] = "abcd"
    (result,) = run_vectors([vector])
    assert result.outcome is Outcome.FAILED
    assert "'rs' must be 32 bytes" in result.reason


def test_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    assert main([str(tmp_path / "missing.json")]) == 2
    assert main([]) == 2
