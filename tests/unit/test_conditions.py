"""The stop-condition evaluator: docs/semantics.md, case by case, on a hand-moved clock."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.clock import ManualClock
from checks.conditions import ConditionEvaluator
from checks.reading import Outcome, Reading
from checks.status import ConditionState
from checks.verdict import counts_as_firing, is_active
from checks.wording import format_value
from runbooks.grammar import parse_threshold
from runbooks.model import ActiveWindow, Check, PromqlSpec, StopCondition

S = ConditionState
AUTH_ERROR_RATIO = PromqlSpec(
    query='sum(rate(http_requests_total{route="/auth",code=~"5.."}[5m]))', source="prometheus"
)


def make_check(**overrides) -> Check:
    settings_ = {"id": "auth_error_ratio", "kind": "promql", "spec": AUTH_ERROR_RATIO, "every": 30.0, "timeout": 5.0}
    settings_.update(overrides)
    return Check(**settings_)


def make_condition(when: str | None = "> 1%", **overrides) -> StopCondition:
    settings_ = {
        "id": "auth_errors",
        "check": "auth_error_ratio",
        "when": parse_threshold(when) if when else None,
    }
    settings_.update(overrides)
    return StopCondition(**settings_)


class Harness:
    """An evaluator, its clock, and readings made at the clock's time."""

    def __init__(self, condition: StopCondition | None = None, check: Check | None = None) -> None:
        self.clock = ManualClock()
        self.check = check or make_check()
        self.condition = condition or make_condition()
        self.evaluator = ConditionEvaluator(self.condition, self.check, self.clock)

    def reading(self, outcome: Outcome, value: float | None = None, **extra) -> Reading:
        return Reading(
            check_id=self.check.id,
            outcome=outcome,
            value=value,
            unit="",
            latency=0.05,
            observed_at=self.clock.now(),
            monotonic=self.clock.monotonic(),
            **extra,
        )

    def at(self, seconds: float, outcome: Outcome, value: float | None = None, **extra):
        """Move the clock to ``seconds`` after the start and observe one reading there."""
        self.clock.advance(seconds - self.elapsed)
        return self.evaluator.observe(self.reading(outcome, value, **extra))

    def tick_at(self, seconds: float):
        self.clock.advance(seconds - self.elapsed)
        return self.evaluator.tick()

    @property
    def elapsed(self) -> float:
        return self.clock.monotonic() - 1000.0


BREACH = (Outcome.BREACH, 0.018)
PASS = (Outcome.PASS, 0.004)
ERROR = (Outcome.ERROR, None)


def test_before_any_reading_the_state_is_unknown_not_yet_polled():
    """A condition never polled is unknown, never ok."""
    status = Harness().evaluator.status
    assert status.state is S.UNKNOWN
    assert status.reason == "not yet polled"


def test_first_breach_is_pending_and_fires_when_for_has_elapsed():
    """Pending on the first breach; firing once the breach has lasted `for`."""
    h = Harness(make_condition(for_=60.0))
    assert h.at(0, *BREACH).state is S.PENDING
    assert h.at(30, *BREACH).state is S.PENDING
    status = h.at(60, *BREACH)
    assert status.state is S.FIRING
    assert status.breach_held == 60.0
    assert status.firing_since == h.clock.now()


def test_for_zero_fires_on_the_first_breach():
    """With no `for`, one breach poll fires."""
    assert Harness().at(0, *BREACH).state is S.FIRING


def test_breach_error_breach_keeps_the_hold_frozen_over_the_blind_interval():
    """Case 8: an error freezes the hold; the 30s..60s blind interval counts neither way."""
    h = Harness(make_condition(for_=60.0))
    h.at(0, *BREACH)
    blind = h.at(30, *ERROR)
    assert blind.state is S.UNKNOWN
    assert blind.breach_held == 30.0
    resumed = h.at(60, *BREACH)
    assert resumed.state is S.PENDING
    assert resumed.breach_held == 30.0
    fired = h.at(90, *BREACH)
    assert fired.state is S.FIRING
    assert fired.breach_held == 60.0


def test_breach_pass_breach_resets_the_hold():
    """Case 8: a pass resets the hold; the next breach starts from zero."""
    h = Harness(make_condition(for_=60.0))
    h.at(0, *BREACH)
    assert h.at(30, *BREACH).breach_held == 30.0
    passed = h.at(60, *PASS)
    assert passed.state is S.OK
    assert passed.breach_held == 0.0
    assert h.at(90, *BREACH).breach_held == 0.0
    assert h.at(120, *BREACH).state is S.PENDING


def test_a_breach_poll_vouches_for_at_most_one_interval():
    """A breach followed by a long silence counts only every + timeout toward `for`."""
    h = Harness(make_condition(for_=120.0))
    h.at(0, *BREACH)
    stale = h.tick_at(100)
    assert stale.state is S.STALE
    assert stale.breach_held == 35.0
    assert h.at(110, *BREACH).breach_held == 35.0


def test_min_consecutive_needs_that_many_breach_polls_even_with_for_zero():
    """Firing needs at least min_consecutive breach polls."""
    h = Harness(make_condition(min_consecutive=3))
    assert h.at(0, *BREACH).state is S.PENDING
    second = h.at(30, *BREACH)
    assert second.state is S.PENDING
    assert "poll 2 of 3" in second.reason
    assert h.at(60, *BREACH).state is S.FIRING


def test_min_consecutive_is_frozen_not_reset_by_blind_polls():
    """An unknown poll between breaches neither resets nor counts toward min_consecutive."""
    h = Harness(make_condition(min_consecutive=3))
    h.at(0, *BREACH)
    h.at(30, Outcome.NODATA)
    assert h.at(60, *BREACH).consecutive_breaches == 2
    assert h.at(90, *BREACH).state is S.FIRING


def test_for_and_min_consecutive_must_both_hold():
    """`for` elapsed with too few polls stays pending."""
    h = Harness(make_condition(for_=10.0, min_consecutive=3))
    h.at(0, *BREACH)
    assert h.at(30, *BREACH).state is S.PENDING
    assert h.at(60, *BREACH).state is S.FIRING


def test_keep_firing_for_recovers_then_resolves_after_enough_passes():
    """A firing condition goes recovering on a pass and ok only after keep_firing_for of passes."""
    h = Harness(make_condition(keep_firing_for=60.0))
    h.at(0, *BREACH)
    assert h.at(30, *PASS).state is S.RECOVERING
    assert h.at(60, *PASS).state is S.RECOVERING
    resolved = h.at(90, *PASS)
    assert resolved.state is S.OK
    assert resolved.firing_since is None


def test_clearing_for_one_poll_under_keep_firing_for_stays_firing():
    """Case 9: one clear poll under keep_firing_for still counts as firing; a breach returns to firing."""
    h = Harness(make_condition(keep_firing_for=120.0))
    fired = h.at(0, *BREACH)
    cleared = h.at(30, *PASS)
    assert cleared.state is S.RECOVERING
    assert counts_as_firing(cleared)
    assert cleared.firing_since == fired.firing_since
    again = h.at(60, *BREACH)
    assert again.state is S.FIRING
    assert again.firing_since == fired.firing_since


def test_blind_poll_while_recovering_restarts_the_recovery():
    """Recovery needs uninterrupted passes: a blind poll restarts it."""
    h = Harness(make_condition(keep_firing_for=60.0))
    h.at(0, *BREACH)
    h.at(30, *PASS)
    h.at(60, *ERROR)
    assert h.at(90, *PASS).state is S.RECOVERING
    assert h.at(120, *PASS).state is S.RECOVERING
    assert h.at(150, *PASS).state is S.OK


def test_without_keep_firing_for_the_first_pass_resolves():
    """keep_firing_for 0: firing resolves on the first pass."""
    h = Harness()
    h.at(0, *BREACH)
    assert h.at(30, *PASS).state is S.OK


def test_errors_are_unknown_until_error_limit_then_error():
    """Below error_limit consecutive errors the condition is unknown; at the limit, error."""
    h = Harness(make_condition(error_limit=3))
    first = h.at(0, Outcome.ERROR, None, detail="HTTP 503")
    assert first.state is S.UNKNOWN
    assert first.reason == "HTTP 503, error 1 of 3"
    assert h.at(30, *ERROR).state is S.UNKNOWN
    third = h.at(60, Outcome.ERROR, None, detail="HTTP 503")
    assert third.state is S.ERROR
    assert third.consecutive_errors == 3
    assert third.reason == "HTTP 503"


def test_a_pass_resets_the_error_count():
    """Errors must be consecutive to reach error_limit."""
    h = Harness(make_condition(error_limit=2))
    h.at(0, *ERROR)
    assert h.at(30, *PASS).consecutive_errors == 0
    assert h.at(60, *ERROR).state is S.UNKNOWN


def test_firing_condition_that_goes_blind_keeps_counting_as_firing():
    """Blindness is not recovery: a firing condition shown blind still counts as firing."""
    h = Harness(make_condition(error_limit=1))
    fired = h.at(0, *BREACH)
    blind = h.at(30, Outcome.ERROR, None, detail="connection refused")
    assert blind.state is S.ERROR
    assert blind.firing_since == fired.firing_since
    assert blind.reason == "connection refused; was firing, still counted as firing"
    assert counts_as_firing(blind)
    stale = h.tick_at(200)
    assert stale.state is S.STALE
    assert counts_as_firing(stale)
    assert h.at(210, *BREACH).state is S.FIRING


def test_no_reading_for_two_intervals_plus_timeout_is_stale():
    """Stale when nothing arrived for 2 × every + timeout (65s here), not before."""
    h = Harness()
    h.at(0, *PASS)
    assert h.tick_at(65).state is S.OK
    stale = h.tick_at(66)
    assert stale.state is S.STALE
    assert stale.reason == "no reading for 1m6s"


def test_never_polled_becomes_stale_after_the_stale_interval():
    """A condition whose check never reports goes from unknown to stale."""
    h = Harness()
    assert h.tick_at(30).state is S.UNKNOWN
    assert h.tick_at(70).state is S.STALE


def test_sample_older_than_max_age_is_stale():
    """A reading whose sample is older than max_age is stale at once, and never ok."""
    h = Harness(make_condition(max_age=60.0))
    status = h.at(0, Outcome.PASS, 0.004, sample_age=90.0)
    assert status.state is S.STALE
    assert status.reason == "sample 1m30s old (max 1m)"


def test_a_sample_ages_between_polls():
    """tick() notices a sample that has grown older than the check's max_age."""
    h = Harness(check=make_check(max_age=40.0))
    assert h.at(0, Outcome.PASS, 0.004, sample_age=20.0).state is S.OK
    assert h.tick_at(19).state is S.OK
    assert h.tick_at(21).state is S.STALE


def test_wall_clock_jump_never_fires_early():
    """An NTP or sleep jump of the wall clock does not count toward `for`."""
    h = Harness(make_condition(for_=300.0))
    h.at(0, *BREACH)
    h.clock.jump_wall(3600)
    status = h.at(1, *BREACH)
    assert status.state is S.PENDING
    assert status.breach_held == 1.0
    h.clock.jump_wall(-7200)
    assert h.at(2, *BREACH).breach_held == 2.0


@pytest.mark.parametrize("step", [600.0, -3600.0])
def test_a_wall_clock_step_leaves_each_time_in_state_as_long_as_it_was(step):
    """NTP steps the wall clock: a condition ok for 30 s read "ok for 10m30s" (or 0s for the next hour). `since` and
    `firing_since` move with the step, so that now less each is the time the evaluator saw pass."""
    h = Harness(make_condition(for_=0.0))
    h.at(0, *PASS)
    ok = h.at(20, *PASS)
    h.clock.jump_wall(step)
    status = h.tick_at(30)
    assert status.state is S.OK
    assert (h.clock.now() - status.since).total_seconds() == pytest.approx(30.0)
    fired = h.at(40, *BREACH)
    assert fired.state is S.FIRING and fired.since == fired.firing_since == h.clock.now()
    h.clock.jump_wall(-step)  # set right again
    later = h.at(50, *BREACH)
    assert (h.clock.now() - later.since).total_seconds() == pytest.approx(10.0)
    assert later.firing_since == later.since
    assert ok.since == h.evaluator.status.since - timedelta(seconds=40)  # the ok began 40 s before the firing


def test_since_is_the_wall_time_the_state_began():
    """`since` changes on a state change only."""
    h = Harness(make_condition(for_=60.0))
    pending = h.at(0, *BREACH)
    assert h.at(30, *BREACH).since == pending.since
    fired = h.at(60, *BREACH)
    assert fired.since == pending.since + timedelta(seconds=60)


@pytest.mark.parametrize(
    ("when", "value", "state"),
    [
        ("> 1%", 0.01, S.OK),
        (">= 1%", 0.01, S.FIRING),
        ("> 0.01", 0.004, S.OK),
        ("> 0.01", 0.0101, S.FIRING),
        ("< 0.01", 0.004, S.FIRING),
        ("<= 500ms", 0.5, S.FIRING),
        ("< 500ms", 0.5, S.OK),
    ],
)
def test_threshold_boundaries_compare_as_floats(when, value, state):
    """Case 11: `>` versus `>=` at the boundary; 0.004 versus 0.01 stays a float."""
    assert Harness(make_condition(when)).at(0, Outcome.PASS, value).state is state


@pytest.mark.parametrize("when", ["< 1", "!= 0", "== 0"])
def test_missing_json_field_is_unknown_under_any_operator(when):
    """Case 12: a missing field (no data) under `<` or `!=` is unknown, never a pass."""
    status = Harness(make_condition(when)).at(0, Outcome.NODATA, None, detail="field status.ok missing")
    assert status.state is S.UNKNOWN
    assert status.reason == "field status.ok missing"


def test_no_data_the_check_declared_a_pass_is_a_pass():
    """A reading the probe rewrote under `on_nodata: pass` passes a `when` condition."""
    h = Harness()
    status = h.at(0, Outcome.PASS, None, detail="empty vector (on_nodata: pass)", extra={"raw_outcome": "nodata"})
    assert status.state is S.OK


def test_a_failed_check_without_a_value_is_a_breach_but_a_valueless_pass_is_unknown():
    """HTTP 503 (breach, no value) breaches a `when` condition; a pass with nothing to compare is unknown."""
    h = Harness(make_condition("> 500ms"), make_check(kind="http"))
    status = h.at(0, Outcome.PASS, None, detail="exit 0")
    assert (status.state, status.reason) == (S.UNKNOWN, "exit 0")
    assert h.at(30, Outcome.BREACH, None, detail="HTTP 503").state is S.FIRING


def test_nan_reading_is_unknown_with_reason_nan():
    """Case 2: a NaN sample is unknown and says so."""
    status = Harness().at(0, Outcome.INVALID, None, detail="NaN")
    assert (status.state, status.reason) == (S.UNKNOWN, "NaN")


def test_a_non_finite_value_in_a_passing_reading_is_not_compared():
    """+Inf reaching the comparison is treated as invalid, not as a breach or pass."""
    status = Harness(make_condition("< 1")).at(0, Outcome.PASS, math.inf)
    assert (status.state, status.reason) == (S.UNKNOWN, "+Inf")


def test_degraded_pass_is_unknown_but_degraded_breach_is_a_breach():
    """Partial data cannot vouch that all is well, but can still show a breach."""
    h = Harness()
    passing = h.at(0, Outcome.PASS, 0.004, degraded=True, detail="warnings: partial response")
    assert passing.state is S.UNKNOWN
    assert passing.reason.startswith("partial data")
    assert h.at(30, Outcome.PASS, 0.02, degraded=True).state is S.FIRING


def test_without_when_the_checks_own_outcome_counts():
    """A condition without `when` breaches when the check breaches."""
    h = Harness(make_condition(None), make_check(kind="http"))
    status = h.at(0, Outcome.BREACH, 0.9, detail="latency 900ms > 500ms")
    assert status.state is S.FIRING
    assert status.threshold == "check breach"
    assert h.at(30, Outcome.PASS, 0.1).state is S.OK


def test_reasons_read_like_a_person_wrote_them():
    """Reasons name the value in its unit, the threshold and for how long."""
    h = Harness(make_condition(for_=60.0))
    assert h.at(0, *BREACH).reason == "1.8% > 1% for 0s of 1m"
    assert h.at(30, *BREACH).reason == "1.8% > 1% for 30s of 1m"
    assert h.at(60, *BREACH).reason == "1.8% > 1% for 1m"
    assert h.at(72, *BREACH).reason == "1.8% > 1% for 1m12s"
    assert h.at(100, *PASS).reason == "0.4%, not > 1%"


def test_format_value_uses_the_thresholds_unit():
    """Values are shown as written: percent, milliseconds, NaN."""
    assert format_value(0.018, "%") == "1.8%"
    assert format_value(0.25, "ms") == "250ms"
    assert format_value(math.nan, "") == "NaN"
    assert format_value(None, "") == "no value"


def test_acknowledged_flag_clears_when_the_condition_returns_to_ok():
    """acknowledge() sets the flag while firing; it clears on ok; it is a no-op while ok."""
    h = Harness()
    h.at(0, *BREACH)
    assert h.evaluator.acknowledge().acknowledged
    assert h.at(30, *BREACH).acknowledged
    assert not h.at(60, *PASS).acknowledged
    assert not h.evaluator.acknowledge().acknowledged


def test_alternating_results_are_flapping():
    """Case 15: more than 6 state changes among the last 21 polls is flapping."""
    h = Harness()
    statuses = [h.at(30 * i, *(BREACH if i % 2 else PASS)) for i in range(7)]
    assert not statuses[5].flapping  # unknown -> ok, then 5 more: 6 changes, not more than 6
    assert statuses[6].flapping
    steady = [h.at(30 * i, *PASS) for i in range(7, 7 + 21)]
    assert steady[-1].state is S.OK
    assert not steady[-1].flapping


def test_flap_threshold_is_configurable():
    """A lower threshold flags flapping sooner."""
    h = Harness()
    h.evaluator = ConditionEvaluator(h.condition, h.check, h.clock, flap_threshold=2)
    statuses = [h.at(30 * i, *(BREACH if i % 2 else PASS)) for i in range(4)]
    assert statuses[3].flapping


def test_restore_pending_after_a_crash_keeps_the_hold_frozen_across_the_gap():
    """Case 14: pending before a crash resumes pending; the gap counts neither way."""
    h = Harness(make_condition(for_=60.0))
    h.at(0, *BREACH)
    before = h.at(30, *BREACH)
    h.clock.advance(3600)  # the dashboard was down for an hour
    h.evaluator = ConditionEvaluator(h.condition, h.check, h.clock)
    restored = h.evaluator.restore(
        state=before.state,
        since=before.since,
        value=before.value,
        breach_held=before.breach_held,
        consecutive_breaches=before.consecutive_breaches,
    )
    assert restored.state is S.PENDING
    assert restored.since == before.since
    assert restored.breach_held == 30.0
    first = h.at(3630, *BREACH)
    assert (first.state, first.breach_held) == (S.PENDING, 30.0)
    assert h.at(3660, *BREACH).state is S.FIRING


def test_restore_pending_then_pass_resets():
    """Case 14: after resume, the next pass resets the restored hold."""
    h = Harness(make_condition(for_=60.0))
    h.evaluator.restore(state=S.PENDING, since=h.clock.now(), breach_held=45.0, consecutive_breaches=2)
    passed = h.at(10, *PASS)
    assert (passed.state, passed.breach_held) == (S.OK, 0.0)


def test_restore_firing_keeps_firing_since_and_ok_becomes_unknown():
    """A restored firing condition still counts as firing; a restored ok is unknown until polled."""
    h = Harness()
    when = datetime(2025, 12, 31, 23, 0, tzinfo=timezone.utc)
    firing = h.evaluator.restore(state=S.FIRING, since=when, firing_since=when, acknowledged=True)
    assert counts_as_firing(firing) and firing.acknowledged
    other = Harness()
    restored_ok = other.evaluator.restore(state=S.OK, since=when)
    assert restored_ok.state is S.UNKNOWN
    assert restored_ok.reason == "not yet polled since resume"


# -- nothing but a pass ever yields ok ---------------------------------------

NOT_A_PASS = [
    ("breach", dict(outcome=Outcome.BREACH, value=0.02)),
    ("pass above threshold", dict(outcome=Outcome.PASS, value=0.02)),
    ("nodata", dict(outcome=Outcome.NODATA, value=None)),
    ("invalid", dict(outcome=Outcome.INVALID, value=None, detail="NaN")),
    ("error", dict(outcome=Outcome.ERROR, value=None, detail="HTTP 503")),
    ("degraded pass", dict(outcome=Outcome.PASS, value=0.004, degraded=True)),
    ("pass without value", dict(outcome=Outcome.PASS, value=None)),
    ("nodata declared a breach", dict(outcome=Outcome.BREACH, value=None, extra={"raw_outcome": "nodata"})),
    ("pass with NaN value", dict(outcome=Outcome.PASS, value=math.nan)),
    ("pass with old sample", dict(outcome=Outcome.PASS, value=0.004, sample_age=600.0)),
]

# How to reach each starting state from scratch, as (seconds, outcome, value) steps.
ROUTES = {
    S.UNKNOWN: [],
    S.OK: [(0, Outcome.PASS, 0.004)],
    S.PENDING: [(0, Outcome.BREACH, 0.02)],
    S.FIRING: [(t, Outcome.BREACH, 0.02) for t in (0, 30, 60)],
    S.RECOVERING: [(t, Outcome.BREACH, 0.02) for t in (0, 30, 60)] + [(90, Outcome.PASS, 0.004)],
    S.ERROR: [(t, Outcome.ERROR, None) for t in (0, 30, 60, 90)],
    S.STALE: [(0, Outcome.PASS, 0.004), (200, None, None)],
}


@pytest.mark.parametrize("start", list(ROUTES), ids=str)
@pytest.mark.parametrize(("name", "fields"), NOT_A_PASS, ids=[n for n, _ in NOT_A_PASS])
def test_nothing_but_a_pass_ever_yields_ok(start, name, fields):
    """From every state, every non-pass reading leaves the condition anything but ok."""
    h = Harness(make_condition(for_=60.0, keep_firing_for=300.0, max_age=120.0))
    for seconds, outcome, value in ROUTES[start]:
        if outcome is None:
            h.tick_at(seconds)
        else:
            h.at(seconds, outcome, value)
    assert h.evaluator.status.state is start
    h.clock.advance(30)
    status = h.evaluator.observe(replace(h.reading(Outcome.PASS), **fields))
    assert status.state is not S.OK


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([Outcome.PASS, Outcome.BREACH, Outcome.NODATA, Outcome.INVALID, Outcome.ERROR, "tick"]),
            st.sampled_from([None, 0.0, 0.004, 0.01, 0.02, math.nan, math.inf]),
            st.booleans(),
            st.floats(min_value=0, max_value=120),
        ),
        max_size=40,
    )
)
def test_ok_only_ever_follows_a_clean_pass(polls):
    """Property: whatever the history, the state is ok only right after a clean value below `when`.

    With `when` set the condition compares the value itself, so a check's own
    breach with a value under the threshold is a pass for the condition.
    """
    h = Harness(make_condition(for_=30.0, keep_firing_for=60.0, min_consecutive=2))
    for outcome, value, degraded, gap in polls:
        h.clock.advance(gap)
        before = h.evaluator.status.state
        if outcome == "tick":
            status = h.evaluator.tick()
            assert status.state is before or status.state is S.STALE
            continue
        status = h.evaluator.observe(h.reading(outcome, value, degraded=degraded))
        clean_pass = (
            outcome in (Outcome.PASS, Outcome.BREACH)
            and value is not None
            and math.isfinite(value)
            and value <= 0.01
            and not degraded
        )
        if not clean_pass:
            assert status.state is not S.OK
        assert status.breach_held >= 0


def test_is_active_places_the_window_around_t0():
    """`active: T+0..T+72h` is in force from T0 to T0+72h; without T0 it is watched."""
    condition = make_condition(active=ActiveWindow(start=0.0, end=72 * 3600.0))
    t0 = datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)
    assert not is_active(condition, t0, t0 - timedelta(minutes=1))
    assert is_active(condition, t0, t0)
    assert is_active(condition, t0, t0 + timedelta(hours=72))
    assert not is_active(condition, t0, t0 + timedelta(hours=73))
    assert is_active(condition, None, t0)
    assert is_active(make_condition(), t0, t0 - timedelta(days=7))
    open_end = make_condition(active=ActiveWindow(start=None, end=3600.0))
    assert is_active(open_end, t0, t0 - timedelta(days=7))


# -- a quantile above the histogram's top bucket (extra["lower_bound"]) ----------------------


@pytest.mark.parametrize(
    ("when", "state", "reason"),
    [
        ("> 1s", S.FIRING, "≥ 1s > 1s"),
        (">= 500ms", S.FIRING, "≥ 1000ms >= 500ms"),  # shown in the threshold's unit
        ("> 2s", S.UNKNOWN, "≥ 1s: cannot tell whether > 2s"),
        ("< 2s", S.UNKNOWN, "≥ 1s: cannot tell whether < 2s"),
        ("<= 1s", S.OK, "≥ 1s, not <= 1s"),
        ("< 500ms", S.OK, "≥ 1000ms, not < 500ms"),
    ],
)
def test_lower_bound_value_is_judged_for_every_value_above_it(when, state, reason):
    """A value in the +Inf bucket is a lower bound: > at or below it breaches, above it cannot be told."""
    h = Harness(make_condition(when))
    status = h.evaluator.observe(h.reading(Outcome.PASS, 1.0, extra={"lower_bound": True}))
    assert status.state is state
    assert status.reason.startswith(reason)


def test_top_bucket_value_without_the_flag_is_exact():
    """The same 1s without the lower-bound flag is an exact value: not > 1s."""
    h = Harness(make_condition("> 1s"))
    status = h.evaluator.observe(h.reading(Outcome.PASS, 1.0))
    assert (status.state, status.reason) == (S.OK, "1s, not > 1s")


def test_lower_bound_the_check_could_not_judge_still_decides_when():
    """An invalid reading (pass_when "< 2s" undecidable) still breaches `when: > 500ms` on its lower bound."""
    h = Harness(make_condition("> 500ms"))
    reading = h.reading(Outcome.INVALID, 1.0, detail="≥ 1s: cannot tell whether < 2s", extra={"lower_bound": True})
    assert h.evaluator.observe(reading).state is S.FIRING
    h = Harness(make_condition("> 2s"))
    assert h.evaluator.observe(reading).state is S.UNKNOWN
    h = Harness(make_condition(None))
    assert h.evaluator.observe(reading).state is S.UNKNOWN


@settings(max_examples=300, deadline=None)
@given(
    op=st.sampled_from([">", ">=", "<", "<=", "==", "!="]),
    threshold=st.floats(-10, 10, allow_nan=False),
    bound=st.floats(-10, 10, allow_nan=False),
    above=st.floats(1e-9, 1e6, allow_nan=False),
)
def test_holds_above_agrees_with_every_value_above_the_bound(op, threshold, bound, above):
    """Whenever holds_above decides, every value above the bound gives that answer."""
    condition = parse_threshold(f"{op} {threshold!r}")
    decided = condition.holds_above(bound)
    value = bound + above
    if decided is not None and value > bound:
        assert condition.holds(value) is decided
    if decided is None:
        # undecided: both answers occur above the bound
        middle = (bound + condition.value) / 2
        if bound < middle < condition.value:
            answers = {condition.holds(middle), condition.holds(condition.value), condition.holds(condition.value + 1)}
            assert answers == {True, False}


def test_a_hold_and_its_countdown_add_up_to_the_hold():
    """A hold shows the whole seconds elapsed; the countdown rounds what is left up: 1s held + 0:09 left of 10s."""
    from cutover_tui.derive import countdown_text

    h = Harness(make_condition(for_=10.0))
    h.at(0, *BREACH)
    status = h.at(1.6, *BREACH)
    assert status.reason == "1.8% > 1% for 1s of 10s"
    assert countdown_text(10.0 - 1.6) == "0:09"


def test_a_breach_the_source_dates_earlier_counts_from_then_and_never_before_the_last_pass():
    """`began` backdates a fresh hold and its `since` (clamped to the last passing poll); a hold already in progress ignores it."""
    h = Harness(make_condition(for_=60.0))
    h.at(0, *PASS)
    h.clock.advance(30)
    start = h.clock.monotonic()
    window = h.evaluator.fresh_breach_window(h.reading(*BREACH), start)
    assert window == (start - 30, start)
    pending = h.evaluator.observe(h.reading(*BREACH), due=start, began=start - 12)
    assert pending.state is S.PENDING
    assert pending.breach_held == pytest.approx(12)
    assert (h.clock.now() - pending.since).total_seconds() == pytest.approx(12)
    assert h.evaluator.fresh_breach_window(h.reading(*BREACH), start) is None  # a hold is running
    h.clock.advance(30)
    later = h.evaluator.observe(h.reading(*BREACH), due=h.clock.monotonic(), began=h.clock.monotonic() - 25)
    assert later.breach_held == pytest.approx(42)  # 12 + 30: `began` changes nothing once a hold runs

    clamped = Harness(make_condition(for_=60.0))
    clamped.at(0, *PASS)
    clamped.clock.advance(30)
    now = clamped.clock.monotonic()
    status = clamped.evaluator.observe(clamped.reading(*BREACH), due=now, began=now - 45)
    assert status.breach_held == pytest.approx(30)  # never before the poll that passed


def test_a_backdated_breach_that_already_held_for_fires_dated_when_the_hold_was_met():
    """for: 10s polled every 30 s, the breach dated 25 s back: firing at once, since 15 s ago (`for` after it began)."""
    h = Harness(make_condition(for_=10.0))
    h.at(0, *PASS)
    h.clock.advance(30)
    now = h.clock.monotonic()
    status = h.evaluator.observe(h.reading(*BREACH), due=now, began=now - 25)
    assert status.state is S.FIRING
    assert (h.clock.now() - status.firing_since).total_seconds() == pytest.approx(15)
