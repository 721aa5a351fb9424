"""Every operator action, driven by keys through the real app over the in-memory backend.

Each test asserts what was appended to the log (kind and payload) and what the
screen shows once the next state arrives.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, RadioSet, Static

from app_backend import AppTestBackend
from app_driver import Dashboard, select, settle, step_status
from checks.status import Verdict
from cutover_tui.app import CutoverApp
from cutover_tui.labels import format_wall_time
from cutover_tui.screens.approval import ApprovalScreen
from cutover_tui.screens.complete_step import CompleteStepScreen
from cutover_tui.screens.decision import DecisionScreen
from cutover_tui.screens.prompts import ConfirmScreen, TextPromptScreen
from cutover_tui.screens.set_t0 import SetT0Screen
from cutover_tui.state import Mode, StepStatus
from cutover_tui.store import format_ts
from cutover_tui.widgets.scorecard_form import ScorecardForm
from cutover_tui.widgets.step_detail import ItemList
from cutover_tui.widgets.steps_table import StepsTable

pytestmark = pytest.mark.slow  # every test drives the real app with Pilot: seconds each


def payload(backend: AppTestBackend, kind: str) -> dict[str, Any]:
    """The payload of the last appended event of ``kind``."""
    return next(e.payload for e in reversed(backend.appended) if e.kind == kind)


async def test_start_step_appends_step_started_and_shows_it_active(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """s on a pending step appends step_started; the step turns active from the next state."""
    await select(pilot, "production_verification")
    await pilot.press("s")
    await settle(pilot)
    assert backend.kinds() == ["step_started"]
    assert payload(backend, "step_started") == {"step": "production_verification"}
    assert step_status(app, "production_verification") is StepStatus.ACTIVE
    assert app.query_one(StepsTable).get_cell("production_verification", "status").plain == "▶"


@pytest.mark.scenario("fresh")
async def test_start_with_unmet_dependency_asks_first(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """Starting a step whose dependencies are not done asks for confirmation; cancelling appends nothing."""
    await select(pilot, "production_deploy")
    await pilot.press("s")
    await pilot.pause()
    assert isinstance(app.screen, ConfirmScreen)
    await pilot.press("escape")
    await settle(pilot)
    assert backend.appended == []
    await pilot.press("s")
    await pilot.pause()
    await pilot.press("enter")
    await settle(pilot)
    assert backend.kinds() == ["step_started"]


async def test_complete_with_passing_gate_records_gate_outcomes(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """c with every gate check passing completes without an override and records each outcome; an unticked item needs a reason."""
    await select(pilot, "verify_endpoints")
    await pilot.press("c")
    await pilot.pause()
    assert isinstance(app.screen, CompleteStepScreen)
    assert [i.id for i in app.screen.query(Input)] == ["unticked"]  # no override: the gate passes
    assert "1 of 2 checklist items not ticked" in str(app.screen.query_one(".dialog-warning").render())
    await pilot.press("enter")
    await pilot.pause()
    assert backend.appended == [] and isinstance(app.screen, CompleteStepScreen)
    await pilot.press(*"metrics checked in grafana", "enter")
    await settle(pilot)
    assert payload(backend, "step_completed") == {
        "step": "verify_endpoints",
        "gate": {"api_health": "pass", "auth_traffic": "pass"},
        "unticked": ["metrics_is_scraped_and_auth_traffic_flows"],
        "items": 2,
        "unticked_reason": "metrics checked in grafana",
    }
    assert step_status(app, "verify_endpoints") is StepStatus.DONE


async def test_complete_with_failing_gate_needs_an_override_reason(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """A gate check without a pass blocks completion until an override reason is typed; it is logged."""
    await select(pilot, "monitor_error_rate_latency")
    await pilot.press("c")
    await pilot.pause()
    confirm = app.screen.query_one("#confirm", Button)
    assert confirm.disabled and "override" in str(confirm.label)
    await pilot.press("enter")  # nothing typed: nothing happens
    await pilot.pause()
    assert isinstance(app.screen, CompleteStepScreen) and backend.appended == []
    app.screen.query_one("#override", Input).focus()
    await pilot.press(*"metric missing, watched by hand")
    assert confirm.disabled  # its four items are not ticked: that needs a reason too
    app.screen.query_one("#unticked", Input).value = "watched on the dashboard instead"
    await pilot.pause()
    assert not confirm.disabled
    app.screen.query_one("#override", Input).focus()
    await pilot.press("enter")
    await settle(pilot)
    completed = payload(backend, "step_completed")
    assert completed["override_reason"] == "metric missing, watched by hand"
    assert completed["unticked_reason"] == "watched on the dashboard instead" and len(completed["unticked"]) == 4
    assert completed["gate"] == {"auth_error_ratio": "pass", "api_error_ratio": "nodata", "latency_p95": "pass"}


@pytest.mark.scenario("fresh")
async def test_required_evidence_is_asked_for_and_appended_before_completion(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """A step with evidence required asks for it; evidence_added lands before step_completed."""
    await select(pilot, "backup_snapshot")
    await pilot.press("c")
    await pilot.pause()
    assert app.screen.query_one("#confirm", Button).disabled
    await pilot.press(*"snapshot snap-42")
    app.screen.query_one("#unticked", Input).value = "snapshot is the item"
    await pilot.press("enter")
    await settle(pilot)
    assert backend.kinds() == ["evidence_added", "step_completed"]
    assert payload(backend, "evidence_added") == {"step": "backup_snapshot", "text": "snapshot snap-42"}
    step = next(s for s in app.session.steps if s.id == "backup_snapshot")
    assert step.evidence == ("snapshot snap-42",)


@pytest.mark.parametrize(("key", "kind"), [("f", "step_failed"), ("k", "step_skipped")])
async def test_fail_and_skip_need_a_reason(
    key: str, kind: str, app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """f and k ask for a reason (an empty one cannot be submitted) and append it."""
    await select(pilot, "post_launch_verification")
    await pilot.press(key)
    await pilot.pause()
    assert isinstance(app.screen, TextPromptScreen)
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, TextPromptScreen)
    await pilot.press(*"customer unavailable")
    await pilot.press("enter")
    await settle(pilot)
    assert payload(backend, kind) == {"step": "post_launch_verification", "reason": "customer unavailable"}
    expected = StepStatus.FAILED if kind == "step_failed" else StepStatus.SKIPPED
    assert step_status(app, "post_launch_verification") is expected


async def test_space_ticks_an_item_only_once_the_log_has_it(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """Space on a checklist item appends item_checked; the tick shows from the next state, and untick works."""
    await select(pilot, "production_verification")
    await pilot.press("enter")
    await pilot.pause()
    items = app.query_one(ItemList)
    assert app.focused is items
    first = app.runbook.step("production_verification").items[0]
    await pilot.press("space")
    await settle(pilot)
    assert payload(backend, "item_checked") == {"step": "production_verification", "item": first.id, "checked": True}
    assert "[x]" in str(items.get_option(first.id).prompt)
    await pilot.press("x")
    await settle(pilot)
    assert payload(backend, "item_checked")["checked"] is False
    assert "[ ]" in str(items.get_option(first.id).prompt)


async def test_evidence_and_note_are_appended(app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend) -> None:
    """e attaches evidence to the selected step; n writes a note tied to it."""
    await select(pilot, "verify_endpoints")
    await pilot.press("e", *"curl -i /health: 200", "enter")
    await settle(pilot)
    await pilot.press("n", *"DNS TTL lowered", "enter")
    await settle(pilot)
    assert backend.kinds() == ["evidence_added", "note"]
    assert payload(backend, "evidence_added") == {"step": "verify_endpoints", "text": "curl -i /health: 200"}
    assert payload(backend, "note") == {"text": "DNS TTL lowered", "step": "verify_endpoints"}
    assert app.session.log[-1].text == "DNS TTL lowered"


@pytest.mark.parametrize("arriving", ["key by key", "all at once", "across the focus's move"])
async def test_a_reason_typed_straight_after_the_choice_is_the_reason(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend, arriving: str
) -> None:
    """`d`, `4`, then the reason, then Enter, as a commander types it at 3 a.m.: the words go to the reason (not
    lost on the choice list, which ignores letters and whose space and Enter would press another decision), digits
    and spaces included, and the decision is recorded as chosen. Keys may arrive together, before the focus has
    moved to the reason (a fast typist, a paste, tmux's send-keys): they follow the first. Some may be handed to the
    choice list before the focus moves and reach the dialog after it: on a loaded machine "spike over, continuing"
    was recorded as "spik"."""
    from textual import events

    def key(character: str) -> events.Key:
        return events.Key({" ": "space", "\r": "enter"}.get(character, character), character)

    await pilot.press("d")
    await pilot.pause()
    assert isinstance(app.screen, DecisionScreen)
    await pilot.press("4")
    if arriving == "key by key":
        await pilot.press(*"db team 2 late", "enter")
    elif arriving == "all at once":
        for character in "db team 2 late\r":
            app.post_message(key(character))  # as the terminal's driver posts them
    else:
        choices = app.screen.query_one(RadioSet)
        app.post_message(key("d"))
        await pilot.pause()
        assert isinstance(app.screen.focused, Input)  # the focus has moved to the reason
        for character in "b team 2 late":
            choices._forward_event(key(character))  # the app handed them to the list while it had the focus
        await pilot.pause()
        app.post_message(key("\r"))
    await settle(pilot)
    decision = payload(backend, "decision")
    assert decision["decision"] == "hold"
    assert decision["reason"] == "db team 2 late"


async def test_decision_records_reason_conditions_snapshot_and_verdict(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """d records a decision with its reason, every condition's state/value/threshold and the verdict."""
    await pilot.press("d")
    await pilot.pause()
    assert isinstance(app.screen, DecisionScreen)
    await pilot.press("4")  # HOLD
    await pilot.press("tab", *"wait for the DB team")
    await pilot.press("enter")
    await settle(pilot)
    decision = payload(backend, "decision")
    assert decision["decision"] == "hold"
    assert decision["reason"] == "wait for the DB team"
    assert decision["verdict"] == app.session.verdict.value
    assert set(decision["conditions"]) == {c.id for c in app.runbook.stop_conditions}
    assert decision["conditions"]["api_errors"] == {
        "state": "unknown",
        "value": None,
        "threshold": "> 1%",
        "firing_since": None,
    }
    assert decision["step"] == "verify_endpoints"


@pytest.mark.scenario("firing")
async def test_rollback_decision_offers_to_enter_the_rollback_plan(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """A ROLLBACK decision, once logged, offers to start the rollback plan with the same reason."""
    await pilot.press("d", "5", "tab", *"auth errors 4%", "enter")
    await pilot.pause()
    assert isinstance(app.screen, ConfirmScreen) and app.banner is None
    await pilot.press("enter")
    await settle(pilot)
    assert backend.kinds() == ["decision", "rollback_started"]
    assert payload(backend, "rollback_started") == {"reason": "auth errors 4%"}
    assert app.session.mode is Mode.ROLLBACK


@pytest.mark.scenario("firing")
async def test_a_stopping_decision_stands_in_the_header_until_a_later_one(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """A ROLLBACK decided with "Enter rollback" declined left a green CONTINUE alone in the header beside a log whose
    last decision said stop. The decision now stands there, with when and who, until a later decision lifts it."""
    backend.condition("auth_errors", "ok", 0.002, "0.2%, not > 1%")  # the spike is over; its firing awaits a decision
    await settle(pilot)
    assert app.session.verdict is Verdict.ROLLBACK
    await pilot.press("d", "5", "tab", *"auth errors 4%", "enter")
    await pilot.pause()
    assert isinstance(app.screen, ConfirmScreen)
    await pilot.press("escape")  # not now
    await settle(pilot)
    assert app.session.mode is not Mode.ROLLBACK and app.session.verdict is not Verdict.ROLLBACK  # answered
    header = text_of_header(app)
    decided = format_wall_time(app.session.decisions[-1].ts, app.zone, backend.now())
    assert f"✖ ROLLBACK decided {decided} by CTO (decides rollback), the rollback plan not started" in header
    await pilot.press("d", "4", "tab", *"waiting for the vendor", "enter")
    await settle(pilot)
    assert "‖ HOLD decided" in text_of_header(app) and "ROLLBACK decided" not in text_of_header(app)
    await pilot.press("d", "6", "tab", *"vendor fixed it", "enter")
    await settle(pilot)
    assert "decided" not in text_of_header(app), text_of_header(app)


def text_of_header(app: CutoverApp) -> str:
    return str(app.query_one("#header-next", Static).render())


async def test_a_decision_is_about_the_current_step_not_any_selected_one(
    pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """A decision taken with a later task selected is not attributed to that task."""
    await select(pilot, "stabilization")
    await pilot.press("d", "6", "tab", *"all quiet", "enter")
    await settle(pilot)
    assert "step" not in payload(backend, "decision")


async def test_decision_needs_a_choice_and_a_reason(app: CutoverApp, pilot: Pilot[None]) -> None:
    """The record button stays disabled until a decision is chosen and a reason typed."""
    await pilot.press("d")
    await pilot.pause()
    confirm = app.screen.query_one("#confirm", Button)
    assert confirm.disabled
    await pilot.press("2")
    assert confirm.disabled
    app.screen.query_one("#reason", Input).value = "error budget spent"
    await pilot.pause()
    assert not confirm.disabled


async def scorecard_dialog(pilot: Pilot[Any], scores: list[str]) -> ScorecardForm:
    """Open the final go/no-go and type ``scores`` into its scorecard."""
    await select(pilot, "final_go_no_go")
    await pilot.press("c")
    await pilot.pause()
    assert isinstance(pilot.app.screen, DecisionScreen)
    form = pilot.app.screen.query_one(ScorecardForm)
    for index, score in enumerate(scores):
        form.query_one(f"#score-{index}", Input).value = score
    await pilot.pause()
    return form


@pytest.mark.parametrize(
    ("scores", "total", "result"),
    [
        (["100"] * 7, 100.0, "GO"),
        (["90", "80", "90", "80", "80", "90", "90"], 85.5, "CONDITIONAL"),
        (["50"] * 7, 50.0, "NO-GO"),
    ],
)
@pytest.mark.scenario("fresh")
async def test_scorecard_computes_total_and_result_live(
    scores: list[str], total: float, result: str, app: CutoverApp, pilot: Pilot[None]
) -> None:
    """The go/no-go scorecard shows the weighted total and GO / CONDITIONAL / NO-GO as scores are typed."""
    form = await scorecard_dialog(pilot, scores)
    assert form.complete
    assert form.value == {
        "scores": {c.id: float(s) for c, s in zip(app.runbook.scorecard.categories, scores, strict=True)},
        "total": total,
        "result": result,
    }
    label = str(form.query_one("#scorecard-total").render())
    assert result in label and f"{total:g}" in label


@pytest.mark.scenario("fresh")
async def test_go_no_go_decision_includes_scorecard_and_completes_the_step(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """GO on a go/no-go step records the scorecard, then completes the step (asking for its evidence)."""
    await scorecard_dialog(pilot, ["95"] * 7)
    app.screen.query_one(RadioSet).focus()
    await pilot.press("1")  # GO
    app.screen.query_one("#reason", Input).focus()
    await pilot.press(*"all gates reviewed", "enter")
    await pilot.pause()
    assert isinstance(app.screen, CompleteStepScreen)  # evidence prompts mean evidence is required
    app.screen.query_one("#unticked", Input).value = "covered by the scorecard"
    await pilot.press(*"go/no-go minutes in the ticket", "enter")
    await settle(pilot)
    assert backend.kinds() == ["decision", "evidence_added", "step_completed"]
    decision = payload(backend, "decision")
    assert decision["decision"] == "go" and decision["step"] == "final_go_no_go"
    assert decision["scorecard"]["result"] == "GO" and decision["scorecard"]["total"] == 95.0
    completed = payload(backend, "step_completed")
    assert completed["override_reason"] == "GO decision: all gates reviewed"  # its gate was never polled
    assert step_status(app, "final_go_no_go") is StepStatus.DONE


@pytest.mark.scenario("fresh")
async def test_approval_requires_the_exact_phrase(app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend) -> None:
    """The approve button enables only for the exact phrase; approving logs a decision with it and completes."""
    await select(pilot, "approve_prod_deploy")
    await pilot.press("c")
    await pilot.pause()
    assert isinstance(app.screen, ApprovalScreen)
    approve = app.screen.query_one("#confirm", Button)
    await pilot.press(*"approve prod deploy")
    assert approve.disabled
    await pilot.press("enter")
    await pilot.pause()
    assert backend.appended == []
    app.screen.query_one("#phrase", Input).value = ""
    await pilot.press(*"APPROVE PROD DEPLOY")
    assert not approve.disabled
    await pilot.press("enter")
    await settle(pilot)
    assert backend.kinds() == ["decision", "step_completed"]
    decision = payload(backend, "decision")
    assert decision["phrase"] == "APPROVE PROD DEPLOY" and decision["decision"] == "go"
    assert step_status(app, "approve_prod_deploy") is StepStatus.DONE


@pytest.mark.scenario("firing")
async def test_acknowledge_the_firing_condition(app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend) -> None:
    """a acknowledges the banner's firing condition; its card then says ack."""
    await pilot.press("a")
    await settle(pilot)
    assert payload(backend, "condition_acknowledged") == {"condition": "auth_errors"}
    assert app.session.conditions["auth_errors"].acknowledged
    assert "[acknowledged]" in app.banner.text.plain


@pytest.mark.scenario("fresh")
async def test_set_t0_now_after_confirmation(app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend) -> None:
    """t asks when (Enter keeps now), then appends t0_set at the backend's now; the T-clock starts at T+00:00:00."""
    assert "T0 not set" in str(app.query_one("#header-t-clock").render())
    await pilot.press("t")
    await pilot.pause()
    assert isinstance(app.screen, SetT0Screen)
    await pilot.press("enter")
    await settle(pilot)
    assert payload(backend, "t0_set") == {"t0": format_ts(backend.now())}
    assert "T+00:00:00" in str(app.query_one("#header-t-clock").render())


@pytest.mark.scenario("rehearsal")
async def test_rehearsal_t0_can_be_rebaselined(app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend) -> None:
    """In a rehearsal with a T0, t re-baselines it after saying that every planned time moves."""
    assert "REHEARSAL" in str(app.query_one("#header-mode").render())
    await pilot.press("t")
    await pilot.pause()
    assert isinstance(app.screen, SetT0Screen)
    assert "Every planned time moves" in str(app.screen.query_one("#t0-current", Static).render())
    await pilot.press("enter")
    await settle(pilot)
    assert app.session.t0 == backend.now()


async def test_t0_is_not_offered_in_a_live_session_that_has_one(app: CutoverApp, pilot: Pilot[None]) -> None:
    """Re-baselining T-0 is for rehearsals: in a live session with a T0 the key does not apply."""
    assert "t" not in app.screen.active_bindings
    await pilot.press("t")
    await pilot.pause()
    assert not isinstance(app.screen, SetT0Screen)


async def test_rollback_needs_a_typed_reason_and_switches_the_plan(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """R asks for a reason (danger dialog), appends rollback_started; the mode and the plan switch."""
    await pilot.press("R")
    await pilot.pause()
    assert isinstance(app.screen, TextPromptScreen) and app.screen.has_class("-danger")
    await pilot.press(*"auth errors 4%", "enter")
    await settle(pilot)
    assert payload(backend, "rollback_started") == {"reason": "auth errors 4%"}
    assert app.session.mode is Mode.ROLLBACK
    assert "ROLLING BACK" in str(app.query_one("#header-mode").render())
    assert app.session.verdict is not Verdict.CONTINUE  # never CONTINUE while rolling back
    table = app.query_one(StepsTable)
    assert table.selected_step_id == "rollback_decision"
    assert "R+0" in table.get_cell("rollback_decision", "at").plain


@pytest.mark.parametrize("key", ["s", "c", "f", "k", "e", "n", "d", "a", "t", "R"])
@pytest.mark.scenario("following")
async def test_read_only_refuses_every_action_with_a_notice(
    key: str, app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend, dashboard: Dashboard
) -> None:
    """A follow/replay view answers every action key with a notice and appends nothing."""
    await select(pilot, "production_verification")
    await pilot.press(key)
    await pilot.pause()
    assert backend.appended == []
    assert not isinstance(app.screen, (ConfirmScreen, TextPromptScreen, DecisionScreen, CompleteStepScreen))
    assert dashboard.notices == ["read-only view (follow/replay)"]
    assert "FOLLOW (read-only)" in str(app.query_one("#header-mode").render())
    footer_keys = {key for key, active in app.screen.active_bindings.items() if active.binding.show}
    assert key not in footer_keys and "question_mark" in footer_keys


async def test_a_failed_append_is_reported_and_nothing_shows_as_done(
    dashboard: Dashboard, backend: AppTestBackend
) -> None:
    """When the log cannot write, the operator sees an error and the step stays as it was."""
    backend.fail_appends = OSError("disk full")
    await dashboard.select("production_verification")
    await dashboard.pilot.press("s")
    await dashboard.settle()
    assert dashboard.step_status("production_verification") is StepStatus.PENDING
    assert any("disk full" in m for m in dashboard.notices)
