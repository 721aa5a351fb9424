"""The promql probe against a real single-node VictoriaMetrics scraping the scripted target.

The same outcomes as against Prometheus (``test_promql_live.py``), and where
VictoriaMetrics answers differently, what the probe makes of it:

- it evaluates an instant query 30 s in the past (``-search.latencyOffset``)
  but stamps it now, unless asked ``nocache=1`` (the probe always asks);
- a NaN result and a string arrive as an empty vector: NODATA, not INVALID;
- a query it cannot parse is 422 with errorType "422", not 400 bad_data;
- ``scalar()`` comes back as a one-series vector.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from test_condition_lifecycle import RUNBOOK, polling
from test_promql_live import prometheus_poller

from checks.clock import ManualClock
from checks.conditions import HOLD_SLACK, ConditionEvaluator
from checks.reading import Outcome
from checks.status import BLIND_STATES, ConditionState
from checks.verdict import counts_as_firing
from runbooks.grammar import parse_threshold
from runbooks.loader import parse_runbook
from runbooks.model import Check, StopCondition

S = ConditionState


@pytest.fixture
def poll_vm(poll, victoria_metrics):
    """Poll a fresh VictoriaMetrics, for tests that change its target or stop it."""
    return prometheus_poller(poll, victoria_metrics)


@pytest.fixture
def poll_shared_vm(poll, shared_victoria_metrics):
    """Poll the module's shared VictoriaMetrics, for tests that only read."""
    return prometheus_poller(poll, shared_victoria_metrics)


async def test_value_then_breach_seen_at_once(poll_vm, victoria_metrics, target):
    """A ratio under 1% passes with a fresh sample; a rise is a breach within seconds (not 30 s late)."""
    reading = await poll_vm('auth_error_ratio\npass_when: "< 1%"')
    assert (reading.outcome, reading.value) == (Outcome.PASS, pytest.approx(0.002))
    assert reading.sample_age is not None and reading.sample_age < 5
    target.set(auth_error_ratio=0.04)
    raised = time.monotonic()
    while (reading := await poll_vm('auth_error_ratio\npass_when: "< 1%"')).outcome is not Outcome.BREACH:
        assert time.monotonic() - raised < 10, reading
        await asyncio.sleep(0.25)
    assert reading.value == pytest.approx(0.04)
    # Asked without nocache, VictoriaMetrics answers from 30 s ago (the old value, or nothing from a server this
    # young), stamped now: the probe's nocache is why it saw the breach.
    cached = httpx.get(f"{victoria_metrics.url}/api/v1/query", params={"query": "auth_error_ratio"}, timeout=5).json()
    assert all(float(row["value"][1]) == pytest.approx(0.002) for row in cached["data"]["result"]), cached
    offset = httpx.get(f"{victoria_metrics.url}/api/v1/query", params={"query": "time()"}, timeout=5).json()
    (row,) = offset["data"]["result"]
    assert 25 < row["value"][0] - float(row["value"][1]) < 35  # stamped now, evaluated 30 s earlier


async def test_empty_vector_is_nodata(poll_shared_vm):
    """A query matching nothing is an empty vector: nodata, never a pass."""
    reading = await poll_shared_vm('auth_error_ratio{route="/none"} > 0.01\npass_when: "< 1%"')
    assert (reading.outcome, reading.detail, reading.value) == (Outcome.NODATA, "empty vector", None)


async def test_nan_is_nodata_and_inf_is_invalid(poll_shared_vm):
    """VictoriaMetrics drops NaN from results: 0/0 is nodata (unknown), ±Inf is invalid, neither ever passes."""
    reading = await poll_shared_vm('vector(0) / 0\npass_when: "< 1%"')
    assert reading.outcome is Outcome.NODATA
    for query, detail in (("vector(1) / 0", "+Inf"), ("vector(-1) / 0", "-Inf")):
        reading = await poll_shared_vm(f'{query}\npass_when: "< 1%"')
        assert reading.outcome is Outcome.INVALID and detail in reading.detail


async def test_scalar_is_a_value_matrix_is_invalid_string_is_nodata(poll_shared_vm):
    """scalar() reads as one number; a range selector is invalid; a string literal comes back empty: nodata."""
    reading = await poll_shared_vm('scalar(auth_error_ratio)\npass_when: "< 1%"')
    assert (reading.outcome, reading.value) == (Outcome.PASS, pytest.approx(0.002))
    reading = await poll_shared_vm("auth_error_ratio[10s]")
    assert (reading.outcome, reading.detail) == (Outcome.INVALID, "result type matrix, expected a vector or scalar")
    reading = await poll_shared_vm("'\"hello\"'")
    assert reading.outcome is Outcome.NODATA


async def test_bad_and_failing_queries_are_errors(poll_shared_vm):
    """A query it cannot parse and one failing at evaluation are errors "HTTP 422: ..." with the engine's message."""
    reading = await poll_shared_vm("'sum(auth_error_ratio'")
    assert reading.outcome is Outcome.ERROR and reading.detail.startswith("HTTP 422: ")
    assert reading.extra["error_type"] == "422"
    reading = await poll_shared_vm("http_requests_total + on(route) http_requests_total")
    assert reading.outcome is Outcome.ERROR and reading.detail.startswith("HTTP 422: ")
    assert "cannot evaluate" in reading.detail


async def test_several_series_expect_one_is_error_reduce_max_is_not(poll_shared_vm):
    """Four counter series where one is expected is an error naming them; reduce: max gives one value."""
    reading = await poll_shared_vm("http_requests_total")
    assert reading.outcome is Outcome.ERROR and reading.detail.startswith("4 series where one was expected: ")
    reading = await poll_shared_vm("http_requests_total\nreduce: max")
    assert reading.outcome is Outcome.PASS and reading.value is not None and reading.value > 0


async def test_a_target_gone_goes_stale_within_seconds(poll_vm, target):
    """Once the target stops answering, stale markers empty the result within seconds: nodata, never the last value."""
    assert (await poll_vm('auth_error_ratio\npass_when: "< 1%"')).outcome is Outcome.PASS
    target.stop()
    gone = time.monotonic()
    while (reading := await poll_vm('auth_error_ratio\npass_when: "< 1%"')).outcome is not Outcome.NODATA:
        assert reading.outcome is Outcome.PASS and time.monotonic() - gone < 10, reading
        await asyncio.sleep(0.25)


async def test_engine_stopped_is_error(poll_vm, victoria_metrics):
    """Once VictoriaMetrics is gone every poll is an error, never a pass."""
    victoria_metrics.stop()
    reading = await poll_vm('auth_error_ratio\npass_when: "< 1%"')
    assert reading.outcome is Outcome.ERROR and reading.detail.startswith("cannot connect")


P95 = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5s])))"


async def test_quantile_inside_the_buckets_is_exact(poll_shared_vm, shared_victoria_metrics):
    """At the healthy 180 ms the p95 lies inside the buckets: an exact value, no bound."""
    shared_victoria_metrics.wait_for(P95, lambda result: 0.1 < float(result[0]["value"][1]) < 0.25, timeout=30)
    reading = await poll_shared_vm(f"'{P95}'\nunit: s\npass_when: \"< 500ms\"")
    assert reading.outcome is Outcome.PASS and 0.1 < reading.value < 0.25
    assert "lower_bound" not in reading.extra


async def test_p95_above_the_top_bucket_is_a_lower_bound_that_breaches(poll_vm, victoria_metrics, target):
    """Requests over 1 s read "≥ 1s" there too (its le="1.0"): a gate `< 500ms` fails and `> 1s` fires."""
    target.set(latency_p95=3.0)
    victoria_metrics.wait_for(P95, lambda result: len(result) == 1 and float(result[0]["value"][1]) >= 1.0, timeout=30)
    reading = await poll_vm(f"'{P95}'\nunit: s\npass_when: \"< 500ms\"")
    assert (reading.outcome, reading.value, reading.detail) == (Outcome.BREACH, 1.0, "≥ 1s fails < 500ms")
    assert reading.extra["lower_bound"] is True
    check = Check("p95", "promql", {}, every=15.0, timeout=5.0, unit="s")
    status = ConditionEvaluator(StopCondition("latency", "p95", parse_threshold("> 1s")), check, ManualClock()).observe(
        reading
    )
    assert status.state is ConditionState.FIRING


async def test_breach_fires_after_its_hold_and_goes_blind_when_the_engine_stops(victoria_metrics, target):
    """auth errors > 1% for 3s on VictoriaMetrics: pending, firing after 3s, recovering, ok; stopped: error, never ok."""
    async with polling(parse_runbook(RUNBOOK.format(url=victoria_metrics.url))) as history:
        start = await history.wait_for(S.OK)
        target.set(auth_error_ratio=0.04)
        raised = time.monotonic()
        pending = history.statuses[await history.wait_for(S.PENDING, after=start)]
        assert time.monotonic() - raised < 10  # seen at once, not after VictoriaMetrics' 30 s offset
        fired_at = await history.wait_for(S.FIRING, after=start)
        firing = history.statuses[fired_at]
        assert (firing.firing_since - pending.since).total_seconds() >= 3.0 - HOLD_SLACK
        assert firing.reason.startswith("4% > 1% for ")

        target.set(auth_error_ratio=0.002)
        recovering_at = await history.wait_for(S.RECOVERING, after=fired_at)
        assert counts_as_firing(history.statuses[recovering_at])
        await history.wait_for(S.OK, after=recovering_at)

        stopped_at = len(history.statuses)
        victoria_metrics.stop()
        await history.wait_for(S.ERROR, after=stopped_at)
        first_blind = next(i for i in range(stopped_at, len(history.statuses)) if history.states[i] in BLIND_STATES)
        assert all(state in BLIND_STATES for state in history.states[first_blind:])
