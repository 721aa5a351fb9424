"""How the dashboard, the report and the CLI say things: one place for words, values, times and marks.

Pure (no Textual), so the report stays headless and every surface reads the same:

- words: each verdict and decision, and what a verdict means;
- values: a reading in its threshold's unit (``checks.conditions.format_value``:
  two significant digits, never onto the wrong side of the threshold), a
  condition's display unit, an http check's latency;
- times: wall clocks in the runbook's zone, the T-clock, planned offsets as the
  runbook writes them, durations, drift, countdowns; offsets and durations reuse
  the runbook grammar's formats, so the screen says what the runbook says;
- marks: every state is a symbol *and* a colour, never colour alone. A state
  under which we could not tell (unknown, stale, error, never polled) never
  looks like ok: blind states have their own symbols in the magenta family.
  Why a check cannot tell has its own mark and word, on a gate check and on an
  unknown stop condition alike: ``∅ no data``, ``≠ invalid``, ``○ not polled``,
  ``◌ partial``; ``? unknown`` is any other reason (the card's reason line says
  which: a baseline not established, a first failed poll).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from checks.status import BLIND_STATES, ConditionState, Verdict
from checks.wording import format_value as condition_value
from cutover_tui.state import CheckView, ConditionStanding, SessionState, StepStatus
from runbooks.grammar import format_duration as grammar_duration
from runbooks.grammar import format_offset
from runbooks.model import Check, HttpSpec, Runbook, StopCondition

# ----------------------------------------------------------------- words

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


# ----------------------------------------------------------------- values


def decider_title(runbook: Runbook, decided_by: str | None) -> str:
    """A role's title (``cto`` -> ``CTO``), or the name as given."""
    if not decided_by:
        return ""
    return runbook.roles.get(decided_by, decided_by)


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
    shown = condition_value(value, unit)
    if lower_bound:
        shown = f"≥ {shown}"
    return f"latency {shown}" if measures_latency(check) else shown


def format_value(value: float | None, unit: str, *, near: float | None = None) -> str:
    """A normalised value in its threshold's unit (ratio as %, seconds as ms/s), ``—`` when none.

    The one value format (``checks.conditions.format_value``): two significant
    digits, more where fewer would put it on the wrong side of ``near`` (its threshold).
    """
    return "—" if value is None else condition_value(value, unit, near=near)


# ----------------------------------------------------------------- times


#: The comparison that holds where a condition's own does not, two-character operators first.
_NEGATED = {">=": "<", "<=": ">", "==": "≠", "!=": "=", ">": "≤", "<": "≥"}
_PASSING = frozenset({ConditionState.OK, ConditionState.RECOVERING})


def threshold_shown(threshold: str, state: ConditionState | None) -> str:
    """A threshold as the value stands against it: ``> 1%`` while breached, ``≤ 1%`` while passing, and the rule
    itself while blind: ``(fires > 1%)``.

    Beside the value, ``0.2% > 1%`` would state a breach; an ok or recovering
    condition reads ``0.2% ≤ 1%``. A blind one's value is the last it saw, and
    judges nothing now: ``0.2% at 21:08:03 > 1%`` read as a breach.
    """
    if state in BLIND_STATES:
        return f"(fires {threshold})"
    if state in _PASSING:
        for op, negated in _NEGATED.items():
            if threshold.startswith(op):
                return negated + threshold[len(op) :]
    return threshold


def display_zone(name: str | None) -> tzinfo | None:
    """The runbook's time zone for wall clocks, or None for the machine's local zone."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def to_zone(moment: datetime, zone: tzinfo | None) -> datetime:
    """``moment`` in ``zone`` (local time when None)."""
    return moment.astimezone(zone) if zone is not None else moment.astimezone()


def format_wall_clock(now: datetime, zone: tzinfo | None) -> str:
    """The wall clock with its zone, e.g. ``22:14:32 IST``."""
    local = to_zone(now, zone)
    return f"{local:%H:%M:%S} {local.tzname() or ''}".rstrip()


def format_wall_time(moment: datetime | None, zone: tzinfo | None, today: datetime) -> str:
    """A planned or actual time: ``22:14`` today, ``12-02 03:00`` on another day, ``—`` when unknown."""
    if moment is None:
        return "—"
    local = to_zone(moment, zone)
    if local.date() == to_zone(today, zone).date():
        return f"{local:%H:%M}"
    return f"{local:%m-%d %H:%M}"


def _hms(seconds: float) -> str:
    whole = int(abs(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def format_t_clock(now: datetime, t0: datetime | None) -> str:
    """``T-00:14:32`` before T-0, ``T+01:02:10`` after, ``T0 not set`` without one."""
    if t0 is None:
        return "T0 not set"
    seconds = (now - t0).total_seconds()
    sign = "-" if seconds < 0 else "+"
    return f"T{sign}{_hms(seconds)}"


def format_at(offset: float | None, *, rollback: bool = False) -> str:
    """A step's planned offset as the runbook writes it (``T-15m``), ``—`` when unscheduled.

    Rollback steps are timed from the moment rollback started: ``R+0``, ``R+5m``.
    """
    if offset is None:
        return "—"
    if rollback:
        return "R+0" if round(abs(offset) * 1000) == 0 else "R" + format_offset(offset)[1:]
    return format_offset(offset)


def format_duration(seconds: float | None) -> str:
    """A duration to the whole second (``4m12s``, ``1h2m3s``), ``—`` when unknown."""
    if seconds is None:
        return "—"
    return grammar_duration(round(abs(seconds)))


def format_drift(seconds: float | None) -> str:
    """Drift (actual − planned): ``+4m12s`` late, ``-30s`` early, ``±0s`` on time.

    Whole seconds elapsed, as the countdowns and the header's "due 4m35s ago" count them: a rounded drift read
    "+4m36s" beside "due 4m35s ago" at the same instant.
    """
    if seconds is None:
        return ""
    if abs(seconds) < 1:
        return "±0s"
    sign = "+" if seconds > 0 else "-"
    return f"{sign}{format_duration(int(abs(seconds)))}"


# ----------------------------------------------------------------- marks

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


def condition_marker(view: ConditionStanding | None, check: CheckView | None = None) -> Marker:
    """The marker of a stop condition; an unknown one says why its check cannot tell, when that is the reason.

    ``check``: the view of the condition's check. A condition with no view yet is not polled.
    """
    if view is None:
        return BLIND_CAUSE_MARKERS["never"]
    if view.state is ConditionState.UNKNOWN and check is not None and check.status in BLIND_CAUSE_MARKERS:
        return BLIND_CAUSE_MARKERS[check.status]
    return CONDITION_MARKERS[view.state]


def condition_marker_in(state: SessionState, runbook: Runbook, condition_id: str) -> Marker:
    """The marker of ``condition_id`` as ``state`` shows it (its standing and its check's view)."""
    view = state.standings.get(condition_id)
    try:
        check_id = runbook.condition(condition_id).check
    except KeyError:
        return condition_marker(view)
    return condition_marker(view, state.checks.get(check_id))
