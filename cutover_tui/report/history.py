"""A stop condition's history in the report: its episodes, why it changed, and its chart."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from checks.status import ConditionState
from cutover_tui.labels import display_unit
from cutover_tui.report.model import Acknowledgement, Chart, ConditionReport, Episode, Gap, Moment
from cutover_tui.state import ConditionView, DecisionRecord
from cutover_tui.store import EventRecord, RetentionPolicy, SessionLog, TickRecord
from cutover_tui.why import Why, from_ticks
from runbooks.model import Runbook, StopCondition

_BREACHING = (ConditionState.PENDING, ConditionState.FIRING)
# Chart columns: each keeps the first, lowest, highest and last value of a
# run, so a 72-hour session draws the same envelope as every tick would.
_CHART_BUCKETS = 320


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A stop condition's state after the event ``seq``, as the reducer gives it."""

    seq: int
    ts: datetime
    state: ConditionState
    value: float | None
    reason: str
    firing_since: datetime | None


def remember(history: dict[str, list[Snapshot]], event: EventRecord, views: Mapping[str, ConditionView]) -> None:
    for condition_id, view in views.items():
        snapshots = history[condition_id]
        if not snapshots or (snapshots[-1].state, snapshots[-1].firing_since) != (view.state, view.firing_since):
            snapshots.append(Snapshot(event.seq, event.ts, view.state, view.value, view.detail, view.firing_since))


def condition_report(
    runbook: Runbook,
    condition: StopCondition,
    log: SessionLog,
    snapshots: list[Snapshot],
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


def whys(
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


def _episodes(snapshots: Sequence[Snapshot], decisions: Sequence[DecisionRecord]) -> tuple[Episode, ...]:
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
