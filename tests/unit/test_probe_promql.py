"""The promql probe against a real HTTP server sending bytes a real Prometheus will not produce on demand.

The cases a real Prometheus produces (empty vector, NaN, bad queries, result
types, several series) are in ``tests/integration/test_promql_live.py``.
"""

from __future__ import annotations

import json
import time

import pytest

from checks.reading import Outcome


def sources(url: str, extra: str = "") -> str:
    return f"prom: {{kind: prometheus, url: {url}{extra}}}"


def vector(*series: tuple[dict[str, str], str], **document: object) -> str:
    """A successful instant-query response with ``series`` as (labels, value)."""
    now = time.time()
    result = [{"metric": labels, "value": [now, value]} for labels, value in series]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}, **document})


async def poll_query(poll, server, query: str = "auth_error_ratio", keys: str = "", **options):
    return await poll(
        f"promql: {query}\n{keys}", sources=sources(server.url, options.pop("source_extra", "")), **options
    )


async def test_single_series_value_and_sample_age(poll, canned_server):
    """One series gives its value (a float), judged by pass_when, with the sample's age."""
    canned_server.respond(vector(({"job": "api"}, "0.004")))
    reading = await poll_query(poll, canned_server, keys='pass_when: "< 1%"')
    assert (reading.outcome, reading.value) == (Outcome.PASS, pytest.approx(0.004))
    assert reading.sample_age is not None and 0 <= reading.sample_age < 5
    query = canned_server.requests[-1].query
    assert query["query"] == ["auth_error_ratio"]
    assert query["timeout"] == ["4500ms"]  # Prometheus gives up before the probe's 5s


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
async def test_two_series_when_one_expected_is_error_in_either_order(poll, canned_server, order):
    """Two series where one is expected is an error naming both, whatever their order."""
    series = [({"route": "/a"}, "0.5"), ({"route": "/b"}, "0.001")]
    canned_server.respond(vector(*(series[i] for i in order)))
    reading = await poll_query(poll, canned_server, keys='pass_when: "< 1%"')
    assert reading.outcome is Outcome.ERROR
    assert reading.detail == '2 series where one was expected: {route="/a"}, {route="/b"}'


@pytest.mark.parametrize(("reduce", "value"), [("max", 0.5), ("min", 0.001), ("sum", 0.501)])
async def test_reduce_several_series(poll, canned_server, reduce, value):
    """reduce max/min/sum makes one value of several series."""
    canned_server.respond(vector(({"route": "/a"}, "0.5"), ({"route": "/b"}, "0.001")))
    reading = await poll_query(poll, canned_server, keys=f"reduce: {reduce}")
    assert reading.value == pytest.approx(value)


@pytest.mark.parametrize(
    ("expect", "values", "outcome"),
    [
        ("any", ("0.5", "0.001"), Outcome.BREACH),
        ("any", ("0.002", "0.001"), Outcome.PASS),
        ("all", ("0.5", "0.001"), Outcome.PASS),
        ("all", ("0.5", "0.2"), Outcome.BREACH),
        ("any", ("0.5", "NaN"), Outcome.BREACH),
        ("any", ("0.001", "NaN"), Outcome.INVALID),
        ("all", ("0.001", "NaN"), Outcome.PASS),
        ("all", ("0.5", "NaN"), Outcome.INVALID),
    ],
)
async def test_expect_any_or_all(poll, canned_server, expect, values, outcome):
    """any breaches when one series breaches, all when every one does; NaN only matters when it could decide."""
    canned_server.respond(vector(({"route": "/a"}, values[0]), ({"route": "/b"}, values[1])))
    reading = await poll_query(poll, canned_server, keys=f'expect: {expect}\npass_when: "< 1%"')
    assert reading.outcome is outcome


async def test_reduce_with_nan_series_is_invalid(poll, canned_server):
    """A NaN among series being reduced makes the result invalid, not the max of the rest."""
    canned_server.respond(vector(({"route": "/a"}, "NaN"), ({"route": "/b"}, "0.001")))
    reading = await poll_query(poll, canned_server, keys="reduce: max")
    assert reading.outcome is Outcome.INVALID


@pytest.mark.parametrize(
    ("status", "error_type", "message"),
    [
        (400, "bad_data", 'invalid parameter "query": 1:5: parse error: unclosed left parenthesis'),
        (422, "execution", "many-to-many matching not allowed: matching labels must be unique on one side"),
        (503, "timeout", "query timed out in expression evaluation"),
        (200, "internal", "something went wrong"),
    ],
)
async def test_prometheus_error_body_is_error_with_type_and_message(poll, canned_server, status, error_type, message):
    """400 bad_data, 422 execution, 503 timeout and a 200 with status:error are errors naming errorType."""
    canned_server.respond(json.dumps({"status": "error", "errorType": error_type, "error": message}), status=status)
    reading = await poll_query(poll, canned_server)
    assert reading.outcome is Outcome.ERROR
    assert reading.detail == f"HTTP {status} {error_type}: {message}"
    assert reading.extra["error_type"] == error_type


async def test_plain_text_503_is_error_with_its_first_line(poll, canned_server):
    """A plain-text 503 is an error "HTTP 503 Service Unavailable: <first line>"."""
    canned_server.respond("Service Unavailable\nretry later\n", status=503, content_type="text/plain")
    reading = await poll_query(poll, canned_server)
    assert reading.outcome is Outcome.ERROR
    assert reading.detail == "HTTP 503 Service Unavailable: Service Unavailable"


async def test_proxy_html_502_is_error_without_markup(poll, canned_server):
    """An HTML 502 from a proxy is the error "HTTP 502 Bad Gateway", no HTML dumped."""
    canned_server.respond(
        "<html><body><h1>502 Bad Gateway</h1>" + "x" * 5000 + "</body></html>", status=502, content_type="text/html"
    )
    reading = await poll_query(poll, canned_server)
    assert reading.outcome is Outcome.ERROR
    assert reading.detail == "HTTP 502 Bad Gateway"


@pytest.mark.parametrize("body", [vector(({}, "0.1"))[:40], "not json", "[1, 2]", '{"status": "success"}'])
async def test_truncated_or_malformed_json_is_error(poll, canned_server, body):
    """A truncated, non-JSON or shapeless 200 body is an error, never a pass."""
    canned_server.respond(body)
    reading = await poll_query(poll, canned_server)
    assert reading.outcome is Outcome.ERROR


async def test_warnings_mark_the_reading_degraded(poll, canned_server):
    """warnings beside the data keep the value but flag it degraded."""
    canned_server.respond(vector(({}, "0.002"), warnings=["remote store store-2 unreachable, results partial"]))
    reading = await poll_query(poll, canned_server, keys='pass_when: "< 1%"')
    assert reading.outcome is Outcome.PASS
    assert reading.degraded is True
    assert reading.extra["warnings"] == ["remote store store-2 unreachable, results partial"]


async def test_warnings_kept_when_result_is_empty(poll, canned_server):
    """An empty vector with warnings is nodata and still degraded."""
    canned_server.respond(vector(warnings=["partial"]))
    reading = await poll_query(poll, canned_server)
    assert (reading.outcome, reading.degraded) == (Outcome.NODATA, True)


async def test_bearer_token_and_tenant_header_are_sent(poll, canned_server):
    """token_env becomes a bearer token and ${TENANT} in a source header is expanded per request."""
    canned_server.respond(vector(({}, "1")))
    token = f"fake-token-{time.monotonic_ns()}"
    reading = await poll_query(
        poll,
        canned_server,
        source_extra=', token_env: PROM_TOKEN, headers: {X-Scope-OrgID: "${TENANT}"}',
        env={"PROM_TOKEN": token, "TENANT": "acme"},
    )
    assert reading.outcome is Outcome.PASS
    headers = canned_server.requests[-1].headers
    assert headers["authorization"] == f"Bearer {token}"
    assert headers["x-scope-orgid"] == "acme"
    assert token not in reading.detail


async def test_missing_token_variable_is_error_and_sends_nothing(poll, canned_server):
    """An unset token_env variable is an error naming it; no unauthenticated query goes out."""
    reading = await poll_query(poll, canned_server, source_extra=", token_env: PROM_TOKEN", env={})
    assert reading.outcome is Outcome.ERROR
    assert reading.detail == "environment variable PROM_TOKEN is not set"
    assert canned_server.requests == []


# -- histogram_quantile above the top bucket -------------------------------------------------

INNER = "sum by (le) (rate(http_request_duration_seconds_bucket[5m]))"
P95 = f"'histogram_quantile(0.95, {INNER})'"
EVALUATED_AT = 1767225600.123


def at_time(*series: tuple[dict[str, str], str]) -> str:
    """A vector stamped with ``EVALUATED_AT``, as Prometheus stamps an instant query."""
    result = [{"metric": labels, "value": [EVALUATED_AT, value]} for labels, value in series]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})


def buckets(counts: dict[str, str], **labels: str) -> list[tuple[dict[str, str], str]]:
    return [({**labels, "le": le}, count) for le, count in counts.items()]


OVERFLOW = {"0.5": "10", "1": "15", "+Inf": "20"}  # rank 19 of 20 is above le=1
EXACT = {"0.5": "10", "1": "19", "+Inf": "20"}  # rank 19 lands on le=1's count: exactly 1


def serve_quantile(server, result: str, bucket_series: list, inner: str = INNER) -> None:
    server.respond(result)
    server.respond(at_time(*bucket_series), where=lambda r: r.query.get("query") == [inner])


def bucket_requests(server, inner: str = INNER) -> list:
    return [r for r in server.requests if r.query.get("query") == [inner]]


@pytest.mark.parametrize(
    ("pass_when", "outcome", "detail"),
    [
        ("", Outcome.PASS, "≥ 1s (above the top bucket)"),
        ('pass_when: "> 500ms"', Outcome.PASS, "≥ 1s (above the top bucket)"),
        ('pass_when: "< 500ms"', Outcome.BREACH, "≥ 1s fails < 500ms"),
        ('pass_when: "<= 1s"', Outcome.BREACH, "≥ 1s fails <= 1s"),
        ('pass_when: "< 2s"', Outcome.INVALID, "≥ 1s: cannot tell whether < 2s"),
    ],
)
async def test_quantile_above_the_top_bucket_is_a_lower_bound(poll, canned_server, pass_when, outcome, detail):
    """The top finite bound returned for a quantile in +Inf is a lower bound, judged for every value above it."""
    serve_quantile(canned_server, at_time(({}, "1")), buckets(OVERFLOW))
    reading = await poll_query(poll, canned_server, P95, f"unit: s\n{pass_when}")
    assert (reading.outcome, reading.value, reading.detail) == (outcome, 1.0, detail)
    assert reading.extra["lower_bound"] is True
    [asked] = bucket_requests(canned_server)
    assert asked.query["time"] == [repr(EVALUATED_AT)]  # the same evaluation as the quantile


async def test_quantile_on_the_top_bound_exactly_is_exact(poll, canned_server):
    """A rank landing exactly on the top bucket's count gives an exact 1s, not a lower bound."""
    serve_quantile(canned_server, at_time(({}, "1")), buckets(EXACT))
    reading = await poll_query(poll, canned_server, P95, 'pass_when: "< 2s"')
    assert (reading.outcome, reading.value) == (Outcome.PASS, 1.0)
    assert "lower_bound" not in reading.extra


async def test_quantile_below_the_top_bound_is_exact(poll, canned_server):
    """A value inside the buckets is exact, whatever the counts."""
    serve_quantile(canned_server, at_time(({}, "0.75")), buckets(OVERFLOW))
    reading = await poll_query(poll, canned_server, P95, 'pass_when: "< 2s"')
    assert (reading.outcome, reading.value) == (Outcome.PASS, 0.75)
    assert "lower_bound" not in reading.extra


async def test_unknown_phi_falls_back_to_the_top_bound(poll, canned_server):
    """With φ not a number, a value equal to the top finite bound is taken as a lower bound."""
    inner = "sum by (le) (rate(d_bucket[5m]))"
    serve_quantile(canned_server, at_time(({}, "1")), buckets(EXACT), inner)
    reading = await poll_query(poll, canned_server, f"'histogram_quantile(scalar(phi), {inner})'", 'pass_when: "< 2s"')
    assert reading.outcome is Outcome.INVALID
    assert reading.extra["lower_bound"] is True


async def test_per_series_bounds_with_expect_any(poll, canned_server):
    """By route: the route above its top bucket breaches `< 500ms`, the other is exact."""
    inner = "sum by (le, route) (rate(d_bucket[5m]))"
    serve_quantile(
        canned_server,
        at_time(({"route": "/api"}, "0.3"), ({"route": "/auth"}, "1")),
        [*buckets(OVERFLOW, route="/auth"), *buckets(OVERFLOW, route="/api")],
        inner,
    )
    reading = await poll_query(
        poll, canned_server, f"'histogram_quantile(0.95, {inner})'", 'expect: any\npass_when: "< 500ms"'
    )
    assert (reading.outcome, reading.value) == (Outcome.BREACH, 1.0)
    assert reading.detail == '1 of 2 series fail < 500ms: {route="/auth"} ≥ 1'
    assert reading.extra["lower_bound"] is True


async def test_undecidable_series_makes_expect_all_invalid_only_when_it_matters(poll, canned_server):
    """`< 2s` cannot be told for a series above 1s: invalid unless another series decides."""
    inner = "sum by (le, route) (rate(d_bucket[5m]))"
    both = [*buckets(OVERFLOW, route="/auth"), *buckets(OVERFLOW, route="/api")]
    serve_quantile(canned_server, at_time(({"route": "/api"}, "0.3"), ({"route": "/auth"}, "1")), both, inner)
    query = f"'histogram_quantile(0.95, {inner})'"
    reading = await poll_query(poll, canned_server, query, 'expect: all\npass_when: "< 2s"')
    assert reading.outcome is Outcome.PASS  # /api passes, so not all fail
    reading = await poll_query(poll, canned_server, query, 'expect: any\npass_when: "< 2s"')
    assert reading.outcome is Outcome.INVALID
    assert "cannot tell whether < 2s" in reading.detail


@pytest.mark.parametrize(
    ("reduce", "values", "outcome", "lower"),
    [
        ("max", ("1", "0.3"), Outcome.BREACH, True),  # the maximum is the lower bound
        ("sum", ("1", "0.3"), Outcome.BREACH, True),
        ("min", ("1", "0.3"), Outcome.PASS, False),  # an exact series attains the minimum
        ("min", ("1", "1"), Outcome.BREACH, True),
    ],
)
async def test_reduce_keeps_a_lower_bound_where_it_decides(poll, canned_server, reduce, values, outcome, lower):
    """max and sum of a lower bound are lower bounds; min is exact when an exact series attains it."""
    inner = "sum by (le, route) (rate(d_bucket[5m]))"
    auth_counts = OVERFLOW
    api_counts = OVERFLOW if values[1] == "1" else EXACT
    serve_quantile(
        canned_server,
        at_time(({"route": "/auth"}, values[0]), ({"route": "/api"}, values[1])),
        [*buckets(auth_counts, route="/auth"), *buckets(api_counts, route="/api")],
        inner,
    )
    reading = await poll_query(
        poll, canned_server, f"'histogram_quantile(0.95, {inner})'", f'reduce: {reduce}\npass_when: "< 900ms"'
    )
    assert reading.outcome is outcome
    assert reading.extra.get("lower_bound", False) is lower


async def test_max_below_an_exact_maximum_cannot_be_told(poll, canned_server):
    """A series above its own low top bucket may or may not exceed another series' exact maximum."""
    inner = "sum by (le, route) (rate(d_bucket[5m]))"
    low_top = {"0.25": "1", "0.5": "2", "+Inf": "20"}
    serve_quantile(
        canned_server,
        at_time(({"route": "/auth"}, "0.5"), ({"route": "/api"}, "0.75")),
        [*buckets(low_top, route="/auth"), *buckets(OVERFLOW, route="/api")],
        inner,
    )
    reading = await poll_query(
        poll, canned_server, f"'histogram_quantile(0.95, {inner})'", 'reduce: max\npass_when: "< 900ms"'
    )
    assert reading.outcome is Outcome.INVALID
    assert reading.detail == '{route="/auth"} lies above its top bucket: the maximum cannot be told'


async def test_call_inside_an_expression_above_its_top_bucket_is_invalid(poll, canned_server):
    """max(histogram_quantile(...)) cannot say which value is a bound: above the top bucket it cannot be judged."""
    inner = "sum by (le, route) (rate(d_bucket[5m]))"
    serve_quantile(
        canned_server, at_time(({}, "1")), [*buckets(OVERFLOW, route="/auth"), *buckets(EXACT, route="/api")], inner
    )
    reading = await poll_query(poll, canned_server, f"'max(histogram_quantile(0.95, {inner}))'", 'pass_when: "< 2s"')
    assert reading.outcome is Outcome.INVALID
    assert (
        reading.detail
        == "histogram_quantile inside the query lies above its top bucket (le=1): the result cannot be judged"
    )


async def test_call_inside_an_expression_within_its_buckets_is_judged(poll, canned_server):
    """When no group's quantile is above its top bucket, the wrapped result is judged as usual."""
    inner = "sum by (le, route) (rate(d_bucket[5m]))"
    serve_quantile(canned_server, at_time(({}, "0.9")), [*buckets(EXACT, route="/auth")], inner)
    reading = await poll_query(poll, canned_server, f"'max(histogram_quantile(0.95, {inner}))'", 'pass_when: "< 2s"')
    assert (reading.outcome, reading.value) == (Outcome.PASS, 0.9)


async def test_bucket_query_error_is_an_error(poll, canned_server):
    """When the buckets cannot be read, whether the value is a bound is unknown: an error."""
    canned_server.respond(at_time(({}, "1")))
    canned_server.respond(
        json.dumps({"status": "error", "errorType": "timeout", "error": "query timed out"}),
        status=503,
        where=lambda r: r.query.get("query") == [INNER],
    )
    reading = await poll_query(poll, canned_server, P95, 'pass_when: "< 2s"')
    assert reading.outcome is Outcome.ERROR
    assert reading.detail == "reading the buckets of histogram_quantile: HTTP 503 timeout: query timed out"


async def test_bucket_query_warnings_degrade_the_reading(poll, canned_server):
    """Warnings on the bucket query mark the reading degraded, as on the main query."""
    canned_server.respond(at_time(({}, "0.4")))
    body = json.loads(at_time(*buckets(OVERFLOW)))
    body["warnings"] = ["partial response"]
    canned_server.respond(json.dumps(body), where=lambda r: r.query.get("query") == [INNER])
    canned_server.respond(at_time(), where=asks_whether_inputs_are_collected)  # they are
    reading = await poll_query(poll, canned_server, P95, 'pass_when: "< 2s"')
    assert (reading.outcome, reading.degraded) == (Outcome.PASS, True)
    assert reading.extra["warnings"] == ["partial response"]


def asks_whether_inputs_are_collected(request) -> bool:
    """The question ``checks.probes.inputs`` asks after a value from range selectors."""
    return request.query.get("query", [""])[0].startswith("(count(last_over_time(")


@pytest.mark.parametrize(
    ("answer", "status", "degraded", "warning"),
    [
        (at_time(), 200, False, None),  # no selector lost its series
        (at_time(({}, "2")), 200, True, "its inputs are no longer collected (errors, requests: no current series"),
        (at_time(({"job": "api", "instance": "10.0.0.7:9100"}, "0")), 200, True,
         "a target it read lately is down (10.0.0.7:9100 (job api)): the value does not speak for it"),
        ('{"status":"error","errorType":"bad_data","error":"unknown function last_over_time"}', 400, False, None),
        ('{"status":"error","errorType":"execution","error":"query timed out"}', 503, True, "cannot tell whether"),
    ],
)  # fmt: skip
async def test_a_value_from_range_selectors_asks_whether_they_are_still_collected(
    poll, canned_server, answer, status, degraded, warning
):
    """Every selector without a current series (the target is not scraped any more), or one target that fed it lately
    down now (one pod of three, the failing one), makes the value's pass vouch for nothing; an engine that refuses
    the question (no ``last_over_time``) leaves it as it was; a failed question is a reading nobody can vouch for
    either."""
    canned_server.respond(at_time(({}, "0.002")))
    canned_server.respond(answer, status=status, where=asks_whether_inputs_are_collected)
    reading = await poll_query(poll, canned_server, "'sum(rate(errors[5m])) / sum(rate(requests[5m]))'")
    assert (reading.outcome, reading.value, reading.degraded) == (Outcome.PASS, 0.002, degraded)
    asked = [r.query["query"][0] for r in canned_server.requests if asks_whether_inputs_are_collected(r)]
    assert asked == ["(count(last_over_time(errors[5m])) or count(last_over_time(requests[5m])))"
                     " unless (count(errors) or count(requests))"
                     " or (up == 0) and on (job, instance) (count by (job, instance) (last_over_time(errors[5m]))"
                     " or count by (job, instance) (last_over_time(errors[15m]))"
                     " or count by (job, instance) (last_over_time(requests[5m]))"
                     " or count by (job, instance) (last_over_time(requests[15m])))"]  # fmt: skip
    assert canned_server.requests[-1].query["time"] == [repr(EVALUATED_AT)]  # at the value's evaluation time
    if warning:
        assert any(w.startswith(warning) for w in reading.extra["warnings"]), reading.extra


@pytest.mark.parametrize(
    ("answer", "status", "outcome", "detail"),
    [
        (at_time(), 200, Outcome.PASS, "empty vector (on_nodata: pass)"),  # its inputs are collected: no errors
        (at_time(({}, "1")), 200, Outcome.NODATA, "empty vector, and its inputs are no longer collected (errors: no"),
        (at_time(({"job": "api", "instance": "10.0.0.7:9100"}, "0")), 200, Outcome.NODATA,
         "empty vector, and a target it read lately is down (10.0.0.7:9100 (job api))"),
        ('{"status":"error","errorType":"execution","error":"query timed out"}', 503, Outcome.NODATA,
         "empty vector, and cannot tell whether its inputs are still collected"),
    ],
)  # fmt: skip
async def test_an_empty_result_taken_as_a_pass_asks_whether_its_inputs_are_still_collected(
    poll, canned_server, answer, status, outcome, detail
):
    """``on_nodata: pass`` takes "no route over budget" for good news; from a target no longer scraped it is no news."""
    canned_server.respond(at_time())
    canned_server.respond(answer, status=status, where=asks_whether_inputs_are_collected)
    reading = await poll_query(poll, canned_server, "'sum(rate(errors[5m])) > 0.01'", "on_nodata: pass")
    assert reading.outcome is outcome and reading.detail.startswith(detail), reading
    assert reading.degraded is (outcome is Outcome.NODATA)
    asked = sum(map(asks_whether_inputs_are_collected, canned_server.requests))
    unmapped = await poll_query(poll, canned_server, "'sum(rate(errors[5m])) > 0.01'")
    assert unmapped.outcome is Outcome.NODATA and unmapped.detail == "empty vector"
    assert sum(map(asks_whether_inputs_are_collected, canned_server.requests)) == asked  # unknown anyway: not asked


async def test_sources_without_buckets_change_nothing(poll, canned_server):
    """Bucket series without le (a native histogram, a recording rule) give no bound: the value stands."""
    serve_quantile(canned_server, at_time(({}, "1")), [({"job": "x"}, "3")])
    reading = await poll_query(poll, canned_server, P95, 'pass_when: "< 2s"')
    assert (reading.outcome, reading.value) == (Outcome.PASS, 1.0)
    assert "lower_bound" not in reading.extra


async def test_no_bucket_query_without_histogram_quantile_or_a_value(poll, canned_server):
    """The bucket query runs only for histogram_quantile with a finite result."""
    canned_server.respond(at_time(({}, "1")))
    await poll_query(poll, canned_server, "auth_error_ratio", 'pass_when: "< 2s"')
    assert len(canned_server.requests) == 1
    canned_server.respond(at_time(({}, "NaN")))
    reading = await poll_query(poll, canned_server, P95, 'pass_when: "< 2s"')
    assert reading.outcome is Outcome.INVALID
    assert len(canned_server.requests) == 2
