"""The alerts pane: each suppressed alert says what suppresses it and whether the runbook expects it."""

from __future__ import annotations

from dataclasses import replace

from app_backend import AppTestBackend, session_in_progress
from cutover_tui.app import make_app
from cutover_tui.reducer import _alert_view
from cutover_tui.state import AlertSilence
from cutover_tui.widgets.alerts_panel import MAX_SUPPRESSED_LINES
from runbooks.model import Check

SIZE = (160, 48)


def silenced(name: str, *, expected_by: str = "", ends_at: str = "2026-12-01T17:35:00.000Z") -> dict:
    """A suppressed entry as the alerts probe writes it (extra["suppressed"])."""
    return {
        "name": name,
        "severity": "critical",
        "state": "suppressed",
        "summary": "",
        "starts_at": "2026-12-01T16:00:00Z",
        "silenced_by": ["3f2a9c1b-0000-4000-8000-000000000001"],
        "inhibited_by": [],
        "labels": {"alertname": name},
        "expected_by": expected_by,
        "silences": [
            {
                "id": "3f2a9c1b-0000-4000-8000-000000000001",
                "created_by": "alice",
                "comment": "disk swap",
                "starts_at": "2026-12-01T15:00:00Z",
                "ends_at": ends_at,
                "state": "active",
                "matchers": [],
            }
        ],
        "inhibitors": [],
    }


def inhibited(name: str) -> dict:
    return {
        "name": name,
        "severity": "critical",
        "state": "suppressed",
        "summary": "",
        "starts_at": "",
        "silenced_by": [],
        "inhibited_by": ["fp1"],
        "labels": {"alertname": name},
        "expected_by": "",
        "silences": [],
        "details_missing": "inhibiting alerts: timed out",
        "inhibitors": [{"fingerprint": "fp1", "name": "ClusterMaintenance", "severity": "warning", "labels": {}}],
    }


def alerts_backend() -> AppTestBackend:
    runbook = session_in_progress().runbook
    alerts_check = Check("critical_alerts", "alerts", {"source": "alertmanager", "matchers": ('severity="critical"',)})
    return AppTestBackend(replace(runbook, checks={**runbook.checks, "critical_alerts": alerts_check}))


async def test_suppressed_alerts_name_their_silence_and_inhibitor() -> None:
    """Author, end (in the runbook's zone), comment and id of the silence; the inhibiting alert; cannot vouch."""
    backend = alerts_backend()
    suppressed = [silenced("DiskFull"), inhibited("ReplicationLag"), silenced("BackendDown", expected_by="deploy")]
    backend.tick(
        "critical_alerts",
        "nodata",
        0.0,
        detail="2 critical alerts suppressed — cannot vouch",
        active=[],
        suppressed=suppressed,
    )
    app = make_app(backend)
    async with app.run_test(size=SIZE):
        text = str(app.query_one("#alerts").render())
    assert "critical_alerts: cannot tell (2 critical alerts suppressed — cannot vouch)" in text
    assert 'DiskFull: silenced by alice until 23:05 — "disk swap" (id 3f2a9c1b) — cannot vouch' in text
    assert (
        "ReplicationLag: inhibited by ClusterMaintenance (warning) [details unavailable: inhibiting alerts: timed out]"
        " — cannot vouch"
    ) in text
    assert "BackendDown: silenced by alice until 23:05" in text and "— expected during step deploy" in text
    assert text.index("DiskFull:") < text.index("BackendDown:")  # the unexpected first


async def test_many_suppressed_alerts_are_bounded_and_a_later_day_is_dated() -> None:
    """Past the line bound the rest are counted; an end on another day shows its date; ignore is said."""
    backend = alerts_backend()
    suppressed = [
        silenced(f"Alert{i}", expected_by="suppressed: ignore", ends_at="2026-12-03T02:00:00Z")
        for i in range(MAX_SUPPRESSED_LINES + 3)
    ]
    backend.tick("critical_alerts", "pass", 0.0, active=[], suppressed=suppressed)
    app = make_app(backend)
    async with app.run_test(size=SIZE):
        text = str(app.query_one("#alerts").render())
    assert "Alert0: silenced by alice until 12-03 07:30" in text
    assert "— ignored (suppressed: ignore)" in text
    assert "and 3 more suppressed" in text
    assert f"Alert{MAX_SUPPRESSED_LINES}:" not in text


def test_entries_stored_without_details_still_name_their_silences() -> None:
    """A suppressed entry with only silencedBy ids (an older reading) keeps the ids."""
    view = _alert_view(
        {"name": "DiskFull", "severity": "critical", "silenced_by": ["abc"]}, "suppressed", "critical_alerts"
    )
    assert view.silences == (AlertSilence("abc", "", "", ""),)
    assert (view.expected_by, view.inhibitors, view.details_missing) == ("", (), "")
