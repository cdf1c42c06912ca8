"""``LinkProfile``: what one simulated link does to the frames it carries.

A profile is a value: latency and its jitter distribution, independent and bursty
(Gilbert-Elliott) loss, bandwidth with a bounded transmit queue, MTU, scheduled down
intervals, and the optional faults (duplication, reordering, corruption). A scenario
has a default profile and per-edge overrides; a fault may swap a link's profile for a
while. Values are checked when the profile is built; a bad one is a ``ConfigError``
naming the field.

Delay model of one frame (per direction)::

    start   = max(now, transmitter busy until)       # bounded FIFO queue, tail drop
    finish  = start + size * 8 / bandwidth           # serialization
    arrival = max(finish + latency + jitter, previous arrival)   # FIFO unless reordered
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass

from meshnet.errors import ConfigError

__all__ = ["GilbertElliott", "JitterModel", "LinkProfile"]


class JitterModel(enum.Enum):
    """How the random part of a frame's delay is drawn (``jitter`` sets its scale)."""

    UNIFORM = "uniform"
    """Delay uniform in ``[latency - jitter, latency + jitter]`` (netem's default)."""
    NORMAL = "normal"
    """Delay normal with mean ``latency`` and standard deviation ``jitter``."""
    EXPONENTIAL = "exponential"
    """Delay ``latency`` plus an exponential variate of mean ``jitter`` (one-sided)."""


def _check_probability(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
        raise ConfigError(f"{name} must be a probability in [0, 1], got {value!r}")


def _check_non_negative(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class GilbertElliott:
    """Bursty loss: a two-state Markov chain stepped once per frame.

    In the good state a frame is lost with ``loss_good``, in the bad state with
    ``loss_bad``; after each frame the chain moves good->bad with ``to_bad`` and
    bad->good with ``to_good`` (Gilbert 1960, Elliott 1963).
    """

    to_bad: float
    """Probability of moving from the good to the bad state after a frame."""
    to_good: float
    """Probability of moving from the bad to the good state after a frame."""
    loss_good: float = 0.0
    """Loss probability in the good state."""
    loss_bad: float = 1.0
    """Loss probability in the bad state."""

    def __post_init__(self) -> None:
        for name in ("to_bad", "to_good", "loss_good", "loss_bad"):
            _check_probability(f"burst_loss.{name}", getattr(self, name))
        if self.to_bad + self.to_good == 0:
            raise ConfigError("burst_loss.to_bad and burst_loss.to_good cannot both be 0")

    @property
    def bad_fraction(self) -> float:
        """Long-run share of frames sent in the bad state."""
        return self.to_bad / (self.to_bad + self.to_good)

    @property
    def mean_loss(self) -> float:
        """Long-run loss rate of the chain alone."""
        bad = self.bad_fraction
        return (1.0 - bad) * self.loss_good + bad * self.loss_bad

    @property
    def mean_burst(self) -> float:
        """Mean number of consecutive frames spent in the bad state."""
        return math.inf if self.to_good == 0 else 1.0 / self.to_good


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkProfile:
    """The behaviour of one link, the same in both directions (each has its own state)."""

    latency: float = 0.010
    """One-way propagation delay in seconds."""
    jitter: float = 0.0
    """Scale of the random delay component in seconds (see ``jitter_model``)."""
    jitter_model: JitterModel = JitterModel.UNIFORM
    """The distribution of the random delay component."""
    loss: float = 0.0
    """Independent loss probability per frame."""
    burst_loss: GilbertElliott | None = None
    """Bursty loss on top of ``loss``; None for none."""
    bandwidth: float | None = None
    """Bits per second; None for infinite (no serialization delay, no queue)."""
    queue_bytes: int = 64 * 1024
    """Transmit queue capacity in bytes, the frame being sent included; tail drop."""
    mtu: int = 1400
    """Largest frame the link carries; larger frames are dropped and counted."""
    duplicate: float = 0.0
    """Probability that a delivered frame is delivered twice."""
    reorder: float = 0.0
    """Probability that a frame is held back by ``reorder_delay`` outside FIFO order."""
    reorder_delay: float = 0.010
    """Extra delay of a reordered frame, which lets later frames overtake it."""
    corrupt: float = 0.0
    """Probability that one random bit of a frame is flipped."""
    down: tuple[tuple[float, float], ...] = ()
    """Scheduled outages: sorted, disjoint ``(start, end)`` times when the link is down."""

    def __post_init__(self) -> None:
        for name in ("latency", "jitter", "reorder_delay"):
            _check_non_negative(name, getattr(self, name))
        for name in ("loss", "duplicate", "reorder", "corrupt"):
            _check_probability(name, getattr(self, name))
        if not isinstance(self.jitter_model, JitterModel):
            raise ConfigError(f"jitter_model must be a JitterModel, got {self.jitter_model!r}")
        if self.bandwidth is not None and not (
            isinstance(self.bandwidth, int | float)
            and math.isfinite(self.bandwidth)
            and self.bandwidth > 0
        ):
            raise ConfigError(f"bandwidth must be > 0 bits/s or None, got {self.bandwidth!r}")
        if not isinstance(self.mtu, int) or self.mtu < 1:
            raise ConfigError(f"mtu must be a positive integer, got {self.mtu!r}")
        if not isinstance(self.queue_bytes, int) or self.queue_bytes < self.mtu:
            raise ConfigError(
                f"queue_bytes must be an integer >= mtu ({self.mtu}), got {self.queue_bytes!r}"
            )
        previous_end = 0.0
        for interval in self.down:
            start, end = interval
            if not (previous_end <= start < end) or not math.isfinite(end):
                raise ConfigError(
                    f"down intervals must be sorted, disjoint (start, end) pairs with "
                    f"0 <= start < end; got {list(self.down)!r}"
                )
            previous_end = end

    @property
    def mean_delay(self) -> float:
        """Expected one-way propagation delay (without queueing or serialization)."""
        if self.jitter_model is JitterModel.EXPONENTIAL:
            return self.latency + self.jitter
        return self.latency

    @property
    def delay_floor(self) -> float:
        """The least one-way propagation delay any frame sees (serialization not counted).

        ``latency`` without jitter and with exponential jitter (it only adds delay),
        ``latency - jitter`` with uniform jitter, and 0 with normal jitter (unbounded
        below, clipped at 0). A partitioned run needs it above 0 on the links between
        its workers: it is how far ahead one worker may run of another (its lookahead).
        """
        if not self.jitter or self.jitter_model is JitterModel.EXPONENTIAL:
            return self.latency
        if self.jitter_model is JitterModel.UNIFORM:
            return max(0.0, self.latency - self.jitter)
        return 0.0

    @property
    def expected_loss(self) -> float:
        """Long-run loss rate of the independent and bursty processes combined."""
        bursty = self.burst_loss.mean_loss if self.burst_loss is not None else 0.0
        return 1.0 - (1.0 - self.loss) * (1.0 - bursty)

    def serialization(self, size: int) -> float:
        """Seconds to put ``size`` bytes on the link."""
        return 0.0 if self.bandwidth is None else size * 8.0 / self.bandwidth

    def replace(self, **changes: object) -> LinkProfile:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
