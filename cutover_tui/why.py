"""Why is it red? One answer for the ``w`` panel and the report.

For a stop condition: what it reads (the check's query or URL and its
source), its last readings with their times, outcomes and latency, how far
its ``for`` has got, the last error in full, the baseline and how it was
computed, and a Prometheus graph link to open elsewhere. The readings named
by the condition's last change (``condition_changed.ticks``) are marked, so
the panel, the banner and the report point at the same rows of ``ticks``.

Live, the readings are the last raw polls (``cutover_tui.causes.RecentReadings``);
from a log (follow, replay, the report) they are the stored ones, kept on
change and every two minutes, which the panel says.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from checks.wording import format_value
from cutover_tui.derive import countdown_text, seconds_text
from cutover_tui.labels import display_unit
from cutover_tui.state import ConditionView
from cutover_tui.store import RetentionPolicy, TickRecord
from runbooks.grammar import counted, format_duration
from runbooks.model import (
    AlertsSpec,
    Check,
    CommandSpec,
    HttpSpec,
    PlaceholderSpec,
    PromqlSpec,
    Runbook,
    ScrapeSpec,
    StopCondition,
)

#: Readings listed.
READINGS_SHOWN = 20


@dataclass(frozen=True, slots=True)
class ReadingLine:
    """One reading as the panel lists it."""

    at: datetime
    outcome: str
    value: str
    latency_ms: float | None
    detail: str
    tick: int | None = None
    named: bool = False  # named by the condition's last change


@dataclass(frozen=True, slots=True)
class Why:
    """Everything the commander asks about one condition, in one place.

    Attributes:
        condition, title: which condition.
        state, reason: its state and why, as the card says.
        reads: what the check asks, and of whom ("promql on prometheus (http://...): <query>").
        readings: the last readings, oldest first; ``readings_note`` says which readings they are.
        hold: how far ``for`` has got ("breach held 40s of 1m — fires in 0:20").
        last_error: the last failed poll's time and detail, in full; None when none failed.
        baseline: the baseline and how it was computed; None for a condition without one.
        judged: the last judgement against it (ratio; Mann–Whitney's n and p).
        graph: a Prometheus graph link for a promql check.
        named_ticks: the stored readings the condition's last change named.
    """

    condition: str
    title: str
    state: str
    reason: str
    reads: str
    readings: tuple[ReadingLine, ...]
    readings_note: str
    hold: str
    last_error: str | None
    baseline: str | None
    judged: str | None
    graph: str | None
    named_ticks: tuple[int, ...] = ()
    at: datetime | None = None  # the instant described (a firing, in the report)

    def facts(self) -> list[str]:
        """Everything but the readings, one fact a line."""
        out = [f"State: {self.state} — {self.reason}", f"Reads: {self.reads}", f"Hold: {self.hold}"]
        if self.baseline:
            out.append(f"Baseline: {self.baseline}")
        if self.judged:
            out.append(f"Judged: {self.judged}")
        if self.named_ticks:
            out.append("Readings behind the last change: ticks " + ", ".join(str(t) for t in self.named_ticks))
        out.append(f"Last error: {self.last_error}" if self.last_error else "Last error: none")
        if self.graph:
            out.append(f"Graph: {self.graph}")
        return out

    def lines(self, time_text: Any = None) -> list[str]:
        """The answer as lines of text: the facts, then the readings (the panel's body)."""
        show = time_text or (lambda moment: f"{moment.astimezone(timezone.utc):%H:%M:%S}Z")
        out = self.facts()
        out.append(f"{self.readings_note}:")
        for line in self.readings:
            latency = "—" if line.latency_ms is None else f"{line.latency_ms:.0f}ms"
            tick = f" #{line.tick}" if line.tick is not None else ""
            mark = " ◀" if line.named else ""
            out.append(
                f"  {show(line.at)} {line.outcome:<7} {line.value:>10} {latency:>7}{tick} {line.detail}{mark}".rstrip()
            )
        return out


def reads_text(check: Check, runbook: Runbook) -> str:
    """What a check asks, and of whom, as written in the runbook."""
    match check.spec:
        case PromqlSpec() as spec:
            source = runbook.sources.get(spec.source)
            where = f"{source.id} ({source.url})" if source else spec.source
            return f"promql on {where}: {spec.query}"
        case HttpSpec() as spec:
            return f"{spec.method} {spec.url}" + (f" (json_path {spec.json_path})" if spec.json_path else "")
        case ScrapeSpec() as spec:
            labels = spec.labels
            shown = "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""
            return f"scrape {spec.url}: {spec.metric}{shown} ({spec.mode})"
        case AlertsSpec() as spec:
            source = runbook.sources.get(spec.source)
            matchers = ", ".join(spec.matchers) or "every alert"
            where = f"{source.id if source else spec.source} ({source.url if source else ''})"
            return f"alerts on {where} matching {matchers}"
        case CommandSpec() as spec:
            return "command: " + " ".join(spec.argv)
        case PlaceholderSpec() as spec:
            return f"not wired: {spec.what}"
    return check.kind


def graph_link(check: Check, runbook: Runbook, range_input: str = "1h") -> str | None:
    """``{prometheus}/graph?g0.expr=…&g0.tab=0&g0.range_input=1h`` for a promql check; None for others."""
    if not isinstance(check.spec, PromqlSpec):
        return None
    source = runbook.sources.get(check.spec.source)
    if source is None:
        return None
    query = urllib.parse.urlencode({"g0.expr": check.spec.query, "g0.tab": "0", "g0.range_input": range_input})
    return f"{source.url.rstrip('/')}/graph?{query}"


def hold_text(condition: StopCondition, view: ConditionView | None) -> str:
    """``breach held 40s of 1m — fires in 0:20``; ``firing, held 1m12s (for 1m)``; ``no breach held (for 1m)``."""
    if view is None:
        return f"not yet polled (for {seconds_text(condition.for_)})"
    state = view.state.value
    if state == "pending":
        return f"breach held {seconds_text(view.breach_held)} of {seconds_text(condition.for_)} — fires in {countdown_text(view.remaining)}"
    if state == "firing":
        return f"firing, breach held {seconds_text(view.breach_held)} (for {seconds_text(condition.for_)})"
    if state == "recovering":
        return f"recovering — clears in {countdown_text(view.remaining)} (keep_firing_for {seconds_text(condition.keep_firing_for)})"
    if view.breach_held > 0:
        return f"breach held {seconds_text(view.breach_held)} of {seconds_text(condition.for_)}, frozen while {state}"
    return f"no breach held (for {seconds_text(condition.for_)})"


def hold_from_change(condition: StopCondition, change: Mapping[str, Any]) -> str:
    """The hold as a ``condition_changed`` recorded it: ``fired after a breach held 1m (for 1m)``."""
    held = float(change.get("breach_held") or 0.0)
    state = str(change.get("state", ""))
    if state == "firing":
        return f"fired after a breach held {seconds_text(held)} (for {seconds_text(condition.for_)})"
    if state == "pending":
        return f"breach held {seconds_text(held)} of {seconds_text(condition.for_)}"
    return (
        f"breach held {seconds_text(held)} (for {seconds_text(condition.for_)})"
        if held
        else f"no breach held (for {seconds_text(condition.for_)})"
    )


def judged_text(payload: Mapping[str, Any] | None) -> str | None:
    """``ratio 4.3x`` / ``n 30 vs 15, p 0.0003, ratio 4.3x`` from a change's ``judged``."""
    from checks.baseline import ratio_text

    if not payload:
        return None
    parts = []
    if payload.get("n") is not None:
        parts.append(f"n {payload['n']} vs {payload.get('baseline_n')}")
    if payload.get("p") is not None:
        p = float(payload["p"])
        parts.append(f"p {p:.2g}" if p >= 0.0001 else "p <0.0001")
    ratio = payload.get("ratio")
    if ratio is not None:
        parts.append(f"ratio {ratio_text(float(ratio))}")
    return ", ".join(parts) or None


def _value_text(value: float | None, unit: str) -> str:
    return "—" if value is None else format_value(value, unit)


def from_ticks(
    runbook: Runbook,
    condition: StopCondition,
    view: ConditionView | None,
    ticks: Sequence[TickRecord],
    change: Mapping[str, Any] | None,
    *,
    last_error: TickRecord | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> Why:
    """The answer from stored readings (follow, replay, the report).

    Args:
        ticks: the check's stored readings up to the instant, oldest first (the last ``READINGS_SHOWN`` are listed).
        change: the payload of the condition's last ``condition_changed`` up to the instant.
        last_error: the check's last stored error reading up to the instant, if any.
    """
    check = runbook.checks[condition.check]
    unit = display_unit(condition, runbook)
    named = tuple(int(t) for t in (change or {}).get("ticks") or () if isinstance(t, int))
    lines = tuple(
        ReadingLine(t.ts, t.outcome, _value_text(t.value, unit), None if t.latency is None else t.latency * 1000,
                    t.detail, t.id, t.id in named)
        for t in ticks[-READINGS_SHOWN:]
    )  # fmt: skip
    keyframe = format_duration(RetentionPolicy().keyframe_seconds)
    return Why(
        condition=condition.id,
        title=condition.title,
        state=view.state.value if view else str((change or {}).get("state", "unknown")),
        reason=view.reason if view else str((change or {}).get("reason", "")),
        reads=reads_text(check, runbook),
        readings=lines,
        readings_note=note
        or f"Last {len(lines)} stored readings (kept on change, and every {keyframe} when unchanged)",
        hold=hold_text(condition, view) if view is not None or change is None else hold_from_change(condition, change),
        last_error=f"{last_error.ts:%Y-%m-%d %H:%M:%S}Z {last_error.detail or 'error'}" if last_error else None,
        baseline=_baseline_text(condition, (change or {}).get("baseline")),
        judged=judged_text((change or {}).get("judged")),
        graph=graph_link(check, runbook),
        named_ticks=named,
        at=at,
    )


def from_live(
    runbook: Runbook,
    condition: StopCondition,
    view: ConditionView | None,
    recent: Iterable[Any],
    *,
    named: Sequence[int] = (),
    status: Any = None,
) -> Why:
    """The answer in a running session: the last raw polls (``RecentReadings.of``), every one of them.

    Args:
        recent: ``RawReading`` entries, oldest first.
        named: the stored readings the condition's last change named.
        status: the evaluator's ``ConditionStatus`` (its baseline and last judgement), when there is one.
    """
    check = runbook.checks[condition.check]
    unit = display_unit(condition, runbook)
    raw = list(recent)[-READINGS_SHOWN:]
    named_set = set(named)
    lines = tuple(
        ReadingLine(r.reading.observed_at, r.reading.outcome.value, _value_text(r.reading.value, unit),
                    r.reading.latency * 1000, r.reading.detail, r.tick, r.tick is not None and r.tick in named_set)
        for r in raw
    )  # fmt: skip
    error = next((r.reading for r in reversed(raw) if r.reading.outcome.value == "error"), None)
    baseline = getattr(status, "baseline", None)
    comparison = getattr(status, "comparison", None)
    baseline_text = None
    if condition.baseline is not None:
        baseline_text = baseline.describe(check.unit) if baseline is not None else "not placed: T0 is not set"
    return Why(
        condition=condition.id,
        title=condition.title,
        state=view.state.value if view else "unknown",
        reason=view.reason if view else "not yet polled",
        reads=reads_text(check, runbook),
        readings=lines,
        readings_note=f"Last {counted(len(lines), 'poll')} (every poll, stored or not)",
        hold=hold_text(condition, view),
        last_error=f"{error.observed_at:%Y-%m-%d %H:%M:%S}Z {error.detail or 'error'}" if error else None,
        baseline=baseline_text,
        judged=judged_text(comparison.as_payload()) if comparison is not None else None,
        graph=graph_link(check, runbook),
        named_ticks=tuple(named),
    )


def _baseline_text(condition: StopCondition, payload: Any) -> str | None:
    if condition.baseline is None:
        return None
    if isinstance(payload, Mapping) and payload.get("text"):
        return str(payload["text"])
    window = f"{counted(condition.baseline.min_samples, 'reading')} needed"
    return f"not computed yet ({window})"


def from_log(path: str, runbook: Runbook, condition_id: str, view: ConditionView | None, until: datetime | None) -> Why:
    """The answer read from a session log up to ``until`` (follow, replay): its stored readings and last change."""
    from cutover_tui.store import SessionLog

    condition = runbook.condition(condition_id)
    with SessionLog.open_readonly(path) as log:
        ticks = list(log.ticks(until=until, check=condition.check))
        change = None
        for event in log.events(until=until):
            if event.kind == "condition_changed" and event.payload.get("condition") == condition_id:
                change = event.payload
    errors = [t for t in ticks if t.outcome == "error"]
    return from_ticks(runbook, condition, view, ticks, change, last_error=errors[-1] if errors else None)


def from_state(runbook: Runbook, condition_id: str, state: Any) -> Why:
    """The answer from the folded state alone (a backend without a log): the check's latest reading only."""
    condition = runbook.condition(condition_id)
    view = state.conditions.get(condition_id)
    check = state.checks.get(condition.check)
    ticks = []
    if check is not None and check.outcome is not None and check.observed_at is not None:
        ticks.append(
            TickRecord(
                check.id, check.observed_at, check.outcome, check.value, check.unit, None, check.degraded, check.detail
            )
        )
    return from_ticks(runbook, condition, view, ticks, None, note="The latest reading")


def explain(backend: Any, condition_id: str, state: Any = None) -> Why:
    """Why ``condition_id`` is in its state, from whatever the backend has: its own answer, its log, or its state.

    A live session answers itself (``LiveBackend.why``: every recent poll);
    follow and replay read their log up to the instant shown (``state``, default the backend's now).
    """
    own = getattr(backend, "why", None)
    if own is not None:
        return own(condition_id)
    state = state if state is not None else backend.state()
    path = getattr(backend, "db_path", "")
    if path and path != ":memory:":
        try:
            return from_log(path, backend.runbook, condition_id, state.conditions.get(condition_id), state.now)
        except Exception:
            pass
    return from_state(backend.runbook, condition_id, state)
