"""The alerts probe against a real Alertmanager (fed by a real Prometheus or by its API)."""

from __future__ import annotations

import pytest

from checks.reading import Outcome


@pytest.fixture
def poll_alerts(poll, alertmanager):
    """Poll an alerts check (its YAML from the matchers on) against ``alertmanager``."""

    async def run(check_yaml: str):
        return await poll(f"alerts: {check_yaml}", sources=f"am: {{kind: alertmanager, url: {alertmanager.url}}}")

    return run


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


async def test_silenced_critical_alert_is_listed_not_counted(poll_alerts, alertmanager):
    """A silenced critical alert shows under suppressed and does not count."""
    alertmanager.post_alerts(
        {"labels": {"alertname": "DiskFull", "severity": "critical"}, "annotations": {"summary": "disk 97%"}},
        {"labels": {"alertname": "CertExpiring", "severity": "critical"}},
    )
    silence_id = alertmanager.silence({"alertname": "DiskFull"})
    alertmanager.wait_for_alert("DiskFull", "suppressed")
    reading = await poll_alerts("{severity: critical}")
    assert (reading.outcome, reading.value) == (Outcome.BREACH, 1.0)
    assert [a["name"] for a in reading.extra["active"]] == ["CertExpiring"]
    [suppressed] = reading.extra["suppressed"]
    assert suppressed["name"] == "DiskFull"
    assert suppressed["silenced_by"] == [silence_id]
    assert "1 suppressed" in reading.detail


async def test_inhibited_alert_is_listed_not_counted(poll_alerts, alertmanager):
    """An alert inhibited by another shows under suppressed and does not count."""
    alertmanager.post_alerts(
        {"labels": {"alertname": "UpstreamDown", "severity": "critical", "service": "db"}},
        {"labels": {"alertname": "SlowQueries", "severity": "warning", "service": "db"}},
    )
    alertmanager.wait_for_alert("SlowQueries", "suppressed")
    reading = await poll_alerts("['severity=\"warning\"']")
    assert (reading.outcome, reading.value) == (Outcome.PASS, 0.0)
    [suppressed] = reading.extra["suppressed"]
    assert suppressed["name"] == "SlowQueries" and suppressed["inhibited_by"]


async def test_missing_watchdog_is_unknown_even_with_on_nodata_pass(poll_alerts, alertmanager):
    """With no Watchdog firing, no alerts cannot be told from a broken pipeline: nodata."""
    reading = await poll_alerts("{severity: critical}\nwatchdog: Watchdog\non_nodata: pass")
    assert reading.outcome is Outcome.NODATA
    assert reading.detail == "watchdog alert 'Watchdog' not firing"


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
