"""The alerts probe's requests and its handling of bodies a real Alertmanager does not send.

Alert counting, silences, inhibition, the watchdog and Alertmanager down run
against a real Alertmanager in ``tests/integration/test_alerts_live.py``; here,
the look-ups of silences and inhibitors (cache, bounds, failures) and matching.
"""

from __future__ import annotations

import json
import time

import pytest

from checks.clock import ManualClock
from checks.conditions import ConditionEvaluator
from checks.probes import run_probe
from checks.probes.alerts import DETAIL_REFRESH, MAX_LISTED, MAX_SILENCE_LOOKUPS, matches
from checks.probes.context import ExpectedSilence, expected_silences
from checks.reading import Outcome
from checks.status import ConditionState
from runbooks.grammar import parse_threshold
from runbooks.loader import parse_runbook
from runbooks.model import StopCondition


def alerts_check(url: str, check_yaml: str) -> dict[str, str]:
    return {"check_yaml": f"alerts: {check_yaml}", "sources": f"am: {{kind: alertmanager, url: {url}}}"}


async def test_request_asks_for_every_state_with_repeated_filters(poll, canned_server):
    """Each matcher is one filter parameter; active, silenced, inhibited and unprocessed are all asked for."""
    canned_server.respond("[]")
    reading = await poll(
        **alerts_check(canned_server.url, "['severity=\"critical\"', 'team=~\"pay.*\"']\nreceiver: pager")
    )
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


# -- suppressed alerts: what they mean, what suppresses them -------------------------------

START = "2026-01-01T00:00:00Z"  # ManualClock's default start


def alert(
    name: str, state: str = "suppressed", *, silenced_by=(), inhibited_by=(), severity: str = "critical", **labels
) -> dict:
    return {
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {},
        "startsAt": START,
        "fingerprint": f"fp-{name}",
        "status": {"state": state, "silencedBy": list(silenced_by), "inhibitedBy": list(inhibited_by)},
    }


def silence(silence_id: str, ends_at: str = "2026-01-01T14:05:00.000Z") -> str:
    return json.dumps(
        {
            "id": silence_id,
            "createdBy": "alice",
            "comment": "leftover maintenance",
            "startsAt": START,
            "endsAt": ends_at,
            "status": {"state": "active"},
            "matchers": [{"name": "alertname", "value": "Disk.*", "isRegex": True, "isEqual": True}],
        }
    )


def serve(server, alerts: list[dict], *, everything: list[dict] | None = None) -> None:
    """The check's filtered alert list, and (unfiltered) the whole list inhibitors are looked up in."""
    server.respond(json.dumps(everything if everything is not None else alerts))
    server.respond(json.dumps(alerts), where=lambda r: "filter" in r.query)


def requests_to(server, prefix: str, *, filtered: bool | None = None) -> int:
    return sum(
        1
        for r in server.requests
        if r.path.startswith(prefix) and (filtered is None or ("filter" in r.query) == filtered)
    )


@pytest.fixture
def alerts_context(make_context, canned_server):
    """A context with an alerts check ``probe`` on the canned server, and a hand-moved clock."""

    def build(check_yaml: str = "{severity: critical}"):
        clock = ManualClock()
        return make_context(**alerts_check(canned_server.url, check_yaml), clock=clock), clock

    return build


async def test_silence_is_shown_and_looked_up_once(alerts_context, canned_server):
    """The silence's author, comment and end are shown; polling again reuses them until they are due."""
    serve(canned_server, [alert("DiskFull", silenced_by=["s1"]), alert("DiskSlow", silenced_by=["s1"])])
    canned_server.respond(silence("s1"), where=lambda r: r.path.startswith("/api/v2/silence/"))
    ctx, clock = alerts_context()
    reading = await run_probe(ctx.runbook.checks["probe"], ctx)
    assert (reading.outcome, reading.degraded) == (Outcome.NODATA, True)
    assert reading.detail == "2 critical alerts silenced until 14:05 UTC — cannot vouch"
    shown = reading.extra["suppressed"][0]["silences"][0]
    assert shown == {
        "id": "s1",
        "created_by": "alice",
        "comment": "leftover maintenance",
        "starts_at": START,
        "ends_at": "2026-01-01T14:05:00.000Z",
        "state": "active",
        "matchers": ['alertname=~"Disk.*"'],
    }
    assert requests_to(canned_server, "/api/v2/silence/") == 1

    clock.advance(DETAIL_REFRESH - 1)
    await run_probe(ctx.runbook.checks["probe"], ctx)
    assert requests_to(canned_server, "/api/v2/silence/") == 1
    clock.advance(1)
    await run_probe(ctx.runbook.checks["probe"], ctx)
    assert requests_to(canned_server, "/api/v2/silence/") == 2


async def test_silence_past_its_end_is_looked_up_again(alerts_context, canned_server):
    """A cached silence whose end has passed is asked for again (it may have been extended)."""
    serve(canned_server, [alert("DiskFull", silenced_by=["s1"])])
    canned_server.respond(silence("s1", "2026-01-01T00:00:10Z"), where=lambda r: r.path.startswith("/api/v2/silence/"))
    ctx, clock = alerts_context()
    await run_probe(ctx.runbook.checks["probe"], ctx)
    canned_server.respond(silence("s1", "2026-01-01T02:00:00Z"), where=lambda r: r.path.startswith("/api/v2/silence/"))
    clock.advance(11)
    reading = await run_probe(ctx.runbook.checks["probe"], ctx)
    assert requests_to(canned_server, "/api/v2/silence/") == 2
    assert reading.detail == "1 critical alert silenced until 02:00 UTC — cannot vouch"


async def test_silence_lookups_are_bounded_per_poll(alerts_context, canned_server):
    """Many silences are looked up a bounded number per poll; the rest on later polls."""
    count = MAX_SILENCE_LOOKUPS * 2 + 5
    serve(canned_server, [alert(f"A{i}", silenced_by=[f"s{i}"]) for i in range(count)])
    canned_server.respond(silence("any"), where=lambda r: r.path.startswith("/api/v2/silence/"))
    ctx, _ = alerts_context()
    seen = []
    for _ in range(4):
        reading = await run_probe(ctx.runbook.checks["probe"], ctx)
        seen.append(requests_to(canned_server, "/api/v2/silence/"))
        assert reading.outcome is Outcome.NODATA
    assert seen == [MAX_SILENCE_LOOKUPS, 2 * MAX_SILENCE_LOOKUPS, count, count]
    assert reading.detail == f"{count} critical alerts silenced until 14:05 UTC — cannot vouch"


async def test_failed_silence_lookup_never_changes_the_outcome(alerts_context, canned_server):
    """A silence that cannot be looked up leaves the entry without details and the poll unknown, not an error."""
    serve(canned_server, [alert("DiskFull", silenced_by=["s1"])])
    canned_server.respond(
        "boom", status=500, content_type="text/plain", where=lambda r: r.path.startswith("/api/v2/silence/")
    )
    ctx, _ = alerts_context()
    reading = await run_probe(ctx.runbook.checks["probe"], ctx)
    assert reading.outcome is Outcome.NODATA
    assert reading.detail == "1 critical alert silenced — cannot vouch"
    [entry] = reading.extra["suppressed"]
    assert entry["silences"][0]["id"] == "s1" and entry["silences"][0]["created_by"] == ""
    assert entry["details_missing"] == "silence s1: HTTP 500 Internal Server Error: boom"


async def test_slow_silence_lookup_ends_within_the_poll(alerts_context, canned_server):
    """A silence look-up that hangs is given up after part of the timeout; the poll still says cannot vouch."""
    serve(canned_server, [alert("DiskFull", silenced_by=["s1"])])
    canned_server.respond(silence("s1"), delay=3, where=lambda r: r.path.startswith("/api/v2/silence/"))
    ctx, _ = alerts_context("{severity: critical}\nevery: 10s\ntimeout: 2s")
    started = time.monotonic()
    reading = await run_probe(ctx.runbook.checks["probe"], ctx)
    assert time.monotonic() - started < 2
    assert reading.outcome is Outcome.NODATA
    assert reading.extra["suppressed"][0]["details_missing"] == "silence s1: timed out"


async def test_inhibitors_are_named_and_looked_up_once(alerts_context, canned_server):
    """Inhibiting alerts are found by fingerprint in the whole list, once while the cache holds them."""
    maintenance = alert("ClusterMaintenance", "active", severity="warning", cluster="eu")
    lag = alert("ReplicationLag", inhibited_by=["fp-ClusterMaintenance", "fp-gone"], cluster="eu")
    serve(canned_server, [lag], everything=[lag, maintenance])
    ctx, clock = alerts_context()
    reading = await run_probe(ctx.runbook.checks["probe"], ctx)
    assert reading.detail == "1 critical alert inhibited by ClusterMaintenance, fp-gone — cannot vouch"
    inhibitors = reading.extra["suppressed"][0]["inhibitors"]
    assert [(i["name"], i["severity"], i["fingerprint"]) for i in inhibitors] == [
        ("ClusterMaintenance", "warning", "fp-ClusterMaintenance"),
        ("", "", "fp-gone"),
    ]
    await run_probe(ctx.runbook.checks["probe"], ctx)
    assert requests_to(canned_server, "/api/v2/alerts", filtered=False) == 1
    clock.advance(DETAIL_REFRESH)
    await run_probe(ctx.runbook.checks["probe"], ctx)
    assert requests_to(canned_server, "/api/v2/alerts", filtered=False) == 2


async def test_no_lookups_without_suppressed_alerts(alerts_context, canned_server):
    """A poll with only active alerts asks Alertmanager one thing: the alerts."""
    serve(canned_server, [alert("DiskFull", "active")])
    ctx, _ = alerts_context()
    reading = await run_probe(ctx.runbook.checks["probe"], ctx)
    assert (reading.outcome, reading.degraded) == (Outcome.BREACH, False)
    assert len(canned_server.requests) == 1


async def test_unexpected_suppressed_alerts_are_listed_first(alerts_context, canned_server):
    """Past the listing bound, the alerts nobody expected are the ones still listed."""
    expected = [alert(f"Planned{i}", silenced_by=["s1"], team="db") for i in range(MAX_LISTED + 5)]
    serve(canned_server, [*expected, alert("Surprise", silenced_by=["s1"], team="api")])
    canned_server.respond(silence("s1"), where=lambda r: r.path.startswith("/api/v2/silence/"))
    ctx, _ = alerts_context()
    ctx.expected_silences = (ExpectedSilence("db_migration", ('team="db"',)),)
    reading = await run_probe(ctx.runbook.checks["probe"], ctx)
    assert reading.detail == "1 critical alert silenced until 14:05 UTC — cannot vouch"
    listed = reading.extra["suppressed"]
    assert len(listed) == MAX_LISTED
    assert (listed[0]["name"], listed[0]["expected_by"]) == ("Surprise", "")
    assert {e["expected_by"] for e in listed[1:]} == {"db_migration"}
    assert (reading.extra["suppressed_count"], reading.extra["suppressed_unexpected"]) == (MAX_LISTED + 6, 1)


@pytest.mark.parametrize(
    ("matchers", "expected"),
    [
        (('alertname="DiskFull"',), True),
        (('alertname="Disk"',), False),
        (('alertname=~"Disk.*"', 'severity!="info"'), True),
        (('alertname=~"Disk"',), False),  # anchored, as in Alertmanager
        (('alertname!~"Disk.*"',), False),
        (('team=""',), True),  # a missing label reads as empty
        (('team!=""',), False),
        (('team=~".+"',), False),
        (('alertname=~"(unclosed"',), False),  # unreadable: never expected by mistake
        (("not a matcher",), False),
    ],
)
def test_matchers_match_as_alertmanager_does(matchers, expected):
    """Expected-silence matchers follow Alertmanager's rules."""
    assert matches({"alertname": "DiskFull", "severity": "critical"}, matchers) is expected


def test_expected_silences_come_from_the_given_steps():
    """expected_silences() flattens the steps' expect_silenced sets, naming each step."""
    runbook = parse_runbook(
        "name: x\nsteps:\n  - id: a\n    title: A\n    expect_silenced: [{alertname: X}, {job: db}]\n"
        "  - id: b\n    title: B\n"
    )
    assert expected_silences(runbook.steps) == (
        ExpectedSilence("a", ('alertname="X"',)),
        ExpectedSilence("a", ('job="db"',)),
    )
    assert expected_silences(runbook.steps[1:]) == ()


async def test_breach_outranks_and_cannot_pass_a_stricter_condition(alerts_context, canned_server):
    """An active alert breaches despite suppressed ones; a condition it does not breach is unknown, not ok."""
    serve(
        canned_server,
        [alert("CertExpiring", "active"), alert("DiskFull", silenced_by=["s1"]), alert("Lag", silenced_by=["s1"])],
    )
    canned_server.respond(silence("s1"), where=lambda r: r.path.startswith("/api/v2/silence/"))
    ctx, clock = alerts_context()
    check = ctx.runbook.checks["probe"]
    reading = await run_probe(check, ctx)
    assert (reading.outcome, reading.value, reading.degraded) == (Outcome.BREACH, 1.0, True)
    plain = ConditionEvaluator(StopCondition("any_critical", "probe", None), check, clock)
    assert plain.observe(reading).state is ConditionState.FIRING
    stricter = ConditionEvaluator(StopCondition("many_critical", "probe", parse_threshold("> 2")), check, clock)
    assert stricter.observe(reading).state is ConditionState.UNKNOWN


async def test_an_alert_not_yet_processed_cannot_be_vouched_for(alerts_context, canned_server):
    """An alert Alertmanager just received and has not yet run through its silences and inhibitions is a firing
    alert that matches: no pass on it (no data, "cannot vouch"); an active one beside it still breaches."""
    serve(canned_server, [alert("DiskFull", "unprocessed")])
    ctx, _ = alerts_context()
    check = ctx.runbook.checks["probe"]
    reading = await run_probe(check, ctx)
    assert (reading.outcome, reading.value, reading.degraded) == (Outcome.NODATA, 0.0, True)
    assert reading.detail == "1 critical alert just received, not yet processed by Alertmanager — cannot vouch"
    assert reading.extra["unprocessed"][0]["name"] == "DiskFull"
    serve(canned_server, [alert("DiskFull", "unprocessed"), alert("CertExpiring", "active")])
    assert (await run_probe(check, ctx)).outcome is Outcome.BREACH
