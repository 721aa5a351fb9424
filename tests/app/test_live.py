"""The dashboard over the real backends: live polling into a real log, follow, replay."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path

import pytest
from textual import events

from checks.reading import Outcome, Reading
from checks.status import ConditionState, Verdict
from checks.target import Target
from cutover_tui.app import CutoverApp, make_app
from cutover_tui.live import FollowBackend, LiveBackend
from cutover_tui.replay import ReplayBackend
from cutover_tui.screens.prompts import TextPromptScreen
from cutover_tui.state import Mode, SessionState
from cutover_tui.store import SessionLog
from runbooks import parse_runbook
from runbooks.model import HttpSpec

SIZE = (120, 36)

RUNBOOK = """\
name: Live test release
roles: {commander: Incident commander, cto: CTO}
checks:
  api_health: {http: "{url}/health", expect_status: 200, every: 1s, timeout: 900ms}
  auth_error_ratio:
    scrape: "{url}/metrics"
    metric: auth_error_ratio
    every: 1s
    timeout: 900ms
stop_conditions:
  - id: auth_errors
    check: auth_error_ratio
    when: "> 1%"
    for: 1s
    action: rollback
    decides: cto
steps:
  - title: Deploy
    at: T-0
    gate: [api_health]
    watch: [auth_errors]
rollback:
  - title: helm rollback
"""


def runbook_for(url: str, tmp_path: Path):
    path = tmp_path / "release.yaml"
    path.write_text(RUNBOOK.replace("{url}", url))
    return parse_runbook(path.read_text(), file=str(path))


async def wait_until(pilot, predicate, timeout: float = 15.0) -> None:
    """Let the app run until ``predicate()`` holds (bounded)."""
    for _ in range(int(timeout / 0.1)):
        if predicate():
            return
        await pilot.pause(0.1)
    raise AssertionError("condition not reached in time")


@pytest.mark.slow
async def test_live_breach_fires_banner_and_rollback_decision_is_logged(tmp_path: Path) -> None:
    """A real breach fires the rollback condition beside its step; the ROLLBACK decision lands in the log."""
    with Target() as target:
        runbook = runbook_for(target.url, tmp_path)
        db = tmp_path / "s.cutover.db"
        backend = LiveBackend(runbook, SessionLog.create(db, runbook, operator="ic"), actor="ic")
        app = make_app(backend)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.session.conditions["auth_errors"].state is ConditionState.OK)
            await wait_until(pilot, lambda: app.session.verdict is Verdict.CONTINUE)  # every check read once
            target.set(auth_error_ratio=0.04)
            await wait_until(pilot, lambda: app.session.banner is not None)
            assert app.session.conditions["auth_errors"].state is ConditionState.FIRING
            assert app.session.verdict is Verdict.ROLLBACK
            await pilot.press("d", "5", "tab", *"auth errors 4%", "enter")
            await wait_until(pilot, lambda: app.session.banner is None)
            await pilot.press("enter")  # enter the rollback plan too
            await wait_until(pilot, lambda: app.session.mode is Mode.ROLLBACK)
    log = SessionLog.open_readonly(db)
    kinds = [e.kind for e in log.events()]
    decision = next(e for e in log.events() if e.kind == "decision")
    assert decision.payload["decision"] == "rollback"
    assert decision.payload["conditions"]["auth_errors"]["state"] == "firing"
    assert "rollback_started" in kinds
    assert any(e.kind == "condition_changed" and e.payload["state"] == "firing" for e in log.events())
    assert log.verify().ok
    log.close()


@pytest.mark.slow
async def test_a_rollback_that_fired_and_cleared_stays_on_screen_until_a_decision_is_logged(tmp_path: Path) -> None:
    """A real breach fires, then clears with no decision: ROLLBACK and its banner stay (no second bell), the banner
    says when it fired and cleared; a CONTINUE decision then lets the verdict go."""
    with Target() as target:
        runbook = runbook_for(target.url, tmp_path)
        db = tmp_path / "s.cutover.db"
        backend = LiveBackend(runbook, SessionLog.create(db, runbook, operator="ic"), actor="ic")
        app = make_app(backend)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.session.verdict is Verdict.CONTINUE)  # every check read once
            target.set(auth_error_ratio=0.04)
            await wait_until(pilot, lambda: app.session.conditions["auth_errors"].state is ConditionState.FIRING)
            target.set(auth_error_ratio=0.001)
            await wait_until(pilot, lambda: app.session.conditions["auth_errors"].state is ConditionState.OK)
            await pilot.pause(1.5)  # polls go on: nothing but a decision lets it go
            assert app.session.verdict is Verdict.ROLLBACK
            assert app.session.verdict_reasons[0].endswith(": no decision logged")
            assert app.banner is not None and app.bells_rung == 1
            shown = app.banner.text.plain
            assert "auth_errors fired at" in shown and "cleared at" in shown and "no decision logged" in shown
            assert "d: record a decision" in shown and "a: acknowledge" not in shown  # nothing fires to acknowledge
            await pilot.press("d", "6", "tab", *"a two-second blip, errors back to 0.1%", "enter")
            await wait_until(pilot, lambda: app.session.verdict is Verdict.CONTINUE)
            assert app.banner is None
    log = SessionLog.open_readonly(db)
    decision = next(e for e in log.events() if e.kind == "decision")
    assert decision.payload["decision"] == "continue" and decision.payload["answers"] == ["auth_errors"]
    assert decision.payload["verdict"] == "ROLLBACK"
    log.close()


@pytest.mark.slow
async def test_unreachable_sources_show_unknown_never_ok(tmp_path: Path) -> None:
    """With the service down, conditions are blind (never ok) and the gated step cannot be verified."""
    with Target() as target:
        url = target.url
    runbook = runbook_for(url, tmp_path)  # the target is stopped: nothing listens there now
    backend = LiveBackend(runbook, SessionLog.create(tmp_path / "d.cutover.db", runbook, operator="ic"), actor="ic")
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.checks["api_health"].outcome == "error")
        await pilot.pause(1.5)
        assert app.session.conditions["auth_errors"].state is not ConditionState.OK
        assert app.session.verdict is Verdict.CANNOT_VERIFY


@pytest.mark.slow
async def test_polling_started_after_the_first_frame_shows_no_condition_ok_before_its_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As ``run`` starts (polling once the first frame is on screen), no state drawn before a reading shows ok."""
    drawn: list[tuple[ConditionState, str | None, bool]] = []  # each state drawn: condition, check outcome, polling yet
    polling: list[bool] = []
    render_state, start_polling = CutoverApp._render_state, LiveBackend._start_polling

    def recording(app: CutoverApp, state: SessionState, previous: SessionState | None) -> None:
        drawn.append((state.conditions["auth_errors"].state, state.checks["auth_error_ratio"].outcome, bool(polling)))
        render_state(app, state, previous)

    async def starting(backend: LiveBackend) -> None:
        polling.append(True)
        await start_polling(backend)

    monkeypatch.setattr(CutoverApp, "_render_state", recording)
    monkeypatch.setattr(LiveBackend, "_start_polling", starting)
    with Target() as target:
        runbook = runbook_for(target.url, tmp_path)
        log = SessionLog.create(tmp_path / "f.cutover.db", runbook, operator="ic")
        app = make_app(LiveBackend(runbook, log, actor="ic", defer_polling=True))
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.session.conditions["auth_errors"].state is ConditionState.OK)
    assert drawn[0] == (ConditionState.UNKNOWN, None, False)  # the first frame: drawn before polling, not polled
    assert all(state is not ConditionState.OK for state, outcome, _ in drawn if outcome is None)
    assert any(state is ConditionState.OK for state, _, _ in drawn)  # the service is healthy: read, then ok


@pytest.mark.slow
async def test_a_key_typed_before_the_first_frame_opens_its_dialog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key typed while the dashboard starts (before its first frame, its dialogs not loaded yet) still does its work."""
    answered_before_first_frame: list[bool] = []
    polling: list[bool] = []
    on_mount, add_note, first_frame = CutoverApp.on_mount, CutoverApp.action_add_note, LiveBackend.first_frame

    async def typing_early(app: CutoverApp) -> None:
        app.post_message(events.Key("n", "n"))  # as the terminal hands over what was typed during start-up
        await on_mount(app)

    def noting(app: CutoverApp) -> None:
        answered_before_first_frame.append(not polling)
        add_note(app)

    async def starting(backend: LiveBackend) -> None:
        polling.append(True)
        await first_frame(backend)

    monkeypatch.setattr(CutoverApp, "on_mount", typing_early)
    monkeypatch.setattr(CutoverApp, "action_add_note", noting)
    monkeypatch.setattr(LiveBackend, "first_frame", starting)
    with Target() as target:
        runbook = runbook_for(target.url, tmp_path)
        log = SessionLog.create(tmp_path / "k.cutover.db", runbook, operator="ic")
        app = make_app(LiveBackend(runbook, log, actor="ic", defer_polling=True))
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen))
            await pilot.press(*"typed early", "enter")
            await wait_until(pilot, lambda: any(line.kind == "note" for line in app.session.log))
    assert answered_before_first_frame == [True]
    assert any(line.kind == "note" and "typed early" in line.text for line in app.session.log)


@pytest.mark.slow
async def test_resume_keeps_the_log_and_records_the_gap(tmp_path: Path) -> None:
    """Running again on the same file resumes: earlier events are on screen and session_resumed is logged."""
    with Target() as target:
        runbook = runbook_for(target.url, tmp_path)
        db = tmp_path / "r.cutover.db"
        log = SessionLog.create(db, runbook, operator="ic")
        log.append("note", {"text": "before the crash"}, actor="ic")
        log.close()
        backend = LiveBackend(runbook, SessionLog.open(db, runbook, operator="ic"), actor="ic")
        app = make_app(backend)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert any(line.kind == "note" for line in app.session.log)
            assert app.session.gaps or any(line.kind == "session_resumed" for line in app.session.log)


@pytest.mark.slow
async def test_follow_shows_what_another_writer_appends(tmp_path: Path) -> None:
    """A follower sees events and readings the writer stores within a second, and refuses to write."""
    runbook = runbook_for("http://127.0.0.1:9", tmp_path)
    db = tmp_path / "f.cutover.db"
    writer = SessionLog.create(db, runbook, operator="ic")
    follower = FollowBackend(db, runbook, interval=0.1)
    app = make_app(follower)
    async with app.run_test(size=SIZE) as pilot:
        writer.append("note", {"text": "deploy looks clean"}, actor="ic")
        await wait_until(pilot, lambda: any("deploy looks clean" in line.text for line in app.session.log), 3)
        now = datetime.now(timezone.utc)
        writer.record_reading(Reading("auth_error_ratio", Outcome.PASS, 0.004, "", 0.01, now, 1.0))
        writer.flush_ticks()
        await wait_until(pilot, lambda: app.session.checks["auth_error_ratio"].value == 0.004, 3)
        await pilot.press("n")
        await pilot.pause()
        assert [e.kind for e in writer.events()] == ["session_started", "note"]
    writer.close()


@pytest.mark.slow
async def test_replay_seeks_to_the_state_at_each_decision(tmp_path: Path) -> None:
    """Replay at a decision's instant folds to the state the live session held then; marks step through them."""
    runbook = runbook_for("http://127.0.0.1:9", tmp_path)
    db = tmp_path / "p.cutover.db"
    log = SessionLog.create(db, runbook, operator="ic")
    log.append("step_started", {"step": "deploy"}, actor="ic")
    await asyncio.sleep(0.01)
    first = log.append("decision", {"decision": "hold", "reason": "wait", "conditions": {}, "verdict": "CONTINUE"})
    await asyncio.sleep(0.01)
    log.append("rollback_started", {"reason": "auth errors"}, actor="ic")
    log.close()
    replay = ReplayBackend(db, runbook)
    at_decision = replay.seek(first.ts)
    assert [d.decision for d in at_decision.decisions] == ["hold"]
    assert at_decision.mode is not Mode.ROLLBACK
    assert replay.seek(replay.end_at).mode is Mode.ROLLBACK
    replay.seek(replay.start_at)
    replay.seek_mark(+1)
    assert replay.position > replay.start_at
    app = make_app(replay)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("end")
        await pilot.pause()
        assert app.session.mode is Mode.ROLLBACK
        await pilot.press("n")  # a write key: refused, nothing appended
        await pilot.pause()
    assert len(SessionLog.open_readonly(db).events()) == 4


@pytest.mark.slow
def test_demo_in_tmux_renders_and_logs_a_note(tmp_path: Path) -> None:
    """`cutover-tui demo` in a real terminal shows the clock and steps; a note typed there reaches the log."""
    import os
    import shutil
    import subprocess
    import sys
    import time

    if shutil.which("tmux") is None:
        pytest.skip("needs Debian package 'tmux'")
    from fault_kit import close_private_tmux, private_tmux

    exe = Path(sys.executable).with_name("cutover-tui")
    db = tmp_path / "demo.cutover.db"
    session = f"demo{os.getpid()}-{time.monotonic_ns()}"
    tmux = private_tmux(session)
    subprocess.run(
        [*tmux, "new", "-d", "-s", session, "-x", "120", "-y", "36", f"{exe} demo --db {db} --as tester"], check=True
    )

    def screen_shows(*texts: str) -> str:
        """Wait (bounded) until the terminal shows every one of ``texts``; the screen."""
        screen = ""
        for _ in range(100):
            screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
            if all(text in screen for text in texts):
                break
            time.sleep(0.1)
        return screen

    try:
        screen = screen_shows("Demo go-live", "T-00:", "Production deploy")
        assert "Demo go-live" in screen and "Production deploy" in screen, screen
        subprocess.run([*tmux, "send-keys", "-t", session, "n"], check=True)
        screen = screen_shows("Note for the log:")  # the prompt has focus: typing goes to it
        assert "Note for the log:" in screen, screen
        subprocess.run([*tmux, "send-keys", "-t", session, "-l", "smoke note"], check=True)
        subprocess.run([*tmux, "send-keys", "-t", session, "Enter"], check=True)
        for _ in range(150):
            log = SessionLog.open_readonly(db)
            notes = [e for e in log.events() if e.kind == "note"]
            log.close()
            if notes:
                break
            time.sleep(0.1)
        assert notes and notes[0].payload["text"] == "smoke note" and notes[0].actor == "tester"
    finally:
        close_private_tmux(tmux)


def test_follow_and_replay_read_a_runbook_whose_url_variables_are_unset_here(tmp_path: Path, monkeypatch) -> None:
    """A session whose runbook names ${API_URL} opens for replay where API_URL is not set."""
    from cutover_tui.commands.app_cmds import runbook_from_log

    monkeypatch.setenv("API_URL", "http://127.0.0.1:9")
    text = RUNBOOK.replace("{url}", "${API_URL}")
    runbook = parse_runbook(text, file="release.yaml")
    db = tmp_path / "u.cutover.db"
    SessionLog.create(db, runbook, operator="ic").close()
    monkeypatch.delenv("API_URL")
    stored = runbook_from_log(db)
    assert stored.checks["api_health"].spec_as(HttpSpec).url == "${API_URL}/health"
    assert stored.sha256 == runbook.sha256
