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

``PollingThread`` runs a ``Poller`` on an event loop in a thread of its own
and hands its results to the caller's loop in batches, a few times a second:
the dashboard's loop then never waits behind a burst of polls to answer a
key. A thread that ended or whose loop stopped beating is not ``alive``, and
the caller treats every check as unseen from then on.

Example::

    poller = Poller(runbook, ProbeContext(runbook), on_result=print)
    await poller.start()
    ...
    await poller.stop()
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import math
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from checks.clock import SystemClock, offset_from
from checks.conditions import ConditionEvaluator
from checks.reading import Reading
from checks.status import ConditionState, ConditionStatus
from runbooks.model import Check, Runbook

if TYPE_CHECKING:
    from checks.probes import ProbeContext

#: Called after every poll with the reading and the status of every condition on
#: that check (changed or not), and after a staleness tick with ``None`` and the
#: statuses that changed. Runs on the event loop; it must not block.
ResultCallback = Callable[[Reading | None, list[ConditionStatus]], None]

#: The system clock's offset from the loop's moved by more than this: the machine slept (``Poller._on_clock``).
CLOCK_OFFSET_SLACK = 0.001
#: How often the conditions look at the clock to notice staleness, seconds.
TICK_INTERVAL = 1.0
#: Lateness samples kept for benchmarks.
LATENESS_SAMPLES = 10_000
#: First polls started per second at most; later polls keep those phases.
START_RATE = 200
#: A polling thread hands its results to the caller's loop this many times a second at most.
HANDOFFS_PER_SECOND = 5
#: The first result after a quiet spell waits this long for the polls that end with it (those due at the
#: same instant), so they reach the caller in one hand-off, not this one and the rest a hand-off later.
GATHER_SECONDS = 0.05
#: Seconds to which a breach's beginning is found in a source's own samples (see ``Poller._breaches_began``).
BEGAN_RESOLUTION = 0.001
#: Past instants asked at once in each round of that search.
BEGAN_PROBES = 8
#: A polling thread's loop beats every second; silent this long, the thread counts as stopped.
SILENCE_SECONDS = 3.0


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
        self._offset: float | None = None  # the evaluators' clock minus the loop's (``_on_clock``)
        self._running: dict[str, asyncio.Task[Reading]] = {}  # polls in flight; a poll's task is let go when it ends
        # The timers share one callback and one context: a thousand checks' timers then hold no
        # bound method and no context copy each, objects the cyclic collector would walk every pass.
        self._due_callback = self._due
        self._context = contextvars.copy_context()

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
        return list(await asyncio.gather(*(self._poll(c) for cid, c in self.checks.items() if cid in wanted)))

    async def start(self) -> None:
        """Schedule the polls and the staleness tick on the running loop; the first polls start at once."""
        loop = self._loop = asyncio.get_running_loop()
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
            self._timers[check_id or ""] = self._loop.call_at(
                due, self._due_callback, check_id, due, context=self._context
            )

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
        self._start_poll(check, instant, now)

    def _hold_ends(self, check_id: str, due: float) -> None:
        """The one-off poll at the instant a pending hold reaches ``for``, between two regular polls."""
        self._timers.pop(_hold_end_key(check_id), None)
        if self._loop is not None:
            self._start_poll(self.checks[check_id], due, self._loop.time())

    def _start_poll(self, check: Check, instant: float, now: float) -> None:
        """Poll ``check`` for the loop instant ``instant``, unless its previous poll still runs."""
        loop = self._loop
        assert loop is not None  # only timers call it, and stop() cancels them
        previous = self._running.get(check.id)
        if previous is not None and not previous.done():
            self.stats.skipped += 1
            return
        self.stats.lateness.append(max(0.0, now - instant))
        due_on_clock = self._on_clock(loop, instant, now)
        task = loop.create_task(self._poll(check, due=due_on_clock, instant=instant), name=f"poll:{check.id}")
        self._running[check.id] = task
        task.add_done_callback(functools.partial(self._ended, check.id))

    def _on_clock(self, loop: asyncio.AbstractEventLoop, instant: float, now: float) -> float:
        """The loop's ``instant`` on the evaluators' clock, which the hold and staleness count on.

        The system's clock counts the time the machine slept, the loop's does
        not: their offset is read once and kept while it holds to a
        millisecond, so due instants stay exact multiples of ``every`` between
        sleeps, and moves by the length of each sleep. A test's manual clock
        moves by hand: its due instant is its now minus how late the poll is.
        """
        clock = self.ctx.clock
        if not isinstance(clock, SystemClock):
            return clock.monotonic() - (now - instant)
        offset = offset_from(clock, loop.time)
        if self._offset is None or abs(offset - self._offset) > CLOCK_OFFSET_SLACK:
            self._offset = offset
        return instant + self._offset

    def _ended(self, check_id: str, task: asyncio.Task[Reading]) -> None:
        """A poll ended: let go of its task, which would keep its coroutine and context alive until the next poll."""
        if self._running.get(check_id) is task:
            del self._running[check_id]
        _retrieve(task)

    # -- polls ------------------------------------------------------------

    async def _poll(self, check: Check, *, due: float | None = None, instant: float | None = None) -> Reading:
        from checks.probes import PAST_KINDS, run_probe

        reading = await run_probe(check, self.ctx)
        evaluators = self._by_check[check.id]
        began: dict[str, float] = {}
        if due is not None and check.kind in PAST_KINDS:
            began = await self._breaches_began(check, reading, due, evaluators)
        self.stats.polls += 1
        self.latest[check.id] = reading
        statuses = [
            evaluator.observe(reading, due=due, began=began.get(evaluator.condition.id)) for evaluator in evaluators
        ]
        if due is not None and instant is not None:
            self._arm_hold_end(check, due, instant, evaluators)
        if self.on_result is not None:
            self.on_result(reading, statuses)
        return reading

    async def _breaches_began(
        self, check: Check, reading: Reading, due: float, evaluators: list[ConditionEvaluator]
    ) -> dict[str, float]:
        """For each condition this reading starts a hold on: since when the source's own samples show the breach.

        Searches the span since the last passing poll, asking the source what
        it said at ``BEGAN_PROBES`` past instants at once, round after round,
        to ``BEGAN_RESOLUTION``, within what is left of the check's timeout:
        the hold counts from just after the latest instant that did not
        breach. A past instant that cannot be read (an error, no data) counts
        as not breaching: the hold never spans what was not seen. The instants
        are asked on the source's clock (shifted by the reading's sample age).
        Cut short, the search keeps what it found; not begun, the hold counts
        from ``due``.
        """
        from checks.probes import run_probe

        spans = {e.condition.id: (e, w) for e in evaluators if (w := e.fresh_breach_window(reading, due)) is not None}
        if not spans:  # the poll loop's usual case: nothing to ask
            return {}
        clock = self.ctx.clock
        # On the source's clock: the reading's sample age is our clock minus its evaluation stamp, so a
        # source whose clock is behind ours is asked that much earlier, never about what it had not seen.
        wall_offset = clock.now().timestamp() - clock.monotonic() - (reading.sample_age or 0.0)
        began: dict[str, float] = {}
        try:
            async with asyncio.timeout(max(0.0, check.timeout - reading.latency)):
                for condition_id, (evaluator, (passed, breached)) in spans.items():
                    while breached - passed > BEGAN_RESOLUTION:
                        step = (breached - passed) / (BEGAN_PROBES + 1)
                        instants = [passed + step * (n + 1) for n in range(BEGAN_PROBES)]
                        then = await asyncio.gather(*(run_probe(check, self.ctx, at=t + wall_offset) for t in instants))
                        unbroken = [evaluator.breaches(past) for past in then]
                        last_pass = max((n for n, breach in enumerate(unbroken) if not breach), default=-1)
                        passed = instants[last_pass] if last_pass >= 0 else passed
                        breached = instants[last_pass + 1] if last_pass + 1 < BEGAN_PROBES else breached
                        began[condition_id] = breached
        except TimeoutError:
            pass
        return began

    def _arm_hold_end(self, check: Check, due: float, instant: float, evaluators: list[ConditionEvaluator]) -> None:
        """A pending hold that reaches ``for`` before the next regular poll gets a poll of its own at that instant."""
        remaining = min(
            (e.condition.for_ - e.held_at(due) for e in evaluators if e.state is ConditionState.PENDING),
            default=math.inf,
        )
        if BEGAN_RESOLUTION < remaining < check.every - BEGAN_RESOLUTION and self._loop is not None:
            key = _hold_end_key(check.id)
            if (timer := self._timers.get(key)) is not None:
                timer.cancel()
            self._timers[key] = self._loop.call_at(instant + remaining, self._hold_ends, check.id, instant + remaining)

    def _tick(self) -> None:
        # The status (its reason text above all) is built only for the conditions whose state or cause changed.
        changed = [evaluator.status for evaluator in self.evaluators.values() if evaluator.notice_staleness()]
        if changed and self.on_result is not None:
            self.on_result(None, changed)


#: One poll's result as ``ResultCallback`` takes it.
Result = tuple[Reading | None, list[ConditionStatus]]


class PollingThread:
    """A ``Poller`` on an event loop in a thread of its own; its results reach the caller's loop in batches.

    ``setup`` runs on the thread's loop and returns the poller (with the
    probes' context it made there: the HTTP clients belong to that loop);
    ``start`` sets its ``on_result`` and starts it. Every result goes, in the
    order the poller made them, to ``on_results`` on the loop that called
    ``start``, at most ``HANDOFFS_PER_SECOND`` times a second. The poller, its
    evaluators and its context belong to the thread: change them with
    ``call_soon`` (reading ``statuses`` and ``latest`` from the caller is safe).

    ``alive`` is False once the thread ended or its loop has not beaten for
    ``SILENCE_SECONDS`` (a probe that blocked it): what the evaluators last
    said is then no longer news, and the caller must say it cannot tell.

    Args:
        setup: a coroutine function, run on the thread's loop: builds the poller.
        on_results: called on the caller's loop with each batch of results.
        teardown: a coroutine function run on the thread's loop by ``stop``,
            after the poller stopped (closes what ``setup`` opened).
        name: the thread's name.
    """

    def __init__(
        self,
        setup: Callable[[], Awaitable[Poller]],
        on_results: Callable[[list[Result]], None],
        *,
        teardown: Callable[[], Awaitable[None]] | None = None,
        name: str = "polling",
    ) -> None:
        self._setup = setup
        self._on_results = on_results
        self._teardown = teardown
        self._name = name
        self.poller: Poller | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._caller: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pending: deque[Result] = deque()
        self._scheduled = False  # a hand-off is on its way to the caller's loop
        self._handed = 0.0  # the caller's loop time of the last hand-off
        self._beat = time.monotonic()
        self._stopping = False

    async def start(self) -> Poller:
        """Start the thread and the poller in it; returns once the first polls are scheduled (``setup``'s error is raised here)."""
        self._caller = asyncio.get_running_loop()
        ready: concurrent.futures.Future[Poller] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._main, args=(ready,), name=self._name, daemon=True)
        self._thread.start()
        self.poller = await asyncio.wrap_future(ready)
        return self.poller

    @property
    def alive(self) -> bool:
        """The thread runs and its loop beat within ``SILENCE_SECONDS``."""
        return self.silent_for() is None

    def silent_for(self) -> float | None:
        """None while the thread is alive; else seconds since its loop last beat."""
        since = time.monotonic() - self._beat
        thread = self._thread
        if self._stopping or (thread is not None and thread.is_alive() and since < SILENCE_SECONDS):
            return None
        return since

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` on the thread's loop (nothing once it stopped)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(callback, *args)
            except RuntimeError:  # closed meanwhile
                pass

    async def stop(self) -> None:
        """Stop the poller, run ``teardown``, end the thread and hand off the last results; returns once it ended."""
        self._stopping = True
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive() and not loop.is_closed():
            try:
                done = asyncio.run_coroutine_threadsafe(self._end(), loop)
            except RuntimeError:  # its loop closed meanwhile
                pass
            else:
                await asyncio.wrap_future(done)
        await asyncio.to_thread(thread.join, 10.0)
        self._hand_off()  # what the last polls said reaches the caller too

    # -- in the thread --------------------------------------------------------

    def _main(self, ready: concurrent.futures.Future[Poller]) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        begun = loop.create_task(self._begin(ready))  # in the one run_forever: a stop() from the caller is never lost
        try:
            loop.run_forever()
        finally:
            begun.cancel()
            if not self._stopping and ready.done() and ready.exception() is None:
                # The loop ended by itself: close what the polls held open, as stop() would have.
                try:
                    loop.run_until_complete(asyncio.wait_for(self._close(), 5.0))
                except BaseException:  # best effort on a loop that already failed once
                    pass
            loop.close()

    async def _begin(self, ready: concurrent.futures.Future[Poller]) -> None:
        try:
            poller = await self._setup()
            poller.on_result = self._enqueue
            await poller.start()
        except BaseException as error:  # handed to start(), which raises it
            ready.set_exception(error)
            asyncio.get_running_loop().stop()
            return
        self._beating()
        ready.set_result(poller)

    def _beating(self) -> None:
        self._beat = time.monotonic()
        if self._loop is not None:
            self._loop.call_later(1.0, self._beating)

    async def _end(self) -> None:
        try:
            await self._close()
        finally:
            asyncio.get_running_loop().call_soon(asyncio.get_running_loop().stop)

    async def _close(self) -> None:
        if self.poller is not None:
            await self.poller.stop()
        if self._teardown is not None:
            await self._teardown()

    def _enqueue(self, reading: Reading | None, statuses: list[ConditionStatus]) -> None:
        self._pending.append((reading, statuses))
        if not self._scheduled and self._caller is not None:
            self._scheduled = True
            try:
                self._caller.call_soon_threadsafe(self._hand_off_soon)
            except RuntimeError:  # the caller's loop closed: nobody to hand results to
                pass

    # -- on the caller's loop --------------------------------------------------

    def _hand_off_soon(self) -> None:
        assert self._caller is not None
        wait = max(self._handed + 1 / HANDOFFS_PER_SECOND - self._caller.time(), GATHER_SECONDS)
        if wait > 0:
            self._caller.call_later(wait, self._hand_off)
        else:
            self._hand_off()

    def _hand_off(self) -> None:
        assert self._caller is not None
        self._scheduled = False  # first: a result the thread adds from here on schedules the next hand-off
        self._handed = self._caller.time()
        batch: list[Result] = []
        while self._pending:
            batch.append(self._pending.popleft())
        if batch:
            self._on_results(batch)


def _hold_end_key(check_id: str) -> str:
    """The key of a check's one-off hold-end poll among the poller's timers (beside its regular one)."""
    return f"{check_id}\0"


def _retrieve(task: asyncio.Task[Reading]) -> None:
    """A poll never raises (``run_probe`` turns failures into readings); a cancelled one is fine."""
    if not task.cancelled():
        task.exception()
