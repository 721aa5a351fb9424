"""Turning a check's readings into a stop condition's state.

``ConditionEvaluator`` follows ``docs/semantics.md``: Prometheus alerting
rules for ``for`` and ``keep_firing_for``, Argo Rollouts analysis for the
error limit, Nagios for flap detection over the last 21 polls. The rule it
never breaks: only a passing poll yields ``ok``; before the first reading the
state is ``unknown`` ("not yet polled").

How the breach hold is counted (``breach_held``):

- A breach poll vouches for the breach until the next observation, but for
  at most one poll's worth of time (``every + timeout``): a poll's result
  holds until the next poll is due and done, as an evaluation does in
  Prometheus, and never longer.
- On each breach poll the hold grows by the time since the previous breach
  poll (capped as above) when the observation in between was not blind.
- A blind observation (an error, no data, an invalid value, a stale sample,
  or a staleness tick) adds the capped time since the last breach poll and
  then freezes the hold: the blind interval counts neither way. The next
  breach poll starts counting again from its own time. So breach at t=0,
  error at t=30, breach at t=60 (``every`` 30s) holds 30s at t=60 and 60s at
  t=90: with ``for: 60s`` it fires at t=90, not at t=60.
- A pass resets the hold and the count of breach polls.

Firing needs both ``breach_held >= for`` and ``consecutive_breaches >=
min_consecutive``; blind polls freeze the count as they freeze the time.

Errors (``error_limit``, as Argo's ``consecutiveErrorLimit``): the check's own
reading shows ``error`` from the first failed poll; the condition shows
``unknown`` ("HTTP 503, error 1 of 4") until ``error_limit`` consecutive
errors, then ``error``. Both are blind: they freeze the hold and block GO.

A firing condition that goes blind shows the blind state but keeps
``firing_since`` and says "was firing, still counted as firing": blindness is not
recovery, and the verdict still counts it as firing. It resolves only after
``keep_firing_for`` of uninterrupted passes (``recovering`` in between; a
breach returns it to ``firing``, a blind observation restarts the count).

``since`` and ``firing_since`` are wall times, and move with the wall clock
when it steps (NTP, an operator's ``date``): now less ``since`` stays the
time the evaluator saw the state, not that time and the step.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from checks.baseline import (
    Baseline,
    BaselineSample,
    BaselineTracker,
    Comparison,
    JudgeUnavailable,
    compare_mann_whitney,
    compare_median,
)
from checks.clock import wall_at
from checks.reading import Outcome, Reading
from checks.status import ConditionState, ConditionStatus
from checks.wording import describe_state, format_value, whole_seconds
from runbooks.model import Check, StopCondition

if TYPE_CHECKING:
    from checks.clock import Clock

#: Seconds a hold may fall short of ``for`` and still fire: float noise in due instants, nothing more.
HOLD_SLACK = 0.001
#: Polls looked back on for flap detection (Nagios uses 21 checks).
FLAP_WINDOW = 21
#: State changes among the last ``FLAP_WINDOW`` polls above which a condition is flapping.
DEFAULT_FLAP_THRESHOLD = 6
#: The wall clock moved this much against the monotonic one: a step (NTP slews at most half a millisecond a second).
WALL_STEP_SECONDS = 2.0

_Seen = Literal["pass", "breach", "unknown", "error", "stale"]
_BLIND_OUTCOMES = frozenset({Outcome.NODATA, Outcome.INVALID})


class ConditionEvaluator:
    """The state of one stop condition, fed with its check's readings.

    Example::

        evaluator = ConditionEvaluator(condition, runbook.checks[condition.check], clock)
        status = evaluator.observe(reading)   # after each poll
        status = evaluator.tick()             # on a timer, to notice staleness

    Args:
        condition: the stop condition.
        check: the check it reads.
        clock: gives ``monotonic()`` for durations and ``now()`` (UTC) for ``since``.
        flap_threshold: state changes among the last 21 polls above which it is flapping.
        slack: seconds a hold (``for``, ``keep_firing_for``) may fall short and still count as met:
            ``HOLD_SLACK`` live; more where the due instants are rebuilt rather than known (``cutover_tui.whatif``).
    """

    def __init__(
        self,
        condition: StopCondition,
        check: Check,
        clock: Clock,
        *,
        flap_threshold: int = DEFAULT_FLAP_THRESHOLD,
        slack: float = HOLD_SLACK,
    ) -> None:
        self.condition = condition
        self.check = check
        self._clock = clock
        self._flap_threshold = flap_threshold
        self._slack = slack
        self._max_age = condition.max_age if condition.max_age is not None else check.max_age
        # A poll's result holds until the next poll is due and done, and no longer.
        self._vouch = check.every + check.timeout
        self._stale_after = 2 * check.every + check.timeout

        self._state = ConditionState.UNKNOWN
        self._since = clock.now()
        self._detail = "not yet polled"
        self._value: float | None = None
        self._held = 0.0
        self._consecutive_breaches = 0
        self._consecutive_errors = 0
        self._last_breach_at: float | None = None  # monotonic; None once blind or passing
        self._last_pass_due: float | None = None  # monotonic due instant of the latest passing poll
        self._firing_since: datetime | None = None
        self._passing_since: float | None = None  # monotonic start of passes while firing
        self._last_reading_at = clock.monotonic()  # creation counts as the start of waiting
        self._sample_age: float | None = None
        self._acknowledged = False
        self._changes: deque[bool] = deque(maxlen=FLAP_WINDOW)
        self._cause = "not_polled"
        self._observed_at = clock.now()
        # When the latest poll's answer came (its reading's time), or the latest staleness tick: a change's date.
        self._answered_at = self._observed_at
        self._wall_offset = self._offset_now()  # wall less monotonic seconds: a step moves it
        # Relative to the baseline: its readings, the recent window (Mann–Whitney), the latest judgement.
        relative = condition.relative is not None and condition.baseline is not None
        self._baseline = BaselineTracker(condition.baseline) if relative else None  # type: ignore[arg-type]
        self._recent: deque[tuple[float, float]] = deque()
        self._comparison: Comparison | None = None
        self._baseline_now: Baseline | None = None
        self._relative_cause: str | None = None

    # -- public -----------------------------------------------------------

    @property
    def status(self) -> ConditionStatus:
        """The current state as an immutable ``ConditionStatus``, its hold and countdown as of now."""
        now = self._clock.monotonic()
        held = self.held_at(now)
        remaining: float | None = None
        if self._state is ConditionState.PENDING:
            remaining = max(0.0, self.condition.for_ - held)
        elif self._state is ConditionState.RECOVERING and self._passing_since is not None:
            remaining = max(0.0, self.condition.keep_firing_for - (now - self._passing_since))
        return ConditionStatus(
            id=self.condition.id,
            state=self._state,
            value=self._value,
            threshold=self._threshold_text(),
            since=self._since,
            breach_held=held,
            consecutive_breaches=self._consecutive_breaches,
            consecutive_errors=self._consecutive_errors,
            flapping=sum(self._changes) > self._flap_threshold,
            acknowledged=self._acknowledged,
            reason=describe_state(
                self._state,
                self._detail,
                held=held,
                for_=self.condition.for_,
                remaining=remaining,
                keep_firing_for=self.condition.keep_firing_for,
                consecutive_breaches=self._consecutive_breaches,
                min_consecutive=self.condition.min_consecutive,
                firing_since=self._firing_since,
            ),
            detail=self._detail,
            firing_since=self._firing_since,
            cause=self._cause,
            for_=self.condition.for_,
            remaining=remaining,
            baseline=self._baseline_now,
            comparison=self._comparison,
            observed_at=self._answered_at,
        )

    @property
    def state(self) -> ConditionState:
        """The current state (``status`` builds the whole record)."""
        return self._state

    @property
    def baseline_tracker(self) -> BaselineTracker | None:
        """Where a condition relative to the baseline keeps its baseline readings (None for others)."""
        return self._baseline

    def set_t0(self, t0: datetime | None) -> None:
        """Place the baseline window (T0 set or moved); a condition without a baseline ignores it."""
        if self._baseline is not None:
            self._baseline.t0 = t0
            self._baseline_now = self._baseline.current(self._clock.now())

    def held_at(self, now: float) -> float:
        """Seconds of breach held at monotonic ``now``: what the last breach poll vouches for keeps counting."""
        if self._last_breach_at is None:
            return self._held
        return self._held + min(max(0.0, now - self._last_breach_at), self._vouch)

    def fresh_breach_window(self, reading: Reading, due: float) -> tuple[float, float] | None:
        """When ``reading`` starts a hold from ``ok``: the span its breach began in; else None.

        The span runs from the due instant of the passing poll before it to
        ``due`` (monotonic). A source that can say what it said in between
        (``checks.probes.PAST_KINDS``) lets the poller find when its own
        samples first showed the breach, and ``observe``'s ``began`` counts
        the hold from then. Not for a condition relative to the baseline.
        """
        if self._state is not ConditionState.OK or self._last_pass_due is None:
            return None
        return (self._last_pass_due, due) if self.breaches(reading) else None

    def breaches(self, reading: Reading) -> bool:
        """Whether this condition counts ``reading`` as a breach; changes nothing (never for one relative to the baseline)."""
        return self.condition.relative is None and self._classify(reading)[0] == "breach"

    def observe(self, reading: Reading, *, due: float | None = None, began: float | None = None) -> ConditionStatus:
        """Take one poll's reading into account and return the new status.

        Args:
            reading: the poll's reading.
            due: the monotonic time the poll was scheduled for. The hold counts
                from due times, as Prometheus counts ``for`` from evaluation
                times, so how long a poll took never delays firing. Default:
                now (a poll run by hand).
            began: for a breach that starts a hold from ``ok``, the monotonic
                instant within ``fresh_breach_window`` since which the source's
                own samples show it; the hold counts from then. Ignored otherwise.
        """
        self._follow_wall_steps()
        self._last_reading_at = self._clock.monotonic()
        now = self._last_reading_at if due is None else due
        # State changes are dated at the instant the poll was due, like the hold: a state that
        # began with a poll and one that fired `for` later are `for` apart, however long polls took.
        self._observed_at = wall_at(self._clock, now)
        self._answered_at = reading.observed_at
        self._sample_age = reading.sample_age
        if reading.value is not None and math.isfinite(reading.value):
            self._value = reading.value
        self._remember_relative(reading, now)
        self._relative_cause = None
        seen, detail = self._classify(reading)
        if self._relative_cause is not None and seen == "unknown":
            self._cause = self._relative_cause
        else:
            self._cause = (
                seen
                if seen != "unknown"
                else reading.outcome.value
                if reading.outcome in _BLIND_OUTCOMES
                else "invalid"
            )
        self._consecutive_errors = self._consecutive_errors + 1 if seen == "error" else 0
        before = self._state
        match seen:
            case "pass":
                self._on_pass(now, detail)
            case "breach":
                self._on_breach(now, detail, began)
            case "error":
                if self._consecutive_errors >= self.condition.error_limit:
                    self._go_blind(now, ConditionState.ERROR, detail)
                else:
                    counted = f"{detail}, error {self._consecutive_errors} of {self.condition.error_limit}"
                    self._go_blind(now, ConditionState.UNKNOWN, counted)
            case "stale":
                self._go_blind(now, ConditionState.STALE, detail)
            case _:
                self._go_blind(now, ConditionState.UNKNOWN, detail)
        self._changes.append(self._state != before)
        return self.status

    def tick(self) -> ConditionStatus:
        """Notice staleness between polls: no reading for ``2 × every + timeout``, or a sample past ``max_age``."""
        self.notice_staleness()
        return self.status

    def notice_staleness(self) -> bool:
        """``tick`` without building the status: whether the state or the cause changed (news for the log).

        A tick never changes ``flapping`` (counted over polls) nor ``acknowledged``
        (cleared on a return to ``ok``, which a tick never makes).
        """
        self._follow_wall_steps()
        before = (self._state, self._cause)
        now = self._clock.monotonic()
        self._observed_at = self._answered_at = self._clock.now()
        silent_for = now - self._last_reading_at
        if silent_for > self._stale_after:
            self._cause = "stale"
            self._go_blind(now, ConditionState.STALE, f"no reading for {whole_seconds(silent_for)}")
        elif self._sample_age is not None and self._max_age is not None:
            age = self._sample_age + silent_for
            if age > self._max_age:
                self._cause = "stale"
                self._go_blind(now, ConditionState.STALE, self._too_old(age))
        return (self._state, self._cause) != before

    def _offset_now(self) -> float:
        return self._clock.now().timestamp() - self._clock.monotonic()

    def _follow_wall_steps(self) -> None:
        """Move ``since`` and ``firing_since`` by the wall clock's step since the last look, if it stepped."""
        offset = self._offset_now()
        stepped = offset - self._wall_offset
        if abs(stepped) > WALL_STEP_SECONDS:
            self._wall_offset = offset
            step = timedelta(seconds=stepped)
            self._since += step
            if self._firing_since is not None:
                self._firing_since += step

    def acknowledge(self) -> ConditionStatus:
        """A person has seen this condition; the flag clears when it returns to ``ok``."""
        if self._state is not ConditionState.OK:
            self._acknowledged = True
        return self.status

    def restore(
        self,
        *,
        state: ConditionState,
        since: datetime,
        value: float | None = None,
        breach_held: float = 0.0,
        consecutive_breaches: int = 0,
        consecutive_errors: int = 0,
        firing_since: datetime | None = None,
        acknowledged: bool = False,
        detail: str = "",
    ) -> ConditionStatus:
        """Resume from the state recorded before a crash.

        The time the dashboard was down is blindness, not recovery: a pending
        condition resumes pending with its hold frozen across the gap, so the
        next breach continues the hold from its own time and the next pass
        resets it. A firing or recovering condition keeps ``firing_since``
        (a recovering one must see ``keep_firing_for`` of passes again). A
        restored ``ok`` becomes ``unknown`` until the first poll, because an
        old pass vouches for nothing now. Staleness counts from the restore.
        """
        now = self._clock.monotonic()
        self._value = value
        self._held = breach_held
        self._consecutive_breaches = consecutive_breaches
        self._consecutive_errors = consecutive_errors
        self._firing_since = firing_since
        self._last_breach_at = self._last_pass_due = None
        self._passing_since = None
        self._last_reading_at = now
        self._sample_age = None
        self._changes.clear()
        self._cause = "not_polled"
        if state is ConditionState.OK:
            self._state, self._since, self._detail = (
                ConditionState.UNKNOWN,
                self._clock.now(),
                "not yet polled since resume",
            )
            self._acknowledged = False
        else:
            self._state, self._since, self._detail = state, since, detail
            self._acknowledged = acknowledged
        return self.status

    # -- evaluation -------------------------------------------------------

    def _classify(self, reading: Reading) -> tuple[_Seen, str]:
        """What a reading says about this condition, and why in words.

        The probe has already applied the check's ``on_nodata`` / ``on_invalid``
        (a rewritten reading carries ``extra["raw_outcome"]``), so no data and
        invalid values reaching here mean "cannot tell".
        """
        outcome = reading.outcome
        detail = reading.detail
        lower_bound = (
            bool(reading.extra.get("lower_bound")) and reading.value is not None and math.isfinite(reading.value)
        )
        if outcome is Outcome.ERROR:
            return "error", detail or "source error"
        if outcome is Outcome.NODATA:
            return "unknown", detail or "no data"
        if outcome is Outcome.INVALID and not (lower_bound and self.condition.when is not None):
            # A lower bound the check's pass_when cannot judge may still decide this condition's `when`.
            return "unknown", detail or "invalid value"
        if self._max_age is not None and reading.sample_age is not None and reading.sample_age > self._max_age:
            return "stale", self._too_old(reading.sample_age)
        seen: _Seen = "breach" if outcome is Outcome.BREACH else "pass"
        reason = detail or outcome.value
        when = self.condition.when
        value = reading.value
        if self.condition.relative is not None:
            relative = self._classify_relative(reading, lower_bound)
            if relative is None:  # a failed check without a value: still a breach, as with `when`
                pass
            elif relative[0] == "unknown":
                return relative
            else:
                seen, reason = relative
        elif when is not None and value is not None and lower_bound:
            # A quantile above the histogram's top bucket: judged for every value above the bound.
            shown = f"≥ {format_value(value, when.unit)}"
            decided = when.holds_above(value)
            if decided is None:
                return "unknown", f"{shown}: cannot tell whether {when.text}"
            seen = "breach" if decided else "pass"
            reason = f"{shown} {when.text}" if decided else f"{shown}, not {when.text}"
        elif when is not None and value is not None:
            if not math.isfinite(value):
                return "unknown", format_value(value, "")
            seen = "breach" if when.holds(value) else "pass"
            shown = format_value(value, when.unit, near=when.value)
            reason = f"{shown} {when.text}" if seen == "breach" else f"{shown}, not {when.text}"
        elif when is not None and seen == "pass" and "raw_outcome" not in reading.extra:
            # The check passed but gave nothing to compare with `when`; a failed
            # check without a value (HTTP 503) still counts as a breach.
            return "unknown", detail or "no value to compare"
        if seen == "pass" and reading.degraded:
            # Partial data cannot vouch that all is well; it can still show a breach. It says why: the source's
            # first warning ("its inputs are no longer collected (...)", "remote store eu-1 unreachable").
            why = detail or next(iter(reading.extra.get("warnings") or ()), "")
            return "unknown", f"partial data{': ' + why if why else ''}"
        return seen, reason

    def _remember_relative(self, reading: Reading, now: float) -> None:
        """Keep the reading for the baseline (inside its window) and for the Mann–Whitney window."""
        if self._baseline is None:
            return
        self._baseline.add(BaselineSample(reading.observed_at, reading.outcome.value, reading.value))
        if self.condition.judge != "mann_whitney" or self.condition.window is None:
            return
        usable = reading.outcome in (Outcome.PASS, Outcome.BREACH) and reading.value is not None
        if usable and math.isfinite(reading.value) and not reading.extra.get("lower_bound"):  # type: ignore[arg-type]
            self._recent.append((now, float(reading.value)))  # type: ignore[arg-type]
        while self._recent and self._recent[0][0] < now - self.condition.window - HOLD_SLACK:
            self._recent.popleft()

    def _classify_relative(self, reading: Reading, lower_bound: bool) -> tuple[_Seen, str] | None:
        """A reading against the baseline; None when the check failed without a value (a breach as it is)."""
        condition = self.condition
        relative = condition.relative
        assert relative is not None and self._baseline is not None
        baseline = self._baseline.current(self._observed_at)
        self._baseline_now = baseline
        if baseline is None:
            self._relative_cause = "no_baseline"
            return "unknown", "baseline not established: T0 is not set"
        if not baseline.established:
            self._relative_cause = "no_baseline"
            return "unknown", baseline.not_established()
        value = reading.value
        if value is None or not math.isfinite(value):
            if reading.outcome is Outcome.BREACH:
                return None
            return "unknown", reading.detail or "no value to compare with the baseline"
        unit = self.check.unit
        if condition.judge == "mann_whitney":
            try:
                comparison = compare_mann_whitney(condition, value, [v for _, v in self._recent], baseline, unit)
            except JudgeUnavailable as error:
                self._relative_cause = "judge_unavailable"
                return "unknown", str(error)
        else:
            comparison = compare_median(relative, condition.floor, value, baseline, unit, lower_bound=lower_bound)
        self._comparison = comparison
        if comparison.breach is None:
            return "unknown", comparison.detail
        return ("breach" if comparison.breach else "pass"), comparison.detail

    def _on_pass(self, now: float, detail: str) -> None:
        self._last_pass_due = now
        self._held = 0.0
        self._consecutive_breaches = 0
        self._last_breach_at = None
        if self._firing_since is None:
            self._set(ConditionState.OK, detail)
            return
        if self._passing_since is None:
            self._passing_since = now
        passing_for = now - self._passing_since
        keep = self.condition.keep_firing_for
        if passing_for >= keep - self._slack:
            self._firing_since = None
            self._passing_since = None
            self._set(ConditionState.OK, detail)
        else:
            self._set(ConditionState.RECOVERING, detail)

    def _on_breach(self, now: float, detail: str, began: float | None = None) -> None:
        self._passing_since = None
        if self._last_breach_at is not None:
            self._held += min(now - self._last_breach_at, self._vouch)
        elif began is not None and self._state is ConditionState.OK and self._last_pass_due is not None:
            # The source's own samples show this breach from `began`, after the last pass: the hold
            # counts from then, and its changes are dated then (a hold already met, `for` after it).
            began = min(max(began, self._last_pass_due), now)
            self._held = now - began
            met = self._held >= self.condition.for_ - self._slack
            self._observed_at -= timedelta(seconds=now - (began + self.condition.for_ if met else began))
        self._last_breach_at = now
        self._consecutive_breaches += 1
        if self._firing_since is None and self._may_fire():
            self._firing_since = self._observed_at
        self._set(ConditionState.FIRING if self._firing_since is not None else ConditionState.PENDING, detail)

    def _may_fire(self) -> bool:
        # Due instants are exact multiples of `every` only up to float noise: a millisecond of slack (live).
        return (
            self._held >= self.condition.for_ - self._slack
            and self._consecutive_breaches >= self.condition.min_consecutive
        )

    def _go_blind(self, now: float, state: ConditionState, detail: str) -> None:
        """Freeze the hold (counting the last breach poll's vouched time) and show a blind state."""
        if self._last_breach_at is not None:
            self._held += min(now - self._last_breach_at, self._vouch)
            self._last_breach_at = None
        self._passing_since = None
        self._set(state, detail)

    def _set(self, state: ConditionState, detail: str) -> None:
        if state is not self._state:
            self._state = state
            self._since = self._observed_at
            if state is ConditionState.OK:
                self._acknowledged = False
        self._detail = detail

    def _threshold_text(self) -> str:
        return self.condition.threshold_text or "check breach"

    def _too_old(self, age: float) -> str:
        return f"sample {whole_seconds(age)} old (max {whole_seconds(self._max_age or 0)})"
