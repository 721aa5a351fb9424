"""`judge: mann_whitney`: Kayenta's NetflixACAJudge classification on a fixed dataset, and in the evaluator."""

from __future__ import annotations

import math
import statistics
from datetime import timedelta

import pytest

from checks.baseline import mann_whitney
from checks.clock import ManualClock
from checks.conditions import ConditionEvaluator
from checks.reading import Outcome, Reading
from checks.status import ConditionState
from runbooks.grammar import parse_relative
from runbooks.model import BaselineWindow, Check, PromqlSpec, StopCondition

#: Fifteen pre-T0 readings of an auth error ratio around 0.2%, and what came after.
BASELINE = [
    0.0019,
    0.0021,
    0.0020,
    0.0022,
    0.0018,
    0.0020,
    0.0021,
    0.0019,
    0.0023,
    0.0020,
    0.0017,
    0.0022,
    0.0020,
    0.0021,
    0.0019,
]
SPIKE = [0.0088, 0.0091, 0.0079, 0.0095, 0.0084, 0.0090, 0.0087, 0.0093, 0.0082, 0.0089]  # about 4.4x
CREEP = [0.0029, 0.0031, 0.0030, 0.0032, 0.0028, 0.0030, 0.0031, 0.0029, 0.0033, 0.0030]  # about 1.5x: real, but small
CALM = [0.0020, 0.0018, 0.0022, 0.0021, 0.0019, 0.0020, 0.0023, 0.0017, 0.0021, 0.0020]  # the same as before
DROP = [0.0006, 0.0007, 0.0005, 0.0008, 0.0006, 0.0007, 0.0006, 0.0005, 0.0007, 0.0006]  # about 0.3x


def u_statistic(x: list[float], y: list[float]) -> float:
    """Mann–Whitney's U for ``x`` by counting pairs (ties count a half): the definition, not scipy."""
    return sum((a > b) + 0.5 * (a == b) for a in x for b in y)


@pytest.mark.parametrize(
    ("recent", "direction", "factor", "classification", "reason"),
    [
        (SPIKE, "increase", 2.0, "high", "higher than the baseline"),
        (CREEP, "increase", 2.0, "pass", "higher than the baseline, but by 1.5x"),
        (CREEP, "increase", 1.2, "high", "higher than the baseline"),
        (CALM, "increase", 2.0, "pass", "no significant shift from the baseline"),
        (DROP, "decrease", 0.5, "low", "lower than the baseline"),
        (DROP, "increase", 2.0, "pass", "no significant shift from the baseline"),
        (SPIKE[:1], "increase", 2.0, "nodata", "1 recent readings against 15 cannot reach 98% confidence"),
        ([], "increase", 2.0, "nodata", "no recent readings"),
    ],
)
def test_the_fixed_dataset_is_classified_as_kayenta_would(
    recent: list[float], direction: str, factor: float, classification: str, reason: str
) -> None:
    """High only when the 98% interval clears the tolerance band and the mean ratio reaches the factor; too few is no data."""
    result = mann_whitney(BASELINE, recent, direction=direction, confidence=0.98, tolerance=0.25, effect_size=factor)  # type: ignore[arg-type]
    assert (result.classification, result.reason) == (classification, reason)


def test_the_numbers_behind_the_spike() -> None:
    """The spike: n 10 vs 15, U = 150 of 150, p below 0.001, the interval and estimate from the ordered differences."""
    result = mann_whitney(BASELINE, SPIKE, direction="increase", effect_size=2.0)
    assert (result.recent, result.control) == (10, 15)
    assert u_statistic(SPIKE, BASELINE) == 150
    assert result.p_value is not None and result.p_value < 0.001
    differences = sorted(a - b for a in SPIKE for b in BASELINE)
    assert result.estimate == pytest.approx(statistics.median(differences))
    # k from the normal approximation at 98%: 75 - 2.326 * sqrt(10 * 15 * 26 / 12) = 34.7 -> the 34th from each end.
    assert result.lower == differences[33] and result.upper == differences[150 - 34]
    assert result.lower > 0.25 * result.estimate
    assert result.ratio == pytest.approx(statistics.fmean(SPIKE) / statistics.fmean(BASELINE))


def test_identical_and_constant_data_pass() -> None:
    """Kayenta's shortcuts: the same readings, or one value throughout, pass without a test."""
    assert mann_whitney(BASELINE, list(reversed(BASELINE))).reason == "the same readings as the baseline"
    assert mann_whitney([0.0] * 10, [0.0] * 5).reason == "one value throughout"


def test_the_evaluator_fires_on_the_spike_and_the_card_says_n_p_and_ratio() -> None:
    """A Mann–Whitney condition: quiet during the baseline, firing once the last 57 s of readings are 4x it."""
    clock = ManualClock()
    check = Check(
        id="k", kind="promql", spec=PromqlSpec(query="k", source="prometheus"), every=6.0, timeout=2.0, unit="%"
    )
    condition = StopCondition(
        id="mw", check="k", when=None, relative=parse_relative("> 2x baseline"), baseline=BaselineWindow(-90.0, 0.0, 15),
        judge="mann_whitney", window=57.0, for_=0.0,
    )  # fmt: skip
    evaluator = ConditionEvaluator(condition, check, clock)
    evaluator.set_t0(clock.now() + timedelta(seconds=87))  # the window holds the 15 readings at 0..84 s

    def poll(value: float):
        status = evaluator.observe(Reading("k", Outcome.PASS, value, "%", 0.01, clock.now(), clock.monotonic()))
        clock.advance(6)
        return status

    for value in BASELINE + CALM:
        status = poll(value)
    assert status.state is ConditionState.OK and status.baseline.usable == 15
    assert "no significant shift" in status.reason
    for value in SPIKE:
        status = poll(value)
    assert status.state is ConditionState.FIRING
    assert status.reason.startswith("Mann–Whitney n 10 vs 15, p ")
    assert "p <0.0001, ratio 4.36x: higher than the baseline (> 2x baseline)" in status.reason
    assert status.comparison is not None and status.comparison.recent == 10 and status.comparison.control == 15
    assert status.comparison.p_value is not None and not math.isnan(status.comparison.p_value)
