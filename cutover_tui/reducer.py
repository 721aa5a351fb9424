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
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, Sequence, ValuesView
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from checks.conditions import describe_state, is_active
from checks.state import BLIND_STATES, ConditionState
from checks.verdict import NEVER, STALE, check_status, counts_as_firing, judge
from cutover_tui.derive import (
    at_risk_view,
    current_detail,
    firing_banner,
    log_banner,
    next_step,
    polling_banner,
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
#: Condition states whose hold or countdown runs with the clock.
_TIMED_STATES = frozenset({ConditionState.PENDING, ConditionState.FIRING, ConditionState.RECOVERING})


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
        if checkpoint is None:
            self._steps = {step.id: _StepProgress() for step in (*runbook.steps, *runbook.rollback)}
            self._conditions = {c.id: _ConditionProgress(threshold=c.threshold_text) for c in runbook.stop_conditions}
        else:  # its records are immutable: shared, never copied one by one
            self._steps = dict(checkpoint.steps)
            self._conditions = dict(checkpoint.conditions)
        self._index = _index(runbook)
        self._check_of = self._index.check_of
        # Per check, its last ``ticks_kept`` ticks and their times in ms (for sampling), oldest first. A
        # derived state shares these lists; the fold copies a check's lists before it changes them
        # the first time after a state was derived (``_owned``), so a state never sees a later tick.
        self._ticks: dict[str, list[TickRecord]] = {}
        self._tick_ms: dict[str, list[int]] = {}
        self._owned: dict[str, int] = {}  # per check: the value of _states when its lists were last copied
        self._states = 0  # states derived so far
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
        spans = self._index.spans.get(self.history)
        if spans is None:
            spans = {}
            for check_id in self._check_of.values():
                # A millisecond more: whole milliseconds in the log, rounded ones in the sampling.
                spans[check_id] = timedelta(milliseconds=(self.history - 1) * self._index.every_ms[check_id] + 1)
            self._index.spans[self.history] = spans
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
        check_id = tick.check_id
        kept = self._ticks.get(check_id)
        if kept is None:
            kept, times = self._ticks[check_id], self._tick_ms[check_id] = [], []
            self._owned[check_id] = self._states
        elif self._owned[check_id] != self._states:  # a derived state shares them: copy, then change
            kept = self._ticks[check_id] = list(kept)
            times = self._tick_ms[check_id] = list(self._tick_ms[check_id])
            self._owned[check_id] = self._states
        else:
            times = self._tick_ms[check_id]
        if kept and tick.ts < kept[-1].ts:
            # Batches from several pollers can interleave by a few ms.
            ordered = sorted((*kept, tick), key=_tick_time)[-self.ticks_kept :]
            kept[:] = ordered
            times[:] = [_ms(t.ts) for t in ordered]
        else:
            kept.append(tick)
            times.append(_ms(tick.ts))
            if len(kept) > self.ticks_kept:
                del kept[0], times[0]
        self._tick_versions[check_id] = self._tick_versions.get(check_id, 0) + 1
        if self._last_tick_ts is None or tick.ts > self._last_tick_ts:
            self._last_tick_ts = tick.ts

    def apply_ticks(self, ticks: Iterable[TickRecord]) -> None:
        """Fold many stored readings: the same as ``apply_tick`` on each in turn, quicker for thousands."""
        fresh: dict[str, list[TickRecord]] = {}
        for tick in ticks:
            if tick.check_id in self._ticks:
                self.apply_tick(tick)
            else:
                fresh.setdefault(tick.check_id, []).append(tick)
        for check_id, kept in _kept(fresh, self.ticks_kept).items():
            self._ticks[check_id] = kept
            self._tick_ms[check_id] = [_ms(t.ts) for t in kept]
            self._owned[check_id] = self._states
            self._tick_versions[check_id] = self._tick_versions.get(check_id, 0) + len(kept)
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

    def state(
        self, now: datetime | None = None, live: LiveTruth | None = None, *, read_ticks: TickReader | None = None
    ) -> SessionState:
        """The ``SessionState`` at ``now`` (default: the latest record folded).

        The verdict, its reasons, the banners, the countdowns and the steps
        are derived here. Each condition's and each check's view is derived
        when it is first looked at (``state.conditions[id]``), from what the
        fold held at this call: a screen that shows ten conditions of 400
        derives ten. Iterating ``values()`` or ``items()`` derives them all.

        Args:
            now: the instant to describe.
            live: what a running session knows beyond the log (the evaluators'
                statuses, the newest readings, a failing log, a stopped writer).
                Without it, everything comes from the log, as in replay.
            read_ticks: for a reducer that folded no ticks (a replay seek): the
                log's ``SessionLog.seek_ticks``. The state then reads the ticks
                a view needs when it is looked at: the latest of a check, and
                the sparkline window of a condition's check.
        """
        if now is None:
            stamps = [ts for ts in (self._last_event_ts, self._last_tick_ts) if ts is not None]
            now = max(stamps) if stamps else None
        if read_ticks is not None and self._ticks:
            raise ValueError("read_ticks is for a reducer that folded no ticks")
        live = live or _NO_LIVE
        self._states += 1  # the derivation shares the tick lists from here on
        derive = _Derivation(self, now, live, read_ticks)
        index = self._index
        mode = Mode.ROLLBACK if self._rollback_at else Mode.REHEARSAL if self._rehearsal else Mode.LIVE
        checks: Views[CheckView] = Views(index.check_ids, derive.check_view, derive.read_latest)
        conditions: Views[ConditionView] = Views(index.condition_ids, derive.condition_view, derive.read_windows)
        statuses = derive.statuses()
        waiting = self._waiting(statuses)
        # What the steps' gates, the alerts pane and the banners read, in one query (a replay reads the log).
        derive.read_latest((*index.read_first, *(self._check_of[cid] for cid in waiting)))
        steps = self._step_states(now, checks)
        current = self._current_step(steps)
        problem = self._problem(live, now)
        judgement = judge(
            self.runbook,
            statuses,
            self.runbook.step(current) if current else None,
            _CheckStatuses(checks),
            rollback_mode=mode is Mode.ROLLBACK,
            log_problem=problem,
        )
        headlines = _Headlines(derive)
        banners = self._banners(headlines, waiting, live, now)
        upcoming = next_step(steps, mode)
        return SessionState(
            runbook_name=self.runbook.name,
            mode=mode,
            t0=self._t0,
            steps=steps,
            conditions=conditions,
            checks=checks,
            alerts=self._alerts(derive, live),
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
            at_risk=_Derived(
                len(judgement.at_risk), lambda n: at_risk_view(judgement.at_risk[n], headlines[judgement.at_risk[n].condition])
            ),
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
        if live.polling_stopped_at is not None:
            return "polling stopped"
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

    def _alerts(self, derive: _Derivation, live: LiveTruth) -> tuple[AlertView, ...]:
        alerts: list[AlertView] = []
        for check_id in self._index.alert_checks:
            reading = live.readings.get(check_id)
            if reading is not None:
                extra: Mapping[str, Any] = reading[0].extra
            else:
                tick = derive.latest(check_id)
                if tick is None:
                    continue
                extra = tick.extra
            for state in ("active", "suppressed"):
                for alert in extra.get(state) or ():
                    if isinstance(alert, Mapping):
                        alerts.append(_alert_view(alert, state, check_id))
        return tuple(alerts)

    def _waiting(self, statuses: Mapping[str, _Core]) -> list[str]:
        """The halt and rollback conditions whose firing episode awaits a decision, in the banners' order."""
        waiting = [
            condition
            for condition in self._index.stopping
            if condition.id in statuses
            and counts_as_firing(statuses[condition.id])
            and not self._answered_episode(condition.id, statuses[condition.id].firing_since)
        ]
        waiting.sort(key=lambda c: (stopping_order(c), self._conditions[c.id].fired_seq or 0))
        return [condition.id for condition in waiting]

    def _banners(
        self, conditions: Mapping[str, ConditionView], waiting: list[str], live: LiveTruth, now: datetime | None
    ) -> tuple[BannerView, ...]:
        """Every banner, most urgent first: a failing log, a stopped writer, then firings awaiting a decision."""
        banners: list[BannerView] = []
        if live.log_problem:
            banners.append(log_banner(live.log_problem, live.log_problem_since, now))
        if live.writer_stopped_at is not None:
            when = live.writer_stopped_at.strftime("%H:%M:%SZ")
            banners.append(writer_banner(live.writer_stopped_at, self._ended, now, when))
        if live.polling_stopped_at is not None:
            banners.append(polling_banner(live.polling_stopped_at, now))
        banners.extend(firing_banner(self._index.conditions[cid], conditions[cid], self.runbook, now) for cid in waiting)
        return tuple(banners)

    def _answered_episode(self, condition_id: str, firing_since: datetime | None) -> bool:
        """Whether a decision answered this firing episode (named in its snapshot, or logged after it began)."""
        if firing_since is not None and self._answered and (condition_id, format_ts(firing_since)) in self._answered:
            return True
        progress = self._conditions[condition_id]
        same_episode = firing_since is None or progress.firing_since is None or progress.firing_since == firing_since or (
            format_ts(progress.firing_since) == format_ts(firing_since)
        )
        return same_episode and progress.fired_seq is not None and progress.fired_seq <= self._last_decision_seq


# ----------------------------------------------------------------- deriving views


#: ``SessionLog.seek_ticks``: ``read(until, windows, checks=...)`` -> the ticks a state at ``until`` reads.
TickReader = Callable[..., Iterable[TickRecord]]
V = TypeVar("V")


class Views(Mapping[str, V]):
    """A state's views by id, each derived the first time it is looked at, then kept.

    A mapping like the dict it stands for (equal to one with equal items).
    ``values()``, ``items()``, equality and ``repr`` derive every view, after
    ``read`` has read, in one go, what they need.
    """

    __slots__ = ("_ids", "_derive", "_read", "_made")

    def __init__(self, ids: Mapping[str, Any], derive: Callable[[str], V], read: Callable[[Iterable[str]], None]) -> None:
        self._ids = ids
        self._derive = derive
        self._read = read
        self._made: dict[str, V] = {}

    def __getitem__(self, key: str) -> V:
        made = self._made.get(key)
        if made is None:
            if key not in self._ids:
                raise KeyError(key)
            made = self._made[key] = self._derive(key)
        return made

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def read(self, keys: Iterable[str]) -> None:
        """Read at once what the views of ``keys`` need (a pane about to show them): one query, not one each."""
        self._read(key for key in keys if key in self._ids and key not in self._made)

    def _every(self) -> None:
        if len(self._made) < len(self._ids):
            self._read(key for key in self._ids if key not in self._made)

    def values(self) -> ValuesView[V]:
        self._every()
        return ValuesView(self)

    def items(self) -> ItemsView[str, V]:
        self._every()
        return ItemsView(self)

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(dict(self.items()))


class _History(Sequence[float | None]):
    """A condition's sparkline points (``ConditionView.history``), sampled when first read; equal to the tuple of them.

    A view whose sparkline is not drawn (a banner's, a card off screen) never
    reads its check's window.
    """

    __slots__ = ("_derive", "_check", "_points")

    def __init__(self, derive: _Derivation, check_id: str) -> None:
        self._derive = derive
        self._check = check_id
        self._points: tuple[float | None, ...] | None = None

    def points(self) -> tuple[float | None, ...]:
        if self._points is None:
            self._points = self._derive.sparkline(self._check)
        return self._points

    def __getitem__(self, index: Any) -> Any:
        return self.points()[index]

    def __len__(self) -> int:
        return len(self.points())

    def __iter__(self) -> Iterator[float | None]:
        return iter(self.points())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _History):
            other = other.points()
        if isinstance(other, tuple):
            return self.points() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.points())

    def __repr__(self) -> str:
        return repr(self.points())


class _Derived(Sequence[V]):
    """A tuple whose items are derived when first read (``SessionState.at_risk``: the header reads the first); equal to the tuple of them."""

    __slots__ = ("_derive", "_made")

    def __init__(self, count: int, derive: Callable[[int], V]) -> None:
        self._derive = derive
        self._made: list[Any] = [_UNSET] * count

    def _item(self, index: int) -> V:
        made = self._made[index]
        if made is _UNSET:
            made = self._made[index] = self._derive(index)
        return made

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(self._item(n) for n in range(*index.indices(len(self._made))))
        if index < 0:
            index += len(self._made)
        if not 0 <= index < len(self._made):
            raise IndexError(index)
        return self._item(index)

    def __len__(self) -> int:
        return len(self._made)

    def __iter__(self) -> Iterator[V]:
        return (self._item(n) for n in range(len(self._made)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Derived):
            other = tuple(other)
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))


_UNSET: Any = object()


class _CheckStatuses(Mapping[str, str]):
    """Each check's status, derived when the verdict reads it (it reads the current step's gate)."""

    __slots__ = ("_checks",)

    def __init__(self, checks: Views[CheckView]) -> None:
        self._checks = checks

    def __getitem__(self, key: str) -> str:
        return self._checks[key].status

    def __iter__(self) -> Iterator[str]:
        return iter(self._checks)

    def __len__(self) -> int:
        return len(self._checks)


class _Headlines(Mapping[str, ConditionView]):
    """What the banners and countdowns read of a condition: its view without the sparkline and the reason."""

    __slots__ = ("_derive",)

    def __init__(self, derive: _Derivation) -> None:
        self._derive = derive

    def __getitem__(self, key: str) -> ConditionView:
        return self._derive.headline(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._derive.index.condition_ids)

    def __len__(self) -> int:
        return len(self._derive.index.condition_ids)


@dataclass(frozen=True, slots=True)
class _RunbookIndex:
    """What every state of a runbook looks up: computed once per runbook."""

    check_ids: Mapping[str, None]  # in the runbook's order
    condition_ids: Mapping[str, None]
    conditions: Mapping[str, StopCondition]
    check_of: Mapping[str, str]  # condition -> its check
    stopping: tuple[StopCondition, ...]  # halt and rollback conditions
    alert_checks: tuple[str, ...]
    read_first: tuple[str, ...]  # what every state reads: the steps' gate checks and the alerts checks
    every_ms: Mapping[str, int]  # per check: its interval in ms
    spans: dict[int, dict[str, timedelta]]  # per sparkline length: per check a condition reads, the span it shows
    cores: dict[str, tuple[Any, _Core]]  # per condition: the last record folded whose state holds no clock, as derived


_INDEXES: dict[int, tuple[Runbook, _RunbookIndex]] = {}


def _index(runbook: Runbook) -> _RunbookIndex:
    known = _INDEXES.get(id(runbook))
    if known is not None and known[0] is runbook:
        return known[1]
    alert_checks = tuple(check.id for check in runbook.checks.values() if check.kind == "alerts")
    gates = (check_id for step in (*runbook.steps, *runbook.rollback) for check_id in step.gate if check_id in runbook.checks)
    index = _RunbookIndex(
        check_ids=dict.fromkeys(runbook.checks),
        condition_ids=dict.fromkeys(c.id for c in runbook.stop_conditions),
        conditions={c.id: c for c in runbook.stop_conditions},
        check_of={c.id: c.check for c in runbook.stop_conditions},
        stopping=tuple(c for c in runbook.stop_conditions if c.action in (Action.HALT, Action.ROLLBACK)),
        alert_checks=alert_checks,
        read_first=tuple(dict.fromkeys((*gates, *alert_checks))),
        every_ms={
            check_id: max(1, round((runbook.checks[check_id].every if check_id in runbook.checks else 15.0) * 1000))
            for check_id in (*runbook.checks, *(c.check for c in runbook.stop_conditions))
        },
        spans={},
        cores={},
    )
    if len(_INDEXES) >= 16:
        _INDEXES.clear()
    _INDEXES[id(runbook)] = (runbook, index)
    return index


class _Core:
    """A condition's state at ``now`` without its numbers' text: what the verdict reads of it (``checks.verdict.Judged``)."""

    __slots__ = ("state", "since", "firing_since", "held", "remaining", "detail", "consecutive", "acknowledged",
                 "flapping", "active", "value", "lower_bound", "live")  # fmt: skip

    def __init__(self, state: ConditionState, since: datetime | None, firing_since: datetime | None, held: float,
                 remaining: float | None, detail: str, consecutive: int, acknowledged: bool, flapping: bool,
                 active: bool, value: float | None, lower_bound: bool, live: bool) -> None:  # fmt: skip
        self.state, self.since, self.firing_since, self.held, self.remaining = state, since, firing_since, held, remaining
        self.detail, self.consecutive, self.acknowledged, self.flapping = detail, consecutive, acknowledged, flapping
        self.active, self.value, self.lower_bound, self.live = active, value, lower_bound, live


class _Derivation:
    """Everything a state derives its views from, as the fold held it when the state was asked for.

    The fold's records are immutable and its tick lists are copied before
    the fold changes them, so a view derived later equals one derived at once.
    """

    def __init__(self, reducer: Reducer, now: datetime | None, live: LiveTruth, read: TickReader | None) -> None:
        self.runbook = reducer.runbook
        self.index = reducer._index
        self.history = reducer.history
        self.limit = reducer.ticks_kept
        self.now = now
        self.live = live if not live.statuses else replace(live, statuses=dict(live.statuses))
        self.from_log = not live.statuses and live.writer_stopped_at is None  # each condition as the log tells it
        self.t0 = reducer._t0
        self.progress = dict(reducer._conditions)
        self.ticks = dict(reducer._ticks)
        self.times = dict(reducer._tick_ms)
        self.versions = dict(reducer._tick_versions)
        self.cache = reducer._history_cache
        self.spans = reducer._window_spans() if read is not None else {}
        self.read = read
        self.depth: dict[str, int] = {}  # with ``read``: per check, 1 = its latest tick read, 2 = its window too
        self.cores: dict[str, _Core] = {}
        self.headlines: dict[str, ConditionView] = {}

    # ------------------------------------------------------------ reading ticks

    def read_latest(self, check_ids: Iterable[str]) -> None:
        """Read, in one query, the latest tick of each of these checks not read yet."""
        if self.read is not None:
            self._read([c for c in dict.fromkeys(check_ids) if c not in self.depth], ())

    def read_windows(self, condition_ids: Iterable[str]) -> None:
        """Read, in one query, what the views of these conditions need: their checks' sparkline windows."""
        if self.read is not None:
            checks = dict.fromkeys(self.index.check_of[c] for c in condition_ids)
            self._read((), [c for c in checks if self.depth.get(c, 0) < 2])

    def _read(self, latest: Sequence[str], windows: Sequence[str]) -> None:
        latest = [*latest, *(c for c in windows if c not in self.spans)]  # a check no condition reads: its latest
        windows = [c for c in windows if c in self.spans]
        if not latest and not windows:
            return
        now = self.now
        assert self.read is not None and now is not None
        read: dict[str, list[TickRecord]] = {}
        for tick in self.read(now, {c: now - self.spans[c] for c in windows}, checks=latest):
            read.setdefault(tick.check_id, []).append(tick)
        for check_id, kept in _kept(read, self.limit).items():
            self.ticks[check_id] = kept
            self.times[check_id] = [_ms(t.ts) for t in kept]
            self.versions.pop(check_id, None)  # not the fold's: no sparkline cache
        self.depth.update(dict.fromkeys(latest, 1))
        self.depth.update(dict.fromkeys(windows, 2))

    def _ticks_of(self, check_id: str, *, window: bool) -> list[TickRecord] | None:
        if self.read is not None and self.depth.get(check_id, 0) < (2 if window else 1):
            if window:
                self._read((), (check_id,))
            else:
                self._read((check_id,), ())
        return self.ticks.get(check_id)

    def latest(self, check_id: str) -> TickRecord | None:
        """The check's newest tick at ``now`` (read when needed)."""
        ticks = self._ticks_of(check_id, window=False)
        return ticks[-1] if ticks else None

    # ------------------------------------------------------------ checks

    def check_view(self, check_id: str) -> CheckView:
        check = self.runbook.checks[check_id]
        now, live = self.now, self.live
        reading = live.readings.get(check_id)
        if reading is not None:
            latest, age = reading
            status = check_status(check, latest.outcome.value, age, degraded=latest.degraded, sample_age=latest.sample_age)
            if live.polling_stopped_at is not None and status not in (STALE, NEVER):
                status = STALE
            return CheckView(
                id=check_id,
                outcome=latest.outcome.value,
                value=latest.value,
                unit=latest.unit or check.unit,
                detail=latest.detail,
                observed_at=latest.observed_at,
                degraded=latest.degraded,
                status=status,
                lower_bound=bool(latest.extra.get("lower_bound")),
                age=age,
            )  # fmt: skip
        tick = self.latest(check_id)
        if tick is None:
            return CheckView(check_id, None, None, check.unit, "not yet polled", None)
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

    # ------------------------------------------------------------ conditions

    def statuses(self) -> dict[str, _Core]:
        """Every condition in force, as the verdict reads it (``checks.verdict.Judged``): no numbers' text."""
        core = self.core
        return {condition.id: made for condition in self.runbook.stop_conditions if (made := core(condition)).active}

    def core(self, condition: StopCondition) -> _Core:
        made = self.cores.get(condition.id)
        if made is not None:
            return made
        progress = self.progress[condition.id]
        if self.from_log:
            made = self.cores[condition.id] = self._logged_core(condition, progress)
            return made
        check_id = self.index.check_of[condition.id]
        now, live = self.now, self.live
        active = now is None or is_active(condition, self.t0, now)
        status = live.statuses.get(condition.id)
        value, lower_bound = None, False
        since: datetime | None
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
            acknowledged, flapping = progress.acknowledged, progress.flapping
        if (
            status is not None
            and state not in BLIND_STATES
            and live.readings.get(check_id) is not None
            and check_status(self.runbook.checks[check_id], "pass", live.readings[check_id][1]) == STALE
        ):
            # The one staleness rule, applied where the check's marker applies it: the evaluator's
            # own once-a-second tick may not have come round yet.
            detail = f"no reading for {_seconds(live.readings[check_id][1])}"
            state, remaining = ConditionState.STALE, None
        if live.writer_stopped_at is not None and state is not ConditionState.STALE:
            # A followed session whose writer is gone: whatever was last seen is stale now.
            when = live.writer_stopped_at.strftime("%H:%M:%SZ")
            detail = f"writer stopped at {when}; last seen {state.value}: {detail}"
            state, remaining, since = ConditionState.STALE, None, live.writer_stopped_at
        if live.polling_stopped_at is not None and state is not ConditionState.STALE:
            # The polling thread is gone or stuck: the evaluators' last word is no longer news.
            when = live.polling_stopped_at.strftime("%H:%M:%SZ")
            detail = f"polling stopped at {when}; last seen {state.value}: {detail}"
            state, remaining, since = ConditionState.STALE, None, live.polling_stopped_at
        made = self.cores[condition.id] = _Core(
            state, since, firing_since, held, remaining, detail, consecutive, acknowledged, flapping, active,
            value, lower_bound, status is not None,
        )  # fmt: skip
        return made

    def _logged_core(self, condition: StopCondition, progress: _ConditionProgress) -> _Core:
        """A condition as the log alone tells it (replay, a fresh resume): the same for the same record while its state holds no clock.

        Kept per runbook between states: a replay's checkpoints share their
        records, so a seek re-derives only the conditions that changed or
        whose hold or countdown runs.
        """
        now = self.now
        timeless = progress.state not in _TIMED_STATES and (condition.active is None or self.t0 is None)
        if timeless:
            cached = self.index.cores.get(condition.id)
            if cached is not None and cached[0] is progress:
                return cached[1]
        held = _held(progress, now)
        made = _Core(
            progress.state, progress.since, progress.firing_since, held, _remaining(condition, progress, held, now),
            progress.detail, progress.consecutive_breaches, progress.acknowledged, progress.flapping,
            now is None or is_active(condition, self.t0, now), None, False, False,
        )  # fmt: skip
        if timeless:
            self.index.cores[condition.id] = (progress, made)
        return made

    def headline(self, condition_id: str) -> ConditionView:
        """The condition's view but for its sparkline and reason (``history`` empty, ``reason`` blank)."""
        made = self.headlines.get(condition_id)
        if made is not None:
            return made
        condition = self.index.conditions[condition_id]
        core = self.core(condition)
        progress = self.progress[condition_id]
        value, lower_bound = core.value, core.lower_bound
        if not core.live:
            value = progress.value
            tick = self.latest(self.index.check_of[condition_id])
            if tick is not None and (progress.value_ts is None or tick.ts >= progress.value_ts):
                value = tick.value
                lower_bound = bool(tick.extra.get("lower_bound"))
        shown = value_text(condition, self.runbook, value, lower_bound=lower_bound)
        now, since = self.now, core.since
        made = self.headlines[condition_id] = ConditionView(
            id=condition_id,
            state=core.state,
            value=value,
            threshold=progress.threshold,
            since=since,
            flapping=core.flapping,
            acknowledged=core.acknowledged,
            breach_held=core.held,
            firing_since=core.firing_since,
            active=core.active,
            for_=condition.for_,
            remaining=core.remaining,
            in_state_for=max(0.0, (now - since).total_seconds()) if now is not None and since is not None else None,
            value_text=shown,
            detail=current_detail(condition, core.state, shown, value, core.detail),
        )
        return made

    def condition_view(self, condition_id: str) -> ConditionView:
        condition = self.index.conditions[condition_id]
        check_id = self.index.check_of[condition_id]
        headline = self.headline(condition_id)
        core = self.cores[condition_id]
        reason = describe_state(
            core.state,
            headline.detail,
            held=core.held,
            for_=condition.for_,
            remaining=core.remaining,
            keep_firing_for=condition.keep_firing_for,
            consecutive_breaches=core.consecutive,
            min_consecutive=condition.min_consecutive,
            firing_since=core.firing_since,
        )
        h = headline
        return ConditionView(
            id=h.id, state=h.state, value=h.value, threshold=h.threshold, since=h.since, reason=reason,
            flapping=h.flapping, acknowledged=h.acknowledged, breach_held=h.breach_held,
            history=_History(self, check_id) if self.now is not None else (), firing_since=h.firing_since,
            active=h.active, for_=h.for_, remaining=h.remaining, in_state_for=h.in_state_for,
            value_text=h.value_text, detail=h.detail,
        )  # fmt: skip

    def sparkline(self, check_id: str) -> tuple[float | None, ...]:
        """The sparkline of a condition's check (its window read when needed)."""
        ticks = self._ticks_of(check_id, window=True)
        return self._history(check_id, ticks) if ticks else ()

    def _history(self, check_id: str, ticks: list[TickRecord]) -> tuple[float | None, ...]:
        """The sparkline: the check's value at each multiple of ``every`` before ``now`` (the last ``history - 1``), then at ``now``.

        The instants are multiples of the check's interval since the epoch, so
        the points do not shift with the instant asked for: between two
        multiples only the last point (the value now) can change, and only
        when a tick arrives or the newest one grows stale. The earlier points
        are kept per check until a tick arrives or the next multiple passes.
        """
        assert self.now is not None
        times = self.times[check_id]
        every_ms = self.index.every_ms[check_id]
        now_ms = _ms(self.now)
        grid_end = now_ms - 1 - (now_ms - 1) % every_ms  # the latest multiple strictly before now
        version = self.versions.get(check_id)
        key = (version, grid_end, every_ms)
        cached = self.cache.get(check_id) if version is not None else None
        if cached is not None and cached[0] == key:
            grid = cached[1]
        else:
            grid = _sample(ticks, times, grid_end - (self.history - 2) * every_ms, every_ms, self.history - 1)
            if version is not None:
                self.cache[check_id] = ((version, grid_end, every_ms), grid)
        return grid + _sample(ticks, times, now_ms, every_ms, 1)


def _kept(by_check: dict[str, list[TickRecord]], limit: int) -> dict[str, list[TickRecord]]:
    """Each check's ticks in time order (a stable sort: equal times keep their order, as ``apply_tick`` keeps them), its last ``limit``."""
    for check_id, ticks in by_check.items():
        ticks.sort(key=_tick_time)
        if len(ticks) > limit:
            by_check[check_id] = ticks[-limit:]
    return by_check


# ----------------------------------------------------------------- helpers


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
