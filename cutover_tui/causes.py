"""Which readings lie behind a stop condition's state, for the log and for "why is it red?".

Every ``condition_changed`` event names the stored readings (tick ids) that
caused it, so the banner, the ``w`` panel and the report's "why" point at the
same rows of ``ticks``:

- pending, firing: the stored readings of the current breach run, from the
  breach that started the hold to the one that completed it (a pass starts a
  new run; a blind poll in between freezes the hold and does not);
- recovering, and ok after firing: the stored passes since passing began;
- unknown, stale, error: the reading that made it blind, after the breach run
  it froze, if any.

The reading that changed a state is always stored (a state change is news to
the log's retention), so the last id named is always the cause itself.
Between the first and the last, readings within the retention's tolerance of
a stored one were not stored, and are not named. At most ``MAX_NAMED`` ids
are named: the first of the run and the latest.

``RecentReadings`` keeps the last raw readings of each check in a running
session (every poll, stored or not), for the ``w`` panel.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from checks.reading import Outcome, Reading
from checks.status import BLIND_STATES, ConditionState, ConditionStatus
from cutover_tui.store import TickRecord

#: Tick ids a ``condition_changed`` event names at most.
MAX_NAMED = 20
#: Raw readings kept per check for the ``w`` panel.
RECENT_READINGS = 20


@dataclass(slots=True)
class _Runs:
    breach: list[int]
    passing: list[int]
    blind: int | None = None


class ChangeCauses:
    """Follows each condition's readings to name, at each change, the stored readings behind it."""

    def __init__(self) -> None:
        self._runs: dict[str, _Runs] = {}

    def note(self, tick: TickRecord | None, statuses: Iterable[ConditionStatus]) -> None:
        """After a poll: ``tick`` is the stored reading (None when it was not news), ``statuses`` its conditions'."""
        for status in statuses:
            runs = self._runs.setdefault(status.id, _Runs([], []))
            cause = status.cause
            if cause == "breach":
                if status.consecutive_breaches <= 1:
                    runs.breach = []
                runs.passing = []
                runs.blind = None
                if tick is not None and tick.id is not None:
                    _append(runs.breach, tick.id)
            elif cause == "pass":
                if not runs.passing:
                    runs.breach = [] if status.firing_since is None else runs.breach
                if tick is not None and tick.id is not None:
                    _append(runs.passing, tick.id)
                runs.blind = None
            elif tick is not None and tick.id is not None:
                runs.blind = tick.id
                runs.passing = []

    def ids(self, status: ConditionStatus) -> list[int]:
        """The stored readings behind ``status`` (oldest first), at most ``MAX_NAMED``."""
        runs = self._runs.get(status.id)
        if runs is None:
            return []
        if status.state in (ConditionState.PENDING, ConditionState.FIRING):
            named = list(runs.breach)
        elif status.state in (ConditionState.RECOVERING, ConditionState.OK):
            named = list(runs.passing)
        elif status.state in BLIND_STATES:
            frozen = runs.breach if (status.breach_held > 0 or status.firing_since is not None) else []
            named = [*frozen, *([runs.blind] if runs.blind is not None else [])]
        else:
            named = []
        return _bounded(named)


def _append(run: list[int], tick_id: int) -> None:
    if not run or run[-1] != tick_id:
        run.append(tick_id)
        if len(run) > MAX_NAMED:
            del run[1]  # keep the first of the run and the latest


def _bounded(ids: list[int]) -> list[int]:
    unique = list(dict.fromkeys(ids))
    if len(unique) <= MAX_NAMED:
        return unique
    return [unique[0], *unique[-(MAX_NAMED - 1) :]]


@dataclass(frozen=True, slots=True)
class RawReading:
    """One poll as the ``w`` panel lists it: every poll, with its stored id when it became a tick."""

    reading: Reading
    tick: int | None


class RecentReadings:
    """The last ``RECENT_READINGS`` raw readings of each check in a running session.

    Each is kept as one plain tuple of its fields (strings, numbers, None, a
    datetime; ``extra`` as a tuple of its items), not as the probe's ``Reading``
    wrapped in a ``RawReading``: the cyclic garbage collector stops tracking
    such a tuple once it has seen it (a tuple holding any container, even an
    empty dict, it tracks for good), so the twenty thousand readings of a
    thousand checks do not lengthen its full passes, which stop every thread,
    the screen's too. ``of`` rebuilds them, equal to what was added.
    """

    def __init__(self, size: int = RECENT_READINGS) -> None:
        self.size = size
        self._by_check: dict[str, deque[tuple[Any, ...]]] = {}

    def add(self, reading: Reading, tick: TickRecord | None) -> None:
        kept = self._by_check.setdefault(reading.check_id, deque(maxlen=self.size))
        kept.append(
            (reading.outcome.value, reading.value, reading.unit, reading.latency, reading.observed_at,
             reading.monotonic, reading.detail, reading.degraded, reading.sample_age, tuple(reading.extra.items()) or None,
             tick.id if tick is not None else None)
        )  # fmt: skip

    def of(self, check_id: str) -> list[RawReading]:
        """Oldest first."""
        # Each: (outcome, value, unit, latency, observed_at, monotonic, detail, degraded, sample_age, extra's items, tick id).
        return [
            RawReading(
                Reading(check_id, Outcome(f[0]), f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], dict(f[9] or ())),
                f[10],
            )
            for f in self._by_check.get(check_id, ())
        ]
