"""Small pure helpers of the fold and the derivation: sampling sparklines, alert views, holds, the log lines' text."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from checks.status import ConditionState
from cutover_tui.reducer.records import _KEYFRAME_SECONDS, _ConditionProgress
from cutover_tui.state import (
    AlertSilence,
    AlertView,
)
from cutover_tui.store import EventRecord, TickRecord
from runbooks.grammar import counted, format_duration
from runbooks.model import Runbook, StopCondition


def _sample(
    ticks: Sequence[TickRecord], times: Sequence[int], first_instant: int, every_ms: int, points: int
) -> tuple[float | None, ...]:
    """The check's value at ``points`` instants ``every_ms`` apart from ``first_instant`` (ms), oldest first.

    Between stored ticks the value is held (retention guarantees it stayed
    within tolerance); where no tick is recent enough the point is None.
    Leading points before the first tick are dropped. Integer milliseconds: exact.
    """
    stale_after_ms = round(_KEYFRAME_SECONDS * 1000) + 2 * every_ms
    index = bisect_right(times, first_instant) - 1
    values: list[float | None] = []
    for k in range(points):
        instant = first_instant + k * every_ms
        while index + 1 < len(times) and times[index + 1] <= instant:
            index += 1
        if index >= 0:
            values.append(ticks[index].value if instant - times[index] <= stale_after_ms else None)
    return tuple(values)


def _tick_time(tick: TickRecord) -> datetime:
    return tick.ts


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _condition_state(value: Any) -> ConditionState:
    try:
        return ConditionState(value)
    except ValueError:
        return ConditionState.UNKNOWN


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _alert_view(alert: Mapping[str, Any], state: str, check_id: str) -> AlertView:
    labels = _mapping(alert.get("labels"))
    annotations = _mapping(alert.get("annotations"))
    silences = [s for s in alert.get("silences") or () if isinstance(s, Mapping)]
    if not silences:  # readings stored before silences were looked up name them by id only
        silences = [{"id": sid} for sid in alert.get("silenced_by") or () if isinstance(sid, str)]
    inhibitors = [i for i in alert.get("inhibitors") or () if isinstance(i, Mapping)]
    return AlertView(
        name=str(alert.get("name") or labels.get("alertname", "")),
        severity=str(alert.get("severity") or labels.get("severity", "")),
        state=state,
        summary=str(alert.get("summary") or annotations.get("summary", "")),
        starts_at=str(alert.get("starts_at") or alert.get("startsAt", "")),
        check=check_id,
        expected_by=str(alert.get("expected_by") or ""),
        silences=tuple(
            AlertSilence(
                id=str(s.get("id") or ""),
                created_by=str(s.get("created_by") or ""),
                comment=str(s.get("comment") or ""),
                ends_at=str(s.get("ends_at") or ""),
            )
            for s in silences
        ),
        inhibitors=tuple(
            f"{i.get('name') or str(i.get('fingerprint') or '?')[:8]}"
            + (f" ({i['severity']})" if i.get("severity") else "")
            for i in inhibitors
        ),
        details_missing=str(alert.get("details_missing") or ""),
    )


def _held(progress: _ConditionProgress, now: datetime | None) -> float:
    """Seconds of breach held at ``now``: it grows while pending or firing, else it is as recorded."""
    if progress.state in (ConditionState.PENDING, ConditionState.FIRING) and now and progress.hold_from:
        return progress.breach_held + max(0.0, (now - progress.hold_from).total_seconds())
    return progress.breach_held


def _remaining(
    condition: StopCondition, progress: _ConditionProgress, held: float, now: datetime | None
) -> float | None:
    """From the log: seconds to firing while pending, to clearing while recovering."""
    if progress.state is ConditionState.PENDING:
        return max(0.0, condition.for_ - held)
    if progress.state is ConditionState.RECOVERING:
        start = progress.remaining_at_change if progress.remaining_at_change is not None else condition.keep_firing_for
        gone = (now - progress.since).total_seconds() if now is not None and progress.since is not None else 0.0
        return max(0.0, start - gone)
    return None


def _seconds(seconds: float) -> str:
    """A duration to the whole second: ``80.4`` -> ``1m20s``."""
    return format_duration(round(max(seconds, 0.0)))


def evidence_item_text(runbook: Runbook, step_id: Any, item_id: Any) -> str:
    """The text of a step's named evidence item (its id when the runbook no longer has it); "" for none."""
    if not item_id:
        return ""
    try:
        step = runbook.step(str(step_id))
    except KeyError:
        return str(item_id)
    return next((item.text for item in step.evidence if item.id == item_id), str(item_id))


def _describe(runbook: Runbook, event: EventRecord) -> str:
    """One line for the log pane; an event the wall clock would have dated before the last one says so."""
    text = _describe_kind(runbook, event)
    behind = event.payload.get("clock_behind_by")
    if behind:
        text += f" (dated at the log's last time: the wall clock read {_seconds(float(behind))} earlier)"
    return text


def _describe_kind(runbook: Runbook, event: EventRecord) -> str:
    p = event.payload

    def title(step_id: Any) -> str:
        try:
            return runbook.step(str(step_id)).title
        except KeyError:
            return str(step_id)

    match event.kind:
        case "session_started":
            return f"session started{' (rehearsal)' if p.get('rehearsal') else ''}: {p.get('runbook_name', '')}"
        case "session_resumed":
            if p.get("gap_seconds") is None and p.get("last_write_ts"):  # the clock read before the last write
                return "session resumed after a gap of unknown length"
            return f"session resumed after a {_seconds(float(p.get('gap_seconds') or 0))} gap"
        case "runbook_changed":
            return f"runbook changed {str(p.get('old_sha256', ''))[:12]} -> {str(p.get('new_sha256', ''))[:12]}"
        case "t0_set":
            return f"T0 set to {p.get('t0')}"
        case "step_started":
            return f"started: {title(p.get('step'))}"
        case "step_completed":
            override = f" (gate overridden: {p['override_reason']})" if p.get("override_reason") else ""
            if p.get("unticked"):
                override += (
                    f" ({len(p['unticked'])} of {p.get('items', '?')} items unticked: {p.get('unticked_reason', '')})"
                )
            return f"done: {title(p.get('step'))}{override}"
        case "step_failed" | "step_skipped":
            verb = "failed" if event.kind == "step_failed" else "skipped"
            return f"{verb}: {title(p.get('step'))} — {p.get('reason', '')}"
        case "item_checked":
            mark = "[x]" if p.get("checked", True) else "[ ]"
            return f"{mark} {title(p.get('step'))}: {p.get('item', '')}"
        case "evidence_added":
            item = evidence_item_text(runbook, p.get("step"), p.get("item"))
            return f"evidence for {title(p.get('step'))}{f' — {item}' if item else ''}: {p.get('text', '')}"
        case "note":
            return str(p.get("text", ""))
        case "decision":
            decided = f" (decided by {p.get('decided_by_title') or p['decided_by']})" if p.get("decided_by") else ""
            return f"{str(p.get('decision', '')).upper().replace('_', '-')}: {p.get('reason', '')}{decided}"
        case "baseline_fetched":
            samples = counted(len(p.get("samples") or ()), "sample")
            return f"baseline of {p.get('check')} read from Prometheus: {samples} {p.get('from')} .. {p.get('to')}"
        case "condition_changed":
            reason = f" ({p['reason']})" if p.get("reason") else ""
            if p.get("previous") == p.get("state"):  # the same state for another cause: no change from itself
                return f"{p.get('condition')}: {p.get('state')}{reason}"
            return f"{p.get('condition')}: {p.get('previous')} -> {p.get('state')}{reason}"
        case "condition_acknowledged":
            return f"{p.get('condition')} acknowledged{': ' + p['reason'] if p.get('reason') else ''}"
        case "rollback_started":
            return f"ROLLBACK started: {p.get('reason', '')}"
        case "session_ended":
            return f"session ended: {p.get('outcome', '')}"
        case "chain_break_accepted":
            return f"resumed over a broken chain (seq {p.get('bad_seq')}: {p.get('reason', '')})"
    return event.kind
