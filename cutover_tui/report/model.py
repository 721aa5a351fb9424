"""The report as data: what ``build_report`` returns and every renderer reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cutover_tui.state import StepStatus
from cutover_tui.why import Why

REPORT_VERSION = 1

#: What each step status counts as on the checklist.
RESULTS: dict[StepStatus, str] = {
    StepStatus.DONE: "PASS",
    StepStatus.FAILED: "FAIL",
    StepStatus.SKIPPED: "SKIPPED",
    StepStatus.ACTIVE: "IN PROGRESS",
    StepStatus.PENDING: "NOT RUN",
    StepStatus.ABANDONED: "ABANDONED",
}

OUTCOME_LABELS = {
    "completed": "COMPLETED",
    "rolled_back": "ROLLED BACK",
    "abandoned": "ABANDONED",
    "unfinished": "NOT ENDED (in progress or abandoned)",
}


@dataclass(frozen=True, slots=True)
class Integrity:
    """What ``verify`` found, and whether the runbook text is the one the events name.

    ``bad_seq`` names the first event that fails the chain. The runbook text
    lives in the unchained ``sessions`` row; its sha256 is in the chain
    (``session_started``, ``runbook_changed``), so an edited runbook, which
    would move every planned time in this report, is caught here.
    """

    intact: bool
    events: int
    bad_seq: int | None
    reason: str
    runbook_intact: bool
    readings: int = 0  # stored readings checked against their seals
    head_seq: int = 0  # the chain's head: publish it, or compare it with a copy held elsewhere
    head_hash: str = ""


@dataclass(frozen=True, slots=True)
class RunbookChange:
    seq: int
    ts: datetime
    actor: str
    old_sha256: str
    new_sha256: str


@dataclass(frozen=True, slots=True)
class SessionHeader:
    """Who ran which runbook when, and how it ended."""

    runbook_name: str
    runbook_sha256: str
    file: str
    host: str
    tool_version: str
    commander: str
    actors: tuple[str, ...]
    rehearsal: bool
    timezone: str
    planned_t0: datetime | None
    actual_t0: datetime | None  # T0 as set live; None when it was never set live
    started_at: datetime
    ended_at: datetime
    duration_seconds: float
    outcome: str  # completed | rolled_back | abandoned | unfinished
    outcome_source: str  # "session_ended" or "inferred"
    rollback_started_at: datetime | None
    rollback_reason: str
    last_seq: int
    runbook_changes: tuple[RunbookChange, ...]


@dataclass(frozen=True, slots=True)
class ItemReport:
    id: str
    text: str
    checked: bool


@dataclass(frozen=True, slots=True)
class StepReport:
    """One checklist step: planned against actual, and its PASS/FAIL with evidence."""

    id: str
    title: str
    kind: str
    owner: str | None
    owner_title: str
    at: float | None  # the runbook's T-offset (from rollback start for the rollback plan)
    rollback_plan: bool
    status: str
    result: str  # PASS | FAIL | SKIPPED | IN PROGRESS | NOT RUN | ABANDONED
    planned_start: datetime | None
    planned_end: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    drift_seconds: float | None  # actual start - planned start
    end_drift_seconds: float | None  # actual end - planned end
    items: tuple[ItemReport, ...]
    evidence_required: bool
    evidence_expected: tuple[str, ...]
    evidence: tuple[str, ...]
    gate: dict[str, str]  # check -> outcome when the step was completed
    gate_overridden: bool
    reason: str  # fail or skip reason, or the gate override reason
    completed_by: str = ""  # who completed (or failed, skipped) it
    unticked: tuple[str, ...] = ()  # checklist items not ticked when it was completed
    unticked_reason: str = ""  # why it was completed anyway
    evidence_items: tuple[str, ...] = ()  # the named item (its text) each of ``evidence`` answers; "" for the step
    evidence_owed: tuple[str, ...] = ()  # required named items with no answer


@dataclass(frozen=True, slots=True)
class FrozenCondition:
    """A stop condition as the commander saw it when deciding."""

    id: str
    state: str
    value: float | None
    threshold: str
    unit: str


@dataclass(frozen=True, slots=True)
class ScoreLine:
    id: str
    title: str
    weight: float
    score: float | None


@dataclass(frozen=True, slots=True)
class ScorecardReport:
    scores: tuple[ScoreLine, ...]
    total: float | None
    result: str


@dataclass(frozen=True, slots=True)
class DecisionReport:
    seq: int
    ts: datetime
    actor: str
    decision: str
    reason: str
    step: str | None
    step_title: str
    verdict: str
    phrase: str | None
    scorecard: ScorecardReport | None
    conditions: tuple[FrozenCondition, ...]
    decided_by: str = ""  # the role id or name chosen as the decider ("" in logs from before it was asked)
    decided_by_title: str = ""
    decides: str = ""  # the role the firing banner asked to decide
    decides_title: str = ""
    answers: tuple[str, ...] = ()  # the firing conditions it answered
    approval: str = ""  # "1 of 2" for an approval step needing several approvers
    after_step: str = ""  # which step preceded the firing it answers


@dataclass(frozen=True, slots=True)
class Moment:
    ts: datetime
    value: float | None
    detail: str = ""  # the reason given then ("HTTP 503", "2.4% > 1%")


@dataclass(frozen=True, slots=True)
class Episode:
    """One firing of a stop condition and the first decision logged after it."""

    fired_at: datetime
    ended_at: datetime | None  # back to ok (or a fresh pending); None while it lasts
    decision_seq: int | None
    decision_at: datetime | None
    decision: str | None
    decided_by: str | None
    seconds_to_decision: float | None


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    seq: int
    ts: datetime
    actor: str
    reason: str


@dataclass(frozen=True, slots=True)
class Chart:
    """The condition's check over the session: held values, ``None`` where nothing was polled."""

    start: datetime
    end: datetime
    t0: datetime | None
    threshold: float | None
    points: tuple[tuple[datetime, float | None], ...]
    firing: tuple[tuple[datetime, datetime], ...]
    down: tuple[tuple[datetime, datetime], ...]


@dataclass(frozen=True, slots=True)
class ConditionReport:
    """A stop condition over the whole session."""

    id: str
    title: str
    check: str
    check_title: str
    threshold: str
    for_seconds: float
    unit: str
    action: str
    decides: str | None
    decides_title: str
    final_state: str
    seconds_in_state: dict[str, float]
    seconds_unwatched: float  # the dashboard was down
    first_breach: Moment | None
    peak: Moment | None
    readings: int  # stored ticks of its check
    episodes: tuple[Episode, ...]
    acknowledgements: tuple[Acknowledgement, ...]
    chart: Chart
    why: tuple[Why, ...] = ()  # why it fired, at each firing: what the log named then


@dataclass(frozen=True, slots=True)
class Gap:
    """The dashboard was down: nothing was polled or decided from ``start`` to ``end``."""

    start: datetime
    end: datetime
    seconds: float | None  # None: unknown (the wall clock read before the last write when the session resumed)


@dataclass(frozen=True, slots=True)
class Note:
    seq: int
    ts: datetime
    actor: str
    step: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Summary:
    """The go/no-go summary: counts a reviewer reads first."""

    results: dict[str, int]  # RESULTS value -> steps of the main plan
    decisions: int
    last_decision_seq: int | None
    conditions_fired: tuple[str, ...]
    gate_overrides: tuple[str, ...]
    missing_evidence: tuple[str, ...]  # completed steps whose required evidence is absent
    seconds_down: float


@dataclass(frozen=True, slots=True)
class Report:
    report_version: int
    generated_at: datetime
    session: SessionHeader
    integrity: Integrity
    summary: Summary
    steps: tuple[StepReport, ...]
    rollback_steps: tuple[StepReport, ...]
    decisions: tuple[DecisionReport, ...]
    conditions: tuple[ConditionReport, ...]
    gaps: tuple[Gap, ...]
    notes: tuple[Note, ...]
    broke_it: tuple[BrokeIt, ...] = ()
    what_if: tuple[WhatIfReport, ...] = ()


@dataclass(frozen=True, slots=True)
class BrokeIt:
    """A breach, firing or alert start, and the step that preceded it (``cutover_tui.correlate``)."""

    kind: str  # breach | firing | alert
    subject: str
    at: datetime
    step: str | None  # the last step started at or before it
    step_title: str
    lag_seconds: float | None
    running: tuple[str, ...]  # titles of the steps running then
    text: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class WhatIfReport:
    """``report --what-if``: the recorded readings re-evaluated with a changed condition (``cutover_tui.whatif``)."""

    spec: str
    summary: str
    timeline: tuple[str, ...]
    faithful: str


def seconds_between(planned: datetime | None, actual: datetime | None) -> float | None:
    """``actual - planned`` in seconds (drift), or None when either is unknown."""
    return (actual - planned).total_seconds() if planned and actual else None
