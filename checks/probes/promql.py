"""The ``promql`` probe: one instant query against a Prometheus-compatible API.

The request is ``GET {source.url}/api/v1/query`` on the session's shared httpx
client rather than prometheus-api-client's ``custom_query``: that method returns
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
- ``warnings`` beside the data: ``degraded``.
- ``sample_age`` is now minus the sample's timestamp (for an instant query
  Prometheus stamps the evaluation time, so it shows clock skew or a lagging
  remote API rather than the scrape's age).
"""

from __future__ import annotations

import json
from typing import Any

from checks.probes.common import (
    REDUCERS,
    Fetched,
    Observation,
    ProbeFailed,
    build_headers,
    describe_series,
    error,
    fetch,
    judge,
    parse_number,
    several_series_error,
    shorten,
    source_of,
)
from checks.probes.context import ProbeContext
from checks.reading import Outcome
from runbooks.model import Check

#: Prometheus is asked to give up a little before we do, so its own timeout error arrives.
SERVER_TIMEOUT_SHARE = 0.9

Series = tuple[dict[str, str], float, object]  # labels, timestamp, raw value


async def probe(check: Check, ctx: ProbeContext) -> Observation:
    """Run the check's query and judge the result."""
    source = source_of(check, ctx, "prometheus")
    headers = build_headers(ctx.env, source.headers, check.spec.get("headers"), token_env=source.token_env)  # type: ignore[arg-type]
    response = await fetch(
        ctx,
        f"{source.url.rstrip('/')}/api/v1/query",
        headers=headers,
        params={
            "query": str(check.spec["query"]),
            "timeout": _prometheus_duration(check.timeout * SERVER_TIMEOUT_SHARE),
        },
        timeout=check.timeout,
        verify=source.verify_tls,
    )
    data, warnings = _data(response)
    degraded = bool(warnings)
    extra: dict[str, Any] = {"warnings": [shorten(str(w)) for w in warnings[:5]]} if warnings else {}
    try:
        series = _series(data)
        return _judge_series(check, ctx, series, degraded=degraded, extra=extra)
    except ProbeFailed as failure:
        return Observation(failure.outcome, detail=failure.detail, degraded=degraded, extra={**extra, **failure.extra})


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
        raise error(f"HTTP {status} {error_type}: {message}", error_type=error_type, http_status=status)
    if not response.ok:
        raise error(response.error_detail(), http_status=status)
    if not isinstance(document, dict):
        raise error("response is not valid JSON (truncated or malformed)", http_status=status)
    data = document.get("data")
    if document.get("status") != "success" or not isinstance(data, dict):
        raise error(f"unexpected response: status {shorten(str(document.get('status')), 40)!r}", http_status=status)
    warnings = document.get("warnings") or []
    return data, warnings if isinstance(warnings, list) else [warnings]


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
    check: Check, ctx: ProbeContext, series: list[Series], *, degraded: bool, extra: dict[str, Any]
) -> Observation:
    if not series:
        raise ProbeFailed(Outcome.NODATA, "empty vector")
    series = sorted(series, key=lambda row: sorted(row[0].items()))
    now = ctx.clock.now().timestamp()
    sample_age = max(0.0, now - min(timestamp for _, timestamp, _ in series))
    fields: dict[str, Any] = {"degraded": degraded, "sample_age": sample_age, "extra": {**extra, "series": len(series)}}
    if len(series) == 1:
        labels, _, raw = series[0]
        return judge(check, parse_number(raw, describe_series(labels) or "the value"), **fields)

    reduce = check.spec.get("reduce")
    if reduce in REDUCERS:
        values = [parse_number(raw, describe_series(labels)) for labels, _, raw in series]
        return judge(check, float(REDUCERS[reduce](values)), **fields)  # type: ignore[index]
    expect = check.spec.get("expect") or "one"
    if expect == "one":
        raise several_series_error([describe_series(labels) for labels, _, _ in series])
    return _any_or_all(check, series, expect == "all", fields)


def _any_or_all(check: Check, series: list[Series], need_all: bool, fields: dict[str, Any]) -> Observation:
    """``expect: any``: BREACH if any series breaches; ``all``: if every one does.

    A series that cannot be read (NaN, ...) makes it INVALID only when the
    readable ones do not decide the outcome on their own.
    """
    breaching: list[tuple[str, float]] = []
    passing: list[tuple[str, float]] = []
    unreadable: list[str] = []
    for labels, _, raw in series:
        name = describe_series(labels)
        try:
            value = parse_number(raw, name)
        except ProbeFailed as failure:
            unreadable.append(failure.detail)
            continue
        failing = check.pass_when is not None and not check.pass_when.holds(value)
        (breaching if failing else passing).append((name, value))

    total = len(series)
    if need_all:
        decided_breach, decided_pass = not passing and not unreadable, bool(passing)
    else:
        decided_breach, decided_pass = bool(breaching), not breaching and not unreadable
    if decided_breach:
        name, value = breaching[0]
        quantifier = "all" if need_all else f"{len(breaching)} of"
        detail = f"{quantifier} {total} series fail {check.pass_when.text}: {name} = {value:.6g}"  # type: ignore[union-attr]
        return Observation(Outcome.BREACH, value, detail, **fields)
    if decided_pass:
        name, value = passing[0]
        return Observation(Outcome.PASS, value, f"{len(passing)} of {total} series pass", **fields)
    raise ProbeFailed(Outcome.INVALID, f"{len(unreadable)} of {total} series unreadable: {unreadable[0]}")
