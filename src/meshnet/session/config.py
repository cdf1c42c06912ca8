"""``SessionConfig``: every knob of the end-to-end session layer (docs/protocol/session.md §8)."""

from __future__ import annotations

from dataclasses import dataclass

from meshnet.errors import ConfigError

__all__ = ["MAX_PACKET_LIMIT", "MIN_PACKET", "SessionConfig"]

MIN_PACKET = 512
"""The smallest packet size budget a session works with (handshake fragments fit)."""
MAX_PACKET_LIMIT = 65536
"""The largest packet size budget (a TCP path may carry 64 KiB per routed packet)."""

_POSITIVE_SECONDS = (
    "handshake_retry",
    "handshake_retry_max",
    "handshake_timeout",
    "record_retry",
    "record_timeout",
    "idle_timeout",
    "keepalive_interval",
    "rekey_after_time",
    "reject_after_time",
    "old_keys_grace",
    "close_linger",
    "max_ack_delay",
    "initial_rtt",
    "max_probe_timeout",
    "handshake_rate",
)
_AT_LEAST_ONE = (
    "rekey_after_packets",
    "replay_window",
    "max_sessions",
    "max_streams",
    "max_queued_datagrams",
    "max_queued_bytes",
    "stream_send_buffer",
    "stream_receive_window",
    "session_receive_window",
    "max_stream_receive_window",
    "max_session_receive_window",
    "max_grown_receive_memory",
    "handshake_burst",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionConfig:
    """Timers, limits and windows of end-to-end sessions. Durations are in seconds."""

    hybrid: bool = True
    """Run the hybrid post-quantum handshake (IKhfs + ML-KEM-768)."""
    max_packet: int = 1100
    """Default size budget of one session packet; ``set_max_packet`` overrides it per peer."""
    max_stream_path_packet: int = 65535
    """The budget on a path whose every link is a stream link (TCP), once the peer
    reports so (PATH_ROOM); never below ``max_packet``. Set it to ``max_packet`` to
    keep one size on every path."""
    handshake_retry: float = 1.0
    """First retransmission delay of an unanswered handshake message; doubles each time."""
    handshake_retry_max: float = 4.0
    """The retransmission delay of handshake messages stops doubling here."""
    handshake_timeout: float = 20.0
    """Give up a handshake (and a rekey attempt) after this long."""
    record_retry: float = 1.0
    """Ask ``lookup_record`` again this often while a peer's identity record is unknown."""
    record_timeout: float = 10.0
    """Fail the session when the peer's identity record is still unknown after this long."""
    idle_timeout: float = 90.0
    """Close a session when nothing authenticated arrived for this long, or when it had
    no open stream and carried no datagram for this long."""
    keepalive_interval: float = 20.0
    """While streams are open, send a PING when nothing was sent for this long."""
    rekey_after_time: float = 120.0
    """Replace the keys after this much time on them (forward secrecy)."""
    rekey_after_packets: int = 1 << 20
    """... or after this many packets sent on them, whichever comes first."""
    reject_after_time: float = 180.0
    """Close the session if keys this old could not be replaced."""
    old_keys_grace: float = 10.0
    """Keep the previous receive keys this long after the peer moved to new ones."""
    replay_window: int = 4096
    """Packet counters behind the highest seen that are still accepted (once)."""
    close_linger: float = 3.0
    """After closing, answer the peer's packets with CLOSE for this long."""
    handshake_rate: float = 50.0
    """INITs answered per second at most, over all peers (each costs an X25519 and an
    ML-KEM operation): a token bucket, so floods are dropped, not computed."""
    handshake_burst: int = 100
    """... with bursts of this many."""
    max_sessions: int = 1024
    """Sessions (established or handshaking) at once; the idlest is closed for a new one."""
    max_streams: int = 256
    """Streams each side may have open at once in one session."""
    max_queued_datagrams: int = 64
    """Datagrams held per session while it handshakes or the window is full."""
    max_queued_bytes: int = 256 * 1024
    """... and at most this many bytes of them."""
    stream_send_buffer: int = 4 * 1024 * 1024
    """Bytes a stream holds that the peer has not acknowledged yet (the application's
    own data; it must cover the path's bandwidth-delay product to fill the path)."""
    stream_receive_window: int = 256 * 1024
    """Bytes one stream may receive beyond what the application has taken, at first."""
    session_receive_window: int = 1024 * 1024
    """Bytes all streams of a session together may receive beyond what was taken, at
    first."""
    max_stream_receive_window: int = 4 * 1024 * 1024
    """A stream's receive window doubles, up to this, each time the application takes
    data so fast that a credit update follows the previous one within two round trips
    (the window, not the reader, was the limit: auto-tuning as in QUIC stacks). A
    peer whose data nobody reads never grows a window."""
    max_session_receive_window: int = 8 * 1024 * 1024
    """... and the session's window up to this."""
    max_grown_receive_memory: int = 64 * 1024 * 1024
    """Node-wide: by how many bytes all sessions' receive windows together may exceed
    ``session_receive_window`` each. Auto-tuning stops there, so readers that were fast
    and then stalled cannot make the node hold ``max_sessions`` x 8 MiB."""
    max_ack_delay: float = 0.025
    """The longest we delay an acknowledgement (RFC 9002 max_ack_delay)."""
    initial_rtt: float = 0.5
    """The round-trip estimate before the first sample."""
    max_probe_timeout: float = 1.5
    """The retransmission (probe) timeout stops doubling here, so a stream resumes
    within about this long once a broken path heals."""

    def __post_init__(self) -> None:
        for name in _POSITIVE_SECONDS:
            if not getattr(self, name) > 0:
                raise ConfigError(f"session.{name} must be a positive number of seconds")
        for name in _AT_LEAST_ONE:
            if getattr(self, name) < 1:
                raise ConfigError(f"session.{name} must be at least 1")
        if not MIN_PACKET <= self.max_packet <= MAX_PACKET_LIMIT:
            raise ConfigError(
                f"session.max_packet must be between {MIN_PACKET} and {MAX_PACKET_LIMIT}"
            )
        if self.max_stream_receive_window < self.stream_receive_window:
            raise ConfigError(
                "session.max_stream_receive_window must be at least stream_receive_window"
            )
        if self.max_session_receive_window < self.session_receive_window:
            raise ConfigError(
                "session.max_session_receive_window must be at least session_receive_window"
            )
        if not MIN_PACKET <= self.max_stream_path_packet <= MAX_PACKET_LIMIT:
            raise ConfigError(
                f"session.max_stream_path_packet must be between {MIN_PACKET} and "
                f"{MAX_PACKET_LIMIT}"
            )
        if self.reject_after_time <= self.rekey_after_time:
            raise ConfigError("session.reject_after_time must exceed session.rekey_after_time")
        if self.idle_timeout <= self.keepalive_interval:
            raise ConfigError("session.idle_timeout must exceed session.keepalive_interval")
        if self.handshake_retry_max < self.handshake_retry:
            raise ConfigError("session.handshake_retry_max must be at least handshake_retry")
