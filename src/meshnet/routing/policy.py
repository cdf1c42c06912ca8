"""Path policies: how a source turns measured link metrics into link costs.

Every source runs Dijkstra over the link-state database with the costs of its own
policy (announcements carry metrics, not costs, so nodes with different policies still
share one database; docs/protocol/routing.md §5). A cost is an integer from 1 to
``MAX_LINK_COST``; path costs are exact integer sums, so ties are real ties and are
broken by node id, never by float rounding.

* ``HopCountPolicy``: every link costs 1 (the shortest path in hops).
* ``EtxLatencyPolicy``: the honest baseline, in the spirit of ETX (De Couto et al.,
  MobiCom 2003) and Babel's RTT extension (Jonglez, Boutier, Chroboczek, 2014)::

      cost = round(1000 * ETX * (hop_penalty + rtt))     ETX = 1 / (1 - p)

  where ``p`` is the round-trip probe loss (so ``ETX = 1/((1-loss_fwd)(1-loss_rev))``),
  ``rtt`` the smoothed round-trip time in seconds (``unmeasured_rtt`` before the first
  sample) and ``hop_penalty`` a fixed charge per hop (10 ms), so that of two paths with
  equal delay the one with fewer relays wins. The unit is the millisecond: a link's cost
  is the expected time spent on it if every lost packet were sent again. Unlike Babel's
  RTT penalty, which saturates at ``rtt-max``, the delay term grows without a cap, so a
  500 ms satellite hop is never as cheap as a 120 ms one.

A learned policy (DESIGN.md §3) implements the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from meshnet.routing.metrics import LinkMetrics

__all__ = ["MAX_LINK_COST", "EtxLatencyPolicy", "HopCountPolicy", "PathPolicy", "clamp_cost"]

MAX_LINK_COST = 0xFFFF


def clamp_cost(cost: int) -> int:
    """``cost`` brought into ``[1, MAX_LINK_COST]``."""
    return min(MAX_LINK_COST, max(1, cost))


class PathPolicy(Protocol):
    """Turns one link's metrics into the cost Dijkstra uses."""

    @property
    def name(self) -> str:
        """A short name for status output, e.g. ``"etx-latency"``."""

    def link_cost(self, metrics: LinkMetrics) -> int:
        """The cost of a link with ``metrics``: an integer in ``[1, MAX_LINK_COST]``."""


@dataclass(frozen=True, slots=True)
class HopCountPolicy:
    """Every link costs 1: the fewest relays, whatever the links are like."""

    @property
    def name(self) -> str:
        return "hop-count"

    def link_cost(self, metrics: LinkMetrics) -> int:
        return 1


@dataclass(frozen=True, slots=True, kw_only=True)
class EtxLatencyPolicy:
    """Expected time on the link: ``1000 * ETX * (hop_penalty + rtt)``, in milliseconds."""

    hop_penalty: float = 0.010
    """Seconds charged per hop on top of the RTT."""
    unmeasured_rtt: float = 0.100
    """The RTT assumed for a link not yet measured (a cautious guess)."""

    def __post_init__(self) -> None:
        if self.hop_penalty < 0 or self.unmeasured_rtt < 0:
            raise ValueError("hop_penalty and unmeasured_rtt must not be negative")

    @property
    def name(self) -> str:
        return "etx-latency"

    def link_cost(self, metrics: LinkMetrics) -> int:
        rtt = self.unmeasured_rtt if metrics.rtt is None else metrics.rtt
        return clamp_cost(int(1000 * metrics.etx * (self.hop_penalty + rtt) + 0.5))
