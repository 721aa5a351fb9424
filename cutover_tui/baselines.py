"""Where a session's baselines come from: its own log, or Prometheus for the part it did not see.

A stop condition relative to the baseline (``when: "> 2x baseline"``) keeps
its baseline readings in its evaluator (``checks.baseline.BaselineTracker``);
the evaluator adds every reading it observes. ``BaselineSupplier`` does the
rest for a running session (``LiveBackend``, ``check``):

- places every baseline window at T0, and again when T0 is set or moved;
- asks the log to store every reading inside the windows
  (``SessionLog.keep_every_reading``), so the baseline is the same in
  replay, the report and a what-if as it was live;
- resumed, seeds the evaluators with the stored readings of the windows and
  with the Prometheus samples the session fetched before
  (``baseline_fetched`` events);
- for a promql check, reads the part of a window the session did not see
  (before it started) from Prometheus' ``query_range`` through the probes'
  shared client, and logs what it read (``baseline_fetched``), so the
  evidence holds the samples themselves. A failed fetch is named in the
  condition's reason and retried; it never counts as readings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from checks.baseline import PROMETHEUS, SESSION_LOG, BaselineSample
from cutover_tui.store import format_ts, parse_ts
from runbooks.model import PromqlSpec

if TYPE_CHECKING:
    from checks.conditions import ConditionEvaluator
    from checks.probes import ProbeContext
    from cutover_tui.store import EventRecord, SessionLog, TickRecord
    from runbooks.model import Runbook

#: Seconds between attempts to read a window from Prometheus after a failure.
FETCH_RETRY_SECONDS = 30.0
#: The event that records the samples read from Prometheus.
FETCHED_EVENT_KIND = "baseline_fetched"


def samples_from_tick(tick: TickRecord) -> BaselineSample:
    """A stored reading as a baseline sample (with its id, so the baseline can name it)."""
    return BaselineSample(tick.ts, tick.outcome, tick.value, tick.id, SESSION_LOG)


def samples_from_fetched(payload: Mapping[str, Any]) -> list[BaselineSample]:
    """The samples a ``baseline_fetched`` event recorded."""
    samples = []
    for entry in payload.get("samples") or ():
        try:
            at, outcome, value = entry
            samples.append(
                BaselineSample(
                    parse_ts(str(at)), str(outcome), None if value is None else float(value), source=PROMETHEUS
                )
            )
        except (TypeError, ValueError):
            continue
    return samples


def fetched_payload(
    check_id: str, query: str, start: datetime, end: datetime, samples: list[BaselineSample]
) -> dict[str, Any]:
    """The ``baseline_fetched`` payload: what was asked, and every sample read."""
    return {
        "check": check_id,
        "source": PROMETHEUS,
        "query": query,
        "from": format_ts(start),
        "to": format_ts(end),
        "samples": [[format_ts(s.at), s.outcome, s.value] for s in samples],
    }


def windows(runbook: Runbook, t0: datetime | None) -> dict[str, list[tuple[datetime, datetime]]]:
    """Every check's baseline windows placed at ``t0``.

    Without T0 a window cannot be placed, and may turn out to lie behind the
    moment T0 is set: until then every reading of such a check is kept (one
    window without ends).
    """
    found: dict[str, list[tuple[datetime, datetime]]] = {}
    for condition in runbook.stop_conditions:
        if condition.baseline is not None and condition.relative is not None:
            if t0 is None:
                span = (datetime.min.replace(tzinfo=timezone.utc), datetime.max.replace(tzinfo=timezone.utc))
            else:
                span = (
                    t0 + timedelta(seconds=condition.baseline.start),
                    t0 + timedelta(seconds=condition.baseline.end),
                )
            found.setdefault(condition.check, []).append(span)
    return found


class BaselineSupplier:
    """Feeds the evaluators of conditions relative to the baseline for one running session.

    Args:
        runbook: the session's runbook.
        evaluators: every condition's evaluator, by id (only those with a baseline are fed).
        ctx: the probes' shared context (its HTTP client reads Prometheus); None: no fetching.
        log: the session log (None for ``check``, which keeps no log).
        record: logs an event in the background (``kind, payload``); None: nothing is logged.
        seen_from: when the session began watching: the part of a window before it
            is read from Prometheus (for promql checks).
    """

    def __init__(
        self,
        runbook: Runbook,
        evaluators: Mapping[str, ConditionEvaluator],
        *,
        ctx: ProbeContext | None,
        log: SessionLog | None = None,
        record: Callable[[str, dict[str, Any]], None] | None = None,
        seen_from: datetime,
    ) -> None:
        self.runbook = runbook
        self.ctx = ctx
        self.log = log
        self.record = record
        self.seen_from = seen_from
        self.t0: datetime | None = None
        self._by_check: dict[str, list[ConditionEvaluator]] = {}
        for evaluator in evaluators.values():
            if evaluator.baseline_tracker is not None:
                self._by_check.setdefault(evaluator.check.id, []).append(evaluator)
        self._fetched: set[tuple[str, str, str]] = set()  # (check, from, to) read from Prometheus
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._placed = False
        self.problems: dict[str, str] = {}  # check -> why its window could not be read

    @property
    def needed(self) -> bool:
        """Whether any condition is relative to the baseline."""
        return bool(self._by_check)

    def start(self, t0: datetime | None, events: Iterable[EventRecord] = ()) -> None:
        """Place the windows at ``t0``; seed from the log (its ticks and ``baseline_fetched`` events); fetch what is missing."""
        if not self.needed:
            return
        for event in events:
            if event.kind == FETCHED_EVENT_KIND:
                self._seed_fetched(event.payload)
        self.on_t0(t0)

    def on_t0(self, t0: datetime | None) -> None:
        """T0 was set or moved: place the windows again, store their readings whole, seed, fetch."""
        if not self.needed or (t0 == self.t0 and self._placed):
            return
        self.t0 = t0
        self._placed = True
        for evaluators in self._by_check.values():
            for evaluator in evaluators:
                evaluator.set_t0(t0)
        spans = windows(self.runbook, t0)
        if self.log is not None and not self.log.read_only:
            self.log.keep_every_reading(spans)
        if t0 is None:
            return
        if self.log is not None:
            self._seed_stored(spans)
        self._fetch_missing(spans)

    def note_tick(self, tick: TickRecord) -> None:
        """A reading was stored: its id joins the baseline sample the evaluator already holds."""
        for evaluator in self._by_check.get(tick.check_id, ()):
            tracker = evaluator.baseline_tracker
            if tracker is not None:
                tracker.add(samples_from_tick(tick))

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def fetch_now(self) -> None:
        """Wait for the fetches started (``check`` needs its baselines before it polls)."""
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    # ------------------------------------------------------------ sources

    def _seed(self, check_id: str, samples: list[BaselineSample]) -> None:
        for evaluator in self._by_check.get(check_id, ()):
            tracker = evaluator.baseline_tracker
            if tracker is not None:
                tracker.seed(samples)

    def _seed_stored(self, spans: Mapping[str, list[tuple[datetime, datetime]]]) -> None:
        assert self.log is not None
        for check_id, check_spans in spans.items():
            for start, end in check_spans:
                before = start - timedelta(milliseconds=1)
                self._seed(
                    check_id, [samples_from_tick(t) for t in self.log.ticks(until=end, check=check_id, after=before)]
                )

    def _seed_fetched(self, payload: Mapping[str, Any]) -> None:
        check_id = str(payload.get("check", ""))
        self._fetched.add((check_id, str(payload.get("from")), str(payload.get("to"))))
        self._seed(check_id, samples_from_fetched(payload))

    def _fetch_missing(self, spans: Mapping[str, list[tuple[datetime, datetime]]]) -> None:
        """Read from Prometheus the part of each promql check's window before the session began watching."""
        if self.ctx is None:
            return
        for check_id, check_spans in spans.items():
            check = self.runbook.checks[check_id]
            if check.kind != "promql":
                continue
            for start, end in check_spans:
                unseen_end = min(end, self.seen_from)
                if unseen_end <= start:
                    continue  # the session saw the whole window: its own readings are the baseline
                key = (check_id, format_ts(start), format_ts(unseen_end))
                if key in self._fetched or key[0] + key[1] + key[2] in self._tasks:
                    continue
                self._tasks[key[0] + key[1] + key[2]] = asyncio.ensure_future(
                    self._fetch(check_id, start, unseen_end, key)
                )

    async def _fetch(self, check_id: str, start: datetime, end: datetime, key: tuple[str, str, str]) -> None:
        import aiohttp

        from checks.probes import _transport_detail
        from checks.probes.common import ProbeFailed
        from checks.probes.promql_range import query_range

        check = self.runbook.checks[check_id]
        assert self.ctx is not None
        while True:
            try:
                samples = await query_range(check, self.ctx, start, end)
            except ProbeFailed as failure:
                problem = failure.detail
            except aiohttp.ClientError as exc:
                problem = _transport_detail(exc)  # "cannot connect: ...", as a failed poll says it
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                self.problems.pop(check_id, None)
                self._fetched.add(key)
                self._seed(check_id, samples)
                for evaluator in self._by_check.get(check_id, ()):
                    if evaluator.baseline_tracker is not None:
                        evaluator.baseline_tracker.problem = ""
                if self.record is not None:
                    self.record(
                        FETCHED_EVENT_KIND,
                        fetched_payload(check_id, check.spec_as(PromqlSpec).query, start, end, samples),
                    )
                return
            self.problems[check_id] = f"reading the baseline from Prometheus failed: {problem}"
            for evaluator in self._by_check.get(check_id, ()):
                tracker = evaluator.baseline_tracker
                if tracker is not None:
                    tracker.problem = self.problems[check_id]
            await asyncio.sleep(FETCH_RETRY_SECONDS)
