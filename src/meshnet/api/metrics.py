"""Prometheus metrics: a node snapshot written in the text exposition format (0.0.4).

``render_metrics`` turns one ``DriverSnapshot`` into the body of ``GET /metrics``.
Every family is ``meshnet_*``; totals since the start are counters (``_total``), the
rest gauges. Per-link and per-session families are labelled with the peer's node id.
"""

from __future__ import annotations

from collections.abc import Iterable

from meshnet.api.control import DriverSnapshot
from meshnet.version import __version__

__all__ = ["CONTENT_TYPE", "MetricsWriter", "render_metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


class MetricsWriter:
    """Collects families and writes them, each with its HELP and TYPE lines once."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(
        self, name: str, kind: str, help_text: str, samples: Iterable[tuple[Labels, float]]
    ) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            self._lines.append(
                f"{name}{{{text}}} {_number(value)}" if text else f"{name} {_number(value)}"
            )

    def gauge(self, name: str, help_text: str, value: float) -> None:
        self.family(name, "gauge", help_text, [((), value)])

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def render_metrics(snap: DriverSnapshot) -> str:
    """The metrics body for one snapshot."""
    node = snap.node
    out = MetricsWriter()
    out.family(
        "meshnet_info",
        "gauge",
        "This node (always 1).",
        [((("node_id", node.node_id), ("version", __version__)), 1)],
    )
    links, routing, sessions = node.links, node.routing, node.sessions
    out.gauge("meshnet_links", "Links up now.", len(links.links))
    out.gauge(
        "meshnet_handshakes_in_progress", "Link handshakes under way.", links.handshakes_in_progress
    )
    out.gauge("meshnet_configured_peers", "Endpoints kept linked.", len(node.peers))
    out.gauge(
        "meshnet_configured_peers_connected",
        "Configured endpoints linked now.",
        sum(1 for p in node.peers if p.connected),
    )
    out.gauge(
        "meshnet_known_nodes",
        "Nodes in the link-state database (ourselves excluded).",
        sum(1 for e in routing.database if str(e.origin) != node.node_id),
    )
    out.gauge("meshnet_routes_in_use", "Destinations sent to recently.", len(routing.routes))
    out.gauge("meshnet_pending_packets", "Packets waiting for a route.", routing.pending_packets)
    out.gauge(
        "meshnet_suspended_links", "Links avoided after a route error.", routing.suspended_links
    )
    out.gauge("meshnet_sessions", "End-to-end sessions.", len(sessions.sessions))
    out.gauge("meshnet_tcp_connections", "TCP connections open.", snap.tcp_connections)
    out.gauge("meshnet_udp_peers", "Remote UDP addresses tracked.", snap.udp_peers)
    out.gauge(
        "meshnet_dials_in_progress", "Outbound transports being opened.", snap.dials_in_progress
    )
    out.gauge(
        "meshnet_buffered_bytes",
        "Bytes written and not yet taken by the kernel.",
        snap.buffered_bytes,
    )
    out.gauge(
        "meshnet_reading_paused",
        "1 while a slow event subscriber holds reading back.",
        snap.reading_paused,
    )
    out.family(
        "meshnet_driver_events_total",
        "counter",
        "Refused, dropped and closed things in the driver, by reason.",
        [((("reason", name),), n) for name, n in sorted(snap.counters)],
    )
    drops = [
        *((("layer", "node"), ("reason", r)) for r, _ in node.drops),
        *((("layer", "link"), ("reason", r)) for r, _ in links.drops),
        *((("layer", "routing"), ("reason", r)) for r, _ in routing.counters.drops),
        *((("layer", "session"), ("reason", r)) for r, _ in sessions.drops),
    ]
    counts = [n for _, n in (*node.drops, *links.drops, *routing.counters.drops, *sessions.drops)]
    out.family(
        "meshnet_drops_total",
        "counter",
        "Inputs dropped, by layer and reason.",
        zip(drops, counts, strict=True),
    )
    c = routing.counters
    out.family(
        "meshnet_routing_packets_total",
        "counter",
        "Routed packets by role.",
        [
            ((("role", "originated"),), c.originated),
            ((("role", "forwarded"),), c.forwarded),
            ((("role", "delivered"),), c.delivered),
        ],
    )
    out.family(
        "meshnet_announcements_total",
        "counter",
        "Link-state announcements by outcome.",
        [
            ((("outcome", "sent"),), c.announcements_sent),
            ((("outcome", "accepted"),), c.announcements_accepted),
            ((("outcome", "expired"),), c.announcements_expired),
            *(((("outcome", f"rejected_{r}"),), n) for r, n in c.announcements_rejected),
        ],
    )
    peer = [(("peer", link.peer), ("link", str(link.link))) for link in links.links]
    out.family(
        "meshnet_link_rtt_seconds",
        "gauge",
        "Smoothed RTT of each link.",
        [
            (p, link.srtt)
            for p, link in zip(peer, links.links, strict=True)
            if link.srtt is not None
        ],
    )
    out.family(
        "meshnet_link_loss_ratio",
        "gauge",
        "Estimated probe loss of each link.",
        [(p, link.loss) for p, link in zip(peer, links.links, strict=True)],
    )
    out.family(
        "meshnet_link_sent_bytes_total",
        "counter",
        "Bytes sent on each link.",
        [(p, link.bytes_sent) for p, link in zip(peer, links.links, strict=True)],
    )
    out.family(
        "meshnet_link_received_bytes_total",
        "counter",
        "Bytes received on each link.",
        [(p, link.bytes_received) for p, link in zip(peer, links.links, strict=True)],
    )
    out.family(
        "meshnet_session_rtt_seconds",
        "gauge",
        "Smoothed RTT of each session.",
        [((("peer", s.peer),), s.srtt) for s in sessions.sessions if s.srtt is not None],
    )
    out.family(
        "meshnet_session_retransmits_total",
        "counter",
        "Packets declared lost.",
        [((("peer", s.peer),), s.retransmits) for s in sessions.sessions],
    )
    mail = node.messaging
    out.gauge(
        "meshnet_messages_outbox_pending",
        "Messages sent and not yet delivered.",
        mail.outbox_pending,
    )
    out.gauge(
        "meshnet_messages_inbox_held",
        "Received messages waiting for an earlier one.",
        mail.inbox_held,
    )
    out.gauge(
        "meshnet_messages_peers_sending",
        "Peers we hold undelivered messages for.",
        mail.peers_sending,
    )
    out.gauge("meshnet_messages_streams_open", "Messaging streams open.", mail.streams_open)
    out.gauge("meshnet_mailbox_held", "Sealed messages held for other nodes.", mail.mailbox_held)
    out.family(
        "meshnet_messages_refused_total",
        "counter",
        "Messaging frames refused, by reason.",
        [((("reason", r),), n) for r, n in sorted(mail.drops)],
    )
    return out.text()
