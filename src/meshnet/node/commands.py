"""Requests a ``Node`` makes of its driver: dial an endpoint, close a transport."""

from __future__ import annotations

from dataclasses import dataclass

from meshnet.crypto.identity import NodeId
from meshnet.link.manager import CloseTransport

__all__ = ["CloseTransport", "Dial", "TransportCommand"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Dial:
    """Open an outbound transport to ``endpoint`` and report it with this ``dial`` id.

    The driver answers with ``Node.transport_opened(..., dial=dial)`` when the carrier
    exists, or ``Node.dial_failed(dial, ...)`` when it cannot be opened.
    """

    dial: int
    endpoint: str
    expected_peer: NodeId | None


TransportCommand = Dial | CloseTransport
