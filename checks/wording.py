"""How a stop condition's values and states read, in words: the one wording for every screen, the log and reports."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from checks.status import ConditionState
from runbooks.grammar import format_duration


def whole_seconds(seconds: float) -> str:
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
            return f"{detail} for {whole_seconds(held)} of {whole_seconds(for_)}{polls}"
        case ConditionState.FIRING:
            return f"{detail} for {whole_seconds(held)}"
        case ConditionState.RECOVERING:
            passing = keep_firing_for - (remaining or 0.0)
            return f"{detail}; passing for {whole_seconds(passing)} of {whole_seconds(keep_firing_for)}"
        case ConditionState.UNKNOWN | ConditionState.STALE | ConditionState.ERROR:
            if firing_since is not None:
                return f"{detail}; was firing, still counted as firing"
            if held > 0 or consecutive_breaches:
                return f"{detail}; breach held {whole_seconds(held)}, frozen"
    return detail
