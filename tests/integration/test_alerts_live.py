"""The alerts probe against a real Alertmanager (fed by a real Prometheus or by its API)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from app_backend import AppTestBackend, session_in_progress
from checks.clock import SystemClock
from checks.conditions import ConditionEvaluator
from checks.probes import ProbeContext, run_probe
from checks.probes.context import ExpectedSilence
from checks.reading import Outcome
from checks.status import ConditionState, Verdict
from checks.verdict import check_status, compute_verdict
from cutover_tui.app import make_app
from runbooks.loader import load_runbook
from runbooks.model import Action, Check, StopCondition

OPERATOR_RUNBOOK = Path(__file__).resolve().parents[2] / "sample_runbooks" / "operator_launch_handoff.yaml"


@pytest.fixture
def poll_alerts(poll, alertmanager):
    """Poll an alerts check (its YAML from the matchers on) against ``alertmanager``."""

    async def run(check_yaml: str):
        return await poll(f"alerts: {check_yaml}", sources=f"am: {{kind: alertmanager, url: {alertmanager.url}}}")

    return run


@pytest.fixture
def two_suppressed_criticals(alertmanager):
    """A leftover maintenance silence on one critical; another inhibited by a warning a critical filter does not match."""
    alertmanager.post_alerts(
        {
            "labels": {"alertname": "DiskFull", "severity": "critical", "service": "db"},
            "annotations": {"summary": "disk 97%"},
        },
        {"labels": {"alertname": "ReplicationLag", "severity": "critical", "cluster": "eu"}},
        {"labels": {"alertname": "ClusterMaintenance", "severity": "warning", "cluster": "eu"}},
    )
    silence_id = alertmanager.silence(
        {"alertname": "DiskFull"}, minutes=90, created_by="alice", comment="disk swap (leftover maintenance)"
    )
    alertmanager.wait_for_alert("DiskFull", "suppressed")
    alertmanager.wait_for_alert("ReplicationLag", "suppressed")
    silence = httpx.get(f"{alertmanager.url}/api/v2/silence/{silence_id}", timeout=5).json()
    return silence_id, silence


@pytest.fixture
async def operator_context(alertmanager, monkeypatch):
    """The operator seed runbook pointed at ``alertmanager``, and a probe context for it.

    Its check names a ``Watchdog`` that must be firing, as Prometheus' always-firing rule keeps it: posted here.
    """
    monkeypatch.setenv("AM_URL", alertmanager.url)
    alertmanager.post_alerts({"labels": {"alertname": "Watchdog", "severity": "none"}})
    alertmanager.wait_for_alert("Watchdog")
    runbook = load_runbook(OPERATOR_RUNBOOK)
    ctx = ProbeContext(runbook, env={})
    yield ctx
    await ctx.aclose()


async def test_alert_fired_by_prometheus_is_counted(poll_alerts, alertmanager, prometheus, target):
    """A rule firing in Prometheus reaches Alertmanager and is counted as one active critical alert."""
    alertmanager.wait_for_alert("Watchdog")
    reading = await poll_alerts("{severity: critical}\nwatchdog: Watchdog")
    assert (reading.outcome, reading.value) == (Outcome.PASS, 0.0)

    target.set(auth_error_ratio=0.04)
    alertmanager.wait_for_alert("AuthErrorsHigh")
    reading = await poll_alerts("{severity: critical}\nwatchdog: Watchdog")
    assert (reading.outcome, reading.value) == (Outcome.BREACH, 1.0)
    assert reading.detail == "1 active: AuthErrorsHigh"
    [active] = reading.extra["active"]
    assert (active["name"], active["severity"], active["state"]) == ("AuthErrorsHigh", "critical", "active")
    assert active["summary"] == "Auth errors above 1%"
    assert active["starts_at"]


async def test_silenced_and_inhibited_criticals_make_the_operator_condition_unknown(
    operator_context, two_suppressed_criticals
):
    """The operator seed's "no unresolved CRITICAL alerts" cannot pass over a silenced and an inhibited critical."""
    silence_id, silence = two_suppressed_criticals
    ctx = operator_context
    runbook = ctx.runbook
    reading = await run_probe(runbook.checks["critical_alerts"], ctx)

    assert (reading.outcome, reading.value, reading.degraded) == (Outcome.NODATA, 0.0, True)
    ends = datetime.fromisoformat(silence["endsAt"].replace("Z", "+00:00"))
    today = ends.date() == datetime.now(timezone.utc).date()
    until = f"{ends:%H:%M} UTC" if today else f"{ends:%m-%d %H:%M} UTC"
    assert reading.detail == (
        f"2 critical alerts suppressed (1 silenced until {until}, 1 inhibited by ClusterMaintenance) — cannot vouch"
    )
    assert (reading.extra["suppressed_count"], reading.extra["suppressed_unexpected"]) == (2, 2)
    entries = {entry["name"]: entry for entry in reading.extra["suppressed"]}
    [shown_silence] = entries["DiskFull"]["silences"]
    assert shown_silence["id"] == silence_id
    assert (shown_silence["created_by"], shown_silence["comment"]) == ("alice", "disk swap (leftover maintenance)")
    assert shown_silence["ends_at"] == silence["endsAt"]
    assert shown_silence["matchers"] == ['alertname="DiskFull"']
    [inhibitor] = entries["ReplicationLag"]["inhibitors"]
    assert (inhibitor["name"], inhibitor["severity"], inhibitor["labels"]["cluster"]) == (
        "ClusterMaintenance",
        "warning",
        "eu",
    )
    assert entries["DiskFull"]["expected_by"] == entries["ReplicationLag"]["expected_by"] == ""

    condition = runbook.condition("critical_alert_unresolved")
    evaluator = ConditionEvaluator(condition, runbook.checks[condition.check], SystemClock())
    status = evaluator.observe(reading)
    assert status.state is ConditionState.UNKNOWN
    assert "cannot vouch" in status.reason
    verdict = compute_verdict(runbook, {condition.id: status}, None, {"critical_alerts": reading.outcome})
    assert verdict is not Verdict.CONTINUE


async def test_suppression_is_unknown_whatever_on_nodata_and_on_invalid_say(poll_alerts, two_suppressed_criticals):
    """on_nodata: pass and on_invalid: pass do not turn "cannot vouch" into a pass."""
    reading = await poll_alerts("{severity: critical}\non_nodata: pass\non_invalid: pass")
    assert reading.outcome is Outcome.NODATA
    assert reading.detail.endswith("— cannot vouch")


async def test_expected_silences_apply_while_their_step_is_active(operator_context, two_suppressed_criticals):
    """Suppressions a step expects pass while it is active; the others still cannot vouch; cleared, both count again."""
    ctx = operator_context
    check = ctx.runbook.checks["critical_alerts"]
    ctx.expected_silences = (ExpectedSilence("maintenance", ('alertname="DiskFull"',)),)
    reading = await run_probe(check, ctx)
    assert reading.outcome is Outcome.NODATA
    assert reading.detail == "1 critical alert inhibited by ClusterMaintenance — cannot vouch"
    assert {e["name"]: e["expected_by"] for e in reading.extra["suppressed"]} == {
        "DiskFull": "maintenance",
        "ReplicationLag": "",
    }

    ctx.expected_silences = (
        ExpectedSilence("maintenance", ('alertname="DiskFull"',)),
        ExpectedSilence("failover", ('cluster=~"eu|us"', 'severity="critical"')),
    )
    reading = await run_probe(check, ctx)
    assert (reading.outcome, reading.degraded) == (Outcome.PASS, False)
    assert reading.detail == "no active alerts (2 suppressed, expected)"

    ctx.expected_silences = ()  # the steps ended: their expectations lapse
    reading = await run_probe(check, ctx)
    assert reading.outcome is Outcome.NODATA
    assert reading.detail.startswith("2 critical alerts suppressed")


async def test_suppressed_ignore_lets_the_check_pass(poll_alerts, two_suppressed_criticals):
    """With suppressed: ignore the runbook vouches for the silences: no active alert passes, and they stay listed."""
    reading = await poll_alerts("{severity: critical}\nsuppressed: ignore")
    assert (reading.outcome, reading.value) == (Outcome.PASS, 0.0)
    assert reading.detail == "no active alerts (2 suppressed, expected)"
    assert {e["expected_by"] for e in reading.extra["suppressed"]} == {"suppressed: ignore"}
    assert all(e["silences"] or e["inhibitors"] for e in reading.extra["suppressed"])


async def test_active_critical_outranks_suppressed_ones(poll_alerts, alertmanager, two_suppressed_criticals):
    """An active matching alert is a breach, however many others are suppressed."""
    alertmanager.post_alerts({"labels": {"alertname": "CertExpiring", "severity": "critical"}})
    alertmanager.wait_for_alert("CertExpiring")
    reading = await poll_alerts("{severity: critical}")
    assert (reading.outcome, reading.value, reading.degraded) == (Outcome.BREACH, 1.0, True)
    assert reading.detail == "1 active: CertExpiring (2 suppressed)"
    assert [a["name"] for a in reading.extra["active"]] == ["CertExpiring"]


async def test_inhibited_warning_cannot_vouch_for_a_warning_check(poll_alerts, alertmanager):
    """A warning inhibited by an UpstreamDown critical is listed, not counted, and the check cannot vouch."""
    alertmanager.post_alerts(
        {"labels": {"alertname": "UpstreamDown", "severity": "critical", "service": "db"}},
        {"labels": {"alertname": "SlowQueries", "severity": "warning", "service": "db"}},
    )
    alertmanager.wait_for_alert("SlowQueries", "suppressed")
    reading = await poll_alerts("['severity=\"warning\"']")
    assert (reading.outcome, reading.value) == (Outcome.NODATA, 0.0)
    assert reading.detail == "1 warning alert inhibited by UpstreamDown — cannot vouch"
    [suppressed] = reading.extra["suppressed"]
    assert suppressed["name"] == "SlowQueries" and suppressed["inhibited_by"]
    assert suppressed["inhibitors"][0]["name"] == "UpstreamDown"


async def test_missing_watchdog_is_unknown_even_with_on_nodata_pass(poll_alerts, alertmanager):
    """With no Watchdog firing, no alerts cannot be told from a broken pipeline: nodata."""
    reading = await poll_alerts("{severity: critical}\nwatchdog: Watchdog\non_nodata: pass")
    assert reading.outcome is Outcome.NODATA
    assert reading.detail == "watchdog alert 'Watchdog' not firing"


async def test_a_watchdog_alertmanager_no_longer_receives_is_stale_past_max_age(make_context, alertmanager):
    """Prometheus dies: Alertmanager keeps its Watchdog active until its endsAt (4 min by Prometheus' defaults) but
    receives it no more. The watchdog's age is the reading's sample age: past the check's max_age it is stale, never a pass."""
    ends = datetime.now(timezone.utc) + timedelta(minutes=4)  # what Prometheus sets: 4 x its resend delay
    alertmanager.post_alerts({"labels": {"alertname": "Watchdog", "severity": "none"}, "endsAt": ends.isoformat()})
    alertmanager.wait_for_alert("Watchdog")
    ctx = make_context(
        "alerts: {severity: critical}\nwatchdog: Watchdog\nmax_age: 2s",
        sources=f"am: {{kind: alertmanager, url: {alertmanager.url}}}",
    )
    check = ctx.runbook.checks["probe"]
    fresh = await run_probe(check, ctx)
    assert fresh.outcome is Outcome.PASS and fresh.sample_age is not None and fresh.sample_age < 2.0
    assert check_status(check, fresh.outcome.value, 0.0, sample_age=fresh.sample_age) == "pass"
    time.sleep(3.0)  # nothing sends the watchdog again: what this test is about
    old = await run_probe(check, ctx)
    assert old.outcome is Outcome.PASS and old.value == 0.0  # Alertmanager still holds it active
    assert old.sample_age is not None and old.sample_age >= 3.0
    assert check_status(check, old.outcome.value, 0.0, sample_age=old.sample_age) == "stale"
    condition = StopCondition("no_criticals", "probe", None, action=Action.HALT)
    status = ConditionEvaluator(condition, check, SystemClock()).observe(old)
    assert status.state is ConditionState.STALE


async def test_silenced_watchdog_still_proves_the_pipeline(poll_alerts, alertmanager):
    """A silenced watchdog reached Alertmanager all the same: the check passes on no critical alert."""
    alertmanager.post_alerts({"labels": {"alertname": "Watchdog", "severity": "none"}})
    alertmanager.silence({"alertname": "Watchdog"})
    alertmanager.wait_for_alert("Watchdog", "suppressed")
    reading = await poll_alerts("{severity: critical}\nwatchdog: Watchdog")
    assert (reading.outcome, reading.value) == (Outcome.PASS, 0.0)


async def test_active_alert_breaches_even_without_watchdog(poll_alerts, alertmanager):
    """An active alert is a breach we can see, watchdog or not."""
    alertmanager.post_alerts({"labels": {"alertname": "DiskFull", "severity": "critical"}})
    alertmanager.wait_for_alert("DiskFull")
    reading = await poll_alerts("{severity: critical}\nwatchdog: Watchdog")
    assert (reading.outcome, reading.value) == (Outcome.BREACH, 1.0)


async def test_pass_when_allows_some_alerts(poll_alerts, alertmanager):
    """pass_when replaces "no active alert" as the criterion."""
    alertmanager.post_alerts({"labels": {"alertname": "DiskFull", "severity": "warning"}})
    alertmanager.wait_for_alert("DiskFull")
    reading = await poll_alerts('{severity: warning}\npass_when: "< 3"')
    assert (reading.outcome, reading.value) == (Outcome.PASS, 1.0)


async def test_alertmanager_down_is_error_not_no_alerts(poll_alerts, alertmanager):
    """Alertmanager unreachable is an error, never "no alerts"."""
    alertmanager.stop()
    reading = await poll_alerts("{severity: critical}")
    assert reading.outcome is Outcome.ERROR
    assert reading.detail.startswith("cannot connect")


async def test_pane_shows_who_silenced_what_until_when(poll_alerts, two_suppressed_criticals):
    """From a real Alertmanager to the screen: the silence's author, comment and id, the inhibiting alert."""
    silence_id, _ = two_suppressed_criticals
    reading = await poll_alerts("{severity: critical}")
    runbook = session_in_progress().runbook
    alerts_check = Check("critical_alerts", "alerts", {"source": "alertmanager", "matchers": ('severity="critical"',)})
    backend = AppTestBackend(replace(runbook, checks={**runbook.checks, "critical_alerts": alerts_check}))
    backend.tick("critical_alerts", reading.outcome.value, reading.value, detail=reading.detail, **reading.extra)
    app = make_app(backend)
    async with app.run_test(size=(160, 48)):
        text = str(app.query_one("#alerts").render())
    assert f"critical_alerts: cannot tell ({reading.detail})" in text
    assert "DiskFull: silenced by alice until " in text
    assert f'— "disk swap (leftover maintenance)" (id {silence_id[:8]}) — cannot vouch' in text
    assert "ReplicationLag: inhibited by ClusterMaintenance (warning) — cannot vouch" in text
