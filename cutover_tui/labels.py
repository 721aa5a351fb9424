"""Words and units shared by the screen and the report (no Textual here, so the report stays headless)."""

from __future__ import annotations

from checks.state import Verdict
from runbooks.model import HttpSpec, Runbook, StopCondition

#: Symbol and words per verdict: never colour alone, and CANNOT VERIFY is never green.
VERDICT_LABELS: dict[Verdict, str] = {
    Verdict.CONTINUE: "✔ CONTINUE",
    Verdict.AT_RISK: "⚠ AT RISK",
    Verdict.CANNOT_VERIFY: "? CANNOT VERIFY",
    Verdict.HALT: "■ HALT",
    Verdict.ROLLBACK: "✖ ROLLBACK",
    Verdict.ROLLING_BACK: "↺ ROLLING BACK",
}

DECISION_LABELS: dict[str, str] = {
    "go": "GO",
    "no_go": "NO-GO",
    "conditional_go": "CONDITIONAL GO",
    "hold": "HOLD",
    "rollback": "ROLLBACK",
    "continue": "CONTINUE",
}


def display_unit(condition: StopCondition, runbook: Runbook) -> str:
    """The unit values are shown in: the threshold's, else the check's."""
    if condition.when is not None:
        return condition.when.unit
    check = runbook.checks.get(condition.check)
    if check is None:
        return ""
    if not check.unit and check.kind == "http" and not (isinstance(check.spec, HttpSpec) and check.spec.json_path):
        return "s"  # an http check's value is its latency
    return check.unit
