"""Stop conditions relative to the pre-T0 baseline (``when: "> 2x baseline"``).

The baseline is the median of the check's usable readings (a pass or a
breach with a finite value) inside the condition's ``baseline`` window,
placed at T0. Where the readings come from is the backend's business (the
session log when the session ran then; Prometheus ``query_range`` for a
promql check otherwise); this module only counts, judges and says how.

Honest gaps (``docs/semantics.md``):

- Before the window holds ``min_samples`` usable readings the condition is
  unknown, "baseline not established (4 of 10 readings ...)". Without T0 the
  window cannot be placed: unknown too.
- No data, invalid and error readings are never part of a baseline: a window
  of them is no baseline, whatever their number.
- A baseline of 0 is compared like any other: ``> 2x baseline`` holds for
  every value above 0 (and above the ``floor`` when there is one). Nothing is
  divided by it; the ratio is shown as "∞x".

Two judges:

- ``median`` (default): the latest value against ``factor × median``.
- ``mann_whitney``: the readings of the last ``window`` against the baseline's
  readings with the Mann–Whitney U test, classified as Kayenta's
  NetflixACAJudge does: High (or Low) only when the whole confidence interval
  of the location shift (Hodges–Lehmann, at ``confidence``, default 0.98) lies
  outside a band of ``tolerance`` (0.25) × the estimate around zero, **and**
  the mean ratio reaches the ``when`` factor (Kayenta's effect size,
  ``allowedIncrease``/``allowedDecrease``). scipy is imported only when such a
  condition is judged; without it the condition is unknown, naming the package.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from runbooks.grammar import counted, format_offset
from runbooks.loader import MANN_WHITNEY_INSTALL, MANN_WHITNEY_PACKAGE
from runbooks.model import BaselineWindow, RelativeThreshold, StopCondition, Threshold

#: Outcomes whose finite value may enter a baseline or a comparison window.
USABLE_OUTCOMES = frozenset({"pass", "breach"})
#: Where samples came from, as the reason and the report name them.
SESSION_LOG = "session log"
PROMETHEUS = "Prometheus query_range"


class JudgeUnavailable(Exception):
    """``judge: mann_whitney`` cannot run here: scipy is not installed."""


@dataclass(frozen=True, slots=True)
class BaselineSample:
    """One reading that may belong to a baseline.

    Attributes:
        at: when it was observed (UTC).
        outcome: the reading's outcome (``pass``, ``breach``, ``nodata``, ``invalid``, ``error``).
        value: its number, None without one.
        tick: the id of the stored reading in the session log, when it is one.
        source: ``SESSION_LOG`` or ``PROMETHEUS``.
    """

    at: datetime
    outcome: str
    value: float | None
    tick: int | None = None
    source: str = SESSION_LOG

    @property
    def usable(self) -> bool:
        return self.outcome in USABLE_OUTCOMES and self.value is not None and math.isfinite(self.value)


@dataclass(frozen=True, slots=True)
class Baseline:
    """The baseline as it stands: its median and how it was computed.

    Attributes:
        median: the median of the usable readings; None while there are none.
        values: the usable readings' values, sorted (the Mann–Whitney control).
        usable: how many readings it is made of.
        unusable: no data, invalid and error readings in the window (never part of it).
        min_samples: readings needed before it is established.
        start, end: the window, placed at ``t0``.
        t0: the T0 it was placed at.
        complete: the window has closed (the baseline no longer moves).
        sources: readings per source (``SESSION_LOG``, ``PROMETHEUS``).
        ticks: the first and last stored reading ids it holds, when any came from the log.
    """

    median: float | None
    values: tuple[float, ...]
    usable: int
    unusable: int
    min_samples: int
    start: datetime
    end: datetime
    t0: datetime
    complete: bool
    sources: tuple[tuple[str, int], ...] = ()
    ticks: tuple[int, int] | None = None
    problem: str = ""  # why part of the window could not be read ("reading the baseline from Prometheus failed: ...")

    @property
    def established(self) -> bool:
        return self.median is not None and self.usable >= self.min_samples

    def window_text(self) -> str:
        """``T-30m to T-0`` (as offsets from the T0 it was placed at)."""
        start = (self.start - self.t0).total_seconds()
        end = (self.end - self.t0).total_seconds()
        return f"{format_offset(start)} to {format_offset(end)}"

    def source_text(self) -> str:
        """``session log, ticks 4–31`` / ``Prometheus query_range`` / both."""
        parts = []
        for source, count in self.sources:
            if source == SESSION_LOG and self.ticks is not None:
                first, last = self.ticks
                parts.append(f"{source}, ticks {first}–{last}" if first != last else f"{source}, tick {first}")
            elif len(self.sources) > 1:
                parts.append(f"{source} ({count})")
            else:
                parts.append(source)
        return "; ".join(parts) or "no readings"

    def describe(self, unit: str = "") -> str:
        """How it was computed: ``median 0.2% of 13 readings T-30s to T-0 (session log, ticks 3–41)``."""
        if not self.established:
            return self.not_established()
        ignored = f", {self.unusable} without a usable value left out" if self.unusable else ""
        still = "" if self.complete else ", window still open"
        return (
            f"median {_shown(self.median, unit)} of {counted(self.usable, 'reading')} {self.window_text()} "
            f"({self.source_text()}{ignored}{still})"
        )

    def not_established(self) -> str:
        """``baseline not established: 4 of 10 readings T-30m to T-0 (2 no data or errors left out)``."""
        ignored = f"; {self.unusable} without a usable value left out" if self.unusable else ""
        problem = f"; {self.problem}" if self.problem else ""
        return (
            f"baseline not established: {self.usable} of {counted(self.min_samples, 'reading')} {self.window_text()}"
            f"{ignored}{problem}"
        )

    def as_payload(self, unit: str = "") -> dict[str, object]:
        """For the log (``condition_changed.baseline``): enough to say how it was computed, and to recompute."""
        return {
            "median": self.median,
            "usable": self.usable,
            "unusable": self.unusable,
            "min_samples": self.min_samples,
            "from": self.start,
            "to": self.end,
            "complete": self.complete,
            "sources": dict(self.sources),
            "ticks": list(self.ticks) if self.ticks else None,
            "text": self.describe(unit),
        }


#: Times in the session log are kept to the millisecond.
_LOG_RESOLUTION = timedelta(milliseconds=1)
#: Readings a tracker keeps while T0 is unknown (its window cannot be placed yet).
MAX_UNPLACED = 100_000


class BaselineTracker:
    """Collects a condition's baseline readings and computes the baseline on demand.

    The evaluator adds every reading it observes; those inside the window are
    kept (readings outside it are ignored). A backend seeds readings it took
    elsewhere: the stored ticks of a resumed session, or Prometheus'
    ``query_range`` for the part of the window the session did not see.

    The usable values are kept sorted as they come (the median is at hand at
    every poll, whatever the window's length); the whole is recomputed only
    when T0 moves.

    Args:
        window: the condition's ``baseline``.
    """

    def __init__(self, window: BaselineWindow) -> None:
        self.window = window
        self._t0: datetime | None = None
        self._samples: dict[datetime, BaselineSample] = {}  # every sample kept (in the window, once placed)
        self._cached: Baseline | None = None
        self._problem = ""
        self._reset_window()

    def _reset_window(self) -> None:
        """The window's own tallies, from scratch: the samples inside it, their sorted values, counts and ids."""
        self._inside: dict[datetime, BaselineSample] = {}
        self._sorted: list[float] = []
        self._unusable = 0
        self._sources: dict[str, int] = {}
        self._ticks: list[int] = []
        bounds = self.bounds()
        if bounds is None:
            return
        for sample in self._samples.values():
            if bounds[0] <= sample.at <= bounds[1]:
                self._include(sample)

    def _include(self, sample: BaselineSample) -> None:
        old = self._inside.get(sample.at)
        if old is not None:
            self._exclude(old)
        self._inside[sample.at] = sample
        if sample.usable:
            insort(self._sorted, float(sample.value))  # type: ignore[arg-type]
            self._sources[sample.source] = self._sources.get(sample.source, 0) + 1
            if sample.tick is not None:
                insort(self._ticks, sample.tick)
        else:
            self._unusable += 1

    def _exclude(self, sample: BaselineSample) -> None:
        if sample.usable:
            del self._sorted[bisect_left(self._sorted, float(sample.value))]  # type: ignore[arg-type]
            self._sources[sample.source] -= 1
            if sample.tick is not None:
                del self._ticks[bisect_left(self._ticks, sample.tick)]
        else:
            self._unusable -= 1

    @property
    def problem(self) -> str:
        """Why part of the window could not be read (shown while the baseline is not established)."""
        return self._problem

    @problem.setter
    def problem(self, value: str) -> None:
        if value != self._problem:
            self._problem = value
            self._cached = None

    @property
    def t0(self) -> datetime | None:
        return self._t0

    @t0.setter
    def t0(self, value: datetime | None) -> None:
        if value != self._t0:
            self._t0 = value
            self._cached = None
            self._reset_window()

    def bounds(self) -> tuple[datetime, datetime] | None:
        """The window placed at T0, a millisecond wider each side (the log keeps times to the millisecond); None without T0."""
        if self._t0 is None:
            return None
        start = self._t0 + timedelta(seconds=self.window.start) - _LOG_RESOLUTION
        return (start, self._t0 + timedelta(seconds=self.window.end) + _LOG_RESOLUTION)

    def add(self, sample: BaselineSample) -> None:
        """Keep ``sample`` when it lies in the window (one per instant; a later one with the same time replaces it).

        Without T0 every sample is kept (up to ``MAX_UNPLACED`` of the newest):
        the window is placed once T0 is set, and may lie behind it.
        """
        bounds = self.bounds()
        if bounds is not None and not bounds[0] <= sample.at <= bounds[1]:
            return
        self._samples[sample.at] = sample
        self._cached = None
        if bounds is not None:
            self._include(sample)
        elif len(self._samples) > MAX_UNPLACED:
            del self._samples[min(self._samples)]

    def seed(self, samples: Iterable[BaselineSample]) -> None:
        """Add readings taken elsewhere (stored ticks, Prometheus' ``query_range``); a reading already held stays."""
        for sample in samples:
            if sample.at not in self._samples:
                self.add(sample)

    def samples(self) -> list[BaselineSample]:
        """The readings inside the window, in time order (every kept reading without T0)."""
        chosen = self._inside.values() if self.bounds() is not None else self._samples.values()
        return sorted(chosen, key=lambda s: s.at)

    def current(self, now: datetime) -> Baseline | None:
        """The baseline at ``now``; None without T0 (the window cannot be placed)."""
        if self._t0 is None:
            return None
        start = self._t0 + timedelta(seconds=self.window.start)
        end = self._t0 + timedelta(seconds=self.window.end)
        complete = now >= end
        if self._cached is not None and self._cached.complete == complete:
            return self._cached
        values = tuple(self._sorted)
        count = len(values)
        median = (
            None
            if not count
            else values[count // 2]
            if count % 2
            else (values[count // 2 - 1] + values[count // 2]) / 2
        )
        self._cached = Baseline(
            median=median,
            values=values,
            usable=count,
            unusable=self._unusable,
            min_samples=self.window.min_samples,
            start=start,
            end=end,
            t0=self._t0,
            complete=complete,
            sources=tuple(sorted((source, n) for source, n in self._sources.items() if n)),
            ticks=(self._ticks[0], self._ticks[-1]) if self._ticks else None,
            problem=self._problem,
        )
        return self._cached


# ----------------------------------------------------------------- judging


@dataclass(frozen=True, slots=True)
class Comparison:
    """A value (or a window of them) judged against the baseline.

    Attributes:
        breach: True (breached), False (not), None (cannot tell).
        detail: why, in words.
        ratio: value / median (median judge), mean / mean (Mann–Whitney); inf over a zero baseline.
        p_value: Mann–Whitney only.
        recent, control: Mann–Whitney only: readings compared (the window's, the baseline's).
    """

    breach: bool | None
    detail: str
    ratio: float | None = None
    p_value: float | None = None
    recent: int | None = None
    control: int | None = None

    def as_payload(self) -> dict[str, object]:
        return {"ratio": self.ratio, "p": self.p_value, "n": self.recent, "baseline_n": self.control}


def ratio_text(ratio: float | None) -> str:
    """``4.3x``; ``∞x`` over a zero baseline; ``—`` without one."""
    if ratio is None:
        return "—"
    if math.isinf(ratio):
        return "∞x"
    return f"{ratio:.3g}x"


def _ratio(value: float, median: float) -> float | None:
    if median == 0:
        return math.inf if value > 0 else None if value == 0 else -math.inf
    return value / median


def _shown(value: float | None, unit: str) -> str:
    from checks.wording import format_value

    return format_value(value, unit)


def _floor_fails(floor: Threshold | None, value: float, unit: str) -> str:
    """Why the floor does not hold (the relative comparison alone is not a breach), or ``""``."""
    if floor is None or floor.holds(value):
        return ""
    return f", but not {floor.text} (floor)"


def compare_median(
    relative: RelativeThreshold,
    floor: Threshold | None,
    value: float,
    baseline: Baseline,
    unit: str = "",
    *,
    lower_bound: bool = False,
) -> Comparison:
    """``value`` against ``factor × median`` (and the floor). ``baseline`` must be established."""
    assert baseline.median is not None
    median = baseline.median
    threshold = relative.against(median, unit)
    shown = f"≥ {_shown(value, unit)}" if lower_bound else _shown(value, unit)
    ratio = _ratio(value, median)
    if lower_bound:
        decided = threshold.holds_above(value)
        if decided is None:
            return Comparison(None, f"{shown}: cannot tell whether {relative.text} ({_shown(median, unit)})", ratio)
        holds = decided
    else:
        holds = threshold.holds(value)
    against = f"baseline {_shown(median, unit)}" if median else "a baseline of 0"
    said = f"{shown} = {ratio_text(ratio)} {against}" if median else f"{shown} against {against}"
    if not holds:
        return Comparison(False, f"{said}, not {relative.text}", ratio)
    below_floor = _floor_fails(floor, value, unit)
    if below_floor:
        return Comparison(False, f"{said} {relative.text}{below_floor}", ratio)
    return Comparison(True, f"{said} {relative.text}", ratio)


def compare_mann_whitney(
    condition: StopCondition,
    value: float | None,
    recent: Sequence[float],
    baseline: Baseline,
    unit: str = "",
) -> Comparison:
    """The last ``window`` of readings against the baseline's, with Kayenta's Mann–Whitney classification."""
    relative = condition.relative
    assert relative is not None
    result = mann_whitney(
        baseline.values,
        recent,
        direction="increase" if relative.increase else "decrease",
        confidence=condition.confidence,
        tolerance=condition.tolerance,
        effect_size=relative.factor,
    )
    numbers = f"n {result.recent} vs {result.control}, p {_p_text(result.p_value)}, ratio {ratio_text(result.ratio)}"
    if result.classification == "nodata":
        return Comparison(None, f"Mann–Whitney: {result.reason}", None, None, result.recent, result.control)
    breached = result.classification in ("high", "low")
    if breached and value is not None:
        below_floor = _floor_fails(condition.floor, value, unit)
        if below_floor:
            return Comparison(
                False,
                f"Mann–Whitney {numbers}: {result.reason}{below_floor}",
                result.ratio,
                result.p_value,
                result.recent,
                result.control,
            )
    shown = f"{result.reason} ({relative.text})" if breached else f"{result.reason}, not {relative.text}"
    return Comparison(
        breached, f"Mann–Whitney {numbers}: {shown}", result.ratio, result.p_value, result.recent, result.control
    )


def _p_text(p: float | None) -> str:
    if p is None:
        return "—"
    return f"{p:.2g}" if p >= 0.0001 else "<0.0001"


@dataclass(frozen=True, slots=True)
class MannWhitneyResult:
    """What the test found, classified as Kayenta does.

    Attributes:
        classification: ``high``, ``low``, ``pass`` or ``nodata``.
        reason: in words.
        p_value: the two-sided p of the U test.
        estimate: the Hodges–Lehmann estimate of the shift (recent − baseline).
        lower, upper: its confidence interval.
        ratio: mean of the recent readings / mean of the baseline's.
        recent, control: how many of each.
    """

    classification: Literal["high", "low", "pass", "nodata"]
    reason: str
    p_value: float | None = None
    estimate: float | None = None
    lower: float | None = None
    upper: float | None = None
    ratio: float | None = None
    recent: int = 0
    control: int = 0
    band: tuple[float, float] | None = field(default=None)


def require_scipy() -> None:
    """Raise ``JudgeUnavailable`` naming the package when scipy cannot be imported."""
    try:
        import scipy.stats  # noqa: F401
    except ImportError:
        raise JudgeUnavailable(
            f"judge: mann_whitney needs the Python package {MANN_WHITNEY_PACKAGE}, which is not installed: {MANN_WHITNEY_INSTALL}"
        ) from None


def mann_whitney(
    control: Sequence[float],
    experiment: Sequence[float],
    *,
    direction: Literal["increase", "decrease", "either"] = "either",
    confidence: float = 0.98,
    tolerance: float = 0.25,
    effect_size: float = 1.0,
) -> MannWhitneyResult:
    """Classify ``experiment`` (recent readings) against ``control`` (the baseline's).

    As Kayenta's ``MannWhitneyClassifier`` in its NetflixACAJudge: empty data
    is ``nodata``; identical data, or a single value throughout, ``pass``;
    else the U test's confidence interval for the shift (Hodges–Lehmann, the
    distribution-free interval from the ordered pairwise differences) is
    compared with a band of ``tolerance × |estimate|`` around 0, and the mean
    ratio with ``effect_size``: ``high`` when the whole interval lies above
    the band and the ratio is at least ``effect_size`` (for ``increase``),
    ``low`` when it lies below and the ratio is at most ``effect_size``
    (``decrease``). Too few readings for the interval at ``confidence`` is
    ``nodata`` ("cannot tell"), never a pass.

    Raises:
        JudgeUnavailable: scipy is not installed.
    """
    require_scipy()
    import numpy as np  # scipy's own dependency
    from scipy.stats import mannwhitneyu, norm

    x = [float(v) for v in experiment]
    y = [float(v) for v in control]
    n_x, n_y = len(x), len(y)
    if not x or not y:
        missing = "no recent readings" if not x else "no baseline readings"
        return MannWhitneyResult("nodata", missing, recent=n_x, control=n_y)
    ratio = _mean_ratio(x, y)
    if sorted(x) == sorted(y):
        return MannWhitneyResult("pass", "the same readings as the baseline", 1.0, ratio=ratio, recent=n_x, control=n_y)
    if len(set(x) | set(y)) == 1:
        return MannWhitneyResult("pass", "one value throughout", 1.0, ratio=ratio, recent=n_x, control=n_y)
    differences = np.subtract.outer(np.asarray(x), np.asarray(y)).ravel()  # every recent − baseline pair
    pairs = int(differences.size)
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    k = math.floor(pairs / 2 - z * math.sqrt(n_x * n_y * (n_x + n_y + 1) / 12))
    p_value = float(mannwhitneyu(x, y, alternative="two-sided").pvalue)
    estimate = float(np.median(differences))
    if k < 1:
        return MannWhitneyResult(
            "nodata",
            f"{n_x} recent readings against {n_y} cannot reach {confidence:.0%} confidence",
            p_value,
            estimate,
            ratio=ratio,
            recent=n_x,
            control=n_y,
        )
    lower, upper = (float(v) for v in np.partition(differences, (k - 1, pairs - k))[[k - 1, pairs - k]])
    band = tolerance * abs(estimate)
    common = dict(
        p_value=p_value,
        estimate=estimate,
        lower=lower,
        upper=upper,
        ratio=ratio,
        recent=n_x,
        control=n_y,
        band=(-band, band),
    )
    if direction in ("increase", "either") and lower > band and ratio >= effect_size:
        return MannWhitneyResult("high", "higher than the baseline", **common)  # type: ignore[arg-type]
    if direction in ("decrease", "either") and upper < -band and ratio <= effect_size:
        return MannWhitneyResult("low", "lower than the baseline", **common)  # type: ignore[arg-type]
    if direction in ("increase", "either") and lower > band:
        reason = f"higher than the baseline, but by {ratio_text(ratio)}"
    elif direction in ("decrease", "either") and upper < -band:
        reason = f"lower than the baseline, but at {ratio_text(ratio)}"
    else:
        reason = "no significant shift from the baseline"
    return MannWhitneyResult("pass", reason, **common)  # type: ignore[arg-type]


def _mean_ratio(x: Sequence[float], y: Sequence[float]) -> float:
    mean_x, mean_y = math.fsum(x) / len(x), math.fsum(y) / len(y)
    if mean_y == 0:
        return math.inf if mean_x > 0 else 1.0 if mean_x == 0 else -math.inf
    return mean_x / mean_y
