"""Polling the checks on their intervals and feeding the stop conditions.

``Poller`` runs an APScheduler 3 ``AsyncIOScheduler`` on the running event
loop: one job per check every ``check.every`` seconds, plus a one-second tick
that lets the conditions notice staleness. Every job is an ``async def``, so
APScheduler's ``AsyncIOExecutor`` runs it as a task on the loop (never in a
thread), and the evaluators are only ever touched from the loop.

Polls of one check never overlap (``max_instances=1``). A tick that comes
while the previous poll still runs, or that the loop reached too late (more
than ``misfire_grace_time`` after its time: half an interval, but at least the
1 s APScheduler allows), is skipped and counted, never back-filled: with
``coalesce`` several overdue ticks run once. APScheduler drops the coalesced
ticks without an event, so the poller counts them itself from the gap between
the due times it is told about; the interval has no jitter (only the start is
spread per check, at most ``START_RATE`` a second), so that gap is a whole
number of intervals.

Example::

    poller = Poller(runbook, ProbeContext(runbook), on_result=print)
    await poller.start()
    ...
    await poller.stop()
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from checks.conditions import ConditionEvaluator
from checks.reading import Reading
from checks.state import ConditionStatus
from runbooks.model import Check, Runbook

if TYPE_CHECKING:
    from apscheduler.events import JobExecutionEvent, JobSubmissionEvent
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from checks.probes import ProbeContext

#: Called after every poll with the reading and the status of every condition on
#: that check (changed or not), and after a staleness tick with ``None`` and the
#: statuses that changed. Runs on the event loop; it must not block.
ResultCallback = Callable[[Reading | None, list[ConditionStatus]], None]

#: How often the conditions look at the clock to notice staleness, seconds.
TICK_INTERVAL = 1.0
#: Lateness samples kept for benchmarks.
LATENESS_SAMPLES = 10_000
_TICK_JOB = "__staleness__"

# APScheduler warns on every skipped tick; the poller counts them instead. Without
# a handler of its own those warnings would reach stderr (logging's last resort)
# and tear the terminal UI; an application that configures logging still gets them.
logging.getLogger("apscheduler").addHandler(logging.NullHandler())


#: First polls started per second at most; later polls keep those phases.
START_RATE = 200


@dataclass
class PollerStats:
    """What the poller did, for benchmarks and the status bar.

    Attributes:
        polls: polls completed.
        skipped: ticks not run: the previous poll of that check still running,
            or the loop got to them more than half an interval late.
        lateness: seconds between each poll's scheduled and actual start, newest last.
    """

    polls: int = 0
    skipped: int = 0
    lateness: deque[float] = field(default_factory=lambda: deque(maxlen=LATENESS_SAMPLES))


class Poller:
    """Polls a runbook's checks on their intervals and evaluates its stop conditions.

    Args:
        runbook: the runbook.
        ctx: the probes' shared context; its clock drives the evaluators. The
            caller closes it.
        on_result: see ``ResultCallback``.
        evaluators: condition id -> evaluator, for a resumed session whose
            evaluators were restored; default: a fresh one per condition. Each
            must read one of the polled checks.
        checks: the check ids to poll (default all); conditions on other checks
            are not evaluated.
    """

    def __init__(
        self,
        runbook: Runbook,
        ctx: ProbeContext,
        on_result: ResultCallback | None = None,
        *,
        evaluators: Mapping[str, ConditionEvaluator] | None = None,
        checks: Iterable[str] | None = None,
    ) -> None:
        self.runbook = runbook
        self.ctx = ctx
        self.on_result = on_result
        wanted = set(runbook.checks) if checks is None else set(checks)
        self.checks: dict[str, Check] = {cid: c for cid, c in runbook.checks.items() if cid in wanted}
        if evaluators is None:
            evaluators = {
                c.id: ConditionEvaluator(c, runbook.checks[c.check], ctx.clock)
                for c in runbook.stop_conditions
                if c.check in self.checks
            }
        self.evaluators: dict[str, ConditionEvaluator] = dict(evaluators)
        self._by_check: dict[str, list[ConditionEvaluator]] = {cid: [] for cid in self.checks}
        for evaluator in self.evaluators.values():
            self._by_check[evaluator.check.id].append(evaluator)
        self.stats = PollerStats()
        self._scheduler: AsyncIOScheduler | None = None
        self._scheduled: dict[str, datetime] = {}  # check id -> due time of the run about to start
        self._last_due: dict[str, datetime] = {}  # check id -> latest due time seen in an event
        self._in_flight: set[asyncio.Task[object]] = set()

    @property
    def statuses(self) -> dict[str, ConditionStatus]:
        """Every evaluated condition's current status, by id."""
        return {cid: evaluator.status for cid, evaluator in self.evaluators.items()}

    async def poll_once(self, check_ids: Iterable[str] | None = None) -> list[Reading]:
        """Poll every check (or those named) once, concurrently, and evaluate; returns the readings in check order."""
        wanted = self.checks.keys() if check_ids is None else set(check_ids)
        return list(await asyncio.gather(*(self._poll(c) for cid, c in self.checks.items() if cid in wanted)))

    async def start(self) -> None:
        """Schedule the polls and the staleness tick on the running loop; the first polls start at once."""
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=timezone.utc)
        scheduler.add_listener(self._on_submitted, EVENT_JOB_SUBMITTED)
        scheduler.add_listener(self._on_overlap, EVENT_JOB_MAX_INSTANCES)
        scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        now = datetime.now(timezone.utc)
        # Phases spread at most START_RATE first polls a second over each check's interval, so a
        # thousand checks never fall due together and starve the event loop the screen runs on.
        window = len(self.checks) / START_RATE
        for index, check in enumerate(self.checks.values()):
            phase = min(check.every, window) * index / len(self.checks)
            spread = phase + random.uniform(0.0, min(check.every * 0.1, 1.0, window / len(self.checks) + 0.01))
            scheduler.add_job(
                self._run_job,
                "interval",
                args=[check.id],
                id=check.id,
                seconds=check.every,
                next_run_time=now + timedelta(seconds=spread),
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(check.every / 2)),
            )
        scheduler.add_job(
            self._tick,
            "interval",
            id=_TICK_JOB,
            seconds=TICK_INTERVAL,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=1,
        )
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self) -> None:
        """Stop scheduling and cancel the polls in flight; returns once they have ended."""
        if self._scheduler is not None:
            if self._scheduler.running:
                self._scheduler.shutdown(wait=False)
            self._scheduler = None
        tasks = list(self._in_flight)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- jobs -------------------------------------------------------------

    async def _run_job(self, check_id: str) -> None:
        scheduled = self._scheduled.pop(check_id, None)
        if scheduled is not None:
            self.stats.lateness.append(max(0.0, (datetime.now(timezone.utc) - scheduled).total_seconds()))
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await self._poll(self.checks[check_id])
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def _poll(self, check: Check) -> Reading:
        from checks.probes import run_probe

        reading = await run_probe(check, self.ctx)
        self.stats.polls += 1
        statuses = [evaluator.observe(reading) for evaluator in self._by_check[check.id]]
        if self.on_result is not None:
            self.on_result(reading, statuses)
        return reading

    async def _tick(self) -> None:
        changed = []
        for evaluator in self.evaluators.values():
            before = evaluator.status
            after = evaluator.tick()
            if (after.state, after.flapping, after.acknowledged) != (before.state, before.flapping, before.acknowledged):
                changed.append(after)
        if changed and self.on_result is not None:
            self.on_result(None, changed)

    # -- scheduler events -------------------------------------------------

    def _on_submitted(self, event: JobSubmissionEvent) -> None:
        if event.job_id == _TICK_JOB:
            return
        self.stats.skipped += self._ticks_due(event) - 1
        # The job's task starts after this listener has run; it reads the time it was due.
        self._scheduled[event.job_id] = event.scheduled_run_times[-1]

    def _on_overlap(self, event: JobSubmissionEvent) -> None:
        if event.job_id != _TICK_JOB:
            self.stats.skipped += self._ticks_due(event)

    def _on_missed(self, event: JobExecutionEvent) -> None:
        if event.job_id != _TICK_JOB:
            self.stats.skipped += 1

    def _ticks_due(self, event: JobSubmissionEvent) -> int:
        """How many ticks fell due since the previous event for this job (coalescing hides all but one)."""
        latest = event.scheduled_run_times[-1]
        previous = self._last_due.get(event.job_id)
        self._last_due[event.job_id] = latest
        if previous is None:
            return len(event.scheduled_run_times)
        return max(1, round((latest - previous).total_seconds() / self.checks[event.job_id].every))
