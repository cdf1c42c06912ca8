"""``Table``: typed reads from one TOML table, with errors that name file and key.

Scenario parsing reads every value through a ``Table``: each accessor checks the type
and range and marks the key as used; ``finish()`` then rejects any key nobody read,
suggesting the closest known one. Every error is a ``ConfigError`` of the form
``scenarios/x.toml: traffic[2].rate: expected a number > 0, got the string "fast"``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any, NoReturn

from meshnet.errors import ConfigError

__all__ = ["Table"]

_MISSING: Any = object()


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Table:
    """One TOML table (a mapping) read key by key.

    Args:
        data: the parsed table.
        source: the file name, for messages.
        path: the table's dotted path in the file (``""`` for the top level).
    """

    def __init__(self, data: Mapping[str, Any], *, source: str, path: str = "") -> None:
        self.data = data
        self.source = source
        self.path = path
        self._used: set[str] = set()

    def key(self, key: str) -> str:
        """The dotted name of ``key`` in the file."""
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> NoReturn:
        """Raise a ``ConfigError`` about ``key``."""
        raise ConfigError(f"{self.source}: {self.key(key)}: {message}")

    def has(self, key: str) -> bool:
        """True when the table sets ``key``."""
        return key in self.data

    def allow(self, *keys: str) -> None:
        """Count ``keys`` as known even when nothing reads them."""
        self._used.update(keys)

    def _get(self, key: str, default: Any) -> Any:
        self._used.add(key)
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            self.fail(key, "is required")
        return default

    def number(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        positive: bool = False,
    ) -> float:
        """A finite number, optionally bounded (``positive``: strictly above 0)."""
        value = self._get(key, default)
        bound = " > 0" if positive else (f" >= {minimum:g}" if minimum is not None else "")
        if maximum is not None:
            bound += f" and <= {maximum:g}"
        if not _is_number(value) or not math.isfinite(value):
            self.fail(key, f"expected a number{bound}, got {_describe(value)}")
        if (
            (positive and value <= 0)
            or (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)
        ):
            self.fail(key, f"expected a number{bound}, got {value!r}")
        return float(value)

    def optional_number(self, key: str, **bounds: Any) -> float | None:
        """A number, or None when the key is absent."""
        if not self.has(key):
            self._used.add(key)
            return None
        return self.number(key, **bounds)

    def integer(self, key: str, default: Any = _MISSING, *, minimum: int | None = None) -> int:
        """An integer, optionally at least ``minimum``."""
        value = self._get(key, default)
        bound = f" >= {minimum}" if minimum is not None else ""
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(key, f"expected an integer{bound}, got {_describe(value)}")
        if minimum is not None and value < minimum:
            self.fail(key, f"expected an integer{bound}, got {value}")
        return value

    def string(self, key: str, default: Any = _MISSING, *, choices: tuple[str, ...] = ()) -> str:
        """A string, optionally one of ``choices``."""
        value = self._get(key, default)
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {_describe(value)}")
        if choices and value not in choices:
            self.fail(key, f"expected one of {', '.join(choices)}; got {value!r}")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        """``true`` or ``false``."""
        value = self._get(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {_describe(value)}")
        return value

    def node(self, key: str, nodes: int) -> int:
        """A node number in ``0 .. nodes-1``."""
        value = self.integer(key, minimum=0)
        if value >= nodes:
            self.fail(key, f"there is no node {value}: the topology has nodes 0..{nodes - 1}")
        return value

    def node_list(self, key: str, nodes: int) -> list[int]:
        """A non-empty array of distinct node numbers."""
        value = self._get(key, _MISSING)
        if not isinstance(value, list) or not value:
            self.fail(key, f"expected a non-empty array of node numbers, got {_describe(value)}")
        out = []
        for item in value:
            if not isinstance(item, int) or isinstance(item, bool) or not 0 <= item < nodes:
                self.fail(key, f"{item!r} is not a node number in 0..{nodes - 1}")
            if item in out:
                self.fail(key, f"node {item} is listed twice")
            out.append(item)
        return out

    def edge(self, key: str, nodes: int) -> tuple[int, int]:
        """A pair ``[a, b]`` of distinct node numbers, returned with ``a < b``."""
        return self._edge(key, self._get(key, _MISSING), nodes)

    def _edge(self, key: str, value: Any, nodes: int) -> tuple[int, int]:
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v < nodes for v in value
            )
            and value[0] != value[1]
        )
        if not ok:
            self.fail(
                key, f"expected a pair [a, b] of different nodes in 0..{nodes - 1}, got {value!r}"
            )
        return (min(value), max(value))

    def edges(self, key: str, nodes: int) -> list[tuple[int, int]]:
        """A non-empty array of edges ``[[a, b], ...]``."""
        value = self._get(key, _MISSING)
        if not isinstance(value, list) or not value:
            self.fail(key, f"expected an array of [a, b] pairs, got {_describe(value)}")
        return [self._edge(key, item, nodes) for item in value]

    def groups(self, key: str, nodes: int) -> list[list[int]]:
        """An array of disjoint, non-empty arrays of node numbers."""
        value = self._get(key, _MISSING)
        if not isinstance(value, list) or not value or not all(isinstance(g, list) for g in value):
            self.fail(key, f"expected an array of node arrays, got {_describe(value)}")
        seen: list[int] = []
        for group in value:
            if not group:
                self.fail(key, "a group is empty")
            for item in group:
                if not isinstance(item, int) or isinstance(item, bool) or not 0 <= item < nodes:
                    self.fail(key, f"{item!r} is not a node number in 0..{nodes - 1}")
                if item in seen:
                    self.fail(key, f"node {item} is in two groups")
                seen.append(item)
        return [list(g) for g in value]

    def intervals(self, key: str) -> list[tuple[float, float]]:
        """An array of ``[start, end]`` pairs of numbers."""
        value = self._get(key, _MISSING)
        if not isinstance(value, list):
            self.fail(key, f"expected an array of [start, end] pairs, got {_describe(value)}")
        out = []
        for item in value:
            if not (isinstance(item, list) and len(item) == 2 and all(_is_number(v) for v in item)):
                self.fail(key, f"expected [start, end] numbers, got {item!r}")
            out.append((float(item[0]), float(item[1])))
        return out

    def table(self, key: str) -> Table | None:
        """A sub-table, or None when absent."""
        value = self._get(key, None)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.fail(key, f"expected a table, got {_describe(value)}")
        return Table(value, source=self.source, path=self.key(key))

    def tables(self, key: str) -> list[Table]:
        """An array of tables (``[[key]]``); empty when absent."""
        value = self._get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            self.fail(key, f"expected an array of tables ([[{key}]]), got {_describe(value)}")
        return [
            Table(v, source=self.source, path=f"{self.key(key)}[{i}]") for i, v in enumerate(value)
        ]

    def finish(self) -> None:
        """Reject keys that no accessor read.

        Raises:
            ConfigError: naming the first unknown key, with the closest known one.
        """
        for key in self.data:
            if key not in self._used:
                known = sorted(self._used)
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                known_text = ", ".join(known) if known else "none"
                raise ConfigError(
                    f"{self.source}: unknown key {self.key(key)!r}{hint}; known here: {known_text}"
                )
