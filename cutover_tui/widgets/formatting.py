"""Text formats shared by the widgets: clocks, countdowns, drift, values, sparklines.

Pure functions, no Textual. Offsets, durations and values reuse the runbook
grammar's and the evaluator's formats, so the screen says what the runbook says.
"""

from __future__ import annotations

import math
from datetime import datetime, tzinfo
from typing import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.text import Text

from checks.conditions import format_value as condition_value
from runbooks.grammar import format_duration as grammar_duration
from runbooks.grammar import format_offset
from runbooks.model import Threshold

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
GAP_SYMBOL = "·"


def display_zone(name: str | None) -> tzinfo | None:
    """The runbook's time zone for wall clocks, or None for the machine's local zone."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def to_zone(moment: datetime, zone: tzinfo | None) -> datetime:
    """``moment`` in ``zone`` (local time when None)."""
    return moment.astimezone(zone) if zone is not None else moment.astimezone()


def format_wall_clock(now: datetime, zone: tzinfo | None) -> str:
    """The wall clock with its zone, e.g. ``22:14:32 IST``."""
    local = to_zone(now, zone)
    return f"{local:%H:%M:%S} {local.tzname() or ''}".rstrip()


def format_wall_time(moment: datetime | None, zone: tzinfo | None, today: datetime) -> str:
    """A planned or actual time: ``22:14`` today, ``12-02 03:00`` on another day, ``—`` when unknown."""
    if moment is None:
        return "—"
    local = to_zone(moment, zone)
    if local.date() == to_zone(today, zone).date():
        return f"{local:%H:%M}"
    return f"{local:%m-%d %H:%M}"


def _hms(seconds: float) -> str:
    whole = int(abs(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def format_t_clock(now: datetime, t0: datetime | None) -> str:
    """``T-00:14:32`` before T-0, ``T+01:02:10`` after, ``T0 not set`` without one."""
    if t0 is None:
        return "T0 not set"
    seconds = (now - t0).total_seconds()
    sign = "-" if seconds < 0 else "+"
    return f"T{sign}{_hms(seconds)}"


def format_at(offset: float | None, *, rollback: bool = False) -> str:
    """A step's planned offset as the runbook writes it (``T-15m``), ``—`` when unscheduled.

    Rollback steps are timed from the moment rollback started: ``R+0``, ``R+5m``.
    """
    if offset is None:
        return "—"
    if rollback:
        return "R+0" if round(abs(offset) * 1000) == 0 else "R" + format_offset(offset)[1:]
    return format_offset(offset)


def format_duration(seconds: float | None) -> str:
    """A duration to the whole second (``4m12s``, ``1h2m3s``), ``—`` when unknown."""
    if seconds is None:
        return "—"
    return grammar_duration(round(abs(seconds)))


def format_drift(seconds: float | None) -> str:
    """Drift (actual − planned): ``+4m12s`` late, ``-30s`` early, ``±0s`` on time."""
    if seconds is None:
        return ""
    if abs(seconds) < 1:
        return "±0s"
    sign = "+" if seconds > 0 else "-"
    return f"{sign}{format_duration(seconds)}"


def format_countdown(seconds: float) -> str:
    """A countdown ``04:12`` / ``01:04:12`` / ``2d 03:00:00`` (absolute: callers say "in" or "overdue")."""
    whole = int(abs(seconds))
    if whole < 3600:
        return f"{whole // 60:02d}:{whole % 60:02d}"
    return _hms(whole)


def format_value(value: float | None, unit: str, *, near: float | None = None) -> str:
    """A normalised value in its threshold's unit (ratio as %, seconds as ms/s), ``—`` when none.

    The one value format (``checks.conditions.format_value``): two significant
    digits, more where fewer would put it on the wrong side of ``near`` (its threshold).
    """
    return "—" if value is None else condition_value(value, unit, near=near)


def sparkline(history: Sequence[float | None], threshold: Threshold | None, width: int) -> Text:
    """The last ``width`` values as bars, then ``┊`` and the threshold's own bar height.

    The scale spans the values and the threshold, so a bar taller than the
    threshold bar is above the line (the breach is told by height, not only by
    colour: breaching bars are also red). Gaps (no value: unknown, stale,
    error) are ``·``, never a low bar.
    """
    samples = list(history)[-width:]
    values = [v for v in samples if v is not None and math.isfinite(v)]
    scale = values + ([threshold.value] if threshold is not None else [])
    low, high = (min(scale), max(scale)) if scale else (0.0, 1.0)
    span = high - low

    def level(value: float) -> int:
        if span <= 0:
            return len(SPARK_BLOCKS) // 2
        return min(len(SPARK_BLOCKS) - 1, int((value - low) / span * (len(SPARK_BLOCKS) - 1) + 0.5))

    bars = Text()
    for value in samples:
        if value is None or not math.isfinite(value):
            bars.append(GAP_SYMBOL, style="magenta")
            continue
        breached = threshold is not None and threshold.holds(value)
        bars.append(SPARK_BLOCKS[level(value)], style="red" if breached else "green")
    if not samples:
        bars.append("no data yet", style="dim")
    if threshold is not None:
        bars.append("┊", style="dim")
        bars.append(SPARK_BLOCKS[level(threshold.value)], style="yellow")
    return bars
