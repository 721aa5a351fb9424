"""Status markers: every state is a symbol *and* a colour, never colour alone.

The one rule: a state under which we could not tell (unknown, stale, error,
never polled) never looks like ok. Blind states use their own symbols and the
``$warning``/magenta family, never green.

Why a check cannot tell has its own mark and word, on a gate check and on an
unknown stop condition alike: ``∅ no data``, ``≠ invalid``, ``○ not polled``,
``◌ partial``; ``? unknown`` is any other reason (the card's reason line says
which: a baseline not established, a first failed poll).
"""

from __future__ import annotations

from dataclasses import dataclass

from checks.state import ConditionState
from cutover_tui.state import CheckView, ConditionView, SessionState, StepStatus
from runbooks.model import Runbook

# Rich styles (not Textual variables): markers are rendered inside DataTable cells.
OK_STYLE = "bold green"
PENDING_STYLE = "bold yellow"
FIRING_STYLE = "bold red"
BLIND_STYLE = "bold magenta"
MUTED_STYLE = "dim"


@dataclass(frozen=True, slots=True)
class Marker:
    """One live marker: a symbol, a word and the Rich style they are drawn in."""

    symbol: str
    word: str
    style: str


CONDITION_MARKERS: dict[ConditionState, Marker] = {
    ConditionState.OK: Marker("●", "ok", OK_STYLE),
    ConditionState.PENDING: Marker("◐", "pending", PENDING_STYLE),
    ConditionState.FIRING: Marker("✖", "firing", FIRING_STYLE),
    ConditionState.RECOVERING: Marker("◑", "recovering", PENDING_STYLE),
    ConditionState.UNKNOWN: Marker("?", "unknown", BLIND_STYLE),
    ConditionState.STALE: Marker("◷", "stale", BLIND_STYLE),
    ConditionState.ERROR: Marker("!", "error", BLIND_STYLE),
}

#: Why a check cannot tell (a check's status), shown on gate checks and on the conditions it leaves unknown.
BLIND_CAUSE_MARKERS: dict[str, Marker] = {
    "nodata": Marker("∅", "no data", BLIND_STYLE),
    "invalid": Marker("≠", "invalid", BLIND_STYLE),
    "never": Marker("○", "not polled", BLIND_STYLE),
    "partial": Marker("◌", "partial", BLIND_STYLE),
}

CHECK_MARKERS: dict[str, Marker] = {
    "pass": Marker("●", "pass", OK_STYLE),
    "breach": Marker("✖", "breach", FIRING_STYLE),
    "nodata": BLIND_CAUSE_MARKERS["nodata"],
    "invalid": BLIND_CAUSE_MARKERS["invalid"],
    "error": Marker("!", "error", BLIND_STYLE),
    "stale": Marker("◷", "stale", BLIND_STYLE),
    "never": BLIND_CAUSE_MARKERS["never"],
    "partial": BLIND_CAUSE_MARKERS["partial"],
}


def check_marker(status: str) -> Marker:
    """The marker of a check's status (``CheckView.status``); anything unexpected is an error, never a pass."""
    return CHECK_MARKERS.get(status, CHECK_MARKERS["error"])


STEP_MARKERS: dict[StepStatus, Marker] = {
    StepStatus.PENDING: Marker("·", "pending", MUTED_STYLE),
    StepStatus.ACTIVE: Marker("▶", "active", "bold cyan"),
    StepStatus.DONE: Marker("✔", "done", "green"),
    StepStatus.FAILED: Marker("✖", "failed", "bold red"),
    StepStatus.SKIPPED: Marker("↷", "skipped", "yellow"),
    StepStatus.ABANDONED: Marker("⊘", "abandoned", MUTED_STYLE),
}


def condition_marker(view: ConditionView | None, check: CheckView | None = None) -> Marker:
    """The marker of a stop condition; an unknown one says why its check cannot tell, when that is the reason.

    ``check``: the view of the condition's check. A condition with no view yet is not polled.
    """
    if view is None:
        return BLIND_CAUSE_MARKERS["never"]
    if view.state is ConditionState.UNKNOWN and check is not None and check.status in BLIND_CAUSE_MARKERS:
        return BLIND_CAUSE_MARKERS[check.status]
    return CONDITION_MARKERS[view.state]


def condition_marker_in(state: SessionState, runbook: Runbook, condition_id: str) -> Marker:
    """The marker of ``condition_id`` as ``state`` shows it (its view and its check's)."""
    view = state.conditions.get(condition_id)
    try:
        check_id = runbook.condition(condition_id).check
    except KeyError:
        return condition_marker(view)
    return condition_marker(view, state.checks.get(check_id))
