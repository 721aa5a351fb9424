"""What the fold keeps per step and per condition, and a checkpoint of the fold (replay seeks start from one)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from checks.status import ConditionState
from cutover_tui.state import (
    DecisionRecord,
    LogLine,
    StepStatus,
)
from cutover_tui.store import RetentionPolicy

# A stored tick is at most one keyframe old while its check is polled (see
# RetentionPolicy); older than that plus two polls means the check was not
# polled, and the sparkline shows a gap rather than an invented value.
_KEYFRAME_SECONDS = RetentionPolicy().keyframe_seconds


#: Condition states whose hold or countdown runs with the clock.
_TIMED_STATES = frozenset({ConditionState.PENDING, ConditionState.FIRING, ConditionState.RECOVERING})


@dataclass(frozen=True, slots=True)
class _StepProgress:
    status: StepStatus = StepStatus.PENDING
    started_at: datetime | None = None
    ended_at: datetime | None = None
    items: frozenset[str] = frozenset()
    evidence: tuple[str, ...] = ()
    evidence_items: tuple[str | None, ...] = ()  # the named item each answer is for, aligned with ``evidence``
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ClearedFiring:
    """A firing episode that ended (the condition went ok, or breached afresh): it still asks for a decision
    unless one was logged after ``seq``, the event that began it."""

    fired_at: datetime
    cleared_at: datetime
    seq: int
    acknowledged: bool

    @property
    def span(self) -> tuple[datetime, datetime]:
        """When it fired, when it cleared."""
        return self.fired_at, self.cleared_at


@dataclass(frozen=True, slots=True)
class _ConditionProgress:
    state: ConditionState = ConditionState.UNKNOWN
    value: float | None = None
    value_ts: datetime | None = None
    value_tick: int | None = None  # the id of the reading the value came from (newer logs)
    threshold: str = ""
    since: datetime | None = None
    detail: str = "not yet polled"  # what the observation said, without the hold
    flapping: bool = False
    acknowledged: bool = False
    breach_held: float = 0.0
    hold_from: datetime | None = None  # breach_held was measured then; it grows from there while breaching
    firing_since: datetime | None = None
    fired_seq: int | None = None  # the event that started the current firing episode
    cleared: ClearedFiring | None = None  # the last firing episode that ended
    consecutive_breaches: int = 0
    remaining_at_change: float | None = None  # recovering: seconds to clearing when it began


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The events folded so far, frozen: ``Reducer.checkpoint()`` makes one, ``Reducer.from_checkpoint(checkpoint)`` goes on from it.

    Ticks are not part of it: a view at an instant reads the ticks it needs
    from the log's index (``SessionLog.seek_ticks``).
    """

    steps: Mapping[str, _StepProgress]
    conditions: Mapping[str, _ConditionProgress]
    decisions: tuple[DecisionRecord, ...]
    log: tuple[LogLine, ...]
    gaps: tuple[tuple[datetime, datetime], ...]
    resumed_after_tick: int | None
    t0: datetime | None
    rehearsal: bool
    rollback_at: datetime | None
    ended: str | None
    last_seq: int
    last_event_ts: datetime | None
    last_decision_seq: int
    answered: frozenset[tuple[str, str]]
