"""Transport encryption throughput: TransportCipher beside the raw cryptography AEAD.

For each cipher (ChaChaPoly, AESGCM) and message size (1 KiB, 16 KiB, 64 KiB), one
operation is *seal then open* the same buffer with a 13-byte header as associated data
(the link layer's TRANSPORT header):

* ``transport``: ``TransportCipher.encrypt`` then ``TransportCipher.decrypt`` with the
  returned counter: everything the link layer calls per frame;
* ``raw``: the ceiling, in the same run on the same buffers: ``cryptography``'s
  ``ChaCha20Poly1305``/``AESGCM`` ``encrypt`` then ``decrypt`` with a fixed nonce.

Figures are MiB of plaintext per CPU second (sealed and opened), best of the rounds,
rounds interleaved. The figure of merit is transport/raw at 64 KiB (goal >= 0.87:
Noise costs at most 15% over the raw AEAD). ``--json`` makes the last line one JSON
object.

    .venv/bin/python bench/aead.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from machine import machine
from meshnet.noise.transport import TransportCipher

GOAL = 0.87
SIZES = {"1KiB": 1024, "16KiB": 16 * 1024, "64KiB": 64 * 1024}
HEADER = bytes(range(13))
KEY = bytes(range(32))
RAW = {"ChaChaPoly": ChaCha20Poly1305, "AESGCM": AESGCM}


def throughput(fn: Callable[[], object], size: int, seconds: float) -> float:
    """MiB of plaintext per CPU second through ``fn`` (one call = one message)."""
    calls, start = 0, time.process_time()
    deadline = start + seconds
    while True:
        for _ in range(10):
            fn()
        calls += 10
        now = time.process_time()
        if now >= deadline:
            return calls * size / (now - start) / (1 << 20)


def transport_case(cipher: str, message: bytes) -> Callable[[], object]:
    sender, receiver = TransportCipher(cipher, KEY), TransportCipher(cipher, KEY)

    def run() -> object:
        counter, sealed = sender.encrypt(message, HEADER)
        return receiver.decrypt(counter, sealed, HEADER)

    return run


def raw_case(cipher: str, message: bytes) -> Callable[[], object]:
    aead = RAW[cipher](KEY)
    nonce = bytes(12)

    def run() -> object:
        return aead.decrypt(nonce, aead.encrypt(nonce, message, HEADER), HEADER)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short rounds (< 1 minute)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args(argv)
    seconds, rounds = (0.25, 3) if args.quick else (0.5, 15)

    cases: dict[tuple[str, str, str], tuple[Callable[[], object], int]] = {}
    for cipher in RAW:
        for label, size in SIZES.items():
            message = os.urandom(size)
            cases[(cipher, label, "transport")] = (transport_case(cipher, message), size)
            cases[(cipher, label, "raw")] = (raw_case(cipher, message), size)
    for fn, _ in cases.values():
        fn()
    best = dict.fromkeys(cases, 0.0)
    for _ in range(rounds):
        for key, (fn, size) in cases.items():
            best[key] = max(best[key], throughput(fn, size, seconds))

    figures: dict[str, dict[str, float]] = {}
    print(f"seal+open throughput, MiB per CPU second, best of {rounds} rounds")
    print(f"{'cipher':<11} {'size':>6} {'transport':>10} {'raw':>10} {'ratio':>6}")
    for cipher in RAW:
        for label in SIZES:
            transport = best[(cipher, label, "transport")]
            raw = best[(cipher, label, "raw")]
            figures[f"{cipher} {label}"] = {
                "transport_mib_s": round(transport, 1),
                "raw_mib_s": round(raw, 1),
                "ratio": round(transport / raw, 3),
            }
            print(
                f"{cipher:<11} {label:>6} {transport:>10.1f} {raw:>10.1f} {transport / raw:>6.3f}"
            )
    goal_met = all(figures[f"{cipher} 64KiB"]["ratio"] >= GOAL for cipher in RAW)
    print(f"goal transport/raw >= {GOAL} at 64 KiB: {'met' if goal_met else 'MISSED'}")
    if args.json:
        print(
            json.dumps(
                {
                    "benchmark": "aead",
                    "unit": "MiB of plaintext sealed and opened per CPU second",
                    "machine": machine(),
                    "quick": args.quick,
                    "rounds": rounds,
                    "seconds_per_round": seconds,
                    "figures": figures,
                    "goal": {"transport/raw at 64KiB": GOAL, "met": goal_met},
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
