"""The dashboard's text formats and schedule arithmetic (pure functions, no app)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from app_backend import START, demo_runbook, session_in_progress
from checks.status import ConditionState, Verdict
from checks.wording import describe_state
from cutover_tui.labels import (
    display_zone,
    format_at,
    format_drift,
    format_duration,
    format_t_clock,
    format_value,
    format_wall_clock,
    format_wall_time,
)
from cutover_tui.reducer import reduce_events
from cutover_tui.state import ConditionView, StepStatus
from cutover_tui.widgets.condition_card import sparkline, time_label
from cutover_tui.widgets.dashboard_header import next_text
from runbooks.grammar import parse_threshold

T0 = datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(-872, "T-00:14:32"), (3730, "T+01:02:10"), (0, "T+00:00:00"), (-2 * 86400 - 5, "T-2d 00:00:05")],
)
def test_t_clock(offset: int, expected: str) -> None:
    """The T-clock counts down to T0 and up after it; days are spelled out."""
    assert format_t_clock(T0 + timedelta(seconds=offset), T0) == expected


def test_t_clock_without_t0() -> None:
    """Without T0 the clock says so."""
    assert format_t_clock(T0, None) == "T0 not set"


def test_wall_clock_carries_its_zone() -> None:
    """The wall clock is shown in the runbook's zone with its abbreviation."""
    assert format_wall_clock(T0, display_zone("Asia/Kolkata")) == "22:00:00 IST"
    assert format_wall_clock(T0, display_zone("UTC")) == "16:30:00 UTC"


def test_wall_time_names_the_day_when_not_today() -> None:
    """A planned time on another day carries its date; unknown is a dash."""
    zone = display_zone("UTC")
    assert format_wall_time(T0, zone, T0) == "16:30"
    assert format_wall_time(T0 - timedelta(days=7), zone, T0) == "11-24 16:30"
    assert format_wall_time(None, zone, T0) == "—"


def test_unknown_zone_falls_back_to_local() -> None:
    """A zone name the system does not know does not crash the clock."""
    assert display_zone("Mars/Olympus") is None


@pytest.mark.parametrize(
    ("offset", "rollback", "expected"),
    [
        (-900, False, "T-15m"),
        (0, False, "T-0"),
        (5400, False, "T+1h30m"),
        (0, True, "R+0"),
        (120, True, "R+2m"),
        (None, False, "—"),
    ],
)
def test_step_offsets(offset: float | None, rollback: bool, expected: str) -> None:
    """Step offsets read as the runbook writes them; rollback steps count from rollback start."""
    assert format_at(offset, rollback=rollback) == expected


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (0.018, "%", "1.8%"),
        (0.4123, "ms", "412ms"),
        (0.41, "s", "0.41s"),
        (None, "%", "—"),
        (float("nan"), "%", "NaN"),
        (3.0, "", "3"),
        (45.0, "req/s", "45 req/s"),
        (0.02203, "s", "0.022s"),
        (0.04123, "%", "4.1%"),
        (0.1086, "s", "0.11s"),
        (12.5, "", "13"),
        (0.9996, "%", "99.96%"),
        (0.0996, "s", "0.0996s"),
        (1234567.0, "", "1234567"),
        (0.0, "%", "0%"),
        (360.0, "m", "6m"),
    ],
)
def test_values_in_their_threshold_unit(value: float | None, unit: str, expected: str) -> None:
    """Two significant digits in the threshold's unit; never rounded up to a power of ten; no value is a dash, NaN is NaN."""
    assert format_value(value, unit) == expected


@pytest.mark.parametrize(
    ("value", "threshold", "expected"),
    [
        (0.01004, "> 1%", "1.004%"),
        (0.00996, "> 1%", "0.996%"),
        (0.01, "> 1%", "1%"),
        (0.0412, "> 1%", "4.1%"),
        (0.5004, "< 500ms", "500.4ms"),
        (0.4996, "< 500ms", "499.6ms"),
    ],
)
def test_a_value_beside_its_threshold_is_never_shown_on_the_wrong_side(
    value: float, threshold: str, expected: str
) -> None:
    """A value near its threshold keeps the digits that put it on its own side: never "1% > 1%"."""
    when = parse_threshold(threshold)
    assert format_value(value, when.unit, near=when.value) == expected


def test_drift_is_signed() -> None:
    """Drift is signed: late, early, unknown."""
    assert format_drift(252) == "+4m12s"
    assert format_drift(-30) == "-30s"
    assert format_drift(None) == ""


@pytest.mark.parametrize("late", [275.0, 275.6, 59.5, 3599.9])
def test_a_late_next_step_is_due_a_duration_ago_the_same_whole_seconds_as_its_drift(late: float) -> None:
    """The header said "due 04:35 ago" beside a clock reading 04:37:23: a duration that read as a time of day. It
    now says "due 4m35s ago", as the step's drift beside it says "+4m35s" (whole seconds elapsed, never rounded up
    on one side only)."""
    backend = session_in_progress()
    state = backend.state()
    planned = state.step(state.next_step).planned_start
    now = planned + timedelta(seconds=late)
    shown = next_text(state, backend.runbook, now, timezone.utc).plain
    assert f" due {format_duration(int(late))} ago " in shown, shown
    assert format_drift(late) == "+" + format_duration(int(late))
    assert ":" not in shown.split(" due ", 1)[1].split(" ago", 1)[0], shown
    early = next_text(state, backend.runbook, planned - timedelta(seconds=late), timezone.utc).plain
    assert f" in {format_duration(int(late))} (" in early, early  # whole seconds, as the T-clock beside it
    assert " due now (" in next_text(state, backend.runbook, planned - timedelta(seconds=0.5), timezone.utc).plain


@pytest.mark.parametrize("held", [26.0, 26.4, 26.6, 26.999])
def test_a_firing_cards_clock_and_its_reason_count_the_same_whole_seconds(held: float) -> None:
    """26.6 s held reads "for 26s" on the card's clock as in its reason (whole seconds elapsed), never 27s beside 26s."""
    reason = describe_state(ConditionState.FIRING, "4% > 1%", held=held, for_=10.0)
    view = ConditionView("auth_errors", ConditionState.FIRING, 0.04, "> 1%", None, reason=reason, breach_held=held)
    assert time_label(view) == "for 26s"
    assert reason.endswith("for 26s")


def test_sparkline_marks_gaps_and_breaches_and_draws_the_threshold_level() -> None:
    """Gaps are dots (never a low bar), breaching bars are red, the threshold's height follows ┊."""
    threshold = parse_threshold("> 1%")
    line = sparkline([0.0, 0.005, None, 0.02], threshold, 12)
    assert line.plain == "▁▃·█┊▅"
    red = [span for span in line.spans if span.style == "red"]
    assert [(s.start, s.end) for s in red] == [(3, 4)]


def test_sparkline_without_history_says_so() -> None:
    """No samples yet reads as such, not as a flat line."""
    assert sparkline([], parse_threshold("< 500ms"), 12).plain.startswith("no data yet")


def test_gate_check_too_old_is_stale_not_pass() -> None:
    """A passing reading older than a keyframe plus two polls and a timeout no longer vouches for a gate."""
    backend = session_in_progress()
    assert backend.state().checks["api_health"].status == "pass"
    assert backend.state().checks["auth_traffic"].status == "pass"
    backend.advance(10 * 60)
    later = backend.state()
    assert later.checks["api_health"].status == "stale"
    assert later.verdict is not Verdict.CONTINUE  # a stale gate of the current step cannot be verified


def test_never_polled_gate_check_is_not_pass() -> None:
    """A check never polled is its own status, never a pass."""
    runbook = demo_runbook()
    state = reduce_events(runbook, [])
    assert state.checks["api_health"].status == "never"


def test_next_step_and_projected_end_carry_drift_forward() -> None:
    """The next step is the first pending one; a late plan projects a late end, slack absorbs it."""
    backend = session_in_progress()
    state = backend.state()
    assert state.next_step == "production_verification"
    assert state.projection is not None and state.projection.drift_seconds == 0.0  # slack until T+10m absorbs the drift
    backend.advance(12 * 60)
    projection = backend.state().projection
    # verify runs on to T+14m; verification 2m and monitoring 5m follow: T+21m against a planned T+10m
    assert projection.drift_seconds == 11 * 60


def test_projection_counts_durations_from_now_without_t0() -> None:
    """Without T0 the projection still adds the remaining durations to now, with no planned end."""
    runbook = replace(demo_runbook(), t0=None)
    state = reduce_events(runbook, [], until=START)
    assert all(step.status is StepStatus.PENDING for step in state.steps)
    projection = state.projection
    total = sum(step.duration or 0 for step in runbook.steps)
    assert projection.end == START + timedelta(seconds=total) and projection.planned_end is None
