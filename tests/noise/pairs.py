"""Two HandshakeStates joined in memory (h11's ConnectionPair idea), with the keys a
pattern needs drawn from a seed."""

from __future__ import annotations

from collections.abc import Callable

from meshnet.crypto.entropy import SeededEntropy
from meshnet.noise.handshake import HandshakeState
from meshnet.noise.patterns import Token
from meshnet.noise.protocol import NoiseProtocol

SUITES = [
    ("25519", "ChaChaPoly", "BLAKE2s"),
    ("448", "AESGCM", "SHA512"),
    ("25519", "AESGCM", "SHA256"),
    ("448", "ChaChaPoly", "BLAKE2b"),
]


def protocol_name(pattern: str, suite_index: int = 0) -> str:
    dh, cipher, hash_name = SUITES[suite_index % len(SUITES)]
    if "hfs" in pattern:
        dh += "+MLKEM768"
    return f"Noise_{pattern}_{dh}_{cipher}_{hash_name}"


def handshake_pair(
    name: str | NoiseProtocol, *, seed: int = 1, prologue: bytes = b"meshnet test"
) -> tuple[HandshakeState, HandshakeState]:
    """An initiator and a responder for ``name`` with exactly the keys it needs."""
    protocol = NoiseProtocol.from_name(name) if isinstance(name, str) else name
    pattern, dh = protocol.pattern, protocol.dh
    entropy = SeededEntropy(seed, "keys")
    i_static = dh.generate_keypair(entropy)
    r_static = dh.generate_keypair(entropy)
    psks = [entropy.random_bytes(32) for _ in range(pattern.psk_count)]
    initiator_known = Token.S in pattern.responder_premessage
    responder_known = Token.S in pattern.initiator_premessage
    initiator = HandshakeState(
        protocol=protocol,
        initiator=True,
        prologue=prologue,
        s=i_static if pattern.sends(True, Token.S) else None,
        rs=r_static.public if initiator_known else None,
        psks=psks,
        entropy=SeededEntropy(seed, "initiator"),
    )
    responder = HandshakeState(
        protocol=protocol,
        initiator=False,
        prologue=prologue,
        s=r_static if pattern.sends(False, Token.S) else None,
        rs=i_static.public if responder_known else None,
        psks=psks,
        entropy=SeededEntropy(seed, "responder"),
    )
    return initiator, responder


def run_handshake(
    initiator: HandshakeState,
    responder: HandshakeState,
    payload: Callable[[int], bytes] = lambda i: b"",
    tamper: Callable[[int, bytes], bytes] = lambda i, m: m,
) -> list[bytes]:
    """Drive both sides to completion; return the messages as sent (before tampering)."""
    sent = []
    index = 0
    while not (initiator.complete and responder.complete):
        writer, reader = (initiator, responder) if index % 2 == 0 else (responder, initiator)
        expected = payload(index)
        message = writer.write_message(expected)
        sent.append(message)
        assert reader.read_message(tamper(index, message)) == expected
        index += 1
    return sent
