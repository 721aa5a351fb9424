"""Status markers: every state is a symbol *and* a colour, never colour alone.

The one rule: a state under which we could not tell (unknown, stale, error,
never polled) never looks like ok. Blind states use their own symbols and the
``$warning``/magenta family, never green.
"""

from __future__ import annotations

from dataclasses import dataclass

from checks.state import ConditionState
from cutover_tui.state import ConditionView, StepStatus

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

CHECK_MARKERS: dict[str, Marker] = {
    "pass": Marker("●", "pass", OK_STYLE),
    "breach": Marker("✖", "breach", FIRING_STYLE),
    "nodata": Marker("?", "no data", BLIND_STYLE),
    "invalid": Marker("?", "invalid", BLIND_STYLE),
    "error": Marker("!", "error", BLIND_STYLE),
    "stale": Marker("◷", "stale", BLIND_STYLE),
    "never": Marker("?", "not polled", BLIND_STYLE),
    "partial": Marker("◌", "partial data", BLIND_STYLE),
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


def condition_marker(view: ConditionView | None) -> Marker:
    """The marker of a stop condition; a condition with no view yet is unknown."""
    if view is None:
        return CONDITION_MARKERS[ConditionState.UNKNOWN]
    return CONDITION_MARKERS[view.state]
