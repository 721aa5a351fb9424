"""The ``promql`` probe: one instant query against a Prometheus-compatible API.

The request is ``GET {source.url}/api/v1/query`` on the session's shared HTTP
session rather than prometheus-api-client's ``custom_query``: that method returns
only ``data.result`` (dropping ``resultType`` and ``warnings``), fails with a
``KeyError`` on a 200 with ``status: "error"``, and by default retries 5xx and
connection failures with back-off (a 503 is asked 4 times over 6 s, then
raises ``RetryError`` without Prometheus' error body), outlasting the poll's
timeout in a thread that cannot be cancelled. Thanos,
Mimir and VictoriaMetrics speak the same API; ``token_env`` becomes a bearer
token and the source's and check's ``headers`` (e.g. ``X-Scope-OrgID``) are sent.

Outcomes:
- empty vector: NODATA. ``NaN``/``±Inf``: INVALID.
- scalar result: its value (a scalar is one number, as a one-series vector);
  matrix or string: INVALID.
- several series: ``reduce`` (max | min | sum) makes one value; otherwise
  ``expect: one`` (default) is an ERROR naming the series; ``expect: any`` is a
  BREACH when any series fails ``pass_when``, ``expect: all`` when every series
  does. An unreadable series makes the outcome INVALID only when the others
  cannot decide it. Their value is that of the deciding series (first in label
  order); give ``reduce`` when a stop condition compares the value.
- HTTP or Prometheus errors (400 bad_data, 422 execution, 503 timeout, a 200
  with ``status: "error"``), non-JSON or truncated bodies, proxies' HTML pages:
  ERROR, with Prometheus' ``errorType`` and message when it sent them.
- ``warnings`` beside the data, or ``isPartial: true`` (VictoriaMetrics cluster,
  some storage nodes missing): ``degraded``.
- Every query carries ``nocache=1``: VictoriaMetrics otherwise evaluates an
  instant query 30 s in the past (``-search.latencyOffset``) and stamps it now.
  Other engines ignore it. On VictoriaMetrics a ``NaN`` result, and a string,
  arrive as an empty vector: NODATA there, where Prometheus gives INVALID
  (both unknown, unless ``on_nodata`` says otherwise).
- ``at`` evaluates the query as of a past instant (Prometheus' ``time``), as a
  rule evaluated then would have: the poller asks it when a breach is first
  seen, to find when the source's own samples first showed it.
- a range selector keeps the samples of a target Prometheus no longer scrapes
  until they leave its window: when none of the query's range selectors has a
  current series, though some had within its range, the reading is
  ``degraded`` with a warning saying so (``checks.probes.inputs``: one more
  instant query, at the same evaluation time). The same query names each
  target that fed a selector lately and is down now (``up == 0``): one pod of
  three dead leaves the value to the other two, so the reading is degraded too.
  An empty result the check maps to a pass or a breach (``on_nodata``) asks
  too: from such inputs it is NODATA, final.
- ``sample_age`` is now minus the sample's timestamp (for an instant query
  Prometheus stamps the evaluation time, so it shows clock skew or a lagging
  remote API rather than the scrape's age).
- ``histogram_quantile`` in the query: its bucket expression is queried too,
  at the same evaluation time (``checks.probes.quantile``), to tell a
  quantile that lies in the ``+Inf`` bucket. Such a value (the top finite
  bound) is a lower bound: the reading carries ``extra["lower_bound"] = True``
  and ``pass_when`` is judged for every value above it (``Threshold.holds_above``):
  ``> 500ms`` holds above 1s, ``< 500ms`` fails, ``< 2s`` cannot be told
  (INVALID, "≥ 1s: cannot tell whether < 2s"). Several series: per series for
  ``expect: any | all``; ``reduce: max | sum`` is a lower bound when a
  series at the result is, ``min`` when no exact series attains it (a
  ``max`` whose lower-bound series lie below an exact maximum cannot be
  judged). A call inside a larger expression whose quantile lies above its
  top bucket makes the result INVALID. The bucket query's failure is an
  ERROR; its warnings make the reading degraded.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from checks.probes import inputs, quantile
from checks.probes.common import (
    REDUCERS,
    Fetched,
    Observation,
    ProbeFailed,
    build_headers,
    describe_series,
    error,
    fetch,
    format_number,
    judge,
    parse_number,
    several_series_error,
    shorten,
    source_of,
)
from checks.probes.context import ProbeContext
from checks.reading import Outcome
from checks.wording import format_value
from runbooks.model import Check, PromqlSpec

#: Prometheus is asked to give up a little before we do, so its own timeout error arrives.
SERVER_TIMEOUT_SHARE = 0.9
#: ``histogram_quantile`` calls whose buckets are looked up; a query with more cannot be judged.
MAX_QUANTILE_CALLS = 4
#: Sent with every query. VictoriaMetrics evaluates an instant query at now minus its
#: ``-search.latencyOffset`` (30 s by default) while stamping the result with now, so a
#: breach, or a target gone stale, shows 30 s late with an age of 0; ``nocache=1`` makes it
#: evaluate at the time asked. Prometheus, Thanos and Mimir ignore the parameter.
ENGINE_PARAMS = {"nocache": "1"}

Series = tuple[dict[str, str], float, object]  # labels, timestamp, raw value


async def probe(check: Check, ctx: ProbeContext, at: float | None = None) -> Observation:
    """Run the check's query and judge the result; ``at`` (POSIX seconds) evaluates it as of that past instant."""
    spec = check.spec_as(PromqlSpec)
    source = source_of(check, ctx, "prometheus")
    headers = build_headers(ctx.env, source.headers, spec.headers, token_env=source.token_env)
    started = asyncio.get_running_loop().time()
    query = spec.query

    async def instant(expression: str, at: float | None = None) -> tuple[dict[str, Any], list[Any]]:
        remaining = max(0.001, check.timeout - (asyncio.get_running_loop().time() - started))
        params = {
            "query": expression,
            "timeout": _prometheus_duration(remaining * SERVER_TIMEOUT_SHARE),
            **ENGINE_PARAMS,
        }
        if at is not None:
            params["time"] = repr(at)
        response = await fetch(
            ctx,
            f"{source.url.rstrip('/')}/api/v1/query",
            headers=headers,
            params=params,
            timeout=remaining,
            verify=source.verify_tls,
        )
        return _data(response)

    data, warnings = await instant(query, at)
    extra: dict[str, Any] = {}
    try:
        series = _series(data)
        values = [quantile.parse_float(raw) for _, _, raw in series]
        numeric = any(v is not None and math.isfinite(v) for v in values)
        lower = await _lower_bounds(query, series, values if numeric else None, instant, warnings)
        # A value, or an empty result a check takes as a pass or a breach, may say nothing: ask whether its inputs
        # are still collected. NaN or Inf are INVALID, and an empty result is unknown, whatever the inputs.
        if at is None and (numeric or (not series and check.on_nodata != "unknown")):
            gone, down = await _inputs_gone(query, series[0][1] if series else None, instant, warnings)
            if series and gone:
                warnings.append(f"{_gone_text(query)}: the value is from the range's last samples")
            elif series and down:
                warnings.append(_down_text(down))
            elif not series and (gone is not False or down):
                # None: the failure to ask, as warned
                why = _gone_text(query) if gone else _down_text(down) if down else str(warnings[-1])
                return Observation(
                    Outcome.NODATA,
                    detail=f"empty vector, and {why}: it says nothing",
                    degraded=True,
                    extra={"warnings": _shown(warnings)},
                    final=True,  # on_nodata cannot make a pass of it
                )
        if warnings:
            extra["warnings"] = _shown(warnings)
        return _judge_series(check, ctx, series, lower, degraded=bool(warnings), extra=extra)
    except ProbeFailed as failure:
        if warnings:
            extra["warnings"] = _shown(warnings)
        return Observation(
            failure.outcome, detail=failure.detail, degraded=bool(warnings), extra={**extra, **failure.extra}
        )


async def _lower_bounds(
    query: str, series: list[Series], finite: list[float | None] | None, instant: Any, warnings: list[Any]
) -> list[bool]:
    """Which result series are a quantile above its histogram's top finite bucket (see ``checks.probes.quantile``).

    ``finite``: the series' values as numbers, or None when none is a finite number (no bound to find).

    Adds the bucket queries' warnings to ``warnings``; raises ``ProbeFailed``
    (ERROR) when a bucket query fails, INVALID when a call inside a larger
    expression lies above its top bucket.
    """
    lower = [False] * len(series)
    calls = quantile.find_calls(query)
    if not calls or finite is None:
        return lower  # nothing a lower bound could change
    if len(calls) > MAX_QUANTILE_CALLS:
        raise ProbeFailed(
            Outcome.INVALID,
            f"{len(calls)} histogram_quantile calls: their top buckets are not checked beyond {MAX_QUANTILE_CALLS}",
        )
    evaluated_at = series[0][1]  # every sample of an instant query carries its evaluation time
    try:
        answers = await asyncio.gather(*(instant(call.buckets, evaluated_at) for call in calls))
    except ProbeFailed as failure:
        raise error(f"reading the buckets of histogram_quantile: {failure.detail}", **failure.extra) from None
    for call, (data, bucket_warnings) in zip(calls, answers, strict=True):
        warnings.extend(bucket_warnings)
        try:
            rows = _series(data)
        except ProbeFailed:
            continue  # no classic buckets to read (a native histogram, a scalar): nothing to add
        groups = quantile.groups((labels, raw) for labels, _, raw in rows)
        if not groups:
            continue
        if call.whole:
            for index, (labels, _, _) in enumerate(series):
                group = groups.get(quantile.group_key(labels))
                if group is not None and finite[index] == group.top and call_above(group, call) is not False:
                    lower[index] = True
            continue
        tops = {group.top for group in groups.values()}
        overflowing = [
            g for g in groups.values() if call_above(g, call) or (call_above(g, call) is None and g.top in finite)
        ]
        if overflowing:
            shown = ", ".join(sorted({format_number(g.top) for g in overflowing})[:3])
            raise ProbeFailed(
                Outcome.INVALID,
                f"histogram_quantile inside the query lies above its top bucket (le={shown}): the result cannot be judged",
                extra={"lower_bound_inside": sorted(tops)[:5]},
            )
    return lower


async def _inputs_gone(
    query: str, evaluated_at: float | None, instant: Any, warnings: list[Any]
) -> tuple[bool | None, list[str]]:
    """Whether no range selector of ``query`` has a current series, though some had within its range (the value, or
    the empty result, comes from samples no longer collected), and the targets that fed it lately and are down now
    (``instance (job J)``): one question (``checks.probes.inputs``).

    ``(False, [])`` without range selectors, or when the engine refuses the question (no ``last_over_time``);
    ``(None, [])`` when asking failed otherwise (a warning says so: the reading cannot be vouched for).
    """
    selectors = inputs.range_selectors(query)
    if not selectors:
        return False, []
    try:
        data, more = await instant(inputs.inputs_query(selectors), evaluated_at)
        rows = _series(data)
    except ProbeFailed as failure:
        if failure.extra.get("http_status") in (400, 422):
            return False, []
        warnings.append(f"cannot tell whether its inputs are still collected: {failure.detail}")
        return None, []
    warnings.extend(more)
    down = sorted(
        {f"{labels['instance']} (job {labels.get('job', '?')})" for labels, _, _ in rows if labels.get("instance")}
    )
    return any(not labels for labels, _, _ in rows), down


def _shown(warnings: list[Any]) -> list[str]:
    """The first five warnings, each cut to a line, as a reading keeps them (``extra["warnings"]``)."""
    return [shorten(str(w)) for w in warnings[:5]]


def _down_text(down: list[str]) -> str:
    """``a target it read lately is down (10.0.0.7:9100 (job api)): the value does not speak for it``."""
    shown = ", ".join(down[:3]) + (f" and {len(down) - 3} more" if len(down) > 3 else "")
    if len(down) == 1:
        return f"a target it read lately is down ({shown}): the value does not speak for it"
    return f"{len(down)} targets it read lately are down ({shown}): the value does not speak for them"


def _gone_text(query: str) -> str:
    """``its inputs are no longer collected (errors, requests: no current series; target down or not scraped?)``."""
    shown = ", ".join(shorten(selector, 60) for selector, _ in inputs.range_selectors(query)[:2])
    return f"its inputs are no longer collected ({shown}: no current series; target down or not scraped?)"


def call_above(group: quantile.Group, call: quantile.Call) -> bool | None:
    return group.above_top(call.phi)


def _prometheus_duration(seconds: float) -> str:
    """Seconds as a Prometheus duration: whole milliseconds (it refuses ``4.5s``)."""
    return f"{max(1, round(seconds * 1000))}ms"


def _data(response: Fetched) -> tuple[dict[str, Any], list[Any]]:
    """``data`` and ``warnings`` of a successful API response; ``ProbeFailed`` ERROR otherwise."""
    status = response.status
    try:
        document = json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        document = None
    if isinstance(document, dict) and document.get("status") == "error":
        error_type = str(document.get("errorType") or "error")
        message = shorten(str(document.get("error") or ""))
        # VictoriaMetrics repeats the HTTP status as its errorType ("422"): say it once.
        shown = f"HTTP {status}" if error_type == str(status) else f"HTTP {status} {error_type}"
        raise error(f"{shown}: {message}", error_type=error_type, http_status=status)
    if not response.ok:
        raise error(response.error_detail(), http_status=status)
    if not isinstance(document, dict):
        raise error("response is not valid JSON (truncated or malformed)", http_status=status)
    data = document.get("data")
    if document.get("status") != "success" or not isinstance(data, dict):
        raise error(f"unexpected response: status {shorten(str(document.get('status')), 40)!r}", http_status=status)
    warnings = document.get("warnings") or []
    warnings = list(warnings) if isinstance(warnings, list) else [warnings]
    if document.get("isPartial") is True:
        # VictoriaMetrics cluster: some vmstorage nodes did not answer, the result may lack series.
        warnings.append("partial response: some storage nodes did not answer (isPartial)")
    return data, warnings


def _series(data: dict[str, Any]) -> list[Series]:
    """The result as (labels, timestamp, raw value) rows; a scalar is one row without labels."""
    result_type, result = data.get("resultType"), data.get("result")
    try:
        if result_type == "scalar":
            return [({}, float(result[0]), result[1])]  # type: ignore[index]
        if result_type == "vector":
            rows = []
            for item in result:  # type: ignore[union-attr]
                labels = {str(k): str(v) for k, v in item.get("metric", {}).items()}
                if "value" not in item:  # a native histogram sample: not one number
                    raise ProbeFailed(Outcome.INVALID, f"{describe_series(labels)} is a histogram, not a number")
                rows.append((labels, float(item["value"][0]), item["value"][1]))
            return rows
    except (TypeError, KeyError, IndexError, ValueError, AttributeError):
        raise error(f"malformed {result_type} result") from None
    raise ProbeFailed(Outcome.INVALID, f"result type {result_type}, expected a vector or scalar")


def _judge_series(
    check: Check, ctx: ProbeContext, series: list[Series], lower: list[bool], *, degraded: bool, extra: dict[str, Any]
) -> Observation:
    if not series:
        raise ProbeFailed(Outcome.NODATA, "empty vector")
    order = sorted(range(len(series)), key=lambda i: sorted(series[i][0].items()))
    series, lower = [series[i] for i in order], [lower[i] for i in order]
    now = ctx.clock.now().timestamp()
    sample_age = max(0.0, now - min(timestamp for _, timestamp, _ in series))
    fields: dict[str, Any] = {"degraded": degraded, "sample_age": sample_age, "extra": {**extra, "series": len(series)}}
    if len(series) == 1:
        labels, _, raw = series[0]
        value = parse_number(raw, describe_series(labels) or "the value")
        return _judge_bound(check, value, **fields) if lower[0] else judge(check, value, **fields)

    spec = check.spec_as(PromqlSpec)
    reduce = spec.reduce
    if reduce is not None:
        values = [parse_number(raw, describe_series(labels)) for labels, _, raw in series]
        value = float(REDUCERS[reduce](values))
        if not any(lower):
            return judge(check, value, **fields)
        at_result = [bound for bound, v in zip(lower, values, strict=True) if v == value]
        if reduce == "min" and not all(at_result):
            return judge(check, value, **fields)  # an exact series attains the minimum
        if reduce == "max" and not any(at_result):
            names = [describe_series(labels) for (labels, _, _), bound in zip(series, lower, strict=True) if bound]
            raise ProbeFailed(Outcome.INVALID, f"{names[0]} lies above its top bucket: the maximum cannot be told")
        return _judge_bound(check, value, **fields)
    expect = spec.expect
    if expect == "one":
        raise several_series_error([describe_series(labels) for labels, _, _ in series])
    return _any_or_all(check, series, lower, expect == "all", fields)


def _judge_bound(check: Check, bound: float, **fields: Any) -> Observation:
    """Judge a value known only to lie above ``bound`` (``extra["lower_bound"]``); INVALID when it cannot be told."""
    fields["extra"] = {**fields.get("extra", {}), "lower_bound": True}
    shown = f"≥ {format_value(bound, check.unit)}"
    if check.pass_when is None:
        return Observation(Outcome.PASS, bound, f"{shown} (above the top bucket)", **fields)
    decided = check.pass_when.holds_above(bound)
    if decided is None:
        return Observation(Outcome.INVALID, bound, f"{shown}: cannot tell whether {check.pass_when.text}", **fields)
    if decided:
        return Observation(Outcome.PASS, bound, f"{shown} (above the top bucket)", **fields)
    return Observation(Outcome.BREACH, bound, f"{shown} fails {check.pass_when.text}", **fields)


def _any_or_all(
    check: Check, series: list[Series], lower: list[bool], need_all: bool, fields: dict[str, Any]
) -> Observation:
    """``expect: any``: BREACH if any series breaches; ``all``: if every one does.

    A series that cannot be read (NaN, ...) makes it INVALID only when the
    readable ones do not decide the outcome on their own.
    """
    breaching: list[tuple[str, float, bool]] = []
    passing: list[tuple[str, float, bool]] = []
    unreadable: list[str] = []
    for (labels, _, raw), bound in zip(series, lower, strict=True):
        name = describe_series(labels)
        try:
            value = parse_number(raw, name)
        except ProbeFailed as failure:
            unreadable.append(failure.detail)
            continue
        if bound:
            decided = True if check.pass_when is None else check.pass_when.holds_above(value)
            if decided is None:
                unreadable.append(f"{name} ≥ {format_number(value)}: cannot tell whether {check.pass_when.text}")  # type: ignore[union-attr]
                continue
            failing = not decided
        else:
            failing = check.pass_when is not None and not check.pass_when.holds(value)
        (breaching if failing else passing).append((name, value, bound))

    total = len(series)
    if need_all:
        decided_breach, decided_pass = not passing and not unreadable, bool(passing)
    else:
        decided_breach, decided_pass = bool(breaching), not breaching and not unreadable
    if decided_breach:
        name, value, bound = breaching[0]
        quantifier = "all" if need_all else f"{len(breaching)} of"
        number = format_value(value, check.unit)
        shown = f"≥ {number}" if bound else f"= {number}"
        detail = f"{quantifier} {total} series fail {check.pass_when.text}: {name} {shown}"  # type: ignore[union-attr]
        return Observation(Outcome.BREACH, value, detail, **_bound_fields(fields, bound))
    if decided_pass:
        name, value, bound = passing[0]
        return Observation(
            Outcome.PASS, value, f"{len(passing)} of {total} series pass", **_bound_fields(fields, bound)
        )
    raise ProbeFailed(Outcome.INVALID, f"{len(unreadable)} of {total} series unreadable: {unreadable[0]}")


def _bound_fields(fields: dict[str, Any], bound: bool) -> dict[str, Any]:
    """``fields`` with ``extra["lower_bound"]`` when the deciding series' value is a lower bound."""
    return {**fields, "extra": {**fields["extra"], "lower_bound": True}} if bound else fields
