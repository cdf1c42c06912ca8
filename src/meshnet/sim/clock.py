"""``VirtualClock``: simulated time, advanced only by the scheduler.

Nothing in the simulator reads the wall clock. Time is a float number of seconds that
starts at 0.0 and only moves forward, when the scheduler takes the next event off its
heap. Every node input carries ``now`` from this clock.
"""

from __future__ import annotations

from meshnet.errors import StateError

__all__ = ["VirtualClock"]


class VirtualClock:
    """Seconds of simulated time; monotonic by construction.

    Args:
        start: the initial time.
    """

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    @property
    def now(self) -> float:
        """The current simulated time in seconds."""
        return self._now

    def advance_to(self, when: float) -> None:
        """Move the clock forward to ``when``.

        Raises:
            StateError: ``when`` lies before the current time.
        """
        if when < self._now:
            raise StateError(f"the clock cannot go back from {self._now!r} to {when!r}")
        self._now = when

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r})"
