"""The dashboard's rules for decisions, approvals and completing steps, as pure functions that return events.

The app asks the questions (dialogs) and appends what these return; the
rules themselves are here, tested without a screen:

- who decided is recorded apart from who typed it: ``decided_by`` (a role
  of the runbook, or a person's name, chosen in the decision dialog) and the
  event's ``actor`` (``--as``, default the login name). The firing banner's
  "decides: CTO" is the role offered first;
- an approval step with ``approvers: N`` needs N distinct people, each
  typing the phrase; the same name twice is refused;
- completing a step with unticked checklist items asks for a reason, as a
  gate override does; the event names the items and the reason, and the
  report shows "PASS (2 of 4 items unticked — reason, by whom)";
- evidence is owed per named item (``cutover_tui.evidence``): a step with
  two required evidence items needs two answers before it completes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cutover_tui.evidence import evidence_owed
from cutover_tui.state import DecisionRecord, SessionState, StepState
from cutover_tui.store import format_ts
from runbooks.model import Action, Runbook, Step

#: Decisions that let a go/no-go or approval step complete.
PROCEED_DECISIONS = frozenset({"go", "conditional_go"})


# ----------------------------------------------------------------- who decided


def expected_decider(runbook: Runbook, session: SessionState) -> str | None:
    """The role the most urgent firing banner asks to decide (``decides: cto``), if any."""
    for banner in session.banners:
        if banner.condition:
            try:
                return runbook.condition(banner.condition).decides
            except KeyError:
                continue
    return None


def decider_choices(runbook: Runbook, session: SessionState) -> list[tuple[str, str]]:
    """``(role id, title)`` for the decision dialog: the banner's deciding role first, then the other roles."""
    expected = expected_decider(runbook, session)
    roles = list(runbook.roles.items())
    roles.sort(key=lambda role: role[0] != expected)
    return roles


def decider_title(runbook: Runbook, decided_by: str | None) -> str:
    """A role's title (``cto`` -> ``CTO``), or the name as given."""
    if not decided_by:
        return ""
    return runbook.roles.get(decided_by, decided_by)


def answered_conditions(runbook: Runbook, session: SessionState) -> list[str]:
    """The halt and rollback conditions whose firing the decision answers (their banners)."""
    answered = []
    for condition in runbook.stop_conditions:
        view = session.conditions.get(condition.id)
        if view is None or condition.action not in (Action.HALT, Action.ROLLBACK):
            continue
        if view.firing_since is not None or view.state.value in ("firing", "recovering"):
            answered.append(condition.id)
    return answered


def decision_payload(
    runbook: Runbook,
    session: SessionState,
    decision: str,
    reason: str,
    step_id: str | None,
    *,
    decided_by: str | None = None,
    scorecard: dict[str, Any] | None = None,
    phrase: str | None = None,
    approval: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """A decision with the snapshot of every condition and the verdict the commander saw, and who decided.

    ``decided_by`` is a role id of the runbook or a person's name; the
    event's actor (who typed it) is added by the log. ``approval`` is
    ``(n, of)`` for the n-th of ``of`` approvals of an approval step.
    """
    payload: dict[str, Any] = {
        "decision": decision,
        "reason": reason,
        "conditions": {
            view.id: {
                "state": view.state.value,
                "value": view.value,
                "threshold": view.threshold,
                "firing_since": format_ts(view.firing_since) if view.firing_since else None,
            }
            for view in session.conditions.values()
        },
        "verdict": session.verdict.value,
    }
    if decided_by:
        payload["decided_by"] = decided_by
        payload["decided_by_title"] = decider_title(runbook, decided_by)
    expected = expected_decider(runbook, session)
    if expected:
        payload["decides"] = expected  # the role the banner asked for, to line up with decided_by
    answered = answered_conditions(runbook, session)
    if answered:
        payload["answers"] = answered
    if step_id is not None:
        payload["step"] = step_id
    if scorecard is not None:
        payload["scorecard"] = scorecard
    if phrase is not None:
        payload["phrase"] = phrase
    if approval is not None:
        payload["approval"] = {"n": approval[0], "of": approval[1]}
    return payload


# ----------------------------------------------------------------- approvals


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def approvers_so_far(step_id: str, decisions: Iterable[DecisionRecord]) -> list[str]:
    """The distinct people who approved ``step_id`` (typed its phrase), in order."""
    names: dict[str, str] = {}
    for record in decisions:
        if record.step != step_id or record.decision not in PROCEED_DECISIONS or not record.phrase:
            continue
        name = record.decided_by or record.actor
        names.setdefault(_name_key(name), name)
    return list(names.values())


def approvals_needed(step: Step, decisions: Iterable[DecisionRecord]) -> int:
    """How many more approvals ``step`` needs (0: approved)."""
    return max(0, step.approvers - len(approvers_so_far(step.id, decisions)))


def refuse_approver(name: str, so_far: Sequence[str]) -> str | None:
    """Why ``name`` cannot approve now, or None: no name given, or the same person twice."""
    if not name.strip():
        return "Say who approves (a name)."
    if _name_key(name) in {_name_key(n) for n in so_far}:
        return f"{name.strip()} has already approved: a second approval must come from someone else."
    return None


# ----------------------------------------------------------------- completing a step


def unticked_items(step: Step, state: StepState | None) -> list[str]:
    """The ids of ``step``'s checklist items not ticked."""
    ticked = state.items_checked if state is not None else frozenset()
    return [item.id for item in step.items if item.id not in ticked]


def completion_payload(
    step: Step,
    state: StepState | None,
    gate: Mapping[str, str],
    *,
    override_reason: str | None = None,
    unticked_reason: str | None = None,
) -> dict[str, Any]:
    """``step_completed``: the gate as it was, the override reason when it did not pass, the unticked items and why."""
    payload: dict[str, Any] = {"step": step.id, "gate": dict(gate)}
    if not all(outcome == "pass" for outcome in gate.values()) and override_reason:
        payload["override_reason"] = override_reason
    unticked = unticked_items(step, state)
    if unticked:
        payload["unticked"] = unticked
        payload["items"] = len(step.items)
        if unticked_reason:
            payload["unticked_reason"] = unticked_reason
    return payload


def completion_refusal(
    step: Step, state: StepState | None, unticked_reason: str | None, evidence: Mapping[str, str] | None = None
) -> str | None:
    """Why a step cannot be completed as asked: evidence still owed, or unticked items without a reason.

    ``evidence``: the answers given with the completion, by item id (``""``: the step as a whole).
    """
    given = {item_id for item_id, text in (evidence or {}).items() if text.strip()}
    owed = [item for item in evidence_owed(step, state) if item.id not in given]
    if owed:
        named = [item.text for item in owed if item.id]
        return "Evidence still owed: " + ("; ".join(named) if named else "this step requires evidence") + "."
    unticked = unticked_items(step, state)
    if unticked and not (unticked_reason or "").strip():
        return f"{len(unticked)} of {len(step.items)} checklist items are not ticked: say why (logged)."
    return None
