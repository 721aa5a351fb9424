"""Which step broke it: every breach, firing and Alertmanager alert beside the step that preceded it.

For each moment something went wrong (a stop condition started breaching or
fired; an alert started, by Alertmanager's ``startsAt``), name the steps
running then and the last step started at or before it, with the lag:
"firing 2m10s after 'Production deploy' started". The report and replay
list them; the decision dialog shows the same for the firing it answers.

Pure: events and stored readings in, facts out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cutover_tui.store import EventRecord, TickRecord, parse_ts
from runbooks.grammar import format_duration
from runbooks.model import Runbook

_ENDS = ("step_completed", "step_failed", "step_skipped")


@dataclass(frozen=True, slots=True)
class StepRun:
    """A step as it ran: when it started and, once over, when it ended."""

    id: str
    title: str
    started_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StepContext:
    """The steps around a moment: those running, and the last one started at or before it."""

    at: datetime
    running: tuple[StepRun, ...]
    last_started: StepRun | None

    def lag(self) -> float | None:
        """Seconds from the last step's start to the moment."""
        return None if self.last_started is None else (self.at - self.last_started.started_at).total_seconds()

    def text(self, what: str) -> str:
        """``firing 2m10s after 'Production deploy' started (running: Production deploy)``."""
        if self.last_started is None:
            return f"{what} before any step started"
        lag = format_duration(round(max(self.lag() or 0.0, 0.0)))
        text = f"{what} {lag} after '{self.last_started.title}' started"
        others = [run.title for run in self.running if run.id != self.last_started.id]
        if self.last_started not in self.running:
            ended = self.last_started.ended_at
            text += (
                " (it had ended"
                + (f" {format_duration(round((self.at - ended).total_seconds()))} before" if ended else "")
                + ")"
            )
        if others:
            text += f"; also running: {', '.join(repr(t) for t in others)}"
        return text


@dataclass(frozen=True, slots=True)
class Correlation:
    """Something that went wrong, when, and the steps around it.

    Attributes:
        kind: ``breach`` (a stop condition began breaching), ``firing`` or ``alert``.
        subject: the condition id, or the alert's name.
        at: when (an alert: its ``startsAt``).
        context: the steps around it.
        detail: what was seen ("4.1% > 1%", the alert's severity and summary).
        seq: the event that recorded it (conditions), or None (alerts).
    """

    kind: str
    subject: str
    at: datetime
    context: StepContext
    detail: str = ""
    seq: int | None = None

    def text(self) -> str:
        what = {
            "breach": f"{self.subject} began breaching",
            "firing": f"{self.subject} fired",
            "alert": f"alert {self.subject} started",
        }.get(self.kind, self.subject)
        return self.context.text(what)


class StepTimeline:
    """Steps' starts and ends from the events, to place any moment among them."""

    def __init__(self, runbook: Runbook, events: Iterable[EventRecord]) -> None:
        self._runs: list[StepRun] = []
        open_runs: dict[str, int] = {}
        for event in events:
            step_id = str(event.payload.get("step", "")) if isinstance(event.payload, Mapping) else ""
            if event.kind == "step_started" and step_id:
                open_runs[step_id] = len(self._runs)
                self._runs.append(StepRun(step_id, _title(runbook, step_id), event.ts))
            elif event.kind in _ENDS and step_id:
                index = open_runs.pop(step_id, None)
                if index is not None:
                    run = self._runs[index]
                    self._runs[index] = StepRun(run.id, run.title, run.started_at, event.ts)

    @property
    def runs(self) -> Sequence[StepRun]:
        return tuple(self._runs)

    def at(self, moment: datetime) -> StepContext:
        started = [run for run in self._runs if run.started_at <= moment]
        running = tuple(run for run in started if run.ended_at is None or run.ended_at > moment)
        return StepContext(moment, running, started[-1] if started else None)


def _title(runbook: Runbook, step_id: str) -> str:
    try:
        return runbook.step(step_id).title
    except KeyError:
        return step_id


def correlate(runbook: Runbook, events: Sequence[EventRecord], ticks: Iterable[TickRecord] = ()) -> list[Correlation]:
    """Every breach, firing and alert start, in time order, with the steps around it.

    Args:
        events: the session's events in order.
        ticks: stored readings of the alerts checks (others are ignored): each
            alert is named once, at its ``startsAt``.
    """
    timeline = StepTimeline(runbook, events)
    found: list[Correlation] = []
    episodes: dict[str, Any] = {}
    for event in events:
        if event.kind != "condition_changed":
            continue
        p = event.payload
        condition_id = str(p.get("condition", ""))
        state, previous = p.get("state"), p.get("previous")
        detail = str(p.get("detail") or p.get("reason") or "")
        if state == "pending" and previous not in ("pending", "firing", "recovering") and _fresh_breach(p):
            found.append(Correlation("breach", condition_id, event.ts, timeline.at(event.ts), detail, event.seq))
        if state == "firing":
            episode = p.get("firing_since") or event.ts
            if episodes.get(condition_id) != episode:
                episodes[condition_id] = episode
                if previous not in ("pending", "firing", "recovering"):  # fired on its first breach
                    found.append(
                        Correlation("breach", condition_id, event.ts, timeline.at(event.ts), detail, event.seq)
                    )
                found.append(Correlation("firing", condition_id, event.ts, timeline.at(event.ts), detail, event.seq))
        elif state == "ok":
            episodes.pop(condition_id, None)
    found += alert_correlations(runbook, timeline, ticks)
    return sorted(found, key=lambda c: (c.at, c.seq or 0))


def _fresh_breach(payload: Mapping[str, Any]) -> bool:
    """A breach that starts a hold, not one resuming a hold frozen by a blind poll (error, no data)."""
    consecutive = payload.get("consecutive_breaches")
    return not isinstance(consecutive, int) or consecutive <= 1


def alert_correlations(runbook: Runbook, timeline: StepTimeline, ticks: Iterable[TickRecord]) -> list[Correlation]:
    """Each distinct active alert seen by an alerts check, at its ``startsAt``."""
    alert_checks = {cid for cid, check in runbook.checks.items() if check.kind == "alerts"}
    seen: set[tuple[str, str]] = set()
    found = []
    for tick in ticks:
        if tick.check_id not in alert_checks:
            continue
        for alert in tick.extra.get("active") or ():
            if not isinstance(alert, Mapping) or not alert.get("starts_at"):
                continue
            labels = alert.get("labels") if isinstance(alert.get("labels"), Mapping) else {}
            key = (str(sorted((labels or {}).items()) or alert.get("name")), str(alert["starts_at"]))
            if key in seen:
                continue
            seen.add(key)
            try:
                started = parse_ts(str(alert["starts_at"]))
            except ValueError:
                continue
            severity = f" ({alert['severity']})" if alert.get("severity") else ""
            summary = f": {alert['summary']}" if alert.get("summary") else ""
            found.append(
                Correlation(
                    "alert",
                    str(alert.get("name") or "?"),
                    started,
                    timeline.at(started),
                    f"{severity}{summary}".strip(),
                )
            )
    return found


def context_in_state(steps: Iterable[Any], at: datetime) -> StepContext:
    """The steps around ``at`` from a ``SessionState``'s steps (each step's latest run), for the decision dialog."""
    runs = sorted(
        (StepRun(s.id, s.title, s.started_at, s.ended_at) for s in steps if s.started_at is not None),
        key=lambda run: run.started_at,
    )
    started = [run for run in runs if run.started_at <= at]
    running = tuple(run for run in started if run.ended_at is None or run.ended_at > at)
    return StepContext(at, running, started[-1] if started else None)


def answered_firings(state: Any) -> list[str]:
    """For each firing banner: which step preceded the firing ("auth_errors fired 1m40s after 'Production deploy' started")."""
    lines = []
    for banner in state.banners:
        view = state.conditions.get(banner.condition) if banner.condition else None
        if view is None:
            continue
        at = view.firing_since or view.since
        if at is not None:
            lines.append(context_in_state(state.steps, at).text(f"{banner.condition} fired"))
    return lines
