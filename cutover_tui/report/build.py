"""Building a ``Report`` from a session log: one pass of the reducer over the events, the ticks for the charts."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cutover_tui.correlate import correlate
from cutover_tui.evidence import evidence_owed
from cutover_tui.labels import display_unit
from cutover_tui.reducer import Reducer, evidence_item_text
from cutover_tui.report.history import Snapshot, condition_report, remember, whys
from cutover_tui.report.model import (
    REPORT_VERSION,
    RESULTS,
    BrokeIt,
    DecisionReport,
    FrozenCondition,
    Gap,
    Integrity,
    ItemReport,
    Note,
    Report,
    RunbookChange,
    ScorecardReport,
    ScoreLine,
    SessionHeader,
    StepReport,
    Summary,
    WhatIfReport,
    seconds_between,
)
from cutover_tui.state import DecisionRecord, StepState, StepStatus
from cutover_tui.store import EventRecord, NotASessionLog, SessionLog, runbook_matches_chain
from runbooks.model import Runbook, StopCondition

# Events after which a stop condition's state may differ (resume turns an
# old ok into unknown without a condition_changed event).
_CONDITION_EVENTS = frozenset({"session_started", "session_resumed", "condition_changed"})


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
    history: dict[str, list[Snapshot]] = {c.id: [] for c in runbook.stop_conditions}
    for event in events:
        reducer.apply(event)
        if event.kind in _CONDITION_EVENTS:
            remember(history, event, reducer.state(now=event.ts).conditions)
    final = reducer.state()

    started = events[0].ts if events else info.created_at
    ended_event = next((e for e in reversed(events) if e.kind == "session_ended"), None) if final.ended else None
    ended = ended_event.ts if ended_event else max(log.last_write_ts or info.updated_at, started)
    by_kind = _by_kind(events)
    # One gap per resume. A resume whose wall clock read before the last write logged no gap (``gap_seconds``
    # null: it carries the last event's time, the log's order); how long the dashboard was down is unknown.
    gaps = tuple(
        Gap(a, b, None if resume.payload.get("gap_seconds", 0.0) is None else (b - a).total_seconds())
        for (a, b), resume in zip(final.gaps, by_kind["session_resumed"].values(), strict=True)
    )

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
        condition_report(
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
            why=whys(runbook, condition, log, changes, firings),
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
        missing_evidence=tuple(
            s.id for s in steps if s.result == "PASS" and (s.evidence_owed or (s.evidence_required and not s.evidence))
        ),
        seconds_down=sum(g.seconds for g in gaps if g.seconds is not None),
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


def _by_kind(events: Iterable[EventRecord]) -> dict[str, dict[int, EventRecord]]:
    """Events of the kinds the report reads beyond the reducer's state, by seq."""
    kinds = (
        "step_completed", "step_failed", "step_skipped", "decision", "condition_acknowledged", "rollback_started",
        "runbook_changed", "t0_set", "note", "session_resumed",
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
        end_drift_seconds=seconds_between(state.planned_end, state.ended_at),
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
        evidence_items=tuple(evidence_item_text(runbook, step.id, item) for item in state.evidence_items),
        evidence_owed=tuple(item.text for item in evidence_owed(step, state) if item.id),
    )


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
