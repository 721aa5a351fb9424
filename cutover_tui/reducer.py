"""The one reducer: events (and ticks up to an instant) -> ``SessionState``.

Live mode, resume, follow, replay and the report all derive what they show
here; nothing else keeps session state. The fold is pure: no I/O and no
clock — "now" is the ``until`` instant or the latest record folded.

Two forms with equal results (``tests/test_reducer.py`` checks it):

- ``reduce_events(runbook, events, ticks, until=...)`` folds from scratch;
- ``Reducer``: ``apply(event)`` / ``apply_tick(tick)`` as they are written,
  ``state()`` whenever the screen wants one, so a live session never refolds
  72 hours of events.

Ticks: the reducer keeps only the last ``history + 1`` ticks of each check
(``Reducer.ticks_kept``); ``SessionLog.latest_ticks`` fetches exactly those.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from checks.conditions import format_value, is_active
from checks.reading import Outcome
from checks.state import ConditionState, ConditionStatus
from checks.verdict import compute_verdict, counts_as_firing
from cutover_tui.state import (
    AlertSilence,
    AlertView,
    CheckView,
    ConditionView,
    DecisionRecord,
    LogLine,
    Mode,
    SessionState,
    StepState,
    StepStatus,
)
from cutover_tui.store import EventRecord, RetentionPolicy, TickRecord, parse_ts
from runbooks.grammar import format_duration
from runbooks.model import Action, Runbook, Step

LOG_LINES = 200
_STEP_END = {"step_completed": StepStatus.DONE, "step_failed": StepStatus.FAILED, "step_skipped": StepStatus.SKIPPED}
# A stored tick is at most one keyframe old while its check is polled (see
# RetentionPolicy); older than that plus two polls means the check was not
# polled, and the sparkline shows a gap rather than an invented value.
_KEYFRAME_SECONDS = RetentionPolicy().keyframe_seconds
_EPOCH = datetime.fromtimestamp(0, timezone.utc)


def reduce_events(
    runbook: Runbook,
    events: Iterable[EventRecord],
    ticks: Iterable[TickRecord] = (),
    *,
    until: datetime | None = None,
    history: int = 60,
) -> SessionState:
    """Fold ``events`` and ``ticks`` (those at or before ``until``) into a ``SessionState``.

    Args:
        runbook: the session's runbook (steps, conditions, roles).
        events: events in seq order.
        ticks: stored readings in time order (all, or ``SessionLog.latest_ticks``).
        until: the instant to reduce to; default the latest record.
        history: sparkline points per condition.

    Returns:
        The state the screen shows at that instant.
    """
    reducer = Reducer(runbook, history=history)
    for event in events:
        if until is None or event.ts <= until:
            reducer.apply(event)
    for tick in ticks:
        if until is None or tick.ts <= until:
            reducer.apply_tick(tick)
    return reducer.state(now=until)


@dataclass(slots=True)
class _StepProgress:
    status: StepStatus = StepStatus.PENDING
    started_at: datetime | None = None
    ended_at: datetime | None = None
    items: set[str] = field(default_factory=set)
    evidence: list[str] = field(default_factory=list)
    reason: str = ""


@dataclass(slots=True)
class _ConditionProgress:
    state: ConditionState = ConditionState.UNKNOWN
    value: float | None = None
    value_ts: datetime | None = None
    threshold: str = ""
    since: datetime | None = None
    reason: str = "not yet polled"
    flapping: bool = False
    acknowledged: bool = False
    breach_held: float = 0.0
    hold_from: datetime | None = None  # breach_held was measured then; it grows from there while breaching
    firing_since: datetime | None = None
    fired_seq: int | None = None  # the event that started the current firing episode


class Reducer:
    """The incremental fold. ``state()`` equals ``reduce_events`` over the same input.

    Example::

        reducer = Reducer(runbook)
        for event in log.events(): reducer.apply(event)
        for tick in log.latest_ticks(per_check=reducer.ticks_kept): reducer.apply_tick(tick)
        state = reducer.state(now=clock.now())
    """

    def __init__(self, runbook: Runbook, *, history: int = 60) -> None:
        self.runbook = runbook
        self.history = history
        self.ticks_kept = history + 1
        self._steps = {step.id: _StepProgress() for step in (*runbook.steps, *runbook.rollback)}
        self._conditions = {
            c.id: _ConditionProgress(threshold=c.when.text if c.when else "") for c in runbook.stop_conditions
        }
        self._check_of = {c.id: c.check for c in runbook.stop_conditions}
        self._ticks: dict[str, deque[TickRecord]] = {}
        self._tick_ms: dict[str, deque[int]] = {}  # the same ticks' times, for sampling
        self._decisions: list[DecisionRecord] = []
        self._log: deque[LogLine] = deque(maxlen=LOG_LINES)
        self._gaps: list[tuple[datetime, datetime]] = []
        self._t0 = runbook.t0
        self._rehearsal = False
        self._rollback_at: datetime | None = None
        self._ended: str | None = None
        self._last_seq = 0
        self._last_event_ts: datetime | None = None
        self._last_tick_ts: datetime | None = None
        self._last_decision_seq = 0

    # ------------------------------------------------------------ folding

    def apply(self, event: EventRecord) -> None:
        """Fold one event. Events at or below the last folded seq are ignored (re-reads are harmless)."""
        if event.seq <= self._last_seq:
            return
        self._last_seq = event.seq
        self._last_event_ts = event.ts
        payload = event.payload
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event, payload)
        self._log.append(LogLine(event.seq, event.ts, event.actor, event.kind, _describe(self.runbook, event)))

    def apply_tick(self, tick: TickRecord) -> None:
        """Fold one stored reading."""
        kept = self._ticks.get(tick.check_id)
        if kept is None:
            kept = self._ticks[tick.check_id] = deque(maxlen=self.ticks_kept)
            self._tick_ms[tick.check_id] = deque(maxlen=self.ticks_kept)
        times = self._tick_ms[tick.check_id]
        if kept and tick.ts < kept[-1].ts:
            # Batches from several pollers can interleave by a few ms.
            ordered = sorted((*kept, tick), key=lambda t: t.ts)[-self.ticks_kept :]
            kept.clear()
            kept.extend(ordered)
            times.clear()
            times.extend(_ms(t.ts) for t in ordered)
        else:
            kept.append(tick)
            times.append(_ms(tick.ts))
        if self._last_tick_ts is None or tick.ts > self._last_tick_ts:
            self._last_tick_ts = tick.ts

    def _on_session_started(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        self._rehearsal = bool(payload.get("rehearsal"))
        if payload.get("planned_t0"):
            self._t0 = parse_ts(payload["planned_t0"])

    def _on_session_resumed(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        self._ended = None  # a session resumed after it was ended goes on
        gap = float(payload.get("gap_seconds") or 0.0)
        last = parse_ts(payload["last_write_ts"]) if payload.get("last_write_ts") else event.ts - timedelta(seconds=gap)
        self._gaps.append((last, event.ts))
        # As ConditionEvaluator.restore: the time the dashboard was down is
        # blindness, not breach and not recovery. An old pass vouches for
        # nothing now; a hold is frozen at what it was when the log went
        # quiet; a firing condition stays firing until passes show otherwise.
        for condition in self._conditions.values():
            if condition.state is ConditionState.OK:
                condition.state, condition.since = ConditionState.UNKNOWN, event.ts
                condition.reason, condition.acknowledged = "not yet polled since resume", False
                continue
            if condition.state in (ConditionState.PENDING, ConditionState.FIRING):
                condition.breach_held = _held(condition, last)
                condition.hold_from = event.ts
                frozen = f"; breach hold frozen at {_seconds(condition.breach_held)} across the gap"
            else:
                frozen = ""
            before = f"; before: {condition.reason}" if condition.reason else ""
            condition.reason = f"resumed after a {_seconds(gap)} gap{frozen}{before}"

    def _on_t0_set(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        if payload.get("t0"):
            self._t0 = parse_ts(payload["t0"])

    def _on_step_started(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        step = self._steps.get(payload.get("step", ""))
        if step is not None:
            step.status = StepStatus.ACTIVE
            step.started_at = event.ts
            step.ended_at = None
            step.reason = ""

    def _on_step_completed(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        step = self._steps.get(payload.get("step", ""))
        if step is not None:
            step.status = _STEP_END[event.kind]
            step.ended_at = event.ts
            step.reason = str(payload.get("override_reason") or payload.get("reason") or "")

    _on_step_failed = _on_step_completed
    _on_step_skipped = _on_step_completed

    def _on_item_checked(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        step = self._steps.get(payload.get("step", ""))
        if step is not None:
            item = str(payload.get("item", ""))
            if payload.get("checked", True):
                step.items.add(item)
            else:
                step.items.discard(item)

    def _on_evidence_added(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        step = self._steps.get(payload.get("step", ""))
        if step is not None:
            step.evidence.append(str(payload.get("text", "")))

    def _on_decision(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        self._last_decision_seq = event.seq
        self._decisions.append(
            DecisionRecord(
                seq=event.seq,
                ts=event.ts,
                actor=event.actor,
                decision=str(payload.get("decision", "")),
                reason=str(payload.get("reason", "")),
                step=payload.get("step"),
                conditions=dict(payload.get("conditions") or {}),
                scorecard=payload.get("scorecard"),
            )
        )

    def _on_condition_changed(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        condition = self._conditions.get(payload.get("condition", ""))
        if condition is None:
            return
        state = _condition_state(payload.get("state"))
        # firing_since follows the evaluator: set on firing, kept while
        # recovering or blind, cleared by ok or a fresh (pending) breach.
        if payload.get("firing_since"):
            firing_since: datetime | None = parse_ts(payload["firing_since"])
        elif state is ConditionState.FIRING:
            firing_since = condition.firing_since or event.ts
        elif state in (ConditionState.OK, ConditionState.PENDING):
            firing_since = None
        else:
            firing_since = condition.firing_since
        if firing_since is None:
            condition.fired_seq = None
        elif condition.fired_seq is None:
            condition.fired_seq = event.seq  # a new episode needs its own decision
        condition.firing_since = firing_since
        if state is ConditionState.OK:
            condition.acknowledged = False
        condition.state = state
        condition.since = event.ts
        condition.value = _number(payload.get("value"))
        condition.value_ts = event.ts
        condition.threshold = str(payload.get("threshold") or condition.threshold)
        condition.reason = str(payload.get("reason", ""))
        condition.flapping = bool(payload.get("flapping"))
        condition.breach_held = float(payload.get("breach_held") or 0.0)
        condition.hold_from = event.ts

    def _on_condition_acknowledged(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        condition = self._conditions.get(payload.get("condition", ""))
        if condition is not None:
            condition.acknowledged = True

    def _on_rollback_started(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        if self._rollback_at is None:
            self._rollback_at = event.ts

    def _on_session_ended(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        self._ended = str(payload.get("outcome", "completed"))

    # ------------------------------------------------------------ the state

    def state(self, now: datetime | None = None) -> SessionState:
        """The ``SessionState`` at ``now`` (default: the latest record folded)."""
        if now is None:
            stamps = [ts for ts in (self._last_event_ts, self._last_tick_ts) if ts is not None]
            now = max(stamps) if stamps else None
        steps = self._step_states()
        current = self._current_step(steps)
        conditions = {c.id: self._condition_view(c.id, now) for c in self.runbook.stop_conditions}
        checks = {check_id: self._check_view(check_id) for check_id in self.runbook.checks}
        statuses = self._statuses_in_force(conditions, now)
        banner_condition, banner = self._banner(conditions, statuses)
        mode = Mode.ROLLBACK if self._rollback_at else Mode.REHEARSAL if self._rehearsal else Mode.LIVE
        return SessionState(
            runbook_name=self.runbook.name,
            mode=mode,
            t0=self._t0,
            steps=steps,
            conditions=conditions,
            checks=checks,
            alerts=self._alerts(),
            decisions=tuple(self._decisions),
            log=tuple(self._log),
            verdict=compute_verdict(
                self.runbook,
                statuses,
                self.runbook.step(current) if current else None,
                {check_id: _outcome(view.outcome) for check_id, view in checks.items()},
            ),
            banner=banner,
            banner_condition=banner_condition,
            last_event_seq=self._last_seq,
            last_event_ts=self._last_event_ts,
            ended=self._ended,
            gaps=tuple(self._gaps),
            rollback_started_at=self._rollback_at,
            current_step=current,
        )

    def _step_states(self) -> tuple[StepState, ...]:
        states = [self._step_state(step, self._planned(step.at), rollback_plan=False) for step in self.runbook.steps]
        if self._rollback_at is not None:
            # The rollback plan is timed from the moment it started: `at` is an
            # offset from then, and steps without one follow the previous step.
            previous_end: datetime | None = self._rollback_at
            for step in self.runbook.rollback:
                start = self._rollback_at + timedelta(seconds=step.at) if step.at is not None else previous_end
                state = self._step_state(step, start, rollback_plan=True)
                previous_end = state.planned_end
                states.append(state)
        return tuple(states)

    def _planned(self, offset: float | None) -> datetime | None:
        if offset is None or self._t0 is None:
            return None
        return self._t0 + timedelta(seconds=offset)

    def _step_state(self, step: Step, planned_start: datetime | None, *, rollback_plan: bool) -> StepState:
        progress = self._steps[step.id]
        planned_end = planned_start + timedelta(seconds=step.duration) if planned_start and step.duration else None
        actual = progress.started_at or progress.ended_at  # a step ticked done at once started then
        return StepState(
            id=step.id,
            title=step.title,
            status=progress.status,
            planned_start=planned_start,
            planned_end=planned_end,
            started_at=progress.started_at,
            ended_at=progress.ended_at,
            drift_seconds=(actual - planned_start).total_seconds() if actual and planned_start else None,
            items_checked=frozenset(progress.items),
            evidence=tuple(progress.evidence),
            reason=progress.reason,
            rollback_plan=rollback_plan,
        )

    def _current_step(self, steps: tuple[StepState, ...]) -> str | None:
        if self._rollback_at is not None:
            steps = tuple(s for s in steps if s.rollback_plan) or steps
        for wanted in (StepStatus.ACTIVE, StepStatus.PENDING):
            for step in steps:
                if step.status is wanted:
                    return step.id
        return None

    def _condition_view(self, condition_id: str, now: datetime | None) -> ConditionView:
        progress = self._conditions[condition_id]
        check_id = self._check_of[condition_id]
        ticks = self._ticks.get(check_id)
        value = progress.value
        if ticks and (progress.value_ts is None or ticks[-1].ts >= progress.value_ts):
            value = ticks[-1].value
        every = self.runbook.checks[check_id].every if check_id in self.runbook.checks else 15.0
        return ConditionView(
            id=condition_id,
            state=progress.state,
            value=value,
            threshold=progress.threshold,
            since=progress.since,
            reason=progress.reason,
            flapping=progress.flapping,
            acknowledged=progress.acknowledged,
            breach_held=_held(progress, now),
            history=_sample(ticks, self._tick_ms[check_id], now, every, self.history) if ticks and now else (),
            firing_since=progress.firing_since,
        )

    def _statuses_in_force(
        self, conditions: Mapping[str, ConditionView], now: datetime | None
    ) -> dict[str, ConditionStatus]:
        """The conditions in their ``active`` window, as ``checks.verdict`` takes them."""
        statuses: dict[str, ConditionStatus] = {}
        for condition in self.runbook.stop_conditions:
            view = conditions[condition.id]
            if now is not None and not is_active(condition, self._t0, now):
                continue
            statuses[condition.id] = ConditionStatus(
                id=view.id,
                state=view.state,
                value=view.value,
                threshold=view.threshold,
                since=view.since or now or _EPOCH,
                breach_held=view.breach_held,
                flapping=view.flapping,
                acknowledged=view.acknowledged,
                reason=view.reason,
                firing_since=view.firing_since,
            )
        return statuses

    def _check_view(self, check_id: str) -> CheckView:
        check = self.runbook.checks[check_id]
        ticks = self._ticks.get(check_id)
        if not ticks:
            return CheckView(check_id, None, None, check.unit, "not yet polled", None)
        tick = ticks[-1]
        return CheckView(
            id=check_id,
            outcome=tick.outcome,
            value=tick.value,
            unit=tick.unit or check.unit,
            detail=tick.detail,
            observed_at=tick.ts,
            degraded=tick.degraded,
        )

    def _alerts(self) -> tuple[AlertView, ...]:
        alerts: list[AlertView] = []
        for check in self.runbook.checks.values():
            ticks = self._ticks.get(check.id)
            if check.kind != "alerts" or not ticks:
                continue
            extra = ticks[-1].extra
            for state in ("active", "suppressed"):
                for alert in extra.get(state) or ():
                    if isinstance(alert, Mapping):
                        alerts.append(_alert_view(alert, state, check.id))
        return tuple(alerts)

    def _banner(
        self, conditions: Mapping[str, ConditionView], statuses: Mapping[str, ConditionStatus]
    ) -> tuple[str | None, str | None]:
        """The HALT/ROLLBACK banner: a condition counted as firing whose episode no decision has answered."""
        waiting = [
            (condition.action is not Action.ROLLBACK, self._conditions[condition.id].fired_seq or 0, condition)
            for condition in self.runbook.stop_conditions
            if condition.action in (Action.HALT, Action.ROLLBACK)
            and condition.id in statuses
            and counts_as_firing(statuses[condition.id])
            and (self._conditions[condition.id].fired_seq or 0) > self._last_decision_seq
        ]
        if not waiting:
            return None, None
        _, _, condition = min(waiting, key=lambda w: (w[0], w[1]))
        view = conditions[condition.id]
        unit = condition.when.unit if condition.when else ""
        observed = (
            f"{format_value(view.value, unit)} {view.threshold}"
            if view.value is not None and view.threshold
            else view.reason
        )
        text = f"{condition.action.value.upper()} — {condition.id} {observed} for {_seconds(view.breach_held)}"
        if condition.decides:
            text += f" — decides: {self.runbook.roles.get(condition.decides, condition.decides)}"
        return condition.id, text


# ----------------------------------------------------------------- helpers


def _sample(
    ticks: deque[TickRecord], times: deque[int], now: datetime, every: float, points: int
) -> tuple[float | None, ...]:
    """The check's value at each of the last ``points`` poll instants, oldest first.

    Between stored ticks the value is held (retention guarantees it stayed
    within tolerance); where no tick is recent enough the point is None.
    Leading points before the first tick are dropped. Integer milliseconds:
    exact, and this runs for every condition on every screen refresh.
    """
    every_ms = round(every * 1000)
    stale_after_ms = round(_KEYFRAME_SECONDS * 1000) + 2 * every_ms
    first_instant = _ms(now) - (points - 1) * every_ms
    index = bisect_right(times, first_instant) - 1
    values: list[float | None] = []
    for k in range(points):
        instant = first_instant + k * every_ms
        while index + 1 < len(times) and times[index + 1] <= instant:
            index += 1
        if index >= 0:
            values.append(ticks[index].value if instant - times[index] <= stale_after_ms else None)
    return tuple(values)


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _condition_state(value: Any) -> ConditionState:
    try:
        return ConditionState(value)
    except ValueError:
        return ConditionState.UNKNOWN


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _alert_view(alert: Mapping[str, Any], state: str, check_id: str) -> AlertView:
    labels = alert.get("labels") if isinstance(alert.get("labels"), Mapping) else {}
    annotations = alert.get("annotations") if isinstance(alert.get("annotations"), Mapping) else {}
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
            f"{i.get('name') or str(i.get('fingerprint') or '?')[:8]}" + (f" ({i['severity']})" if i.get("severity") else "")
            for i in inhibitors
        ),
        details_missing=str(alert.get("details_missing") or ""),
    )


def _held(progress: _ConditionProgress, now: datetime | None) -> float:
    """Seconds of breach held at ``now``: it grows while pending or firing, else it is as recorded."""
    if progress.state in (ConditionState.PENDING, ConditionState.FIRING) and now and progress.hold_from:
        return progress.breach_held + max(0.0, (now - progress.hold_from).total_seconds())
    return progress.breach_held


def _seconds(seconds: float) -> str:
    """A duration to the whole second: ``80.4`` -> ``1m20s``."""
    return format_duration(round(max(seconds, 0.0)))


def _outcome(value: str | None) -> Outcome | None:
    try:
        return Outcome(value) if value is not None else None
    except ValueError:
        return Outcome.ERROR


def _describe(runbook: Runbook, event: EventRecord) -> str:
    """One line for the log pane."""
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
            return f"session resumed after a {_seconds(float(p.get('gap_seconds') or 0))} gap"
        case "runbook_changed":
            return f"runbook changed {str(p.get('old_sha256', ''))[:12]} -> {str(p.get('new_sha256', ''))[:12]}"
        case "t0_set":
            return f"T0 set to {p.get('t0')}"
        case "step_started":
            return f"started: {title(p.get('step'))}"
        case "step_completed":
            override = f" (gate overridden: {p['override_reason']})" if p.get("override_reason") else ""
            return f"done: {title(p.get('step'))}{override}"
        case "step_failed" | "step_skipped":
            verb = "failed" if event.kind == "step_failed" else "skipped"
            return f"{verb}: {title(p.get('step'))} — {p.get('reason', '')}"
        case "item_checked":
            mark = "[x]" if p.get("checked", True) else "[ ]"
            return f"{mark} {title(p.get('step'))}: {p.get('item', '')}"
        case "evidence_added":
            return f"evidence for {title(p.get('step'))}: {p.get('text', '')}"
        case "note":
            return str(p.get("text", ""))
        case "decision":
            return f"{str(p.get('decision', '')).upper().replace('_', '-')}: {p.get('reason', '')}"
        case "condition_changed":
            reason = f" ({p['reason']})" if p.get("reason") else ""
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
