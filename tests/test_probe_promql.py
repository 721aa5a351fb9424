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
    return await poll(f"promql: {query}\n{keys}", sources=sources(server.url, options.pop("source_extra", "")), **options)


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
    canned_server.respond("<html><body><h1>502 Bad Gateway</h1>" + "x" * 5000 + "</body></html>", status=502, content_type="text/html")
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
