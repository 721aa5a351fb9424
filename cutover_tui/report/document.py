"""What the report says, as blocks (headings, paragraphs, tables, charts) in the runbook's time zone.

One document, two renderings: the blocks say what the report says; Markdown and
HTML only say how it looks, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo

from checks.status import ConditionState, Verdict
from cutover_tui.labels import (
    CHECK_MARKERS,
    CONDITION_MARKERS,
    DECISION_LABELS,
    STEP_MARKERS,
    VERDICT_LABELS,
    display_zone,
    format_at,
    format_drift,
    format_duration,
    format_value,
)
from cutover_tui.report.model import (
    OUTCOME_LABELS,
    ConditionReport,
    DecisionReport,
    Episode,
    Integrity,
    Report,
    StepReport,
    seconds_between,
)
from cutover_tui.state import StepStatus
from runbooks.grammar import counted


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str


@dataclass(frozen=True, slots=True)
class Alert:
    text: str
    danger: bool


@dataclass(frozen=True, slots=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    row_classes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChartBlock:
    condition: ConditionReport


Block = Heading | Paragraph | Alert | Bullets | Table | ChartBlock


class Clock:
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


def document(report: Report) -> list[Block]:
    clock = Clock(report)
    session = report.session
    titles = {s.id: s.title for s in (*report.steps, *report.rollback_steps)}
    blocks: list[Block] = [Heading(1, f"Cutover report: {session.runbook_name}")]
    if not report.integrity.intact:
        blocks.append(Alert(_tampered_text(report.integrity), danger=True))
    blocks += [
        Paragraph(
            f"Release evidence from the session log {session.file}, generated {clock.full(report.generated_at)}. "
            f"Times are {session.timezone}."
        ),
        Table(("Field", "Value"), tuple(_header_rows(report, clock))),
        Heading(2, "Go/no-go summary"),
        Bullets(tuple(_summary_lines(report, clock))),
        Heading(2, "Checklist"),
        *_steps_blocks(report.steps, clock),
    ]
    if session.rollback_started_at is not None:
        blocks += [
            Heading(2, "Rollback plan"),
            Paragraph(f"Rollback started {clock.time(session.rollback_started_at)}: {session.rollback_reason}"),
            *_steps_blocks(report.rollback_steps, clock),
        ]
    blocks.append(Heading(2, "Decisions"))
    blocks += [b for d in report.decisions for b in _decision_blocks(d, clock)] or [
        Paragraph("No decision was logged.")
    ]
    blocks.append(Heading(2, "Stop conditions"))
    blocks += [b for c in report.conditions for b in _condition_blocks(c, clock)] or [
        Paragraph("The runbook has no stop conditions.")
    ]
    blocks += _broke_it_blocks(report, clock)
    blocks += _what_if_blocks(report)
    blocks.append(Heading(2, "Dashboard down"))
    if report.gaps:
        blocks.append(
            Table(
                ("From", "To", "Duration"),
                tuple((clock.time(g.start), clock.time(g.end), _gap_duration(g.seconds)) for g in report.gaps),
            )
        )
        blocks.append(Paragraph("Nothing was polled and no stop condition was evaluated during these gaps."))
    else:
        blocks.append(Paragraph("The dashboard ran without a gap."))
    if report.notes:
        blocks += [
            Heading(2, "Notes"),
            Table(
                ("Time", "Who", "Step", "Note"),
                tuple(
                    (clock.time(n.ts), n.actor, titles.get(n.step or "", n.step or ""), n.text) for n in report.notes
                ),
            ),
        ]
    blocks.append(Heading(2, "Log integrity"))
    if report.integrity.intact:
        blocks.append(
            Alert(
                f"{_integrity_text(report.integrity)}; anyone can check again with: "
                f"cutover-tui verify {session.file} --expect-head {report.integrity.head_hash}",
                danger=False,
            )
        )
    else:
        blocks.append(Alert(_tampered_text(report.integrity), danger=True))
    return blocks


def _integrity_text(integrity: Integrity) -> str:
    if integrity.intact:
        return (
            f"✔ intact: {counted(integrity.events, 'event')} and {counted(integrity.readings, 'reading')} verified; "
            f"head seq {integrity.head_seq} sha256 {integrity.head_hash}"
        )
    where = f"seq {integrity.bad_seq}: " if integrity.bad_seq is not None else ""
    return f"✖ TAMPERED: {where}{integrity.reason}"


def _tampered_text(integrity: Integrity) -> str:
    return (
        f"{_integrity_text(integrity)}. This session log's hash chain does not verify: "
        "what follows is read from the file as it is now and is not evidence of what happened."
    )


def _header_rows(report: Report, clock: Clock) -> list[tuple[str, str]]:
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
        moved = format_drift(seconds_between(session.planned_t0, session.actual_t0))
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


def _summary_lines(report: Report, clock: Clock) -> list[str]:
    session, summary = report.session, report.summary
    counts = ", ".join(f"{n} {result}" for result, n in summary.results.items() if n)
    lines = [
        f"Outcome: {OUTCOME_LABELS.get(session.outcome, session.outcome.upper())}.",
        f"Checklist: {counts or 'no steps'} (of {counted(len(report.steps), 'step')}).",
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
    unknown = sum(1 for g in report.gaps if g.seconds is None)
    down = counted(len(report.gaps), "gap")
    if unknown < len(report.gaps):
        down += f", {format_duration(summary.seconds_down)} in total"
        if unknown:
            down += f" and {unknown} of unknown length"
    else:
        down += " of unknown length"
    lines.append(f"Dashboard down: {down if report.gaps else 'never'}.")
    lines.append(f"Log integrity: {_integrity_text(report.integrity)}.")
    return lines


def _fired_summary(condition: ConditionReport) -> str:
    times = len(condition.episodes)
    decided = [e.seconds_to_decision for e in condition.episodes if e.seconds_to_decision is not None]
    text = f"{condition.id} ({counted(times, 'time')}"
    if decided:
        text += f", first decision after {format_duration(decided[0])}"
    return text + ")"


def _steps_blocks(steps: Sequence[StepReport], clock: Clock) -> list[Block]:
    if not steps:
        return [Paragraph("No steps.")]
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
    blocks: list[Block] = [
        Table(
            ("Step", "Owner", "Planned", "Actual", "Drift", "Result"),
            tuple(rows),
            tuple(step.result.lower().replace(" ", "-") for step in steps),
        )
    ]
    for step in steps:
        details = _step_details(step)
        if details:
            blocks += [Heading(3, f"{_result_label(step)}: {step.title}"), Bullets(tuple(details))]
    return blocks


def _result_label(step: StepReport) -> str:
    """``✔ PASS``; ``✔ PASS (2 of 4 items unticked — reason, by whom)`` when items were left unticked."""
    label = f"{STEP_MARKERS[StepStatus(step.status)].symbol} {step.result}"
    if step.result == "PASS" and step.unticked:
        why = step.unticked_reason or "no reason given"
        by = f", by {step.completed_by}" if step.completed_by else ""
        label += f" ({len(step.unticked)} of {counted(len(step.items), 'item')} unticked — {why}{by})"
    return label


def _step_details(step: StepReport) -> list[str]:
    """Items, evidence, gate and reasons of a step that ran (a pending step has nothing to prove)."""
    if step.status in (StepStatus.PENDING.value, StepStatus.ABANDONED.value) and not step.started_at:
        return []
    lines = [f"[{'x' if item.checked else ' '}] {item.text}" for item in step.items]
    items = step.evidence_items or ("",) * len(step.evidence)
    lines += [
        f"Evidence — {item}: {text}" if item else f"Evidence: {text}"
        for text, item in zip(step.evidence, items, strict=True)
    ]
    if step.evidence_owed:
        lines.append("Evidence owed: " + "; ".join(step.evidence_owed) + ".")
    elif step.evidence_required and not step.evidence:
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


def _decision_blocks(decision: DecisionReport, clock: Clock) -> list[Block]:
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
    blocks: list[Block] = [
        Heading(3, f"{clock.time(decision.ts)} {_decision_label(decision.decision)}{where}"),
        Bullets(tuple(lines)),
    ]
    if decision.scorecard is not None and decision.scorecard.scores:
        blocks.append(
            Table(
                ("Category", "Weight", "Score"),
                tuple(
                    (s.title, f"{s.weight:g}%", "—" if s.score is None else f"{s.score:g}")
                    for s in decision.scorecard.scores
                ),
            )
        )
    if decision.conditions:
        blocks.append(
            Table(
                ("Stop condition", "State", "Value", "Threshold"),
                tuple(
                    (c.id, _state_label(c.state), format_value(c.value, c.unit), c.threshold or "check fails")
                    for c in decision.conditions
                ),
            )
        )
    return blocks


def _condition_blocks(condition: ConditionReport, clock: Clock) -> list[Block]:
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
    blocks: list[Block] = [
        Heading(3, f"{condition.id}: {condition.title}" if condition.title else condition.id),
        Paragraph(
            f"Check {check}; breached when {when}; action {condition.action.upper()}{decides}. "
            f"State at the end: {_state_label(condition.final_state)}."
        ),
        Table(("State", "Time", "Share"), tuple(rows)),
        Bullets(tuple(lines)),
        ChartBlock(condition),
    ]
    for why in condition.why:
        blocks += [
            Heading(4, f"Why {condition.id} fired" + (f" at {clock.time(why.at)}" if why.at else "")),
            Bullets(tuple(why.facts())),
            Paragraph(f"{why.readings_note}; ◀ marks the readings its firing named:"),
            Table(
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


def _broke_it_blocks(report: Report, clock: Clock) -> list[Block]:
    """Which step broke it: each breach, firing and alert start beside the step that preceded it."""
    blocks: list[Block] = [Heading(2, "Which step broke it")]
    if not report.broke_it:
        return [*blocks, Paragraph("No stop condition breached and no alert started.")]
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
    blocks.append(Table(("Time", "What", "Of", "Last step started before it", "After", "Running then"), rows))
    return blocks


def _what_if_blocks(report: Report) -> list[Block]:
    """``--what-if``: the recorded readings re-evaluated with a changed condition."""
    if not report.what_if:
        return []
    blocks: list[Block] = [
        Heading(2, "What if"),
        Paragraph(
            "The recorded readings re-evaluated through the same evaluator with a changed condition; "
            "the log's own changes and decisions are what happened."
        ),
    ]
    for section in report.what_if:
        blocks += [
            Heading(3, section.spec),
            Bullets((section.summary[:1].upper() + section.summary[1:] + ".", *section.timeline, section.faithful)),
        ]
    return blocks


def _share(seconds: float, window: float) -> str:
    return f"{seconds / window:.0%}" if window > 0 else "—"


def _episode_text(episode: Episode, clock: Clock) -> str:
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


def _gap_duration(seconds: float | None) -> str:
    return "unknown: the wall clock read before the last write" if seconds is None else format_duration(seconds)
