"""The session state: everything a screen shows, derived from the log.

``cutover_tui.reducer.reduce_events(runbook, events, ticks)`` is the one pure
function that builds a ``SessionState``; live mode, resume, follow, replay and
the report all call it. Nothing here does I/O.

Event kinds (``events.kind``) and their payloads:

- ``session_started``   {runbook_name, runbook_sha256, planned_t0, rehearsal: bool}
- ``session_resumed``   {gap_seconds, last_write_ts, accepted_runbook_change: bool}
- ``runbook_changed``   {old_sha256, new_sha256}
- ``t0_set``            {t0}  (ISO 8601 UTC)
- ``step_started``      {step}
- ``step_completed``    {step, override_reason?: str, gate: {check_id: outcome}}
- ``step_failed``       {step, reason}
- ``step_skipped``      {step, reason}
- ``item_checked``      {step, item, checked: bool}
- ``evidence_added``    {step, text}
- ``note``              {text, step?}
- ``decision``          {decision: go|no_go|conditional_go|hold|rollback|continue, reason,
                         step?, scorecard?: {scores, total, result}, phrase?: str,
                         conditions: {id: {state, value, threshold}}, verdict}
- ``condition_changed`` {condition, state, previous, value, threshold, reason, breach_held,
                         flapping}
- ``condition_acknowledged`` {condition, reason?}
- ``rollback_started``  {reason}
- ``session_ended``     {outcome: completed|rolled_back|abandoned, reason?: quit|SIGTERM|SIGHUP}
- ``chain_break_accepted`` {bad_seq, reason}  (resumed with --accept-broken-chain)
- ``ticks_sealed``      {first, last, sha256, digests}  (the log's own; views never see it)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from checks.state import ConditionState, Verdict

DECISIONS = ("go", "no_go", "conditional_go", "hold", "rollback", "continue")


class StepStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class Mode(StrEnum):
    LIVE = "LIVE"
    REHEARSAL = "REHEARSAL"
    ROLLBACK = "ROLLBACK"


@dataclass(frozen=True, slots=True)
class StepState:
    id: str
    title: str
    status: StepStatus
    planned_start: datetime | None  # t0 + at (None when unscheduled or no t0)
    planned_end: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    drift_seconds: float | None  # actual start - planned start
    items_checked: frozenset[str] = frozenset()
    evidence: tuple[str, ...] = ()
    reason: str = ""  # fail/skip reason or gate override reason
    rollback_plan: bool = False


@dataclass(frozen=True, slots=True)
class ConditionView:
    id: str
    state: ConditionState
    value: float | None
    threshold: str
    since: datetime | None
    reason: str = ""
    flapping: bool = False
    acknowledged: bool = False
    breach_held: float = 0.0
    history: tuple[float | None, ...] = ()  # recent values for the sparkline, oldest first
    firing_since: datetime | None = None  # kept while recovering or blind after firing (checks.verdict)


@dataclass(frozen=True, slots=True)
class CheckView:
    """The latest reading of a check (from the ticks table), for gate markers."""

    id: str
    outcome: str | None  # a checks.reading.Outcome value; None = never polled
    value: float | None
    unit: str
    detail: str
    observed_at: datetime | None
    degraded: bool = False


@dataclass(frozen=True, slots=True)
class AlertSilence:
    """A silence muting a suppressed alert, as Alertmanager describes it."""

    id: str
    created_by: str
    comment: str
    ends_at: str  # RFC 3339, as Alertmanager sends it; "" when not looked up


@dataclass(frozen=True, slots=True)
class AlertView:
    """One Alertmanager alert from the latest alerts reading."""

    name: str
    severity: str
    state: str  # "active" | "suppressed"
    summary: str
    starts_at: str
    check: str
    # Suppressed alerts only:
    expected_by: str = ""  # the step expecting the suppression, "suppressed: ignore", or "" (nobody: cannot vouch)
    silences: tuple[AlertSilence, ...] = ()
    inhibitors: tuple[str, ...] = ()  # the inhibiting alerts: "ClusterMaintenance (warning)"
    details_missing: str = ""  # why a silence or inhibitor could not be looked up


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    seq: int
    ts: datetime
    actor: str
    decision: str
    reason: str
    step: str | None = None
    conditions: dict = field(default_factory=dict)
    scorecard: dict | None = None


@dataclass(frozen=True, slots=True)
class LogLine:
    """A line of the decision / notes log shown at the bottom of the screen."""

    seq: int
    ts: datetime
    actor: str
    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class SessionState:
    runbook_name: str
    mode: Mode
    t0: datetime | None
    steps: tuple[StepState, ...]  # the main plan; in ROLLBACK mode followed by the rollback plan
    conditions: dict[str, ConditionView]
    checks: dict[str, CheckView]
    alerts: tuple[AlertView, ...]
    decisions: tuple[DecisionRecord, ...]
    log: tuple[LogLine, ...]  # newest last, bounded
    verdict: Verdict
    banner: str | None  # the HALT/ROLLBACK banner text while a firing condition awaits a decision
    banner_condition: str | None
    last_event_seq: int
    last_event_ts: datetime | None
    ended: str | None = None  # outcome when session_ended
    gaps: tuple[tuple[datetime, datetime], ...] = ()  # dashboard-down gaps from session_resumed
    rollback_started_at: datetime | None = None
    current_step: str | None = None
