"""Full Noise handshakes per second, classic beside hybrid (ML-KEM-768), in one process.

Both sides of every handshake run here, one after the other, so a figure is the number
of whole handshakes (two parties' work each) one core completes per CPU second. Cases:

* ``bare``: ``HandshakeState`` alone, static keys cached as a node caches them;
* ``auth``: ``AuthenticatedHandshake`` with identities, signatures and the shared
  ``SignatureVerifier`` (identity records verify once and are then cached, handshake
  signatures never are: they cover a fresh transcript);
* ``primitives``: the same run's ceiling, only the ``cryptography`` calls a hybrid or
  classic handshake must make (key generation, DH, KEM, Ed25519), in a tight loop.

The figure of merit is hybrid/classic (goal >= 0.70), measured in the same run, rounds
interleaved, best round of each kept. ``--json`` makes the last line one JSON object.

    .venv/bin/python bench/handshake.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519

from machine import machine
from meshnet.crypto.entropy import SystemEntropy
from meshnet.crypto.identity import Identity, SignatureVerifier
from meshnet.noise.authenticated import AuthenticatedHandshake, protocol_name
from meshnet.noise.handshake import HandshakeState
from meshnet.noise.protocol import NoiseProtocol

GOAL = 0.70
ENTROPY = SystemEntropy()


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per CPU second of ``fn``, over at least ``seconds`` of this process's CPU.

    CPU time rather than wall time: other processes on the machine then slow a round
    down without being counted in it.
    """
    calls, start = 0, time.process_time()
    deadline = start + seconds
    while True:
        for _ in range(5):
            fn()
        calls += 5
        now = time.process_time()
        if now >= deadline:
            return calls / (now - start)


# -- cases -------------------------------------------------------------------------------


def bare_case(pattern: str, hybrid: bool) -> Callable[[], object]:
    protocol = NoiseProtocol.from_name(protocol_name(pattern, hybrid=hybrid))  # type: ignore[arg-type]
    i_static = protocol.dh.generate_keypair(ENTROPY)
    r_static = protocol.dh.generate_keypair(ENTROPY)
    rs = r_static.public if pattern == "IK" else None

    def run() -> object:
        initiator = HandshakeState(
            protocol=protocol, initiator=True, s=i_static, rs=rs, entropy=ENTROPY
        )
        responder = HandshakeState(protocol=protocol, initiator=False, s=r_static, entropy=ENTROPY)
        sides = (initiator, responder)
        index = 0
        while not initiator.complete:
            sides[(index + 1) % 2].read_message(sides[index % 2].write_message(b""))
            index += 1
        return initiator.split(), responder.split()

    return run


def auth_case(pattern: str, hybrid: bool) -> Callable[[], object]:
    alice = Identity.generate(ENTROPY, created=1_700_000_000)
    bob = Identity.generate(ENTROPY, created=1_700_000_000)
    verifier = SignatureVerifier()

    def run() -> object:
        initiator = AuthenticatedHandshake(
            identity=alice,
            initiator=True,
            pattern=pattern,  # type: ignore[arg-type]
            hybrid=hybrid,
            peer_record=bob.record if pattern == "IK" else None,
            prologue=b"bench",
            entropy=ENTROPY,
            verifier=verifier,
        )
        responder = AuthenticatedHandshake(
            identity=bob,
            initiator=False,
            pattern=pattern,  # type: ignore[arg-type]
            hybrid=hybrid,
            prologue=b"bench",
            entropy=ENTROPY,
            verifier=verifier,
        )
        sides = (initiator, responder)
        index = 0
        while not (initiator.complete and responder.complete):
            sides[(index + 1) % 2].read_message(sides[index % 2].write_message())
            index += 1
        return initiator.result(), responder.result()

    return run


def primitives_case(pattern: str, hybrid: bool, signatures: bool) -> Callable[[], object]:
    """Only the primitive calls one whole handshake makes (both sides)."""
    dh_count = 3 if pattern == "XX" else 4  # XX: ee es se; IK: es ss ee se (per side)
    static = x25519.X25519PrivateKey.generate()
    peer = x25519.X25519PrivateKey.generate().public_key()
    signer = ed25519.Ed25519PrivateKey.generate()
    signer_public = signer.public_key()
    signature = signer.sign(b"x" * 53)

    def run() -> object:
        out = []
        for _ in range(2):  # each side: an ephemeral key pair, then its DHs
            eph = x25519.X25519PrivateKey.from_private_bytes(ENTROPY.random_bytes(32))
            out.append(eph.public_key().public_bytes_raw())
            for _ in range(dh_count):
                out.append(static.exchange(peer))
        if hybrid:
            kem = mlkem.MLKEM768PrivateKey.from_seed_bytes(ENTROPY.random_bytes(64))
            public = kem.public_key().public_bytes_raw()
            _, ciphertext = mlkem.MLKEM768PublicKey.from_public_bytes(public).encapsulate()
            out.append(kem.decapsulate(ciphertext))
        if signatures:
            for _ in range(2):  # each side signs once and verifies the other once
                out.append(signer.sign(b"x" * 53))
                signer_public.verify(signature, b"x" * 53)
        return out

    return run


def primitive_costs(seconds: float) -> dict[str, float]:
    """Microseconds per call of each primitive a handshake uses (same run)."""
    seed = ENTROPY.random_bytes(64)
    x_bytes = ENTROPY.random_bytes(32)
    x_key = x25519.X25519PrivateKey.from_private_bytes(x_bytes)
    x_peer = x25519.X25519PrivateKey.generate().public_key()
    kem = mlkem.MLKEM768PrivateKey.from_seed_bytes(seed)
    kem_public = kem.public_key().public_bytes_raw()
    _, kem_ciphertext = kem.public_key().encapsulate()
    signer = ed25519.Ed25519PrivateKey.generate()
    signature = signer.sign(b"x" * 53)
    verifier = signer.public_key()
    calls: dict[str, Callable[[], object]] = {
        "x25519 key pair from 32 bytes": lambda: (
            x25519.X25519PrivateKey.from_private_bytes(x_bytes).public_key().public_bytes_raw()
        ),
        "x25519 dh": lambda: x_key.exchange(x_peer),
        "mlkem768 key pair from seed": lambda: (
            mlkem.MLKEM768PrivateKey.from_seed_bytes(seed).public_key().public_bytes_raw()
        ),
        "mlkem768 encapsulate": lambda: mlkem.MLKEM768PublicKey.from_public_bytes(
            kem_public
        ).encapsulate(),
        "mlkem768 decapsulate": lambda: kem.decapsulate(kem_ciphertext),
        "ed25519 sign": lambda: signer.sign(b"x" * 53),
        "ed25519 verify": lambda: verifier.verify(signature, b"x" * 53),
    }
    return {name: 1e6 / rate(fn, seconds) for name, fn in calls.items()}


# -- run ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short rounds (< 1 minute)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args(argv)
    seconds, rounds = (0.4, 3) if args.quick else (1.0, 9)

    cases: dict[str, Callable[[], object]] = {}
    for pattern in ("XX", "IK"):
        for hybrid in (False, True):
            kind = "hybrid" if hybrid else "classic"
            cases[f"bare {pattern} {kind}"] = bare_case(pattern, hybrid)
            cases[f"auth {pattern} {kind}"] = auth_case(pattern, hybrid)
            cases[f"primitives {pattern} {kind}"] = primitives_case(pattern, hybrid, False)
            cases[f"primitives+sig {pattern} {kind}"] = primitives_case(pattern, hybrid, True)
    for fn in cases.values():  # warm up caches (identity records, imports)
        fn()
    best = dict.fromkeys(cases, 0.0)
    for _ in range(rounds):  # interleaved, so drift hits every case alike
        for name, fn in cases.items():
            best[name] = max(best[name], rate(fn, seconds))

    costs = primitive_costs(seconds / 2)
    for _ in range(rounds - 1):
        again = primitive_costs(seconds / 2)
        costs = {name: min(micros, again[name]) for name, micros in costs.items()}

    ratios = {}
    for layer in ("bare", "auth", "primitives", "primitives+sig"):
        for pattern in ("XX", "IK"):
            classic = best[f"{layer} {pattern} classic"]
            ratios[f"{layer} {pattern} hybrid/classic"] = (
                best[f"{layer} {pattern} hybrid"] / classic
            )
    for layer, ceiling in (("bare", "primitives"), ("auth", "primitives+sig")):
        for pattern in ("XX", "IK"):
            for kind in ("classic", "hybrid"):
                measured = best[f"{layer} {pattern} {kind}"]
                ratios[f"{layer} {pattern} {kind}/ceiling"] = (
                    measured / best[f"{ceiling} {pattern} {kind}"]
                )

    print(f"handshakes per CPU second (both sides in one process), best of {rounds} rounds")
    print(f"{'case':<28} {'classic':>10} {'hybrid':>10} {'hybrid/classic':>15}")
    for layer in ("bare", "auth", "primitives", "primitives+sig"):
        for pattern in ("XX", "IK"):
            c, h = best[f"{layer} {pattern} classic"], best[f"{layer} {pattern} hybrid"]
            print(f"{layer + ' ' + pattern:<28} {c:>10.0f} {h:>10.0f} {h / c:>15.2f}")
    print("measured / primitive ceiling:")
    for key, value in ratios.items():
        if key.endswith("/ceiling"):
            print(f"  {key:<36} {value:.2f}")
    print("primitive costs (us per call, best round):")
    for name, micros in costs.items():
        print(f"  {name:<36} {micros:8.1f}")
    goal_met = {
        f"{layer} {p}": ratios[f"{layer} {p} hybrid/classic"] >= GOAL
        for layer in ("bare", "auth")
        for p in ("XX", "IK")
    }
    for case, met in goal_met.items():
        layer, pattern = case.split()
        ceiling = "primitives" if layer == "bare" else "primitives+sig"
        bound = ratios[f"{ceiling} {pattern} hybrid/classic"]
        verdict = "met" if met else f"MISSED (primitives alone reach {bound:.2f})"
        print(f"goal hybrid/classic >= {GOAL}, {case}: {verdict}")
    if args.json:
        print(
            json.dumps(
                {
                    "benchmark": "handshake",
                    "unit": "handshakes per CPU second",
                    "machine": machine(),
                    "quick": args.quick,
                    "rounds": rounds,
                    "seconds_per_round": seconds,
                    "figures": {k: round(v, 1) for k, v in best.items()},
                    "ratios": {k: round(v, 3) for k, v in ratios.items()},
                    "primitive_us": {k: round(v, 1) for k, v in costs.items()},
                    "goal": {"hybrid/classic": GOAL, "met": goal_met},
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
