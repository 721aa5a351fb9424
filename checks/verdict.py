"""The verdict the commander sees, the one staleness rule for checks, and whether a condition is in force.

``judge`` is the one function behind the dashboard's header, ``check``'s exit
status and the report (``docs/semantics.md`` is the account as built):

- ROLLBACK / HALT: a condition with that action is firing, or went blind
  while firing (blindness is not recovery), or is recovering or fired and
  cleared with no decision logged since it fired: the verdict stays until a
  decision is logged.
- CANNOT VERIFY: a halt or rollback condition is blind (unknown, stale,
  error), or a condition the current step watches is, or a check gating the
  current step has no usable reading (never polled, no data, invalid, error,
  stale); or the log is not being written; or, in a follower, the writer
  stopped. Like Argo's Inconclusive, it blocks GO.
- AT RISK: a halt or rollback condition is pending (breached, ``for`` not yet
  elapsed) or recovering (once a decision answered its firing), each with its countdown; or flapping (many state
  changes in its last 21 polls), between its breaches too: a pass resets its
  hold, so the header would otherwise turn green at every pass.
- CONTINUE: everything else; ROLLING BACK takes its place while the rollback
  plan runs, so CONTINUE never shows then.

In rollback mode the rollback plan is judged: every halt condition, and the
conditions and gate of the rollback step being worked on. A rollback
condition firing then is not a call to roll back (that is under way): when
the current rollback step watches it, the rollback is not taking effect,
which is HALT; when it does not, it is why we are rolling back and no longer
moves the verdict.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from checks.reading import Outcome
from checks.status import BLIND_STATES, VERDICT_RANK, ConditionState, ConditionStatus, Verdict
from runbooks.model import Action, Check, Runbook, Step, StopCondition

#: A check's status for gates and markers: an ``Outcome`` value, or one of these.
STALE = "stale"
NEVER = "never"
PARTIAL = "partial"  # a pass on partial data (Prometheus warnings): it vouches for nothing
#: Check statuses a gate can rely on; every other one means "cannot tell".
USABLE_CHECK_STATUSES = frozenset({Outcome.PASS.value, Outcome.BREACH.value})
_STOPPING = (Action.HALT, Action.ROLLBACK)
# The states judged for every condition, as module names: an enum class's attribute is slower to look up.
_FIRING = ConditionState.FIRING
_OK = ConditionState.OK
_RECOVERING = ConditionState.RECOVERING
_STILL_FIRING = frozenset({ConditionState.FIRING, ConditionState.RECOVERING})
_COUNTING_DOWN = frozenset({ConditionState.PENDING, ConditionState.RECOVERING})


def is_active(condition: StopCondition, t0: datetime | None, now: datetime) -> bool:
    """Whether ``condition`` is in force at ``now``, given T0.

    Without an ``active`` window a condition is always in force. Without T0 the
    window cannot be placed, so the condition is watched: a forgotten T0 must
    not silently switch stop conditions off.
    """
    window = condition.active
    if window is None or t0 is None:
        return True
    offset = (now - t0).total_seconds()
    if window.start is not None and offset < window.start:
        return False
    return window.end is None or offset <= window.end


def check_stale_after(check: Check, *, slack: float = 0.0) -> float:
    """Seconds after its last reading a check is stale: two polls and a timeout (plus ``slack``).

    The one staleness rule. Live, ``slack`` is 0 (the poller knows every
    reading). From the log, ticks are stored on change and as keyframes, so
    ``slack`` is the keyframe interval: a reading that old may still be the
    latest value.
    """
    return 2 * check.every + check.timeout + slack


def check_status(
    check: Check,
    outcome: str | None,
    age: float | None,
    *,
    slack: float = 0.0,
    degraded: bool = False,
    sample_age: float | None = None,
) -> str:
    """A check's status now: ``never`` without a reading, ``stale`` past ``check_stale_after`` or once its
    sample (``sample_age`` old when read, ``age`` ago) is older than the check's ``max_age``, ``partial``
    for a pass on partial data, else its outcome."""
    if outcome is None or age is None:
        return NEVER
    if age > check_stale_after(check, slack=slack):
        return STALE
    if check.max_age is not None and sample_age is not None and sample_age + age > check.max_age:
        return STALE
    if degraded and outcome == Outcome.PASS.value:
        return PARTIAL
    return outcome


def counts_as_firing(status: Judged) -> bool:
    """Whether a condition's firing episode is still open (the banner asks for a decision).

    Recovering is still firing (Prometheus keeps an alert firing during
    ``keep_firing_for``), and a condition that went blind while firing stays
    firing: we must not stop asking for a decision because we stopped seeing.
    """
    if status.state in _STILL_FIRING:
        return True
    return status.state in BLIND_STATES and status.firing_since is not None


def _stops(status: Judged) -> bool:
    """Firing, or blind after firing: what makes the verdict HALT or ROLLBACK."""
    return status.state is _FIRING or (status.state in BLIND_STATES and status.firing_since is not None)


def gate_status(step: Step, check_statuses: Mapping[str, str | Outcome | None]) -> tuple[bool, list[str]]:
    """Whether every gate check of ``step`` passes, and the ids of those that do not (never polled blocks)."""
    blocking = [check_id for check_id in step.gate if _as_status(check_statuses.get(check_id)) != Outcome.PASS.value]
    return not blocking, blocking


class Judged(Protocol):
    """What the verdict reads of a condition's status: a ``ConditionStatus`` has it, so has a cheaper record."""

    @property
    def state(self) -> ConditionState: ...

    @property
    def firing_since(self) -> datetime | None: ...

    @property
    def remaining(self) -> float | None: ...

    @property
    def flapping(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class AtRisk:
    """A halt or rollback condition that is pending (``fires_in``), recovering (``clears_in``) or flapping."""

    condition: str
    state: ConditionState
    seconds: float | None  # to firing while pending; to clearing while recovering; None for one flapping while ok


@dataclass(frozen=True, slots=True)
class Judgement:
    """A verdict and why.

    Attributes:
        verdict: the rung of the ladder.
        reasons: one line per cause, worst first ("auth_errors firing", "gate api_health stale").
        at_risk: pending or recovering halt/rollback conditions, soonest first, then those flapping while ok.
        blind: ids of every condition in force that cannot be seen (unknown, stale, error),
            judged or not: the screen counts them all.
        blocking_gates: the current step's gate checks that do not pass.
    """

    verdict: Verdict
    reasons: tuple[str, ...] = ()
    at_risk: tuple[AtRisk, ...] = ()
    blind: tuple[str, ...] = ()
    blocking_gates: tuple[str, ...] = ()


def judge(
    runbook: Runbook,
    statuses: Mapping[str, Judged],
    current_step: Step | None,
    check_statuses: Mapping[str, str | Outcome | None],
    *,
    rollback_mode: bool = False,
    log_problem: str | None = None,
    failing_gates_halt: bool = False,
    cleared_firings: Mapping[str, tuple[datetime, datetime]] | None = None,
    unanswered: Collection[str] = (),
) -> Judgement:
    """The verdict for the commander, with its reasons.

    Args:
        runbook: gives each condition's action, and the rollback plan.
        statuses: every condition in force, by id; leave out conditions outside
            their ``active`` window (a missing id is inactive, not blind), but for
            a halt or rollback condition whose firing began in force and awaits a
            decision: a window that closes answers nothing.
        current_step: the step being worked on (in rollback mode: of the
            rollback plan), or None.
        check_statuses: each check's status (``check_status``): an outcome,
            ``stale`` or ``never``.
        rollback_mode: judge the rollback plan (ROLLING BACK replaces CONTINUE).
        log_problem: why the log is not being written, or why the writer of a
            followed session stopped; the verdict is then no better than CANNOT VERIFY.
        failing_gates_halt: a gate check that breaches is HALT (``check`` in a
            pipeline: a gate that fails stops the launch). The dashboard leaves
            it to the step: a gate may fail until its step's work is done.
        cleared_firings: halt and rollback conditions whose firing ended with no decision logged since it
            began, with when it fired and when it cleared: each holds the verdict as if still firing.
        unanswered: halt and rollback conditions whose firing episode no decision has answered yet: one
            recovering holds the verdict as if still firing, as its banner asks for a decision (answered, it
            is AT RISK until it clears).
    """
    actions = {condition.id: condition.action for condition in runbook.stop_conditions}  # one lookup each, not a scan
    judged = _judged_conditions(actions, statuses, current_step, rollback_mode)
    reasons: list[tuple[Verdict, str]] = []
    for condition_id, status in judged.items():
        action = actions[condition_id]
        # Recovering with no decision logged holds the rung; not a rollback condition the rollback plan watches
        # recover: that is the rollback taking effect.
        held = (
            status.state is _RECOVERING
            and condition_id in unanswered
            and not (rollback_mode and action is Action.ROLLBACK)
        )
        if (_stops(status) or held) and action in _STOPPING:
            if held:
                verb = "recovering after firing: no decision logged"
            else:
                verb = "firing" if status.state is _FIRING else f"{status.state.value} after firing"
            if action is Action.ROLLBACK and not rollback_mode:
                reasons.append((Verdict.ROLLBACK, f"{condition_id} {verb}"))
            elif action is Action.ROLLBACK:
                reasons.append((Verdict.HALT, f"{condition_id} {verb}: the rollback is not taking effect"))
            else:
                reasons.append((Verdict.HALT, f"{condition_id} {verb}"))
    for condition_id, (fired_at, cleared_at) in (cleared_firings or {}).items():
        cleared = judged.get(condition_id)
        if cleared is None or _stops(cleared) or actions[condition_id] not in _STOPPING:
            continue  # not judged now, or firing again (counted above)
        text = f"{condition_id} fired at {fired_at:%H:%M:%SZ}, cleared at {cleared_at:%H:%M:%SZ}: no decision logged"
        stops = Verdict.ROLLBACK if actions[condition_id] is Action.ROLLBACK and not rollback_mode else Verdict.HALT
        reasons.append((stops, text))
    blind = tuple(cid for cid, status in statuses.items() if status.state in BLIND_STATES)
    for condition_id in (cid for cid in blind if cid in judged):
        status = judged[condition_id]
        if status.firing_since is not None:
            continue  # already counted as firing
        stopping = actions[condition_id] in _STOPPING
        watched = current_step is not None and condition_id in current_step.watch
        if stopping or watched:
            reasons.append((Verdict.CANNOT_VERIFY, f"{condition_id} {status.state.value}"))
    blocking: list[str] = []
    if current_step is not None:
        _, blocking = gate_status(current_step, check_statuses)
        for check_id in blocking:
            shown = _as_status(check_statuses.get(check_id))
            if shown == Outcome.BREACH.value:
                if failing_gates_halt:
                    reasons.append((Verdict.HALT, f"gate {check_id} fails"))
            else:
                reasons.append((Verdict.CANNOT_VERIFY, f"gate {check_id} {shown}"))
    if log_problem:
        reasons.append((Verdict.CANNOT_VERIFY, log_problem))
    at_risk = sorted(
        (
            AtRisk(cid, status.state, status.remaining)
            for cid, status in judged.items()
            if (status.state in _COUNTING_DOWN or (status.flapping and status.state is _OK))
            and actions[cid] in _STOPPING
        ),
        key=lambda risk: (risk.seconds is None, risk.seconds or 0.0),
    )
    for risk in at_risk:
        reasons.append((Verdict.AT_RISK, f"{risk.condition} {'flapping' if risk.state is _OK else risk.state.value}"))
    calm = Verdict.ROLLING_BACK if rollback_mode else Verdict.CONTINUE
    verdict = max((v for v, _ in reasons), key=VERDICT_RANK.__getitem__, default=calm)
    ordered = tuple(text for _, text in sorted(reasons, key=lambda r: -VERDICT_RANK[r[0]]))
    return Judgement(verdict, ordered, tuple(at_risk), blind, tuple(blocking))


def compute_verdict(
    runbook: Runbook,
    statuses: Mapping[str, ConditionStatus],
    current_step: Step | None,
    check_statuses: Mapping[str, str | Outcome | None],
) -> Verdict:
    """``judge(...).verdict``, for callers that need only the rung."""
    return judge(runbook, statuses, current_step, check_statuses).verdict


def _judged_conditions(
    actions: Mapping[str, Action], statuses: Mapping[str, Judged], current_step: Step | None, rollback_mode: bool
) -> dict[str, Judged]:
    """The conditions that move the verdict: all in force; in rollback mode the current step's and every halt."""
    if not rollback_mode:
        return dict(statuses)
    watched = set(current_step.watch) if current_step is not None else set()
    return {cid: status for cid, status in statuses.items() if cid in watched or actions[cid] is not Action.ROLLBACK}


def _as_status(value: str | Outcome | None) -> str:
    if value is None:
        return NEVER
    return value.value if isinstance(value, Outcome) else str(value)
