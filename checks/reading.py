"""What one poll of one check observed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """One poll's outcome. Only ``PASS`` ever contributes to an ok state."""

    PASS = "pass"
    BREACH = "breach"
    NODATA = "nodata"  # empty vector, missing field, empty output
    INVALID = "invalid"  # NaN, ±Inf, wrong type, unparseable: never coerced to 0
    ERROR = "error"  # transport failure, timeout, non-2xx, status:error, killed command


@dataclass(frozen=True, slots=True)
class Reading:
    """The result of one poll.

    Attributes:
        check_id: the runbook check id.
        outcome: see ``Outcome``.
        value: the numeric value compared, or None when there is none.
        unit: display unit ("", "s", "%", "count" ...).
        latency: seconds the poll took.
        observed_at: UTC wall-clock time the poll finished.
        monotonic: ``time.monotonic()``-style clock value when it finished (durations use this).
        detail: a short human reason ("HTTP 503", "empty vector", "NaN").
        degraded: the source warned that data may be partial (Prometheus ``warnings``).
        sample_age: seconds between the sample's own timestamp and now, when the source gives one.
        extra: kind-specific details, e.g. for alerts ``{"active": [...], "suppressed": [...]}``.
            Keys every consumer should know:
            ``lower_bound`` (promql): True when ``value`` is only a lower bound
            (a ``histogram_quantile`` above its top finite bucket returns that
            bucket's bound: the quantile is above it). Show it as "≥ value";
            a ``when`` is judged for every value above it (``Threshold.holds_above``).
            ``suppressed`` (alerts): one entry per silenced or inhibited alert
            matching the check (bounded), with ``expected_by`` (the step that
            expects it, ``"suppressed: ignore"``, or ``""`` when nobody does),
            ``silences`` (``id``, ``created_by``, ``comment``, ``starts_at``,
            ``ends_at``, ``state``, ``matchers``), ``inhibitors`` (``name``,
            ``severity``, ``fingerprint``, ``labels``) and, when a look-up
            failed, ``details_missing``; ``suppressed_unexpected`` counts those
            nobody expects (they make the reading NODATA unless it breaches).
    """

    check_id: str
    outcome: Outcome
    value: float | None
    unit: str
    latency: float
    observed_at: datetime
    monotonic: float
    detail: str = ""
    degraded: bool = False
    sample_age: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
