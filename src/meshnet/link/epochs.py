"""A link's key epochs and counters: ``Epoch`` and ``Counters`` of a ``LinkConnection``.

A connection holds up to three epochs, each named by the index the peer puts in its
TRANSPORT frames (``connection.py``): the *current* one (we send with it), the
*previous* one (receive only, for a grace period after a rekey) and, during a rekey,
the *pending* one (``rekeying.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshnet.noise.replay import ReplayWindow
from meshnet.noise.transport import TransportCipher

__all__ = ["Counters", "Epoch"]


@dataclass(slots=True, eq=False)
class Epoch:
    """One set of keys: the ciphers both ways and what guards the receive side."""

    local_index: int
    remote_index: int
    send: TransportCipher
    receive: TransportCipher
    replay: ReplayWindow | None  # datagram links
    started: float
    next_counter: int = 0  # stream links: the only counter accepted next
    frames_sent: int = 0
    retired_at: float = 0.0

    def clear(self) -> None:
        """Erase both keys."""
        self.send.clear()
        self.receive.clear()


@dataclass(slots=True)
class Counters:
    """What ``LinkStatus`` reports of a connection's traffic."""

    bytes_sent: int = 0
    bytes_received: int = 0
    frames_sent: int = 0
    frames_received: int = 0
    rekeys: int = 0
    drops: dict[str, int] = field(default_factory=dict)
