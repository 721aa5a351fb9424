"""Which readings are stored: the policy (on change, beyond a tolerance, as keyframes) and what it compares with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runbooks.model import HttpSpec, Runbook


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Which readings become stored ticks.

    A reading is stored when it is the check's first; when its outcome,
    degraded flag, non-pass detail, ``extra`` (ignoring float measurements
    such as an HTTP latency, which the value and keyframes cover) or any of
    its conditions' states changed since the last stored tick; when its value
    moved from the last stored value by more than
    ``max(relative_tolerance * |last|, absolute)``, where ``absolute`` is
    ``threshold_fraction`` of the smallest threshold the check is compared
    against (``pass_when``, a condition's ``when``, an HTTP ``max_latency``);
    and at least every ``keyframe_seconds``. Replayed values are therefore
    within that tolerance of what was polled.
    """

    # 2% of the threshold is a third of a bar of the conditions' 8-level
    # sparkline (its scale spans the values and the threshold); threshold
    # crossings change a condition's state and are always kept. These store
    # 6.8% of readings: under 400 MB with their seals for 1,000 checks x 72 h
    # x 5 s in schema 2 (benchmarks/log_size.py).
    relative_tolerance: float = 0.02
    threshold_fraction: float = 0.02
    keyframe_seconds: float = 120.0


@dataclass(slots=True)
class _Kept:
    """The last stored tick of a check, to decide whether the next reading is news."""

    ts: datetime
    outcome: str
    value: float | None
    degraded: bool
    detail: str
    extra_key: str  # extra without its float measurements
    states: tuple[tuple[str, str], ...]


def _check_epsilons(runbook: Runbook, retention: RetentionPolicy) -> dict[str, float]:
    """Per check, ``threshold_fraction`` of the smallest non-zero threshold it is compared with."""
    thresholds: dict[str, list[float]] = {}
    for check in runbook.checks.values():
        if check.pass_when is not None:
            thresholds.setdefault(check.id, []).append(abs(check.pass_when.value))
        if isinstance(check.spec, HttpSpec) and check.spec.max_latency is not None:
            thresholds.setdefault(check.id, []).append(abs(check.spec.max_latency))
    for condition in runbook.stop_conditions:
        for threshold in (condition.when, condition.floor):
            if threshold is not None:
                thresholds.setdefault(condition.check, []).append(abs(threshold.value))
    return {
        check_id: retention.threshold_fraction * min(nonzero)
        for check_id, values in thresholds.items()
        if (nonzero := [v for v in values if v > 0])
    }


def _without_floats(value: Any) -> Any:
    """``value`` with every float replaced by None: what makes an ``extra`` news."""
    if isinstance(value, float):
        return None
    if isinstance(value, dict):
        return {k: _without_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_floats(v) for v in value]
    return value
