"""The reducer: event sequences -> the state every screen shows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from checks.reading import Outcome, Reading
from checks.status import ConditionState, ConditionStatus, Verdict
from crash_writer import T0, make_runbook
from cutover_tui.reducer import Reducer, reduce_events
from cutover_tui.state import LiveTruth, Mode, StepStatus
from cutover_tui.store import EventRecord, TickRecord

RUNBOOK = make_runbook()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def events(*rows: tuple[float, str, dict[str, Any]]) -> list[EventRecord]:
    """Events numbered from 1, each ``(seconds after T0, kind, payload)``; hashes are not the reducer's concern."""
    started = (
        -7200.0,
        "session_started",
        {"runbook_name": RUNBOOK.name, "planned_t0": "2026-12-01T16:30:00.000Z", "rehearsal": False},
    )
    return [
        EventRecord(seq, at(s), kind, "alice", payload, "", "")
        for seq, (s, kind, payload) in enumerate((started, *rows), start=1)
    ]


def changed(
    condition: str, state: str, previous: str, value: float | None = None, held: float = 0.0, reason: str = ""
) -> dict[str, Any]:
    threshold = "> 1%" if condition == "auth_errors" else ""
    return {"condition": condition, "state": state, "previous": previous, "value": value, "threshold": threshold,
            "reason": reason, "breach_held": held, "flapping": False}  # fmt: skip


def tick(check: str, seconds: float, value: float | None, outcome: str = "pass", **extra: Any) -> TickRecord:
    return TickRecord(check, at(seconds), outcome, value, extra=extra)


def test_fresh_session_shows_planned_times_and_unknown_conditions() -> None:
    """Before anything happens: steps pending at t0 + at, conditions unknown 'not yet polled', checks never polled."""
    state = reduce_events(RUNBOOK, events())
    assert state.mode is Mode.LIVE and state.t0 == T0
    assert [(s.id, s.status, s.planned_start, s.planned_end) for s in state.steps] == [
        ("go_no_go", StepStatus.PENDING, at(-3600), None),
        ("deploy", StepStatus.PENDING, at(0), at(600)),
        ("smoke", StepStatus.PENDING, at(900), at(1200)),
    ]
    assert state.current_step == "go_no_go"
    assert all(c.state is ConditionState.UNKNOWN and c.reason == "not yet polled" for c in state.conditions.values())
    assert state.checks["api_health"].outcome is None
    assert state.banner is None and state.last_event_seq == 1


def test_steps_record_actual_times_drift_items_and_evidence() -> None:
    """Started/completed steps carry actual times, drift from plan, checked items, evidence and override reasons."""
    state = reduce_events(RUNBOOK, events(
        (-3500, "step_completed", {"step": "go_no_go", "gate": {}}),
        (90, "step_started", {"step": "deploy"}),
        (100, "item_checked", {"step": "deploy", "item": "helm", "checked": True}),
        (110, "item_checked", {"step": "deploy", "item": "migrate", "checked": True}),
        (115, "item_checked", {"step": "deploy", "item": "migrate", "checked": False}),
        (120, "evidence_added", {"step": "deploy", "text": "helm history: rev 42"}),
        (700, "step_completed", {"step": "deploy", "override_reason": "health flapping, verified by hand", "gate": {}}),
        (800, "step_skipped", {"step": "smoke", "reason": "covered by canary"}),
    ))  # fmt: skip
    go, deploy, smoke = state.steps
    assert (go.status, go.started_at, go.ended_at, go.drift_seconds) == (StepStatus.DONE, None, at(-3500), 100.0)
    assert (deploy.status, deploy.started_at, deploy.ended_at, deploy.drift_seconds) == (
        StepStatus.DONE,
        at(90),
        at(700),
        90.0,
    )
    assert deploy.items_checked == frozenset({"helm"}) and deploy.evidence == ("helm history: rev 42",)
    assert deploy.reason == "health flapping, verified by hand"
    assert (smoke.status, smoke.reason) == (StepStatus.SKIPPED, "covered by canary")
    assert state.current_step is None


def test_t0_set_live_moves_every_planned_time() -> None:
    """A t0_set event re-plans every step from the new T0; drift is measured against it."""
    state = reduce_events(RUNBOOK, events(
        (0, "t0_set", {"t0": "2026-12-01T16:40:00.000Z"}),
        (660, "step_started", {"step": "deploy"}),
    ))  # fmt: skip
    assert state.t0 == at(600)
    assert state.steps[1].planned_start == at(600) and state.steps[1].drift_seconds == 60.0
    assert state.current_step == "deploy"


def test_rehearsal_mode_comes_from_session_started() -> None:
    """A session started as a rehearsal is in REHEARSAL mode."""
    rehearsal = events()
    rehearsal[0] = EventRecord(1, at(-7200), "session_started", "alice", {"rehearsal": True}, "", "")
    assert reduce_events(RUNBOOK, rehearsal).mode is Mode.REHEARSAL


def test_firing_rollback_condition_raises_a_banner_until_a_decision() -> None:
    """A firing rollback condition shows the banner (value, threshold, duration, role) until a decision is logged."""
    firing = events(
        (0, "condition_changed", changed("auth_errors", "pending", "ok", 0.018)),
        (60, "condition_changed", changed("auth_errors", "firing", "pending", 0.024, held=60)),
    )
    state = reduce_events(RUNBOOK, firing, until=at(80))
    assert state.verdict is Verdict.ROLLBACK and state.banner_condition == "auth_errors"
    assert state.banner == "ROLLBACK — auth_errors 2.4% > 1% for 1m20s — decides: CTO"
    decided = firing + events((90, "decision", {"decision": "hold", "reason": "investigating", "conditions": {}}))[1:]
    decided[-1] = EventRecord(4, at(90), "decision", "carol", decided[-1].payload, "", "")
    after = reduce_events(RUNBOOK, decided, until=at(95))
    assert after.banner is None and after.verdict is Verdict.ROLLBACK
    assert after.decisions[-1].decision == "hold" and after.decisions[-1].actor == "carol"


def test_the_banner_of_a_condition_without_a_threshold_says_why_its_check_fails_not_its_value() -> None:
    """api_down fires when its http check fails: the screen's banner says "HTTP 503", not the answer's latency
    (which reads healthy); once it cleared unanswered, "now ok: up"."""
    from cutover_tui.widgets.stop_banner import build_banner

    rows = [(0, "condition_changed", {**changed("api_down", "firing", "ok", 0.0015, held=30), "detail": "HTTP 503"})]
    state = reduce_events(RUNBOOK, events(*rows), [tick("api_health", 1, 0.0015, "breach")], until=at(5))
    shown = build_banner(state, RUNBOOK, at(5))
    assert shown is not None and "api_down firing: HTTP 503 (api_health failing)" in shown.text.plain
    assert "latency" not in shown.text.plain and "latency" not in (state.banner or "")
    rows.append((10, "condition_changed", {**changed("api_down", "ok", "firing", 0.0012), "detail": "up"}))
    state = reduce_events(RUNBOOK, events(*rows), [tick("api_health", 11, 0.0012)], until=at(15))
    shown = build_banner(state, RUNBOOK, at(15))
    assert shown is not None and "(now ok: up)" in shown.text.plain and "(now up)" in (state.banner or "")


def test_a_new_firing_episode_after_a_decision_raises_the_banner_again() -> None:
    """After a decision, the same condition going ok then firing again needs a new decision."""
    state = reduce_events(RUNBOOK, events(
        (0, "condition_changed", changed("api_down", "firing", "ok", reason="HTTP 503", held=30)),
        (10, "decision", {"decision": "hold", "reason": "looking", "conditions": {}}),
        (20, "condition_changed", changed("api_down", "recovering", "firing")),
        (25, "condition_changed", changed("api_down", "firing", "recovering", reason="HTTP 503", held=30)),
    ))  # fmt: skip
    assert state.banner is None  # recovering -> firing is the same episode
    state = reduce_events(RUNBOOK, events(
        (0, "condition_changed", changed("api_down", "firing", "ok", reason="HTTP 503", held=30)),
        (10, "decision", {"decision": "hold", "reason": "looking", "conditions": {}}),
        (20, "condition_changed", changed("api_down", "ok", "firing")),
        (40, "condition_changed", changed("api_down", "firing", "pending", reason="HTTP 503", held=30)),
    ), until=at(45))  # fmt: skip
    assert state.banner == "HALT — api_down HTTP 503 for 35s — decides: Incident commander"
    assert state.verdict is Verdict.HALT


def test_rollback_wins_the_banner_over_halt() -> None:
    """With a halt and a rollback condition both awaiting a decision, the banner names the rollback one."""
    state = reduce_events(RUNBOOK, events(
        (0, "condition_changed", changed("api_down", "firing", "ok", reason="timeout", held=30)),
        (5, "condition_changed", changed("auth_errors", "firing", "pending", 0.05, held=60)),
    ))  # fmt: skip
    assert state.banner_condition == "auth_errors" and state.verdict is Verdict.ROLLBACK


def test_rollback_started_switches_to_the_rollback_plan_timed_from_then() -> None:
    """rollback_started: mode ROLLBACK, rollback steps appended, planned from that instant, current step among them."""
    state = reduce_events(RUNBOOK, events(
        (90, "step_started", {"step": "deploy"}),
        (300, "decision", {"decision": "rollback", "reason": "auth errors", "conditions": {}}),
        (310, "rollback_started", {"reason": "auth errors"}),
    ))  # fmt: skip
    assert state.mode is Mode.ROLLBACK and state.rollback_started_at == at(310)
    plan = [s for s in state.steps if s.rollback_plan]
    assert [(s.id, s.planned_start, s.planned_end) for s in plan] == [
        ("helm_rollback", at(310), at(610)),
        ("verify_rollback", at(910), at(1030)),
    ]
    assert len(state.steps) == 5 and state.current_step == "helm_rollback"


def test_resume_records_the_gap_and_freezes_holds_across_it() -> None:
    """session_resumed adds a gap; ok turns unknown, a pending hold is frozen at its value when the log went quiet."""
    rows = [
        (0, "condition_changed", changed("auth_errors", "pending", "ok", 0.02, reason="2% > 1%")),
        (40, "condition_changed", changed("api_down", "ok", "unknown")),
        (
            400,
            "session_resumed",
            {"gap_seconds": 320.0, "last_write_ts": "2026-12-01T16:31:20.000Z", "accepted_runbook_change": False},
        ),
    ]
    state = reduce_events(RUNBOOK, events(*rows))
    assert state.gaps == ((at(80), at(400)),)
    auth = state.conditions["auth_errors"]
    assert (auth.state, auth.since, auth.breach_held) == (ConditionState.PENDING, at(0), 80.0)
    assert auth.reason == "2% > 1% for 1m20s of 1m"  # the frozen hold, with the value shown now
    api = state.conditions["api_down"]
    assert (api.state, api.reason, api.since) == (ConditionState.UNKNOWN, "not yet polled since resume", at(400))
    later = reduce_events(RUNBOOK, events(*rows), until=at(430)).conditions["auth_errors"]
    assert later.breach_held == 110.0  # grows again from the resume, not across the gap


def test_a_gate_check_passing_before_a_resume_vouches_for_nothing_after_it() -> None:
    """A resume turns a gate check's old pass into "not yet polled since resume", as it does a condition's ok:
    the step's gate blocks and the verdict cannot be CONTINUE until the check is polled again."""
    gate_only = replace(RUNBOOK, stop_conditions=())  # api_health gates deploy; no condition reads it
    rows = events(
        (-3500, "step_completed", {"step": "go_no_go", "gate": {}}),
        (10, "step_started", {"step": "deploy"}),
        (30, "session_resumed", {"gap_seconds": 14.0, "last_write_ts": "2026-12-01T16:30:16.000Z",
                                 "accepted_runbook_change": False}),
    )  # fmt: skip
    before = reduce_events(gate_only, rows[:3], [tick("api_health", 15, 200)], until=at(16))
    assert before.checks["api_health"].status == "pass" and before.verdict is Verdict.CONTINUE
    state = reduce_events(gate_only, rows, [tick("api_health", 15, 200)], until=at(31))
    health = state.checks["api_health"]
    assert health.status == "never" and health.detail == "not yet polled since resume"
    assert state.verdict is Verdict.CANNOT_VERIFY
    assert "gate api_health never" in state.verdict_reasons
    polled = reduce_events(gate_only, rows, [tick("api_health", 15, 200), tick("api_health", 32, 200)], until=at(33))
    assert polled.checks["api_health"].status == "pass" and polled.verdict is Verdict.CONTINUE


def test_after_a_backward_clock_step_a_resume_is_placed_by_log_order_not_by_time() -> None:
    """The writer's clock ran an hour ahead before the crash and is right again after it: the resume is dated at the
    log's last time, the first poll after it at the true time, earlier. The resume names the last reading before it,
    so the new poll vouches and the old pass, stamped later, still does not."""
    gate_only = replace(RUNBOOK, stop_conditions=())
    rows = events(
        (-3500, "step_completed", {"step": "go_no_go", "gate": {}}),
        (10, "step_started", {"step": "deploy"}),
        (3600, "session_resumed", {"gap_seconds": 14.0, "last_write_ts": "2026-12-01T17:29:50.000Z",
                                   "accepted_runbook_change": False, "last_tick_id": 1}),
    )  # fmt: skip
    before_crash = TickRecord("api_health", at(3590), "pass", 200.0, id=1)
    after_resume = TickRecord("api_health", at(40), "pass", 200.0, id=2)
    reducer = Reducer(gate_only)
    for event in rows:
        reducer.apply(event)
    reducer.apply_tick(before_crash)
    assert reducer.state(now=at(41)).checks["api_health"].detail == "not yet polled since resume"
    reducer.apply_tick(after_resume)
    state = reducer.state(now=at(41))
    assert state.checks["api_health"].status == "pass" and state.verdict is Verdict.CONTINUE


def test_after_the_writers_clock_steps_back_a_new_reading_is_the_latest_not_the_one_stamped_later() -> None:
    """A gate check passed at 17:29 (the clock an hour ahead), then the clock stepped back and it fails at 16:30:40:
    a follower folds the failure last; it shows the failure, never the old pass stamped later."""
    gate_only = replace(RUNBOOK, stop_conditions=())
    reducer = Reducer(gate_only)
    for event in events(
        (-3500, "step_completed", {"step": "go_no_go", "gate": {}}), (10, "step_started", {"step": "deploy"})
    ):
        reducer.apply(event)
    reducer.apply_tick(TickRecord("api_health", at(3590), "pass", 200.0, id=1))
    reducer.apply_tick(TickRecord("api_health", at(40), "breach", 503.0, id=2))
    health = reducer.state(now=at(41)).checks["api_health"]
    assert (health.status, health.value) == ("breach", 503.0)
    # A condition's card shows its check's newest reading, by log order, not the value its last change logged.
    with_condition = Reducer(RUNBOOK)
    with_condition.apply(
        events((3590, "condition_changed", {**changed("api_down", "ok", "unknown"), "value": 0.099, "ticks": [1]}))[1]
    )
    with_condition.apply_tick(TickRecord("api_health", at(3590), "pass", 0.099, id=1))
    with_condition.apply_tick(TickRecord("api_health", at(40), "pass", 0.0012, id=2))
    assert with_condition.state(now=at(41)).conditions["api_down"].value == 0.0012
    # A reader that folded only the old pass (status, a follower started then) cannot tell: it vouches for nothing.
    alone = Reducer(gate_only)
    alone.apply_tick(TickRecord("api_health", at(3590), "pass", 200.0, id=1))
    ahead = alone.state(now=at(41)).checks["api_health"]
    assert (
        ahead.status == "never" and ahead.detail == "last reading stamped 59m9s ahead of the clock (it stepped back?)"
    )
    # Batches of several pollers interleave by milliseconds: those are still put in time order.
    reducer.apply_tick(TickRecord("api_health", at(45), "pass", 200.0, id=3))
    reducer.apply_tick(TickRecord("api_health", at(44.99), "breach", 503.0, id=4))
    assert reducer.state(now=at(46)).checks["api_health"].status == "pass"


def test_resume_while_firing_keeps_the_banner_until_a_decision() -> None:
    """Blindness is not recovery: a condition firing before the crash still asks for a decision after it."""
    rows = [
        (0, "condition_changed", changed("auth_errors", "firing", "pending", 0.03, held=60)),
        (100, "session_resumed", {"gap_seconds": 90.0, "last_write_ts": None, "accepted_runbook_change": False}),
    ]
    state = reduce_events(RUNBOOK, events(*rows))
    assert state.banner_condition == "auth_errors" and state.verdict is Verdict.ROLLBACK
    assert state.conditions["auth_errors"].firing_since == at(0)
    rows.append((110, "decision", {"decision": "continue", "reason": "errors back to normal", "conditions": {}}))
    assert reduce_events(RUNBOOK, events(*rows)).banner is None


def test_a_firing_that_cleared_holds_the_verdict_and_banner_until_a_decision() -> None:
    """A rollback condition that fired and is ok again still says ROLLBACK, and its banner asks for a decision:
    an acknowledgement is not one; the first decision logged after it fired is."""
    rows = [
        (-1, "condition_changed", changed("api_down", "ok", "unknown")),
        (0, "condition_changed", changed("auth_errors", "pending", "ok", 0.018)),
        (60, "condition_changed", changed("auth_errors", "firing", "pending", 0.024, held=60)),
        (65, "condition_acknowledged", {"condition": "auth_errors"}),
        (70, "condition_changed", changed("auth_errors", "recovering", "firing", 0.004)),
        (80, "condition_changed", changed("auth_errors", "ok", "recovering", 0.003)),
    ]
    state = reduce_events(RUNBOOK, events(*rows), until=at(200))
    assert state.conditions["auth_errors"].state is ConditionState.OK
    assert state.verdict is Verdict.ROLLBACK
    assert state.verdict_reasons == ("auth_errors fired at 16:31:00Z, cleared at 16:31:20Z: no decision logged",)
    assert state.banner_condition == "auth_errors"
    assert state.banner == (
        "ROLLBACK — auth_errors fired at 16:31:00Z for 20s, cleared at 16:31:20Z (now 0.3%, threshold > 1%): "
        "no decision logged — decides: CTO"
    )
    assert state.banners[-1].acknowledged  # acknowledged while it fired, still unanswered
    rows.append((210, "decision", {"decision": "continue", "reason": "a blip", "conditions": {}}))
    after = reduce_events(RUNBOOK, events(*rows), until=at(220))
    assert after.verdict is Verdict.CONTINUE and after.banner is None and after.verdict_reasons == ()


def test_a_firing_recovering_unanswered_holds_the_verdict_as_its_banner_does() -> None:
    """Firing, recovering, cleared, no decision: the verdict read ROLLBACK, then AT RISK for the ``keep_firing_for``
    of recovering, then ROLLBACK again once it cleared, while the banner asked for a decision throughout. It now
    holds ROLLBACK throughout; once a decision answers the episode, recovering is AT RISK with its countdown."""
    rows = [
        (-1, "condition_changed", changed("api_down", "ok", "unknown")),
        (0, "condition_changed", changed("auth_errors", "pending", "ok", 0.018)),
        (60, "condition_changed", changed("auth_errors", "firing", "pending", 0.024, held=60)),
        (70, "condition_changed", {**changed("auth_errors", "recovering", "firing", 0.004), "remaining": 20.0}),
    ]
    state = reduce_events(RUNBOOK, events(*rows), until=at(75))
    assert state.conditions["auth_errors"].state is ConditionState.RECOVERING
    assert state.verdict is Verdict.ROLLBACK, state.verdict_reasons
    assert state.verdict_reasons[0] == "auth_errors recovering after firing: no decision logged"
    assert [risk.text for risk in state.at_risk] == ["auth_errors 0.4% ≤ 1% — clears in 0:15"]  # still counts down
    assert state.banner is not None and state.banner.startswith("ROLLBACK — auth_errors")
    answered = [*rows[:3], (65, "decision", {"decision": "hold", "reason": "watching", "conditions": {}}), rows[3]]
    after = reduce_events(RUNBOOK, events(*answered), until=at(75))
    assert after.verdict is Verdict.AT_RISK and after.verdict_reasons == ("auth_errors recovering",)


def test_a_firing_that_cleared_after_the_clock_stepped_back_says_how_long_it_fired() -> None:
    """The writer's clock stepped back an hour, then a condition fired and cleared 8 s later. Its changes carry the
    last event's time and how far behind the clock read (`clock_behind_by`); `firing_since` is the stepped clock's.
    The banner says it fired for 8 s, in the stepped clock's times, not "for 59m52s" between the two clocks."""
    from cutover_tui.store import format_ts

    rows = [
        (-1, "condition_changed", changed("api_down", "ok", "unknown")),
        (0, "condition_changed", changed("auth_errors", "ok", "unknown", 0.002)),
        (10, "condition_changed", {**changed("auth_errors", "firing", "ok", 0.05), "firing_since": format_ts(at(10 - 3600)),
                                   "clock_behind_by": 3600.0}),
        (10, "condition_changed", {**changed("auth_errors", "ok", "firing", 0.002), "clock_behind_by": 3592.0}),
    ]  # fmt: skip
    state = reduce_events(RUNBOOK, events(*rows), until=at(20))
    assert state.verdict is Verdict.ROLLBACK
    assert state.banner is not None and "fired at 15:30:10Z for 8s, cleared at 15:30:18Z" in state.banner


def test_a_recovering_banner_says_since_when_it_fires_and_when_it_clears_not_for_0s() -> None:
    """While recovering the breach hold is 0: the banner gives the firing's start and the countdown to clearing."""
    state = reduce_events(RUNBOOK, events(
        (60, "condition_changed", changed("auth_errors", "firing", "pending", 0.024, held=60)),
        (70, "condition_changed", {**changed("auth_errors", "recovering", "firing", 0.003), "remaining": 20.0}),
    ), until=at(75))  # fmt: skip
    assert state.banner == "ROLLBACK — auth_errors 0.3% ≤ 1%, firing since 16:31:00Z, clears in 0:15 — decides: CTO"
    assert state.at_risk[0].text == "auth_errors 0.3% ≤ 1% — clears in 0:15"  # the header's countdown


def test_a_firing_that_cleared_unanswered_before_a_crash_is_still_unanswered_after_the_resume() -> None:
    """The fold keeps the ended episode across a resume and in a replay checkpoint: the writer, a follower and a
    seek all still ask for the decision."""
    rows = [
        (-1, "condition_changed", changed("api_down", "ok", "unknown")),
        (60, "condition_changed", changed("auth_errors", "firing", "pending", 0.024, held=60)),
        (80, "condition_changed", changed("auth_errors", "ok", "firing", 0.003)),
        (200, "session_resumed", {"gap_seconds": 100.0, "last_write_ts": None, "accepted_runbook_change": False}),
    ]
    state = reduce_events(RUNBOOK, events(*rows), until=at(210))
    assert state.banner_condition == "auth_errors" and state.verdict is Verdict.ROLLBACK
    reducer = Reducer(RUNBOOK)
    for event in events(*rows):
        reducer.apply(event)
    resumed = Reducer.from_checkpoint(RUNBOOK, reducer.checkpoint()).state(now=at(210))
    assert resumed.verdict is Verdict.ROLLBACK and resumed.banners[-1].cleared == (at(60), at(80))


def test_a_firing_answered_while_it_fired_is_not_held_after_it_clears() -> None:
    """A decision logged while the condition fired answers its episode: once it is ok, the verdict is CONTINUE."""
    state = reduce_events(RUNBOOK, events(
        (-1, "condition_changed", changed("api_down", "ok", "unknown")),
        (60, "condition_changed", changed("auth_errors", "firing", "pending", 0.024, held=60)),
        (65, "decision", {"decision": "hold", "reason": "watching", "conditions": {}}),
        (80, "condition_changed", changed("auth_errors", "ok", "firing", 0.003)),
    ), until=at(90))  # fmt: skip
    assert state.verdict is Verdict.CONTINUE and state.banner is None


def test_each_cleared_firing_needs_a_decision_logged_after_it_began() -> None:
    """Two episodes of one halt condition, a decision between them: the second one, cleared, still holds HALT."""
    state = reduce_events(RUNBOOK, events(
        (0, "condition_changed", changed("api_down", "firing", "ok", reason="HTTP 503", held=30)),
        (10, "condition_changed", changed("api_down", "ok", "firing")),
        (20, "decision", {"decision": "continue", "reason": "deploy restart", "conditions": {}}),
        (30, "condition_changed", changed("api_down", "firing", "ok", reason="HTTP 503", held=30)),
        (40, "condition_changed", changed("api_down", "ok", "firing")),
        (41, "condition_changed", changed("api_down", "unknown", "ok", reason="cannot connect")),
    ), until=at(50))  # fmt: skip
    assert state.verdict is Verdict.HALT
    assert state.verdict_reasons[0] == "api_down fired at 16:30:30Z, cleared at 16:30:40Z: no decision logged"
    assert state.banner_condition == "api_down"


def test_a_cleared_rollback_condition_no_longer_moves_the_verdict_once_the_rollback_runs() -> None:
    """In rollback mode a rollback condition the current rollback step does not watch is why we roll back."""
    state = reduce_events(RUNBOOK, events(
        (-1, "condition_changed", changed("api_down", "ok", "unknown")),
        (60, "condition_changed", changed("auth_errors", "firing", "pending", 0.024, held=60)),
        (80, "condition_changed", changed("auth_errors", "ok", "firing", 0.003)),
        (90, "rollback_started", {"reason": "auth errors"}),
    ), until=at(100))  # fmt: skip
    assert state.mode is Mode.ROLLBACK and state.verdict is Verdict.ROLLING_BACK


def test_blind_after_firing_still_counts_as_firing() -> None:
    """A firing condition that goes stale keeps firing_since, the verdict and the banner."""
    state = reduce_events(RUNBOOK, events(
        (0, "condition_changed", changed("auth_errors", "firing", "pending", 0.03, held=60)),
        (30, "condition_changed", changed("auth_errors", "stale", "firing", reason="no reading for 47s")),
    ))  # fmt: skip
    assert state.verdict is Verdict.ROLLBACK and state.banner_condition == "auth_errors"
    assert state.conditions["auth_errors"].firing_since == at(0)


def test_conditions_outside_their_active_window_do_not_count() -> None:
    """A firing condition whose active window has not begun neither sets the verdict nor raises the banner."""
    from runbooks.model import ActiveWindow

    auth, api = RUNBOOK.stop_conditions
    windowed = replace(RUNBOOK, stop_conditions=(replace(auth, active=ActiveWindow(0.0, 3600.0)), api))
    rows = events(
        (-900, "condition_changed", changed("api_down", "ok", "unknown")),
        (-600, "condition_changed", changed("auth_errors", "firing", "pending", 0.03, held=60)),
    )
    assert reduce_events(windowed, rows).verdict is Verdict.CONTINUE
    assert reduce_events(windowed, rows).banner is None
    assert reduce_events(windowed, rows, until=at(10)).verdict is Verdict.ROLLBACK


def test_a_firing_in_force_when_it_began_asks_for_its_decision_after_its_window_closes() -> None:
    """auth_errors is in force from T0 to T+10m: a firing that began in it, cleared or still firing, holds ROLLBACK
    and its banner past T+10m until a decision; once answered, the closed window lets it go."""
    from runbooks.model import ActiveWindow

    auth, api = RUNBOOK.stop_conditions
    windowed = replace(RUNBOOK, stop_conditions=(replace(auth, active=ActiveWindow(0.0, 600.0)), api))
    fired = [
        (-900, "condition_changed", changed("api_down", "ok", "unknown")),
        (60, "condition_changed", changed("auth_errors", "firing", "pending", 0.03, held=60)),
    ]
    cleared = [*fired, (80, "condition_changed", changed("auth_errors", "ok", "firing", 0.002))]
    for rows in (fired, cleared):
        state = reduce_events(windowed, events(*rows), until=at(700))
        assert state.verdict is Verdict.ROLLBACK and state.banner_condition == "auth_errors", rows[-1]
    answered = [*cleared, (650, "decision", {"decision": "continue", "reason": "blip", "conditions": {}})]
    assert reduce_events(windowed, events(*answered), until=at(700)).verdict is Verdict.CONTINUE


def test_blind_rollback_trigger_means_cannot_verify_even_between_steps() -> None:
    """Before any poll every condition is unknown: the verdict is CANNOT_VERIFY, never CONTINUE."""
    assert reduce_events(RUNBOOK, events()).verdict is Verdict.CANNOT_VERIFY


def test_watched_condition_blind_means_cannot_verify() -> None:
    """A condition watched by the current step in unknown/stale/error gives CANNOT_VERIFY."""
    state = reduce_events(RUNBOOK, events(
        (-3500, "step_completed", {"step": "go_no_go", "gate": {}}),
        (10, "step_started", {"step": "deploy"}),
        (20, "condition_changed", changed("auth_errors", "stale", "ok", reason="no reading for 47s")),
    ))  # fmt: skip
    assert state.verdict is Verdict.CANNOT_VERIFY
    rows = events(
        (-3500, "step_completed", {"step": "go_no_go", "gate": {}}),
        (10, "step_started", {"step": "deploy"}),
        (15, "condition_changed", changed("api_down", "ok", "unknown")),
        (20, "condition_changed", changed("auth_errors", "ok", "unknown", 0.001)),
    )
    assert reduce_events(RUNBOOK, rows).verdict is Verdict.CANNOT_VERIFY  # gate check never polled
    assert reduce_events(RUNBOOK, rows, [tick("api_health", 15, 200)]).verdict is Verdict.CONTINUE


def test_acknowledgement_is_shown_until_the_condition_is_ok_again() -> None:
    """condition_acknowledged marks the condition; going ok clears the mark."""
    rows = [
        (0, "condition_changed", changed("api_down", "firing", "ok", held=30)),
        (5, "condition_acknowledged", {"condition": "api_down", "reason": "known"}),
    ]
    assert reduce_events(RUNBOOK, events(*rows)).conditions["api_down"].acknowledged
    rows.append((50, "condition_changed", changed("api_down", "ok", "firing")))
    assert not reduce_events(RUNBOOK, events(*rows)).conditions["api_down"].acknowledged


def test_ticks_give_checks_latest_values_sparklines_and_alerts() -> None:
    """Ticks give each check its latest reading, conditions a sparkline of recent values, and the alerts list."""
    ticks = [tick("auth_error_ratio", 5 * i, 0.001 * i) for i in range(5)]
    alert = {
        "name": "HighErrorRate",
        "severity": "critical",
        "summary": "5xx above 2%",
        "starts_at": "2026-12-01T16:30:05Z",
    }
    ticks.append(tick("critical_alerts", 12, 1, "breach", active=[alert], suppressed=[]))
    state = reduce_events(RUNBOOK, events(), ticks, history=4)
    assert state.checks["auth_error_ratio"].value == 0.004 and state.checks["auth_error_ratio"].observed_at == at(20)
    assert state.conditions["auth_errors"].value == 0.004
    assert state.conditions["auth_errors"].history == (0.001, 0.002, 0.003, 0.004)
    assert [(a.name, a.state, a.check) for a in state.alerts] == [("HighErrorRate", "active", "critical_alerts")]


def test_sparkline_holds_values_between_kept_ticks_and_shows_gaps() -> None:
    """Between stored ticks the value is held; after more than a keyframe without ticks the points are gaps."""
    ticks = [tick("auth_error_ratio", 0, 0.002), tick("auth_error_ratio", 20, 0.004)]
    held = reduce_events(RUNBOOK, events(), ticks, until=at(35), history=8).conditions["auth_errors"].history
    assert held == (0.002, 0.002, 0.002, 0.002, 0.004, 0.004, 0.004, 0.004)
    gap = reduce_events(RUNBOOK, events(), ticks, until=at(155), history=3).conditions["auth_errors"].history
    assert gap == (0.004, 0.004, None)  # 135 s after the last tick: more than a keyframe and two polls


def test_sparkline_points_sit_on_multiples_of_the_interval_then_now() -> None:
    """The sparkline is the value at each multiple of the check's interval, then now: within an interval only the last point moves."""
    ticks = [
        tick("auth_error_ratio", 0, 0.002),
        tick("auth_error_ratio", 12, 0.004),
        tick("auth_error_ratio", 17, 0.006),
    ]

    def history(until: float, more: tuple = ()) -> tuple:  # type: ignore[type-arg]
        return (
            reduce_events(RUNBOOK, events(), [*ticks, *more], until=at(until), history=4)
            .conditions["auth_errors"]
            .history
        )

    assert history(21) == history(23) == (0.002, 0.004, 0.006, 0.006)  # points at 10, 15, 20 s, then now
    newer = (tick("auth_error_ratio", 22, 0.008),)
    assert history(23, newer) == (0.002, 0.004, 0.006, 0.008)  # a new tick moves the last point only
    assert history(26, newer) == (0.004, 0.006, 0.008, 0.008)  # the next multiple (25 s) shifts the others


def test_until_reduces_to_an_instant() -> None:
    """until ignores every event and tick after the instant (replay scrubbing)."""
    rows = events((10, "step_started", {"step": "deploy"}), (20, "step_completed", {"step": "deploy", "gate": {}}))
    ticks = [tick("auth_error_ratio", 5, 0.001), tick("auth_error_ratio", 15, 0.009)]
    state = reduce_events(RUNBOOK, rows, ticks, until=at(12))
    assert state.steps[1].status is StepStatus.ACTIVE and state.last_event_seq == 2
    assert state.checks["auth_error_ratio"].value == 0.001


def test_log_lines_describe_events_in_words() -> None:
    """The log pane shows each event as a line a person reads."""
    state = reduce_events(RUNBOOK, events(
        (10, "step_started", {"step": "deploy"}),
        (20, "decision", {"decision": "no_go", "reason": "DB lag", "conditions": {}}),
        (30, "note", {"text": "paging DBA"}),
    ))  # fmt: skip
    assert [line.text for line in state.log[1:]] == ["started: Deploy backend", "NO-GO: DB lag", "paging DBA"]


def test_a_condition_whose_state_stays_and_whose_cause_changes_is_not_a_change_from_itself() -> None:
    """A condition is logged when its cause changes too (first read blind, then blind for another reason): the
    log pane said "auth_errors: unknown -> unknown (...)", read as a change that was none. It says the state once."""
    state = reduce_events(RUNBOOK, events(
        (10, "condition_changed", {"condition": "auth_errors", "previous": "unknown", "state": "unknown",
                                   "reason": "baseline not established"}),
        (20, "condition_changed", {"condition": "auth_errors", "previous": "unknown", "state": "ok",
                                   "reason": "0.2%, not > 1%"}),
    ))  # fmt: skip
    assert [line.text for line in state.log[1:]] == [
        "auth_errors: unknown (baseline not established)",
        "auth_errors: unknown -> ok (0.2%, not > 1%)",
    ]


def test_log_lines_say_when_the_wall_clock_read_behind_the_log() -> None:
    """An event dated at the log's last time because the clock stepped back says so; a resume then has no gap to claim."""
    state = reduce_events(RUNBOOK, events(
        (30, "note", {"text": "paging DBA", "clock_behind_by": 7195.0}),
        (30, "session_resumed", {"gap_seconds": None, "last_write_ts": "2026-12-01T16:30:30.000Z",
                                 "accepted_runbook_change": False, "clock_behind_by": 3600.0}),
        (31, "session_resumed", {"gap_seconds": 80.4, "last_write_ts": "2026-12-01T16:29:40.000Z",
                                 "accepted_runbook_change": False}),
    ))  # fmt: skip
    assert [line.text for line in state.log[1:]] == [
        "paging DBA (dated at the log's last time: the wall clock read 1h59m55s earlier)",
        "session resumed after a gap of unknown length (dated at the log's last time: the wall clock read 1h earlier)",
        "session resumed after a 1m20s gap",
    ]


# --------------------------------------------------------------- incremental form

_KINDS = st.sampled_from(["step", "condition", "decision", "ack", "rollback", "resume", "tick", "t0"])


@st.composite
def session_script(draw: st.DrawFn) -> tuple[list[EventRecord], list[TickRecord]]:
    """A random but well-formed session: events and ticks with rising timestamps."""
    rows: list[tuple[float, str, dict[str, Any]]] = []
    ticks: list[TickRecord] = []
    seconds = 0.0
    for kind in draw(st.lists(_KINDS, max_size=40)):
        seconds += draw(st.floats(0.5, 120))
        step = draw(st.sampled_from(["go_no_go", "deploy", "smoke", "helm_rollback", "verify_rollback"]))
        condition = draw(st.sampled_from(["auth_errors", "api_down"]))
        state = draw(st.sampled_from([s.value for s in ConditionState]))
        match kind:
            case "step":
                verb = draw(st.sampled_from(["step_started", "step_completed", "step_failed", "step_skipped"]))
                rows.append((seconds, verb, {"step": step, "reason": "r", "gate": {}}))
            case "condition":
                rows.append(
                    (seconds, "condition_changed", changed(condition, state, "ok", draw(st.floats(0, 0.1)), held=30))
                )
            case "decision":
                rows.append((seconds, "decision", {"decision": "hold", "reason": "x", "conditions": {}}))
            case "ack":
                rows.append((seconds, "condition_acknowledged", {"condition": condition}))
            case "rollback":
                rows.append((seconds, "rollback_started", {"reason": "x"}))
            case "resume":
                rows.append((seconds, "session_resumed", {"gap_seconds": 60.0, "last_write_ts": None}))
            case "t0":
                rows.append((seconds, "t0_set", {"t0": at(seconds).isoformat()}))
            case "tick":
                check = draw(st.sampled_from(["auth_error_ratio", "api_health", "critical_alerts"]))
                ticks.append(tick(check, seconds, draw(st.none() | st.floats(0, 1)), active=[{"name": "A"}]))
    return events(*rows), ticks


@settings(max_examples=60, deadline=None)
@given(session_script(), st.integers(min_value=1, max_value=8))
def test_incremental_reducer_equals_the_full_fold(
    script: tuple[list[EventRecord], list[TickRecord]], history: int
) -> None:
    """Reducer.apply/apply_tick interleaved as written, then state(), equals reduce_events over the same records."""
    rows, ticks = script
    reducer = Reducer(RUNBOOK, history=history)
    for record in sorted([*rows, *ticks], key=lambda r: r.ts):
        reducer.apply(record) if isinstance(record, EventRecord) else reducer.apply_tick(record)
    assert reducer.state() == reduce_events(RUNBOOK, rows, ticks, history=history)


@settings(max_examples=30, deadline=None)
@given(session_script())
def test_folding_only_the_latest_ticks_equals_folding_all(script: tuple[list[EventRecord], list[TickRecord]]) -> None:
    """Giving the reducer only each check's last ticks_kept ticks yields the same state as all of them."""
    rows, ticks = script
    kept = Reducer(RUNBOOK, history=3).ticks_kept
    latest = [t for i, t in enumerate(ticks) if sum(1 for u in ticks[i:] if u.check_id == t.check_id) <= kept]
    assert reduce_events(RUNBOOK, rows, latest, history=3) == reduce_events(RUNBOOK, rows, ticks, history=3)


def test_rollback_mode_abandons_the_forward_plan_and_its_drift_stops() -> None:
    """Once the rollback plan starts, forward steps not done are abandoned: no growing drift, never CONTINUE."""
    rows = [
        (0, "step_started", {"step": "deploy"}),
        (60, "rollback_started", {"reason": "auth errors"}),
    ]
    soon = reduce_events(RUNBOOK, events(*rows), until=at(120))
    later = reduce_events(RUNBOOK, events(*rows), until=at(3600))
    for state in (soon, later):
        steps = {s.id: s for s in state.steps}
        assert steps["deploy"].status is StepStatus.ABANDONED
        assert steps["smoke"].status is StepStatus.ABANDONED
        assert state.verdict is not Verdict.CONTINUE
        assert state.current_step == "helm_rollback" and state.next_step == "helm_rollback"
    assert soon.step("smoke").drift_seconds == later.step("smoke").drift_seconds is None  # no "late by" that grows
    assert soon.step("deploy").drift_seconds == later.step("deploy").drift_seconds


def test_every_number_of_a_condition_is_current_at_each_instant() -> None:
    """From the log alone the hold, the countdown and the reason move with `now`, and the value is the newest reading."""
    rows = [(0, "condition_changed", changed("auth_errors", "pending", "ok", 0.02, reason="2% > 1%"))]
    ticks = [tick("auth_error_ratio", 0, 0.02, "breach"), tick("auth_error_ratio", 20, 0.035, "breach")]
    first = reduce_events(RUNBOOK, events(*rows), ticks, until=at(10)).conditions["auth_errors"]
    second = reduce_events(RUNBOOK, events(*rows), ticks, until=at(30)).conditions["auth_errors"]
    assert (first.breach_held, first.remaining) == (10.0, 50.0)
    assert (second.breach_held, second.remaining) == (30.0, 30.0)
    assert first.reason == "2% > 1% for 10s of 1m"
    assert second.reason == "3.5% > 1% for 30s of 1m"  # the newest value, not the one from the state change
    assert second.value_text == "3.5%" and second.in_state_for == 30.0


def test_a_followed_hold_stops_counting_when_the_writer_stopped() -> None:
    """The writer last seen 20 s after a firing change: 30 s on, the follower's hold stops there (stale), not 30 s more and counting."""

    rows = [(0, "condition_changed", changed("auth_errors", "firing", "pending", 0.02, held=60.0, reason="2% > 1%"))]
    reducer = Reducer(RUNBOOK)
    for event in events(*rows):
        reducer.apply(event)
    state = reducer.state(now=at(50), live=LiveTruth(writer_stopped_at=at(20)))
    view = state.conditions["auth_errors"]
    assert view.state is ConditionState.STALE
    assert view.breach_held == 80.0  # 60 s at the change, and 20 s more while the writer was seen (the banners read it)


def test_live_gate_check_whose_sample_is_older_than_its_max_age_is_stale() -> None:
    """Live, a passing gate check whose sample is older than the check's max_age shows stale, and cannot verify."""
    from runbooks.loader import parse_runbook

    runbook = parse_runbook(
        "name: Lagging source\nsources:\n  prometheus: {kind: prometheus, url: 'http://127.0.0.1:9'}\n"
        "checks:\n  ratio: {promql: ratio, pass_when: '< 1%', max_age: 1m}\n"
        "steps:\n  - {title: Deploy, at: T-0, gate: [ratio]}\n"
    )
    reducer = Reducer(runbook)
    for event in events((0, "step_started", {"step": "deploy"})):
        reducer.apply(event)

    def state_with(sample_age: float):
        reading = Reading("ratio", Outcome.PASS, 0.002, "", 0.01, at(1), 100.0, sample_age=sample_age)
        return reducer.state(now=at(2), live=LiveTruth(readings={"ratio": (reading, 1.0)}))

    fresh, lagging = state_with(5.0), state_with(600.0)
    assert dict(fresh.step("deploy").gate)["ratio"] == "pass" and fresh.verdict is Verdict.CONTINUE
    assert dict(lagging.step("deploy").gate)["ratio"] == "stale"
    assert lagging.checks["ratio"].status == "stale"
    assert lagging.verdict is Verdict.CANNOT_VERIFY


def test_a_blind_condition_shows_its_last_value_with_when_it_was_read_never_as_current() -> None:
    """Stale or in error, a card never shows an old value as if current: the newest reading's value with the
    time it was read ("0.2% at 16:30:10"), or "—" when the newest reading has none, live and from the log alike."""
    runbook = replace(RUNBOOK, timezone="UTC")
    rows = events(
        (10, "condition_changed", changed("auth_errors", "ok", "unknown", 0.002, reason="0.2%, not > 1%")),
        (60, "condition_changed", changed("auth_errors", "stale", "ok", reason="no reading for 47s")),
    )
    logged = reduce_events(runbook, rows, [tick("auth_error_ratio", 10, 0.002)], until=at(61))
    assert logged.conditions["auth_errors"].value_text == "0.2% at 16:30:10"
    reducer = Reducer(runbook)
    for event in rows:
        reducer.apply(event)

    def live(state: ConditionState, outcome: Outcome, value: float | None, read: float) -> str:
        status = ConditionStatus("auth_errors", state, 0.002, "> 1%", at(55), reason="blind")
        reading = Reading("auth_error_ratio", outcome, value, "", 0.01, at(read), 100.0 + read)
        truth = LiveTruth(statuses={"auth_errors": status}, readings={"auth_error_ratio": (reading, 1.0)})
        return reducer.state(now=at(61), live=truth).conditions["auth_errors"].value_text

    assert live(ConditionState.STALE, Outcome.PASS, 0.002, 10) == "0.2% at 16:30:10"
    assert live(ConditionState.ERROR, Outcome.ERROR, None, 60) == "—"
    assert live(ConditionState.OK, Outcome.PASS, 0.002, 60) == "0.2%"  # a seeing state's value is current


def test_views_derived_later_show_the_state_as_it_was_asked_for() -> None:
    """A state's views read after the reducer folded more ticks and events equal those of a state derived from scratch then."""
    before = events((0, "condition_changed", changed("auth_errors", "pending", "ok", 0.02, reason="2% > 1%")))
    ticks = [tick("auth_error_ratio", s, 0.001 * s) for s in range(0, 60, 5)] + [tick("api_health", 10, 0.03)]
    reducer = Reducer(RUNBOOK)
    for event in before:
        reducer.apply(event)
    for folded in ticks:
        reducer.apply_tick(folded)
    state = reducer.state(now=at(60))
    reducer.apply(
        EventRecord(
            len(before) + 1,
            at(61),
            "condition_changed",
            "alice",
            changed("auth_errors", "firing", "pending", 0.05),
            "",
            "",
        )
    )
    for s in range(60, 400, 5):
        reducer.apply_tick(tick("auth_error_ratio", s, 0.5))
    reducer.apply_tick(tick("api_health", 70, 0.9))
    expected = reduce_events(RUNBOOK, before, ticks, until=at(60))
    assert state.conditions["auth_errors"] == expected.conditions["auth_errors"]
    assert (
        state.conditions["auth_errors"].state is ConditionState.PENDING
        and 0.5 not in state.conditions["auth_errors"].history
    )
    assert state.checks["api_health"].value == 0.03
    assert state == expected


def test_a_states_views_are_a_mapping_in_the_runbooks_order() -> None:
    """conditions and checks iterate in the runbook's order, compare equal to dicts, and name what they lack."""
    state = reduce_events(RUNBOOK, events())
    assert list(state.conditions) == [c.id for c in RUNBOOK.stop_conditions] and len(state.checks) == len(
        RUNBOOK.checks
    )
    assert "auth_errors" in state.conditions and "nope" not in state.conditions and state.conditions.get("nope") is None
    assert state.conditions == dict(state.conditions.items()) and dict(state.checks.items()) == state.checks
    assert state.conditions["auth_errors"] is state.conditions["auth_errors"]  # derived once


def test_time_in_state_is_unknown_not_zero_when_the_wall_clock_is_behind_the_change() -> None:
    """A change logged at 60 s, seen at 30 s (the wall clock stepped back): no time in state, rather than a false "0s"."""
    rows = [(60, "condition_changed", changed("auth_errors", "ok", "unknown", 0.002, reason="0.2%, not > 1%"))]
    reducer = Reducer(RUNBOOK)
    for event in events(*rows):
        reducer.apply(event)
    behind, after = (reducer.state(now=at(t)).conditions["auth_errors"] for t in (30, 90))
    assert behind.state is after.state is ConditionState.OK
    assert behind.in_state_for is None
    assert after.in_state_for == 30.0
