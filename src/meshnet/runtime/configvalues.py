"""The value kinds of ``config.toml``: each checks one TOML value and renders a default.

A kind's ``parse(value, key)`` returns the validated value or raises ``ValueProblemError``
saying what was expected and what was given; ``runtime/config.py`` adds the file name
and the dotted key to make the ``ConfigError``. ``render(value)`` writes a value back
as TOML (the commented default file is made from the defaults this way), and
``expected`` is the short description the errors and the docs use.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from meshnet.crypto.identity import NodeId
from meshnet.errors import ConfigError, InvalidNodeIdError
from meshnet.runtime.endpoints import Scheme, parse_endpoint, parse_peer_address

__all__ = [
    "Bool",
    "Choice",
    "Duration",
    "EndpointList",
    "Int",
    "Kind",
    "LoopbackAddress",
    "PathValue",
    "PeerList",
    "Petnames",
    "Text",
    "ValueProblemError",
    "is_petname",
    "kind_of",
    "shown",
]

T = TypeVar("T")

_PETNAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,31}")
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(s|m|h|d)")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SHOWN_MAX = 60


class ValueProblemError(Exception):
    """A value does not fit its kind; ``key`` is the part of the dotted key below the
    one being parsed (an array index or a table key), empty for the value itself."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key


def shown(value: object) -> str:
    """A short, TOML-like spelling of a parsed TOML value, for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 4] + '..."'
    if isinstance(value, int | float):
        text = repr(value)
        return text if len(text) <= _SHOWN_MAX else "a huge number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _expect(expected: str, value: object) -> ValueProblemError:
    return ValueProblemError(f"expected {expected}, got {shown(value)}")


def is_petname(text: str) -> bool:
    """A petname: a letter, then up to 31 letters, digits, ``_``, ``.`` or ``-``."""
    return _PETNAME.fullmatch(text) is not None


def _string(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


class Kind(Generic[T]):
    """One kind of config value."""

    expected: str = "a value"

    def parse(self, value: object) -> T:
        raise NotImplementedError

    def render(self, value: T) -> str:
        raise NotImplementedError


class Bool(Kind[bool]):
    expected = "true or false"

    def parse(self, value: object) -> bool:
        if not isinstance(value, bool):
            raise _expect(self.expected, value)
        return value

    def render(self, value: bool) -> str:
        return "true" if value else "false"


class Int(Kind[int]):
    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high
        self.expected = f"a whole number from {low} to {high}"

    def parse(self, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _expect(self.expected, value)
        if not self.low <= value <= self.high:
            raise _expect(self.expected, value)
        return value

    def render(self, value: int) -> str:
        return str(value)


class Duration(Kind[float]):
    """Seconds as a number, or a string with a unit: ``"30s"``, ``"5m"``, ``"12h"``, ``"7d"``."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high
        self.expected = (
            f'a duration from {_human(low)} to {_human(high)} (seconds, or a string such as "30s", '
            '"5m", "12h", "7d")'
        )

    def parse(self, value: object) -> float:
        seconds: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        elif isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
            seconds = float(match[1]) * _UNITS[match[2]]
        if seconds is None or not math.isfinite(seconds) or not self.low <= seconds <= self.high:
            raise _expect(self.expected, value)
        return seconds

    def render(self, value: float) -> str:
        return _string(_human(value))


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class Text(Kind[str]):
    """A single-line string of printable characters."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length
        self.expected = f"a string of at most {max_length} printable characters"

    def parse(self, value: object) -> str:
        if not isinstance(value, str) or len(value) > self.max_length:
            raise _expect(self.expected, value)
        if not value.isprintable():
            raise _expect(self.expected, value)
        return value

    def render(self, value: str) -> str:
        return _string(value)


class Choice(Kind[str]):
    def __init__(self, *options: str) -> None:
        self.options = options
        self.expected = "one of " + ", ".join(_string(o) for o in options)

    def parse(self, value: object) -> str:
        if not isinstance(value, str) or value.lower() not in self.options:
            raise _expect(self.expected, value)
        return value.lower()

    def render(self, value: str) -> str:
        return _string(value)


class PathValue(Kind[Path]):
    """A file path; a relative one is taken inside the state directory."""

    expected = "a file path (relative paths are inside the state directory)"

    def parse(self, value: object) -> Path:
        if not isinstance(value, str) or not value.strip() or not value.isprintable():
            raise _expect(self.expected, value)
        return Path(value)

    def render(self, value: Path) -> str:
        return _string(str(value))


class LoopbackAddress(Kind[str]):
    """``""`` (off) or ``HOST:PORT`` with a loopback host: ``127.0.0.1:4180``, ``[::1]:4180``."""

    expected = '"" (off) or "127.0.0.1:PORT" (a loopback address and a port from 1 to 65535)'

    def parse(self, value: object) -> str:
        if not isinstance(value, str):
            raise _expect(self.expected, value)
        if not value:
            return ""
        try:
            endpoint = parse_endpoint(value, default_scheme=Scheme.TCP)
            loopback = (
                endpoint.host == "localhost" or ipaddress.ip_address(endpoint.host).is_loopback
            )
        except (ConfigError, ValueError):
            raise _expect(self.expected, value) from None
        if value.lower().startswith(("tcp:", "udp:")) or not loopback or endpoint.port == 0:
            raise _expect(self.expected, value)
        return value

    def render(self, value: str) -> str:
        return _string(value)


class _List(Kind[tuple[str, ...]]):
    item = "an item"
    max_items = 0

    def parse(self, value: object) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise _expect(f"an array of {self.item}", value)
        if len(value) > self.max_items:
            raise ValueProblemError(f"expected at most {self.max_items} entries, got {len(value)}")
        items: list[str] = []
        for index, entry in enumerate(value):
            try:
                text = self.parse_item(entry)
            except ValueProblemError as problem:
                raise ValueProblemError(str(problem), f"[{index}]") from None
            if text in items:
                raise ValueProblemError(f"{shown(entry)} is listed twice", f"[{index}]")
            items.append(text)
        return tuple(items)

    def parse_item(self, entry: object) -> str:
        raise NotImplementedError

    def render(self, value: tuple[str, ...]) -> str:
        return "[" + ", ".join(_string(v) for v in value) + "]"


class EndpointList(_List):
    item = '"tcp:HOST:PORT" or "udp:HOST:PORT"'
    max_items = 16
    expected = f"an array of {item}"

    def parse_item(self, entry: object) -> str:
        if not isinstance(entry, str):
            raise _expect(self.item, entry)
        try:
            return str(parse_endpoint(entry))
        except ConfigError:
            raise _expect(self.item, entry) from None


class PeerList(_List):
    """Peer addresses ``[NODE@]ENDPOINT``; NODE is a full node id or a petname (checked
    against ``[peers.petnames]`` by ``runtime/config.py``)."""

    item = '"[NODE@]tcp:HOST:PORT" (NODE: a node id or a petname)'
    max_items = 256
    expected = f"an array of {item}"

    def parse_item(self, entry: object) -> str:
        if not isinstance(entry, str):
            raise _expect(self.item, entry)
        name, at, rest = entry.strip().rpartition("@")
        try:
            if at and is_petname(name):
                return f"{name}@{parse_endpoint(rest, default_scheme=Scheme.TCP)}"
            node, endpoint = parse_peer_address(entry)
        except (ConfigError, InvalidNodeIdError):
            raise _expect(self.item, entry) from None
        return f"{node}@{endpoint}" if node is not None else str(endpoint)


class Petnames(Kind[Mapping[str, NodeId]]):
    """A table of petname = "NODE_ID"."""

    expected = 'a table of NAME = "NODE_ID" (NAME: a letter, then letters, digits, _ . -)'
    max_items = 4096

    def parse(self, value: object) -> Mapping[str, NodeId]:
        if not isinstance(value, dict):
            raise _expect(self.expected, value)
        if len(value) > self.max_items:
            raise ValueProblemError(f"expected at most {self.max_items} names, got {len(value)}")
        names: dict[str, NodeId] = {}
        seen: dict[NodeId, str] = {}
        for name, text in value.items():
            where = f".{name}" if is_petname(name) else f".{_string(name)}"
            if not is_petname(name):
                raise ValueProblemError(
                    "expected a petname: a letter, then up to 31 letters, digits, _ . -", where
                )
            try:
                node = NodeId.from_text(text) if isinstance(text, str) else None
            except InvalidNodeIdError:
                node = None
            if node is None:
                raise ValueProblemError(
                    f"expected a full node id (52 characters), got {shown(text)}", where
                )
            if node in seen:
                raise ValueProblemError(f"the same node is also named {_string(seen[node])}", where)
            seen[node] = name
            names[name] = node
        return MappingProxyType(names)

    def render(self, value: Mapping[str, NodeId]) -> str:
        return "{" + ", ".join(f"{k} = {_string(str(v))}" for k, v in value.items()) + "}"


def kind_of(metadata: Mapping[str, Any]) -> Kind[Any]:
    """The kind stored in a config field's metadata."""
    kind = metadata["kind"]
    assert isinstance(kind, Kind)
    return kind
