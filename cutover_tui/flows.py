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
  two required evidence items needs two answers before it completes;
- which keys apply now (``refusal``: why not, in one line), what a decision
  is about, which condition ``a`` acknowledges and ``w`` explains, which steps
  a start overrides, how a step completes (approve, decide, or complete), and
  how a session ending now ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, Literal

from checks.status import ConditionState
from cutover_tui.evidence import evidence_answers, evidence_events, evidence_owed
from cutover_tui.labels import decider_title, format_wall_clock
from cutover_tui.state import DecisionRecord, Mode, SessionState, StepState, StepStatus
from cutover_tui.store import format_ts
from runbooks.model import Action, EvidenceItem, Runbook, Step, StepKind

#: An event as the app appends it: its kind and its payload.
Event = tuple[str, dict[str, Any]]

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


def answered_conditions(runbook: Runbook, session: SessionState) -> list[str]:
    """The halt and rollback conditions whose firing the decision answers: firing now, or with a banner."""
    bannered = {banner.condition for banner in session.banners if banner.condition}
    answered = []
    for condition in runbook.stop_conditions:
        view = session.conditions.get(condition.id)
        if view is None or condition.action not in (Action.HALT, Action.ROLLBACK):
            continue
        if condition.id in bannered or view.firing_since is not None or view.state.value in ("firing", "recovering"):
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


@dataclass(frozen=True, slots=True)
class CompletionQuestions:
    """What completing a step must still ask (``complete_step`` dialog); see ``completion_questions``."""

    gate: dict[str, str]  # the gate to show (empty when a decision already answered for it)
    owed: list[EvidenceItem]  # evidence still owed
    answers: dict[str, list[str]]  # evidence given so far, by item id
    unticked: int  # checklist items not ticked


def completion_questions(
    step: Step, state: StepState | None, *, override_reason: str | None
) -> CompletionQuestions | None:
    """What completing ``step`` must ask, or None when it completes as it is.

    A plain task always asks (the operator confirms what is done); any step
    asks for evidence still owed, for unticked items, and for an override
    reason when its gate does not pass and no decision (``override_reason``)
    already answered for it.
    """
    gate = dict(state.gate) if state is not None else {}
    gate_ok = all(outcome == "pass" for outcome in gate.values())
    owed = evidence_owed(step, state)
    unticked = unticked_items(step, state)
    if step.kind is not StepKind.TASK and not owed and (gate_ok or override_reason is not None) and not unticked:
        return None
    return CompletionQuestions(
        gate if override_reason is None else {}, owed, evidence_answers(step, state), len(unticked)
    )


def completion_events(
    step: Step,
    state: StepState | None,
    *,
    evidence: Mapping[str, str] | None = None,
    override_reason: str | None = None,
    unticked_reason: str | None = None,
) -> list[Event]:
    """The events that complete ``step``: each evidence answer under its item, then ``step_completed``."""
    gate = dict(state.gate) if state is not None else {}
    events = evidence_events(step.id, evidence or {})
    events.append(
        (
            "step_completed",
            completion_payload(step, state, gate, override_reason=override_reason, unticked_reason=unticked_reason),
        )
    )
    return events


def how_to_complete(step: Step, decisions: Sequence[DecisionRecord]) -> Literal["approve", "decide", "complete"]:
    """An approval step still needing approvers is approved; a go/no-go step not yet decided GO is decided; else completed."""
    if step.kind is StepKind.APPROVAL and approvals_needed(step, decisions):
        return "approve"
    decided = any(d.step == step.id and d.decision in PROCEED_DECISIONS for d in decisions)
    if step.kind is StepKind.GO_NO_GO and not decided:
        return "decide"
    return "complete"


def decision_completes(step: Step | None, decision: str) -> bool:
    """A GO or CONDITIONAL GO on a go/no-go step completes it (asking only for what is still missing)."""
    return step is not None and step.kind is StepKind.GO_NO_GO and decision in PROCEED_DECISIONS


def decision_override(payload: Mapping[str, Any]) -> str:
    """The gate override a logged decision gives the step it completes: ``GO decision: all gates reviewed``."""
    label = str(payload["decision"]).upper().replace("_", " ")
    return f"{label} decision: {payload['reason']}"


# ----------------------------------------------------------------- starting a step


def unmet_dependencies(runbook: Runbook, session: SessionState, step_id: str) -> list[Step]:
    """The steps ``step_id`` depends on that are neither done nor skipped: starting it then overrides them."""
    unmet = []
    for dependency in runbook.step(step_id).depends_on:
        state = session.step(dependency)
        if state is None or state.status not in (StepStatus.DONE, StepStatus.SKIPPED):
            unmet.append(runbook.step(dependency))
    return unmet


# ----------------------------------------------------------------- what a key is about


def decision_step(runbook: Runbook, session: SessionState, selected: StepState | None) -> str | None:
    """The step a decision is about: the selected one if it is current or a decision step, and not over."""
    if selected is None or selected.status not in (StepStatus.PENDING, StepStatus.ACTIVE):
        return None
    kind = runbook.step(selected.id).kind
    return selected.id if selected.id == session.current_step or kind is not StepKind.TASK else None


def needs_acknowledging(session: SessionState, condition_id: str | None) -> bool:
    """A firing (or recovering, or once fired) condition nobody acknowledged yet (its standing: no view derived)."""
    standing = session.standings.get(condition_id or "")
    if standing is None or standing.acknowledged:
        return False
    return standing.state in (ConditionState.FIRING, ConditionState.RECOVERING) or standing.firing_since is not None


def condition_to_acknowledge(session: SessionState, highlighted: str | None) -> str | None:
    """The banner's condition, else the highlighted one, else the first firing one, if unacknowledged."""
    for candidate in (session.banner_condition, highlighted, *session.conditions):
        if needs_acknowledging(session, candidate):
            return candidate
    return None


def condition_to_explain(session: SessionState, highlighted: str | None) -> str | None:
    """What ``w`` explains: the highlighted condition, else the banner's, else the first one not ok, else the first."""
    conditions = session.conditions
    not_ok = next((cid for cid, view in conditions.items() if view.state is not ConditionState.OK), None)
    return next(
        (cid for cid in (highlighted, session.banner_condition, not_ok, *conditions) if cid in conditions), None
    )


# ----------------------------------------------------------------- which keys apply now

#: Keys that act on the selected step: they need one.
STEP_ACTIONS = frozenset({"start_step", "complete_step", "fail_step", "skip_step", "add_evidence"})


def refusal(
    action: str,
    session: SessionState,
    step: StepState | None,
    *,
    zone: tzinfo | None,
    highlighted_condition: str | None = None,
) -> str | None:
    """Why the write ``action`` does not apply now, in one line; None when it does.

    ``step`` is the selected step; ``highlighted_condition`` the condition under
    the cursor in the conditions pane; ``zone`` the zone times are said in.
    """
    if action in STEP_ACTIONS and step is None:
        return "Select a step first (1 or tab moves to the steps)."
    title = f"“{step.title}”" if step is not None else ""
    status = step.status.value if step is not None else ""
    match action:
        case "start_step" if step is not None and step.status is StepStatus.ACTIVE:
            return f"{title} is already active: c completes it, f fails it, k skips it."
        case "start_step" if step is not None and step.status is not StepStatus.PENDING:
            return f"{title} is {status}: only a pending step can be started."
        case "complete_step" | "fail_step" | "skip_step" if step is not None and step.status is StepStatus.ABANDONED:
            return f"{title} was abandoned when the rollback began: the rollback plan is being run."
        case "complete_step" | "fail_step" | "skip_step" if step is not None and step.status not in (
            StepStatus.PENDING,
            StepStatus.ACTIVE,
        ):
            return f"{title} is already {status}."
        case "acknowledge" if condition_to_acknowledge(session, highlighted_condition) is None:
            firing = (ConditionState.FIRING, ConditionState.RECOVERING)
            if any(standing.state in firing for standing in session.standings.values()):
                return "Every firing stop condition is already acknowledged."
            return "Nothing to acknowledge: no stop condition is firing."
        case "set_t0" if session.mode is Mode.ROLLBACK:
            return "T-0 cannot move during a rollback: the rollback plan is timed from when it began (R+)."
        case "set_t0" if session.t0 is not None and session.mode is not Mode.REHEARSAL:
            return (
                f"T-0 is set ({format_wall_clock(session.t0, zone)}); moving it is for rehearsals "
                "(a session started with --rehearsal)."
            )
        case "rollback" if session.mode is Mode.ROLLBACK:
            since = session.rollback_started_at
            when = f" since {format_wall_clock(since, zone)}" if since is not None else ""
            return f"The rollback plan is already running{when}."
    return None


# ----------------------------------------------------------------- notes and the end


def note_event(text: str, step_id: str | None) -> Event:
    """A note for the log, tied to the selected step when there is one."""
    payload: dict[str, Any] = {"text": text}
    if step_id is not None:
        payload["step"] = step_id
    return ("note", payload)


#: How the quit dialog names each ``session_ended`` outcome.
OUTCOME_WORDS = {"completed": "completed", "rolled_back": "rolled back", "abandoned": "abandoned"}


def ending_outcome(state: SessionState) -> str:
    """How a session ending now ends: rolled back once rollback started, completed when every step of the plan is done or skipped, else abandoned."""
    if state.rollback_started_at is not None:
        return "rolled_back"
    plan = [step for step in state.steps if not step.rollback_plan]
    if plan and all(step.status in (StepStatus.DONE, StepStatus.SKIPPED) for step in plan):
        return "completed"
    return "abandoned"
