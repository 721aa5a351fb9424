"""The fold: events and stored readings (ticks) into the reducer's records, and checkpoints of it."""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Self

from checks.status import ConditionState
from cutover_tui.reducer.derivation import _index
from cutover_tui.reducer.helpers import (
    _condition_state,
    _describe,
    _held,
    _ms,
    _number,
    _seconds,
    _tick_time,
)
from cutover_tui.reducer.records import Checkpoint, ClearedFiring, _ConditionProgress, _StepProgress
from cutover_tui.state import (
    DecisionRecord,
    LiveTruth,
    LogLine,
    StepStatus,
)
from cutover_tui.store import EventRecord, TickRecord, parse_ts
from runbooks.model import Runbook

LOG_LINES = 200


_STEP_END = {"step_completed": StepStatus.DONE, "step_failed": StepStatus.FAILED, "step_skipped": StepStatus.SKIPPED}


_NO_LIVE = LiveTruth()
#: A reading stamped this much before the last one folded of its check was stamped after a backward clock step.
_STEPPED_BACK = timedelta(seconds=2)


class Fold:
    """The incremental fold of events and stored readings (ticks); ``Reducer`` adds ``state()``."""

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
        # The checks a stop condition reads keep ``ticks_kept`` ticks (its sparkline's window); every
        # other check its latest alone, all a view of it reads: fewer records kept, fewer walked by
        # each full pass of the cyclic garbage collector.
        self._windowed = frozenset(self._check_of.values())
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
        self._resumed_after_tick: int | None = None  # the last reading's id before the latest resume (newer logs)
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
            resumed_after_tick=self._resumed_after_tick,
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
    def from_checkpoint(cls, runbook: Runbook, checkpoint: Checkpoint, *, history: int = 60) -> Self:
        """A reducer that has folded the checkpoint's events and no tick; ``checkpoint`` stays as it is."""
        return cls(runbook, history=history, checkpoint=checkpoint)

    def _restore(self, checkpoint: Checkpoint) -> None:
        self._decisions = list(checkpoint.decisions)
        self._log.extend(checkpoint.log)
        self._gaps = list(checkpoint.gaps)
        self._resumed_after_tick = checkpoint.resumed_after_tick
        self._t0 = checkpoint.t0
        self._rehearsal = checkpoint.rehearsal
        self._rollback_at = checkpoint.rollback_at
        self._ended = checkpoint.ended
        self._last_seq = checkpoint.last_seq
        self._last_event_ts = checkpoint.last_event_ts
        self._last_decision_seq = checkpoint.last_decision_seq
        self._answered = set(checkpoint.answered)

    def _window_spans(self) -> dict[str, timedelta]:
        """Per check a stop condition reads, how far before ``now`` its sparkline at ``now`` starts.

        The state at ``now`` reads every check's latest tick at or before
        ``now``, and of these checks also every tick after ``now - span`` and
        the last one at or before it: ``SessionLog.seek_ticks`` reads exactly that.
        """
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

    @property
    def last_event_ts(self) -> datetime | None:
        """The time of the last event folded (the log never runs backwards: the latest), else None."""
        return self._last_event_ts

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
        started = [
            (p.started_at, step_id) for step_id, p in self._steps.items() if p.started_at and p.started_at <= moment
        ]
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
        limit = self.ticks_kept if check_id in self._windowed else 1
        if kept and tick.ts < kept[-1].ts - _STEPPED_BACK:
            # Written after them, stamped before them: the writer's clock stepped back. The newest reading is this
            # one; those stamped later are from before the step, and no sparkline runs backwards: they go.
            cut = bisect_right(times, _ms(tick.ts))
            del kept[cut:], times[cut:]
            kept.append(tick)
            times.append(_ms(tick.ts))
        elif kept and tick.ts < kept[-1].ts:
            # Batches from several pollers can interleave by a few ms.
            ordered = sorted((*kept, tick), key=_tick_time)[-limit:]
            kept[:] = ordered
            times[:] = [_ms(t.ts) for t in ordered]
        else:
            kept.append(tick)
            times.append(_ms(tick.ts))
            if len(kept) > limit:
                del kept[: len(kept) - limit], times[: len(times) - limit]
        self._tick_versions[check_id] = self._tick_versions.get(check_id, 0) + 1
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
        tick_id = payload.get("last_tick_id")
        self._resumed_after_tick = tick_id if isinstance(tick_id, int) else None
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
            self._conditions[condition_id] = replace(
                condition, detail=f"resumed after a {_seconds(gap)} gap{frozen}{before}"
            )

    def _on_t0_set(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        if payload.get("t0"):
            self._t0 = parse_ts(payload["t0"])

    def _on_step_started(self, event: EventRecord, payload: Mapping[str, Any]) -> None:
        step_id = payload.get("step", "")
        step = self._steps.get(step_id)
        if step is not None:
            self._steps[step_id] = replace(
                step, status=StepStatus.ACTIVE, started_at=event.ts, ended_at=None, reason=""
            )

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
        cleared = condition.cleared
        if fired_seq is None and condition.fired_seq is not None:
            fired_at = condition.firing_since or changed_at
            # A clock stepped back dates the change at the log's last time and says how far behind it read:
            # on the clock that dated the firing, it cleared that much earlier.
            on_fired_clock = changed_at - timedelta(seconds=float(payload.get("clock_behind_by") or 0.0))
            cleared_at = on_fired_clock if on_fired_clock >= fired_at else changed_at
            cleared = ClearedFiring(fired_at, cleared_at, condition.fired_seq, condition.acknowledged)
        remaining = payload.get("remaining")
        self._conditions[condition_id] = _ConditionProgress(
            state=state,
            value=_number(payload.get("value")),
            value_ts=changed_at,
            value_tick=max((t for t in payload.get("ticks") or () if isinstance(t, int)), default=None),
            threshold=str(payload.get("threshold") or condition.threshold),
            # A change of cause or of the flapping flag alone (the writer says the state stayed) keeps the time in
            # state, as the evaluator does.
            since=condition.since if payload.get("previous") == state.value and condition.since else changed_at,
            # Older logs have only the full reason, hold included.
            detail=str(payload.get("detail") or payload.get("reason", "")),
            flapping=bool(payload.get("flapping")),
            acknowledged=False if state is ConditionState.OK else condition.acknowledged,
            breach_held=float(payload.get("breach_held") or 0.0),
            hold_from=changed_at,
            firing_since=firing_since,
            fired_seq=fired_seq,
            cleared=cleared,
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
