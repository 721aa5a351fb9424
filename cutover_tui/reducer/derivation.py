"""Deriving a ``SessionState`` at one instant: condition and check views, gates, the verdict, banners, sparklines."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from checks.status import BLIND_STATES, ConditionState
from checks.verdict import NEVER, STALE, check_status, is_active
from checks.wording import describe_state
from cutover_tui.derive import (
    blind_value_text,
    current_detail,
    value_text,
    writer_gone_at,
)
from cutover_tui.labels import display_zone
from cutover_tui.reducer.helpers import _held, _ms, _remaining, _sample, _seconds, _tick_time
from cutover_tui.reducer.records import _KEYFRAME_SECONDS, _TIMED_STATES, _ConditionProgress
from cutover_tui.reducer.views import TickReader, _History
from cutover_tui.state import (
    CheckView,
    ConditionView,
    LiveTruth,
)
from cutover_tui.store import TickRecord
from runbooks.model import Action, Runbook, StopCondition

if TYPE_CHECKING:
    from cutover_tui.reducer.session import Reducer

#: A latest reading stamped this far ahead of the reader's clock vouches for nothing: the writer's clock stepped
#: back since (two hosts' clocks may differ by less).
_AHEAD = timedelta(seconds=60)


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
    steps: dict[tuple[str, int], tuple[Any, tuple[Any, ...], Any]]  # per step's record: how it was seen, its StepState


_INDEXES: dict[int, tuple[Runbook, _RunbookIndex]] = {}
# The states a seek compares hundreds of times, as module names (an enum class's attribute is slower to look up).
_PENDING, _RECOVERING = ConditionState.PENDING, ConditionState.RECOVERING
_HOLDING = frozenset({ConditionState.PENDING, ConditionState.FIRING})  # a breach hold grows with the clock
#: Steps' records whose state a runbook's index keeps (a replay's checkpoints share them).
_STEPS_KEPT = 10_000


def _index(runbook: Runbook) -> _RunbookIndex:
    known = _INDEXES.get(id(runbook))
    if known is not None and known[0] is runbook:
        return known[1]
    alert_checks = tuple(check.id for check in runbook.checks.values() if check.kind == "alerts")
    gates = (
        check_id for step in (*runbook.steps, *runbook.rollback) for check_id in step.gate if check_id in runbook.checks
    )
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
        steps={},
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
        self.state, self.since, self.firing_since, self.held, self.remaining = (
            state,
            since,
            firing_since,
            held,
            remaining,
        )
        self.detail, self.consecutive, self.acknowledged, self.flapping = detail, consecutive, acknowledged, flapping
        self.active, self.value, self.lower_bound, self.live = active, value, lower_bound, live


class _Headline:
    """A condition's ``ConditionView`` but for its sparkline and reason: what a banner and a countdown read of it."""

    __slots__ = ("id", "state", "value", "threshold", "since", "flapping", "acknowledged", "breach_held",
                 "firing_since", "active", "for_", "remaining", "in_state_for", "value_text", "detail")  # fmt: skip

    def __init__(self, id: str, state: ConditionState, value: float | None, threshold: str, since: datetime | None,
                 flapping: bool, acknowledged: bool, breach_held: float, firing_since: datetime | None, active: bool,
                 for_: float, remaining: float | None, in_state_for: float | None, value_text: str,
                 detail: str) -> None:  # fmt: skip
        self.id, self.state, self.value, self.threshold, self.since = id, state, value, threshold, since
        self.flapping, self.acknowledged, self.breach_held = flapping, acknowledged, breach_held
        self.firing_since, self.active, self.for_, self.remaining = firing_since, active, for_, remaining
        self.in_state_for, self.value_text, self.detail = in_state_for, value_text, detail


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
        self.resumed_at = reducer._gaps[-1][1] if reducer._gaps else None
        self.resumed_after_tick = reducer._resumed_after_tick
        self.zone = display_zone(self.runbook.timezone)
        self.progress = dict(reducer._conditions)
        self.ticks = dict(reducer._ticks)
        self.times = dict(reducer._tick_ms)
        self.versions = dict(reducer._tick_versions)
        self.cache = reducer._history_cache
        self.spans = reducer._window_spans() if read is not None else {}
        self.read = read
        # Reading and storing the ticks a view needs: a view may be read from another thread.
        self.lock = threading.Lock()
        self.depth: dict[str, int] = {}  # with ``read``: per check, 1 = its latest tick read, 2 = its window too
        self.cores: dict[str, _Core] = {}
        self.headlines: dict[str, _Headline] = {}

    # ------------------------------------------------------------ reading ticks

    def read_latest(self, check_ids: Iterable[str]) -> None:
        """Read, in one query, the latest tick of each of these checks not read yet."""
        if self.read is not None:
            with self.lock:
                self._read([c for c in dict.fromkeys(check_ids) if c not in self.depth], ())

    def read_windows(self, condition_ids: Iterable[str]) -> None:
        """Read, in one query, what the views of these conditions need: their checks' sparkline windows."""
        if self.read is not None:
            checks = dict.fromkeys(self.index.check_of[c] for c in condition_ids)
            with self.lock:
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
            kept = read.get(tick.check_id)
            if kept is None:
                read[tick.check_id] = [tick]
            else:
                kept.append(tick)
        limit = self.limit
        for check_id, kept in read.items():
            if (
                len(kept) > 1
            ):  # a window: in time order (a stable sort, as ``apply_tick`` keeps them), its last ``limit``
                kept.sort(key=_tick_time)
                del kept[:-limit]
            self.ticks[check_id] = kept
            self.times.pop(check_id, None)  # not the fold's: sampled from these (``_ticks_of``)
            self.versions.pop(check_id, None)  # not the fold's: no sparkline cache
        self.depth.update(dict.fromkeys(latest, 1))
        self.depth.update(dict.fromkeys(windows, 2))

    def _ticks_of(self, check_id: str, *, window: bool) -> tuple[list[TickRecord] | None, list[int] | None]:
        """The check's ticks and their times, read first when needed, both from one moment under the lock."""
        if self.read is None:
            return self.ticks.get(check_id), self.times.get(check_id)
        with self.lock:
            if self.depth.get(check_id, 0) < (2 if window else 1):
                if window:
                    self._read((), (check_id,))
                else:
                    self._read((check_id,), ())
            ticks, times = self.ticks.get(check_id), self.times.get(check_id)
            if ticks and times is None:
                times = self.times[check_id] = [_ms(t.ts) for t in ticks]
            return ticks, times

    def latest(self, check_id: str) -> TickRecord | None:
        """The check's newest tick at ``now`` (read when needed)."""
        if self.read is None or check_id in self.depth:
            # Read already: a window read later ends with the same tick.
            ticks = self.ticks.get(check_id)
        else:
            ticks, _ = self._ticks_of(check_id, window=False)
        return ticks[-1] if ticks else None

    # ------------------------------------------------------------ checks

    def check_view(self, check_id: str) -> CheckView:
        check = self.runbook.checks[check_id]
        now, live = self.now, self.live
        reading = live.readings.get(check_id)
        if reading is not None:
            latest, age = reading
            status = check_status(
                check, latest.outcome.value, age, degraded=latest.degraded, sample_age=latest.sample_age
            )
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
        if self.resumed_at is not None and self._before_resume(tick):
            # As a condition's ok (``_on_session_resumed``): a reading from before the gap vouches for nothing now.
            return CheckView(check_id, None, None, check.unit, "not yet polled since resume", None)
        if now is not None and tick.ts - now > _AHEAD:
            # Stamped before the writer's clock stepped back: newer readings may say otherwise, stamped earlier.
            ahead = _seconds((tick.ts - now).total_seconds())
            return CheckView(
                check_id,
                None,
                None,
                check.unit,
                f"last reading stamped {ahead} ahead of the clock (it stepped back?)",
                None,
            )
        age = max(0.0, (now - tick.ts).total_seconds()) if now is not None else 0.0
        # Ticks are stored on change and as keyframes: the newest may be a keyframe old and still current.
        # The sample's age is known as of its tick: a later poll of the same value, not stored, may have read a
        # fresher sample. So ``max_age`` is judged on the age stored, not on it grown since (``check_status`` adds ``age``).
        stored_age = tick.extra.get("sample_age")
        status = check_status(
            check, tick.outcome, age, slack=_KEYFRAME_SECONDS, degraded=tick.degraded,
            sample_age=None if stored_age is None else stored_age - age,
        )  # fmt: skip
        if live.writer_stopped_at is not None and status not in (STALE, NEVER):
            status = STALE
        return CheckView(  # id, outcome, value, unit, detail, observed_at, degraded, status, age, lower_bound
            check_id, tick.outcome, tick.value, tick.unit or check.unit, tick.detail, tick.ts, tick.degraded, status,
            age, bool(tick.extra.get("lower_bound")),
        )  # fmt: skip

    # ------------------------------------------------------------ conditions

    def _before_resume(self, tick: TickRecord) -> bool:
        """Whether ``tick`` was read before the latest resume: by log order where the resume names its last
        reading, else (older logs) by time."""
        after = self.resumed_after_tick
        if after is not None and tick.id is not None:
            return tick.id <= after
        return self.resumed_at is not None and tick.ts < self.resumed_at

    def statuses(self) -> dict[str, _Core]:
        """Every condition in force, as the verdict reads it (``checks.verdict.Judged``): no numbers' text."""
        if self.from_log:
            return self._logged_statuses()
        core = self.core
        return {condition.id: made for condition in self.runbook.stop_conditions if (made := core(condition)).active}

    def _logged_statuses(self) -> dict[str, _Core]:
        """``statuses`` as the log alone tells them: ``_logged_core`` of each condition, in one pass."""
        cores, known, progress_of, t0 = self.cores, self.index.cores, self.progress, self.t0
        logged_core = self._logged_core
        statuses: dict[str, _Core] = {}
        for condition in self.runbook.stop_conditions:
            condition_id = condition.id
            made = cores.get(condition_id)
            if made is None:
                progress = progress_of[condition_id]
                cached = known.get(condition_id)
                if (
                    cached is not None
                    and cached[0] is progress
                    and progress.state not in _TIMED_STATES
                    and (condition.active is None or t0 is None)
                ):
                    made = cached[1]  # what _logged_core gives for a record whose state holds no clock
                else:
                    made = logged_core(condition, progress)
                cores[condition_id] = made
            if made.active:
                statuses[condition_id] = made
        return statuses

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
            if status is None and now is not None and now > live.writer_stopped_at:
                held = _held(progress, live.writer_stopped_at)  # no breach is known past the writer's last sign
            state, remaining = ConditionState.STALE, None
            since = writer_gone_at(live.writer_stopped_at, now, live.writer_silent_for)  # in state since, here
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
        state = progress.state
        timeless = state not in _TIMED_STATES and (condition.active is None or self.t0 is None)
        if timeless:
            cached = self.index.cores.get(condition.id)
            if cached is not None and cached[0] is progress:
                return cached[1]
        # _held and _remaining, inline: a seek derives hundreds of these.
        held = progress.breach_held
        remaining: float | None = None
        if state in _HOLDING:
            if now and progress.hold_from:
                held += max(0.0, (now - progress.hold_from).total_seconds())
            if state is _PENDING:
                remaining = max(0.0, condition.for_ - held)
        elif state is _RECOVERING:
            remaining = _remaining(condition, progress, held, now)
        made = _Core(
            state, progress.since, progress.firing_since, held, remaining,
            progress.detail, progress.consecutive_breaches, progress.acknowledged, progress.flapping,
            now is None or condition.active is None or is_active(condition, self.t0, now), None, False, False,
        )  # fmt: skip
        if timeless:
            self.index.cores[condition.id] = (progress, made)
        return made

    def headline(self, condition_id: str) -> _Headline:
        """What the banners and countdowns read of a condition: its view but for its sparkline and reason."""
        made = self.headlines.get(condition_id)
        if made is not None:
            return made
        condition = self.index.conditions[condition_id]
        core = self.cores.get(condition_id) or self.core(condition)
        progress = self.progress[condition_id]
        value, lower_bound, read_at = core.value, core.lower_bound, None
        blind = core.state in BLIND_STATES
        if not core.live:
            value, read_at = progress.value, progress.value_ts
            tick = self.latest(self.index.check_of[condition_id])
            if tick is not None and (blind or _read_since(tick, progress)):
                value, read_at = tick.value, tick.ts
                lower_bound = bool(tick.extra.get("lower_bound"))
        elif blind and (reading := self.live.readings.get(self.index.check_of[condition_id])) is not None:
            value, read_at = reading[0].value, reading[0].observed_at  # the newest reading: an error has no value
            lower_bound = bool(reading[0].extra.get("lower_bound"))
        shown = value_text(condition, self.runbook, value, lower_bound=lower_bound)
        if blind and value is not None:
            shown = blind_value_text(shown, read_at, self.zone)
        now, since = self.now, core.since
        made = self.headlines[condition_id] = _Headline(
            condition_id, core.state, value, progress.threshold, since, core.flapping, core.acknowledged, core.held,
            core.firing_since, core.active, condition.for_, core.remaining,
            _elapsed(now, since),
            shown, current_detail(condition, core.state, shown, value, core.detail),
        )  # fmt: skip
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
        return ConditionView(  # in the order of its fields (positional: a seek makes a hundred)
            h.id, h.state, h.value, h.threshold, h.since, reason, h.flapping, h.acknowledged, h.breach_held,
            _History(self, check_id) if self.now is not None else (), h.firing_since, h.active, h.for_, h.remaining,
            h.in_state_for, h.value_text, h.detail,
        )  # fmt: skip

    def sparkline(self, check_id: str) -> tuple[float | None, ...]:
        """The sparkline of a condition's check (its window read when needed)."""
        ticks, times = self._ticks_of(check_id, window=True)
        return self._history(check_id, ticks, times) if ticks and times else ()

    def _history(self, check_id: str, ticks: list[TickRecord], times: list[int]) -> tuple[float | None, ...]:
        """The sparkline: the check's value at each multiple of ``every`` before ``now`` (the last ``history - 1``), then at ``now``.

        The instants are multiples of the check's interval since the epoch, so
        the points do not shift with the instant asked for: between two
        multiples only the last point (the value now) can change, and only
        when a tick arrives or the newest one grows stale. The earlier points
        are kept per check until a tick arrives or the next multiple passes.
        """
        assert self.now is not None
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


def _read_since(tick: TickRecord, progress: _ConditionProgress) -> bool:
    """Whether ``tick`` was read after (or is) the reading the condition's last change logged: by log order where
    both name their reading, else by time (a clock that stepped back puts newer readings at earlier times)."""
    if progress.value_ts is None:
        return True
    if tick.id is not None and progress.value_tick is not None:
        return tick.id >= progress.value_tick
    return tick.ts >= progress.value_ts


def _elapsed(now: datetime | None, since: datetime | None) -> float | None:
    """Seconds from ``since`` to ``now``; None when ``now`` is earlier (the wall clock stepped back): not "0s"."""
    if now is None or since is None or now < since:
        return None
    return (now - since).total_seconds()
