"""The reducer as its users hold it: ``Reducer`` (the fold and ``state()``) and ``reduce_events``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from checks.status import ConditionState
from checks.verdict import counts_as_firing, is_active, judge
from cutover_tui.derive import (
    ShownCondition,
    at_risk_view,
    cleared_banner,
    firing_banner,
    log_banner,
    next_step,
    polling_banner,
    projected_end,
    runbook_banner,
    stopping_order,
    view_banner,
    writer_banner,
)
from cutover_tui.reducer.derivation import _STEPS_KEPT, _Core, _Derivation
from cutover_tui.reducer.fold import _NO_LIVE, Fold
from cutover_tui.reducer.helpers import (
    _alert_view,
)
from cutover_tui.reducer.records import ClearedFiring
from cutover_tui.reducer.views import TickReader, Views, _CheckStatuses, _Derived, _Headlines, _Standings
from cutover_tui.state import (
    AlertView,
    BannerView,
    CheckView,
    ConditionView,
    LiveTruth,
    Mode,
    SessionState,
    StepState,
    StepStatus,
)
from cutover_tui.store import EventRecord, TickRecord, format_ts
from runbooks.model import Runbook, Step, StopCondition


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


# As module names: an enum class's attribute is slower to look up, and a seek compares hundreds.
_OK = ConditionState.OK
_COUNTING_DOWN = frozenset({ConditionState.PENDING, ConditionState.RECOVERING})  # the verdict's countdowns


class Reducer(Fold):
    """The incremental fold. ``state()`` equals ``reduce_events`` over the same input.

    Example::

        reducer = Reducer(runbook)
        for event in log.events(): reducer.apply(event)
        for tick in log.latest_ticks(per_check=reducer.ticks_kept): reducer.apply_tick(tick)
        state = reducer.state(now=clock.now())
    """

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
        statuses = self._with_unanswered_out_of_force(derive, derive.statuses())
        waiting, cleared, soonest = self._waiting(statuses)
        # What the steps' gates, the alerts pane, the banners and the header's countdown read, in one query
        # (a replay reads the log).
        countdown = (self._check_of[soonest],) if soonest is not None and mode is not Mode.ROLLBACK else ()
        derive.read_latest((*index.read_first, *(self._check_of[cid] for cid in waiting), *countdown))
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
            cleared_firings={cid: fired.span for cid, fired in cleared.items()},
            unanswered=waiting,
        )
        headlines = _Headlines(derive)
        banners = self._banners(headlines, waiting, cleared, live, now)
        upcoming = next_step(steps, mode)
        return SessionState(
            runbook_name=self.runbook.name,
            mode=mode,
            t0=self._t0,
            steps=steps,
            conditions=conditions,
            standings=_Standings(derive),
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
                len(judgement.at_risk),
                lambda n: at_risk_view(judgement.at_risk[n], headlines[judgement.at_risk[n].condition]),
            ),
            blind=judgement.blind,
            banners=banners,
            next_step=upcoming.id if upcoming else None,
            projection=projected_end(steps, mode, self.runbook, now),
            log_problem=log_banner(live.log_problem, None, None).text if live.log_problem else None,
            writer_stopped_at=live.writer_stopped_at,
            writers_clock=live.writers_clock,
        )

    def _problem(self, live: LiveTruth, now: datetime | None) -> str | None:
        """Why nothing better than CANNOT VERIFY can be said: the log is not written, or the writer stopped."""
        if live.log_problem:
            return f"log not writing: {live.log_problem}"
        if live.view_behind_for is not None:
            return "this view is not reading the log"
        if live.writer_stopped_at is not None:
            return "the session ended" if self._ended else "the writer stopped"
        if live.polling_stopped_at is not None:
            return "polling stopped"
        if live.runbook_replaced_at is not None:
            return "the writer changed the runbook: this view judges the old one"
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
        gate = tuple((check_id, checks[check_id].status) for check_id in step.gate if check_id in checks)
        # The same record seen the same way gives the same step state: kept per runbook (a replay's
        # checkpoints share their records, so a seek makes only the steps that changed or run late).
        key = (status, planned_start, drift, rollback_plan, gate)
        known = self._index.steps.get((step.id, id(progress)))
        if known is not None and known[0] is progress and known[1] == key:
            return known[2]
        made = StepState(
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
            gate=gate,
        )
        if len(self._index.steps) >= _STEPS_KEPT:
            self._index.steps.clear()
        self._index.steps[step.id, id(progress)] = (progress, key, made)
        return made

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

    def _with_unanswered_out_of_force(self, derive: _Derivation, statuses: dict[str, _Core]) -> dict[str, _Core]:
        """``statuses`` and the halt and rollback conditions out of their ``active`` window whose firing began in
        force and awaits a decision (still firing, or cleared): a window that closes answers nothing."""
        extra: dict[str, _Core] = {}
        for condition in self._index.stopping:
            if condition.active is None or condition.id in statuses:
                continue
            progress = self._conditions[condition.id]
            if progress.fired_seq is not None:
                seq, fired_at = progress.fired_seq, progress.firing_since
            elif progress.cleared is not None:
                seq, fired_at = progress.cleared.seq, progress.cleared.fired_at
            else:
                continue
            if seq > self._last_decision_seq and fired_at is not None and is_active(condition, self._t0, fired_at):
                extra[condition.id] = derive.core(condition)
        return {**statuses, **extra} if extra else statuses

    def _waiting(self, statuses: Mapping[str, _Core]) -> tuple[list[str], dict[str, ClearedFiring], str | None]:
        """The halt and rollback conditions whose firing episode awaits a decision, in the banners' order.

        Those among them whose firing has ended, with the episode. And the pending or recovering one soonest
        to change, which ``judge`` puts first among the countdowns (outside rollback mode, where it judges
        fewer): the header reads it, so its check is read with the rest.
        """
        waiting: list[StopCondition] = []
        cleared: dict[str, ClearedFiring] = {}
        soonest: str | None = None
        soonest_key: tuple[bool, float] | None = None
        for condition in self._index.stopping:
            status = statuses.get(condition.id)
            if status is None:
                continue
            if status.state in _COUNTING_DOWN:
                key = (status.remaining is None, status.remaining or 0.0)
                if soonest_key is None or key < soonest_key:
                    soonest, soonest_key = condition.id, key
            if counts_as_firing(status):
                if not self._answered_episode(condition.id, status.firing_since):
                    waiting.append(condition)
            elif (ended := self._unanswered_cleared(condition.id, status)) is not None:
                waiting.append(condition)
                cleared[condition.id] = ended
        waiting.sort(key=lambda c: (stopping_order(c), self._episode_seq(c.id, cleared)))
        return [condition.id for condition in waiting], cleared, soonest

    def _episode_seq(self, condition_id: str, cleared: Mapping[str, ClearedFiring]) -> int:
        ended = cleared.get(condition_id)
        return ended.seq if ended is not None else self._conditions[condition_id].fired_seq or 0

    def _unanswered_cleared(self, condition_id: str, status: _Core) -> ClearedFiring | None:
        """The condition's firing episode that ended with no decision logged since it began, if any.

        One the log still calls firing is one the evaluators have seen end, and whose change is not written yet.
        """
        progress = self._conditions[condition_id]
        ended = progress.cleared
        if progress.fired_seq is not None:
            fired_at = progress.firing_since or progress.since or status.since
            cleared_at = status.since or progress.since
            if fired_at is not None and cleared_at is not None:
                ended = ClearedFiring(fired_at, cleared_at, progress.fired_seq, progress.acknowledged)
        if ended is None or ended.seq <= self._last_decision_seq:
            return None
        if self._answered and (condition_id, format_ts(ended.fired_at)) in self._answered:
            return None
        return ended

    def _banners(
        self,
        conditions: Mapping[str, ShownCondition],
        waiting: list[str],
        cleared: Mapping[str, ClearedFiring],
        live: LiveTruth,
        now: datetime | None,
    ) -> tuple[BannerView, ...]:
        """Every banner, most urgent first: a failing log, a stopped writer, then firings awaiting a decision."""
        banners: list[BannerView] = []
        if live.log_problem:
            banners.append(log_banner(live.log_problem, live.log_problem_since, now))
        if live.view_behind_for is not None and live.writer_stopped_at is not None:
            banners.append(view_banner(live.view_behind_for, live.writer_stopped_at))
        elif live.writer_stopped_at is not None:
            when = live.writer_stopped_at.strftime("%H:%M:%SZ")
            banners.append(
                writer_banner(
                    live.writer_stopped_at,
                    self._ended,
                    now,
                    when,
                    live.writer_holding,
                    live.writer_disk_full,
                    live.writer_silent_for,
                    live.writers_clock,
                )
            )
        if live.polling_stopped_at is not None:
            banners.append(polling_banner(live.polling_stopped_at, now))
        if live.runbook_replaced_at is not None:
            banners.append(runbook_banner(live.runbook_replaced_at))
        conditions_of = self._index.conditions
        banners.extend(
            cleared_banner(
                conditions_of[cid], conditions[cid], cleared[cid].span, cleared[cid].acknowledged, self.runbook, now
            )  # fmt: skip
            if cid in cleared
            else firing_banner(conditions_of[cid], conditions[cid], self.runbook, now)
            for cid in waiting
        )
        return tuple(banners)

    def _answered_episode(self, condition_id: str, firing_since: datetime | None) -> bool:
        """Whether a decision answered this firing episode (named in its snapshot, or logged after it began)."""
        if firing_since is not None and self._answered and (condition_id, format_ts(firing_since)) in self._answered:
            return True
        progress = self._conditions[condition_id]
        same_episode = (
            firing_since is None
            or progress.firing_since is None
            or progress.firing_since == firing_since
            or (format_ts(progress.firing_since) == format_ts(firing_since))
        )
        return same_episode and progress.fired_seq is not None and progress.fired_seq <= self._last_decision_seq
