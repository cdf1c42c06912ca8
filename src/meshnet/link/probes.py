"""``Prober``: one link's probes, their echoes, and the RTT and loss estimates they give.

Two probe formats (docs/protocol/link.md §3, §4):

- **PROBE + PROBE_ECHO** (every link speaks it): each side probes every
  ``probe_interval`` and the other answers each probe with an echo at once: four
  frames per link per interval.
- **PROBE_WITH_ECHOES** (when both ends announce ``CAPABILITY_PROBE_ECHOES`` in the
  handshake), the way Babel's RTT extension works (RFC 9616): a probe carries its id,
  the sender's probe interval, and the echoes of the neighbour's probes received since
  this side last probed, each with how long it was held. Each side still gets an RTT
  sample per neighbour probe (its time since sending minus the hold), from two frames
  per link per interval instead of four.

A PROBE_WITH_ECHOES goes out before its time in two cases only: the neighbour's probe
asked for an answer (it has no RTT sample yet: a new link gets its first samples in
about one round trip, not one probe interval), or ``MAX_ECHOES`` of the neighbour's
probes wait to be echoed (the neighbour probes much more often than we do). Either way
the early probe replaces the next scheduled one, so a neighbour can make us send at
most one frame per frame of its own, as a PROBE does.

Loss (datagram links only) stays honest: a probe of ours counts lost only when no echo
of it can arrive any more. With PROBE + PROBE_ECHO that is ``probe_timeout`` after
sending; with echoes carried by the neighbour's probes, it is the neighbour's probe
interval (which its probes carry) plus ``probe_timeout`` after sending.

Sans-IO: the caller gives ``now`` and seals the frames this returns.
"""

from __future__ import annotations

from meshnet.link.config import LinkConfig
from meshnet.link.messages import (
    MAX_ECHOES,
    MAX_HELD_US,
    MAX_PROBE_INTERVAL_MS,
    InnerFrame,
    Probe,
    ProbeWithEchoes,
)

__all__ = ["MAX_OUTSTANDING_PROBES", "Prober"]

MAX_OUTSTANDING_PROBES = 16
"""Probes of ours awaiting an echo at once; the oldest beyond this counts lost."""
_RTT_ALPHA, _RTT_BETA, _LOSS_ALPHA = 0.125, 0.25, 0.1


class Prober:
    """Probe state of one link.

    Args:
        config: the link's timers (``probe_interval``, ``probe_timeout``).
        datagram: the link runs over a datagram transport (only those count losses).
        echoes: both ends speak PROBE_WITH_ECHOES.
        now: when the link was established (the first probe is due at once).
    """

    __slots__ = (
        "_config",
        "_datagram",
        "_held",
        "_peer_interval",
        "_sent",
        "_seq",
        "echoes",
        "loss",
        "next_probe",
        "rttvar",
        "srtt",
    )

    def __init__(self, *, config: LinkConfig, datagram: bool, echoes: bool, now: float) -> None:
        self._config = config
        self._datagram = datagram
        self.echoes = echoes
        self.next_probe = now
        self._seq = 0
        self._sent: dict[int, tuple[float, float]] = {}  # probe id -> (sent, counts lost at)
        self._held: list[tuple[int, float]] = []  # the neighbour's probes to echo: (id, got at)
        self._peer_interval: float | None = None
        self.srtt: float | None = None
        self.rttvar: float | None = None
        self.loss = 0.0

    # -- our probes ------------------------------------------------------------------

    def probe(self, now: float, samples: list[float | None]) -> InnerFrame:
        """The next probe to seal and send now; a probe pushed out counts in ``samples``.

        ``samples`` gets one entry per measurement: an RTT in seconds, or None for a loss.
        """
        self._seq = seq = (self._seq + 1) & 0xFFFFFFFF
        if len(self._sent) >= MAX_OUTSTANDING_PROBES:
            del self._sent[next(iter(self._sent))]
            self._lost(samples)
        self.next_probe = now + self._config.probe_interval
        if not self.echoes:
            self._sent[seq] = (now, now + self._config.probe_timeout)
            return Probe(seq)
        wait = (
            self._peer_interval if self._peer_interval is not None else self._config.probe_interval
        )
        self._sent[seq] = (now, now + wait + self._config.probe_timeout)
        echoes = tuple(
            (probe_id, min(MAX_HELD_US, max(0, round((now - got) * 1e6))))
            for probe_id, got in self._held
        )
        self._held.clear()
        interval_ms = min(MAX_PROBE_INTERVAL_MS, round(self._config.probe_interval * 1000))
        return ProbeWithEchoes(seq, interval_ms, self.srtt is None, echoes)

    # -- the neighbour's frames ------------------------------------------------------

    def on_probe(
        self, probe: ProbeWithEchoes, now: float, samples: list[float | None]
    ) -> tuple[bool, int]:
        """Take a PROBE_WITH_ECHOES: (send our probe now?, echoes of unknown probes).

        An echo of a probe we no longer wait for (counted lost, pushed out, or never
        sent) gives no sample.
        """
        unknown = 0
        for probe_id, held_us in probe.echoes:
            if not self.on_echo(probe_id, now, samples, held=held_us / 1e6):
                unknown += 1
        self._peer_interval = probe.interval_ms / 1000
        if not self.echoes:  # the peer sends a format it did not negotiate: nothing to echo
            return False, unknown
        held = self._held
        if len(held) >= MAX_ECHOES:  # only if the early probe below was not sent
            del held[0]
        held.append((probe.probe_id, now))
        return probe.answer or len(held) >= MAX_ECHOES, unknown

    def on_echo(
        self, probe_id: int, now: float, samples: list[float | None], *, held: float = 0.0
    ) -> bool:
        """An echo of our probe ``probe_id``, held ``held`` seconds; False if unknown."""
        sent = self._sent.pop(probe_id, None)
        if sent is None:
            return False
        rtt = max(now - sent[0] - held, 0.0)
        if self.srtt is None or self.rttvar is None:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar += _RTT_BETA * (abs(self.srtt - rtt) - self.rttvar)
            self.srtt += _RTT_ALPHA * (rtt - self.srtt)
        if self._datagram:
            self.loss += _LOSS_ALPHA * (0.0 - self.loss)
        samples.append(rtt)
        return True

    # -- time ------------------------------------------------------------------------

    def loss_deadline(self) -> float | None:
        """When the oldest outstanding probe counts lost (datagram links), else None."""
        if not self._datagram or not self._sent:
            return None
        return next(iter(self._sent.values()))[1]

    def expire(self, now: float, samples: list[float | None]) -> None:
        """Count as lost, oldest first, the probes whose echo can no longer arrive.

        A later probe's deadline may precede an earlier one's (the neighbour's interval
        shrank): it waits behind it, so a loss is only ever counted late, never early.
        """
        if not self._datagram:
            return
        sent = self._sent
        while sent:
            probe_id, (_, deadline) = next(iter(sent.items()))
            if deadline > now:
                return
            del sent[probe_id]
            self._lost(samples)

    def _lost(self, samples: list[float | None]) -> None:
        if self._datagram:
            self.loss += _LOSS_ALPHA * (1.0 - self.loss)
            samples.append(None)
