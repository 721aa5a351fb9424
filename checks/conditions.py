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
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
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
from checks.reading import Outcome, Reading
from checks.status import ConditionState, ConditionStatus
from runbooks.grammar import format_duration
from runbooks.model import Check, StopCondition

if TYPE_CHECKING:
    from checks.clock import Clock

#: Seconds a hold may fall short of ``for`` and still fire: float noise in due instants, nothing more.
HOLD_SLACK = 0.001
#: Polls looked back on for flap detection (Nagios uses 21 checks).
FLAP_WINDOW = 21
#: State changes among the last ``FLAP_WINDOW`` polls above which a condition is flapping.
DEFAULT_FLAP_THRESHOLD = 6

_Seen = Literal["pass", "breach", "unknown", "error", "stale"]
_BLIND_OUTCOMES = frozenset({Outcome.NODATA, Outcome.INVALID})


def is_active(condition: StopCondition, t0: datetime | None, now: datetime) -> bool:
    """Whether ``condition`` is in force at ``now``, given T0.

    Without an ``active`` window a condition is always in force. Without T0 the
    window cannot be placed, so the condition is watched: a forgotten T0 must
    not silently switch stop conditions off.
    """
    window = condition.active
    if window is None or t0 is None:
        return True
    offset = (now - t0).total_seconds()
    if window.start is not None and offset < window.start:
        return False
    return window.end is None or offset <= window.end


def _whole_seconds(seconds: float) -> str:
    """A duration for reasons, in whole seconds elapsed: ``72.9`` -> ``"1m12s"``.

    Whole seconds elapsed, as a clock counts them: beside a countdown that shows what is
    left rounded up (``fires in 0:09``), the two add up to the hold (``1s of 10s``).
    """
    return format_duration(int(max(seconds, 0.0)))


#: Display units, written as thresholds write them (``> 1%``, ``< 500ms``): how many of each a normalised value
#: (a fraction, seconds) holds. Any other unit is the check's own (``req/s``), after a space.
_DISPLAY_UNITS: dict[str, float] = {"%": 100.0, "ms": 1000.0, "s": 1.0, "m": 1 / 60, "h": 1 / 3600}
#: Significant digits a value is shown with, at least and at most.
MIN_DIGITS, MAX_DIGITS = 2, 6


def format_value(value: float | None, unit: str, *, near: float | None = None) -> str:
    """A normalised value shown in the unit it was written in, to two significant digits: ``0.04123, "%"`` -> ``"4.1%"``.

    The one formatting of a value for every screen, the log's reasons and the
    reports: ``0.02203, "s"`` -> ``"0.022s"``, ``0.25, "ms"`` -> ``"250ms"``,
    ``42.7, "req/s"`` -> ``"43 req/s"``. It keeps more digits where two would
    mislead:

    - never rounded up to a power of ten the value did not reach (``0.9996``
      as ``%`` is ``"99.96%"``, not ``"100%"``);
    - ``near``: a threshold (normalised as the value is) the value is compared
      with: digits are added until the shown value falls on the same side of it
      as the value does (``0.01004`` against 1% is ``"1.004%"``, never ``"1%"``).
    """
    if value is None:
        return "no value"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    factor = _DISPLAY_UNITS.get(unit, 1.0)
    space = "" if unit in _DISPLAY_UNITS or not unit else " "
    boundary = None if near is None or not math.isfinite(near) else near * factor
    return f"{_significant(value * factor, boundary)}{space}{unit}"


def _significant(value: float, boundary: float | None) -> str:
    """``value`` to the fewest significant digits (at least ``MIN_DIGITS``) that do not mislead; no exponent."""
    if value == 0:
        return "0"
    for digits in range(MIN_DIGITS, MAX_DIGITS + 1):
        magnitude = math.floor(math.log10(abs(value)))
        decimals = max(0, digits - 1 - magnitude)
        shown = float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))
        crossed_magnitude = shown != 0 and math.floor(math.log10(abs(shown))) > magnitude
        crossed_boundary = boundary is not None and _side(shown, boundary) != _side(value, boundary)
        if not crossed_magnitude and not crossed_boundary:
            break
    text = f"{shown:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _side(value: float, boundary: float) -> int:
    return (value > boundary) - (value < boundary)


def describe_state(
    state: ConditionState,
    detail: str,
    *,
    held: float,
    for_: float,
    remaining: float | None = None,
    keep_firing_for: float = 0.0,
    consecutive_breaches: int = 0,
    min_consecutive: int = 1,
    firing_since: datetime | None = None,
) -> str:
    """Why a condition is in its state, in words, with its hold as of now.

    ``detail`` is what the latest observation said ("1.8% > 1%", "HTTP 503,
    error 1 of 4"); the hold and countdowns are added here, so the screen,
    ``check`` and the report say the same thing with current numbers::

        pending     1.8% > 1% for 30s of 1m
        firing      1.8% > 1% for 1m12s
        recovering  0.4%, not > 1%; passing for 20s of 1m
        blind       HTTP 503; breach held 30s, frozen
    """
    match state:
        case ConditionState.PENDING:
            polls = f", poll {consecutive_breaches} of {min_consecutive}" if min_consecutive > 1 else ""
            return f"{detail} for {_whole_seconds(held)} of {_whole_seconds(for_)}{polls}"
        case ConditionState.FIRING:
            return f"{detail} for {_whole_seconds(held)}"
        case ConditionState.RECOVERING:
            passing = keep_firing_for - (remaining or 0.0)
            return f"{detail}; passing for {_whole_seconds(passing)} of {_whole_seconds(keep_firing_for)}"
        case ConditionState.UNKNOWN | ConditionState.STALE | ConditionState.ERROR:
            if firing_since is not None:
                return f"{detail}; was firing, still counted as firing"
            if held > 0 or consecutive_breaches:
                return f"{detail}; breach held {_whole_seconds(held)}, frozen"
    return detail


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
    """

    def __init__(
        self,
        condition: StopCondition,
        check: Check,
        clock: Clock,
        *,
        flap_threshold: int = DEFAULT_FLAP_THRESHOLD,
    ) -> None:
        self.condition = condition
        self.check = check
        self._clock = clock
        self._flap_threshold = flap_threshold
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
        self._firing_since: datetime | None = None
        self._passing_since: float | None = None  # monotonic start of passes while firing
        self._last_reading_at = clock.monotonic()  # creation counts as the start of waiting
        self._sample_age: float | None = None
        self._acknowledged = False
        self._changes: deque[bool] = deque(maxlen=FLAP_WINDOW)
        self._cause = "not_polled"
        self._observed_at = clock.now()
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
        )

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

    def observe(self, reading: Reading, *, due: float | None = None) -> ConditionStatus:
        """Take one poll's reading into account and return the new status.

        Args:
            reading: the poll's reading.
            due: the monotonic time the poll was scheduled for. The hold counts
                from due times, as Prometheus counts ``for`` from evaluation
                times, so how long a poll took never delays firing. Default:
                now (a poll run by hand).
        """
        self._last_reading_at = self._clock.monotonic()
        now = self._last_reading_at if due is None else due
        # State changes are dated at the instant the poll was due, like the hold: a state that
        # began with a poll and one that fired `for` later are `for` apart, however long polls took.
        self._observed_at = self._clock.now() - timedelta(seconds=max(0.0, self._last_reading_at - now))
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
                self._on_breach(now, detail)
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
        before = (self._state, self._cause)
        now = self._clock.monotonic()
        self._observed_at = self._clock.now()
        silent_for = now - self._last_reading_at
        if silent_for > self._stale_after:
            self._cause = "stale"
            self._go_blind(now, ConditionState.STALE, f"no reading for {_whole_seconds(silent_for)}")
        elif self._sample_age is not None and self._max_age is not None:
            age = self._sample_age + silent_for
            if age > self._max_age:
                self._cause = "stale"
                self._go_blind(now, ConditionState.STALE, self._too_old(age))
        return (self._state, self._cause) != before

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
        self._last_breach_at = None
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
            # Partial data cannot vouch that all is well; it can still show a breach.
            return "unknown", f"partial data{': ' + detail if detail else ''}"
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
        if passing_for >= keep - HOLD_SLACK:
            self._firing_since = None
            self._passing_since = None
            self._set(ConditionState.OK, detail)
        else:
            self._set(ConditionState.RECOVERING, detail)

    def _on_breach(self, now: float, detail: str) -> None:
        self._passing_since = None
        if self._last_breach_at is not None:
            self._held += min(now - self._last_breach_at, self._vouch)
        self._last_breach_at = now
        self._consecutive_breaches += 1
        if self._firing_since is None and self._may_fire():
            self._firing_since = self._observed_at
        self._set(ConditionState.FIRING if self._firing_since is not None else ConditionState.PENDING, detail)

    def _may_fire(self) -> bool:
        # Due instants are exact multiples of `every` only up to float noise: a millisecond of slack.
        return (
            self._held >= self.condition.for_ - HOLD_SLACK
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
        return f"sample {_whole_seconds(age)} old (max {_whole_seconds(self._max_age or 0)})"
