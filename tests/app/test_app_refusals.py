"""A key or a dialog that does nothing says why, in one line; the palette offers only what applies."""

from __future__ import annotations

import asyncio

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from app_backend import AppTestBackend, fresh_session, session_in_progress, session_rolling_back
from app_driver import Dashboard, open_dashboard, select, settle
from cutover_tui.app import WRITE_ACTIONS, CutoverApp, make_app
from cutover_tui.screens.approval import ApprovalScreen
from cutover_tui.screens.decision import DecisionScreen
from cutover_tui.screens.prompts import ConfirmScreen, TextPromptScreen

pytestmark = pytest.mark.slow  # every test drives the real app with Pilot: seconds each


def error_line(app: CutoverApp) -> str:
    """The open dialog's error line, "" while it is hidden."""
    line = app.screen.query_one("#dialog-error", Static)
    return str(line.render()) if line.display else ""


def test_before_the_dashboard_is_mounted_every_key_applies() -> None:
    """Before the dashboard is on screen there is no selection to judge a key by: each one applies, and asking looks for no widget."""
    app = make_app(session_in_progress())
    assert all(app.check_action(action, ()) for action in WRITE_ACTIONS)


@pytest.mark.scenario("rolling back")
async def test_rollback_and_t0_keys_in_rollback_mode_say_why(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend, dashboard: Dashboard
) -> None:
    """R and t in rollback mode do nothing and say why, instead of nothing at all."""
    await pilot.press("R", "t")
    await settle(pilot)
    assert backend.appended == [] and not isinstance(app.screen, (TextPromptScreen, ConfirmScreen))
    assert dashboard.notices == [
        "The rollback plan is already running since 22:06:00 IST.",
        "T-0 cannot move during a rollback: the rollback plan is timed from when it began (R+).",
    ]


async def test_acknowledge_with_nothing_firing_says_so(
    app: CutoverApp, pilot: Pilot[None], dashboard: Dashboard
) -> None:
    """a with no firing condition says there is nothing to acknowledge."""
    await pilot.press("a")
    await settle(pilot)
    assert dashboard.notices == ["Nothing to acknowledge: no stop condition is firing."]


async def test_step_keys_on_a_finished_step_say_why(app: CutoverApp, pilot: Pilot[None], dashboard: Dashboard) -> None:
    """s, c, f and k on a done step, and s on the active one, name the step and why nothing happens."""
    await select(pilot, "production_deploy")
    await pilot.press("s", "c")
    await select(pilot, "verify_endpoints")
    await pilot.press("s")
    await settle(pilot)
    assert dashboard.notices == [
        "“Production deploy” is done: only a pending step can be started.",
        "“Production deploy” is already done.",
        "“Verify /health and /metrics” is already active: c completes it, f fails it, k skips it.",
    ]


async def test_t0_key_once_t0_is_set_in_a_live_session_says_why(
    app: CutoverApp, pilot: Pilot[None], dashboard: Dashboard
) -> None:
    """t once T-0 is set (not a rehearsal) says moving it is for rehearsals."""
    await pilot.press("t")
    await settle(pilot)
    assert dashboard.notices == [
        "T-0 is set (22:03:00 IST); moving it is for rehearsals (a session started with --rehearsal)."
    ]


async def test_palette_stops_offering_what_cannot_apply() -> None:
    """In rollback mode the palette offers no "Enter rollback" and no "Set T-0"; live it offers both while they apply."""
    async with open_dashboard(session_rolling_back()) as view:
        titles = {command.title for command in view.app.get_system_commands(view.app.screen)}
        assert "Enter rollback" not in titles and "Set T-0" not in titles and "Acknowledge condition" in titles
    async with open_dashboard(fresh_session()) as view:
        titles = {command.title for command in view.app.get_system_commands(view.app.screen)}
        assert {"Enter rollback", "Set T-0"} <= titles and "Acknowledge condition" not in titles


async def test_palette_quit_asks_and_logs_the_end() -> None:
    """Textual's own "Quit" in the palette asks first and logs how the session ended, as q does."""
    backend = session_in_progress()
    async with open_dashboard(backend) as view:
        app, pilot = view.app, view.pilot
        quit_command = next(c for c in app.get_system_commands(app.screen) if c.title == "Quit")
        result = quit_command.callback()
        if asyncio.iscoroutine(result):
            await result
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.click("#confirm")
        await settle(pilot)
    assert backend.kinds() == ["session_ended"]


async def test_empty_skip_reason_is_refused_with_a_reason(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """Enter on an empty skip reason records nothing and says a reason is required."""
    await select(pilot, "production_verification")
    await pilot.press("k")
    await pilot.pause()
    assert isinstance(app.screen, TextPromptScreen) and error_line(app) == ""
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, TextPromptScreen) and backend.appended == []
    assert error_line(app) == "A reason is required: type why (it is logged), or Escape to cancel."
    await pilot.press(*"covered by verify", "enter")
    await settle(pilot)
    assert backend.kinds() == ["step_skipped"]


@pytest.mark.scenario("fresh")
async def test_wrong_approval_phrase_is_refused_with_a_reason(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """A wrong approval phrase says it does not match, as soon as it stops matching and again on Enter."""
    await select(pilot, "approve_prod_deploy")
    await pilot.press("c")
    await pilot.pause()
    assert isinstance(app.screen, ApprovalScreen)
    warning = app.screen.query_one("#approval-warning", Static)
    await pilot.press(*"APPROVE")
    assert str(warning.render()) == ""  # typing it right so far
    await pilot.press(*" prod", "enter")
    await pilot.pause()
    assert backend.appended == []
    assert (
        str(warning.render()) == "The phrase does not match: type APPROVE PROD DEPLOY exactly (case and spaces matter)."
    )


async def test_incomplete_decision_names_what_is_missing(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """Enter on a decision without a choice or a reason says what is still needed."""
    await pilot.press("d")
    await pilot.pause()
    assert isinstance(app.screen, DecisionScreen)
    app.screen.query_one("#reason", Input).focus()
    await pilot.press("enter")
    await pilot.pause()
    assert backend.appended == []
    assert error_line(app) == "Still needed: a decision (1–6), a reason."
