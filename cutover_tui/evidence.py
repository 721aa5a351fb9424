"""Evidence a step owes: one answer per required named item, or one for a step that requires evidence without naming any.

Pure (no log, no screen): the dashboard, its dialogs and the report ask it
the same questions.

- a step with ``evidence: [Release tag, Migration log]`` owes an answer for
  each item until one is logged under it (``evidence_added`` with ``item``);
- ``evidence: required`` owes one answer for the step as a whole;
- an answer logged without an item (a log written before answers named
  their item) covered the whole step then, and still does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cutover_tui.state import StepState
from runbooks.model import EvidenceItem, Step

#: The evidence a step owes when it requires some without naming items: one answer for the step as a whole.
WHOLE_STEP = EvidenceItem("", "Evidence (a link, a ticket, what you saw)")


def evidence_answers(step: Step, state: StepState | None) -> dict[str, list[str]]:
    """The answers logged so far, by named item id (``""``: for the step as a whole), in order."""
    answers: dict[str, list[str]] = {}
    if state is None:
        return answers
    named = {item.id for item in step.evidence}
    items = state.evidence_items + (None,) * (len(state.evidence) - len(state.evidence_items))
    for text, item in zip(state.evidence, items, strict=True):
        answers.setdefault(item if item in named else "", []).append(text)
    return answers


def evidence_owed(step: Step, state: StepState | None) -> list[EvidenceItem]:
    """The evidence ``step`` still needs before it completes, in the runbook's order.

    Each required named item without an answer; a step that requires evidence
    without naming items owes ``WHOLE_STEP`` until anything is attached.
    """
    answers = evidence_answers(step, state)
    if step.evidence:
        if answers.get("") and len(answers) == 1:
            return []  # a log from before answers named their item: one answer covered the step then
        return [item for item in step.evidence if item.required and not answers.get(item.id)]
    if step.evidence_required and not (state is not None and state.evidence):
        return [WHOLE_STEP]
    return []


def evidence_events(step_id: str, answers: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """``evidence_added`` per non-empty answer, each under its named item (``""``: the step as a whole)."""
    events: list[tuple[str, dict[str, Any]]] = []
    for item_id, text in answers.items():
        if text.strip():
            payload: dict[str, Any] = {"step": step_id, "text": text.strip()}
            if item_id:
                payload["item"] = item_id
            events.append(("evidence_added", payload))
    return events
