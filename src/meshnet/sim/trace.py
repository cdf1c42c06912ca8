"""``Trace``: the structured record of a run, its digest, and a JSONL reader.

Every record is one JSON object with a time ``t`` and a ``kind`` (``send``,
``deliver``, ``fault``, ``event`` ...; docs/simulator.md lists them all). Records are
serialised once, canonically (fixed key order, ``repr`` floats), and that text feeds a
running SHA-256: two runs of the same scenario with the same seed must give the same
digest, and ``tests/sim/test_determinism.py`` checks it.

Frames delivered over simulated links are hashed too, in two digests:

* ``digest``: the records and every frame's time, ends and size. The same scenario and
  seed give the same ``digest`` with any node, the real one included.
* ``content_digest``: every byte of every frame. A node that drew randomness from
  anywhere but its seeded entropy changes it even when the records and sizes happen to
  agree. It is reproducible only when *all* randomness is seeded: the real node's
  hybrid handshakes are not, because ML-KEM encapsulation draws its message from
  ``cryptography``'s own CSPRNG (its API takes no randomness; see
  ``meshnet.noise.functions``), so every key and ciphertext after a hybrid handshake
  differs from run to run while sizes, timing and behaviour do not.

Frame records (with each frame's size and a short SHA-256 of its bytes) are written to
the JSONL file only when asked for (they are many).

Consumers (metrics, the CLI) subscribe to records as they are made; the trace keeps
them in memory only when ``keep=True``.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from meshnet.errors import ConfigError

__all__ = ["Record", "Trace", "read_trace"]

Record = dict[str, Any]
"""One trace record: ``{"t": float, "kind": str, ...fields}``."""

_FRAME_HEADER = struct.Struct(">dIII")


class Trace:
    """Collects records, hashes them, and forwards them to subscribers and a file.

    Args:
        sink: a text file to write JSON lines to, or None.
        frames: also write one record per delivered frame to ``sink``.
        keep: keep every record in ``records`` (tests and small runs).
    """

    __slots__ = (
        "_content",
        "_frames",
        "_hash",
        "_sink",
        "_subscribers",
        "frames_hashed",
        "keep",
        "records",
    )

    def __init__(self, *, sink: TextIO | None = None, frames: bool = False, keep: bool = False):
        self._sink = sink
        self._frames = frames
        self._hash = hashlib.sha256()
        self._content = hashlib.sha256()
        self._subscribers: list[Callable[[Record], None]] = []
        self.keep = keep
        self.records: list[Record] = []
        self.frames_hashed = 0

    @property
    def writes_frames(self) -> bool:
        """Whether frame records go to the file."""
        return self._frames and self._sink is not None

    def subscribe(self, callback: Callable[[Record], None]) -> None:
        """Call ``callback(record)`` for every record from now on."""
        self._subscribers.append(callback)

    def record(self, t: float, kind: str, **fields: Any) -> None:
        """Add one record; field values must be JSON-ready (str, int, float, lists...)."""
        rec: Record = {"t": t, "kind": kind, **fields}
        line = json.dumps(rec, separators=(",", ":"), allow_nan=False)
        self._hash.update(line.encode())
        self._hash.update(b"\n")
        if self._sink is not None:
            self._sink.write(line)
            self._sink.write("\n")
        if self.keep:
            self.records.append(rec)
        for callback in self._subscribers:
            callback(rec)

    def frame(self, t: float, src: int, dst: int, data: bytes) -> None:
        """Hash one frame handed to node ``dst`` from node ``src`` at time ``t``."""
        header = _FRAME_HEADER.pack(t, src, dst, len(data))
        self._hash.update(header)
        self._content.update(header)
        self._content.update(data)
        self.frames_hashed += 1
        if self._frames and self._sink is not None:
            digest = hashlib.sha256(data).hexdigest()[:16]
            # numbers and hex only: formatted directly, as json.dumps would (repr floats)
            self._sink.write(
                f'{{"t":{t!r},"kind":"frame","src":{src},"dst":{dst},'
                f'"size":{len(data)},"sha":"{digest}"}}\n'
            )

    def fold(self, *, digest: str, content: str, frames: int) -> None:
        """Fold another trace's digests into this one's (a worker of a partitioned run).

        The merged trace of a partitioned run holds every worker's records; each worker
        hashed the frames it delivered, and its digests are folded in, in worker order.
        """
        self._hash.update(f"worker {digest}\n".encode())
        self._content.update(f"worker {content}\n".encode())
        self.frames_hashed += frames

    def digest(self) -> str:
        """SHA-256 (hex) of the records and the frames' times, ends and sizes so far."""
        return self._hash.copy().hexdigest()

    def content_digest(self) -> str:
        """SHA-256 (hex) of the frames so far, every byte (see the module docstring)."""
        return self._content.copy().hexdigest()


def read_trace(path: Path) -> Iterator[Record]:
    """The records of a JSONL trace file, frame records included.

    Raises:
        ConfigError: the file cannot be read or a line is not a trace record.
    """
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read trace: {exc.strerror}") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                raise ConfigError(f"{path}:{number}: not a JSON trace record") from None
            if not isinstance(rec, dict) or "t" not in rec or "kind" not in rec:
                raise ConfigError(f"{path}:{number}: a trace record needs 't' and 'kind'")
            yield rec
