"""Timed faults: values that say what breaks, when, and for how long.

Each fault applies itself to a ``SimNetwork`` and describes itself for the trace. A
fault with a ``duration`` brings its own remedy (``undo()``): a cut is repaired, a
partition healed, a crashed node restarted, a degraded link restored.

===========  ================================================================
kind         effect
===========  ================================================================
cut          link a-b goes down (``silent``: nobody is told, frames vanish)
repair       the cut link comes back (a new carrier opens)
partition    links between the groups go down; nodes not listed form a group
heal         the partition ends
crash        node stops; state lost (rebuilt at restart) or kept (``keep_state``)
restart      the crashed node comes back
degrade      links get different profile values (loss, duplicate, reorder, ...)
restore      links get their scenario profile back
===========  ================================================================
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from meshnet.errors import ConfigError
from meshnet.sim.link import DownCause
from meshnet.sim.network import SimNetwork

__all__ = [
    "CrashNode",
    "Fault",
    "CutLink",
    "DegradeLinks",
    "FaultSpec",
    "Heal",
    "Partition",
    "RepairLink",
    "RestartNode",
    "RestoreLinks",
]

Edge = tuple[int, int]


class Fault(ABC):
    """What every fault offers; subclasses are frozen dataclasses with an ``at`` time."""

    __slots__ = ()

    @abstractmethod
    def apply(self, network: SimNetwork) -> None:
        """Make the change on ``network`` now."""

    def undo(self) -> FaultSpec | None:
        """The fault that ends this one after its ``duration``, or None."""
        return None

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """The JSON-ready fields of this fault's trace record (``fault`` = its kind)."""


def _check_duration(duration: float | None) -> None:
    if duration is not None and duration <= 0:
        raise ConfigError(f"a fault duration must be > 0, got {duration!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class CutLink(Fault):
    """The link between ``a`` and ``b`` goes down."""

    at: float
    a: int
    b: int
    duration: float | None = None
    silent: bool = False

    def __post_init__(self) -> None:
        _check_duration(self.duration)

    def apply(self, network: SimNetwork) -> None:
        network.set_down(network.link(self.a, self.b), DownCause.CUT, silent=self.silent)

    def undo(self) -> RepairLink | None:
        if self.duration is None:
            return None
        return RepairLink(at=self.at + self.duration, a=self.a, b=self.b)

    def describe(self) -> dict[str, Any]:
        return {"fault": "cut", "edge": [self.a, self.b], "silent": self.silent}


@dataclass(frozen=True, slots=True, kw_only=True)
class RepairLink(Fault):
    """The cut link between ``a`` and ``b`` comes back."""

    at: float
    a: int
    b: int

    def apply(self, network: SimNetwork) -> None:
        network.clear_down(network.link(self.a, self.b), DownCause.CUT)

    def describe(self) -> dict[str, Any]:
        return {"fault": "repair", "edge": [self.a, self.b]}


@dataclass(frozen=True, slots=True, kw_only=True)
class Partition(Fault):
    """Links between different ``groups`` go down (unlisted nodes form one more group)."""

    at: float
    groups: tuple[tuple[int, ...], ...]
    duration: float | None = None
    silent: bool = False

    def __post_init__(self) -> None:
        _check_duration(self.duration)
        flat = [n for group in self.groups for n in group]
        if not self.groups or len(flat) != len(set(flat)):
            raise ConfigError("partition groups must be non-empty and disjoint")

    def apply(self, network: SimNetwork) -> None:
        network.partition(self.groups, silent=self.silent)

    def undo(self) -> Heal | None:
        return None if self.duration is None else Heal(at=self.at + self.duration)

    def describe(self) -> dict[str, Any]:
        return {
            "fault": "partition",
            "groups": [list(g) for g in self.groups],
            "silent": self.silent,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Heal(Fault):
    """The current partition ends."""

    at: float

    def apply(self, network: SimNetwork) -> None:
        network.heal()

    def describe(self) -> dict[str, Any]:
        return {"fault": "heal"}


@dataclass(frozen=True, slots=True, kw_only=True)
class CrashNode(Fault):
    """Node ``node`` stops; with ``keep_state`` it is frozen rather than lost."""

    at: float
    node: int
    duration: float | None = None
    keep_state: bool = False
    silent: bool = False

    def __post_init__(self) -> None:
        _check_duration(self.duration)

    def apply(self, network: SimNetwork) -> None:
        network.crash(self.node, keep_state=self.keep_state, silent=self.silent)

    def undo(self) -> RestartNode | None:
        if self.duration is None:
            return None
        return RestartNode(at=self.at + self.duration, node=self.node)

    def describe(self) -> dict[str, Any]:
        return {
            "fault": "crash",
            "node": self.node,
            "keep_state": self.keep_state,
            "silent": self.silent,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartNode(Fault):
    """The crashed node ``node`` comes back."""

    at: float
    node: int

    def apply(self, network: SimNetwork) -> None:
        network.restart(self.node)

    def describe(self) -> dict[str, Any]:
        return {"fault": "restart", "node": self.node}


@dataclass(frozen=True, slots=True, kw_only=True)
class DegradeLinks(Fault):
    """Links (all of them when ``edges`` is None) get ``changes`` on their profile."""

    at: float
    changes: tuple[tuple[str, Any], ...]
    """``(LinkProfile field, value)`` pairs, e.g. ``(("loss", 0.2), ("corrupt", 0.01))``."""
    edges: tuple[Edge, ...] | None = None
    duration: float | None = None

    def __post_init__(self) -> None:
        _check_duration(self.duration)
        if not self.changes:
            raise ConfigError("a degrade fault needs at least one profile change")

    def _edges(self, network: SimNetwork) -> list[Edge]:
        return list(self.edges) if self.edges is not None else list(network.links)

    def apply(self, network: SimNetwork) -> None:
        for a, b in self._edges(network):
            link = network.link(a, b)
            network.set_profile(a, b, link.base_profile.replace(**dict(self.changes)))

    def undo(self) -> RestoreLinks | None:
        if self.duration is None:
            return None
        return RestoreLinks(at=self.at + self.duration, edges=self.edges)

    def describe(self) -> dict[str, Any]:
        edges = None if self.edges is None else [list(e) for e in self.edges]
        changes = {k: (v.value if hasattr(v, "value") else v) for k, v in self.changes}
        return {"fault": "degrade", "edges": edges, "changes": changes}


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoreLinks(Fault):
    """Links (all when ``edges`` is None) get their scenario profile back."""

    at: float
    edges: tuple[Edge, ...] | None = None

    def apply(self, network: SimNetwork) -> None:
        for a, b in list(self.edges) if self.edges is not None else list(network.links):
            network.set_profile(a, b, None)

    def describe(self) -> dict[str, Any]:
        edges = None if self.edges is None else [list(e) for e in self.edges]
        return {"fault": "restore", "edges": edges}


FaultSpec = (
    CutLink | RepairLink | Partition | Heal | CrashNode | RestartNode | DegradeLinks | RestoreLinks
)
