"""The dashboard's rules as pure functions, and the report: who decided, approvals, unticked items, which keys apply and why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from app_backend import auth_errors_firing, fresh_session, session_in_progress
from cutover_tui import flows
from cutover_tui.labels import display_zone
from cutover_tui.reducer import reduce_events
from cutover_tui.report import build_report, render
from cutover_tui.state import StepStatus
from cutover_tui.store import SessionLog
from runbooks import parse_runbook
from scripted_session import ScriptedSession

RUNBOOK = """\
name: Decisions
roles: {commander: Incident commander, cto: CTO (decides rollback), sre: Release engineer}
checks:
  auth_error_ratio: {scrape: "http://127.0.0.1:9/metrics", metric: auth_error_ratio, unit: "%", every: 5s, timeout: 2s}
stop_conditions:
  - {id: auth_errors, check: auth_error_ratio, when: "> 1%", for: 10s, action: rollback, decides: cto}
steps:
  - {id: approve, title: Approve production deploy, kind: approval, phrase: APPROVE PROD DEPLOY, approvers: 2}
  - id: deploy
    title: Production deploy
    items: [Deploy backend, Deploy frontend, Run migrations, Smoke test]
"""


def firing_session(path: Path) -> ScriptedSession:
    session = ScriptedSession(path, RUNBOOK, t0_in=0, actor="alice")
    session.poll("auth_error_ratio", 0.04, until=20)
    session.settle()
    return session


def state_of(session: ScriptedSession):
    session.settle()
    session.log.flush_ticks()
    return reduce_events(session.runbook, session.log.events(), session.log.ticks())


def test_the_decision_records_who_decided_apart_from_who_typed_it(tmp_path: Path) -> None:
    """The banner's role is offered first and named as asked; decided_by is the chosen role; the typist is the actor."""
    session = firing_session(tmp_path / "s.cutover.db")
    state = state_of(session)
    assert flows.expected_decider(session.runbook, state) == "cto"
    assert [role for role, _ in flows.decider_choices(session.runbook, state)][0] == "cto"
    payload = flows.decision_payload(session.runbook, state, "rollback", "auth errors at 4%", None, decided_by="cto")
    assert (payload["decided_by"], payload["decided_by_title"], payload["decides"]) == (
        "cto",
        "CTO (decides rollback)",
        "cto",
    )
    assert payload["answers"] == ["auth_errors"] and payload["conditions"]["auth_errors"]["state"] == "firing"
    session.append("decision", payload)
    session.close()
    text = render(build_report(session.log.path), "md")
    assert "Decided by CTO (decides rollback) (cto); typed by alice (seq" in text
    assert "The banner asked for: CTO (decides rollback) ✔" in text


def test_two_person_approval_needs_two_distinct_names() -> None:
    """`approvers: 2`: the same name twice (whatever its case and spacing) is refused; a second person completes it."""
    from datetime import datetime, timezone

    from cutover_tui.state import DecisionRecord

    step = parse_runbook(RUNBOOK).step("approve")
    at = datetime(2026, 12, 1, tzinfo=timezone.utc)
    first = DecisionRecord(1, at, "alice", "go", "ok", "approve", decided_by="Dana Smith", phrase="APPROVE PROD DEPLOY")
    assert flows.approvals_needed(step, []) == 2 and flows.approvals_needed(step, [first]) == 1
    assert flows.refuse_approver("  dana   SMITH ", ["Dana Smith"]) == (
        "dana   SMITH has already approved: a second approval must come from someone else."
    )
    assert flows.refuse_approver("", ["Dana Smith"]) == "Say who approves (a name)."
    assert flows.refuse_approver("Lee Wong", ["Dana Smith"]) is None
    second = DecisionRecord(2, at, "alice", "go", "ok", "approve", decided_by="Lee Wong", phrase="APPROVE PROD DEPLOY")
    assert flows.approvers_so_far("approve", [first, second]) == ["Dana Smith", "Lee Wong"]
    assert flows.approvals_needed(step, [first, second]) == 0
    no_phrase = DecisionRecord(3, at, "alice", "go", "ok", "approve", decided_by="Kim")
    assert flows.approvals_needed(step, [first, no_phrase]) == 1  # a GO without the phrase is no approval


def test_unticked_items_need_a_reason_and_the_report_says_pass_with_them(tmp_path: Path) -> None:
    """Two of four items unticked: refused without a reason; with one, the report shows it and who completed."""
    session = ScriptedSession(tmp_path / "s.cutover.db", RUNBOOK, t0_in=0, actor="bob")
    session.append("step_started", {"step": "deploy"})
    for item in ("deploy_backend", "deploy_frontend"):
        session.append("item_checked", {"step": "deploy", "item": item, "checked": True})
    state = state_of(session)
    step = session.runbook.step("deploy")
    assert (
        flows.completion_refusal(step, state.step("deploy"), "")
        == "2 of 4 checklist items are not ticked: say why (logged)."
    )
    assert flows.completion_refusal(step, state.step("deploy"), "migrations ran in the deploy job") is None
    payload = flows.completion_payload(
        step, state.step("deploy"), {}, unticked_reason="migrations ran in the deploy job"
    )
    assert payload == {"step": "deploy", "gate": {}, "unticked": ["run_migrations", "smoke_test"], "items": 4,
                       "unticked_reason": "migrations ran in the deploy job"}  # fmt: skip
    session.append("step_completed", payload)
    session.close()
    text = render(build_report(session.log.path), "md")
    assert "✔ PASS (2 of 4 items unticked — migrations ran in the deploy job, by bob)" in text
    with SessionLog.open_readonly(session.log.path) as log:
        line = reduce_events(session.runbook, log.events()).log[-2].text
    assert line == "done: Production deploy (2 of 4 items unticked: migrations ran in the deploy job)"


@pytest.mark.parametrize(("gate", "override", "kept"), [({"k": "pass"}, "why", False), ({"k": "breach"}, "why", True)])
def test_an_override_reason_is_kept_only_when_the_gate_did_not_pass(gate, override, kept) -> None:
    """The override reason goes with a gate that did not pass, as before."""
    step = parse_runbook(RUNBOOK).step("approve")
    assert ("override_reason" in flows.completion_payload(step, None, gate, override_reason=override)) is kept


# ----------------------------------------------------------------- the dashboard's keys, without a screen

IST = display_zone("Asia/Kolkata")


def test_step_keys_say_why_they_do_not_apply_to_the_selection() -> None:
    """No selection, a done step, the active step and an abandoned one each get their one-line reason; a pending step none."""
    backend = session_in_progress()
    state = backend.state()
    done, active, pending = state.step("production_deploy"), state.step("verify_endpoints"), state.step("stabilization")
    assert flows.refusal("complete_step", state, None, zone=IST) == "Select a step first (1 or tab moves to the steps)."
    assert (
        flows.refusal("start_step", state, done, zone=IST)
        == "“Production deploy” is done: only a pending step can be started."
    )
    assert flows.refusal("skip_step", state, done, zone=IST) == "“Production deploy” is already done."
    assert flows.refusal("start_step", state, active, zone=IST) == (
        "“Verify /health and /metrics” is already active: c completes it, f fails it, k skips it."
    )
    assert all(flows.refusal(action, state, pending, zone=IST) is None for action in flows.STEP_ACTIONS)
    backend.record("rollback_started", {"reason": "auth errors"}, actor="commander")
    rolling_back = backend.state()
    assert flows.refusal("fail_step", rolling_back, rolling_back.step("stabilization"), zone=IST) == (
        "“Stabilization handoff” was abandoned when the rollback began: the rollback plan is being run."
    )


def test_t0_and_rollback_keys_say_why_they_do_not_apply() -> None:
    """T-0 moves only in a rehearsal and never in a rollback; rollback cannot start twice; each says so in the runbook's zone."""
    backend = session_in_progress()
    assert flows.refusal("set_t0", backend.state(), None, zone=IST) == (
        "T-0 is set (22:03:00 IST); moving it is for rehearsals (a session started with --rehearsal)."
    )
    assert flows.refusal("set_t0", fresh_session().state(), None, zone=IST) is None
    assert flows.refusal("rollback", backend.state(), None, zone=IST) is None
    backend.record("rollback_started", {"reason": "auth errors"}, actor="commander")
    state = backend.state()
    assert (
        flows.refusal("rollback", state, None, zone=IST) == "The rollback plan is already running since 22:05:00 IST."
    )
    assert flows.refusal("set_t0", state, None, zone=IST) == (
        "T-0 cannot move during a rollback: the rollback plan is timed from when it began (R+)."
    )


def test_acknowledge_takes_the_banners_condition_first_and_says_when_there_is_none() -> None:
    """a acknowledges the banner's condition before the highlighted one; nothing firing, or all acknowledged, says which."""
    backend = session_in_progress()
    assert flows.condition_to_acknowledge(backend.state(), "slow_p95") is None
    assert (
        flows.refusal("acknowledge", backend.state(), None, zone=IST)
        == "Nothing to acknowledge: no stop condition is firing."
    )
    auth_errors_firing(backend)
    backend.condition("slow_p95", "firing", 1.4, "1.4s > 1s", breach_held=40.0)
    assert flows.condition_to_acknowledge(backend.state(), "slow_p95") == "auth_errors"
    backend.record("condition_acknowledged", {"condition": "auth_errors"}, actor="commander")
    assert flows.condition_to_acknowledge(backend.state(), "slow_p95") == "slow_p95"
    backend.record("condition_acknowledged", {"condition": "slow_p95"}, actor="commander")
    assert (
        flows.refusal("acknowledge", backend.state(), None, zone=IST)
        == "Every firing stop condition is already acknowledged."
    )


def test_why_explains_the_highlighted_condition_else_the_banners_else_the_first_not_ok() -> None:
    """w: the highlighted condition, else the banner's, else the first one not ok."""
    backend = session_in_progress()
    assert flows.condition_to_explain(backend.state(), "slow_p95") == "slow_p95"
    assert flows.condition_to_explain(backend.state(), None) == "api_errors"  # unknown: no data
    auth_errors_firing(backend)
    assert flows.condition_to_explain(backend.state(), None) == "auth_errors"


def test_a_decision_is_about_the_current_step_or_a_decision_step_never_a_later_task() -> None:
    """The current step, or a pending go/no-go or approval step; a later task or a finished step gives none."""
    backend = session_in_progress()
    state = backend.state()
    assert flows.decision_step(backend.runbook, state, state.step("verify_endpoints")) == "verify_endpoints"
    assert flows.decision_step(backend.runbook, state, state.step("stabilization")) is None
    assert flows.decision_step(backend.runbook, state, state.step("production_deploy")) is None
    assert flows.decision_step(backend.runbook, state, None) is None
    fresh = fresh_session().state()
    assert flows.decision_step(backend.runbook, fresh, fresh.step("final_go_no_go")) == "final_go_no_go"


def test_starting_a_step_names_the_dependencies_it_overrides() -> None:
    """A step whose dependencies are not done or skipped names them; once they are, none."""
    fresh = fresh_session()
    assert [s.id for s in flows.unmet_dependencies(fresh.runbook, fresh.state(), "production_deploy")] == [
        "approve_prod_deploy"
    ]
    in_progress = session_in_progress()
    assert flows.unmet_dependencies(in_progress.runbook, in_progress.state(), "production_deploy") == []


def test_completing_approves_decides_or_completes() -> None:
    """An approval step without its approvers is approved, a go/no-go without a GO decided, anything else completed."""
    backend = fresh_session()
    runbook, decisions = backend.runbook, backend.state().decisions
    assert flows.how_to_complete(runbook.step("approve_prod_deploy"), decisions) == "approve"
    assert flows.how_to_complete(runbook.step("final_go_no_go"), decisions) == "decide"
    assert flows.how_to_complete(runbook.step("backup_snapshot"), decisions) == "complete"
    decided = session_in_progress().state().decisions  # GO on the go/no-go, the phrase typed on the approval
    assert flows.how_to_complete(runbook.step("final_go_no_go"), decided) == "complete"
    assert flows.how_to_complete(runbook.step("approve_prod_deploy"), decided) == "complete"
    assert flows.decision_completes(runbook.step("final_go_no_go"), "conditional_go")
    assert not flows.decision_completes(runbook.step("final_go_no_go"), "hold")
    assert not flows.decision_completes(runbook.step("backup_snapshot"), "go")


def test_completion_asks_for_what_is_missing_and_returns_evidence_then_the_completion() -> None:
    """A failing gate asks for an override unless a decision answered for it; owed evidence and unticked items are asked for."""
    backend = session_in_progress()
    state = backend.state()
    runbook = backend.runbook
    monitor = runbook.step("monitor_error_rate_latency")  # its gate has no data for api_error_ratio
    questions = flows.completion_questions(monitor, state.step(monitor.id), override_reason=None)
    assert questions is not None and questions.gate["api_error_ratio"] == "nodata" and questions.unticked == 4
    go_no_go = runbook.step("final_go_no_go")
    fresh = fresh_session().state()
    asked = flows.completion_questions(go_no_go, fresh.step(go_no_go.id), override_reason="GO decision: reviewed")
    assert asked is not None and asked.gate == {} and [item.id for item in asked.owed] == ["go_no_go_summary"]
    events = flows.completion_events(
        go_no_go, fresh.step(go_no_go.id), evidence={"go_no_go_summary": " minutes in the ticket "},
        override_reason=flows.decision_override({"decision": "go", "reason": "reviewed"}), unticked_reason="scorecard",
    )  # fmt: skip
    assert [kind for kind, _ in events] == ["evidence_added", "step_completed"]
    assert events[0][1] == {"step": "final_go_no_go", "text": "minutes in the ticket", "item": "go_no_go_summary"}
    assert events[1][1]["override_reason"] == "GO decision: reviewed" and events[1][1]["unticked_reason"] == "scorecard"


def test_an_approval_step_with_everything_given_completes_without_asking() -> None:
    """A decision step whose gate passes, with no evidence owed and no items, completes as it is."""
    backend = session_in_progress()
    approval = backend.runbook.step("approve_prod_deploy")
    assert flows.completion_questions(approval, backend.state().step(approval.id), override_reason=None) is None


def test_a_session_ends_completed_rolled_back_or_abandoned() -> None:
    """Rolled back once rollback started; completed when every step of the plan is done or skipped; else abandoned."""
    backend = session_in_progress()
    assert flows.ending_outcome(backend.state()) == "abandoned"
    for step in backend.state().steps:
        if step.status not in (StepStatus.DONE, StepStatus.SKIPPED):
            backend.record("step_skipped", {"step": step.id, "reason": "test"}, actor="commander")
    assert flows.ending_outcome(backend.state()) == "completed"
    backend.record("rollback_started", {"reason": "auth errors"}, actor="commander")
    assert flows.ending_outcome(backend.state()) == "rolled_back"


def test_a_note_is_tied_to_the_selected_step_when_there_is_one() -> None:
    """n writes the note, with the selected step when there is one."""
    assert flows.note_event("DNS TTL lowered", "verify_endpoints") == (
        "note",
        {"text": "DNS TTL lowered", "step": "verify_endpoints"},
    )
    assert flows.note_event("DNS TTL lowered", None) == ("note", {"text": "DNS TTL lowered"})
