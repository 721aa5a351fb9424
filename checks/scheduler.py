"""Polling the checks on their intervals and feeding the stop conditions.

``Poller`` schedules every check on the running event loop's own timers
(``loop.call_at``), which run on the monotonic clock: a wall-clock step (NTP
on cutover night, a laptop resumed) neither stops polling nor fires a
condition early. Every check polls every ``check.every`` seconds from a phase
of its own, and a one-second tick lets the conditions notice staleness.
Evaluators are only ever touched from the loop.

Polls of one check never overlap: a tick that comes while the previous poll
still runs is skipped and counted. A tick the loop reached late (it was
blocked) runs once for the latest instant due, when that is within the grace
(half an interval, at least one second); the instants before it are skipped
and counted, never back-filled.

Each poll tells its conditions the instant it was due, and the ``for`` hold
counts from those instants, as Prometheus counts ``for`` from its evaluation
times: how long a poll takes never delays firing.

APScheduler 3 was the first scheduler here; it decides what is due by the
wall clock, so a step back stopped every poll for the length of the step
(``benchmarks/scheduler_clock.py`` measures both).

Example::

    poller = Poller(runbook, ProbeContext(runbook), on_result=print)
    await poller.start()
    ...
    await poller.stop()
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from checks.clock import SystemClock
from checks.conditions import ConditionEvaluator
from checks.reading import Reading
from checks.state import ConditionStatus
from runbooks.model import Check, Runbook

if TYPE_CHECKING:
    from checks.probes import ProbeContext

#: Called after every poll with the reading and the status of every condition on
#: that check (changed or not), and after a staleness tick with ``None`` and the
#: statuses that changed. Runs on the event loop; it must not block.
ResultCallback = Callable[[Reading | None, list[ConditionStatus]], None]

#: How often the conditions look at the clock to notice staleness, seconds.
TICK_INTERVAL = 1.0
#: Lateness samples kept for benchmarks.
LATENESS_SAMPLES = 10_000
#: First polls started per second at most; later polls keep those phases.
START_RATE = 200


@dataclass
class PollerStats:
    """What the poller did, for benchmarks and the status bar.

    Attributes:
        polls: polls completed.
        skipped: ticks not run: the previous poll of that check still running,
            or the loop got to them too late.
        lateness: seconds between each poll's due and actual start, newest last.
    """

    polls: int = 0
    skipped: int = 0
    lateness: deque[float] = field(default_factory=lambda: deque(maxlen=LATENESS_SAMPLES))


def grace(every: float) -> float:
    """How late a due poll may still start: half an interval, but at least one second."""
    return max(1.0, every / 2)


def latest_due(due: float, every: float, now: float) -> tuple[float, int]:
    """The latest instant of the series ``due, due + every, ...`` at or before ``now``, and how many came before it."""
    if now <= due:
        return due, 0
    behind = math.floor((now - due) / every)
    return due + behind * every, behind


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
        self.latest: dict[str, Reading] = {}
        """The newest reading of each check (stored as a tick or not)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._running: dict[str, asyncio.Task[Reading]] = {}

    @property
    def statuses(self) -> dict[str, ConditionStatus]:
        """Every evaluated condition's current status, by id."""
        return {cid: evaluator.status for cid, evaluator in self.evaluators.items()}

    @property
    def running(self) -> bool:
        """Whether polls are scheduled (between ``start`` and ``stop``)."""
        return self._loop is not None

    async def poll_once(self, check_ids: Iterable[str] | None = None) -> list[Reading]:
        """Poll every check (or those named) once, concurrently, and evaluate; returns the readings in check order."""
        wanted = self.checks.keys() if check_ids is None else set(check_ids)
        self.ctx.prepare()
        return list(await asyncio.gather(*(self._poll(c) for cid, c in self.checks.items() if cid in wanted)))

    async def start(self) -> None:
        """Schedule the polls and the staleness tick on the running loop; the first polls start at once."""
        loop = self._loop = asyncio.get_running_loop()
        self.ctx.prepare()
        origin = loop.time()
        # Phases spread at most START_RATE first polls a second over each check's interval, so a
        # thousand checks never fall due together and starve the event loop the screen runs on.
        count = len(self.checks)
        window = count / START_RATE
        for index, check in enumerate(self.checks.values()):
            phase = min(check.every, window) * index / count
            spread = phase + random.uniform(0.0, min(check.every * 0.1, 1.0, window / count + 0.01))
            self._arm(check.id, origin + spread)
        self._arm(None, origin + TICK_INTERVAL)

    async def stop(self) -> None:
        """Stop scheduling and cancel the polls in flight; returns once they have ended."""
        self._loop = None
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._running.clear()

    # -- timers -----------------------------------------------------------

    def _arm(self, check_id: str | None, due: float) -> None:
        """Call ``_due`` for ``check_id`` (None: the staleness tick) at monotonic ``due``."""
        if self._loop is not None:
            self._timers[check_id or ""] = self._loop.call_at(due, self._due, check_id, due)

    def _due(self, check_id: str | None, due: float) -> None:
        loop = self._loop
        if loop is None:
            return
        now = loop.time()
        if check_id is None:
            instant, _ = latest_due(due, TICK_INTERVAL, now)
            self._arm(None, instant + TICK_INTERVAL)
            self._tick()
            return
        check = self.checks[check_id]
        instant, missed = latest_due(due, check.every, now)
        self._arm(check_id, instant + check.every)
        self.stats.skipped += missed
        if now - instant > grace(check.every):
            self.stats.skipped += 1
            return
        previous = self._running.get(check_id)
        if previous is not None and not previous.done():
            self.stats.skipped += 1
            return
        self.stats.lateness.append(max(0.0, now - instant))
        # The evaluators count in the context clock's units: the loop's own clock when it is the
        # system's monotonic clock, else (a test's manual clock) "now minus how late".
        clock = self.ctx.clock
        due_on_clock = instant if isinstance(clock, SystemClock) else clock.monotonic() - (now - instant)
        task = loop.create_task(self._poll(check, due=due_on_clock), name=f"poll:{check_id}")
        self._running[check_id] = task
        task.add_done_callback(_retrieve)

    # -- polls ------------------------------------------------------------

    async def _poll(self, check: Check, *, due: float | None = None) -> Reading:
        from checks.probes import run_probe

        reading = await run_probe(check, self.ctx)
        self.stats.polls += 1
        self.latest[check.id] = reading
        statuses = [evaluator.observe(reading, due=due) for evaluator in self._by_check[check.id]]
        if self.on_result is not None:
            self.on_result(reading, statuses)
        return reading

    def _tick(self) -> None:
        changed = []
        for evaluator in self.evaluators.values():
            before = evaluator.status
            after = evaluator.tick()
            if (after.state, after.flapping, after.acknowledged, after.cause) != (
                before.state,
                before.flapping,
                before.acknowledged,
                before.cause,
            ):
                changed.append(after)
        if changed and self.on_result is not None:
            self.on_result(None, changed)


def _retrieve(task: asyncio.Task[Reading]) -> None:
    """A poll never raises (``run_probe`` turns failures into readings); a cancelled one is fine."""
    if not task.cancelled():
        task.exception()
