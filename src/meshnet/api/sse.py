"""Server-sent events framing (the WHATWG ``text/event-stream`` format), both ways.

``format_event`` writes one event; ``SseParser`` reads a stream back line by line
(used by the Python client). Only what the API sends is needed: ``event``, ``id`` and
``data`` fields, and comment lines (``: keepalive``) which the parser skips. Stdlib
only, so the CLI starts fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["MAX_EVENT", "SseEvent", "SseParser", "format_comment", "format_event"]

MAX_EVENT = 1 << 20
"""The largest event the parser accepts, in bytes of ``data``."""


def format_event(kind: str, data: object, *, event_id: int | None = None) -> bytes:
    """One event: ``event: KIND``, optionally ``id: N``, ``data: JSON``, a blank line."""
    lines = [f"event: {kind}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def format_comment(text: str) -> bytes:
    """A comment line (clients ignore it; it keeps idle connections provably alive)."""
    return f": {text}\n\n".encode()


@dataclass(frozen=True, slots=True)
class SseEvent:
    kind: str
    data: str
    event_id: str | None


class SseParser:
    """Feed lines (without or with their line ending); complete events come out."""

    def __init__(self) -> None:
        self._kind = ""
        self._data: list[str] = []
        self._size = 0
        self._id: str | None = None

    def feed_line(self, raw: bytes) -> SseEvent | None:
        """Take one line; return the event a blank line completes, else None.

        Raises:
            ValueError: an event's data passed ``MAX_EVENT`` bytes.
        """
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if not self._data:
                self._kind = ""
                return None
            event = SseEvent(self._kind or "message", "\n".join(self._data), self._id)
            self._kind, self._data, self._size = "", [], 0
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._size += len(value)
            if self._size > MAX_EVENT:
                raise ValueError(f"an event over {MAX_EVENT} bytes")
            self._data.append(value)
        elif name == "event":
            self._kind = value
        elif name == "id":
            self._id = value
        return None
