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
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from checks.conditions import describe_state, is_active
from checks.state import BLIND_STATES, ConditionState, ConditionStatus
from checks.verdict import NEVER, STALE, check_status, counts_as_firing, judge
from cutover_tui.derive import (
    at_risk_views,
    current_detail,
    firing_banner,
    log_banner,
    next_step,
    projected_end,
    stopping_order,
    value_text,
    writer_banner,
)
from cutover_tui.state import (
    AlertSilence,
    AlertView,
    BannerView,
    CheckView,
    ConditionView,
    DecisionRecord,
    LiveTruth,
    LogLine,
    Mode,
    SessionState,
    StepState,
    StepStatus,
)
from cutover_tui.store import EventRecord, RetentionPolicy, TickRecord, format_ts, parse_ts
from runbooks.grammar import format_duration
from runbooks.model import Action, Runbook, Step, StopCondition

LOG_LINES = 200
_STEP_END = {"step_completed": StepStatus.DONE, "step_failed": StepStatus.FAILED, "step_skipped": StepStatus.SKIPPED}
# A stored tick is at most one keyframe old while its check is polled (see
# RetentionPolicy); older than that plus two polls means the check was not
# polled, and the sparkline shows a gap rather than an invented value.
_KEYFRAME_SECONDS = RetentionPolicy().keyframe_seconds
_EPOCH = datetime.fromtimestamp(0, timezone.utc)
_NO_LIVE = LiveTruth()


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


# Progress records are immutable: a fold replaces them, so a checkpoint of the
# fold is a shallow copy of two dicts and never a deep copy.


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
class _ConditionProgress:
    state: ConditionState = ConditionState.UNKNOWN
    value: float | None = None
    value_ts: datetime | None = None
    threshold: str = ""
    since: datetime | None = None
    detail: str = "not yet polled"  # what the observation said, without the hold
    flapping: bool = False
    acknowledged: bool = False
    breach_held: float = 0.0
    hold_from: datetime | None = None  # breach_held was measured then; it grows from there while breaching
    firing_since: datetime | None = None
    fired_seq: int | None = None  # the event that started the current firing episode
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
    t0: datetime | None
    rehearsal: bool
    rollback_at: datetime | None
    ended: str | None
    last_seq: int
    last_event_ts: datetime | None
    last_decision_seq: int
    answered: frozenset[tuple[str, str]]


class Reducer:
    """The incremental fold. ``state()`` equals ``reduce_events`` over the same input.

    Example::

        reducer = Reducer(runbook)
        for event in log.events(): reducer.apply(event)
        for tick in log.latest_ticks(per_check=reducer.ticks_kept): reducer.apply_tick(tick)
        state = reducer.state(now=clock.now())
    """

    def __init__(self, runbook: Runbook, *, history: int = 60, checkpoint: Checkpoint | None = None) -> None:
        self.runbook = runbook
        self.history = history
        self.ticks_kept = history + 1
        self._spans: dict[str, timedelta] | None = None  # per check a condition reads: its sparkline's span
        if checkpoint is None:
            self._steps = {step.id: _StepProgress() for step in (*runbook.steps, *runbook.rollback)}
            self._conditions = {c.id: _ConditionProgress(threshold=c.threshold_text) for c in runbook.stop_conditions}
        else:  # its records are immutable: shared, never copied one by one
            self._steps = dict(checkpoint.steps)
            self._conditions = dict(checkpoint.conditions)
        self._check_of = {c.id: c.check for c in runbook.stop_conditions}
        self._ticks: dict[str, deque[TickRecord]] = {}
        self._tick_ms: dict[str, deque[int]] = {}  # the same ticks' times, for sampling
        self._tick_versions: dict[str, int] = {}  # per check: bumped by every tick folded (the sparkline cache's key)
        self._history_cache: dict[str, tuple[tuple[int, int, int], tuple[float | None, ...]]] = {}
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
        self._answered: set[tuple[str, str]] = set()  # (condition, firing_since) pairs a decision answered
        if checkpoint is not None:
            self._restore(checkpoint)

    def checkpoint(self) -> Checkpoint:
        """The events folded so far (not the ticks), cheap to keep: its records are shared, not copied."""
        return Checkpoint(
            steps=dict(self._steps),
            conditions=dict(self._conditions),
            decisions=tuple(self._decisions),
            log=tuple(self._log),
            gaps=tuple(self._gaps),
            t0=self._t0,
            rehearsal=self._rehearsal,
            rollback_at=self._rollback_at,
            ended=self._ended,
            last_seq=self._last_seq,
            last_event_ts=self._last_event_ts,
            last_decision_seq=self._last_decision_seq,
            answered=frozenset(self._answered),
        )

    @classmethod
    def from_checkpoint(cls, runbook: Runbook, checkpoint: Checkpoint, *, history: int = 60) -> Reducer:
        """A reducer that has folded the checkpoint's events and no tick; ``checkpoint`` stays as it is."""
        return cls(runbook, history=history, checkpoint=checkpoint)

    def _restore(self, checkpoint: Checkpoint) -> None:
        self._decisions = list(checkpoint.decisions)
        self._log.extend(checkpoint.log)
        self._gaps = list(checkpoint.gaps)
        self._t0 = checkpoint.t0
        self._rehearsal = checkpoint.rehearsal
        self._rollback_at = checkpoint.rollback_at
        self._ended = checkpoint.ended
        self._last_seq = checkpoint.last_seq
        self._last_event_ts = checkpoint.last_event_ts
        self._last_decision_seq = checkpoint.last_decision_seq
        self._answered = set(checkpoint.answered)

    def window_starts(self, now: datetime) -> dict[str, datetime]:
        """Per check a stop condition reads, the instant its sparkline at ``now`` starts from.

        The state at ``now`` reads every check's latest tick at or before
        ``now``, and of these checks also every tick after their start and the
        last one at or before it: ``SessionLog.seek_ticks`` reads exactly that.
        """
        return {check_id: now - span for check_id, span in self._window_spans().items()}

    def _window_spans(self) -> dict[str, timedelta]:
        spans = self._spans
        if spans is None:
            spans = {}
            for check_id in self._check_of.values():
                every = self.runbook.checks[check_id].every if check_id in self.runbook.checks else 15.0
                # A millisecond more: whole milliseconds in the log, rounded ones in the sampling.
                spans[check_id] = timedelta(milliseconds=(self.history - 1) * round(every * 1000) + 1)
            self._spans = spans
        return spans

    def active_step_ids(self) -> tuple[str, ...]:
        """The steps being worked on now (cheap: no state is derived)."""
        return tuple(step_id for step_id, progress in self._steps.items() if progress.status is StepStatus.ACTIVE)

    @property
    def ended(self) -> str | None:
        """The outcome of ``session_ended`` once folded, else None."""
        return self._ended

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
        text = _describe(self.runbook, event)
        if event.kind == "condition_changed" and payload.get("state") in ("pending", "firing"):
            text += self._after_step(event.ts)
        self._log.append(LogLine(event.seq, event.ts, event.actor, event.kind, text))

    def _after_step(self, moment: datetime) -> str:
        """`` — 2m10s after 'Production deploy' started``: which step preceded a breach (``cutover_tui.correlate``)."""
        started = [(p.started_at, step_id) for step_id, p in self._steps.items() if p.started_at and p.started_at <= moment]
        if not started:
            return ""
        at, step_id = max(started)
        return f" — {_seconds((moment - at).total_seconds())} after '{self.runbook.step(step_id).title}' started"

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
        self._tick_versions[tick.check_id] = self._tick_versions.get(tick.check_id, 0) + 1
        if self._last_tick_ts is None or tick.ts > self._last_tick_ts:
            self._last_tick_ts = tick.ts

    def apply_ticks(self, ticks: Iterable[TickRecord]) -> None:
        """Fold many stored readings: the same as ``apply_tick`` on each in turn, quicker for a seek's thousands."""
        fresh: dict[str, list[TickRecord]] = {}
        unordered: set[str] = set()
        for tick in ticks:
            check_id = tick.check_id
            if check_id in self._ticks:
                self.apply_tick(tick)
                continue
            kept = fresh.get(check_id)
            if kept is None:
                fresh[check_id] = [tick]
            else:
                if tick.ts < kept[-1].ts:
                    unordered.add(check_id)
                kept.append(tick)
        limit = self.ticks_kept
        for check_id, kept in fresh.items():
            if check_id in unordered:
                kept.sort(key=_tick_time)  # stable: equal times keep their order, as apply_tick keeps them
            if len(kept) > limit:
                kept = kept[-limit:]
            self._ticks[check_id] = deque(kept, maxlen=limit)
            self._tick_ms[check_id] = deque([round(t.ts.timestamp() * 1000) for t in kept], maxlen=limit)  # _ms
            if self._last_tick_ts is None or kept[-1].ts > self._last_tick_ts:
                self._last_tick_ts = kept[-1].ts

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
        # nothing now; a hold is frozen at what it was when the writer was last
        # alive (its heartbeat); a firing condition stays firing until passes
        # show otherwise.
        for condition_id, condition in self._conditions.items():
            if condition.state is ConditionState.OK:
                self._conditions[condition_id] = replace(
                    condition, state=ConditionState.UNKNOWN, since=event.ts,
                    detail="not yet polled since resume", acknowledged=False,
                )  # fmt: skip
                continue
            if condition.state in (ConditionState.PENDING, ConditionState.FIRING):
                condition = replace(condition, breach_held=_held(condition, last), hold_from=event.ts)
                frozen = f"; breach hold frozen at {_seconds(condition.breach_held)} across the gap"
            else:
                frozen = ""
            before = f"; before: {condition.detail}" if condition.detail else ""
            self._conditions[condition_id] = replace(condition, detail=f"resumed after a {_seconds(gap)} gap{frozen}{before}")

    def _on_t0_set(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        if payload.get("t0"):
            self._t0 = parse_ts(payload["t0"])

    def _on_step_started(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        step_id = payload.get("step", "")
        step = self._steps.get(step_id)
        if step is not None:
            self._steps[step_id] = replace(step, status=StepStatus.ACTIVE, started_at=event.ts, ended_at=None, reason="")

    def _on_step_completed(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        step_id = payload.get("step", "")
        step = self._steps.get(step_id)
        if step is not None:
            self._steps[step_id] = replace(
                step, status=_STEP_END[event.kind], ended_at=event.ts,
                reason=str(payload.get("override_reason") or payload.get("reason") or ""),
            )  # fmt: skip

    _on_step_failed = _on_step_completed
    _on_step_skipped = _on_step_completed

    def _on_item_checked(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        step_id = payload.get("step", "")
        step = self._steps.get(step_id)
        if step is not None:
            item = str(payload.get("item", ""))
            items = step.items | {item} if payload.get("checked", True) else step.items - {item}
            self._steps[step_id] = replace(step, items=items)

    def _on_evidence_added(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        step_id = payload.get("step", "")
        step = self._steps.get(step_id)
        if step is not None:
            item = payload.get("item")
            self._steps[step_id] = replace(
                step,
                evidence=(*step.evidence, str(payload.get("text", ""))),
                evidence_items=(*step.evidence_items, str(item) if item else None),
            )

    def _on_decision(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        self._last_decision_seq = event.seq
        for condition_id, seen in (payload.get("conditions") or {}).items():
            if isinstance(seen, Mapping) and seen.get("firing_since"):
                self._answered.add((str(condition_id), str(seen["firing_since"])))
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
                decided_by=payload.get("decided_by"),
                phrase=payload.get("phrase"),
            )
        )

    def _on_condition_changed(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        condition_id = payload.get("condition", "")
        condition = self._conditions.get(condition_id)
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
            fired_seq = None
        elif condition.fired_seq is None:
            fired_seq = event.seq  # a new episode needs its own decision
        else:
            fired_seq = condition.fired_seq
        changed_at = event.ts  # a change held while the log could not be written keeps its own time
        remaining = payload.get("remaining")
        self._conditions[condition_id] = _ConditionProgress(
            state=state,
            value=_number(payload.get("value")),
            value_ts=changed_at,
            threshold=str(payload.get("threshold") or condition.threshold),
            since=changed_at,
            # Older logs have only the full reason, hold included.
            detail=str(payload.get("detail") or payload.get("reason", "")),
            flapping=bool(payload.get("flapping")),
            acknowledged=False if state is ConditionState.OK else condition.acknowledged,
            breach_held=float(payload.get("breach_held") or 0.0),
            hold_from=changed_at,
            firing_since=firing_since,
            fired_seq=fired_seq,
            consecutive_breaches=int(payload.get("consecutive_breaches") or 0),
            remaining_at_change=float(remaining) if isinstance(remaining, (int, float)) else None,
        )

    def _on_condition_acknowledged(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        condition_id = payload.get("condition", "")
        condition = self._conditions.get(condition_id)
        if condition is not None:
            self._conditions[condition_id] = replace(condition, acknowledged=True)

    def _on_rollback_started(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        if self._rollback_at is None:
            self._rollback_at = event.ts

    def _on_session_ended(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        self._ended = str(payload.get("outcome", "completed"))

    # ------------------------------------------------------------ the state

    def state(self, now: datetime | None = None, live: LiveTruth | None = None) -> SessionState:
        """The ``SessionState`` at ``now`` (default: the latest record folded).

        Args:
            now: the instant to describe.
            live: what a running session knows beyond the log (the evaluators'
                statuses, the newest readings, a failing log, a stopped writer).
                Without it, everything comes from the log, as in replay.
        """
        if now is None:
            stamps = [ts for ts in (self._last_event_ts, self._last_tick_ts) if ts is not None]
            now = max(stamps) if stamps else None
        live = live or _NO_LIVE
        mode = Mode.ROLLBACK if self._rollback_at else Mode.REHEARSAL if self._rehearsal else Mode.LIVE
        checks = {check_id: self._check_view(check_id, now, live) for check_id in self.runbook.checks}
        conditions = {c.id: self._condition_view(c, now, live) for c in self.runbook.stop_conditions}
        steps = self._step_states(now, checks)
        current = self._current_step(steps)
        statuses = {cid: _as_status(view, now) for cid, view in conditions.items() if view.active}
        problem = self._problem(live, now)
        judgement = judge(
            self.runbook,
            statuses,
            self.runbook.step(current) if current else None,
            {check_id: view.status for check_id, view in checks.items()},
            rollback_mode=mode is Mode.ROLLBACK,
            log_problem=problem,
        )
        banners = self._banners(conditions, statuses, live, now)
        upcoming = next_step(steps, mode)
        return SessionState(
            runbook_name=self.runbook.name,
            mode=mode,
            t0=self._t0,
            steps=steps,
            conditions=conditions,
            checks=checks,
            alerts=self._alerts(checks, live),
            decisions=tuple(self._decisions),
            log=tuple(self._log),
            verdict=judgement.verdict,
            banner=banners[0].text if banners else None,
            banner_condition=next((b.condition for b in banners if b.condition), None),
            last_event_seq=self._last_seq,
            last_event_ts=self._last_event_ts,
            ended=self._ended,
            gaps=tuple(self._gaps),
            rollback_started_at=self._rollback_at,
            current_step=current,
            now=now,
            verdict_reasons=judgement.reasons,
            at_risk=at_risk_views(judgement, conditions),
            blind=judgement.blind,
            banners=banners,
            next_step=upcoming.id if upcoming else None,
            projection=projected_end(steps, mode, self.runbook, now),
            log_problem=log_banner(live.log_problem, None, None).text if live.log_problem else None,
            writer_stopped_at=live.writer_stopped_at,
        )

    def _problem(self, live: LiveTruth, now: datetime | None) -> str | None:
        """Why nothing better than CANNOT VERIFY can be said: the log is not written, or the writer stopped."""
        if live.log_problem:
            return f"log not writing: {live.log_problem}"
        if live.writer_stopped_at is not None:
            return "the session ended" if self._ended else "the writer stopped"
        return None

    def _step_states(self, now: datetime | None, checks: Mapping[str, CheckView]) -> tuple[StepState, ...]:
        abandon = self._rollback_at is not None
        states = [
            self._step_state(step, self._planned(step.at), now, checks, rollback_plan=False, abandon=abandon)
            for step in self.runbook.steps
        ]
        if self._rollback_at is not None:
            # The rollback plan is timed from the moment it started: `at` is an
            # offset from then, and steps without one follow the previous step.
            previous_end: datetime | None = self._rollback_at
            for step in self.runbook.rollback:
                start = self._rollback_at + timedelta(seconds=step.at) if step.at is not None else previous_end
                state = self._step_state(step, start, now, checks, rollback_plan=True, abandon=False)
                previous_end = state.planned_end
                states.append(state)
        return tuple(states)

    def _planned(self, offset: float | None) -> datetime | None:
        if offset is None or self._t0 is None:
            return None
        return self._t0 + timedelta(seconds=offset)

    def _step_state(
        self,
        step: Step,
        planned_start: datetime | None,
        now: datetime | None,
        checks: Mapping[str, CheckView],
        *,
        rollback_plan: bool,
        abandon: bool,
    ) -> StepState:
        progress = self._steps[step.id]
        planned_end = planned_start + timedelta(seconds=step.duration) if planned_start and step.duration else None
        actual = progress.started_at or progress.ended_at  # a step ticked done at once started then
        status = progress.status
        if abandon and status in (StepStatus.PENDING, StepStatus.ACTIVE):
            status = StepStatus.ABANDONED  # the forward plan stopped when the rollback began: its drift stops too
        if actual and planned_start:
            drift: float | None = (actual - planned_start).total_seconds()
        elif status is StepStatus.PENDING and planned_start is not None and now is not None and planned_start < now:
            drift = (now - planned_start).total_seconds()  # due and not started: late by this much
        else:
            drift = None
        return StepState(
            id=step.id,
            title=step.title,
            status=status,
            planned_start=planned_start,
            planned_end=planned_end,
            started_at=progress.started_at,
            ended_at=progress.ended_at,
            drift_seconds=drift,
            items_checked=frozenset(progress.items),
            evidence=tuple(progress.evidence),
            evidence_items=tuple(progress.evidence_items),
            reason=progress.reason,
            rollback_plan=rollback_plan,
            gate=tuple((check_id, checks[check_id].status) for check_id in step.gate if check_id in checks),
        )

    def _current_step(self, steps: tuple[StepState, ...]) -> str | None:
        if self._rollback_at is not None:
            steps = tuple(s for s in steps if s.rollback_plan) or steps
        for wanted in (StepStatus.ACTIVE, StepStatus.PENDING):
            for step in steps:
                if step.status is wanted:
                    return step.id
        return None

    def _history(self, check_id: str, now: datetime) -> tuple[float | None, ...]:
        """The sparkline: the check's value at each multiple of ``every`` before ``now`` (the last ``history - 1``), then at ``now``.

        The instants are multiples of the check's interval since the epoch, so
        the points do not shift with the instant asked for: between two
        multiples only the last point (the value now) can change, and only
        when a tick arrives or the newest one grows stale. The earlier points
        are kept per check until a tick arrives or the next multiple passes.
        """
        ticks, times = self._ticks[check_id], self._tick_ms[check_id]
        every = self.runbook.checks[check_id].every if check_id in self.runbook.checks else 15.0
        every_ms = max(1, round(every * 1000))
        now_ms = _ms(now)
        grid_end = now_ms - 1 - (now_ms - 1) % every_ms  # the latest multiple strictly before now
        key = (self._tick_versions.get(check_id, 0), grid_end, every_ms)
        cached = self._history_cache.get(check_id)
        if cached is not None and cached[0] == key:
            grid = cached[1]
        else:
            grid = _sample(ticks, times, grid_end - (self.history - 2) * every_ms, every_ms, self.history - 1)
            self._history_cache[check_id] = (key, grid)
        return grid + _sample(ticks, times, now_ms, every_ms, 1)

    def _condition_view(self, condition: StopCondition, now: datetime | None, live: LiveTruth) -> ConditionView:
        progress = self._conditions[condition.id]
        check_id = self._check_of[condition.id]
        ticks = self._ticks.get(check_id)
        history = self._history(check_id, now) if ticks and now else ()
        active = now is None or is_active(condition, self._t0, now)
        status = live.statuses.get(condition.id)
        if status is not None:
            state, since, firing_since = status.state, status.since, status.firing_since
            held, remaining, detail = status.breach_held, status.remaining, status.detail or status.reason
            consecutive = status.consecutive_breaches
            reading = live.readings.get(check_id)
            value = status.value if reading is None or reading[0].value is None else reading[0].value
            lower_bound = bool(reading and reading[0].extra.get("lower_bound"))
            acknowledged = status.acknowledged or progress.acknowledged
            flapping = status.flapping
        else:
            state, since, firing_since = progress.state, progress.since, progress.firing_since
            held, consecutive, detail = _held(progress, now), progress.consecutive_breaches, progress.detail
            remaining = _remaining(condition, progress, held, now)
            value = progress.value
            lower_bound = False
            if ticks and (progress.value_ts is None or ticks[-1].ts >= progress.value_ts):
                value = ticks[-1].value
                lower_bound = bool(ticks[-1].extra.get("lower_bound"))
            acknowledged, flapping = progress.acknowledged, progress.flapping
        if (
            status is not None
            and state not in BLIND_STATES
            and live.readings.get(check_id) is not None
            and check_status(self.runbook.checks[check_id], "pass", live.readings[check_id][1]) == STALE
        ):
            # The one staleness rule, applied where the check's marker applies it: the evaluator's
            # own once-a-second tick may not have come round yet.
            age = live.readings[check_id][1]
            detail = f"no reading for {_seconds(age)}"
            state, remaining = ConditionState.STALE, None
        if live.writer_stopped_at is not None and state is not ConditionState.STALE:
            # A followed session whose writer is gone: whatever was last seen is stale now.
            when = live.writer_stopped_at.strftime("%H:%M:%SZ")
            detail = f"writer stopped at {when}; last seen {state.value}: {detail}"
            state, remaining, since = ConditionState.STALE, None, live.writer_stopped_at
        shown = value_text(condition, self.runbook, value, lower_bound=lower_bound)
        detail = current_detail(condition, state, shown, value, detail)
        reason = describe_state(
            state,
            detail,
            held=held,
            for_=condition.for_,
            remaining=remaining,
            keep_firing_for=condition.keep_firing_for,
            consecutive_breaches=consecutive,
            min_consecutive=condition.min_consecutive,
            firing_since=firing_since,
        )
        return ConditionView(
            id=condition.id,
            state=state,
            value=value,
            threshold=progress.threshold,
            since=since,
            reason=reason,
            flapping=flapping,
            acknowledged=acknowledged,
            breach_held=held,
            history=history,
            firing_since=firing_since,
            active=active,
            for_=condition.for_,
            remaining=remaining,
            in_state_for=max(0.0, (now - since).total_seconds()) if now is not None and since is not None else None,
            value_text=shown,
            detail=detail,
        )

    def _check_view(self, check_id: str, now: datetime | None, live: LiveTruth) -> CheckView:
        check = self.runbook.checks[check_id]
        reading = live.readings.get(check_id)
        if reading is not None:
            latest, age = reading
            return CheckView(
                id=check_id,
                outcome=latest.outcome.value,
                value=latest.value,
                unit=latest.unit or check.unit,
                detail=latest.detail,
                observed_at=latest.observed_at,
                degraded=latest.degraded,
                status=check_status(check, latest.outcome.value, age, degraded=latest.degraded,
                                    sample_age=latest.sample_age),
                lower_bound=bool(latest.extra.get("lower_bound")),
                age=age,
            )
        ticks = self._ticks.get(check_id)
        if not ticks:
            return CheckView(check_id, None, None, check.unit, "not yet polled", None)
        tick = ticks[-1]
        age = max(0.0, (now - tick.ts).total_seconds()) if now is not None else 0.0
        # Ticks are stored on change and as keyframes: the newest may be a keyframe old and still current.
        status = check_status(check, tick.outcome, age, slack=_KEYFRAME_SECONDS, degraded=tick.degraded)
        if live.writer_stopped_at is not None and status not in (STALE, NEVER):
            status = STALE
        return CheckView(
            id=check_id,
            outcome=tick.outcome,
            value=tick.value,
            unit=tick.unit or check.unit,
            detail=tick.detail,
            observed_at=tick.ts,
            degraded=tick.degraded,
            status=status,
            age=age,
            lower_bound=bool(tick.extra.get("lower_bound")),
        )

    def _alerts(self, checks: Mapping[str, CheckView], live: LiveTruth) -> tuple[AlertView, ...]:
        alerts: list[AlertView] = []
        for check in self.runbook.checks.values():
            if check.kind != "alerts":
                continue
            reading = live.readings.get(check.id)
            ticks = self._ticks.get(check.id)
            if reading is not None:
                extra: Mapping[str, Any] = reading[0].extra
            elif ticks:
                extra = ticks[-1].extra
            else:
                continue
            for state in ("active", "suppressed"):
                for alert in extra.get(state) or ():
                    if isinstance(alert, Mapping):
                        alerts.append(_alert_view(alert, state, check.id))
        return tuple(alerts)

    def _banners(
        self,
        conditions: Mapping[str, ConditionView],
        statuses: Mapping[str, ConditionStatus],
        live: LiveTruth,
        now: datetime | None,
    ) -> tuple[BannerView, ...]:
        """Every banner, most urgent first: a failing log, a stopped writer, then firings awaiting a decision."""
        banners: list[BannerView] = []
        if live.log_problem:
            banners.append(log_banner(live.log_problem, live.log_problem_since, now))
        if live.writer_stopped_at is not None:
            when = live.writer_stopped_at.strftime("%H:%M:%SZ")
            banners.append(writer_banner(live.writer_stopped_at, self._ended, now, when))
        waiting = [
            condition
            for condition in self.runbook.stop_conditions
            if condition.action in (Action.HALT, Action.ROLLBACK)
            and condition.id in statuses
            and counts_as_firing(statuses[condition.id])
            and not self._answered_episode(condition.id, conditions[condition.id].firing_since)
        ]
        waiting.sort(key=lambda c: (stopping_order(c), self._conditions[c.id].fired_seq or 0))
        banners.extend(firing_banner(c, conditions[c.id], self.runbook, now) for c in waiting)
        return tuple(banners)

    def _answered_episode(self, condition_id: str, firing_since: datetime | None) -> bool:
        """Whether a decision answered this firing episode (named in its snapshot, or logged after it began)."""
        if firing_since is not None and (condition_id, format_ts(firing_since)) in self._answered:
            return True
        progress = self._conditions[condition_id]
        same_episode = firing_since is None or progress.firing_since is None or (
            format_ts(progress.firing_since) == format_ts(firing_since)
        )
        return same_episode and progress.fired_seq is not None and progress.fired_seq <= self._last_decision_seq


# ----------------------------------------------------------------- helpers


def _sample(
    ticks: deque[TickRecord], times: deque[int], first_instant: int, every_ms: int, points: int
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


def _remaining(condition: StopCondition, progress: _ConditionProgress, held: float, now: datetime | None) -> float | None:
    """From the log: seconds to firing while pending, to clearing while recovering."""
    if progress.state is ConditionState.PENDING:
        return max(0.0, condition.for_ - held)
    if progress.state is ConditionState.RECOVERING:
        start = progress.remaining_at_change if progress.remaining_at_change is not None else condition.keep_firing_for
        gone = (now - progress.since).total_seconds() if now is not None and progress.since is not None else 0.0
        return max(0.0, start - gone)
    return None


def _as_status(view: ConditionView, now: datetime | None) -> ConditionStatus:
    """A view as ``checks.verdict`` takes it."""
    return ConditionStatus(
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
        for_=view.for_,
        remaining=view.remaining,
    )


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
            if p.get("unticked"):
                override += f" ({len(p['unticked'])} of {p.get('items', '?')} items unticked: {p.get('unticked_reason', '')})"
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
            count = len(p.get("samples") or ())
            return f"baseline of {p.get('check')} read from Prometheus: {count} samples {p.get('from')} .. {p.get('to')}"
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
