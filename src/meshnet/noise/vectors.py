"""Run Noise test vectors in the JSON format of the Noise wiki (cacophony, snow, ...).

A vector names a protocol and fixes every input: prologues, static and ephemeral
private keys, pre-known remote static keys, PSKs, and a list of messages, each a
payload and the expected ciphertext. The first messages are the handshake (both sides
run it in this process and every ciphertext must match); the rest are transport
messages. Roles alternate from the initiator for every message, handshake and
transport alike; after a one-way pattern (``N``, ``K``, ``X``) every message goes from
initiator to responder. The final handshake hash must match on both sides.

``check_vector`` and ``run_vectors`` are pure (text in, outcomes out). The command
line ``python -m meshnet.noise.vectors FILE`` reads the file, prints one line per
failure (and per skip, naming the primitive we lack), then exactly
``N passed, M failed, K skipped``, and exits 1 if anything failed.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from meshnet.errors import MeshnetError
from meshnet.noise.handshake import HandshakeState
from meshnet.noise.protocol import NoiseProtocol, unsupported_parts

__all__ = [
    "Outcome",
    "VectorResult",
    "check_vector",
    "load_vectors",
    "main",
    "run_vectors",
    "summary_line",
]


class Outcome(enum.Enum):
    """What running one vector gave."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True, kw_only=True)
class VectorResult:
    """The outcome of one vector."""

    index: int
    """Position of the vector in the file (0-based)."""
    protocol_name: str
    """The vector's protocol name."""
    outcome: Outcome
    """Passed, failed or skipped."""
    reason: str = ""
    """Why it failed (the first mismatch) or was skipped (the primitive we lack)."""


def load_vectors(text: str) -> list[Mapping[str, object]]:
    """Parse a vector file: ``{"vectors": [...]}`` or a bare list of vectors.

    Raises:
        ValueError: the text is not JSON of that shape.
    """
    data = json.loads(text)
    vectors = data.get("vectors") if isinstance(data, dict) else data
    if not isinstance(vectors, list) or not all(isinstance(v, dict) for v in vectors):
        raise ValueError("expected a JSON list of vectors or {'vectors': [...]}")
    return vectors


def _hex(vector: Mapping[str, object], key: str) -> bytes | None:
    value = vector.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} is not a hex string")
    return bytes.fromhex(value)


def _hex_list(vector: Mapping[str, object], key: str) -> list[bytes]:
    value = vector.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} is not a list of hex strings")
    return [bytes.fromhex(v) for v in value]


def _party(protocol: NoiseProtocol, vector: Mapping[str, object], prefix: str) -> HandshakeState:
    return HandshakeState(
        protocol=protocol,
        initiator=prefix == "init",
        prologue=_hex(vector, f"{prefix}_prologue") or b"",
        s=_hex(vector, f"{prefix}_static"),
        e=_hex(vector, f"{prefix}_ephemeral"),
        rs=_hex(vector, f"{prefix}_remote_static"),
        re=_hex(vector, f"{prefix}_remote_ephemeral"),
        psks=_hex_list(vector, f"{prefix}_psks"),
    )


def check_vector(vector: Mapping[str, object]) -> str | None:
    """Run one vector; return None if everything matched, else the first mismatch.

    Raises:
        ConfigError: the protocol name is malformed or names something unimplemented
            (call ``unsupported_parts`` first to skip those).
        ValueError: the vector is malformed (a key of the wrong size, bad hex).
    """
    protocol = NoiseProtocol.from_name(str(vector["protocol_name"]))
    initiator, responder = _party(protocol, vector, "init"), _party(protocol, vector, "resp")
    messages = vector.get("messages", [])
    if not isinstance(messages, Sequence):
        raise ValueError("messages is not a list")
    one_way = protocol.pattern.one_way
    for number, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise ValueError(f"message {number} is not an object")
        payload = _hex(message, "payload") or b""
        expected = _hex(message, "ciphertext") or b""
        from_initiator = one_way or number % 2 == 0
        sender, receiver = (initiator, responder) if from_initiator else (responder, initiator)
        if not initiator.complete:
            ciphertext = sender.write_message(payload)
            if ciphertext != expected:
                return f"handshake message {number}: ciphertext differs"
            if receiver.read_message(ciphertext) != payload:
                return f"handshake message {number}: payload differs after reading"
            if initiator.complete != responder.complete:
                return f"handshake message {number}: only one side completed"
            if initiator.complete:
                mismatch = _check_hash(vector, initiator, responder)
                if mismatch:
                    return mismatch
            continue
        send_index = 0 if from_initiator else 1
        ciphertext = sender.split()[send_index].encrypt_with_ad(b"", payload)
        if ciphertext != expected:
            return f"transport message {number}: ciphertext differs"
        if receiver.split()[send_index].decrypt_with_ad(b"", ciphertext) != payload:
            return f"transport message {number}: payload differs after decrypting"
    if not initiator.complete:
        return "the vector ended before the handshake completed"
    return None


def _check_hash(
    vector: Mapping[str, object], initiator: HandshakeState, responder: HandshakeState
) -> str | None:
    expected = _hex(vector, "handshake_hash")
    if initiator.get_handshake_hash() != responder.get_handshake_hash():
        return "the two sides' handshake hashes differ"
    if expected is not None and initiator.get_handshake_hash() != expected:
        return "handshake hash differs from the vector's"
    return None


def run_vectors(vectors: Sequence[Mapping[str, object]]) -> list[VectorResult]:
    """Run every vector, catching every failure into its result."""
    results = []
    for index, vector in enumerate(vectors):
        name = str(vector.get("protocol_name", ""))
        try:
            missing = unsupported_parts(name)
            if missing:
                outcome, reason = Outcome.SKIPPED, "unsupported " + ", ".join(missing)
            else:
                mismatch = check_vector(vector)
                outcome = Outcome.FAILED if mismatch else Outcome.PASSED
                reason = mismatch or ""
        except (MeshnetError, ValueError, KeyError) as exc:
            outcome, reason = Outcome.FAILED, f"{type(exc).__name__}: {exc}"
        results.append(
            VectorResult(index=index, protocol_name=name, outcome=outcome, reason=reason)
        )
    return results


def summary_line(results: Sequence[VectorResult]) -> str:
    """``N passed, M failed, K skipped``."""
    count = {o: sum(r.outcome is o for r in results) for o in Outcome}
    return (
        f"{count[Outcome.PASSED]} passed, {count[Outcome.FAILED]} failed, "
        f"{count[Outcome.SKIPPED]} skipped"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m meshnet.noise.vectors FILE``; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m meshnet.noise.vectors FILE", file=sys.stderr)
        return 2
    try:
        vectors = load_vectors(Path(args[0]).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"cannot read vectors from {args[0]}: {exc}", file=sys.stderr)
        return 2
    results = run_vectors(vectors)
    for result in results:
        if result.outcome is not Outcome.PASSED:
            label = "FAIL" if result.outcome is Outcome.FAILED else "SKIP"
            print(f"{label} #{result.index} {result.protocol_name}: {result.reason}")
    print(summary_line(results))
    return 1 if any(r.outcome is Outcome.FAILED for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
