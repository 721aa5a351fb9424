"""Snapshots of the dashboard at 120×36 with a frozen clock (pytest-textual-snapshot).

Update after a deliberate change with ``pytest tests/app/test_app_snapshots.py --snapshot-update``
and review the SVGs in ``tests/app/__snapshots__/``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, RadioSet

from app_backend import auth_errors_firing, demo_runbook, fresh_session, session_in_progress
from cutover_tui.app import make_app
from cutover_tui.live import FollowBackend
from cutover_tui.replay import ReplayBackend
from cutover_tui.widgets.scorecard_form import ScorecardForm
from cutover_tui.widgets.steps_table import StepsTable
from scripted_session import START, ScriptedSession

pytestmark = pytest.mark.slow  # every test renders the real app to an SVG: seconds each

SIZE = (120, 36)


def test_main_screen(snap_compare: Any) -> None:
    """The main screen mid-cutover: verdict, timeline with live markers, condition cards, log."""
    assert snap_compare(make_app(session_in_progress()), terminal_size=SIZE)


def test_main_screen_at_80_by_24(snap_compare: Any) -> None:
    """The smallest supported terminal: every pane present, the current step in view."""
    assert snap_compare(make_app(session_in_progress()), terminal_size=(80, 24))


def test_decision_dialog_with_scorecard(snap_compare: Any) -> None:
    """The go/no-go decision dialog with a scored scorecard (CONDITIONAL) and GO chosen."""

    async def open_dialog(pilot: Pilot[Any]) -> None:
        pilot.app.query_one(StepsTable).select_step("final_go_no_go")
        await pilot.press("c")
        await pilot.pause()
        form = pilot.app.screen.query_one(ScorecardForm)
        for index, score in enumerate(["90", "80", "90", "80", "80", "90", "90"]):
            form.query_one(f"#score-{index}", Input).value = score
        pilot.app.screen.query_one(RadioSet).focus()
        await pilot.press("1")
        pilot.app.screen.query_one("#reason", Input).value = "security sign-off pending, accepted"
        await pilot.pause()

    assert snap_compare(make_app(fresh_session()), terminal_size=SIZE, run_before=open_dialog)


def test_firing_banner(snap_compare: Any) -> None:
    """A rollback condition firing: the banner names value, threshold, how long and who decides."""
    backend = session_in_progress()
    auth_errors_firing(backend)
    assert snap_compare(make_app(backend), terminal_size=SIZE)


def test_rollback_mode(snap_compare: Any) -> None:
    """After a ROLLBACK decision and rollback_started: mode ROLLBACK, the rollback plan timed R+."""
    backend = session_in_progress()
    auth_errors_firing(backend)
    backend.record(
        "decision",
        {"decision": "rollback", "reason": "auth errors 4% for 1m", "conditions": {}, "verdict": "ROLLBACK"},
        actor="cto",
    )
    backend.record("rollback_started", {"reason": "auth errors 4% for 1m"}, actor="commander")
    assert snap_compare(make_app(backend), terminal_size=SIZE)


def demo_session(path: Path) -> ScriptedSession:
    """The demo go-live written through the live path on a hand-moved clock.

    Healthy readings; T-0 at 30 s; the plan done and approved up to the
    production deploy, which starts at T+25s; at T+1m the auth-error spike,
    firing its rollback conditions a minute later; the commander logs the
    CTO's HOLD at T+2m10s.
    """
    session = ScriptedSession(path, demo_runbook(), t0_in=30, actor="commander")

    def readings(until: float, *, auth_errors: float = 0.002, api_errors: float = 0.0005, p95: float = 0.18) -> None:
        start = int(session.elapsed)
        for second in range(start, int(until) + 1):
            session.poll("api_health", 0.09, until=second, detail="HTTP 200")
            session.poll("auth_traffic", 42.0, until=second)
            session.poll("auth_error_ratio", auth_errors, until=second)
            session.poll("api_error_ratio", api_errors, until=second)
            session.poll("latency_p95", p95, until=second)

    readings(20)
    for step in ("change_freeze", "staging_validation", "backup_snapshot"):
        session.append("step_started", {"step": step})
        session.append("step_completed", {"step": step, "gate": {}, "override_reason": "rehearsed the day before"})
    session.append("decision", {"decision": "go", "reason": "scorecard 93", "step": "final_go_no_go",
                                "conditions": {}, "verdict": "CONTINUE"}, actor="cto")  # fmt: skip
    session.append("step_completed", {"step": "final_go_no_go", "gate": {"api_health": "pass"}})
    session.append("decision", {"decision": "go", "reason": "approved", "step": "approve_prod_deploy",
                                "phrase": "APPROVE PROD DEPLOY", "conditions": {}, "verdict": "CONTINUE"}, actor="cto")  # fmt: skip
    session.append("step_completed", {"step": "approve_prod_deploy", "gate": {}}, actor="cto")
    readings(55)
    session.append("step_started", {"step": "production_deploy"}, actor="sre")
    readings(90)
    readings(160, auth_errors=0.041, api_errors=0.004, p95=0.7)
    session.append("decision", {"decision": "hold", "reason": "deploy still rolling out; watching",
                                "conditions": {}, "verdict": "ROLLBACK", "decided_by": "cto"}, actor="commander")  # fmt: skip
    readings(170, auth_errors=0.042, api_errors=0.004, p95=0.7)
    session.settle()
    session.log.flush_ticks(heartbeat=True)  # as the writer's flush thread does each second: it is alive
    return session


def test_replay_at_the_firing(snap_compare: Any, tmp_path: Path) -> None:
    """Replay paused at T+2m05s: the rollback banner as it stood (naming no key that writes), the bar's marks and position."""
    session = demo_session(tmp_path / "demo.cutover.db")
    session.close()
    replay = ReplayBackend(session.log.path, session.runbook)
    replay.seek(START + timedelta(seconds=30 + 125))
    assert snap_compare(make_app(replay), terminal_size=SIZE)


def test_follow_mid_session(snap_compare: Any, tmp_path: Path) -> None:
    """Following the same session while it runs: read-only (only w and ? in the footer), both rollback conditions firing, the HOLD logged."""
    session = demo_session(tmp_path / "demo.cutover.db")
    follower = FollowBackend(session.log.path, session.runbook, clock=session.clock)
    try:
        assert snap_compare(make_app(follower), terminal_size=SIZE)
    finally:
        session.close()
