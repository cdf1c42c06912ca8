"""``LinkConfig``: every knob of the link layer, with the defaults DESIGN.md §3 names."""

from __future__ import annotations

from dataclasses import dataclass

from meshnet.errors import ConfigError

__all__ = ["LinkConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkConfig:
    """Timers, limits and the handshake mode of links.

    All durations are in seconds.
    """

    hybrid: bool = True
    """Use the hybrid post-quantum handshake (XXhfs + ML-KEM-768); off only for very slow links."""
    handshake_retry: float = 1.0
    """First retransmission delay of an unanswered handshake message; doubles each time."""
    handshake_timeout: float = 10.0
    """Give up a handshake (and a rekey attempt) after this long."""
    keepalive_interval: float = 10.0
    """Send a keepalive when nothing else was sent for this long."""
    probe_interval: float = 10.0
    """Send a timestamped probe this often; each echo is an RTT sample."""
    probe_timeout: float = 3.0
    """On datagram links, a probe unanswered this long after its echo was due is a loss sample."""
    probe_echoes: bool = True
    """Announce and use PROBE_WITH_ECHOES (echoes ride on probes: half the probe frames);
    a link uses it when both ends announce it, else PROBE + PROBE_ECHO."""
    dead_peer_timeout: float = 30.0
    """Close the link when nothing authenticated was heard for this long."""
    rekey_after_time: float = 120.0
    """Replace the keys after this much time on them (forward secrecy)."""
    rekey_after_frames: int = 1 << 20
    """... or after this many frames sent on them, whichever comes first."""
    reject_after_time: float = 180.0
    """Close the link if keys this old could not be replaced."""
    old_keys_grace: float = 10.0
    """Keep the previous receive keys this long so frames in flight are not lost."""
    replay_window: int = 2048
    """Counters behind the highest seen that a datagram link still accepts (once)."""
    max_payload: int = 65536 + 1024
    """Largest payload the layers above may send in one frame."""
    max_half_open: int = 256
    """Responder handshakes in progress at once, over all transports."""
    handshake_rate: float = 10.0
    """Handshake starts accepted per second from one source address (token bucket)."""
    handshake_burst: int = 20
    """Burst size of that token bucket."""

    def __post_init__(self) -> None:
        for name in (
            "handshake_retry",
            "handshake_timeout",
            "keepalive_interval",
            "probe_interval",
            "probe_timeout",
            "dead_peer_timeout",
            "rekey_after_time",
            "reject_after_time",
            "old_keys_grace",
            "handshake_rate",
        ):
            if not getattr(self, name) > 0:
                raise ConfigError(f"link.{name} must be a positive number of seconds")
        for name in ("rekey_after_frames", "replay_window", "max_payload", "max_half_open"):
            if getattr(self, name) < 1:
                raise ConfigError(f"link.{name} must be at least 1")
        if self.reject_after_time <= self.rekey_after_time:
            raise ConfigError("link.reject_after_time must exceed link.rekey_after_time")
        if self.dead_peer_timeout <= self.keepalive_interval:
            raise ConfigError("link.dead_peer_timeout must exceed link.keepalive_interval")
