"""The session state: everything a screen shows, derived from the log.

``cutover_tui.reducer.reduce_events(runbook, events, ticks)`` is the one pure
function that builds a ``SessionState``; live mode, resume, follow, replay and
the report all call it. Nothing here does I/O.

Event kinds (``events.kind``) and their payloads:

- ``session_started``   {runbook_name, runbook_sha256, planned_t0, rehearsal: bool}
- ``session_resumed``   {gap_seconds, last_write_ts, accepted_runbook_change: bool, last_tick_id}
                         (``gap_seconds`` null: the wall clock read before ``last_write_ts``)
- ``runbook_changed``   {old_sha256, new_sha256}
- ``t0_set``            {t0}  (ISO 8601 UTC)
- ``step_started``      {step}
- ``step_completed``    {step, override_reason?: str, gate: {check_id: outcome},
                         unticked?: [item ids], items?: int, unticked_reason?: str}
- ``step_failed``       {step, reason}
- ``step_skipped``      {step, reason}
- ``item_checked``      {step, item, checked: bool}
- ``evidence_added``    {step, text, item?: the id of the named evidence item it answers}
- ``note``              {text, step?}
- ``decision``          {decision: go|no_go|conditional_go|hold|rollback|continue, reason,
                         step?, scorecard?: {scores, total, result}, phrase?: str,
                         conditions: {id: {state, value, threshold, firing_since?}}, verdict,
                         decided_by?: role id or name, decided_by_title?, decides?: the role the
                         banner asked for, answers?: [condition ids], approval?: {n, of}}
                         (a decision answers the firing episodes its snapshot names; the actor is
                         who typed it)
- ``condition_changed`` {condition, state, previous, value, threshold, reason, breach_held,
                         flapping, cause, detail, consecutive_breaches, remaining, firing_since,
                         ticks?: [tick ids], baseline?: {median, usable, unusable, min_samples, from,
                         to, complete, sources, ticks, text}, judged?: {ratio, p, n, baseline_n},
                         written_late_by?}
                         (``ticks``: the stored readings behind the change, ``cutover_tui.causes``)
                         (``written_late_by``: seconds a change waited in memory because the log
                         could not be written; the event keeps the time it happened)
                         (dated when the answer of the poll that made it came, its reading's
                         time, not when the screen's loop took it; never before the last event)
- ``condition_acknowledged`` {condition, reason?}
- ``rollback_started``  {reason}
- ``session_ended``     {outcome: completed|rolled_back|abandoned, reason?: quit|SIGTERM|SIGHUP}
- ``chain_break_accepted`` {bad_seq, reason}  (resumed with --accept-broken-chain)
- ``ticks_sealed``      {first, last, sha256, digests}  (the log's own; views never see it)
- ``baseline_fetched``  {check, source, query, from, to, samples: [[ts, outcome, value]]}
                         (a baseline window's readings read from Prometheus ``query_range``)
- any event may carry ``clock_behind_by``: the wall clock read that many seconds before the
  last event, so the event is dated at the last event's time (the log's order)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from checks.reading import Reading
from checks.status import ConditionState, ConditionStatus, Verdict

DECISIONS = ("go", "no_go", "conditional_go", "hold", "rollback", "continue")


class StepStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    ABANDONED = "abandoned"  # a forward step not done when the rollback plan started


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
    # the named item each of ``evidence`` answers (None: the step as a whole)
    evidence_items: tuple[str | None, ...] = ()
    reason: str = ""  # fail/skip reason or gate override reason
    rollback_plan: bool = False
    gate: tuple[tuple[str, str], ...] = ()  # (check id, check status) per gate check, in gate order


class ConditionStanding(Protocol):
    """Where a condition stands, without its numbers, reason or sparkline: what ranking the conditions, the steps'
    markers and the acknowledge key read."""

    @property
    def state(self) -> ConditionState: ...
    @property
    def active(self) -> bool: ...
    @property
    def firing_since(self) -> datetime | None: ...
    @property
    def acknowledged(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class ConditionView:
    """One stop condition as the screen, ``check`` and the report show it now.

    Every number is current at the state's ``now``, from one source: the
    evaluators while a session runs, the log in a follower and in replay.
    """

    id: str
    state: ConditionState
    value: float | None
    threshold: str
    since: datetime | None
    reason: str = ""  # why, in words, as of now ("4.1% > 1% for 34s of 1m", "HTTP 503, error 1 of 4")
    flapping: bool = False
    acknowledged: bool = False
    breach_held: float = 0.0  # seconds of breach held toward `for`, as of now
    history: Sequence[float | None] = ()  # recent values for the sparkline, oldest first
    firing_since: datetime | None = None  # kept while recovering or blind after firing (checks.verdict)
    active: bool = True  # in its `active` window now
    for_: float = 0.0  # the condition's `for`, seconds
    remaining: float | None = None  # pending: seconds to firing; recovering: seconds to clearing
    in_state_for: float | None = None  # seconds in the current state at `now`
    value_text: str = ""  # the value in the threshold's unit, "≥ 1s" for a lower bound, "—" without one
    detail: str = ""  # what the latest observation said, without the hold ("HTTP 503", "4.1% > 1%")


@dataclass(frozen=True, slots=True)
class CheckView:
    """The latest reading of a check, and its status now (the one staleness rule applied)."""

    id: str
    outcome: str | None  # a checks.reading.Outcome value; None = never polled
    value: float | None
    unit: str
    detail: str
    observed_at: datetime | None
    degraded: bool = False
    status: str = "never"  # outcome, or "stale" / "never" / "partial" (checks.verdict.check_status)
    age: float | None = None  # seconds since the reading at `now`
    lower_bound: bool = False  # the value is a lower bound (a quantile above the top histogram bucket)


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
    decided_by: str | None = None  # a role id or a person's name, chosen apart from who typed it (actor)
    phrase: str | None = None  # an approval's typed phrase


@dataclass(frozen=True, slots=True)
class LogLine:
    """A line of the decision / notes log shown at the bottom of the screen."""

    seq: int
    ts: datetime
    actor: str
    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class BannerView:
    """What the banner across every screen says, derived once for the screen and the report.

    ``kind``: ``rollback`` / ``halt`` (a firing condition awaits a decision),
    ``log`` (the log is not being written), ``writer`` (a followed session's
    writer stopped), ``polling`` (the polling thread stopped), ``runbook`` (a
    followed session's writer changed its runbook).
    """

    kind: str
    text: str  # one line: "ROLLBACK — auth_errors 4.2% > 1% for 1m20s — decides: CTO"
    condition: str | None = None
    acknowledged: bool = False
    escalation: str | None = None  # "no response for 31m (P0: respond within 30m) — escalate to CTO"
    cleared: tuple[datetime, datetime] | None = None  # a firing that ended unanswered: when it fired, when it cleared


@dataclass(frozen=True, slots=True)
class AtRiskView:
    """A halt or rollback condition pending (seconds to firing), recovering (seconds to clearing) or flapping while ok."""

    condition: str
    state: ConditionState
    seconds: float | None
    text: str  # "auth_errors 4% > 1% — fires in 0:26"


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


@dataclass(frozen=True, slots=True)
class LiveTruth:
    """What a running session knows that the log may not have yet: the evaluators are the truth.

    The screen never depends on a write succeeding: live, conditions and
    checks come from here; the log records them when it can.

    Attributes:
        statuses: every evaluator's status now, by condition id.
        readings: the newest reading of each check (stored as a tick or not),
            with its age in monotonic seconds.
        log_problem: why the log is not being written ("disk full"), or None.
        log_problem_since: when the log stopped being written.
        writer_stopped_at: in a follower, when the writer was last seen alive
            (None while it is alive), by the writer's clock.
        writer_silent_for: in a follower, seconds since it last saw the
            writer's heartbeat move, on its own monotonic clock (None when it
            never saw it move): "how long ago", whatever the writer's clock read.
        writer_holding: in a follower whose writer stopped writing, the pid of
            the process still holding the log (it runs but writes nothing:
            disk full, hung), or None when no process holds it.
        writer_disk_full: that process's log is on a file system with no space left.
        writer_ended: in a follower, whether the writer ended the session cleanly.
        view_behind_for: in a follower, seconds since it last read the log, once
            so long that it knows of no sign of life since (its own loop fell
            behind: a loaded machine, a suspend), or None: its writer is then
            "stopped" as far as it can tell, and the view, not the writer, is named.
        polling_stopped_at: when the polling thread was last seen alive, once it
            ended or stopped beating (None while it polls): every check and
            condition is stale from then on.
        runbook_replaced_at: in a follower, when the writer changed to a runbook
            other than the one this view judges with (it cannot judge the new one).
        writers_clock: in a follower, the writer's clock reads apart from this
            machine's, and ``now`` is the writer's (what counts from the log's times
            counts on the clock that dated them).
    """

    statuses: Mapping[str, ConditionStatus] = field(default_factory=dict)
    readings: Mapping[str, tuple[Reading, float]] = field(default_factory=dict)
    log_problem: str | None = None
    log_problem_since: datetime | None = None
    writer_stopped_at: datetime | None = None
    writer_silent_for: float | None = None
    writer_holding: int | None = None
    writer_disk_full: bool = False
    writer_ended: bool = False
    view_behind_for: float | None = None
    polling_stopped_at: datetime | None = None
    runbook_replaced_at: datetime | None = None
    writers_clock: bool = False


@dataclass(frozen=True, slots=True)
class SessionState:
    runbook_name: str
    mode: Mode
    t0: datetime | None
    steps: tuple[StepState, ...]  # the main plan; in ROLLBACK mode followed by the rollback plan
    conditions: Mapping[str, ConditionView]  # each view derived when first looked at (``cutover_tui.reducer.Views``)
    # Each condition's state, whether in force, firing since, with no tick read (what ranking reads): the same
    # as the views' (``conditions``), so left out of equality and repr.
    standings: Mapping[str, ConditionStanding] = field(compare=False, repr=False)
    checks: Mapping[str, CheckView]
    alerts: tuple[AlertView, ...]
    decisions: tuple[DecisionRecord, ...]
    log: tuple[LogLine, ...]  # newest last, bounded
    verdict: Verdict
    banner: str | None  # the top banner's text (a HALT/ROLLBACK awaiting a decision, a log or writer failure)
    banner_condition: str | None
    last_event_seq: int
    last_event_ts: datetime | None
    ended: str | None = None  # outcome when session_ended
    gaps: tuple[tuple[datetime, datetime], ...] = ()  # dashboard-down gaps from session_resumed
    rollback_started_at: datetime | None = None
    current_step: str | None = None
    now: datetime | None = None  # the instant this state describes
    verdict_reasons: tuple[str, ...] = ()  # why the verdict, worst first
    at_risk: Sequence[
        AtRiskView
    ] = ()  # pending / recovering halt and rollback conditions, soonest first (each derived when read)
    blind: tuple[str, ...] = ()  # conditions in force that cannot be seen
    banners: tuple[BannerView, ...] = ()  # every banner, most urgent first (``banner`` is the first's text)
    next_step: str | None = None  # the first pending step of the plan being run
    projection: Projection | None = None
    log_problem: str | None = None  # "LOG NOT WRITING: disk full — decisions cannot be recorded"
    writer_stopped_at: datetime | None = None  # a followed session's writer was last seen then
    writers_clock: bool = False  # a follower's ``now`` is the writer's clock, which reads apart from this machine's

    def step(self, step_id: str | None) -> StepState | None:
        """The step with ``step_id``, or None."""
        return next((s for s in self.steps if s.id == step_id), None)
