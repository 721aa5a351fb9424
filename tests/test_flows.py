"""Who decided, two-person approvals and unticked items: the dashboard's rules as pure functions, and the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from cutover_tui import flows
from cutover_tui.reducer import reduce_events
from cutover_tui.report import build_report, render
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
    assert (payload["decided_by"], payload["decided_by_title"], payload["decides"]) == ("cto", "CTO (decides rollback)", "cto")
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
    assert flows.completion_refusal(step, state.step("deploy"), "") == "2 of 4 checklist items are not ticked: say why (logged)."
    assert flows.completion_refusal(step, state.step("deploy"), "migrations ran in the deploy job") is None
    payload = flows.completion_payload(step, state.step("deploy"), {}, unticked_reason="migrations ran in the deploy job")
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
