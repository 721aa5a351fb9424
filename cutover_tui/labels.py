"""Words and units shared by the screen and the report (no Textual here, so the report stays headless)."""

from __future__ import annotations

from checks.conditions import format_value
from checks.state import Verdict
from runbooks.model import Check, HttpSpec, Runbook, StopCondition

#: Symbol and words per verdict: never colour alone, and CANNOT VERIFY is never green.
VERDICT_LABELS: dict[Verdict, str] = {
    Verdict.CONTINUE: "✔ CONTINUE",
    Verdict.AT_RISK: "⚠ AT RISK",
    Verdict.CANNOT_VERIFY: "? CANNOT VERIFY",
    Verdict.HALT: "■ HALT",
    Verdict.ROLLBACK: "✖ ROLLBACK",
    Verdict.ROLLING_BACK: "↺ ROLLING BACK",
}

#: What each verdict means, in the words of docs/semantics.md (the help screen shows them).
VERDICT_MEANINGS: dict[Verdict, str] = {
    Verdict.ROLLBACK: "a rollback stop condition is firing, or went blind while firing: decide now (the banner names who)",
    Verdict.HALT: "a halt stop condition is firing, or went blind while firing: stop and decide",
    Verdict.CANNOT_VERIFY: (
        "we cannot tell: a halt or rollback condition, or one the current step watches or gates on, has no data, "
        "is invalid, not polled, stale or in error; or the log is not being written; or a followed session's writer "
        "stopped. It blocks GO"
    ),
    Verdict.AT_RISK: (
        "a halt or rollback condition is breached but has not held its `for` yet (pending), or is clearing "
        "(recovering): the header counts down"
    ),
    Verdict.CONTINUE: "every condition that matters is seen and none is breached",
    Verdict.ROLLING_BACK: (
        "the rollback plan is running: the verdict judges the plan's own conditions (HALT if a condition it "
        "watches still fires); CONTINUE never shows"
    ),
}

#: What "N blind" beside the verdict means.
BLIND_MEANING = (
    "how many stop conditions in force cannot be seen now (unknown, no data, invalid, not polled, partial, stale "
    "or error), counting those that do not move the verdict (a warn condition) too"
)

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
    if not check.unit and measures_latency(check):
        return "s"  # an http check's value is its latency
    return check.unit


def measures_latency(check: Check | None) -> bool:
    """An http check without a ``json_path``: its value is the response's latency, in seconds."""
    return (
        check is not None and check.kind == "http" and not (isinstance(check.spec, HttpSpec) and check.spec.json_path)
    )


def check_value_text(check: Check | None, value: float | None, unit: str, *, lower_bound: bool = False) -> str:
    """A check's reading as every screen shows it: ``latency 0.11s`` for an http check, else the value in its unit."""
    if value is None:
        return ""
    if measures_latency(check) and not unit:
        unit = "s"
    shown = format_value(value, unit)
    if lower_bound:
        shown = f"≥ {shown}"
    return f"latency {shown}" if measures_latency(check) else shown
