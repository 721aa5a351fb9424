"""Status markers: every state is a symbol *and* a colour, never colour alone.

The one rule: a state under which we could not tell (unknown, stale, error,
never polled) never looks like ok. Blind states use their own symbols and the
``$warning``/magenta family, never green.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from checks.state import ConditionState
from cutover_tui.store import RetentionPolicy
from cutover_tui.state import CheckView, ConditionView, SessionState, StepStatus
from runbooks.model import Check, Runbook

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
}

STEP_MARKERS: dict[StepStatus, Marker] = {
    StepStatus.PENDING: Marker("·", "pending", MUTED_STYLE),
    StepStatus.ACTIVE: Marker("▶", "active", "bold cyan"),
    StepStatus.DONE: Marker("✔", "done", "green"),
    StepStatus.FAILED: Marker("✖", "failed", "bold red"),
    StepStatus.SKIPPED: Marker("↷", "skipped", "yellow"),
}


def condition_marker(view: ConditionView | None) -> Marker:
    """The marker of a stop condition; a condition with no view yet is unknown."""
    if view is None:
        return CONDITION_MARKERS[ConditionState.UNKNOWN]
    return CONDITION_MARKERS[view.state]


def check_is_stale(check: Check, view: CheckView, now: datetime) -> bool:
    """Whether a check's latest reading is too old to vouch for a gate.

    A stored reading is at most one keyframe old while its check is polled
    (``RetentionPolicy``); beyond that plus two polls and a timeout the poller
    has stopped seeing it (STOP_CONDITIONS.md: 2 × interval + timeout).
    """
    if view.observed_at is None:
        return False
    limit = RetentionPolicy().keyframe_seconds + 2 * check.every + check.timeout
    return (now - view.observed_at).total_seconds() > limit


def check_outcome(runbook: Runbook, state: SessionState, check_id: str, now: datetime) -> str:
    """The gate outcome of a check now: a ``CHECK_MARKERS`` key ("pass" only when it truly passed)."""
    view = state.checks.get(check_id)
    if view is None or view.outcome is None:
        return "never"
    check = runbook.checks.get(check_id)
    if check is not None and check_is_stale(check, view, now):
        return "stale"
    return view.outcome if view.outcome in CHECK_MARKERS else "error"


def gate_outcomes(runbook: Runbook, state: SessionState, step_id: str, now: datetime) -> dict[str, str]:
    """``{check_id: outcome}`` for a step's gate, in gate order."""
    step = runbook.step(step_id)
    return {check_id: check_outcome(runbook, state, check_id, now) for check_id in step.gate}
