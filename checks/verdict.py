"""The verdict the commander sees, from the conditions' states and the gate checks.

- ROLLBACK / HALT: a condition with that action counts as firing
  (``counts_as_firing``): firing, recovering within ``keep_firing_for``, or
  blind after firing.
- CANNOT_VERIFY: a condition watched by the current step is unknown, stale or
  error, or a check gating the current step has no usable reading (never
  polled, no data, invalid, error). Like Argo's Inconclusive, it blocks GO.
- CONTINUE: everything else. A gate check that polls and breaches does not
  change the verdict; ``gate_status`` reports it, and the step cannot be
  completed without an override.
"""

from __future__ import annotations

from typing import Mapping

from checks.reading import Outcome
from checks.state import BLIND_STATES, ConditionState, ConditionStatus, Verdict
from runbooks.model import Action, Runbook, Step

_UNUSABLE = frozenset({None, Outcome.NODATA, Outcome.INVALID, Outcome.ERROR})


def counts_as_firing(status: ConditionStatus) -> bool:
    """Whether a condition counts as firing for the verdict and the banner.

    Recovering is still firing (Prometheus keeps an alert firing during
    ``keep_firing_for``), and a condition that went blind while firing stays
    firing: we must not stop asking for a decision because we stopped seeing.
    """
    if status.state in (ConditionState.FIRING, ConditionState.RECOVERING):
        return True
    return status.state in BLIND_STATES and status.firing_since is not None


def gate_status(step: Step, check_outcomes: Mapping[str, Outcome | None]) -> tuple[bool, list[str]]:
    """Whether every gate check of ``step`` passes, and the ids of those that do not.

    Returns:
        ``(ok, blocking)``: ``ok`` is True only when every gate check's latest
        outcome is ``pass``; a check never polled blocks.
    """
    blocking = [check_id for check_id in step.gate if check_outcomes.get(check_id) is not Outcome.PASS]
    return not blocking, blocking


def compute_verdict(
    runbook: Runbook,
    statuses: Mapping[str, ConditionStatus],
    current_step: Step | None,
    check_outcomes: Mapping[str, Outcome | None],
) -> Verdict:
    """The verdict for the commander.

    Args:
        runbook: gives each condition's action.
        statuses: the status of every condition in force, by id; callers leave
            out conditions outside their ``active`` window (a missing id is
            inactive, not blind).
        current_step: the step being worked on, or None between steps.
            CANNOT VERIFY when a condition it watches or a check it gates is
            blind, and also, whatever the step, when any halt or rollback
            condition is blind: its trigger could be breached unseen.
        check_outcomes: each check's latest outcome, None when never polled.
    """
    firing_actions = {
        runbook.condition(condition_id).action
        for condition_id, status in statuses.items()
        if counts_as_firing(status)
    }
    if Action.ROLLBACK in firing_actions:
        return Verdict.ROLLBACK
    if Action.HALT in firing_actions:
        return Verdict.HALT
    # A blind halt/rollback trigger could be breached right now: never say CONTINUE over it.
    trigger_blind = any(
        status.state in BLIND_STATES and runbook.condition(condition_id).action in (Action.HALT, Action.ROLLBACK)
        for condition_id, status in statuses.items()
    )
    if trigger_blind:
        return Verdict.CANNOT_VERIFY
    if current_step is None:
        return Verdict.CONTINUE
    watched_blind = any(
        condition_id in statuses and statuses[condition_id].state in BLIND_STATES
        for condition_id in current_step.watch
    )
    gate_blind = any(check_outcomes.get(check_id) in _UNUSABLE for check_id in current_step.gate)
    if watched_blind or gate_blind:
        return Verdict.CANNOT_VERIFY
    return Verdict.CONTINUE
