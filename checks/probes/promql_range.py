"""A promql check's readings over a past window, from Prometheus' ``query_range``.

A baseline window the session did not see (it started at T-0, the window is
T-30m..T-0) can still be read from Prometheus: the same query, evaluated at
each step of the window (``GET /api/v1/query_range``), on the probes' shared
HTTP session, with the source's token and headers. Each step becomes one
``BaselineSample``: a finite value is usable (its outcome judged by the
check's ``pass_when``); NaN and ±Inf are invalid; a step with no sample
(an empty result then) is no data. Never a zero.

Several series are reduced as the instant probe does (``reduce``), else an
error naming them, as ``expect: one`` would be.

Example::

    samples = await query_range(check, ctx, start, end)
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from checks.baseline import PROMETHEUS, BaselineSample
from checks.probes.common import (
    REDUCERS,
    ProbeFailed,
    build_headers,
    describe_series,
    error,
    fetch,
    several_series_error,
    source_of,
)
from checks.probes.context import ProbeContext
from checks.probes.promql import _data
from checks.reading import Outcome
from runbooks.model import Check, PromqlSpec, Reduce

#: At most this many steps per window: a long window is read at a coarser step.
MAX_STEPS = 2000
#: Seconds one ``query_range`` may take.
RANGE_TIMEOUT = 30.0


def range_step(check: Check, start: datetime, end: datetime) -> float:
    """The step: the check's interval (as many readings as polls would give), coarser for very long windows."""
    span = max((end - start).total_seconds(), 0.0)
    return max(check.every, span / MAX_STEPS, 0.001)


async def query_range(check: Check, ctx: ProbeContext, start: datetime, end: datetime) -> list[BaselineSample]:
    """The check's query at every step from ``start`` to ``end``, as baseline samples.

    Raises:
        ProbeFailed: the source failed (HTTP, Prometheus error, timeout), or
            several series came back without ``reduce``.
    """
    if check.kind != "promql":
        raise error(f"check {check.id} is {check.kind}, not promql: Prometheus cannot give its past readings")
    spec = check.spec_as(PromqlSpec)
    source = source_of(check, ctx, "prometheus")
    headers = build_headers(ctx.env, source.headers, spec.headers, token_env=source.token_env)
    step = range_step(check, start, end)
    params = {
        "query": spec.query,
        "start": repr(start.timestamp()),
        "end": repr(end.timestamp()),
        "step": repr(step),
    }
    response = await fetch(
        ctx, f"{source.url.rstrip('/')}/api/v1/query_range", headers=headers, params=params,
        timeout=RANGE_TIMEOUT, verify=source.verify_tls,
    )  # fmt: skip
    data, _ = _data(response)
    if data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
        raise error(f"query_range answered {data.get('resultType')!r}, expected a matrix")
    series = data["result"]
    by_step: dict[int, list[object]] = {}  # Prometheus evaluates at start + k * step
    names = []
    origin = start.timestamp()
    try:
        for item in series:
            labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
            names.append(describe_series(labels))
            for timestamp, raw in item.get("values") or ():
                by_step.setdefault(round((float(timestamp) - origin) / step), []).append(raw)
    except (TypeError, ValueError, AttributeError):
        raise error("malformed matrix result") from None
    reduce = spec.reduce
    if len(series) > 1 and reduce is None:
        raise several_series_error(names)
    samples = []
    steps = int(math.floor((end - start).total_seconds() / step + 1e-9)) + 1
    for index in range(steps):
        raws = by_step.get(index)
        moment = datetime.fromtimestamp(origin + index * step, timezone.utc)
        if raws is None:
            samples.append(BaselineSample(moment, Outcome.NODATA.value, None, source=PROMETHEUS))
            continue
        samples.append(_sample(check, moment, raws, reduce))
    return samples


def _sample(check: Check, moment: datetime, raws: list[object], reduce: Reduce | None) -> BaselineSample:
    try:
        values = [float(raw) for raw in raws]  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return BaselineSample(moment, Outcome.INVALID.value, None, source=PROMETHEUS)
    if any(not math.isfinite(v) for v in values):
        return BaselineSample(moment, Outcome.INVALID.value, None, source=PROMETHEUS)
    value = values[0] if len(values) == 1 or reduce is None else float(REDUCERS[reduce](values))
    passed = check.pass_when is None or check.pass_when.holds(value)
    return BaselineSample(moment, (Outcome.PASS if passed else Outcome.BREACH).value, value, source=PROMETHEUS)


__all__ = ["ProbeFailed", "query_range", "range_step"]
