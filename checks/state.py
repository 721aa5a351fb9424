"""The state of a stop condition, and the verdict shown to the commander."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ConditionState(StrEnum):
    OK = "ok"
    PENDING = "pending"  # breached, `for` not yet elapsed
    FIRING = "firing"
    RECOVERING = "recovering"  # passing, within keep_firing_for
    UNKNOWN = "unknown"  # no data, NaN, unparseable, not yet polled
    STALE = "stale"  # no successful poll for too long, or sample too old
    ERROR = "error"  # the source failed


#: States under which we cannot tell: never shown as green, they block GO.
BLIND_STATES = frozenset({ConditionState.UNKNOWN, ConditionState.STALE, ConditionState.ERROR})


class Verdict(StrEnum):
    CONTINUE = "CONTINUE"
    CANNOT_VERIFY = "CANNOT_VERIFY"
    HALT = "HALT"
    ROLLBACK = "ROLLBACK"


@dataclass(frozen=True, slots=True)
class ConditionStatus:
    """A stop condition's state after the latest reading or clock tick.

    Attributes:
        id: the stop condition id.
        state: see ``ConditionState``.
        value: last numeric value seen (None if none).
        threshold: the threshold as written, e.g. "> 1%".
        since: UTC wall time the current state began.
        breach_held: seconds of breach accumulated toward ``for`` (frozen while blind).
        consecutive_breaches: breach polls counted toward ``min_consecutive``.
        consecutive_errors: error polls in a row.
        flapping: many state changes among the last 21 polls.
        acknowledged: a person acknowledged this firing.
        reason: why, in words ("HTTP 503", "no reading for 47s", "1.8% > 1% for 1m").
        firing_since: UTC wall time it began firing; kept while recovering and while
            blind after firing (blindness is not recovery), None otherwise.
    """

    id: str
    state: ConditionState
    value: float | None
    threshold: str
    since: datetime
    breach_held: float = 0.0
    consecutive_breaches: int = 0
    consecutive_errors: int = 0
    flapping: bool = False
    acknowledged: bool = False
    reason: str = ""
    firing_since: datetime | None = None
