"""``RoutingConfig``: every timer and bound of the routing layer, with their defaults.

The defaults are sized for the control-overhead budget of docs/protocol/routing.md §6
(under 2% of a 1 Mbit/s link for 200 nodes at mean degree 6-8) and the healing goal of
§5 (a failure is announced within ``fast_interval``). All durations are in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshnet.errors import ConfigError
from meshnet.routing.messages import MAX_LIFETIME, MAX_RELAYS

__all__ = ["RoutingConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingConfig:
    """Timers, rate limits and queue bounds of one ``Router``."""

    refresh_interval: float = 600.0
    """Re-announce this often even when nothing changed (jittered down, see below)."""
    refresh_jitter: float = 0.1
    """Each refresh comes after ``refresh_interval * (1 - jitter * u)``, u uniform in [0, 1)."""
    lifetime: int = 1800
    """Seconds an announcement stays valid after it was made (carried in it; 3 refreshes)."""
    initial_delay: float = 1.0
    """A starting node's first announcement waits this long to carry all its links."""
    fast_interval: float = 0.5
    """Least gap between announcements triggered by a link coming up or going down."""
    flap_max_interval: float = 30.0
    """The gap doubles for each topology announcement within ``flap_reset`` of the last,
    up to this (damping, so a flapping link does not flood the mesh)."""
    flap_reset: float = 60.0
    """After this long without a topology announcement the gap is ``fast_interval`` again."""
    cost_interval: float = 60.0
    """Least gap before an announcement triggered only by changed link measurements."""
    cost_threshold: float = 0.2
    """A measured RTT or ETX must move by more than this fraction to be re-announced."""
    accept_rate: float = 2.0
    """New announcements accepted per second from one origin (token bucket) ..."""
    accept_burst: int = 4
    """... with this burst; faster ones are counted, and the latest is applied later."""
    max_origins: int = 4096
    """Most origins the link-state database holds."""
    bad_signature_rate: float = 1.0
    """Invalid signatures forgiven per second from one link ..."""
    bad_signature_burst: int = 10
    """... with this burst; beyond it the link's announcements go unverified and dropped."""
    hop_limit: int = 32
    """Hop limit a source puts in the packets it originates."""
    max_relays: int = 24
    """Longest relay list a source will build (the wire format allows 32)."""
    max_payload: int = 65536
    """Largest end-to-end payload ``send`` accepts."""
    pending_timeout: float = 3.0
    """How long a packet with no route waits for the database to converge."""
    pending_max_packets: int = 64
    """Packets waiting for a route, over all destinations."""
    pending_max_bytes: int = 256 * 1024
    """Payload bytes waiting for a route, over all destinations."""
    queue_max_packets: int = 256
    """Data packets queued for one neighbour link."""
    queue_max_bytes: int = 512 * 1024
    """Data bytes queued for one neighbour link."""
    drr_quantum: int = 1500
    """Bytes each source may send per deficit-round-robin turn on a link."""
    batch_limit: int = 256
    """Most packets one ``packets_to_send`` call returns."""
    route_error_hold: float = 30.0
    """How long a source avoids a link a route error named (or until its reporter's next
    announcement, whichever is first)."""
    route_error_interval: float = 1.0
    """A relay sends at most one route error per (source, missing next hop) this often."""
    rtt_gain: float = 0.125
    """EWMA gain of the smoothed RTT (RFC 6298's alpha)."""
    loss_gain: float = 0.0625
    """EWMA gain of the probe loss estimate (about 16 probes of memory)."""
    max_routes_in_use: int = 1024
    """Destinations whose route is tracked for ``RouteChanged`` events and status."""
    spf_interval: float = 0.1
    """Least time between two shortest-path computations (announcements that arrive
    within it are taken together, as an OSPF SPF hold timer does)."""
    route_idle: float = 120.0
    """A destination not sent to for this long is no longer a route in use."""

    def __post_init__(self) -> None:
        for name in (
            "refresh_interval",
            "fast_interval",
            "flap_max_interval",
            "flap_reset",
            "cost_interval",
            "accept_rate",
            "bad_signature_rate",
            "pending_timeout",
            "route_error_hold",
            "route_error_interval",
            "route_idle",
        ):
            if not getattr(self, name) > 0:
                raise ConfigError(f"routing.{name} must be a positive number of seconds")
        for name in (
            "accept_burst",
            "max_origins",
            "bad_signature_burst",
            "max_payload",
            "pending_max_packets",
            "pending_max_bytes",
            "queue_max_packets",
            "queue_max_bytes",
            "drr_quantum",
            "batch_limit",
            "max_routes_in_use",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"routing.{name} must be at least 1")
        if not 0 <= self.initial_delay <= 60:
            raise ConfigError("routing.initial_delay must lie in [0, 60] seconds")
        if not 0 <= self.spf_interval <= 10:
            raise ConfigError("routing.spf_interval must lie in [0, 10] seconds")
        for name in ("refresh_jitter", "cost_threshold", "rtt_gain", "loss_gain"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"routing.{name} must lie in [0, 1)")
        if self.rtt_gain <= 0 or self.loss_gain <= 0:
            raise ConfigError("routing.rtt_gain and routing.loss_gain must be positive")
        if not 1 <= self.lifetime <= MAX_LIFETIME:
            raise ConfigError(f"routing.lifetime must be 1 to {MAX_LIFETIME} seconds")
        if self.lifetime <= self.refresh_interval:
            raise ConfigError("routing.lifetime must exceed routing.refresh_interval")
        if self.flap_max_interval < self.fast_interval:
            raise ConfigError("routing.flap_max_interval must be at least routing.fast_interval")
        if not 0 <= self.max_relays <= MAX_RELAYS:
            raise ConfigError(f"routing.max_relays must be 0 to {MAX_RELAYS}")
        if not 1 <= self.hop_limit <= 255:
            raise ConfigError("routing.hop_limit must be 1 to 255")
