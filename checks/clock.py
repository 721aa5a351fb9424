"""Clocks: a monotonic clock for durations and a UTC wall clock for timestamps.

Durations (``for``, latency, rates, a reading's age) use ``monotonic()`` so
wall-clock steps never shorten or lengthen them; ``now()`` is only for what is
shown or logged. The system's monotonic clock here counts the time the machine
was asleep (``CLOCK_BOOTTIME``): a reading taken before a laptop's lid closed
is as old as the sleep when it opens, not a second. Tests use ``ManualClock``
to move time by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Protocol, TypeVar

_T = TypeVar("_T")


class Clock(Protocol):
    """What the probes and the condition evaluator need from a clock."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards."""
        ...

    def now(self) -> datetime:
        """The current UTC time, timezone-aware."""
        ...


#: Linux's monotonic clock that goes on while the machine is suspended; ``time.monotonic`` stops then.
_SINCE_BOOT = getattr(time, "CLOCK_BOOTTIME", None)


class SystemClock:
    """The real clocks: monotonic time since boot, sleep included (``CLOCK_BOOTTIME``), and ``datetime.now(UTC)``.

    ``time.monotonic()`` (the event loops' clock) stands still while the
    machine sleeps; this one does not, so what was read before a suspend is
    stale after it. The polls' timers run on the loops' clock; the scheduler
    converts their due instants to this one (``Poller._on_clock``).
    Where ``CLOCK_BOOTTIME`` does not exist, ``time.monotonic()``.
    """

    def monotonic(self) -> float:
        return time.monotonic() if _SINCE_BOOT is None else time.clock_gettime(_SINCE_BOOT)

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class ManualClock:
    """A clock that moves only when told to, for tests.

    Example: ``clock = ManualClock(); clock.advance(30)``.

    Args:
        start: the initial UTC wall time (default 2026-01-01T00:00:00Z).
        monotonic_start: the initial monotonic reading.
    """

    def __init__(
        self,
        start: datetime | None = None,
        *,
        monotonic_start: float = 1000.0,
    ) -> None:
        self._wall = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
        if self._wall.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._monotonic = monotonic_start

    def monotonic(self) -> float:
        return self._monotonic

    def now(self) -> datetime:
        return self._wall

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds`` (must not be negative)."""
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go backwards")
        self._monotonic += seconds
        self._wall += timedelta(seconds=seconds)

    def jump_wall(self, seconds: float) -> None:
        """Move only the wall clock (either way), as an NTP step does."""
        self._wall += timedelta(seconds=seconds)


#: Two monotonic readings this close apart had no thread switch between them.
_READ_TOGETHER = 0.0005


def wall_at(clock: Clock, instant: float) -> datetime:
    """The wall time at the monotonic ``instant`` (not later than now).

    The two clocks are read together (``_read_between``). Converting at two
    moments then gives two instants `for` apart to well under a millisecond,
    where one read of each could differ by a switch interval.
    """
    monotonic, wall = _read_between(clock.monotonic, clock.now)
    return wall - timedelta(seconds=max(0.0, monotonic - instant))


def _read_between(outer: Callable[[], float], inner: Callable[[], _T]) -> tuple[float, _T]:
    """``inner()`` read between two reads of ``outer()``, read again (at most twice more) when a thread switch fell
    between them; the midpoint of the two ``outer`` reads, and what ``inner`` read."""
    for _ in range(3):
        before = outer()
        value = inner()
        after = outer()
        if after - before < _READ_TOGETHER:
            break
    return (before + after) / 2, value


def offset_from(clock: Clock, other: Callable[[], float]) -> float:
    """``clock.monotonic()`` minus ``other()`` (an event loop's ``time``), the two read together (``_read_between``)."""
    midpoint, instant = _read_between(other, clock.monotonic)
    return instant - midpoint
