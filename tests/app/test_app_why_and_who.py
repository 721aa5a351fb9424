"""Through the real app: `w` explains a condition (live and in replay), who decided, and two-person approval."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Button, Input, Select, Static

from app_backend import AppTestBackend, auth_errors_firing, demo_runbook, fresh_session, session_in_progress
from app_driver import select, settle
from checks.reading import Outcome
from cutover_tui.app import make_app
from cutover_tui.replay import ReplayBackend
from cutover_tui.screens.approval import ApprovalScreen
from cutover_tui.screens.decision import DecisionScreen
from cutover_tui.screens.why import WhyScreen
from cutover_tui.state import StepStatus
from scripted_session import ScriptedSession

SIZE = (120, 36)

BASELINE_RUNBOOK = """\
name: Why session
roles: {cto: CTO}
checks:
  auth_error_ratio: {scrape: "http://127.0.0.1:9/metrics", metric: auth_error_ratio, unit: "%", every: 2s, timeout: 1s, pass_when: "< 1%"}
stop_conditions:
  - id: auth_vs_baseline
    title: Auth errors against the baseline
    check: auth_error_ratio
    when: "> 2x baseline"
    baseline: {from: T-30s, to: T-0, min_samples: 10}
    for: 10s
    action: rollback
    decides: cto
"""


def screen_text(pilot: Pilot[Any]) -> str:
    return "\n".join(str(widget.render()) for widget in pilot.app.screen.query(Static))


def firing_against_baseline(path: Path) -> ScriptedSession:
    session = ScriptedSession(path, BASELINE_RUNBOOK, t0_in=40)
    session.poll("auth_error_ratio", 0.002, until=50)
    session.poll("auth_error_ratio", None, until=70, values=lambda t: 0.02 + t / 10_000, detail="")
    session.poll_once(
        "auth_error_ratio",
        None,
        outcome=Outcome.ERROR,
        detail="HTTP 503 Service Unavailable: upstream auth pod crashlooping",
    )
    session.advance_to(72)
    session.poll("auth_error_ratio", 0.03, until=80)
    session.settle()
    return session


async def test_w_explains_the_condition_live_with_every_poll_the_baseline_and_the_last_error(tmp_path: Path) -> None:
    """Live, `w` shows what the check reads, the last 20 polls, the hold, the last error in full and the baseline."""
    session = firing_against_baseline(tmp_path / "s.cutover.db")
    app = make_app(session.backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, WhyScreen)
        why = app.screen.why
        assert (
            why.condition == "auth_vs_baseline"
            and why.reads == "scrape http://127.0.0.1:9/metrics: auth_error_ratio (value)"
        )
        assert why.readings_note == "Last 20 polls (every poll, stored or not)" and len(why.readings) == 20
        assert why.last_error.endswith("HTTP 503 Service Unavailable: upstream auth pod crashlooping")
        assert why.baseline.startswith("median 0.2% of 16 readings T-30s to T-0 (session log, ticks")
        assert why.judged.startswith("ratio ") and why.hold.startswith("firing, breach held ")
        assert why.graph is None  # a scrape check: no Prometheus to link to
        text = screen_text(pilot)
        assert "Reads: scrape http://127.0.0.1:9/metrics" in text and "Last error: " in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, WhyScreen)


async def test_w_in_replay_reads_the_log_and_marks_the_readings_the_change_named(tmp_path: Path) -> None:
    """In replay, `w` lists the stored readings up to the instant, marks those the firing named, and gives the baseline."""
    session = firing_against_baseline(tmp_path / "s.cutover.db")
    session.close()
    backend = ReplayBackend(tmp_path / "s.cutover.db", session.runbook)
    backend.seek(backend.end_at)
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, WhyScreen)
        why = app.screen.why
        assert why.readings_note.startswith("Last ") and "stored readings" in why.readings_note
        assert why.baseline.startswith("median 0.2% of 16 readings T-30s to T-0 (session log, ticks")
        assert why.named_ticks and {r.tick for r in why.readings if r.named} <= set(why.named_ticks)
        assert any(r.named for r in why.readings)


async def test_the_decision_records_who_decided_and_says_which_step_preceded_the_firing() -> None:
    """The dialog offers the banner's role (CTO) first, says which step preceded the firing; the log keeps both names."""
    backend = session_in_progress()
    auth_errors_firing(backend)
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DecisionScreen)
        assert app.screen.query_one("#decided-by", Select).value == "cto"
        answers = str(app.screen.query_one("#decision-answers", Static).render())
        assert answers.startswith("auth_errors fired ") and "after 'Verify /health and /metrics' started" in answers
        await pilot.press("5", "tab", *"auth errors at 4%", "enter")
        await pilot.pause()
        await pilot.press("escape")  # not entering rollback now
        await settle(pilot)
    decision = next(e for e in backend.appended if e.kind == "decision")
    assert decision.actor == "commander"
    assert (decision.payload["decided_by"], decision.payload["decides"], decision.payload["answers"]) == (
        "cto",
        "cto",
        ["auth_errors"],
    )


async def test_someone_else_can_be_named_as_the_decider() -> None:
    """'Someone else' needs a name before the decision can be recorded; that name is decided_by."""
    backend = session_in_progress()
    auth_errors_firing(backend)
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await pilot.pause()
        screen = app.screen
        await pilot.press("4", "tab", *"waiting for the vendor")
        screen.query_one("#decided-by", Select).value = "__other__"
        await pilot.pause()
        assert screen.query_one("#confirm", Button).disabled
        screen.query_one("#decider-name", Input).value = "Priya (VP Eng, on the bridge)"
        await pilot.pause()
        assert not screen.query_one("#confirm", Button).disabled
        await pilot.click("#confirm")
        await settle(pilot)
    decision = next(e for e in backend.appended if e.kind == "decision")
    assert decision.payload["decided_by"] == "Priya (VP Eng, on the bridge)" and decision.payload["decision"] == "hold"


def two_approvers() -> AppTestBackend:
    runbook = demo_runbook()
    steps = tuple(dataclasses.replace(s, approvers=2) if s.id == "approve_prod_deploy" else s for s in runbook.steps)
    return fresh_session(dataclasses.replace(runbook, steps=steps))


async def test_two_person_approval_needs_two_distinct_names() -> None:
    """`approvers: 2`: Dana approves; Dana again is refused whatever the case; Lee's approval completes the step."""
    backend = two_approvers()
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "approve_prod_deploy")
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ApprovalScreen) and "(1 of 2)" in app.screen.dialog_title
        assert app.screen.query_one("#approver", Input).value == ""  # several approvers: each names themself
        await pilot.press(*"APPROVE PROD DEPLOY", "tab", *"Dana Smith", "enter")
        await pilot.pause()
        await pilot.pause()
        second = app.screen
        assert isinstance(second, ApprovalScreen) and "(2 of 2)" in second.dialog_title
        await pilot.press(*"APPROVE PROD DEPLOY", "tab", *"dana smith")
        await pilot.pause()
        assert second.query_one("#confirm", Button).disabled
        assert "has already approved" in str(second.query_one("#approval-warning", Static).render())
        second.query_one("#approver", Input).value = "Lee Wong"
        await pilot.pause()
        assert not second.query_one("#confirm", Button).disabled
        await pilot.click("#confirm")
        await settle(pilot)
        assert next(s for s in app.session.steps if s.id == "approve_prod_deploy").status is StepStatus.DONE
    approvals = [e.payload for e in backend.appended if e.kind == "decision"]
    assert [(a["decided_by"], a["approval"]) for a in approvals] == [
        ("Dana Smith", {"n": 1, "of": 2}),
        ("Lee Wong", {"n": 2, "of": 2}),
    ]
    assert all(a["phrase"] == "APPROVE PROD DEPLOY" for a in approvals)
    assert [e.kind for e in backend.appended] == ["decision", "decision", "step_completed"]


async def test_one_approver_is_the_person_at_the_keys_unless_changed() -> None:
    """With one approver the name starts as the typist (`--as`); the approval is decided by them."""
    backend = fresh_session()
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "approve_prod_deploy")
        await pilot.press("c")
        await pilot.pause()
        assert app.screen.query_one("#approver", Input).value == "commander"
        await pilot.press(*"APPROVE PROD DEPLOY", "enter")
        await settle(pilot)
    assert next(e.payload for e in backend.appended if e.kind == "decision")["decided_by"] == "commander"
