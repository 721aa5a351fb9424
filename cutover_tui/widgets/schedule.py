"""Schedule arithmetic for the header: which step is next, when the plan will end.

Pure functions over ``SessionState`` and the ``Runbook``; no Textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cutover_tui.state import Mode, SessionState, StepState, StepStatus
from runbooks.model import Runbook


@dataclass(frozen=True, slots=True)
class Projection:
    """When the remaining plan ends if steps keep their durations and cannot start early."""

    end: datetime
    planned_end: datetime | None  # None without a T0

    @property
    def drift_seconds(self) -> float | None:
        """Projected minus planned end (positive = late)."""
        if self.planned_end is None:
            return None
        return (self.end - self.planned_end).total_seconds()


def plan_steps(state: SessionState) -> tuple[StepState, ...]:
    """The steps of the plan being run: the rollback plan in ROLLBACK mode, else the main plan."""
    rollback = state.mode is Mode.ROLLBACK
    return tuple(step for step in state.steps if step.rollback_plan == rollback)


def step_by_id(state: SessionState, step_id: str | None) -> StepState | None:
    """The step with ``step_id``, or None."""
    for step in state.steps:
        if step.id == step_id:
            return step
    return None


def next_step(state: SessionState) -> StepState | None:
    """The first pending step of the plan being run."""
    return next((s for s in plan_steps(state) if s.status is StepStatus.PENDING), None)


def projected_end(state: SessionState, runbook: Runbook, now: datetime) -> Projection | None:
    """Project the end of the plan from the remaining steps' durations and where we are now.

    Active steps end at ``started + duration`` (or now, if overrunning); each
    pending step starts at the later of its planned start and the end of the
    one before it. This carries the current drift forward, and lets slack in
    the plan absorb it. None when nothing remains.
    """
    steps = plan_steps(state)
    remaining = [s for s in steps if s.status in (StepStatus.PENDING, StepStatus.ACTIVE)]
    if not remaining:
        return None
    cursor = now
    for step in remaining:
        duration = timedelta(seconds=runbook.step(step.id).duration or 0.0)
        if step.status is StepStatus.ACTIVE:
            started = step.started_at or now
            cursor = max(cursor, started + duration)
        else:
            start = max(cursor, step.planned_start) if step.planned_start else cursor
            cursor = start + duration
    planned_ends = [s.planned_end or s.planned_start for s in steps if (s.planned_end or s.planned_start)]
    return Projection(end=cursor, planned_end=max(planned_ends) if planned_ends else None)
