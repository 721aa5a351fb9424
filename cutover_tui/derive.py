"""Facts derived once from the folded session, for every view (``docs/semantics.md``).

The reducer folds the log (and, live, the evaluators' truth) into raw step
and condition progress; this module turns that into what every screen,
``check``, ``status`` and the report show: condition text with current
numbers, the at-risk countdowns, the banners, the next step and the
projected end. Pure: no I/O, no clock, no Textual.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Protocol

from checks.status import ConditionState
from checks.verdict import AtRisk, Judgement
from checks.wording import format_value
from cutover_tui.labels import check_value_text, display_unit, threshold_shown, to_zone
from cutover_tui.state import (
    AtRiskView,
    BannerView,
    ConditionView,
    DecisionRecord,
    Mode,
    Projection,
    SessionState,
    StepState,
    StepStatus,
)
from runbooks.grammar import format_duration
from runbooks.model import Action, Runbook, StopCondition

_BREACHING = (ConditionState.PENDING, ConditionState.FIRING)
_PASSING = (ConditionState.OK, ConditionState.RECOVERING)


class ShownCondition(Protocol):
    """What a banner and a countdown read of a condition: a ``ConditionView`` has it (a state derives less for them)."""

    @property
    def value(self) -> float | None: ...
    @property
    def threshold(self) -> str: ...
    @property
    def value_text(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def breach_held(self) -> float: ...
    @property
    def acknowledged(self) -> bool: ...
    @property
    def since(self) -> datetime | None: ...
    @property
    def firing_since(self) -> datetime | None: ...
    @property
    def state(self) -> ConditionState: ...
    @property
    def remaining(self) -> float | None: ...


def seconds_text(seconds: float | None) -> str:
    """A duration in whole seconds elapsed (as the evaluator's reasons count it): ``80.9`` -> ``1m20s``; ``—`` when unknown."""
    if seconds is None:
        return "—"
    return format_duration(int(max(seconds, 0.0)))


def countdown_text(seconds: float | None) -> str:
    """``0:26`` / ``12:04`` / ``1:02:03``: what is left of a countdown."""
    if seconds is None:
        return "—"
    whole = int(max(0.0, seconds) + 0.999)  # a countdown shows 0:01 until it is really over
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def value_text(condition: StopCondition, runbook: Runbook, value: float | None, *, lower_bound: bool = False) -> str:
    """The value in the unit its threshold is written in (``labels.check_value_text``); ``≥ 1s`` for a lower bound.

    ``—`` without one. Shown with the digits that keep it on its side of the
    threshold (``1.004%`` against ``> 1%``); a condition without a threshold on
    an http check reads ``latency 0.11s``.
    """
    if value is None:
        return "—"
    if condition.when is None and condition.relative is None:
        check = runbook.checks.get(condition.check)
        return check_value_text(check, value, display_unit(condition, runbook), lower_bound=lower_bound)
    shown = format_value(value, display_unit(condition, runbook), near=condition.when.value if condition.when else None)
    return f"≥ {shown}" if lower_bound else shown


def blind_value_text(shown: str, read_at: datetime | None, zone: tzinfo | None) -> str:
    """A value a blind condition last saw, never as if current: ``0.2% at 16:30:10``, or ``last 0.2%`` when its time is unknown.

    A time of day, not an age: it does not change each second, so a card's value is not laid out again each second.
    """
    if read_at is None:
        return f"last {shown}"
    return f"{shown} at {to_zone(read_at, zone):%H:%M:%S}"


def current_detail(
    condition: StopCondition, state: ConditionState, shown: str, value: float | None, recorded: str
) -> str:
    """What the latest observation says, from the current value where the condition compares one.

    A condition with a threshold is described from the value shown now, so the
    text never keeps the value of an older state change; a blind state, or a
    condition without a threshold, keeps what was recorded ("HTTP 503").
    """
    when = condition.when
    if when is None and condition.relative is None and state is ConditionState.OK and recorded in ("", "pass"):
        return "up"  # the check passes by its own rule (an http check: its status and latency)
    if when is None or value is None or shown == "—":
        return recorded
    if state in _BREACHING:
        return f"{shown} {when.text}"
    if state in _PASSING:
        return f"{shown}, not {when.text}"
    return recorded


def at_risk_views(judgement: Judgement, conditions: Mapping[str, ConditionView]) -> tuple[AtRiskView, ...]:
    """The header's countdowns: ``auth_errors 4% > 1% — fires in 0:26``."""
    return tuple(at_risk_view(risk, conditions[risk.condition]) for risk in judgement.at_risk)


def at_risk_view(risk: AtRisk, view: ShownCondition) -> AtRiskView:
    """One countdown of the header: ``auth_errors 4% > 1% — fires in 0:26``; one flapping while it reads ok:
    ``auth_errors 0.4% ≤ 1% — flapping``."""
    observed = " ".join(part for part in (view.value_text, threshold_shown(view.threshold, risk.state)) if part)
    if risk.state is ConditionState.OK:
        text = f"{risk.condition} {observed} — flapping"
    else:
        verb = "fires in" if risk.state is ConditionState.PENDING else "clears in"
        text = f"{risk.condition} {observed} — {verb} {countdown_text(risk.seconds)}"
    return AtRiskView(risk.condition, risk.state, risk.seconds, text)


def observed_text(view: ShownCondition) -> str:
    """What a banner says was seen: the value, where a threshold judges it; for a condition that fires when its
    check fails, why it fails ("HTTP 503"): the answer's latency would read healthy."""
    return view.value_text if view.value is not None and view.threshold else view.detail


def hold_text(view: ShownCondition, wall_clock: Callable[[datetime], str]) -> str:
    """How long a firing has held: ``for 1m12s``; recovering (its hold is 0), since when it fires and when it
    clears: ``firing since 16:31:00Z, clears in 0:15``."""
    if view.state is ConditionState.RECOVERING and view.firing_since is not None:
        return f"firing since {wall_clock(view.firing_since)}, clears in {countdown_text(view.remaining)}"
    return f"for {seconds_text(view.breach_held)}"


def firing_banner(condition: StopCondition, view: ShownCondition, runbook: Runbook, now: datetime | None) -> BannerView:
    """The HALT/ROLLBACK banner for a firing episode no decision has answered."""
    observed = observed_text(view)
    if view.value is not None and view.threshold:
        observed += f" {threshold_shown(view.threshold, view.state)}"
    kind = condition.action.value
    held = hold_text(view, lambda at: f"{at:%H:%M:%SZ}")
    lead = ", " if held.startswith("firing since") else " "  # a recovering one's since and countdown follow a comma
    text = f"{kind.upper()} — {condition.id} {observed}{lead}{held}"
    if condition.decides:
        text += f" — decides: {runbook.roles.get(condition.decides, condition.decides)}"
    escalation = _escalation(condition, view.firing_since or view.since, view.acknowledged, runbook, now)
    # kind, text, condition, acknowledged, escalation (positional: a seek can make a hundred)
    return BannerView(kind, text, condition.id, view.acknowledged, escalation)


def cleared_banner(
    condition: StopCondition,
    view: ShownCondition,
    fired: tuple[datetime, datetime],
    acknowledged: bool,
    runbook: Runbook,
    now: datetime | None,
) -> BannerView:
    """The HALT/ROLLBACK banner for a firing (``fired``: when it began, when it cleared) that ended with no
    decision logged: it stays until one is."""
    kind = condition.action.value
    fired_at, cleared_at = fired
    lasted = seconds_text((cleared_at - fired_at).total_seconds())
    rule = f", threshold {view.threshold}" if view.threshold else ""
    text = (
        f"{kind.upper()} — {condition.id} fired at {fired_at:%H:%M:%SZ} for {lasted}, cleared at "
        f"{cleared_at:%H:%M:%SZ} (now {observed_text(view)}{rule}): no decision logged"
    )
    if condition.decides:
        text += f" — decides: {runbook.roles.get(condition.decides, condition.decides)}"
    escalation = _escalation(condition, fired_at, acknowledged, runbook, now)
    return BannerView(kind, text, condition.id, acknowledged, escalation, fired)


def _escalation(
    condition: StopCondition, started: datetime | None, acknowledged: bool, runbook: Runbook, now: datetime | None
) -> str | None:
    """Past its severity's ``respond_within`` with no acknowledgement: whom to escalate to."""
    if not runbook.escalation:
        return None
    level = next((e for e in runbook.escalation if e.severity == condition.severity), None)
    if level is None or level.respond_within is None or acknowledged or now is None or started is None:
        return None
    unanswered = (now - started).total_seconds()
    if unanswered <= level.respond_within:
        return None
    whom = runbook.roles.get(level.escalate_to or "", level.escalate_to or "the next level")
    return (
        f"no response for {seconds_text(unanswered)} ({level.severity}: respond within "
        f"{seconds_text(level.respond_within)}) — escalate to {whom}"
    )


def log_banner(problem: str, since: datetime | None, now: datetime | None) -> BannerView:
    """``LOG NOT WRITING: disk full — decisions cannot be recorded (for 42s)``."""
    text = f"LOG NOT WRITING: {problem} — decisions cannot be recorded"
    if since is not None and now is not None:
        text += f" (for {seconds_text((now - since).total_seconds())})"
    return BannerView(kind="log", text=text)


#: A writer's last heartbeat (its clock) and when the follower saw it last move (its own) differ by up to a
#: heartbeat and a read: more than this, and the clocks disagree.
CLOCKS_AGREE_SECONDS = 5.0


def writer_gone_at(stopped_at: datetime, now: datetime | None, silent_for: float | None) -> datetime:
    """When a followed writer went quiet, on this machine's clock: its last stamp (``stopped_at``, by its clock), or,
    when the two clocks disagree by more than the reads explain, ``now`` less the ``silent_for`` this machine timed
    since its heartbeat last moved."""
    if (
        now is not None
        and silent_for is not None
        and abs((now - stopped_at).total_seconds() - silent_for) > CLOCKS_AGREE_SECONDS
    ):
        return now - timedelta(seconds=silent_for)
    return stopped_at


def writer_banner(
    stopped_at: datetime,
    ended: str | None,
    now: datetime | None,
    when: str,
    holding: int | None = None,
    disk_full: bool = False,
    silent_for: float | None = None,
    writers_clock: bool = False,
) -> BannerView:
    """A followed session whose writer is gone, or runs but writes nothing: since when, and that the view is frozen.

    ``when`` is by the writer's clock. How long ago is ``silent_for`` (this machine's monotonic time since the
    heartbeat last moved) where known: when the two clocks disagree by more than the follower's reads can
    explain, "at 15:58:30Z by its clock, 2s ago" rather than "1h0m ago". ``writers_clock``: ``now`` is the writer's
    clock, which reads apart from this machine's: its times are said to be by its clock too.
    """
    ago = ""
    if now is not None:
        seconds = (now - stopped_at).total_seconds() if silent_for is None else silent_for
        if writers_clock or writer_gone_at(stopped_at, now, silent_for) is not stopped_at:
            when += " by its clock"
        ago = f", {seconds_text(seconds)} ago"
    if ended:
        text = f"SESSION ENDED ({ended}) at {when}{ago}: nothing is being watched; every condition is stale"
    elif holding is not None:
        why = "the log's disk has no space left" if disk_full else "disk full? hung? its polling stopped?"
        text = (
            f"WRITER NOT WRITING since {when}{ago}: its process (pid {holding}) still holds the log "
            f"but writes nothing ({why}); every condition is stale"
        )
    else:
        text = f"WRITER STOPPED at {when}{ago}: no session_ended was logged; every condition is stale"
    return BannerView(kind="writer", text=text)


def view_banner(behind_for: float, last_seen: datetime) -> BannerView:
    """A follower that has not read the log for a while: it, not the writer, is behind, and every condition is stale."""
    when = last_seen.strftime("%H:%M:%SZ")
    return BannerView(
        kind="writer",
        text=(
            f"VIEW NOT READING: this screen last read the log {seconds_text(behind_for)} ago (is this machine "
            f"overloaded?); the writer was last seen at {when}; every condition is stale"
        ),
    )


def polling_banner(stopped_at: datetime, now: datetime | None) -> BannerView:
    """The polling thread ended or stopped beating: nothing is being watched, and the screen says so."""
    ago = f", {seconds_text((now - stopped_at).total_seconds())} ago" if now is not None else ""
    when = stopped_at.strftime("%H:%M:%SZ")
    return BannerView(
        kind="polling", text=f"POLLING STOPPED at {when}{ago}: no check is being polled; every condition is stale"
    )


def runbook_banner(replaced_at: datetime) -> BannerView:
    """A followed session's writer changed its runbook: this view's verdict is not the writer's."""
    when = replaced_at.strftime("%H:%M:%SZ")
    return BannerView(
        kind="runbook",
        text=f"RUNBOOK CHANGED by the writer at {when}: this view judges the old one; open it again to judge the new",
    )


#: Decisions that stop the plan: each stands until a later decision, a ROLLBACK also until the rollback plan starts.
STOPPING_DECISIONS = ("hold", "no_go", "rollback")


def standing_decision(state: SessionState) -> DecisionRecord | None:
    """The last decision when it stops the plan and nothing has acted on it since, else None.

    The verdict judges the stop conditions, and any decision answers a firing: after a ROLLBACK decided with the
    rollback plan not started, or a HOLD, the conditions may all be ok and the verdict CONTINUE. The header then
    says the decision beside it (``dashboard_header.next_text``).
    """
    last = state.decisions[-1] if state.decisions else None
    if last is None or last.decision not in STOPPING_DECISIONS:
        return None
    if last.decision == "rollback" and state.mode is Mode.ROLLBACK:
        return None
    return last


def stopping_order(condition: StopCondition) -> int:
    """Banners: rollback before halt."""
    return 0 if condition.action is Action.ROLLBACK else 1


def plan_steps(steps: Sequence[StepState], mode: Mode) -> tuple[StepState, ...]:
    """The steps of the plan being run: the rollback plan in ROLLBACK mode, else the main plan."""
    rollback = mode is Mode.ROLLBACK
    return tuple(step for step in steps if step.rollback_plan == rollback)


def next_step(steps: Sequence[StepState], mode: Mode) -> StepState | None:
    """The first pending step of the plan being run."""
    return next((s for s in plan_steps(steps, mode) if s.status is StepStatus.PENDING), None)


def projected_end(steps: Sequence[StepState], mode: Mode, runbook: Runbook, now: datetime | None) -> Projection | None:
    """The end of the plan from the remaining steps' durations and where we are now.

    Active steps end at ``started + duration`` (or now, if overrunning); each
    pending step starts at the later of its planned start and the end of the
    one before it. This carries the current drift forward, and lets slack in
    the plan absorb it. None when nothing remains or without a ``now``.
    """
    plan = plan_steps(steps, mode)
    remaining = [s for s in plan if s.status in (StepStatus.PENDING, StepStatus.ACTIVE)]
    if not remaining or now is None:
        return None
    cursor = now
    for step in remaining:
        duration = timedelta(seconds=runbook.step(step.id).duration or 0.0)
        if step.status is StepStatus.ACTIVE:
            started = step.started_at or now
            cursor = max(cursor, started + duration)
        else:
            start = max(cursor, step.planned_start) if step.planned_start else cursor
            cursor = start + duration
    planned_ends = [end for s in plan if (end := s.planned_end or s.planned_start)]
    return Projection(end=cursor, planned_end=max(planned_ends) if planned_ends else None)
