"""Converting a monotonic instant to wall time reads both clocks together."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from checks.clock import wall_at

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


class _SwitchedClock:
    """A real-time clock (wall = epoch + monotonic) where a thread switch of ``pause`` s falls after some monotonic reads."""

    def __init__(self, start: float, pauses: list[float]) -> None:
        self.mono = start
        self.pauses = pauses  # after each monotonic read, time passes by the next of these

    def monotonic(self) -> float:
        read = self.mono
        self.mono += self.pauses.pop(0) if self.pauses else 0.0
        return read

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=self.mono)


def test_a_thread_switch_between_the_reads_does_not_shift_the_instant() -> None:
    """A 4 ms switch after the first read: read again, so the instant converts exactly, not 4 ms late."""
    clock = _SwitchedClock(10.0, [0.004])
    assert wall_at(clock, 9.0) == EPOCH + timedelta(seconds=9.0)


def test_two_instants_for_apart_convert_for_apart_whatever_the_switches() -> None:
    """Pending converted during a switch, firing without: still exactly 3 s apart (the evaluator's dates)."""
    pending = wall_at(_SwitchedClock(10.0, [0.0035, 0.0, 0.0]), 10.0)
    firing = wall_at(_SwitchedClock(13.0, []), 13.0)
    assert (firing - pending).total_seconds() == 3.0


def test_an_instant_is_never_dated_after_now() -> None:
    """An instant ahead of the monotonic clock is dated now."""
    clock = _SwitchedClock(10.0, [])
    assert wall_at(clock, 12.0) == EPOCH + timedelta(seconds=10.0)
