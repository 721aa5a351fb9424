"""What the dashboard shows: header, timeline, conditions, alerts, log, banner, keys, hooks."""

from __future__ import annotations

import gc
from dataclasses import replace
from datetime import timedelta

import pytest
from rich.console import Console
from textual.command import CommandList
from textual.geometry import Region
from textual.pilot import Pilot
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import Static

from app_backend import START, AppTestBackend, auth_errors_firing, fresh_session, session_firing, session_in_progress
from app_driver import open_dashboard, screen_lines, settle, wait_until
from checks.status import BLIND_STATES, ConditionState, Verdict
from cutover_tui.app import COMMANDS, CutoverApp, StateChanged, make_app
from cutover_tui.backend import ScrubberView
from cutover_tui.labels import CONDITION_MARKERS, OK_STYLE
from cutover_tui.screens.help import HelpScreen
from cutover_tui.screens.prompts import ConfirmScreen, TextPromptScreen
from cutover_tui.state import ConditionView, LiveTruth
from cutover_tui.store import format_ts
from cutover_tui.widgets.conditions_list import ConditionsList, condition_card
from cutover_tui.widgets.decision_log import DecisionLog
from cutover_tui.widgets.replay_bar import ReplayBar
from cutover_tui.widgets.steps_table import StepsTable
from cutover_tui.widgets.stop_banner import StopBanner
from cutover_tui.widgets.verdict_badge import VerdictBadge
from runbooks.model import Check

pytestmark = pytest.mark.slow  # every test drives the real app with Pilot: seconds each

SIZE = (120, 36)


def text_of(app: CutoverApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def test_header_shows_name_t_clock_wall_clock_verdict_and_next_step(app: CutoverApp) -> None:
    """The header names the runbook, T+ time, the wall clock in the runbook's zone, the verdict and what is next."""
    assert "Demo go-live" in text_of(app, "#header-title")
    assert text_of(app, "#header-t-clock") == "T+00:02:00"
    assert text_of(app, "#header-wall-clock") == "22:05:00 IST"
    assert app.query_one(VerdictBadge).verdict is Verdict.CANNOT_VERIFY  # api_errors, a halt trigger, has no data
    assert "Now ▶ Verify /health and /metrics" in text_of(app, "#header-next")
    assert "Next Production verification" in text_of(app, "#header-next")
    assert "End ≈ 22:13" in text_of(app, "#header-end")


@pytest.mark.scenario("fresh")
async def test_fresh_session_says_t0_not_set_and_counts_blind_conditions(app: CutoverApp) -> None:
    """Without a T0 the T-clock says so; the verdict badge counts the conditions nobody has polled yet."""
    assert text_of(app, "#header-t-clock") == "T0 not set"
    assert str(app.query_one(VerdictBadge).render()).startswith(
        "VERDICT · 5 blind"
    )  # the demo has five stop conditions


async def test_a_follower_on_the_writers_clock_says_so_beside_the_time() -> None:
    """A follower whose clock reads apart from the writer's shows the writer's time (the log's) and says whose it is."""
    backend = session_in_progress(read_only=True, view_label="FOLLOW (read-only)")
    backend.live = LiveTruth(writers_clock=True)
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert text_of(app, "#header-wall-clock") == "22:05:00 IST (writer's clock)"
        backend.live = LiveTruth()
        backend.record("note", {"text": "clocks agree again"})
        await wait_until(pilot, lambda: text_of(app, "#header-wall-clock") == "22:05:00 IST")


async def test_clock_moves_every_tick_from_the_backend_clock() -> None:
    """The T-clock and wall clock follow backend.now() on the clock timer, with no new state."""
    backend = session_in_progress()
    app = make_app(backend, clock_tick=0.05)
    async with app.run_test(size=SIZE) as pilot:
        backend.clock.advance(65)
        await wait_until(pilot, lambda: text_of(app, "#header-t-clock") == "T+00:03:05")
        assert text_of(app, "#header-wall-clock") == "22:06:05 IST"


async def test_the_clock_ticks_a_tick_after_the_last_state_shown() -> None:
    """States that come faster than the clock (new readings) leave it no tick of its own; once they stop, it ticks again."""
    backend = fresh_session()
    check_id = next(iter(backend.runbook.checks))
    app = make_app(backend, clock_tick=2.0)
    ticks: list[object] = []
    on_clock = app._on_clock
    app._on_clock = lambda: (ticks.append(None), on_clock())  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        backend.tick(check_id, "pass", 1.0)
        await pilot.pause(0.2)
        ticks.clear()
        for _ in range(15):  # bounded: a new reading every 0.2 s, 3 s in all (the clock's own phase would tick)
            backend.tick(check_id, "pass", 1.0)
            await pilot.pause(0.2)
        assert ticks == []
        await wait_until(pilot, lambda: len(ticks) >= 1, timeout=10)


async def test_timeline_lists_every_step_with_the_cursor_on_the_current_one(app: CutoverApp) -> None:
    """Every step has a row; the cursor starts on the current step and the detail pane shows it."""
    table = app.query_one(StepsTable)
    assert table.row_count == len(app.runbook.steps)
    assert table.selected_step_id == "verify_endpoints" == app.session.current_step
    assert "Verify /health and /metrics" in text_of(app, "#detail-title")
    assert table.get_cell("verify_endpoints", "at").plain == "T+1m"
    assert table.get_cell("change_freeze", "drift").plain == "+2m30s"


async def test_the_first_frame_shows_step_titles_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first time the timeline is drawn, the titles that fit are whole, and so is the header's next step."""
    first: list[str] = []
    render_lines = StepsTable.render_lines

    def recording(table: StepsTable, crop: Region) -> list[Strip]:
        strips = render_lines(table, crop)
        if not first:
            first.append("\n".join(strip.text for strip in strips))
            first.append(text_of(table.app, "#header-next"))  # type: ignore[arg-type]
        return strips

    monkeypatch.setattr(StepsTable, "render_lines", recording)
    async with open_dashboard(fresh_session()) as view:
        await view.pilot.pause()
        rows, header = first
        assert "Production verification" in rows and "Change freeze starts" in rows
        assert "Next Change freeze starts" in header


async def test_the_cyclic_collector_is_on_once_the_first_frame_is_drawn() -> None:
    """The dashboard commands start without the cyclic collector; the dashboard turns it on after its first frame."""
    gc.disable()
    try:
        async with open_dashboard(fresh_session()) as view:
            await wait_until(view.pilot, gc.isenabled)
    finally:
        gc.enable()


async def test_a_second_redraws_only_the_rows_whose_drift_moved() -> None:
    """Overdue pending steps' drifts tick each second: their rows are drawn again, with the new drift, and no other row."""
    backend = fresh_session()
    backend.record("t0_set", {"t0": format_ts(backend.now() - timedelta(seconds=90))}, actor="commander")
    backend.advance((1 - int(backend.now().timestamp())) % 2)
    async with open_dashboard(backend, clock_tick=0.05) as view:
        app, pilot = view.app, view.pilot
        table = app.query_one(StepsTable)
        await pilot.pause(0.3)
        overdue = [step.id for step in app.session.steps if step.drift_seconds is not None]
        assert 2 <= len(overdue) < len(app.session.steps)  # some rows tick, some do not
        drawn: list[int] = []  # the rows of the lines the screen asks the table to draw (below its header line)
        render_line = table.render_line

        def counting(y: int) -> Strip:
            drawn.append(y - 1 + int(table.scroll_y))
            return render_line(y)

        table.render_line = counting  # type: ignore[method-assign]
        before = {step_id: table.get_cell(step_id, "drift").plain for step_id in overdue}
        backend.advance(1)
        await wait_until(pilot, lambda: all(table.get_cell(s, "drift").plain != before[s] for s in overdue))
        await pilot.pause(0.3)
        assert drawn and set(drawn) <= {table.get_row_index(step_id) for step_id in overdue}
        assert all(table.get_cell(s, "drift").plain.startswith("+") for s in overdue)


async def test_clock_ticks_build_again_only_the_rows_they_changed() -> None:
    """Ticks that change no step build no row's cells; a second that moves the overdue steps' drifts builds their rows alone."""
    backend = fresh_session()
    backend.record("t0_set", {"t0": format_ts(backend.now() - timedelta(seconds=90))}, actor="commander")
    async with open_dashboard(backend, clock_tick=0.05) as view:
        app, pilot = view.app, view.pilot
        table = app.query_one(StepsTable)
        await pilot.pause(0.3)
        overdue = [step.id for step in app.session.steps if step.drift_seconds is not None]
        assert 2 <= len(overdue) < len(app.session.steps)
        ticks: list[None] = []
        on_clock = app._on_clock
        app._on_clock = lambda: (ticks.append(None), on_clock())  # type: ignore[method-assign]
        built = table.rows_built
        await wait_until(pilot, lambda: len(ticks) >= 3)
        assert table.rows_built == built  # the same second again: nothing to build
        before = {step_id: table.get_cell(step_id, "drift").plain for step_id in overdue}
        backend.advance(1)
        await wait_until(pilot, lambda: all(table.get_cell(s, "drift").plain != before[s] for s in overdue))
        ticks.clear()
        await wait_until(pilot, lambda: len(ticks) >= 3)
        assert table.rows_built == built + len(overdue)


async def test_a_second_that_changes_no_height_lays_nothing_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The active step's "took" and the header's countdowns move on each second with no new layout; each detail fits its text."""
    layouts: list[None] = []
    refresh_layout = Screen._refresh_layout
    monkeypatch.setattr(Screen, "_refresh_layout", lambda *a, **k: (layouts.append(None), refresh_layout(*a, **k))[1])
    backend = session_in_progress()
    async with open_dashboard(backend, clock_tick=0.05) as view:
        app, pilot = view.app, view.pilot
        title, body = app.query_one("#detail-title", Static), app.query_one("#detail-body", Static)
        laid_out = -1
        for _ in range(40):  # until start-up's own layouts are over (the footer's keys come after the first frame)
            if len(layouts) == laid_out:
                break
            laid_out = len(layouts)
            await pilot.pause(0.3)
        shown = text_of(app, "#detail-title")
        assert "took" in shown  # the selected step is the active one
        backend.advance(1)
        await wait_until(pilot, lambda: text_of(app, "#detail-title") != shown)
        await pilot.pause(0.2)
        assert len(layouts) == laid_out
        for step in app.session.steps:  # details of other heights: the pane is laid out to fit each
            app.query_one(StepsTable).select_step(step.id)
            await pilot.pause(0.1)
            for static in (title, body):
                width = static.content_size.width
                assert static.content_size.height == static.get_content_height(static.container_size, app.size, width)


@pytest.mark.scenario("firing")
@pytest.mark.size(80, 24)
async def test_current_step_stays_in_view_at_80_by_24(app: CutoverApp, pilot: Pilot[None]) -> None:
    """At 80×24, under a banner, the current step's row is on screen and every pane is present."""
    await pilot.pause()
    table = app.query_one(StepsTable)
    first_visible = int(table.scroll_y)
    visible_rows = table.scrollable_content_region.height - 1  # less the header row
    assert first_visible <= table.cursor_row < first_visible + visible_rows
    for selector in ("#header", "#steps", "#conditions", "#alerts", "#log", "StopBanner"):
        assert app.query_one(selector).region.height > 0, selector


def test_blind_states_never_look_ok() -> None:
    """Unknown, stale and error have their own symbols and never the ok colour, in markers and in cards."""
    ok = CONDITION_MARKERS[ConditionState.OK]
    runbook = session_in_progress().runbook
    condition = runbook.condition("auth_errors")
    for state in BLIND_STATES:
        marker = CONDITION_MARKERS[state]
        assert marker.symbol != ok.symbol and marker.style != OK_STYLE
        view = ConditionView("auth_errors", state, 0.002, "> 1%", None, reason="HTTP 503", history=(0.002, None))
        console = Console(width=60, color_system="truecolor", record=True)
        console.print(condition_card(condition, view, runbook, START))
        rendered = console.export_text()
        assert marker.word.upper() in rendered and "HTTP 503" in rendered


async def test_blind_condition_shows_why_and_cannot_verify_is_not_green() -> None:
    """A watched condition without data says why, and CANNOT VERIFY is drawn in a colour other than CONTINUE's."""
    backend = session_in_progress()
    backend.record("step_completed", {"step": "verify_endpoints", "gate": {}}, actor="sre")
    backend.record("step_started", {"step": "monitor_error_rate_latency"}, actor="sre")
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        assert app.session.verdict is Verdict.CANNOT_VERIFY
        badge = app.query_one(VerdictBadge)
        assert "CANNOT VERIFY" in str(badge.render())
        cannot_verify = badge.styles.background
        assert not (cannot_verify.g > cannot_verify.r and cannot_verify.g > cannot_verify.b)  # not a green
        card = app.query_one(ConditionsList).card("api_errors").plain_lines()[2]
        assert "no data: metric api_error_ratio" in card  # cut to the pane's width
        backend.tick("api_error_ratio", "pass", 0.0004)
        backend.condition("api_errors", "ok", 0.0004, "0.04% ≤ 1%")
        await pilot.pause()
        assert app.session.verdict is Verdict.CONTINUE
        assert badge.styles.background != cannot_verify


async def test_state_changed_bursts_collapse_into_one_render() -> None:
    """Several states posted at once render once, the newest (StateChanged.can_replace)."""
    backend = session_in_progress()
    # no clock tick renders in between, however slow the machine
    async with open_dashboard(backend, clock_tick=3600) as view:
        handled = len(view.messages)
        states = []
        for n in range(5):
            backend.record("note", {"text": f"burst {n}"}, actor="commander")
            states.append(backend.state())
        await view.pilot.pause()
        renders = [m.state.last_event_seq for m in view.messages[handled:] if isinstance(m, StateChanged)]
        assert renders == [states[-1].last_event_seq]
        assert StateChanged(states[0]).can_replace(StateChanged(states[1]))


async def test_banner_appears_with_one_bell_on_every_screen_until_a_decision(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """A firing rollback condition raises a banner (bell once) shown over dialogs too; a decision clears it."""
    assert app.banner is None and app.bells_rung == 0
    auth_errors_firing(backend)
    await pilot.pause()
    banner = app.banner
    assert banner is not None and not banner.halt
    plain = banner.text.plain
    for part in ("ROLLBACK", "auth_errors", "4.2%", "> 1%", "for 1m", "decides: CTO (decides rollback)"):
        assert part in plain, part
    assert app.bells_rung == 1
    backend.tick("auth_error_ratio", "breach", 0.05)
    await pilot.pause()
    assert app.bells_rung == 1  # the same episode rings once
    await pilot.press("n")
    await pilot.pause()
    assert isinstance(app.screen, TextPromptScreen)
    on_dialog = app.screen.query_one(StopBanner)
    assert on_dialog.display and "auth_errors" in str(on_dialog.render())
    await pilot.press("escape")
    await pilot.press("d", "5")
    await pilot.press("tab", *"roll back now", "enter")
    await pilot.pause()
    await pilot.press("escape")  # not entering the rollback plan yet: the decision alone clears the banner
    await settle(pilot)
    assert app.banner is None
    assert not app.query_one(StopBanner).display


async def test_unanswered_banner_names_whom_to_escalate_to() -> None:
    """Past its severity's respond_within without an acknowledgement, the banner says whom to escalate to."""
    backend = session_in_progress()
    auth_errors_firing(backend)
    app = make_app(backend, clock_tick=0.05)
    async with app.run_test(size=SIZE) as pilot:
        assert "escalate" not in app.banner.text.plain
        backend.clock.advance(31 * 60)
        await wait_until(pilot, lambda: "escalate to CTO (decides rollback)" in app.banner.text.plain)
        assert "P0: respond within 30m" in app.banner.text.plain
        await pilot.press("a")
        await settle(pilot)
        assert "escalate" not in app.banner.text.plain


async def test_alerts_by_severity_with_suppressed_apart_and_a_blind_source_said() -> None:
    """Active alerts are listed most severe first, suppressed ones apart; a failing Alertmanager is 'cannot tell'."""
    runbook = session_in_progress().runbook
    alerts_check = Check("critical_alerts", "alerts", {"source": "alertmanager", "matchers": ()})
    backend = AppTestBackend(replace(runbook, checks={**runbook.checks, "critical_alerts": alerts_check}))
    active = [
        {
            "labels": {"alertname": "DiskFilling", "severity": "warning"},
            "annotations": {"summary": "/var 91%"},
            "startsAt": "2026-12-01T16:29:00Z",
        },
        {
            "labels": {"alertname": "AuthDown", "severity": "critical"},
            "annotations": {"summary": "5xx on /auth"},
            "startsAt": "2026-12-01T16:29:30Z",
        },
    ]
    suppressed = [{"labels": {"alertname": "Watchdog", "severity": "none"}, "annotations": {}, "startsAt": ""}]
    backend.tick("critical_alerts", "breach", 2.0, active=active, suppressed=suppressed)
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        text = str(app.query_one("#alerts").render())
        assert text.index("AuthDown") < text.index("DiskFilling") < text.index("Suppressed 1: Watchdog")
        assert "since 21:59" in text
        backend.clock.advance(5)
        backend.tick("critical_alerts", "error", None, detail="connection refused")
        await pilot.pause()
        assert "critical_alerts: cannot tell (connection refused)" in str(app.query_one("#alerts").render())


async def test_no_alerts_check_is_not_reported_as_no_alerts(app: CutoverApp) -> None:
    """A runbook without an Alertmanager check says so, rather than 'No active alerts'."""
    assert str(app.query_one("#alerts").render()) == "No Alertmanager check in this runbook"


async def test_log_shows_decisions_and_notes_with_actor_and_time(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """The log pane ends with the newest lines, each with its time and actor."""
    backend.clock.advance(7)
    backend.record("note", {"text": "customer on the bridge"}, actor="alice")
    await pilot.pause()
    log = app.query_one(DecisionLog)
    last = log.get_row_at(log.row_count - 1)
    assert [cell.plain for cell in last] == ["22:05:07", "alice", "customer on the bridge"]


async def test_a_long_log_line_wraps_within_the_pane_and_follows_its_width(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """A note longer than the pane wraps under its own column, every word on screen, with no sideways scrolling; a resize wraps it again."""
    words = " ".join(f"word{n}" for n in range(14))
    backend.record("note", {"text": words}, actor="alice")
    await pilot.pause()

    def shown() -> str:
        log = app.query_one(DecisionLog)
        assert log.max_scroll_x == 0 and not log.show_horizontal_scrollbar
        lines = ["".join(segment.text for segment in log.render_line(y)) for y in range(log.size.height)]
        return " ".join(" ".join(lines).split())

    await wait_until(pilot, lambda: words in shown())
    await pilot.resize_terminal(100, 40)
    await wait_until(pilot, lambda: words in shown())


async def test_footer_offers_only_the_keys_that_apply(app: CutoverApp, pilot: Pilot[None]) -> None:
    """A done step offers no start or complete; a pending one offers start; acknowledge only when something fires."""
    table = app.query_one(StepsTable)
    table.select_step("change_freeze")
    await pilot.pause()
    keys = app.screen.active_bindings
    assert "s" not in keys and "c" not in keys and "a" not in keys
    assert {"d", "n", "R", "question_mark"} <= set(keys)
    table.select_step("production_verification")
    await pilot.pause()
    assert {"s", "c", "f", "k"} <= set(app.screen.active_bindings)


async def test_help_lists_every_key(app: CutoverApp, pilot: Pilot[None]) -> None:
    """? opens a help screen listing every action key and the marker legend."""
    await pilot.press("question_mark")
    await pilot.pause()
    assert isinstance(app.screen, HelpScreen)
    listed = {key for key, _ in app.screen.keys}
    assert {"s", "c", "f", "k", "e", "n", "d", "a", "t", "R", "?"} <= listed
    assert "space / x" in listed and "ctrl+p" in listed
    console = Console(width=100, record=True)
    console.print(app.screen.query_one("#legend", Static).content)
    assert "◷ stale" in console.export_text()
    await pilot.press("escape")
    assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_offers_every_action_that_applies(app: CutoverApp, pilot: Pilot[None]) -> None:
    """The command palette (ctrl+p) lists every action that applies now; running one works like its key."""
    titles = {command.title: command for command in app.get_system_commands(app.screen)}
    not_applying = {"Start step", "Set T-0", "Acknowledge condition"}  # the step is active, T-0 set, nothing fires
    assert {c.title for c in COMMANDS} - not_applying <= set(titles)
    assert not not_applying & set(titles)
    await titles["Add note"].callback()
    await pilot.pause()
    assert isinstance(app.screen, TextPromptScreen)


async def test_backend_is_started_on_mount_and_stopped_on_exit() -> None:
    """The app starts the backend when it mounts and stops it when it exits."""
    backend = session_in_progress()
    app = make_app(backend)
    async with app.run_test(size=SIZE):
        assert backend.started and not backend.stopped
    assert backend.stopped


async def test_a_scrubbed_backend_gets_the_replay_bar_and_its_keys() -> None:
    """A backend that is a Scrubber: the replay bar is mounted and draws its view, its keys reach it and show in the help."""
    moves: list[str] = []

    class ScrubbedBackend(AppTestBackend):
        view_label = "REPLAY"

        def scrubber_view(self) -> ScrubberView:
            return ScrubberView(START, START + timedelta(hours=1), self.now(), None, (), f"REPLAY {len(moves)} moves")

        def play_pause(self) -> None:
            moves.append("play/pause")
            self._changed()

        def change_speed(self, steps: int) -> None:
            moves.append(f"speed {steps:+d}")

        def seek_by(self, delta: timedelta) -> None:
            moves.append(f"by {delta.total_seconds():+.0f}s")
            self._changed()

        def seek_mark(self, direction: int) -> None:
            moves.append(f"mark {direction:+d}")

        def seek_t0(self) -> str | None:
            return "no T-0"

        def seek_end(self) -> None:
            moves.append("end")

    backend = ScrubbedBackend(session_in_progress().runbook, read_only=True)
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p", "]")
        await pilot.pause()
        assert moves == ["play/pause", "by +60s"]
        bar = app.query_one(ReplayBar)
        assert bar.region.height == 2 and bar.view is not None and bar.view.label == "REPLAY 2 moves"
        assert "REPLAY" in text_of(app, "#header-mode")
        assert ("]", "+1 min") in app.key_help()


async def test_quit_asks_first_in_a_live_session(app: CutoverApp, pilot: Pilot[None]) -> None:
    """q in a live session asks before it stops polling; escape keeps the dashboard running."""
    await pilot.press("q")
    await pilot.pause()
    assert isinstance(app.screen, ConfirmScreen)
    await pilot.press("escape")
    await pilot.pause()
    assert app.is_running and not isinstance(app.screen, ConfirmScreen)
    await pilot.press("q")
    await pilot.pause()
    await pilot.press("enter")
    await settle(pilot)
    assert not app.is_running


async def test_quit_is_immediate_in_a_read_only_view() -> None:
    """q in a follow or replay view quits at once: there is nothing to stop."""
    app = make_app(session_in_progress(read_only=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_command_palette_runs_an_action_by_name(app: CutoverApp, pilot: Pilot[None]) -> None:
    """ctrl+p, typing an action's name and enter runs it: here the rollback dialog opens."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*"Enter rollback")
    await wait_until(pilot, lambda: any(found.option_count for found in app.screen.query(CommandList)))
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen))
    assert app.screen.has_class("-danger")


async def test_behind_an_open_dialog_the_dashboards_clocks_move_and_agree_with_the_banner() -> None:
    """A dialog open (a note, a decision's reason being typed) left the dashboard behind it as it was when it
    opened: the header's clock stood still, and a firing card said "for 1m6s" under a banner saying "for 1m8s". The
    dashboard behind a dialog now follows the state as it does without one."""
    backend = session_firing()
    async with open_dashboard(backend) as dashboard:
        app, pilot = dashboard.app, dashboard.pilot
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, TextPromptScreen)
        before = text_of(app, "#header-t-clock")
        backend.advance(7)
        await wait_until(pilot, lambda: text_of(app, "#header-t-clock") != before, timeout=10)
        card = next(line for line in screen_lines(app) if "ROLLBACK → cto" in line and "for " in line)
        banner = str(app.screen.query_one(StopBanner).render())
        held = card.split("for ", 1)[1].split()[0].strip("│")
        assert f"for {held}" in banner, (card, banner)


async def test_reasons_and_answers_that_wrap_in_the_decision_dialog_keep_their_indent(monkeypatch) -> None:
    """A reason longer than the dialog is wide wrapped to the dialog's left edge ("...cleared at 05:08:19Z: no
    decision" then "logged" under the verdict's own line), where its end read as a line of its own; so did an answer
    under "Answers:". Every line of a reason keeps the reasons' indent, every line of an answer starts under the
    first answer, and nothing of either is lost."""
    from cutover_tui.screens.decision import DecisionScreen

    reasons = [
        "auth_errors_vs_baseline fired at 05:06:29Z, cleared at 05:08:19Z: no decision logged",
        "auth_errors fired at 05:06:29Z, cleared at 05:08:19Z: no decision logged since then",
    ]
    answers = ["auth_errors_vs_baseline fired 2m10s after 'Verify /health and /metrics' started (still running)"]
    monkeypatch.setattr(DecisionScreen, "show_verdict", lambda *_: None)  # these reasons, not the session's
    async with open_dashboard(session_in_progress()) as dashboard:
        app, pilot = dashboard.app, dashboard.pilot
        app.push_screen(DecisionScreen(step=None, scorecard=None, verdict=Verdict.ROLLBACK, verdict_reasons=reasons,
                                       answers=answers))  # fmt: skip
        await pilot.pause()
        region = app.screen.query_one("#dialog").content_region

        def drawn(static: Static) -> list[str]:  # its lines as on screen, from the dialog's left edge
            indent = " " * (static.content_region.x - region.x)
            return [indent + strip.text for strip in static.render_lines(Region(0, 0, *static.size))]

        lines = [line for static in app.screen.query_one("#dialog").query(Static) if static.display
                 for line in drawn(static)]  # fmt: skip
        start = next(n for n, line in enumerate(lines) if "Verdict now" in line) + 1
        shown = lines[start : start + 4]
        assert all(line.startswith("  ") for line in shown), shown
        assert " ".join(" ".join(shown).split()) == " ".join(reasons)
        label = app.screen.query_one("#decision-answers-label", Static)
        said = drawn(app.screen.query_one("#decision-answers", Static))
        assert len(said) > 1 and all(line.startswith(" " * len("Answers: ")) for line in said), said
        assert " ".join(" ".join(said).split()) == answers[0] and "Answers:" in str(label.render())


async def test_a_verdict_that_changes_behind_a_dialog_shows_at_once_in_the_header_and_the_dialog() -> None:
    """The decision dialog is open (a reason takes a minute to type) when a source dies: the header behind it and
    the dialog's own "Verdict now" turn CANNOT VERIFY at once, not the CONTINUE seen when it opened."""
    from cutover_tui.screens.decision import DecisionScreen
    from cutover_tui.widgets.verdict_badge import VerdictBadge

    backend = session_in_progress()
    backend.tick("api_error_ratio", "pass", 0.001)
    backend.condition("api_errors", "ok", 0.001, "0.1% ≤ 1%")
    async with open_dashboard(backend) as dashboard:
        app, pilot = dashboard.app, dashboard.pilot
        await wait_until(pilot, lambda: app.session.verdict is Verdict.CONTINUE)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DecisionScreen)
        assert "CONTINUE" in str(app.screen.query_one("#decision-verdict", Static).render())
        backend.condition("auth_errors", "stale", 0.002, "no reading for 12s")
        await wait_until(pilot, lambda: app.session.verdict is Verdict.CANNOT_VERIFY)
        await pilot.pause()
        assert app.query_one(VerdictBadge).verdict is Verdict.CANNOT_VERIFY  # the dashboard's header, behind
        shown = str(app.screen.query_one("#decision-verdict", Static).render())
        assert "CANNOT VERIFY" in shown and "CONTINUE" not in shown
