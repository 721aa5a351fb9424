"""What every benchmark shares: figures against goals, percentiles, and our process's CPU and memory."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Sequence


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure, and the goal it is held against (if any).

    Attributes:
        key: its name in the JSON.
        label: what it is, for the table.
        value: the measurement; None when it could not be measured (the notes say why).
        unit: the value's unit.
        at_most: the goal is ``value <= at_most``.
        at_least: the goal is ``value >= at_least``.
    """

    key: str
    label: str
    value: float | None
    unit: str = ""
    at_most: float | None = None
    at_least: float | None = None

    @property
    def goal(self) -> str:
        if self.at_most is not None:
            return f"<= {format_value(self.at_most, self.unit)}"
        if self.at_least is not None:
            return f">= {format_value(self.at_least, self.unit)}"
        return ""

    @property
    def met(self) -> bool | None:
        """Whether the goal is met; None without a goal or a value."""
        if self.value is None or (self.at_most is None and self.at_least is None):
            return None
        if self.at_most is not None and self.value > self.at_most:
            return False
        return not (self.at_least is not None and self.value < self.at_least)

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "value": self.value, "unit": self.unit, "goal": self.goal, "met": self.met}


@dataclass
class Result:
    """What one benchmark reports: its figures, notes (method, what was skipped and why) and raw details."""

    figures: list[Figure]
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def format_value(value: float | None, unit: str = "") -> str:
    """A figure for the table: ``0.0123, "s"`` -> ``"0.012 s"``, None -> ``"n/a"``."""
    if value is None:
        return "n/a"
    size = abs(value)
    digits = 0 if size >= 100 or value == int(value) else 1 if size >= 10 else 2 if size >= 1 else 3
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}".rstrip() if unit not in ("%", "×") else f"{text}{unit}"


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (0 < q <= 100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The least-squares slope of ``ys`` over ``xs`` (0 for fewer than two points)."""
    if len(xs) < 2:
        return 0.0
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread if spread else 0.0


def _status_kb(field_name: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return float(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field_name}")


def rss_mb() -> float:
    """This process's resident memory now, MB (Linux ``VmRSS``)."""
    return _status_kb("VmRSS") / 1024


def peak_rss_mb() -> float:
    """This process's peak resident memory, MB (Linux ``VmHWM``)."""
    return _status_kb("VmHWM") / 1024


class CpuMeter:
    """CPU time of this process (every thread) over wall time, as % of one core, from ``start()``."""

    def start(self) -> CpuMeter:
        self._cpu, self._wall = time.process_time(), time.perf_counter()
        return self

    def percent(self) -> float:
        wall = time.perf_counter() - self._wall
        return 100 * (time.process_time() - self._cpu) / wall if wall > 0 else 0.0


#: Clock ticks per second of ``/proc/PID/stat``'s CPU times.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used (every thread, ended ones too); OSError once it is gone."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime: the 14th and 15th fields
