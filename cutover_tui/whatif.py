"""What if? The recorded readings re-evaluated with changed stop conditions, through the same evaluator.

``cutover-tui replay FILE --what-if 'auth_errors: > 2% for 2m'`` and
``report --what-if ...`` feed a session's stored readings to a fresh
``checks.conditions.ConditionEvaluator`` built from the changed condition (on
a hand-moved clock), and say when it would have pended, fired and recovered,
beside what the log says happened and the decisions taken.

Stored ticks are kept on change and as keyframes (``docs/session-log.md``),
not at every poll. The polls between two stored ticks are rebuilt from the
retention's own guarantee: the check was polled at its interval, from the
tick's due instant (its time less its latency), and every reading until the
next stored tick had the same outcome and a value within the retention's
tolerance of the stored one. So:

- with the runbook's own condition, every state change is reproduced at the
  reading where it happened (a change is news, and was stored); the report
  says whether the re-evaluation matches the log;
- with a changed threshold, a crossing is placed exactly unless the value
  came within the tolerance (2% of the value, or of the smallest threshold)
  of the new threshold between two stored ticks;
- every reading inside a baseline window was stored, so baselines are exact;
  Prometheus samples the session fetched are in the log too
  (``baseline_fetched``); a what-if that moves the window outside what was
  stored sees the held values there;
- where no tick was stored for a keyframe plus two polls, the check was not
  polled (the dashboard was down): nothing is invented, the condition goes
  stale there as it did live;
- a hold rebuilt from the ticks' times is as long as the live one give or
  take how late each poll started (``rebuilt_slack``), which the log does not
  keep: a hold that falls short by less than that is met.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from checks.baseline import BaselineSample
from checks.clock import ManualClock
from checks.conditions import ConditionEvaluator
from checks.reading import Outcome, Reading
from checks.status import ConditionState
from cutover_tui.baselines import FETCHED_EVENT_KIND, samples_from_fetched
from cutover_tui.labels import DECISION_LABELS
from cutover_tui.state import LogLine, SessionState
from cutover_tui.store import EventRecord, RetentionPolicy, SessionLog, TickRecord, parse_ts
from runbooks.grammar import counted, format_duration, format_offset
from runbooks.model import Check, Runbook, StopCondition
from runbooks.what_if import WhatIf, parse_what_if

_KEYFRAME = RetentionPolicy().keyframe_seconds
#: Seconds a rebuilt hold may fall short and still be met, at most (``rebuilt_slack``).
REBUILT_SLACK = 0.25


@dataclass(frozen=True, slots=True)
class Transition:
    """A stop condition entering ``state`` at ``at`` (the time of the reading that moved it)."""

    at: datetime
    condition: str
    state: ConditionState
    previous: ConditionState
    detail: str
    value: float | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    seq: int
    at: datetime
    decision: str
    actor: str


@dataclass(frozen=True, slots=True)
class WhatIfResult:
    """One ``--what-if``: the changed condition's transitions beside what happened.

    Attributes:
        spec: the ``--what-if`` as given.
        condition: the changed condition.
        original: the runbook's own.
        transitions: when it would have changed state, with the change.
        replayed: the runbook's own condition re-evaluated on the same readings
            (how faithful the rebuilt readings are: it should match ``happened``).
        happened: the condition's changes as the log recorded them.
        decisions: every decision logged.
        t0: T0 as last set, for offsets.
        readings: stored readings of the check fed in; ``rebuilt``: polls rebuilt between them.
    """

    spec: WhatIf
    condition: StopCondition
    original: StopCondition
    transitions: tuple[Transition, ...]
    replayed: tuple[Transition, ...]
    happened: tuple[Transition, ...]
    decisions: tuple[Decision, ...]
    t0: datetime | None
    readings: int
    rebuilt: int

    def first(self, state: ConditionState, source: str = "transitions") -> Transition | None:
        return next((t for t in getattr(self, source) if t.state is state), None)

    def when(self, moment: datetime | None) -> str:
        """``T+4m10s`` (or a UTC time without T0)."""
        if moment is None:
            return "—"
        if self.t0 is None:
            return f"{moment.astimezone(timezone.utc):%H:%M:%S}Z"
        return format_offset(round((moment - self.t0).total_seconds()))

    def summary(self) -> str:
        """``with > 2% for 2m, auth_errors would have fired at T+4m10s (1m40s later); the ROLLBACK decision came at T+3m30s``."""
        cid = self.spec.condition
        would = self.first(ConditionState.FIRING)
        did = self.first(ConditionState.FIRING, "happened")
        text = f"with {self.spec.described}, {cid} "
        if would is not None:
            text += f"would have fired at {self.when(would.at)}"
            if did is not None:
                delta = (would.at - did.at).total_seconds()
                if abs(delta) < 0.5:
                    text += " (when it did)"
                else:
                    text += f" ({format_duration(round(abs(delta)))} {'later' if delta > 0 else 'earlier'})"
            else:
                text += " (it never fired)"
        else:
            text += "would not have fired" + (f" (it fired at {self.when(did.at)})" if did is not None else "")
        anchor = did or would
        decision = next((d for d in self.decisions if anchor is not None and d.at >= anchor.at), None)
        if decision is not None:
            label = DECISION_LABELS.get(decision.decision, decision.decision.upper())
            text += f"; the {label} decision came at {self.when(decision.at)}"
        elif anchor is not None:
            text += "; no decision was logged after it"
        return text

    def timeline(self) -> list[str]:
        """When it would have pended, fired, recovered and cleared: ``T+2m2s pending: 4% > 2% for 0s of 2m``.

        Blind spells (an error, no data) that froze a hold and let it go on are
        counted, not listed: they change neither when it pends nor when it fires.
        """
        lines: list[tuple[str, ConditionState]] = []
        blind = 0
        breaching = False
        for t in self.transitions:
            state = t.state
            if state in (ConditionState.UNKNOWN, ConditionState.STALE, ConditionState.ERROR):
                blind += 1
                continue
            if state is ConditionState.PENDING and breaching:
                continue  # the same hold going on after a blind poll
            if lines and lines[-1][1] is state:
                continue  # the same state again after a blind poll (firing, still firing)
            if (
                state is ConditionState.OK
                and t.previous in (ConditionState.UNKNOWN, ConditionState.STALE, ConditionState.ERROR)
                and not breaching
                and lines
            ):
                continue  # back to ok after a blind poll: nothing new
            breaching = state in (ConditionState.PENDING, ConditionState.FIRING, ConditionState.RECOVERING)
            lines.append((f"{self.when(t.at)} {state.value}: {t.detail}", state))
        texts = [text for text, _ in lines]
        if blind:
            texts.append(f"({counted(blind, 'blind spell')} — errors, no data — not listed: a hold waits through them)")
        return texts

    def differences(self) -> tuple[list[Transition], list[Transition]]:
        """Changes the log holds that the re-evaluation with the runbook's own condition lacks, and the reverse.

        Two changes match when they enter the same state within 1.5 s (a
        staleness tick runs once a second).
        """
        unmatched_log, unmatched_replay = list(self.happened), []
        for transition in self.replayed:
            twin = next((t for t in unmatched_log if t.state is transition.state
                         and abs((t.at - transition.at).total_seconds()) <= 1.5), None)  # fmt: skip
            if twin is None:
                unmatched_replay.append(transition)
            else:
                unmatched_log.remove(twin)
        return unmatched_log, unmatched_replay

    def faithful(self) -> str:
        """Whether the re-evaluated readings reproduce the log with the runbook's own condition, and where not."""
        missing, extra = self.differences()
        own = f"({self.condition_text(original=True)})"
        if not missing and not extra:
            return (
                f"Re-evaluated with the runbook's own condition {own}, the {self.readings} stored readings "
                f"({counted(self.rebuilt, 'poll')} rebuilt between them) reproduce the log's "
                f"{counted(len(self.happened), 'change')} of {self.spec.condition}."
            )
        named = "; ".join(
            [f"the log has {t.state.value} at {self.when(t.at)}" for t in missing[:3]]
            + [f"the re-evaluation has {t.state.value} at {self.when(t.at)}" for t in extra[:3]]
        )
        return (
            f"Re-evaluated with the runbook's own condition {own}, the stored readings reproduce "
            f"{len(self.happened) - len(missing)} of the log's {counted(len(self.happened), 'change')} of "
            f"{self.spec.condition} ({named}): polls between stored ticks are rebuilt at the check's interval within the log's tolerance, "
            "so read this what-if with that in mind."
        )

    def condition_text(self, *, original: bool = False) -> str:
        condition = self.original if original else self.condition
        return f"{condition.threshold_text or 'check breach'} for {format_duration(condition.for_)}"


# ----------------------------------------------------------------- rebuilding polls


def rebuild_polls(
    check: Check,
    ticks: Iterable[TickRecord],
    until: datetime | None = None,
    silent: Sequence[tuple[datetime, datetime]] = (),
) -> Iterator[tuple[Reading, float, bool]]:
    """The polls behind a check's stored ticks, in time order: ``(reading, due, stored)``.

    Each stored tick is its own poll, due at its time less its latency. After
    it, the check was polled every ``every`` seconds with a reading the
    retention did not keep: the same outcome, a value within tolerance; a copy
    is made at each of those instants until the next stored tick, but no
    further than a keyframe and two polls (beyond that nothing was polled),
    and after the last tick no further than ``until`` (the session's end).
    ``silent`` spans are where the log says no reading came (its conditions
    went stale): no copy is made inside them.
    """
    every = check.every
    limit = _KEYFRAME + 2 * every

    def held(tick: TickRecord, stop_before: datetime) -> Iterator[tuple[Reading, float, bool]]:
        spans = [(start, end) for start, end in silent if start < stop_before and end > tick.ts]  # the few that matter
        for copy in _held(check, tick, stop_before, every, limit):
            if not spans or not any(start < copy[0].observed_at < end for start, end in spans):
                yield copy

    previous: TickRecord | None = None
    for tick in ticks:
        if previous is not None:
            yield from held(previous, tick.ts - timedelta(seconds=every / 2))
        yield _reading(check, tick, tick.ts), _due(tick, tick.ts), True
        previous = tick
    if previous is not None and until is not None:
        yield from held(previous, until + timedelta(milliseconds=1))


def _held(
    check: Check, tick: TickRecord, stop_before: datetime, every: float, limit: float
) -> Iterator[tuple[Reading, float, bool]]:
    """Copies of ``tick`` every ``every`` after it, before ``stop_before`` and within ``limit`` seconds."""
    k = 1
    while True:
        offset = k * every
        if offset > limit:
            return
        moment = tick.ts + timedelta(seconds=offset)
        if moment >= stop_before:
            return
        yield _reading(check, tick, moment), _due(tick, moment), False
        k += 1


def rebuilt_slack(check: Check) -> float:
    """Seconds a rebuilt hold may fall short of ``for`` or ``keep_firing_for`` and still be met.

    A poll starts some time after it was due (the polling thread's scheduling delay: tens of milliseconds on a
    loaded machine, a little different for each poll), and the log keeps when it answered and how long its request
    took, not that delay. So two rebuilt due instants are apart by what the live ones were, give or take the
    difference of two delays: a 1-minute hold held 59.997 s rebuilt. A quarter of a second (a quarter of the
    interval for a faster check) covers it, and moves no firing to an earlier poll unless ``for`` exceeds a
    multiple of the interval by less than that.
    """
    return min(REBUILT_SLACK, check.every / 4)


def _due(tick: TickRecord, moment: datetime) -> float:
    """The wall instant the poll was due, as a POSIX time (its time less its latency)."""
    return moment.timestamp() - (tick.latency or 0.0)


def _reading(check: Check, tick: TickRecord, moment: datetime) -> Reading:
    try:
        outcome = Outcome(tick.outcome)
    except ValueError:
        outcome = Outcome.ERROR
    return Reading(
        check_id=check.id,
        outcome=outcome,
        value=tick.value,
        unit=tick.unit or check.unit,
        latency=tick.latency or 0.0,
        observed_at=moment,
        monotonic=0.0,
        detail=tick.detail,
        degraded=tick.degraded,
        extra=tick.extra,
    )


# ----------------------------------------------------------------- evaluating


def evaluate(
    condition: StopCondition,
    check: Check,
    ticks: Sequence[TickRecord],
    *,
    t0_changes: Sequence[tuple[datetime, datetime | None]] = (),
    fetched: Sequence[BaselineSample] = (),
    until: datetime | None = None,
    silent: Sequence[tuple[datetime, datetime]] = (),
) -> tuple[list[Transition], int]:
    """``condition``'s transitions over ``ticks`` (one check's stored readings, in time order), and the polls rebuilt.

    Args:
        t0_changes: ``(from, t0)`` in time order: T0 as it was from each instant on.
        fetched: baseline samples the session read from Prometheus.
        until: the end of the session (a check silent before it goes stale there).
        silent: spans where the log says no reading came (``silent_spans``).
    """
    if not ticks:
        return [], 0
    origin = min(ticks[0].ts, *(at for at, _ in t0_changes)) if t0_changes else ticks[0].ts
    origin = origin - timedelta(seconds=1)
    clock = ManualClock(origin, monotonic_start=0.0)
    origin_seconds = origin.timestamp()
    evaluator = ConditionEvaluator(condition, check, clock, slack=rebuilt_slack(check))
    if evaluator.baseline_tracker is not None and fetched:
        evaluator.baseline_tracker.seed(fetched)
    pending_t0 = list(t0_changes)
    stale_after = 2 * check.every + check.timeout
    transitions: list[Transition] = []
    state = evaluator.status.state
    last_at: datetime | None = None
    rebuilt = 0

    def move_to(moment: datetime) -> None:
        step = (moment - clock.now()).total_seconds()
        if step > 0:
            clock.advance(step)
        while pending_t0 and pending_t0[0][0] <= moment:
            evaluator.set_t0(pending_t0.pop(0)[1])

    def record(at: datetime, status: Any) -> None:
        nonlocal state
        if status.state is not state:
            transitions.append(Transition(at, condition.id, status.state, state, status.reason, status.value))
            state = status.state

    for reading, due, stored in rebuild_polls(check, ticks, until, silent):
        if last_at is not None and (reading.observed_at - last_at).total_seconds() > stale_after:
            stale_at = last_at + timedelta(seconds=stale_after + 0.001)
            move_to(stale_at)
            record(stale_at, evaluator.tick())
        move_to(reading.observed_at)
        due_mono = due - origin_seconds
        status = evaluator.observe(reading, due=min(due_mono, clock.monotonic()))
        record(reading.observed_at, status)
        rebuilt += not stored
        last_at = reading.observed_at
    if until is not None and last_at is not None and (until - last_at).total_seconds() > stale_after:
        stale_at = last_at + timedelta(seconds=stale_after + 0.001)
        move_to(stale_at)
        record(stale_at, evaluator.tick())
    return transitions, rebuilt


def t0_timeline(runbook: Runbook, events: Iterable[EventRecord]) -> list[tuple[datetime, datetime | None]]:
    """T0 as the session knew it from each instant: the runbook's, ``session_started``'s, each ``t0_set``."""
    timeline: list[tuple[datetime, datetime | None]] = []
    for event in events:
        if event.kind == "session_started":
            planned = event.payload.get("planned_t0")
            timeline.append((event.ts, parse_ts(planned) if planned else runbook.t0))
        elif event.kind == "t0_set" and event.payload.get("t0"):
            timeline.append((event.ts, parse_ts(str(event.payload["t0"]))))
    if not timeline and runbook.t0 is not None:
        timeline.append((datetime.min.replace(tzinfo=timezone.utc), runbook.t0))
    return timeline


def silent_spans(runbook: Runbook, check_id: str, events: Iterable[EventRecord]) -> list[tuple[datetime, datetime]]:
    """Where the log says the check gave no reading: a condition on it went stale ("no reading for 6s").

    Each span runs from the last moment a reading could have come (the stale
    change less ``2 × every + timeout``) to the condition's next change (the
    reading that ended it), or the end.
    """
    check = runbook.checks[check_id]
    stale_after = 2 * check.every + check.timeout
    on_check = {c.id for c in runbook.stop_conditions if c.check == check_id}
    spans: list[tuple[datetime, datetime]] = []
    open_at: dict[str, datetime] = {}
    for event in events:
        if event.kind != "condition_changed" or event.payload.get("condition") not in on_check:
            continue
        condition_id = str(event.payload["condition"])
        if condition_id in open_at:
            spans.append((open_at.pop(condition_id), event.ts))
        if event.payload.get("state") == "stale" and "no reading" in str(
            event.payload.get("detail") or event.payload.get("reason") or ""
        ):
            open_at[condition_id] = event.ts - timedelta(seconds=stale_after)
    spans += [(start, datetime.max.replace(tzinfo=timezone.utc)) for start in open_at.values()]
    return spans


def kept_spans(
    runbook: Runbook, check_id: str, timeline: Sequence[tuple[datetime, datetime | None]], events: Sequence[EventRecord]
) -> list[tuple[datetime, datetime]]:
    """Where the log kept every reading of the check: its baseline windows, and before T0 was known (``cutover_tui.baselines``)."""
    from cutover_tui.baselines import windows

    if not any(
        c.check == check_id and c.baseline is not None and c.relative is not None for c in runbook.stop_conditions
    ):
        return []
    spans: list[tuple[datetime, datetime]] = []
    known = next((at for at, t0 in timeline if t0 is not None), None)
    start = events[0].ts if events else None
    if start is not None and (known is None or known > start):
        spans.append((start - timedelta(seconds=1), known or datetime.max.replace(tzinfo=timezone.utc)))
    for _, t0 in timeline:
        spans += windows(runbook, t0).get(check_id, []) if t0 is not None else []
    return spans


def happened(condition_id: str, events: Iterable[EventRecord]) -> list[Transition]:
    """The condition's changes as the log recorded them."""
    found = []
    for event in events:
        if event.kind != "condition_changed" or event.payload.get("condition") != condition_id:
            continue
        p = event.payload
        if p.get("state") == p.get("previous"):
            continue  # a change of cause within one state ("not yet polled" -> "baseline not established")
        found.append(
            Transition(
                event.ts,
                condition_id,
                _state(p.get("state")),
                _state(p.get("previous")),
                str(p.get("reason") or ""),
                p.get("value") if isinstance(p.get("value"), (int, float)) else None,
            )
        )
    return found


def _state(value: Any) -> ConditionState:
    try:
        return ConditionState(value)
    except ValueError:
        return ConditionState.UNKNOWN


def what_if(
    path: str | os.PathLike[str], specs: Sequence[WhatIf | str], runbook: Runbook | None = None
) -> list[WhatIfResult]:
    """Re-evaluate a session log's readings with each changed condition.

    Raises:
        ValueError: a spec does not parse, or names no condition of the runbook.
    """
    parsed = [parse_what_if(s) if isinstance(s, str) else s for s in specs]
    log = SessionLog.open_readonly(path)
    try:
        runbook = runbook or log.stored_runbook()
        changed = [(spec, spec.apply(runbook)) for spec in parsed]  # every spec checked before any work
        events = log.events()
        timeline = t0_timeline(runbook, events)
        end = max(events[-1].ts, log.last_write_ts or events[-1].ts) if events else None
        decisions = tuple(
            Decision(e.seq, e.ts, str(e.payload.get("decision", "")), e.actor) for e in events if e.kind == "decision"
        )
        t0 = timeline[-1][1] if timeline else runbook.t0
        results: list[WhatIfResult] = []
        ticks_by_check: dict[str, list[TickRecord]] = {}
        for spec, condition in changed:
            check = runbook.checks[condition.check]
            ticks = ticks_by_check.setdefault(check.id, list(log.ticks(check=check.id)))
            fetched = [
                s for e in events if e.kind == FETCHED_EVENT_KIND and e.payload.get("check") == check.id
                for s in samples_from_fetched(e.payload)
            ]  # fmt: skip
            original = runbook.condition(spec.condition)
            # No poll is invented where the log says none came, nor where it kept every reading.
            silent = silent_spans(runbook, check.id, events) + kept_spans(runbook, check.id, timeline, events)
            transitions, rebuilt = evaluate(
                condition, check, ticks, t0_changes=timeline, fetched=fetched, until=end, silent=silent
            )
            replayed, _ = evaluate(
                original, check, ticks, t0_changes=timeline, fetched=fetched, until=end, silent=silent
            )
            results.append(WhatIfResult(
                spec, condition, original, tuple(transitions), tuple(replayed), tuple(happened(original.id, events)),
                decisions, t0, len(ticks), rebuilt,
            ))  # fmt: skip
        return results
    finally:
        log.close()


# ----------------------------------------------------------------- replay


def log_lines(results: Sequence[WhatIfResult]) -> list[LogLine]:
    """The what-if transitions as lines for the replay's log pane (negative seqs: they are not events)."""
    lines = []
    for result in results:
        for transition in result.transitions:
            text = f"what if {result.spec.described}: {transition.condition} {transition.state.value} ({transition.detail})"
            lines.append(LogLine(0, transition.at, "what if", "what_if", text))
    lines.sort(key=lambda line: line.ts)
    return [dataclasses.replace(line, seq=-(index + 1)) for index, line in enumerate(lines)]


def with_what_if(state: SessionState, lines: Sequence[LogLine]) -> SessionState:
    """``state`` with the what-if lines up to its instant merged into its log, in time order."""
    now = state.now
    shown = [line for line in lines if now is None or line.ts <= now]
    if not shown:
        return state
    merged = sorted((*state.log, *shown), key=lambda line: (line.ts, line.seq < 0))
    return dataclasses.replace(state, log=tuple(merged))


def marks(results: Sequence[WhatIfResult]) -> list[tuple[datetime, str]]:
    """Where the what-if conditions would have fired and recovered, for the replay's timeline bar."""
    found = []
    for result in results:
        for transition in result.transitions:
            if transition.state in (ConditionState.FIRING, ConditionState.OK, ConditionState.PENDING):
                found.append((transition.at, f"what_if_{transition.state.value}"))
    return found


def make_replay_backend(path: str | Path, runbook: Runbook, results: Sequence[WhatIfResult]) -> Any:
    """A ``ReplayBackend`` whose log pane and timeline also show the what-if transitions."""
    from cutover_tui.replay import ReplayBackend

    class WhatIfReplayBackend(ReplayBackend):
        def __init__(self) -> None:
            self._what_if_lines = log_lines(results)
            self._what_if_marks = marks(results)
            super().__init__(path, runbook)

        @property
        def view_label(self) -> str:
            return f"{super().view_label} · WHAT IF {'; '.join(r.spec.described for r in results)}"

        def seek(self, instant: datetime) -> SessionState:
            state = with_what_if(super().seek(instant), self._what_if_lines)
            self._state = state
            return state

        def marks(self) -> list[tuple[datetime, str]]:
            return sorted([*super().marks(), *self._what_if_marks], key=lambda mark: mark[0])

    return WhatIfReplayBackend()
