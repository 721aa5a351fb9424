"""The small languages inside a runbook: durations, T-offsets, thresholds, ${ENV}."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runbooks import (
    expand_env,
    format_duration,
    format_offset,
    parse_duration,
    parse_offset,
    parse_threshold,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("2d", 172800.0),
        ("1m30s", 90.0),
        ("1.5s", 1.5),
        ("1d2h3m4s5ms", 93784.005),
        ("0s", 0.0),
        ("90", 90.0),
        (" 30s ", 30.0),
        (90, 90.0),
        (1.5, 1.5),
        (0, 0.0),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    """Durations with units, and bare numbers as seconds, become float seconds."""
    assert parse_duration(text) == pytest.approx(seconds, abs=1e-9)
    assert isinstance(parse_duration(text), float)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-5s",
        -1,
        "-5",
        "abc",
        "5x",
        "30m1h",
        "1h1h",
        "5 m",
        "m",
        "1.s",
        "ms",
        True,
        None,
        [1],
        float("inf"),
        float("nan"),
        "1e3s",
    ],
)
def test_parse_duration_rejects(text: object) -> None:
    """Negative, empty, out-of-order, non-finite and garbage durations are errors."""
    with pytest.raises(ValueError):
        parse_duration(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("T-7d", -604800.0),
        ("T-24h", -86400.0),
        ("T-00:15", -900.0),
        ("T+01:30", 5400.0),
        ("T-00:00:30", -30.0),
        ("T+30m", 1800.0),
        ("T+1h30m", 5400.0),
        ("T-0", 0.0),
        ("T+0", 0.0),
        ("T0", 0.0),
        ("T+72h", 259200.0),
        ("T-90s", -90.0),
    ],
)
def test_parse_offset(text: str, seconds: float) -> None:
    """T-offsets are seconds from T0, negative before it."""
    assert parse_offset(text) == seconds


@pytest.mark.parametrize("text", ["", "T", "T-", "T+x", "T30m", "-30m", "24h", "T-00:75", "T - 5m", "t-5m", "T-5", 5])
def test_parse_offset_rejects(text: object) -> None:
    """An offset needs T, a sign (except T0) and a duration or hh:mm."""
    with pytest.raises(ValueError, match="T-offset"):
        parse_offset(text)  # type: ignore[arg-type]


def test_parse_offset_t0_is_not_negative_zero() -> None:
    """T-00:00 is T0, not -0.0 (which would display as before T0)."""
    assert str(parse_offset("T-00:00")) == "0.0"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-86400.0, "T-24h"),
        (5400.0, "T+1h30m"),
        (0.0, "T-0"),
        (-0.0, "T-0"),
        (-604800.0, "T-7d"),
        (259200.0, "T+72h"),
        (-900.0, "T-15m"),
        (1.5, "T+1s500ms"),
        (90000.0 * 4, "T+4d4h"),
    ],
)
def test_format_offset(seconds: float, text: str) -> None:
    """Offsets display as written in runbooks: hours up to 72h, days beyond."""
    assert format_offset(seconds) == text


@given(st.integers(min_value=-(10**10), max_value=10**10))
def test_format_offset_round_trips(milliseconds: int) -> None:
    """parse_offset(format_offset(x)) == x for any whole number of milliseconds."""
    seconds = milliseconds / 1000
    assert parse_offset(format_offset(seconds)) == pytest.approx(seconds, abs=1e-6)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (90, "1m30s"),
        (0.5, "500ms"),
        (0, "0s"),
        (3600, "1h"),
        (86400, "24h"),
        (5 * 86400, "5d"),
        (0.0004, "0s"),
        (61.25, "1m1s250ms"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    """Durations display largest units first, to the millisecond."""
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=10**10))
def test_format_duration_round_trips(milliseconds: int) -> None:
    """parse_duration(format_duration(x)) == x for any whole number of milliseconds."""
    assert parse_duration(format_duration(milliseconds / 1000)) == pytest.approx(milliseconds / 1000, abs=1e-6)


@pytest.mark.parametrize(
    ("text", "op", "value", "unit"),
    [
        ("> 0.01", ">", 0.01, ""),
        (">= 99%", ">=", 0.99, "%"),
        ("< 500ms", "<", 0.5, "ms"),
        ("== 200", "==", 200.0, ""),
        ("!= 0", "!=", 0.0, ""),
        ("> 1 s", ">", 1.0, "s"),
        ("<= 5m", "<=", 300.0, "m"),
        ("> 2h", ">", 7200.0, "h"),
        ("> 1%", ">", 0.01, "%"),
        (">0.1%", ">", 0.001, "%"),
        ("< -3.5", "<", -3.5, ""),
        ("> 1e-3", ">", 0.001, ""),
        ("  > .5  ", ">", 0.5, ""),
    ],
)
def test_parse_threshold(text: str, op: str, value: float, unit: str) -> None:
    """Thresholds normalise percent to a fraction and time to seconds, as floats."""
    threshold = parse_threshold(text)
    assert (threshold.op, threshold.unit, threshold.text) == (op, unit, text.strip())
    assert threshold.value == pytest.approx(value)
    assert isinstance(threshold.value, float)


@pytest.mark.parametrize(
    "text", ["", "0.01", "> ", "=> 1", "= 1", "> 1 apples", "> 1 2", "~ 5", "> 1e999", "> nan", "> inf", 5, None, True]
)
def test_parse_threshold_rejects(text: object) -> None:
    """A threshold needs an operator, a finite number and a known unit."""
    with pytest.raises(ValueError, match="threshold"):
        parse_threshold(text)  # type: ignore[arg-type]


def test_threshold_compares_floats_not_strings() -> None:
    """0.004 is below 0.01 (a string comparison would say otherwise)."""
    threshold = parse_threshold("> 0.01")
    assert not threshold.holds(0.004)
    assert threshold.holds(0.0101)


@pytest.mark.parametrize(
    ("text", "observed", "holds"),
    [
        ("> 1%", 0.01, False),
        (">= 1%", 0.01, True),
        ("< 500ms", 0.5, False),
        ("<= 500ms", 0.5, True),
        ("== 200", 200, True),
        ("!= 0", 0, False),
    ],
)
def test_threshold_boundary(text: str, observed: float, holds: bool) -> None:
    """At the boundary, > and < do not hold while >= and <= do."""
    assert parse_threshold(text).holds(observed) is holds


@pytest.mark.parametrize(
    ("text", "environ", "expanded"),
    [
        ("${A}/x", {"A": "http://h"}, "http://h/x"),
        ("${A:-http://d}/x", {}, "http://d/x"),
        ("${A:-http://d}/x", {"A": ""}, "http://d/x"),
        ("${A:-http://d}/x", {"A": "http://e"}, "http://e/x"),
        ("${A:-}", {}, ""),
        ("${A}", {"A": ""}, ""),
        ("no references", {}, "no references"),
        ("$HOME stays", {}, "$HOME stays"),
    ],
)
def test_expand_env(text: str, environ: dict[str, str], expanded: str) -> None:
    """${VAR} and ${VAR:-default} expand as in the shell."""
    assert expand_env(text, environ) == expanded


def test_expand_env_names_missing_variable() -> None:
    """A variable without a default that is unset is an error naming it."""
    with pytest.raises(ValueError, match="CUTOVER_TEST_UNSET_VARIABLE is not set"):
        expand_env("${CUTOVER_TEST_UNSET_VARIABLE}/health", {})


@pytest.mark.parametrize("text", ["${", "${A", "${1A}", "${A B}", "x${}y"])
def test_expand_env_rejects_malformed(text: str) -> None:
    """A ${ that is not a reference is an error, not passed through."""
    with pytest.raises(ValueError, match="malformed"):
        expand_env(text, {"A": "x"})


def test_percent_and_millisecond_thresholds_are_exact_at_the_boundary() -> None:
    """`< 95%` is exactly 0.95 and `< 700ms` exactly 0.7, so an observed 0.95 does not breach `< 95%`."""
    from runbooks.grammar import parse_threshold

    assert parse_threshold("< 95%").value == 0.95
    assert parse_threshold("< 700ms").value == 0.7
    assert not parse_threshold("< 95%").holds(0.95)
