"""The post-mortem and release-evidence report of a session log.

``build_report(path)`` reads a session log read-only, folds it through the
one reducer (``cutover_tui.reducer.Reducer``) and returns a ``Report``: the
session header, the checklist with PASS/FAIL and evidence, the decisions with
the condition values frozen at each, every stop condition's history, the
gaps where the dashboard was down and the result of ``verify``. The report
keeps no state of its own: everything in it is in the log.

Three renderings of the same ``Report``::

    report = build_report("go-live.cutover.db")
    render(report, "md")     # release evidence (Markdown)
    render(report, "html")   # one self-contained page, an SVG chart per stop condition
    render(report, "json")   # the Report as JSON, keys in a stable order, for other tools

Times are shown in the runbook's ``timezone`` (UTC when it has none); JSON
carries UTC ISO 8601 timestamps and normalised values (``%`` as a fraction,
times in seconds) with each condition's display unit.
"""

from __future__ import annotations

import html
import json
import os
import re
import sqlite3
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from checks.state import ConditionState, Verdict
from cutover_tui.correlate import correlate
from cutover_tui.labels import DECISION_LABELS, VERDICT_LABELS, display_unit
from cutover_tui.reducer import Reducer
from cutover_tui.state import ConditionView, DecisionRecord, StepState, StepStatus
from cutover_tui.store import (
    EventRecord,
    NotASessionLog,
    RetentionPolicy,
    SessionLog,
    TickRecord,
    format_ts,
    runbook_matches_chain,
)
from cutover_tui.why import Why, from_ticks
from cutover_tui.widgets.formatting import (
    display_zone,
    format_at,
    format_drift,
    format_duration,
    format_value,
)
from cutover_tui.widgets.markers import CHECK_MARKERS, CONDITION_MARKERS, STEP_MARKERS
from runbooks.model import Runbook, StopCondition

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

# Events after which a stop condition's state may differ (resume turns an
# old ok into unknown without a condition_changed event).
_CONDITION_EVENTS = frozenset({"session_started", "session_resumed", "condition_changed"})
_BREACHING = (ConditionState.PENDING, ConditionState.FIRING)
# Chart columns: each keeps the first, lowest, highest and last value of a
# run, so a 72-hour session draws the same envelope as every tick would.
_CHART_BUCKETS = 320


# ----------------------------------------------------------------- the model


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
    seconds: float


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


# ----------------------------------------------------------------- building


def build_report(
    path: str | os.PathLike[str], *, generated_at: datetime | None = None, what_if: Sequence[str] = ()
) -> Report:
    """Read the session log at ``path`` (read-only) and derive its report.

    A tampered log is still reported, with ``integrity.intact`` False.

    Args:
        path: a session log (``*.cutover.db``); it may be written meanwhile.
        generated_at: when the report is made (default now, UTC).
        what_if: ``--what-if`` specs ("auth_errors: > 2% for 2m"): the readings re-evaluated with each.

    Raises:
        NotASessionLog: the file is not a session log.
        RunbookError: the runbook stored in the log is not a valid runbook.
        ValueError: a what-if spec does not parse or names no condition.
    """
    log = SessionLog.open_readonly(path)
    try:
        report = _build(log, Path(path), generated_at or datetime.now(timezone.utc))
    except sqlite3.DatabaseError as error:
        raise NotASessionLog(f"{path}: not a session log ({error})") from None
    finally:
        log.close()
    if not what_if:
        return report
    from dataclasses import replace

    from cutover_tui.whatif import what_if as evaluate_what_if

    results = evaluate_what_if(path, list(what_if))
    sections = tuple(WhatIfReport(r.spec.text, r.summary(), tuple(r.timeline()), r.faithful()) for r in results)
    return replace(report, what_if=sections)


def _build(log: SessionLog, path: Path, generated_at: datetime) -> Report:
    info = log.info()
    verified = log.verify()
    try:
        # Only an edit makes a payload that is not a JSON object; verify names it.
        events = [e for e in log.events() if isinstance(e.payload, dict)]
    except ValueError:
        events = []
    runbook = log.stored_runbook()
    runbook_intact = runbook_matches_chain(info.runbook_text, events)
    # Ticks only move values and sparklines; the report reads them per check below.
    reducer = Reducer(runbook, history=1)
    history: dict[str, list[_Snapshot]] = {c.id: [] for c in runbook.stop_conditions}
    for event in events:
        reducer.apply(event)
        if event.kind in _CONDITION_EVENTS:
            _remember(history, event, reducer.state(now=event.ts).conditions)
    final = reducer.state()

    started = events[0].ts if events else info.created_at
    ended_event = next((e for e in reversed(events) if e.kind == "session_ended"), None) if final.ended else None
    ended = ended_event.ts if ended_event else max(log.last_write_ts or info.updated_at, started)
    gaps = tuple(Gap(a, b, (b - a).total_seconds()) for a, b in final.gaps)
    by_kind = _by_kind(events)

    endings = {**by_kind["step_completed"], **by_kind["step_failed"], **by_kind["step_skipped"]}
    steps = tuple(_step_report(runbook, step, endings) for step in final.steps)
    main_steps = tuple(s for s in steps if not s.rollback_plan)
    alert_ticks = [t for cid, c in runbook.checks.items() if c.kind == "alerts" for t in log.ticks(check=cid)]
    correlations = correlate(runbook, events, alert_ticks)
    firings = {(c.subject, c.seq): c for c in correlations if c.kind == "firing"}
    decisions = tuple(
        _decision_report(runbook, d, by_kind["decision"].get(d.seq), correlations) for d in final.decisions
    )
    changes = [e for e in events if e.kind == "condition_changed"]
    conditions = tuple(
        _condition_report(
            runbook,
            condition,
            log,
            history[condition.id],
            final.conditions[condition.id],
            final.decisions,
            by_kind["condition_acknowledged"],
            final.t0,
            started,
            ended,
            gaps,
            why=_whys(runbook, condition, log, changes, firings),
        )  # fmt: skip
        for condition in runbook.stop_conditions
    )
    rollback = by_kind["rollback_started"]
    session = SessionHeader(
        runbook_name=info.runbook_name,
        runbook_sha256=info.runbook_sha256,
        file=path.name,
        host=info.host,
        tool_version=info.tool_version,
        commander=info.operator,
        actors=tuple(dict.fromkeys(e.actor for e in events if e.actor != "system")),
        rehearsal=any(e.payload.get("rehearsal") for e in events if e.kind == "session_started"),
        timezone=runbook.timezone or "UTC",
        planned_t0=info.planned_t0,
        actual_t0=final.t0 if by_kind["t0_set"] else None,
        started_at=started,
        ended_at=ended,
        duration_seconds=(ended - started).total_seconds(),
        outcome=_outcome(final.ended, final.rollback_started_at, main_steps),
        outcome_source="session_ended" if final.ended else "inferred",
        rollback_started_at=final.rollback_started_at,
        rollback_reason=str(next(iter(rollback.values())).payload.get("reason", "")) if rollback else "",
        last_seq=final.last_event_seq,
        runbook_changes=tuple(
            RunbookChange(
                e.seq, e.ts, e.actor, str(e.payload.get("old_sha256", "")), str(e.payload.get("new_sha256", ""))
            )
            for e in by_kind["runbook_changed"].values()
        ),
    )
    summary = Summary(
        results={result: sum(1 for s in main_steps if s.result == result) for result in RESULTS.values()},
        decisions=len(decisions),
        last_decision_seq=decisions[-1].seq if decisions else None,
        conditions_fired=tuple(c.id for c in conditions if c.episodes),
        gate_overrides=tuple(s.id for s in steps if s.gate_overridden),
        missing_evidence=tuple(s.id for s in steps if s.result == "PASS" and s.evidence_required and not s.evidence),
        seconds_down=sum(g.seconds for g in gaps),
    )
    return Report(
        report_version=REPORT_VERSION,
        generated_at=generated_at.astimezone(timezone.utc),
        session=session,
        integrity=Integrity(
            intact=verified.ok and runbook_intact,
            events=verified.events,
            bad_seq=verified.bad_seq,
            reason=verified.reason if not verified.ok else "" if runbook_intact else _RUNBOOK_EDITED,
            runbook_intact=runbook_intact,
            readings=verified.ticks,
            head_seq=verified.head_seq,
            head_hash=verified.head_hash if verified.head_seq else "",
        ),
        summary=summary,
        steps=main_steps,
        rollback_steps=tuple(s for s in steps if s.rollback_plan),
        decisions=decisions,
        conditions=conditions,
        gaps=gaps,
        notes=tuple(
            Note(e.seq, e.ts, e.actor, e.payload.get("step"), str(e.payload.get("text", "")))
            for e in by_kind["note"].values()
        ),
        broke_it=tuple(
            BrokeIt(
                kind=c.kind,
                subject=c.subject,
                at=c.at,
                step=c.context.last_started.id if c.context.last_started else None,
                step_title=c.context.last_started.title if c.context.last_started else "",
                lag_seconds=c.context.lag(),
                running=tuple(run.title for run in c.context.running),
                text=c.text(),
                detail=c.detail,
            )
            for c in correlations
        ),
    )


_RUNBOOK_EDITED = "the runbook text in the sessions table does not match the sha256 its events recorded"


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """A stop condition's state after the event ``seq``, as the reducer gives it."""

    seq: int
    ts: datetime
    state: ConditionState
    value: float | None
    reason: str
    firing_since: datetime | None


def _remember(history: dict[str, list[_Snapshot]], event: EventRecord, views: dict[str, ConditionView]) -> None:
    for condition_id, view in views.items():
        snapshots = history[condition_id]
        if not snapshots or (snapshots[-1].state, snapshots[-1].firing_since) != (view.state, view.firing_since):
            snapshots.append(_Snapshot(event.seq, event.ts, view.state, view.value, view.detail, view.firing_since))


def _by_kind(events: Iterable[EventRecord]) -> dict[str, dict[int, EventRecord]]:
    """Events of the kinds the report reads beyond the reducer's state, by seq."""
    kinds = (
        "step_completed", "step_failed", "step_skipped", "decision", "condition_acknowledged", "rollback_started",
        "runbook_changed", "t0_set", "note",
    )  # fmt: skip
    grouped: dict[str, dict[int, EventRecord]] = {kind: {} for kind in kinds}
    for event in events:
        if event.kind in grouped:
            grouped[event.kind][event.seq] = event
    return grouped


def _outcome(ended: str | None, rollback_at: datetime | None, steps: Sequence[StepReport]) -> str:
    """As logged by ``session_ended``; else rolled back, completed (every step done or skipped) or unfinished."""
    if ended:
        return ended
    if rollback_at is not None:
        return "rolled_back"
    if steps and all(s.status in (StepStatus.DONE, StepStatus.SKIPPED) for s in steps):
        return "completed"
    return "unfinished"


def _step_report(runbook: Runbook, state: StepState, endings: dict[int, EventRecord]) -> StepReport:
    step = runbook.step(state.id)
    ending = next(
        (
            e
            for seq, e in sorted(endings.items(), reverse=True)
            if e.payload.get("step") == step.id and state.ended_at == e.ts
        ),
        None,
    )
    completion = ending.payload if ending is not None and ending.kind == "step_completed" else {}
    overridden = state.status is StepStatus.DONE and bool(completion.get("override_reason"))
    if state.status is StepStatus.DONE:
        logged = completion.get("unticked")
        unticked = (
            tuple(str(i) for i in logged)
            if isinstance(logged, list)
            else tuple(item.id for item in step.items if item.id not in state.items_checked)
        )
    else:
        unticked = ()
    return StepReport(
        id=step.id,
        title=step.title,
        kind=step.kind.value,
        owner=step.owner,
        owner_title=runbook.roles.get(step.owner, step.owner) if step.owner else "",
        at=step.at,
        rollback_plan=state.rollback_plan,
        status=state.status.value,
        result=RESULTS[state.status],
        planned_start=state.planned_start,
        planned_end=state.planned_end,
        started_at=state.started_at,
        ended_at=state.ended_at,
        drift_seconds=state.drift_seconds,
        end_drift_seconds=_seconds_between(state.planned_end, state.ended_at),
        items=tuple(ItemReport(item.id, item.text, item.id in state.items_checked) for item in step.items),
        evidence_required=step.evidence_required,
        evidence_expected=tuple(item.text for item in step.evidence),
        evidence=state.evidence,
        gate={str(k): str(v) for k, v in (completion.get("gate") or {}).items()},
        gate_overridden=overridden,
        reason=state.reason,
        completed_by=ending.actor if ending is not None else "",
        unticked=unticked,
        unticked_reason=str(completion.get("unticked_reason") or ""),
    )


def _seconds_between(planned: datetime | None, actual: datetime | None) -> float | None:
    return (actual - planned).total_seconds() if planned and actual else None


def _decision_report(
    runbook: Runbook, record: DecisionRecord, event: EventRecord | None, correlations: Sequence[Any] = ()
) -> DecisionReport:
    payload = event.payload if event else {}
    answers = tuple(str(a) for a in payload.get("answers") or ())
    fired = [c for c in correlations if c.kind == "firing" and c.subject in answers and c.at <= record.ts]
    decides = str(payload.get("decides") or "")
    approval = payload.get("approval") if isinstance(payload.get("approval"), dict) else None
    frozen = []
    for condition_id, seen in record.conditions.items():
        seen = seen if isinstance(seen, dict) else {}
        condition = _condition_or_none(runbook, condition_id)
        frozen.append(
            FrozenCondition(
                id=condition_id,
                state=str(seen.get("state", "")),
                value=_number(seen.get("value")),
                threshold=str(seen.get("threshold") or ""),
                unit=display_unit(condition, runbook) if condition else "",
            )
        )
    return DecisionReport(
        seq=record.seq,
        ts=record.ts,
        actor=record.actor,
        decision=record.decision,
        reason=record.reason,
        step=record.step,
        step_title=_step_title(runbook, record.step),
        verdict=str(payload.get("verdict") or ""),
        phrase=payload.get("phrase"),
        scorecard=_scorecard(runbook, record.scorecard),
        conditions=tuple(frozen),
        decided_by=str(payload.get("decided_by") or ""),
        decided_by_title=str(payload.get("decided_by_title") or runbook.roles.get(str(payload.get("decided_by")), "")),
        decides=decides,
        decides_title=runbook.roles.get(decides, decides),
        answers=answers,
        approval=f"{approval.get('n')} of {approval.get('of')}" if approval else "",
        after_step="; ".join(
            next(c for c in reversed(fired) if c.subject == subject).text()
            for subject in dict.fromkeys(c.subject for c in fired)
        ),
    )


def _scorecard(runbook: Runbook, logged: Any) -> ScorecardReport | None:
    if not isinstance(logged, dict):
        return None
    scores = logged.get("scores")
    if not isinstance(scores, dict):
        scores = {}
    categories = runbook.scorecard.categories if runbook.scorecard else ()
    known = {c.id for c in categories}
    lines = [ScoreLine(c.id, c.title, c.weight, _number(scores.get(c.id))) for c in categories]
    lines += [ScoreLine(str(k), str(k), 0.0, _number(v)) for k, v in scores.items() if k not in known]
    return ScorecardReport(tuple(lines), _number(logged.get("total")), str(logged.get("result") or ""))


def _condition_report(
    runbook: Runbook,
    condition: StopCondition,
    log: SessionLog,
    snapshots: list[_Snapshot],
    final: ConditionView,
    decisions: Sequence[DecisionRecord],
    acknowledgements: dict[int, EventRecord],
    t0: datetime | None,
    start: datetime,
    end: datetime,
    gaps: Sequence[Gap],
    *,
    why: tuple[Why, ...] = (),
) -> ConditionReport:
    in_state: dict[ConditionState, float] = {}
    unwatched = 0.0
    firing: list[tuple[datetime, datetime]] = []
    for index, snapshot in enumerate(snapshots):
        seg_start = max(snapshot.ts, start)
        seg_end = snapshots[index + 1].ts if index + 1 < len(snapshots) else end
        if seg_end <= seg_start:
            continue
        down = sum(_overlap(seg_start, seg_end, g.start, g.end) for g in gaps)
        in_state[snapshot.state] = in_state.get(snapshot.state, 0.0) + (seg_end - seg_start).total_seconds() - down
        unwatched += down
        if snapshot.state is ConditionState.FIRING:
            firing += _outside(seg_start, seg_end, gaps)
    check = runbook.checks.get(condition.check)
    every = check.every if check else 15.0
    series = _Series(start, end, RetentionPolicy().keyframe_seconds + 2 * every, _worse(condition), gaps)
    for tick in log.ticks(check=condition.check):
        series.add(tick)
    first_breach = next((s for s in snapshots if s.state in _BREACHING), None)
    return ConditionReport(
        id=condition.id,
        title=condition.title,
        check=condition.check,
        check_title=check.title if check else "",
        threshold=condition.threshold_text,
        for_seconds=condition.for_,
        unit=display_unit(condition, runbook),
        action=condition.action.value,
        decides=condition.decides,
        decides_title=runbook.roles.get(condition.decides, condition.decides) if condition.decides else "",
        final_state=final.state.value,
        seconds_in_state={state.value: in_state[state] for state in ConditionState if in_state.get(state, 0.0) > 0},
        seconds_unwatched=unwatched,
        first_breach=Moment(first_breach.ts, first_breach.value, first_breach.reason) if first_breach else None,
        peak=series.peak,
        readings=series.count,
        episodes=_episodes(snapshots, decisions),
        acknowledgements=tuple(
            Acknowledgement(e.seq, e.ts, e.actor, str(e.payload.get("reason") or ""))
            for e in acknowledgements.values()
            if e.payload.get("condition") == condition.id
        ),
        chart=Chart(
            start=start,
            end=end,
            t0=t0,
            threshold=condition.when.value if condition.when else None,
            points=series.points(),
            firing=tuple(firing),
            down=tuple((g.start, g.end) for g in gaps),
        ),
        why=why,
    )


def _whys(
    runbook: Runbook, condition: StopCondition, log: SessionLog, changes: Sequence[EventRecord], firings: dict[Any, Any]
) -> tuple[Why, ...]:
    """Why the condition fired, at each firing: the change's named readings, the readings before it, its baseline."""
    whys = []
    for event in changes:
        if event.payload.get("condition") != condition.id or (condition.id, event.seq) not in firings:
            continue
        before = list(log.ticks(until=event.ts, check=condition.check))
        errors = [t for t in before if t.outcome == "error"]
        named = {int(t) for t in event.payload.get("ticks") or () if isinstance(t, int)}
        shown = before[-20:]
        missing = sorted(named - {t.id for t in shown if t.id is not None})
        if missing:  # the run began before the last 20 stored readings: show where it began too
            shown = sorted([*log.ticks_by_id(missing[:1]), *shown], key=lambda t: (t.ts, t.id or 0))
        whys.append(
            from_ticks(
                runbook,
                condition,
                None,
                shown,
                event.payload,
                last_error=errors[-1] if errors else None,
                note=f"Stored readings up to the firing ({len(before)} in all)",
                at=event.ts,
            )
        )
    return tuple(whys)


def _episodes(snapshots: Sequence[_Snapshot], decisions: Sequence[DecisionRecord]) -> tuple[Episode, ...]:
    """Firing episodes (``firing_since`` set until ok or a fresh breach) and the first decision after each."""
    decision_seqs = [d.seq for d in decisions]
    episodes: list[Episode] = []
    open_at: tuple[datetime, int] | None = None

    def close(ended: datetime | None) -> None:
        assert open_at is not None
        fired_at, seq = open_at
        index = bisect_right(decision_seqs, seq)
        decision = decisions[index] if index < len(decisions) else None
        episodes.append(
            Episode(
                fired_at=fired_at,
                ended_at=ended,
                decision_seq=decision.seq if decision else None,
                decision_at=decision.ts if decision else None,
                decision=decision.decision if decision else None,
                decided_by=decision.actor if decision else None,
                seconds_to_decision=(decision.ts - fired_at).total_seconds() if decision else None,
            )
        )

    for snapshot in snapshots:
        if open_at is not None and snapshot.firing_since != open_at[0]:
            close(snapshot.ts)
            open_at = None
        if open_at is None and snapshot.firing_since is not None:
            open_at = (snapshot.firing_since, snapshot.seq)
    if open_at is not None:
        close(None)
    return tuple(episodes)


def _overlap(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> float:
    return max(0.0, (min(a_end, b_end) - max(a_start, b_start)).total_seconds())


def _outside(start: datetime, end: datetime, gaps: Sequence[Gap]) -> list[tuple[datetime, datetime]]:
    """``start..end`` without the gaps: nobody watched then, so the chart does not shade them as firing."""
    pieces = [(start, end)]
    for gap in gaps:
        pieces = [
            piece for a, b in pieces for piece in ((a, min(b, gap.start)), (max(a, gap.end), b)) if piece[1] > piece[0]
        ]
    return pieces


def _worse(condition: StopCondition) -> Callable[[float, float], bool]:
    """Whether a value is further on the breaching side than another (lower for ``<`` thresholds)."""
    if condition.when is not None and condition.when.op in ("<", "<="):
        return lambda value, peak: value < peak
    return lambda value, peak: value > peak


class _Series:
    """One check's ticks, streamed: the peak, and chart points bounded to ``_CHART_BUCKETS`` columns.

    A stored tick's value holds until the next one (``RetentionPolicy``) but
    no longer than ``hold_seconds`` (a keyframe and two polls, as the
    reducer's sparkline) and never into a gap where the dashboard was down:
    there a ``None`` point marks that nothing was polled, so a chart never
    draws an invented value.
    """

    def __init__(
        self,
        start: datetime,
        end: datetime,
        hold_seconds: float,
        worse: Callable[[float, float], bool],
        gaps: Sequence[Gap],
    ) -> None:
        self.start, self.end = start, end
        self.hold = timedelta(seconds=hold_seconds)
        self.gap_starts = sorted(g.start for g in gaps)
        self.worse = worse
        self.count = 0
        self.peak: Moment | None = None
        self._span = max((end - start).total_seconds(), 1e-3)
        self._last: tuple[datetime, float | None] | None = None
        self._bucket = -1
        self._pending: list[tuple[datetime, float | None]] = []
        self._points: list[tuple[datetime, float | None]] = []

    def add(self, tick: TickRecord) -> None:
        self.count += 1
        value = tick.value
        if value is not None and (self.peak is None or self.peak.value is None or self.worse(value, self.peak.value)):
            self.peak = Moment(tick.ts, value, tick.detail)
        self._break_before(tick.ts)
        self._point(tick.ts, value)
        self._last = (tick.ts, value)

    def _point(self, ts: datetime, value: float | None) -> None:
        bucket = int((ts - self.start).total_seconds() / self._span * _CHART_BUCKETS)
        if bucket != self._bucket:
            self._flush()
            self._bucket = bucket
        self._pending.append((ts, value))

    def _flush(self) -> None:
        run: list[tuple[datetime, float]] = []
        for ts, value in self._pending:
            if value is not None:
                run.append((ts, value))
                continue
            self._points.extend(_envelope(run))
            run = []
            if not self._points or self._points[-1][1] is not None:
                self._points.append((ts, None))
        self._points.extend(_envelope(run))
        self._pending = []

    def _break_before(self, moment: datetime) -> None:
        """Lift the pen where the last value stops holding, if that is before ``moment``."""
        if self._last is None or self._last[1] is None:
            return
        held_from = self._last[0]
        index = bisect_left(self.gap_starts, held_from)
        stops = [held_from + self.hold, *self.gap_starts[index : index + 1]]
        if min(stops) < moment:
            self._point(min(stops), None)

    def points(self) -> tuple[tuple[datetime, float | None], ...]:
        self._break_before(self.end)
        self._flush()
        return tuple(self._points)


def _envelope(run: list[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    """The first, lowest, highest and last points of a run, in time order."""
    if len(run) <= 4:
        return run
    lowest = min(range(len(run)), key=lambda i: run[i][1])
    highest = max(range(len(run)), key=lambda i: run[i][1])
    return [run[i] for i in sorted({0, lowest, highest, len(run) - 1})]


def _condition_or_none(runbook: Runbook, condition_id: str) -> StopCondition | None:
    try:
        return runbook.condition(condition_id)
    except KeyError:
        return None


def _step_title(runbook: Runbook, step_id: str | None) -> str:
    if not step_id:
        return ""
    try:
        return runbook.step(step_id).title
    except KeyError:
        return step_id


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# ----------------------------------------------------------------- rendering


def render(report: Report, fmt: str) -> str:
    """``report`` as Markdown (``md``), a self-contained HTML page (``html``) or JSON (``json``)."""
    renderers: dict[str, Callable[[Report], str]] = {"md": render_markdown, "html": render_html, "json": render_json}
    return renderers[fmt](report)


def render_json(report: Report) -> str:
    """The report as JSON: field order as in ``Report``, UTC ISO 8601 times, normalised values."""
    return json.dumps(asdict(report), indent=2, ensure_ascii=False, allow_nan=False, default=_json_default) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_ts(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def render_markdown(report: Report) -> str:
    """The report as Markdown release evidence (GitHub-flavoured tables)."""
    return "\n".join(filter(None, map(_markdown_block, _document(report)))).rstrip() + "\n"


def render_html(report: Report) -> str:
    """The report as one HTML page: inline CSS and SVG, no external assets or scripts, printable."""
    clock = _Clock(report)
    body = "\n".join(_html_block(block, clock) for block in _document(report))
    title = html.escape(f"Cutover report: {report.session.runbook_name}")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


# One document, two renderings: the blocks below say what the report says;
# Markdown and HTML only say how it looks, so they cannot disagree.


@dataclass(frozen=True, slots=True)
class _Heading:
    level: int
    text: str


@dataclass(frozen=True, slots=True)
class _Paragraph:
    text: str


@dataclass(frozen=True, slots=True)
class _Alert:
    text: str
    danger: bool


@dataclass(frozen=True, slots=True)
class _Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    row_classes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _ChartBlock:
    condition: ConditionReport


_Block = _Heading | _Paragraph | _Alert | _Bullets | _Table | _ChartBlock


class _Clock:
    """Times in the runbook's zone: ``16:30:05``, with the date when the session spans days."""

    def __init__(self, report: Report) -> None:
        self.zone: tzinfo = display_zone(report.session.timezone) or timezone.utc
        first, last = (m.astimezone(self.zone).date() for m in (report.session.started_at, report.session.ended_at))
        self.with_date = first != last

    def time(self, moment: datetime | None) -> str:
        if moment is None:
            return "—"
        local = moment.astimezone(self.zone)
        return f"{local:%m-%d %H:%M:%S}" if self.with_date else f"{local:%H:%M:%S}"

    def full(self, moment: datetime | None) -> str:
        if moment is None:
            return "—"
        local = moment.astimezone(self.zone)
        return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or ''}".rstrip()


def _document(report: Report) -> list[_Block]:
    clock = _Clock(report)
    session = report.session
    titles = {s.id: s.title for s in (*report.steps, *report.rollback_steps)}
    blocks: list[_Block] = [_Heading(1, f"Cutover report: {session.runbook_name}")]
    if not report.integrity.intact:
        blocks.append(_Alert(_tampered_text(report.integrity), danger=True))
    blocks += [
        _Paragraph(
            f"Release evidence from the session log {session.file}, generated {clock.full(report.generated_at)}. "
            f"Times are {session.timezone}."
        ),
        _Table(("Field", "Value"), tuple(_header_rows(report, clock))),
        _Heading(2, "Go/no-go summary"),
        _Bullets(tuple(_summary_lines(report, clock))),
        _Heading(2, "Checklist"),
        *_steps_blocks(report.steps, clock),
    ]
    if session.rollback_started_at is not None:
        blocks += [
            _Heading(2, "Rollback plan"),
            _Paragraph(f"Rollback started {clock.time(session.rollback_started_at)}: {session.rollback_reason}"),
            *_steps_blocks(report.rollback_steps, clock),
        ]
    blocks.append(_Heading(2, "Decisions"))
    blocks += [b for d in report.decisions for b in _decision_blocks(d, clock)] or [
        _Paragraph("No decision was logged.")
    ]
    blocks.append(_Heading(2, "Stop conditions"))
    blocks += [b for c in report.conditions for b in _condition_blocks(c, clock)] or [
        _Paragraph("The runbook has no stop conditions.")
    ]
    blocks += _broke_it_blocks(report, clock)
    blocks += _what_if_blocks(report)
    blocks.append(_Heading(2, "Dashboard down"))
    if report.gaps:
        blocks.append(
            _Table(
                ("From", "To", "Duration"),
                tuple((clock.time(g.start), clock.time(g.end), format_duration(g.seconds)) for g in report.gaps),
            )
        )
        blocks.append(_Paragraph("Nothing was polled and no stop condition was evaluated during these gaps."))
    else:
        blocks.append(_Paragraph("The dashboard ran without a gap."))
    if report.notes:
        blocks += [
            _Heading(2, "Notes"),
            _Table(
                ("Time", "Who", "Step", "Note"),
                tuple(
                    (clock.time(n.ts), n.actor, titles.get(n.step or "", n.step or ""), n.text) for n in report.notes
                ),
            ),
        ]
    blocks.append(_Heading(2, "Log integrity"))
    if report.integrity.intact:
        blocks.append(
            _Alert(
                f"{_integrity_text(report.integrity)}; anyone can check again with: "
                f"cutover-tui verify {session.file} --expect-head {report.integrity.head_hash}",
                danger=False,
            )
        )
    else:
        blocks.append(_Alert(_tampered_text(report.integrity), danger=True))
    return blocks


def _integrity_text(integrity: Integrity) -> str:
    if integrity.intact:
        return (
            f"✔ intact: {integrity.events} events and {integrity.readings} readings verified; "
            f"head seq {integrity.head_seq} sha256 {integrity.head_hash}"
        )
    where = f"seq {integrity.bad_seq}: " if integrity.bad_seq is not None else ""
    return f"✖ TAMPERED: {where}{integrity.reason}"


def _tampered_text(integrity: Integrity) -> str:
    return (
        f"{_integrity_text(integrity)}. This session log's hash chain does not verify: "
        "what follows is read from the file as it is now and is not evidence of what happened."
    )


def _header_rows(report: Report, clock: _Clock) -> list[tuple[str, str]]:
    session = report.session
    how = "logged" if session.outcome_source == "session_ended" else "inferred: no session_ended event"
    rows = [
        ("Outcome", f"{OUTCOME_LABELS.get(session.outcome, session.outcome.upper())} ({how})"),
        ("Runbook", f"{session.runbook_name}, sha256 {session.runbook_sha256}"),
    ]
    rows += [
        ("Runbook changed", f"{clock.time(c.ts)} by {c.actor}: {c.old_sha256[:12]} → {c.new_sha256[:12]}")
        for c in session.runbook_changes
    ]
    if session.actual_t0 is None:
        actual = "as planned (not set live)" if session.planned_t0 else "not set"
    else:
        moved = format_drift(_seconds_between(session.planned_t0, session.actual_t0))
        actual = clock.full(session.actual_t0) + (f" ({moved} from plan)" if moved else "")
    rows += [
        ("Commander", session.commander or "—"),
        ("Actors", ", ".join(session.actors) or "—"),
        ("Planned T0", clock.full(session.planned_t0) if session.planned_t0 else "not set"),
        ("Actual T0", actual),
        ("Session", f"{clock.full(session.started_at)} → {clock.full(session.ended_at)}"),
        ("Duration", format_duration(session.duration_seconds)),
        ("Mode", "rehearsal" if session.rehearsal else "live"),
        ("Host", f"{session.host or '—'}, cutover-tui {session.tool_version or '?'}"),
        ("Log integrity", _integrity_text(report.integrity)),
    ]
    return rows


def _summary_lines(report: Report, clock: _Clock) -> list[str]:
    session, summary = report.session, report.summary
    counts = ", ".join(f"{n} {result}" for result, n in summary.results.items() if n)
    lines = [
        f"Outcome: {OUTCOME_LABELS.get(session.outcome, session.outcome.upper())}.",
        f"Checklist: {counts or 'no steps'} (of {len(report.steps)} steps).",
    ]
    titles = {s.id: s.title for s in (*report.steps, *report.rollback_steps)}
    if summary.gate_overrides:
        lines.append("Gate overridden: " + ", ".join(titles[s] for s in summary.gate_overrides) + ".")
    if summary.missing_evidence:
        lines.append("Required evidence missing: " + ", ".join(titles[s] for s in summary.missing_evidence) + ".")
    if report.decisions:
        last = report.decisions[-1]
        by = f"{last.decided_by_title or last.decided_by} (typed by {last.actor})" if last.decided_by else last.actor
        lines.append(
            f"Decisions: {summary.decisions}; the last: {_decision_label(last.decision)} "
            f"{clock.time(last.ts)} by {by}: {last.reason}"
        )
    else:
        lines.append("Decisions: none.")
    fired = [c for c in report.conditions if c.episodes]
    if fired:
        lines.append("Stop conditions that fired: " + "; ".join(_fired_summary(c) for c in fired) + ".")
    else:
        lines.append("Stop conditions that fired: none.")
    for condition in fired:
        firing = next((b for b in report.broke_it if b.kind == "firing" and b.subject == condition.id), None)
        breach = next((b for b in reversed(report.broke_it) if b.kind == "breach" and b.subject == condition.id
                       and firing is not None and b.at <= firing.at), None)  # fmt: skip
        if breach is not None:
            lines.append(f"Which step broke it: {breach.text}.")
        elif firing is not None:
            lines.append(f"Which step broke it: {firing.text}.")
    if not fired:
        first = next((b for b in report.broke_it if b.kind == "breach"), None)
        if first is not None:
            lines.append(f"First breach: {first.text}.")
    unticked = [s for s in report.steps if s.result == "PASS" and s.unticked]
    if unticked:
        lines.append(
            "Completed with items unticked: "
            + "; ".join(
                f"{s.title} ({len(s.unticked)} of {len(s.items)} — {s.unticked_reason or 'no reason given'})"
                for s in unticked
            )
            + "."
        )
    if session.rollback_started_at is not None:
        lines.append(f"Rollback started {clock.time(session.rollback_started_at)}: {session.rollback_reason}")
    down = f"{len(report.gaps)} gap{'s' if len(report.gaps) != 1 else ''}, {format_duration(summary.seconds_down)} in total"
    lines.append(f"Dashboard down: {down if report.gaps else 'never'}.")
    lines.append(f"Log integrity: {_integrity_text(report.integrity)}.")
    return lines


def _fired_summary(condition: ConditionReport) -> str:
    times = len(condition.episodes)
    decided = [e.seconds_to_decision for e in condition.episodes if e.seconds_to_decision is not None]
    text = f"{condition.id} ({times} time{'s' if times != 1 else ''}"
    if decided:
        text += f", first decision after {format_duration(decided[0])}"
    return text + ")"


def _steps_blocks(steps: Sequence[StepReport], clock: _Clock) -> list[_Block]:
    if not steps:
        return [_Paragraph("No steps.")]
    rows = []
    for step in steps:
        planned = clock.time(step.planned_start) + (f" → {clock.time(step.planned_end)}" if step.planned_end else "")
        at = format_at(step.at, rollback=step.rollback_plan)
        drift = format_drift(step.drift_seconds) or "—"
        if step.end_drift_seconds is not None:
            drift += f", end {format_drift(step.end_drift_seconds)}"
        rows.append(
            (
                step.title,
                step.owner_title or "—",
                planned if at == "—" else f"{at} {planned}",
                f"{clock.time(step.started_at)} → {clock.time(step.ended_at)}",
                drift,
                _result_label(step),
            )
        )
    blocks: list[_Block] = [
        _Table(
            ("Step", "Owner", "Planned", "Actual", "Drift", "Result"),
            tuple(rows),
            tuple(step.result.lower().replace(" ", "-") for step in steps),
        )
    ]
    for step in steps:
        details = _step_details(step)
        if details:
            blocks += [_Heading(3, f"{_result_label(step)}: {step.title}"), _Bullets(tuple(details))]
    return blocks


def _result_label(step: StepReport) -> str:
    """``✔ PASS``; ``✔ PASS (2 of 4 items unticked — reason, by whom)`` when items were left unticked."""
    label = f"{STEP_MARKERS[StepStatus(step.status)].symbol} {step.result}"
    if step.result == "PASS" and step.unticked:
        why = step.unticked_reason or "no reason given"
        by = f", by {step.completed_by}" if step.completed_by else ""
        label += f" ({len(step.unticked)} of {len(step.items)} items unticked — {why}{by})"
    return label


def _step_details(step: StepReport) -> list[str]:
    """Items, evidence, gate and reasons of a step that ran (a pending step has nothing to prove)."""
    if step.status in (StepStatus.PENDING.value, StepStatus.ABANDONED.value) and not step.started_at:
        return []
    lines = [f"[{'x' if item.checked else ' '}] {item.text}" for item in step.items]
    lines += [f"Evidence: {text}" for text in step.evidence]
    if step.evidence_required and not step.evidence:
        expected = "; ".join(step.evidence_expected)
        lines.append("Evidence required, none attached" + (f" ({expected})" if expected else "") + ".")
    if step.gate:
        lines.append("Gate at completion: " + ", ".join(f"{check} {_check_label(o)}" for check, o in step.gate.items()))
    if step.gate_overridden:
        lines.append(f"Gate overridden: {step.reason}")
    elif step.reason:
        lines.append(f"{'Failed' if step.result == 'FAIL' else 'Skipped'}: {step.reason}")
    return lines


def _check_label(outcome: str) -> str:
    marker = CHECK_MARKERS.get(outcome)
    return f"{marker.symbol} {marker.word}" if marker else outcome


def _state_label(state: str) -> str:
    try:
        marker = CONDITION_MARKERS[ConditionState(state)]
    except ValueError:
        return state or "—"
    return f"{marker.symbol} {marker.word}"


def _decision_label(decision: str) -> str:
    return DECISION_LABELS.get(decision, decision.upper())


def _verdict_label(verdict: str) -> str:
    try:
        return VERDICT_LABELS[Verdict(verdict)]
    except ValueError:
        return verdict or "—"


def _decision_blocks(decision: DecisionReport, clock: _Clock) -> list[_Block]:
    where = f": {decision.step_title}" if decision.step_title else ""
    if decision.decided_by:
        decider = decision.decided_by_title or decision.decided_by
        if decision.decided_by_title and decision.decided_by_title != decision.decided_by:
            decider += f" ({decision.decided_by})"
        lines = [f"Decided by {decider}; typed by {decision.actor} (seq {decision.seq}): {decision.reason}"]
    else:
        lines = [f"By {decision.actor} (seq {decision.seq}): {decision.reason}"]
    if decision.decides:
        agrees = "✔" if decision.decided_by == decision.decides else "≠ decided by"
        lines.append(f"The banner asked for: {decision.decides_title or decision.decides} {agrees}".rstrip())
    if decision.approval:
        lines.append(f"Approval {decision.approval}")
    if decision.answers:
        lines.append(f"Answers: {', '.join(decision.answers)}")
        if decision.after_step:
            lines.append(f"Which step broke it: {decision.after_step}")
    if decision.verdict:
        lines.append(f"Verdict on screen: {_verdict_label(decision.verdict)}")
    if decision.phrase:
        lines.append(f"Approval phrase typed: {decision.phrase}")
    if decision.scorecard is not None:
        total = "—" if decision.scorecard.total is None else f"{decision.scorecard.total:g}"
        lines.append(f"Scorecard: {total} / 100 → {decision.scorecard.result}")
    blocks: list[_Block] = [
        _Heading(3, f"{clock.time(decision.ts)} {_decision_label(decision.decision)}{where}"),
        _Bullets(tuple(lines)),
    ]
    if decision.scorecard is not None and decision.scorecard.scores:
        blocks.append(
            _Table(
                ("Category", "Weight", "Score"),
                tuple(
                    (s.title, f"{s.weight:g}%", "—" if s.score is None else f"{s.score:g}")
                    for s in decision.scorecard.scores
                ),
            )
        )
    if decision.conditions:
        blocks.append(
            _Table(
                ("Stop condition", "State", "Value", "Threshold"),
                tuple(
                    (c.id, _state_label(c.state), format_value(c.value, c.unit), c.threshold or "check fails")
                    for c in decision.conditions
                ),
            )
        )
    return blocks


def _condition_blocks(condition: ConditionReport, clock: _Clock) -> list[_Block]:
    when = (
        f"{condition.threshold} for {format_duration(condition.for_seconds)}"
        if condition.threshold
        else (f"its check fails for {format_duration(condition.for_seconds)}")
    )
    decides = f", decided by {condition.decides_title}" if condition.decides_title else ""
    check = f"{condition.check} ({condition.check_title})" if condition.check_title else condition.check
    window = sum(condition.seconds_in_state.values()) + condition.seconds_unwatched
    rows = [
        (_state_label(state), format_duration(seconds), _share(seconds, window))
        for state, seconds in condition.seconds_in_state.items()
    ]
    if condition.seconds_unwatched:
        unwatched = condition.seconds_unwatched
        rows.append(("not watched (dashboard down)", format_duration(unwatched), _share(unwatched, window)))
    breach = condition.first_breach
    if breach is None:
        lines = ["First breach: never."]
    else:
        seen = format_value(breach.value, condition.unit) if breach.value is not None else ""
        lines = [
            f"First breach: {clock.time(breach.ts)}" + "".join(f", {part}" for part in (seen, breach.detail) if part)
        ]
    if condition.peak is not None:
        lines.append(
            f"Peak: {format_value(condition.peak.value, condition.unit)} at {clock.time(condition.peak.ts)} "
            f"({condition.readings} stored readings)"
        )
    else:
        lines.append(f"Peak: no value among {condition.readings} stored readings.")
    lines += [_episode_text(e, clock) for e in condition.episodes]
    lines += [
        f"Acknowledged {clock.time(a.ts)} by {a.actor}" + (f": {a.reason}" if a.reason else "")
        for a in condition.acknowledgements
    ]
    blocks: list[_Block] = [
        _Heading(3, f"{condition.id}: {condition.title}" if condition.title else condition.id),
        _Paragraph(
            f"Check {check}; breached when {when}; action {condition.action.upper()}{decides}. "
            f"State at the end: {_state_label(condition.final_state)}."
        ),
        _Table(("State", "Time", "Share"), tuple(rows)),
        _Bullets(tuple(lines)),
        _ChartBlock(condition),
    ]
    for why in condition.why:
        blocks += [
            _Heading(4, f"Why {condition.id} fired" + (f" at {clock.time(why.at)}" if why.at else "")),
            _Bullets(tuple(why.facts())),
            _Paragraph(f"{why.readings_note}; ◀ marks the readings its firing named:"),
            _Table(
                ("Time", "Outcome", "Value", "Latency", "Tick", "Detail"),
                tuple(
                    (
                        clock.time(r.at), r.outcome, r.value, "—" if r.latency_ms is None else f"{r.latency_ms:.0f}ms",
                        "—" if r.tick is None else f"{r.tick}{' ◀' if r.named else ''}", r.detail,
                    )
                    for r in why.readings
                ),
            ),
        ]  # fmt: skip
    return blocks


def _broke_it_blocks(report: Report, clock: _Clock) -> list[_Block]:
    """Which step broke it: each breach, firing and alert start beside the step that preceded it."""
    blocks: list[_Block] = [_Heading(2, "Which step broke it")]
    if not report.broke_it:
        return [*blocks, _Paragraph("No stop condition breached and no alert started.")]
    rows = tuple(
        (
            clock.time(b.at),
            {"breach": "began breaching", "firing": "fired", "alert": "alert started"}.get(b.kind, b.kind),
            b.subject + (f" {b.detail}" if b.detail and b.kind == "alert" else ""),
            b.step_title or "before any step",
            "—" if b.lag_seconds is None else format_duration(max(b.lag_seconds, 0.0)),
            ", ".join(b.running) or "none",
        )
        for b in report.broke_it
    )
    blocks.append(_Table(("Time", "What", "Of", "Last step started before it", "After", "Running then"), rows))
    return blocks


def _what_if_blocks(report: Report) -> list[_Block]:
    """``--what-if``: the recorded readings re-evaluated with a changed condition."""
    if not report.what_if:
        return []
    blocks: list[_Block] = [
        _Heading(2, "What if"),
        _Paragraph(
            "The recorded readings re-evaluated through the same evaluator with a changed condition; "
            "the log's own changes and decisions are what happened."
        ),
    ]
    for section in report.what_if:
        blocks += [
            _Heading(3, section.spec),
            _Bullets((section.summary[:1].upper() + section.summary[1:] + ".", *section.timeline, section.faithful)),
        ]
    return blocks


def _share(seconds: float, window: float) -> str:
    return f"{seconds / window:.0%}" if window > 0 else "—"


def _episode_text(episode: Episode, clock: _Clock) -> str:
    until = (
        f"until {clock.time(episode.ended_at)} ({format_duration((episode.ended_at - episode.fired_at).total_seconds())})"
        if episode.ended_at
        else "still firing at the end"
    )
    text = f"Fired {clock.time(episode.fired_at)}, {until}; "
    if episode.decision is None or episode.seconds_to_decision is None:
        return text + "no decision was logged after it."
    return (
        text + f"first decision after it: {_decision_label(episode.decision)} by {episode.decided_by} "
        f"{clock.time(episode.decision_at)}, {format_duration(episode.seconds_to_decision)} after firing."
    )


# ----------------------------------------------------------------- Markdown

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def _md(text: str) -> str:
    """Operator text as Markdown inline text: no raw HTML tags, no line breaks."""
    return _TAG_START.sub("&lt;", text).replace("\r", "").replace("\n", " ")


def _md_cell(text: str) -> str:
    return _md(text).replace("|", "\\|") or " "


def _markdown_block(block: _Block) -> str:
    match block:
        case _Heading(level, text):
            return f"{'#' * level} {_md(text)}\n"
        case _Paragraph(text):
            return f"{_md(text)}\n"
        case _Alert(text, danger):
            return f"> **{_md(text)}**\n" if danger else f"> {_md(text)}\n"
        case _Bullets(items):
            return "".join(f"- {_md(item)}\n" for item in items)
        case _Table(headers, rows, _):
            lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
            lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]
            return "\n".join(lines) + "\n"
        case _ChartBlock():
            return ""
    raise AssertionError(block)


# ----------------------------------------------------------------- HTML


def _html_block(block: _Block, clock: _Clock) -> str:
    e = html.escape
    match block:
        case _Heading(level, text):
            return f"<h{level}>{e(text)}</h{level}>"
        case _Paragraph(text):
            return f"<p>{e(text)}</p>"
        case _Alert(text, danger):
            return f'<p class="alert {"danger" if danger else "ok"}" role="alert">{e(text)}</p>'
        case _Bullets(items):
            return "<ul>" + "".join(f"<li>{e(item)}</li>" for item in items) + "</ul>"
        case _Table(headers, rows, row_classes):
            head = "".join(f"<th>{e(h)}</th>" for h in headers)
            body = "".join(
                (f'<tr class="{e(row_classes[i])}">' if i < len(row_classes) else "<tr>")
                + "".join(f"<td>{e(cell)}</td>" for cell in row)
                + "</tr>"
                for i, row in enumerate(rows)
            )
            return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        case _ChartBlock(condition):
            return f"<figure>{_svg_chart(condition, clock)}</figure>"
    raise AssertionError(block)


_WIDTH, _HEIGHT = 720, 190
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 56, 10, 26


def _svg_chart(condition: ConditionReport, clock: _Clock) -> str:
    """The check's values over the session as a step line, with the threshold, firing periods and gaps."""
    chart, unit, e = condition.chart, condition.unit, html.escape
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
    span = max((chart.end - chart.start).total_seconds(), 1e-3)
    values = [v for _, v in chart.points if v is not None]
    scale = values + ([chart.threshold] if chart.threshold is not None else [])
    low, high = (min(scale), max(scale)) if scale else (0.0, 1.0)
    pad = (high - low) * 0.08 or abs(high) * 0.1 or 1.0
    low, high = low - pad, high + pad

    def x(moment: datetime) -> float:
        return _LEFT + min(max((moment - chart.start).total_seconds() / span, 0.0), 1.0) * plot_w

    def y(value: float) -> float:
        return _TOP + (high - value) / (high - low) * plot_h

    def band(start: datetime, end: datetime, css: str, label: str) -> str:
        return (
            f'<rect class="{css}" x="{x(start):.1f}" y="{_TOP}" width="{max(x(end) - x(start), 0.5):.1f}" '
            f'height="{plot_h}"><title>{e(label)}</title></rect>'
        )

    label = f"{condition.id}: {condition.check} over the session" + (
        f", threshold {condition.threshold}" if condition.threshold else ""
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-label="{e(label)}">',
        f"<title>{e(label)}</title>",
        f'<rect class="plot" x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}"/>',
    ]
    parts += [band(a, b, "down", f"dashboard down {clock.time(a)} → {clock.time(b)}") for a, b in chart.down]
    parts += [band(a, b, "firing", f"firing {clock.time(a)} → {clock.time(b)}") for a, b in chart.firing]
    for value in (low + pad, high - pad):
        parts.append(_svg_text(_LEFT - 4, y(value) + 4, format_value(value, unit), "axis", "end"))
    for k, anchor in enumerate(("start", "middle", "middle", "middle", "end")):
        moment = chart.start + timedelta(seconds=span * k / 4)
        parts.append(_svg_text(x(moment), _HEIGHT - 8, clock.time(moment), "axis", anchor))
    if chart.t0 is not None and chart.start <= chart.t0 <= chart.end:
        parts.append(
            f'<line class="t0" x1="{x(chart.t0):.1f}" x2="{x(chart.t0):.1f}" y1="{_TOP}" y2="{_TOP + plot_h}"/>'
        )
        parts.append(_svg_text(x(chart.t0) + 3, _TOP + 11, "T0", "axis", "start"))
    if chart.threshold is not None:
        ty = y(chart.threshold)
        parts.append(f'<line class="threshold" x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}"/>')
        parts.append(_svg_text(_LEFT + plot_w + 4, ty + 4, condition.threshold, "threshold-label", "start"))
    path = _step_path(chart, x, y)
    if path:
        parts.append(f'<path class="series" d="{path}"/>')
    else:
        empty = f"no readings of {condition.check} stored"
        parts.append(_svg_text(_LEFT + plot_w / 2, _TOP + plot_h / 2, empty, "axis", "middle"))
    parts.append("</svg>")
    return "".join(parts)


def _svg_text(x: float, y: float, text: str, css: str, anchor: str) -> str:
    return f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{html.escape(text)}</text>'


def _step_path(chart: Chart, x: Callable[[datetime], float], y: Callable[[float], float]) -> str:
    """An SVG path holding each value until the next point; a ``None`` point lifts the pen."""
    commands: list[str] = []
    drawing = False
    for moment, value in chart.points:
        if value is None:
            if drawing:
                commands.append(f"H{x(moment):.1f}")
            drawing = False
        elif drawing:
            commands.append(f"H{x(moment):.1f}V{y(value):.1f}")
        else:
            commands.append(f"M{x(moment):.1f} {y(value):.1f}")
            drawing = True
    if drawing:
        commands.append(f"H{x(chart.end):.1f}")
    return "".join(commands)


_CSS = """
:root { color-scheme: light; --fail: #b00020; --pass: #1b5e20; --warn: #8a5a00; --muted: #666; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111; background: #fff; margin: 0; }
main { max-width: 980px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.6em; margin: 0 0 .4em; }
h2 { font-size: 1.25em; margin: 1.6em 0 .5em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
h3 { font-size: 1.05em; margin: 1.2em 0 .3em; }
table { border-collapse: collapse; margin: .5em 0 1em; width: 100%; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
tr.pass td:last-child { color: var(--pass); font-weight: 600; }
tr.fail td:last-child { color: var(--fail); font-weight: 700; }
tr.skipped td:last-child, tr.in-progress td:last-child { color: var(--warn); font-weight: 600; }
tr.not-run td:last-child { color: var(--muted); }
.alert { padding: 10px 14px; border-radius: 4px; font-weight: 600; }
.alert.danger { background: #fde7ea; border: 3px solid var(--fail); color: var(--fail); font-size: 1.15em; }
.alert.ok { background: #e8f5e9; border: 1px solid var(--pass); color: var(--pass); }
figure { margin: .5em 0 1.5em; }
svg { width: 100%; height: auto; font: 11px system-ui, sans-serif; }
svg .plot { fill: #fafafa; stroke: #bbb; }
svg .firing { fill: #d32f2f; fill-opacity: .18; }
svg .down { fill: #777; fill-opacity: .22; }
svg .series { fill: none; stroke: #1565c0; stroke-width: 1.5; }
svg .threshold { stroke: #d32f2f; stroke-width: 1; stroke-dasharray: 5 3; }
svg .threshold-label { fill: #d32f2f; }
svg .t0 { stroke: #444; stroke-dasharray: 2 3; }
svg .axis { fill: #555; }
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  h2, h3 { break-after: avoid; }
  table, figure, .alert { break-inside: avoid; }
  .alert.danger { background: none; border: 4px solid #000; color: #000; }
}
""".strip()
