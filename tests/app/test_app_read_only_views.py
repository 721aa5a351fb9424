"""Replay and follow show no hints of keys that write; home in replay goes to T-0 from anywhere, or says there is none."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from app_backend import START, auth_errors_firing, demo_runbook, session_in_progress
from app_driver import open_dashboard, select, settle
from checks.clock import ManualClock
from cutover_tui.app import CutoverApp, make_app
from cutover_tui.replay import ReplayBackend
from cutover_tui.screens.help import HelpScreen
from cutover_tui.store import SessionLog, format_ts

pytestmark = pytest.mark.slow  # every test drives the real app with Pilot: seconds each

SIZE = (120, 40)
LIVE_HINTS = ("d: record a decision", "a: acknowledge", "R: enter rollback", "e to add", "(c)", "(c or d)")


def follower(backend: Any) -> Any:
    """``backend`` as a follower sees it: read-only."""
    backend.read_only = True
    backend.view_label = "FOLLOW (read-only)"
    return backend


async def test_a_follower_shows_no_hint_of_a_key_that_writes() -> None:
    """Following a firing session: the banner, the step detail and the help name no key that writes."""
    backend = session_in_progress()
    auth_errors_firing(backend)
    app = make_app(follower(backend))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        banner = app.banner.text.plain
        assert banner.startswith("✖ ROLLBACK  auth_errors firing")
        for step_id in ("change_freeze", "approve_prod_deploy", "final_go_no_go"):
            await select(pilot, step_id)
            detail = str(app.query_one("#detail-body", Static).render())
            shown = banner + detail
            assert not [hint for hint in LIVE_HINTS if hint in shown], (step_id, shown)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        listed = {key for key, _ in app.screen.keys}
        assert not listed & {"s", "c", "f", "k", "e", "n", "d", "a", "t", "R", "space / x"}
        assert "w" in listed and "?" in listed
        assert "FOLLOW (read-only) is read-only" in str(app.screen.query_one("#keys-note", Static).render())


@pytest.mark.scenario("firing")
async def test_the_live_session_keeps_its_hints(app: CutoverApp, pilot: Pilot[None]) -> None:
    """The same screens in a live session name the keys: the banner's d / a / R, the detail's e and c."""
    assert "d: record a decision   a: acknowledge   R: enter rollback" in app.banner.text.plain
    await select(pilot, "approve_prod_deploy")
    assert "to approve (c)" in str(app.query_one("#detail-body", Static).render())
    await select(pilot, "change_freeze")
    assert "e to add" in str(app.query_one("#detail-body", Static).render())  # done, its evidence still owed


def write_log(path: Path, *, t0_after: float | None) -> None:
    """A log of notes a minute apart, with T-0 set ``t0_after`` seconds in (never, when None)."""
    clock = ManualClock(START)
    with SessionLog.create(path, demo_runbook(), operator="alice", clock=clock) as log:
        for minute in range(10):
            clock.advance(60)
            log.append("note", {"text": f"minute {minute + 1}"})
            if t0_after is not None and minute == 4:
                log.append("t0_set", {"t0": format_ts(START + timedelta(seconds=t0_after))})


async def test_home_in_replay_goes_to_t0_from_any_position(tmp_path: Path) -> None:
    """home goes to T-0 from the start (before T-0 was set), from the end, and from T-0 itself."""
    path = tmp_path / "s.cutover.db"
    write_log(path, t0_after=4 * 60)
    backend = ReplayBackend(path, demo_runbook())
    t0 = START + timedelta(minutes=4)
    async with open_dashboard(backend, size=SIZE) as view:
        pilot = view.pilot
        assert backend.position == backend.start_at and backend.state().t0 is None
        await pilot.press("home")
        await settle(pilot)
        assert backend.position == t0
        await pilot.press("end")
        await pilot.pause()
        assert backend.position == backend.end_at
        await pilot.press("home")
        await settle(pilot)
        assert backend.position == t0
        assert not view.notices


async def test_home_in_replay_says_when_there_is_no_t0(tmp_path: Path) -> None:
    """A session that never set T-0: home stays put and says so."""
    path = tmp_path / "s.cutover.db"
    write_log(path, t0_after=None)
    backend = ReplayBackend(path, demo_runbook())
    async with open_dashboard(backend, size=SIZE) as view:
        await view.pilot.press("end", "home")
        await settle(view.pilot)
        assert backend.position == backend.end_at
        assert view.notices == ["This session never set T-0: home has nowhere to go (end goes to the end)."]
