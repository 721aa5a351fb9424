"""The live and follow backends: the session log behind the dashboard.

``LiveBackend`` polls the runbook's checks (``checks.scheduler.Poller``),
writes readings and condition changes to the ``SessionLog``, and folds every
stored record through the one ``Reducer``, so what the screen shows live is
exactly what a replay of the file shows. ``FollowBackend`` tails a file
another process writes and folds the same records, read-only.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from checks.clock import Clock, SystemClock
from checks.reading import Reading
from checks.state import ConditionState, ConditionStatus
from cutover_tui.backend import Acknowledged, ReadOnlySession
from cutover_tui.reducer import Reducer
from cutover_tui.state import SessionState
from cutover_tui.store import EventRecord, SessionLog, TickRecord
from runbooks.model import Runbook

#: Readings are coalesced into at most this many repaints a second.
REPAINTS_PER_SECOND = 2


class _Coalescer:
    """Calls ``on_change`` with the newest state at most ``REPAINTS_PER_SECOND`` times a second."""

    def __init__(self, state: Callable[[], SessionState]) -> None:
        self._state = state
        self._on_change: Callable[[SessionState], None] | None = None
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, on_change: Callable[[SessionState], None]) -> None:
        self._on_change = on_change
        self._task = asyncio.create_task(self._run(), name="repaint")

    def mark(self) -> None:
        self._dirty.set()

    async def _run(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            if self._on_change is not None:
                self._on_change(self._state())
            await asyncio.sleep(1 / REPAINTS_PER_SECOND)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


def _condition_payload(status: ConditionStatus, previous: ConditionState, runbook: Runbook) -> dict[str, Any]:
    condition = runbook.condition(status.id)
    return {
        "condition": status.id,
        "state": status.state.value,
        "previous": previous.value,
        "value": status.value,
        "threshold": condition.when.text if condition.when else "",
        "reason": status.reason,
        "breach_held": round(status.breach_held, 3),
        "consecutive_breaches": status.consecutive_breaches,
        "flapping": status.flapping,
        "firing_since": status.firing_since.isoformat() if status.firing_since else None,
    }


class LiveBackend:
    """A live session: polls, evaluates, logs, folds.

    Args:
        runbook: the loaded runbook.
        log: the session log, opened for writing (created or resumed).
        actor: who presses the keys (``--as`` or the login name).
        clock: wall and monotonic time (tests inject a ``ManualClock``).
        env: the environment the probes expand ``${VAR}`` from.
        poll: False to show the log without polling (tests of the log path).
    """

    read_only = False

    def __init__(
        self,
        runbook: Runbook,
        log: SessionLog,
        *,
        actor: str,
        clock: Clock | None = None,
        env: dict[str, str] | None = None,
        poll: bool = True,
    ) -> None:
        self.runbook = runbook
        self.log = log
        self.actor = actor
        self.db_path = str(log.path)
        self.clock = clock or SystemClock()
        self._env = env
        self._poll = poll
        self._reducer = Reducer(runbook)
        # One writer thread: events reach the log, and the reducer, in the order they were asked for.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="session-log")
        self._repaint = _Coalescer(self.state)
        self._poller: Any = None
        self._ctx: Any = None
        self._previous: dict[str, ConditionState] = {}
        for event in log.events():
            self._reducer.apply(event)
        for tick in log.latest_ticks(per_check=self._reducer.ticks_kept):
            self._reducer.apply_tick(tick)

    def now(self) -> datetime:
        return self.clock.now()

    def state(self) -> SessionState:
        return self._reducer.state(now=self.clock.now())

    async def start(self, on_change: Callable[[SessionState], None]) -> None:
        self._repaint.start(on_change)
        if not self._poll:
            return
        from checks.conditions import ConditionEvaluator
        from checks.probes import ProbeContext
        from checks.scheduler import Poller

        self._ctx = ProbeContext(self.runbook, env=self._env, clock=self.clock)
        evaluators = {}
        resumed = self.state().conditions
        for condition in self.runbook.stop_conditions:
            evaluator = ConditionEvaluator(condition, self.runbook.checks[condition.check], self.clock)
            view = resumed.get(condition.id)
            if view is not None and view.since is not None:
                evaluator.restore(
                    state=view.state,
                    since=view.since,
                    value=view.value,
                    breach_held=view.breach_held,
                    firing_since=view.firing_since,
                    acknowledged=view.acknowledged,
                    reason=view.reason,
                )
            evaluators[condition.id] = evaluator
            self._previous[condition.id] = evaluator.status.state
        self._poller = Poller(self.runbook, self._ctx, self._on_result, evaluators=evaluators)
        await self._poller.start()

    async def stop(self) -> None:
        if self._poller is not None:
            await self._poller.stop()
            self._poller = None
        if self._ctx is not None:
            await self._ctx.aclose()
            self._ctx = None
        await self._repaint.stop()
        await asyncio.get_running_loop().run_in_executor(self._writer, self.log.close)
        self._writer.shutdown(wait=True)

    def end_at_once(self, outcome: str, reason: str) -> None:
        """Log ``session_ended`` and close the log, synchronously: for when the terminal is gone (SIGHUP).

        The event loop may not run again (output to a hung-up terminal can
        block), so this neither awaits nor folds; the process exits after it.
        """
        try:
            self.log.append("session_ended", {"outcome": outcome, "reason": reason}, self.actor)
        finally:
            self.log.close()

    async def append(self, kind: str, payload: dict[str, Any]) -> Acknowledged:
        """Append durably off the event loop, fold, repaint; return once committed."""
        record = await asyncio.get_running_loop().run_in_executor(
            self._writer, self.log.append, kind, payload, self.actor
        )
        self._fold(record)
        if kind == "condition_acknowledged" and self._poller is not None:
            evaluator = self._poller.evaluators.get(payload.get("condition"))
            if evaluator is not None:
                evaluator.acknowledge()
        return Acknowledged(record.seq, record.ts)

    def _fold(self, record: EventRecord) -> None:
        self._reducer.apply(record)
        self._repaint.mark()

    def _on_result(self, reading: Reading | None, statuses: list[ConditionStatus]) -> None:
        """The poller's callback, on the event loop: keep the tick, log state changes."""
        if reading is not None:
            tick = self.log.record_reading(reading, statuses)  # in-memory batch; never blocks on disk
            if tick is not None:
                self._reducer.apply_tick(tick)
                self._repaint.mark()
        for status in statuses:
            previous = self._previous.get(status.id)
            if previous == status.state:
                continue
            self._previous[status.id] = status.state
            payload = _condition_payload(status, previous or ConditionState.UNKNOWN, self.runbook)
            future = asyncio.get_running_loop().run_in_executor(
                self._writer, self.log.append, "condition_changed", payload, "system"
            )
            future.add_done_callback(self._condition_logged)

    def _condition_logged(self, future: asyncio.Future[EventRecord]) -> None:
        if not future.cancelled() and future.exception() is None:
            self._fold(future.result())


class FollowBackend:
    """A read-only view of a session another process is writing.

    It re-reads the file every ``interval`` seconds for new events and ticks,
    and keeps going when the writer exits and later resumes.
    """

    read_only = True
    view_label = "FOLLOW (read-only)"

    def __init__(self, path: str | Path, runbook: Runbook, *, interval: float = 0.5, clock: Clock | None = None) -> None:
        self.runbook = runbook
        self.db_path = str(path)
        self.actor = "follower"
        self.clock = clock or SystemClock()
        self.interval = interval
        self._log = SessionLog.open_readonly(path)
        self._reducer = Reducer(runbook)
        self._task: asyncio.Task[None] | None = None
        self._last_seq = 0
        self._last_tick_id = self._log.last_tick_id()
        self._fold(self._log.events(), self._log.latest_ticks(per_check=self._reducer.ticks_kept))

    def now(self) -> datetime:
        return self.clock.now()

    def state(self) -> SessionState:
        return self._reducer.state(now=self.clock.now())

    def _read(self) -> tuple[list[EventRecord], list[TickRecord]]:
        """What was written since the last read (runs in a thread; folds nothing)."""
        events = self._log.events(after_seq=self._last_seq)
        ticks, self._last_tick_id = self._log.ticks_written_after(self._last_tick_id)
        return events, ticks

    def _fold(self, events: list[EventRecord], ticks: list[TickRecord]) -> bool:
        for event in events:
            self._reducer.apply(event)
            self._last_seq = event.seq
        for tick in ticks:
            self._reducer.apply_tick(tick)
        return bool(events or ticks)

    async def start(self, on_change: Callable[[SessionState], None]) -> None:
        async def tail() -> None:
            while True:
                await asyncio.sleep(self.interval)
                if self._fold(*await asyncio.to_thread(self._read)):
                    on_change(self.state())

        self._task = asyncio.create_task(tail(), name="follow")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._log.close()

    async def append(self, kind: str, payload: dict[str, Any]) -> Acknowledged:
        raise ReadOnlySession(f"{kind}: this is a read-only view (follow)")
