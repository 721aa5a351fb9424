"""The state of a stop condition, and the verdict shown to the commander."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from checks.baseline import Baseline, Comparison


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
    """The ladder, worst first: ROLLBACK > HALT > CANNOT VERIFY > AT RISK > CONTINUE.

    ``ROLLING_BACK`` takes CONTINUE's place while the rollback plan runs:
    CONTINUE never shows then (``docs/semantics.md``).
    """

    CONTINUE = "CONTINUE"
    AT_RISK = "AT_RISK"
    CANNOT_VERIFY = "CANNOT_VERIFY"
    HALT = "HALT"
    ROLLBACK = "ROLLBACK"
    ROLLING_BACK = "ROLLING_BACK"


#: Worse verdicts rank higher.
VERDICT_RANK: dict[Verdict, int] = {
    Verdict.CONTINUE: 0,
    Verdict.ROLLING_BACK: 0,
    Verdict.AT_RISK: 1,
    Verdict.CANNOT_VERIFY: 2,
    Verdict.HALT: 3,
    Verdict.ROLLBACK: 4,
}


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
        reason: why, in words, with the hold as of now ("1.8% > 1% for 1m", "no reading for 47s").
        detail: what the latest observation said, without the hold ("1.8% > 1%", "HTTP 503").
        firing_since: UTC wall time it began firing; kept while recovering and while
            blind after firing (blindness is not recovery), None otherwise.
        cause: what the latest observation said: ``not_polled``, ``pass``,
            ``breach``, ``error``, ``nodata``, ``invalid``, ``stale``. A change of
            cause within one state (not yet polled -> error 1 of 4) is news too.
        for_: seconds the breach must hold to fire (the condition's ``for``).
        remaining: while pending, seconds of breach still needed to fire; while
            recovering, seconds of passes still needed to clear; else None.
        baseline: for a condition relative to the baseline, the baseline as it
            stands (None before T0 is known, and for other conditions).
        comparison: for such a condition, the latest judgement against it
            (ratio; Mann–Whitney's n and p).
        observed_at: UTC wall time of the observation this status speaks for: when
            its latest poll's answer came (the reading's time), or the clock tick that
            noticed staleness (before either, when the evaluator was made). The log
            dates a change there, however late the screen's loop took the result.
            None: not known (dated when taken).
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
    detail: str = ""
    cause: str = ""
    for_: float = 0.0
    remaining: float | None = None
    baseline: Baseline | None = None
    comparison: Comparison | None = None
    observed_at: datetime | None = None
