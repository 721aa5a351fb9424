"""The verdict ladder: ROLLBACK > HALT > CANNOT VERIFY > AT RISK > CONTINUE, and gate status."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from checks.reading import Outcome
from checks.status import ConditionState, ConditionStatus, Verdict
from checks.verdict import check_status, compute_verdict, counts_as_firing, gate_status, judge
from runbooks.grammar import parse_threshold
from runbooks.model import Action, Check, HttpSpec, PromqlSpec, Runbook, Step, StopCondition

RATIO_QUERY = PromqlSpec(query="sum(rate(errors[5m])) / sum(rate(requests[5m]))", source="prometheus")

S = ConditionState
NOW = datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)


def make_runbook() -> Runbook:
    check = Check(id="ratio", kind="promql", spec=RATIO_QUERY)
    conditions = tuple(
        StopCondition(id=action.value, check="ratio", when=parse_threshold("> 1%"), action=action) for action in Action
    )
    return Runbook(
        name="verdict",
        t0=None,
        timezone=None,
        roles={},
        sources={},
        checks={
            "ratio": check,
            "health": Check(id="health", kind="http", spec=HttpSpec(url="http://127.0.0.1/health")),
        },
        stop_conditions=conditions,
        steps=(),
        rollback=(),
    )


def status(condition_id: str, state: ConditionState, firing_since: datetime | None = None) -> ConditionStatus:
    return ConditionStatus(
        id=condition_id, state=state, value=None, threshold="> 1%", since=NOW, firing_since=firing_since
    )


def all_ok(**states: ConditionState) -> dict[str, ConditionStatus]:
    statuses = {action.value: status(action.value, S.OK) for action in Action}
    for condition_id, state in states.items():
        firing = NOW if state in (S.FIRING, S.RECOVERING) else None
        statuses[condition_id] = status(condition_id, state, firing)
    return statuses


DEPLOY = Step(id="deploy", title="Deploy", gate=("health",), watch=("halt", "warn"))
RUNBOOK = make_runbook()


@pytest.mark.parametrize(
    ("states", "step", "outcomes", "verdict"),
    [
        ({}, DEPLOY, {"health": Outcome.PASS}, Verdict.CONTINUE),
        ({"rollback": S.FIRING, "halt": S.FIRING}, DEPLOY, {"health": Outcome.PASS}, Verdict.ROLLBACK),
        ({"halt": S.FIRING}, DEPLOY, {"health": Outcome.PASS}, Verdict.HALT),
        ({"halt": S.RECOVERING}, DEPLOY, {"health": Outcome.PASS}, Verdict.AT_RISK),  # clearing: still at risk
        ({"rollback": S.FIRING}, None, {}, Verdict.ROLLBACK),
        ({"warn": S.FIRING, "info": S.FIRING}, DEPLOY, {"health": Outcome.PASS}, Verdict.CONTINUE),
        ({"halt": S.PENDING}, DEPLOY, {"health": Outcome.PASS}, Verdict.AT_RISK),  # breached, `for` not yet over
        ({"warn": S.PENDING}, DEPLOY, {"health": Outcome.PASS}, Verdict.CONTINUE),  # only halt/rollback put it at risk
        ({"warn": S.STALE}, DEPLOY, {"health": Outcome.PASS}, Verdict.CANNOT_VERIFY),
        ({"halt": S.UNKNOWN}, DEPLOY, {"health": Outcome.PASS}, Verdict.CANNOT_VERIFY),
        ({"halt": S.ERROR}, DEPLOY, {"health": Outcome.PASS}, Verdict.CANNOT_VERIFY),
        ({"rollback": S.ERROR}, DEPLOY, {"health": Outcome.PASS}, Verdict.CANNOT_VERIFY),  # a blind rollback trigger
        ({"warn": S.ERROR}, None, {}, Verdict.CONTINUE),  # a blind warning, not watched: nothing gates
        ({}, DEPLOY, {}, Verdict.CANNOT_VERIFY),  # gate check never polled
        ({}, DEPLOY, {"health": None}, Verdict.CANNOT_VERIFY),
        ({}, DEPLOY, {"health": Outcome.NODATA}, Verdict.CANNOT_VERIFY),
        ({}, DEPLOY, {"health": Outcome.INVALID}, Verdict.CANNOT_VERIFY),
        ({}, DEPLOY, {"health": Outcome.ERROR}, Verdict.CANNOT_VERIFY),
        ({}, DEPLOY, {"health": Outcome.BREACH}, Verdict.CONTINUE),  # a failing gate blocks the step, not the verdict
        ({"halt": S.UNKNOWN}, None, {}, Verdict.CANNOT_VERIFY),  # a blind halt trigger, even between steps
    ],
)
def test_verdict_table(states, step, outcomes, verdict):
    """The verdict follows the ladder in docs/semantics.md."""
    assert compute_verdict(RUNBOOK, all_ok(**states), step, outcomes) is verdict


def test_condition_blind_after_firing_still_halts():
    """A halt condition that went blind while firing keeps the verdict at HALT."""
    statuses = all_ok()
    statuses["halt"] = status("halt", S.ERROR, firing_since=NOW)
    assert counts_as_firing(statuses["halt"])
    assert compute_verdict(RUNBOOK, statuses, DEPLOY, {"health": Outcome.PASS}) is Verdict.HALT


def test_inactive_conditions_are_left_out_not_blind():
    """A watched condition missing from the statuses (outside its window) does not block."""
    statuses = all_ok()
    del statuses["halt"]
    assert compute_verdict(RUNBOOK, statuses, DEPLOY, {"health": Outcome.PASS}) is Verdict.CONTINUE


@pytest.mark.parametrize("state", [S.OK, S.PENDING, S.UNKNOWN, S.STALE, S.ERROR])
def test_states_that_do_not_count_as_firing(state):
    """Only firing, recovering, or blind after firing count as firing."""
    assert not counts_as_firing(status("x", state))


def test_gate_status_names_the_blocking_checks():
    """Every gate check must pass; never polled, errors and breaches all block."""
    step = Step(id="s", title="S", gate=("a", "b", "c", "d"))
    outcomes = {"a": Outcome.PASS, "b": Outcome.BREACH, "c": Outcome.ERROR}
    assert gate_status(step, outcomes) == (False, ["b", "c", "d"])
    assert gate_status(step, dict.fromkeys("abcd", Outcome.PASS)) == (True, [])
    assert gate_status(Step(id="t", title="T"), {}) == (True, [])


ROLLBACK_STEP = Step(id="verify_old", title="Verify the old version", watch=("rollback",))


@pytest.mark.parametrize(
    ("states", "step", "verdict"),
    [
        ({}, ROLLBACK_STEP, Verdict.ROLLING_BACK),  # nothing wrong: never CONTINUE while rolling back
        ({"rollback": S.FIRING}, None, Verdict.ROLLING_BACK),  # why we roll back; not watched now
        ({"rollback": S.FIRING}, ROLLBACK_STEP, Verdict.HALT),  # watched by the rollback step: not taking effect
        ({"halt": S.FIRING}, None, Verdict.HALT),
        ({"halt": S.UNKNOWN}, None, Verdict.CANNOT_VERIFY),
        ({"rollback": S.UNKNOWN}, ROLLBACK_STEP, Verdict.CANNOT_VERIFY),
        ({"halt": S.PENDING}, None, Verdict.AT_RISK),
    ],
)
def test_rollback_mode_judges_the_rollback_plan(states, step, verdict):
    """While rolling back, the plan's own verdict shows; a rollback trigger the plan watches halts it; CONTINUE never shows."""
    judgement = judge(RUNBOOK, all_ok(**states), step, {}, rollback_mode=True)
    assert judgement.verdict is verdict
    assert judgement.verdict is not Verdict.CONTINUE


def test_at_risk_lists_countdowns_soonest_first():
    """Pending and recovering halt/rollback conditions come with their seconds to firing or clearing."""
    statuses = all_ok()
    statuses["halt"] = replace(status("halt", S.PENDING), remaining=26.0)
    statuses["rollback"] = replace(status("rollback", S.RECOVERING, NOW), remaining=3.0)
    judgement = judge(RUNBOOK, statuses, None, {})
    assert judgement.verdict is Verdict.AT_RISK
    assert [(r.condition, r.seconds) for r in judgement.at_risk] == [("rollback", 3.0), ("halt", 26.0)]


@pytest.mark.parametrize(
    ("action", "verdict"), [("halt", Verdict.AT_RISK), ("rollback", Verdict.AT_RISK), ("warn", Verdict.CONTINUE)]
)
def test_a_flapping_stop_condition_is_at_risk_between_its_breaches(action, verdict):
    """A halt or rollback condition flapping (breach, pass, breach...) stays AT RISK while it reads ok between breaches.

    Each breach resets nothing toward firing, so the header would otherwise turn green at every pass in between.
    """
    statuses = all_ok()
    statuses[action] = replace(status(action, S.OK), flapping=True)
    judgement = judge(RUNBOOK, statuses, None, {})
    assert judgement.verdict is verdict
    if verdict is Verdict.AT_RISK:
        assert [(r.condition, r.state, r.seconds) for r in judgement.at_risk] == [(action, S.OK, None)]
        assert judgement.reasons == (f"{action} flapping",)
    pending = dict(statuses, rollback=replace(status("rollback", S.PENDING), remaining=26.0))
    if action != "rollback":  # a countdown comes first: it says when it fires
        assert judge(RUNBOOK, pending, None, {}).at_risk[0].condition == "rollback"


def test_a_recovering_condition_whose_firing_no_decision_answered_holds_its_rung():
    """Recovering is still firing (its banner asks for a decision): unanswered, it holds HALT or ROLLBACK."""
    statuses = all_ok(rollback=S.RECOVERING, halt=S.RECOVERING)
    assert judge(RUNBOOK, statuses, None, {}).verdict is Verdict.AT_RISK  # answered: counting down to clear
    held = judge(RUNBOOK, statuses, None, {}, unanswered={"rollback", "halt"})
    assert held.verdict is Verdict.ROLLBACK
    assert held.reasons[:2] == (
        "rollback recovering after firing: no decision logged",
        "halt recovering after firing: no decision logged",
    )
    assert {risk.condition for risk in held.at_risk} == {"rollback", "halt"}  # their countdowns stay
    rolling_back = judge(RUNBOOK, statuses, None, {}, unanswered={"rollback", "halt"}, rollback_mode=True)
    assert rolling_back.verdict is Verdict.HALT  # the rollback condition is why we roll back; halt still stops
    # A rollback step watching its rollback condition recover: the rollback is taking effect, not failing to.
    undo = Step(id="undo", title="helm rollback", watch=("rollback",))
    statuses = all_ok(rollback=S.RECOVERING)
    taking_effect = judge(RUNBOOK, statuses, undo, {}, unanswered={"rollback"}, rollback_mode=True)
    assert taking_effect.verdict is Verdict.AT_RISK and taking_effect.reasons == ("rollback recovering",)


def test_a_log_that_is_not_written_is_never_better_than_cannot_verify():
    """With the log failing, a calm session reads CANNOT VERIFY, and a firing one still ROLLBACK."""
    assert judge(RUNBOOK, all_ok(), None, {}, log_problem="log not writing: disk full").verdict is Verdict.CANNOT_VERIFY
    firing = judge(RUNBOOK, all_ok(rollback=S.FIRING), None, {}, log_problem="log not writing: disk full")
    assert firing.verdict is Verdict.ROLLBACK and "log not writing: disk full" in firing.reasons


def test_blind_counts_every_condition_in_force_even_those_rollback_mode_does_not_judge():
    """Rolling back, an unwatched rollback condition no longer moves the verdict but still counts as blind."""
    judgement = judge(RUNBOOK, all_ok(rollback=S.STALE, halt=S.STALE), None, {}, rollback_mode=True)
    assert set(judgement.blind) == {"rollback", "halt"}
    assert judgement.verdict is Verdict.CANNOT_VERIFY


def test_a_sample_older_than_the_checks_max_age_is_stale_not_pass():
    """A reading whose sample was already old (a lagging API) no longer vouches once it is older than max_age."""
    check = Check(id="ratio", kind="promql", spec=RATIO_QUERY, every=15.0, max_age=60.0)
    assert check_status(check, "pass", 5.0, sample_age=50.0) == "pass"
    assert check_status(check, "pass", 5.0, sample_age=58.0) == "stale"  # 58 s old when read, read 5 s ago
    assert check_status(check, "pass", 5.0) == "pass"  # a source that gives no sample time
    assert check_status(replace(check, max_age=None), "pass", 5.0, sample_age=600.0) == "pass"


def test_a_firing_that_cleared_unanswered_holds_its_rung_until_a_decision():
    """A halt or rollback condition ok again after firing, with no decision logged since, keeps its rung."""
    cleared = {"rollback": (NOW, NOW.replace(minute=31))}
    judgement = judge(RUNBOOK, all_ok(), None, {}, cleared_firings=cleared)
    assert judgement.verdict is Verdict.ROLLBACK
    assert judgement.reasons == ("rollback fired at 16:30:00Z, cleared at 16:31:00Z: no decision logged",)
    assert judge(RUNBOOK, all_ok(), None, {}, cleared_firings={"halt": (NOW, NOW)}).verdict is Verdict.HALT
    # a warning that fired asks for nothing; a condition not in force is not judged
    assert judge(RUNBOOK, all_ok(), None, {}, cleared_firings={"warn": (NOW, NOW)}).verdict is Verdict.CONTINUE
    out_of_force = {cid: s for cid, s in all_ok().items() if cid != "rollback"}
    assert judge(RUNBOOK, out_of_force, None, {}, cleared_firings=cleared).verdict is Verdict.CONTINUE
    # in rollback mode, a rollback condition the rollback step does not watch is why we roll back
    assert judge(RUNBOOK, all_ok(), None, {}, rollback_mode=True, cleared_firings=cleared).verdict is (
        Verdict.ROLLING_BACK
    )


def test_the_check_command_stops_on_a_firing_that_is_recovering_or_cleared_at_the_run_end():
    """``check`` cannot log a decision: a halt condition that fired during the run exits 1 even if recovering or ok at
    its end."""
    from cutover_tui.commands.check_cmd import EXITS, _judge

    ok_now = {"halt": status("halt", S.OK)}
    report = _judge(RUNBOOK, {}, ok_now, {"halt"}, [], {"halt": NOW})
    assert report.verdict is Verdict.HALT and EXITS[report.verdict.value] == 1
    assert _judge(RUNBOOK, {}, ok_now, {"halt"}, []).verdict is Verdict.CONTINUE
    recovering = {"halt": replace(status("halt", S.RECOVERING, NOW), remaining=12.0)}
    report = _judge(RUNBOOK, {}, recovering, {"halt"}, [], {"halt": NOW})
    assert report.verdict is Verdict.HALT and EXITS[report.verdict.value] == 1  # not AT RISK (4): still unanswered
