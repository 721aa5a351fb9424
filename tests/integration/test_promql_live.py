"""The promql probe against a real Prometheus scraping the scripted target."""

from __future__ import annotations

import pytest

from checks.clock import ManualClock
from checks.conditions import ConditionEvaluator
from checks.reading import Outcome, Reading
from checks.status import ConditionState, ConditionStatus
from runbooks.grammar import parse_threshold
from runbooks.model import Check, StopCondition


def prometheus_poller(poll, prometheus):
    """Poll a promql check (its YAML from the query on) against ``prometheus`` (or another engine with its API)."""

    async def run(query_and_keys: str):
        return await poll(f"promql: {query_and_keys}", sources=f"prom: {{kind: prometheus, url: {prometheus.url}}}")

    return run


@pytest.fixture
def poll_prometheus(poll, prometheus):
    """Poll a fresh Prometheus, for tests that change its target or stop it."""
    return prometheus_poller(poll, prometheus)


@pytest.fixture
def poll_shared(poll, shared_prometheus):
    """Poll the module's shared Prometheus, for tests that only read."""
    return prometheus_poller(poll, shared_prometheus)


async def test_ratio_passes_then_breaches(poll_prometheus, prometheus, target):
    """A real ratio under 1% passes; once the target's ratio rises and is scraped, it breaches."""
    reading = await poll_prometheus('auth_error_ratio\npass_when: "< 1%"')
    assert (reading.outcome, reading.value) == (Outcome.PASS, pytest.approx(0.002))
    assert reading.sample_age is not None and reading.sample_age < 5
    target.set(auth_error_ratio=0.04)
    prometheus.wait_for("auth_error_ratio > 0.01")
    reading = await poll_prometheus('auth_error_ratio\npass_when: "< 1%"')
    assert (reading.outcome, reading.value) == (Outcome.BREACH, pytest.approx(0.04))


async def test_ratio_of_rates_from_real_traffic(poll_prometheus, prometheus, target):
    """The error share computed from the counters' rates matches the scripted share."""
    target.set(auth_error_ratio=0.25, requests_per_second=200)
    query = 'sum(rate(http_requests_total{route="/auth",code="500"}[3s])) / sum(rate(http_requests_total{route="/auth"}[3s]))'
    prometheus.wait_for(query, lambda result: 0.15 < float(result[0]["value"][1]) < 0.35, timeout=30)
    reading = await poll_prometheus(f"'{query}'\npass_when: \"< 1%\"")
    assert reading.outcome is Outcome.BREACH
    assert reading.value == pytest.approx(0.25, abs=0.1)


async def test_empty_vector_is_nodata(poll_shared):
    """errors/total with no such series is an empty vector: nodata, never a pass."""
    reading = await poll_shared('auth_error_ratio{route="/none"} > 0.01\npass_when: "< 1%"')
    assert reading.outcome is Outcome.NODATA
    assert reading.detail == "empty vector"
    assert reading.value is None


@pytest.mark.parametrize(
    ("query", "detail"), [("vector(0) / 0", "NaN"), ("vector(1) / 0", "+Inf"), ("vector(-1) / 0", "-Inf")]
)
async def test_nan_and_inf_are_invalid(poll_shared, query, detail):
    """NaN and ±Inf samples are invalid, never compared."""
    reading = await poll_shared(f'{query}\npass_when: "< 1%"')
    assert reading.outcome is Outcome.INVALID
    assert detail in reading.detail


async def test_scalar_result_is_a_value(poll_shared):
    """A scalar result is one number, read like a one-series vector."""
    reading = await poll_shared('scalar(auth_error_ratio)\npass_when: "< 1%"')
    assert (reading.outcome, reading.value) == (Outcome.PASS, pytest.approx(0.002))


@pytest.mark.parametrize(("query", "result_type"), [("auth_error_ratio[10s]", "matrix"), ("'\"hello\"'", "string")])
async def test_matrix_and_string_results_are_invalid(poll_shared, query, result_type):
    """A matrix or string where a vector was expected is invalid."""
    reading = await poll_shared(query)
    assert reading.outcome is Outcome.INVALID
    assert reading.detail == f"result type {result_type}, expected a vector or scalar"


async def test_bad_query_is_error_with_error_type(poll_shared):
    """A query Prometheus cannot parse is an error with its 400 bad_data message."""
    reading = await poll_shared("'sum(auth_error_ratio'")
    assert reading.outcome is Outcome.ERROR
    assert reading.detail.startswith("HTTP 400 bad_data: ")
    assert reading.extra["error_type"] == "bad_data"


async def test_failing_execution_is_error_with_error_type(poll_shared):
    """A query failing at evaluation (many-to-many match) is a 422 execution error."""
    reading = await poll_shared("http_requests_total + on(route) http_requests_total")
    assert reading.outcome is Outcome.ERROR
    assert reading.detail.startswith("HTTP 422 execution: ")


async def test_several_series_expect_one_is_error_reduce_max_is_not(poll_shared):
    """Four counter series where one is expected is an error naming them; reduce: max gives one value."""
    reading = await poll_shared("http_requests_total")
    assert reading.outcome is Outcome.ERROR
    assert reading.detail.startswith("4 series where one was expected: ")
    assert 'http_requests_total{code="200",instance=' in reading.detail
    reading = await poll_shared("http_requests_total\nreduce: max")
    assert reading.outcome is Outcome.PASS
    assert reading.value is not None and reading.value > 0


#: The share of /auth requests that failed, from the counters' rates over 30 s.
ERROR_SHARE = (
    '(sum(rate(http_requests_total{route="/auth",code="500"}[30s])) or vector(0))'
    ' / sum(rate(http_requests_total{route="/auth"}[30s]))'
)


def judged(reading: Reading, when: str) -> ConditionStatus:
    """What a stop condition ``when`` on the reading's check makes of it."""
    check = Check("ratio", "promql", {}, every=1.0, timeout=0.9)
    return ConditionEvaluator(StopCondition("errors", "ratio", parse_threshold(when)), check, ManualClock()).observe(
        reading
    )


async def test_a_rate_whose_target_is_no_longer_scraped_vouches_for_nothing(poll_prometheus, prometheus, target):
    """The target dies: Prometheus marks its series stale, but a rate over a range keeps its last samples until they
    leave the window, so the error share read "0%, ok" for the range's length after nothing was measured any
    more. When no range selector of the query has a current series, the reading is degraded: a pass from it
    vouches for nothing (unknown), and it says why. The same rate while its target is scraped is a plain pass."""
    query, check_yaml = ERROR_SHARE, f"'{ERROR_SHARE}'\npass_when: \"< 1%\""
    prometheus.wait_for(query)
    reading = await poll_prometheus(check_yaml)
    assert reading.outcome is Outcome.PASS and not reading.degraded, reading
    target.stop()
    prometheus.wait_for('up{job="target"} == 0')
    assert prometheus.query(query)["result"], "the rate still reads the window's last samples"
    reading = await poll_prometheus(check_yaml)
    assert reading.outcome is Outcome.PASS and reading.degraded, reading
    assert any("no longer collected" in warning for warning in reading.extra["warnings"]), reading.extra
    status = judged(reading, "> 1%")
    assert status.state is ConditionState.UNKNOWN, status
    assert status.reason.startswith("partial data: its inputs are no longer collected"), status.reason


async def test_one_target_of_two_dying_makes_their_error_share_vouch_for_nothing(
    poll_prometheus, prometheus, target, second_target
):
    """Two targets feed one error share; one dies. Its series go stale, so the share soon reads as the live target's
    alone ("0.2%, ok") while the dead one, perhaps the one failing, is measured no more: the other target's series are
    current, so the inputs are not all gone. A target that fed the query lately and is down now (``up == 0``) makes
    the reading degraded: a pass from it vouches for nothing (unknown), and it names the target."""
    query, check_yaml = ERROR_SHARE, f"'{ERROR_SHARE}'\npass_when: \"< 1%\""
    prometheus.wait_for(query)
    reading = await poll_prometheus(check_yaml)
    assert reading.outcome is Outcome.PASS and not reading.degraded, reading
    instance = f"127.0.0.1:{second_target.port}"
    second_target.stop()
    prometheus.wait_for(f'up{{instance="{instance}"}} == 0')
    reading = await poll_prometheus(check_yaml)
    assert reading.outcome is Outcome.PASS and reading.degraded, reading
    down = f"a target it read lately is down ({instance} (job target))"
    assert reading.extra["warnings"] == [f"{down}: the value does not speak for it"], reading.extra
    status = judged(reading, "> 1%")
    assert status.state is ConditionState.UNKNOWN, status
    assert status.reason.startswith(f"partial data: {down}"), status.reason


async def test_no_data_taken_as_a_pass_is_not_when_the_querys_inputs_are_no_longer_scraped(
    poll_prometheus, prometheus, target
):
    """A filter's empty result ("no route above its error budget") with ``on_nodata: pass`` read as a pass after the
    target died too: an empty result then says nothing. When no range selector has a current series, though some
    had within its range, the empty result is unknown whatever ``on_nodata`` says, and says why."""
    check_yaml = "'sum(rate(http_requests_total{route=\"/auth\"}[30s])) > 1e9'\non_nodata: pass"
    prometheus.wait_for('sum(rate(http_requests_total{route="/auth"}[30s]))')
    reading = await poll_prometheus(check_yaml)
    assert reading.outcome is Outcome.PASS and reading.detail == "empty vector (on_nodata: pass)", reading
    target.stop()
    prometheus.wait_for('up{job="target"} == 0')
    reading = await poll_prometheus(check_yaml)
    assert (reading.outcome, reading.degraded) == (Outcome.NODATA, True), reading
    assert reading.detail.startswith("empty vector, and its inputs are no longer collected"), reading.detail


async def test_prometheus_stopped_mid_run_is_error(poll_prometheus, prometheus):
    """Once Prometheus is gone every poll is an error, never a pass."""
    assert (await poll_prometheus('auth_error_ratio\npass_when: "< 1%"')).outcome is Outcome.PASS
    prometheus.stop()
    reading = await poll_prometheus('auth_error_ratio\npass_when: "< 1%"')
    assert reading.outcome is Outcome.ERROR
    assert reading.detail.startswith("cannot connect")


# -- histogram_quantile above the top bucket (the target's buckets end at le="1") -------------

P95 = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5s])))"


def settled(value: float):
    """A wait_for predicate: the single result equals ``value``."""
    return lambda result: len(result) == 1 and float(result[0]["value"][1]) == value


async def test_p95_above_the_top_bucket_is_a_lower_bound_that_breaches(poll_prometheus, prometheus, target):
    """Requests over 1 s read "≥ 1s": a gate `< 500ms` fails and a stop condition `> 1s` fires (not "1s, not > 1s")."""
    target.set(latency_p95=3.0)
    prometheus.wait_for(P95, settled(1.0), timeout=30)
    reading = await poll_prometheus(f"'{P95}'\nunit: s\npass_when: \"< 500ms\"")
    assert (reading.outcome, reading.value, reading.detail) == (Outcome.BREACH, 1.0, "≥ 1s fails < 500ms")
    assert reading.extra["lower_bound"] is True

    check = Check("p95", "promql", {}, every=15.0, timeout=5.0, unit="s")
    condition = StopCondition("latency", "p95", parse_threshold("> 1s"))
    status = ConditionEvaluator(condition, check, ManualClock()).observe(reading)
    assert status.state is ConditionState.FIRING
    assert status.reason.startswith("≥ 1s > 1s")

    undecided = await poll_prometheus(f"'{P95}'\nunit: s\npass_when: \"< 2s\"")
    assert (undecided.outcome, undecided.detail) == (Outcome.INVALID, "≥ 1s: cannot tell whether < 2s")


async def test_per_route_quantiles_above_the_top_bucket(poll_prometheus, prometheus, target):
    """With `by (le, route)` each route's quantile is matched with its own buckets."""
    query = "histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket[5s])))"
    target.set(latency_p95=3.0)
    prometheus.wait_for(
        query, lambda result: len(result) == 2 and all(float(r["value"][1]) == 1.0 for r in result), timeout=30
    )
    reading = await poll_prometheus(f"'{query}'\nexpect: all\npass_when: \"< 500ms\"")
    assert (reading.outcome, reading.value) == (Outcome.BREACH, 1.0)
    assert reading.detail.startswith("all 2 series fail < 500ms: ")
    assert reading.extra["lower_bound"] is True


async def test_quantile_inside_the_buckets_is_exact(poll_shared, shared_prometheus):
    """At the healthy 180 ms the p95 lies inside the buckets: an exact value, no bound."""
    shared_prometheus.wait_for(P95, lambda result: 0.1 < float(result[0]["value"][1]) < 0.25, timeout=30)
    reading = await poll_shared(f"'{P95}'\nunit: s\npass_when: \"< 500ms\"")
    assert reading.outcome is Outcome.PASS
    assert 0.1 < reading.value < 0.25
    assert "lower_bound" not in reading.extra


async def test_maximum_exactly_on_the_top_bound_is_exact(poll_prometheus, prometheus, target):
    """histogram_quantile(1, ...) of requests of at most 1 s is exactly 1 s, not a lower bound."""
    query = "histogram_quantile(1, sum by (le) (rate(http_request_duration_seconds_bucket[5s])))"
    target.set(latency_p95=0.8)  # the slowest requests take 0.8 × 1.25 = 1 s: in the le="1" bucket
    prometheus.wait_for(query, settled(1.0), timeout=30)
    reading = await poll_prometheus(f"'{query}'\nunit: s\npass_when: \"<= 1s\"")
    assert (reading.outcome, reading.value) == (Outcome.PASS, 1.0)
    assert "lower_bound" not in reading.extra


async def test_wrapped_quantile_above_the_top_bucket_cannot_be_judged(poll_prometheus, prometheus, target):
    """max(histogram_quantile(...)) above the top bucket is invalid: which value is a bound cannot be told."""
    query = "max(histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket[5s]))))"
    target.set(latency_p95=3.0)
    prometheus.wait_for(query, settled(1.0), timeout=30)
    reading = await poll_prometheus(f"'{query}'\nunit: s\npass_when: \"< 500ms\"")
    assert reading.outcome is Outcome.INVALID
    assert "above its top bucket (le=1)" in reading.detail
