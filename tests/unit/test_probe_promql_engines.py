"""The promql probe's handling of what Prometheus-compatible engines answer differently (VictoriaMetrics).

The same cases against a real VictoriaMetrics are in ``tests/integration/test_victoriametrics_live.py``.
"""

from __future__ import annotations

import json

from test_probe_promql import poll_query, vector

from checks.reading import Outcome


async def test_every_query_asks_for_the_time_given_not_an_offset_cache(poll, canned_server):
    """Each query carries nocache=1, so VictoriaMetrics evaluates it now rather than 30 s ago."""
    canned_server.respond(vector(({}, "0.002")))
    await poll_query(poll, canned_server, keys='pass_when: "< 1%"')
    assert canned_server.requests[-1].query["nocache"] == ["1"]


async def test_is_partial_marks_the_reading_degraded(poll, canned_server):
    """isPartial: true (a VictoriaMetrics cluster missing storage nodes) keeps the value but flags it degraded."""
    canned_server.respond(vector(({}, "0.002"), isPartial=True))
    reading = await poll_query(poll, canned_server, keys='pass_when: "< 1%"')
    assert (reading.outcome, reading.degraded) == (Outcome.PASS, True)
    assert reading.extra["warnings"] == ["partial response: some storage nodes did not answer (isPartial)"]
    canned_server.respond(vector(({}, "0.002"), isPartial=False))
    reading = await poll_query(poll, canned_server, keys='pass_when: "< 1%"')
    assert reading.degraded is False and "warnings" not in reading.extra


async def test_numeric_error_type_is_said_once(poll, canned_server):
    """VictoriaMetrics' errorType "422" (the status again) reads "HTTP 422: <message>", its type kept."""
    message = 'error when executing query="sum(x": unparsed data'
    canned_server.respond(json.dumps({"status": "error", "errorType": "422", "error": message}), status=422)
    reading = await poll_query(poll, canned_server)
    assert reading.outcome is Outcome.ERROR
    assert reading.detail == f"HTTP 422: {message}" and reading.extra["error_type"] == "422"
