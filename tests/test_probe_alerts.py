"""The alerts probe's requests and its handling of bodies a real Alertmanager does not send.

Alert counting, silences, inhibition, the watchdog and Alertmanager down run
against a real Alertmanager in ``tests/integration/test_alerts_live.py``.
"""

from __future__ import annotations

from checks.reading import Outcome


def alerts_check(url: str, check_yaml: str) -> dict[str, str]:
    return {"check_yaml": f"alerts: {check_yaml}", "sources": f"am: {{kind: alertmanager, url: {url}}}"}


async def test_request_asks_for_every_state_with_repeated_filters(poll, canned_server):
    """Each matcher is one filter parameter; active, silenced, inhibited and unprocessed are all asked for."""
    canned_server.respond("[]")
    reading = await poll(**alerts_check(canned_server.url, "['severity=\"critical\"', 'team=~\"pay.*\"']\nreceiver: pager"))
    assert (reading.outcome, reading.value, reading.unit) == (Outcome.PASS, 0.0, "count")
    request = canned_server.requests[-1]
    assert request.path == "/api/v2/alerts"
    assert request.query["filter"] == ['severity="critical"', 'team=~"pay.*"']
    assert request.query["receiver"] == ["pager"]
    for flag in ("active", "silenced", "inhibited", "unprocessed"):
        assert request.query[flag] == ["true"]


async def test_watchdog_is_asked_for_on_its_own(poll, canned_server):
    """The watchdog is looked up by its name, apart from the check's matchers."""
    canned_server.respond("[]")
    canned_server.respond(
        '[{"labels": {"alertname": "Watchdog"}, "status": {"state": "active"}}]',
        where=lambda request: request.query.get("filter") == ['alertname="Watchdog"'],
    )
    reading = await poll(**alerts_check(canned_server.url, "{severity: critical}\nwatchdog: Watchdog"))
    assert (reading.outcome, reading.value) == (Outcome.PASS, 0.0)
    assert len(canned_server.requests) == 2


async def test_proxy_error_page_is_error(poll, canned_server):
    """An HTML 502 in front of Alertmanager is an error, never "no alerts"."""
    canned_server.respond("<html><h1>502 Bad Gateway</h1></html>", status=502, content_type="text/html")
    reading = await poll(**alerts_check(canned_server.url, "{severity: critical}"))
    assert reading.outcome is Outcome.ERROR
    assert reading.detail == "HTTP 502 Bad Gateway"


async def test_malformed_body_is_error(poll, canned_server):
    """A truncated or shapeless body is an error."""
    for body in ('[{"labels": {', '{"alerts": []}', '[{"labels": {}}]'):
        canned_server.respond(body)
        reading = await poll(**alerts_check(canned_server.url, "{severity: critical}"))
        assert reading.outcome is Outcome.ERROR, body
