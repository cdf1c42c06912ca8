"""Simulated links: per-direction frame mechanics, carriers, and the undirected link.

* ``LinkDirection`` decides the fate of one frame sent one way: MTU check, the bounded
  transmit queue (tail drop) and serialization, independent and Gilbert-Elliott loss,
  latency with jitter under a FIFO rule, and the configured faults (reorder,
  duplicate, corrupt). It draws from its own ``Sampler``, so the two directions of a
  link, and all links, are independent and reproducible.
* ``Carrier`` is what a node sees as one transport: a pair of ``TransportId``s, one
  per end, each end open or closed. A link has at most one carrier at a time; a new
  carrier (after a cut, a crash, a redial) gets new ids, so a frame of an old carrier
  can never arrive on a new one.
* ``SimLink`` joins the two directions, the current carrier and the reasons the link
  is down (a bit set: cut, scheduled outage, partition).

Frames in flight are checked on arrival: a link that went down since the frame left
(its ``epoch`` changed) loses it.
"""

from __future__ import annotations

import enum

from meshnet.ids import TransportId
from meshnet.sim.profile import JitterModel, LinkProfile
from meshnet.sim.sampling import Sampler

__all__ = ["Carrier", "DirectionStats", "DownCause", "DropReason", "LinkDirection", "SimLink"]


class DropReason(enum.Enum):
    """Why a frame did not reach the node at the far end."""

    MTU = "mtu"
    """Larger than the link MTU."""
    QUEUE = "queue"
    """The transmit queue was full (congestion; tail drop)."""
    LOSS = "loss"
    """Lost on the medium (independent or bursty loss)."""
    DOWN = "down"
    """Sent while the link was down."""
    IN_FLIGHT = "in_flight"
    """The link went down while the frame was on it."""
    NODE_DOWN = "node_down"
    """The receiving node was crashed or frozen when the frame arrived."""
    CLOSED = "closed"
    """The carrier end it was sent on, or would arrive on, was closed."""


class DownCause(enum.IntFlag):
    """Why a link is down; the link is up when no cause is set."""

    CUT = 1
    SCHEDULE = 2
    PARTITION = 4


class DirectionStats:
    """Counters of one direction of one link."""

    __slots__ = (
        "bytes_delivered",
        "bytes_offered",
        "bytes_sent",
        "corrupted",
        "drops",
        "duplicated",
        "frames_delivered",
        "frames_offered",
        "frames_sent",
        "reordered",
    )

    def __init__(self) -> None:
        self.frames_offered = 0
        """Frames handed to the link by the sending node."""
        self.bytes_offered = 0
        self.frames_sent = 0
        """Frames that were put on the medium (past the MTU check and the queue)."""
        self.bytes_sent = 0
        self.frames_delivered = 0
        """Frames handed to the receiving node (duplicates included)."""
        self.bytes_delivered = 0
        self.duplicated = 0
        self.reordered = 0
        self.corrupted = 0
        self.drops: dict[DropReason, int] = {}

    def drop(self, reason: DropReason) -> None:
        """Count one dropped frame."""
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def dropped(self, reason: DropReason) -> int:
        """How many frames were dropped for ``reason``."""
        return self.drops.get(reason, 0)

    def as_dict(self) -> dict[str, object]:
        """The counters as plain JSON-ready data (drops sorted by reason)."""
        return {
            "frames_offered": self.frames_offered,
            "bytes_offered": self.bytes_offered,
            "frames_sent": self.frames_sent,
            "bytes_sent": self.bytes_sent,
            "frames_delivered": self.frames_delivered,
            "bytes_delivered": self.bytes_delivered,
            "duplicated": self.duplicated,
            "reordered": self.reordered,
            "corrupted": self.corrupted,
            "drops": {r.value: n for r, n in sorted(self.drops.items(), key=lambda x: x[0].value)},
        }


class LinkDirection:
    """One direction of a link: queue, serialization, loss, delay and faults.

    Args:
        profile: the link's behaviour.
        sampler: this direction's own random stream.
    """

    __slots__ = ("bad", "busy_until", "last_arrival", "profile", "sampler", "stats")

    def __init__(self, profile: LinkProfile, sampler: Sampler) -> None:
        self.profile = profile
        self.sampler = sampler
        self.busy_until = 0.0
        """When the transmitter finishes the frames already queued."""
        self.last_arrival = 0.0
        """Arrival time of the latest in-order frame (the FIFO floor)."""
        self.bad = False
        """Gilbert-Elliott state: True in the bad (bursty loss) state."""
        self.stats = DirectionStats()

    def reset(self, now: float) -> None:
        """Empty the transmit queue (the link went down: queued frames are gone)."""
        self.busy_until = now

    def queued_bytes(self, now: float) -> float:
        """Bytes still waiting to be serialized at ``now`` (the frame in service included)."""
        bandwidth = self.profile.bandwidth
        if bandwidth is None or self.busy_until <= now:
            return 0.0
        return (self.busy_until - now) * bandwidth / 8.0

    def transmit(self, data: bytes, now: float) -> list[tuple[float, bytes]]:
        """Send one frame; return its arrivals as ``(time, bytes)``: none, one or two.

        The caller has already checked that the link and the carrier are up.
        """
        profile, stats, sampler = self.profile, self.stats, self.sampler
        size = len(data)
        stats.frames_offered += 1
        stats.bytes_offered += size
        if size > profile.mtu:
            stats.drop(DropReason.MTU)
            return []
        finish = now
        bandwidth = profile.bandwidth
        if bandwidth is not None:
            start = now
            if self.busy_until > now:
                backlog = (self.busy_until - now) * bandwidth / 8.0
                if backlog + size > profile.queue_bytes + 1e-6:
                    stats.drop(DropReason.QUEUE)
                    return []
                start = self.busy_until
            finish = start + size * 8.0 / bandwidth
            self.busy_until = finish
        stats.frames_sent += 1
        stats.bytes_sent += size
        if self._lost():
            stats.drop(DropReason.LOSS)
            return []
        arrival = finish + self._delay()
        if profile.reorder and sampler.chance(profile.reorder):
            arrival += profile.reorder_delay  # outside the FIFO rule: later frames overtake
            stats.reordered += 1
        else:
            arrival = max(arrival, self.last_arrival)
            self.last_arrival = arrival
        if profile.corrupt and sampler.chance(profile.corrupt) and size:
            bit = sampler.below(size * 8)
            flipped = bytearray(data)
            flipped[bit >> 3] ^= 1 << (bit & 7)
            data = bytes(flipped)
            stats.corrupted += 1
        if profile.duplicate and sampler.chance(profile.duplicate):
            stats.duplicated += 1
            return [(arrival, data), (arrival, data)]
        return [(arrival, data)]

    def _lost(self) -> bool:
        profile, sampler = self.profile, self.sampler
        lost = bool(profile.loss) and sampler.uniform() < profile.loss
        chain = profile.burst_loss
        if chain is not None:
            if self.bad:
                lost = sampler.chance(chain.loss_bad) or lost
                if sampler.chance(chain.to_good):
                    self.bad = False
            else:
                lost = sampler.chance(chain.loss_good) or lost
                if sampler.chance(chain.to_bad):
                    self.bad = True
        return lost

    def _delay(self) -> float:
        profile = self.profile
        jitter = profile.jitter
        if not jitter:
            return profile.latency
        model = profile.jitter_model
        if model is JitterModel.UNIFORM:
            delay = profile.latency + (2.0 * self.sampler.uniform() - 1.0) * jitter
        elif model is JitterModel.NORMAL:
            delay = self.sampler.normal(profile.latency, jitter)
        else:
            delay = profile.latency + self.sampler.exponential(jitter)
        return delay if delay > 0.0 else 0.0


class Carrier:
    """One transport between the two ends of a link: an id and an open flag per end.

    Index 0 is the link's lower-numbered node ``a``, index 1 the higher ``b``.
    """

    __slots__ = ("is_open", "link", "transports")

    def __init__(self, link: SimLink, transports: tuple[TransportId, TransportId]) -> None:
        self.link = link
        self.transports = transports
        self.is_open = [True, True]

    def side_of(self, node: int) -> int:
        """0 when ``node`` is the link's ``a`` end, 1 when it is ``b``."""
        return 0 if node == self.link.a else 1


class SimLink:
    """An undirected link between nodes ``a < b``: two directions and a carrier.

    Args:
        a: the lower node index.
        b: the higher node index.
        profile: the link's behaviour.
        samplers: one random stream per direction (a->b, b->a).
    """

    __slots__ = ("a", "b", "base_profile", "carrier", "down", "epoch", "forward", "reverse")

    def __init__(
        self, *, a: int, b: int, profile: LinkProfile, samplers: tuple[Sampler, Sampler]
    ) -> None:
        if not a < b:
            raise ValueError("a link is stored with a < b")
        self.a = a
        self.b = b
        self.base_profile = profile
        """The profile the scenario gave; a degrade fault swaps in another for a while."""
        self.forward = LinkDirection(profile, samplers[0])
        """Frames from ``a`` to ``b``."""
        self.reverse = LinkDirection(profile, samplers[1])
        """Frames from ``b`` to ``a``."""
        self.down = DownCause(0)
        self.epoch = 0
        """Incremented whenever the link goes down; frames of an older epoch are lost."""
        self.carrier: Carrier | None = None

    @property
    def profile(self) -> LinkProfile:
        """The profile in force now."""
        return self.forward.profile

    @property
    def up(self) -> bool:
        """True when no down cause is set."""
        return not self.down

    def set_profile(self, profile: LinkProfile) -> None:
        """Use ``profile`` in both directions from now on (queues and FIFO state kept)."""
        self.forward.profile = profile
        self.reverse.profile = profile

    def direction_from(self, node: int) -> LinkDirection:
        """The direction that carries frames sent by ``node``."""
        return self.forward if node == self.a else self.reverse

    def other(self, node: int) -> int:
        """The node at the other end from ``node``."""
        return self.b if node == self.a else self.a

    def __repr__(self) -> str:
        state = "up" if self.up else f"down({self.down!r})"
        return f"SimLink({self.a}-{self.b}, {state})"
