"""Snapshots of the dashboard at 120×36 with a frozen clock (pytest-textual-snapshot).

Update after a deliberate change with ``pytest tests/test_app_snapshots.py --snapshot-update``
and review the SVGs in ``tests/__snapshots__/``.
"""

from __future__ import annotations

from typing import Any

import pytest

from textual.pilot import Pilot
from textual.widgets import Input, RadioSet

from app_backend import auth_errors_firing, fresh_session, session_in_progress
from cutover_tui.app import make_app
from cutover_tui.widgets.scorecard_form import ScorecardForm
from cutover_tui.widgets.steps_table import StepsTable

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
    backend.record("decision", {"decision": "rollback", "reason": "auth errors 4% for 1m", "conditions": {},
                                "verdict": "ROLLBACK"}, actor="cto")
    backend.record("rollback_started", {"reason": "auth errors 4% for 1m"}, actor="commander")
    assert snap_compare(make_app(backend), terminal_size=SIZE)
