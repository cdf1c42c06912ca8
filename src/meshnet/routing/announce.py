"""``AnnounceScheduler``: when our next announcement goes out (docs/protocol/routing.md §6).

Four things make a node announce:

* ``REFRESH``: every ``refresh_interval`` (jittered down by up to ``refresh_jitter`` so
  nodes started together drift apart), so the mesh's entries never age out;
* ``TOPOLOGY``: a link came up or went down, or our endpoints changed. It goes out
  ``fast_interval`` after the previous announcement at the earliest (0.5 s: fast
  healing). Each topology announcement within ``flap_reset`` of the previous one doubles
  that gap, up to ``flap_max_interval``: a flapping link costs the mesh one announcement
  per 30 s, not one per flap;
* ``COST``: a link's measurements moved by more than ``cost_threshold``; at the earliest
  ``cost_interval`` (60 s) after the previous announcement;
* ``SEQUENCE``: we heard an announcement of our own id newer than ours (we restarted and
  lost our sequence number); treated like a topology change.

The very first announcement waits ``initial_delay`` (1 s) after the first request, so a
node that is starting up floods the mesh once with all its links, already measured,
rather than once per link and once per first measurement.

The scheduler only keeps time; the router decides what the announcement says.
"""

from __future__ import annotations

import enum

from meshnet.crypto.entropy import Entropy
from meshnet.routing.config import RoutingConfig

__all__ = ["AnnounceScheduler", "AnnounceTrigger"]


class AnnounceTrigger(enum.IntEnum):
    """Why an announcement is wanted; a higher value is the more urgent."""

    REFRESH = 0
    COST = 1
    TOPOLOGY = 2
    SEQUENCE = 3


class AnnounceScheduler:
    """Decides the time of our next announcement.

    Args:
        config: the routing timers.
        entropy: randomness for the refresh jitter.
    """

    __slots__ = (
        "_config",
        "_entropy",
        "_gap",
        "_last_sent",
        "_last_topology",
        "_refresh_at",
        "_wanted",
        "_wanted_at",
    )

    def __init__(self, *, config: RoutingConfig, entropy: Entropy) -> None:
        self._config = config
        self._entropy = entropy
        self._gap = config.fast_interval
        self._last_sent: float | None = None
        self._last_topology: float | None = None
        self._refresh_at: float | None = None
        self._wanted: AnnounceTrigger | None = None
        self._wanted_at: float | None = None

    def request(self, trigger: AnnounceTrigger, now: float) -> None:
        """Ask for an announcement; it is due as soon as the pacing rules allow."""
        if self._last_sent is None:
            # The first one waits ``initial_delay``: a starting node's links come up and
            # get their first RTT samples together, and go out in one announcement.
            at = now + self._config.initial_delay
        elif trigger >= AnnounceTrigger.TOPOLOGY:
            at = max(now, self._last_sent + self._current_gap(now))
        else:
            at = max(now, self._last_sent + self._config.cost_interval)
        if self._wanted_at is None or at < self._wanted_at:
            self._wanted_at = at
        if self._wanted is None or trigger > self._wanted:
            self._wanted = trigger

    def _current_gap(self, now: float) -> float:
        last = self._last_topology
        if last is None or now - last >= self._config.flap_reset:
            return self._config.fast_interval
        return self._gap

    @property
    def due(self) -> float | None:
        """When the next announcement (requested or refresh) is due."""
        wanted, refresh = self._wanted_at, self._refresh_at
        if wanted is None or (refresh is not None and refresh < wanted):
            return refresh
        return wanted

    def trigger(self, now: float) -> AnnounceTrigger | None:
        """What is due at ``now``: the requested trigger, ``REFRESH``, or None."""
        if self._wanted_at is not None and self._wanted_at <= now:
            return self._wanted
        if self._refresh_at is not None and self._refresh_at <= now:
            return AnnounceTrigger.REFRESH
        return None

    def announced(self, trigger: AnnounceTrigger, now: float) -> None:
        """An announcement was made at ``now`` for ``trigger``."""
        config = self._config
        if trigger >= AnnounceTrigger.TOPOLOGY:
            self._gap = min(2 * self._current_gap(now), config.flap_max_interval)
            self._last_topology = now
        self._last_sent = now
        self._clear()
        jitter = 1.0 - config.refresh_jitter * self._entropy.random_float()
        self._refresh_at = now + config.refresh_interval * jitter

    def skipped(self) -> None:
        """The wanted announcement would have said nothing new: forget the request."""
        self._clear()

    def _clear(self) -> None:
        self._wanted = None
        self._wanted_at = None
