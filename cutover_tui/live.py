"""The live and follow backends: the session log behind the dashboard.

``LiveBackend`` polls the runbook's checks (``checks.scheduler.Poller``),
writes readings and condition changes to the ``SessionLog``, and folds every
stored record through the one ``Reducer``. The screen never depends on a
write succeeding: the evaluators are the live truth (``LiveTruth``), and the
log records it. When the log cannot be written (disk full), condition
changes are held in memory with their original times and written, in order,
once it can; meanwhile the screen says so, and decisions are refused rather
than shown as done.

``FollowBackend`` tails a file another process writes and folds the same
records, read-only, and watches the writer's heartbeat: when the writer
stops, every condition is stale and the verdict is CANNOT VERIFY.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from checks.clock import Clock, SystemClock
from checks.reading import Reading
from checks.status import ConditionState, ConditionStatus
from cutover_tui.backend import Acknowledged, ReadOnlySession
from cutover_tui.causes import ChangeCauses, RecentReadings
from cutover_tui.reducer import Reducer
from cutover_tui.repaint import Coalescer
from cutover_tui.state import LiveTruth, SessionState
from cutover_tui.store import (
    EventRecord,
    SessionLog,
    TickRecord,
    describe_write_error,
    disk_full,
    lock_scope,
    writer_pid,
)
from runbooks.model import Runbook

#: How often held condition changes are retried while the log cannot be written, seconds.
RETRY_SECONDS = 1.0
#: A follower calls the writer stopped when its heartbeat (about once a second) has not moved for this long.
WRITER_SILENCE_SECONDS = 5.0
#: ... and this long when the log's disk is full: the writer cannot be writing, so a beat missed is news.
FULL_DISK_SILENCE_SECONDS = 1.5
#: A follower that has not read the log for this long (its own loop starved: a loaded machine, a suspend) knows
#: nothing newer than its last read, and says so rather than blame the writer for the silence.
VIEW_BEHIND_SECONDS = WRITER_SILENCE_SECONDS
#: This loop has not run ``_retry_held`` for this long: hung, as a polling thread silent for ``SILENCE_SECONDS``.
LOOP_SILENCE_SECONDS = 3.0
#: A writer's clock further than this from a follower's (as its heartbeat tells) is the one the follower counts on.
WRITERS_CLOCK_SECONDS = 2.0


class LogNotWriting(Exception):
    """The log cannot be written now: a decision is refused rather than shown as done."""


@dataclass(frozen=True, slots=True)
class _Held:
    """An event the log could not take yet, with the time it happened (``observed``: see ``SessionLog.append``)."""

    kind: str
    payload: dict[str, Any]
    actor: str
    ts: datetime
    observed: bool = False


def condition_payload(
    status: ConditionStatus, previous: ConditionState, runbook: Runbook, ticks: list[int] | None = None
) -> dict[str, Any]:
    """The ``condition_changed`` payload for a status (``cutover_tui.state`` lists its keys).

    ``ticks``: the stored readings behind the change (``cutover_tui.causes``).
    """
    condition = runbook.condition(status.id)
    payload = _condition_fields(status, previous, condition.threshold_text)
    if ticks is not None:
        payload["ticks"] = ticks
    if status.baseline is not None:
        payload["baseline"] = status.baseline.as_payload(runbook.checks[condition.check].unit)
    if status.comparison is not None:
        payload["judged"] = status.comparison.as_payload()
    return payload


def _condition_fields(status: ConditionStatus, previous: ConditionState, threshold: str) -> dict[str, Any]:
    return {
        "condition": status.id,
        "state": status.state.value,
        "previous": previous.value,
        "value": status.value,
        "threshold": threshold,
        "reason": status.reason,
        "detail": status.detail,
        "cause": status.cause,
        "breach_held": round(status.breach_held, 3),
        "consecutive_breaches": status.consecutive_breaches,
        "remaining": None if status.remaining is None else round(status.remaining, 3),
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
        defer_polling: start polling when the app says its first frame is on
            screen (``first_frame``), not in ``start``: the probes' HTTP stack is
            then imported after the screen appears.
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
        defer_polling: bool = False,
    ) -> None:
        self.runbook = runbook
        self.log = log
        self.actor = actor
        self.db_path = str(log.path)
        self.clock = clock or SystemClock()
        self._env = env
        self._poll = poll
        self._defer_polling = defer_polling
        self._stopped = False
        self._reducer = Reducer(runbook)
        # One writer thread: events reach the log, and the reducer, in the order they were asked for.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="session-log")
        self._repaint = Coalescer(self.state)
        self._poller: Any = None
        self._polling: Any = None  # the PollingThread the poller runs in
        self._ctx: Any = None
        # condition -> (state, cause, flapping) last sent to the log: a follower, a replay and ``status`` judge a
        # flapping condition AT RISK from the log alone, so the flag's changes are logged as the state's are.
        self._logged: dict[str, tuple[ConditionState, str, bool]] = {}
        self._held: deque[_Held] = deque()  # written by the writer thread only
        self._held_problem: str | None = None
        self._held_since: datetime | None = None
        self._retry: asyncio.Task[None] | None = None
        self._loop_beat = time.monotonic()  # when this loop last ran ``_retry_held``
        self._loop: asyncio.AbstractEventLoop | None = None
        # Baselines (cutover_tui.baselines), the readings behind each change and the last raw readings (causes).
        self._baselines: Any = None
        self._causes = ChangeCauses()
        self.recent_readings = RecentReadings()
        events = log.events()
        for event in events:
            self._reducer.apply(event)
        # The samples read from Prometheus before: the baselines are seeded with them (``cutover_tui.baselines``).
        self._fetched = [event for event in events if event.kind == "baseline_fetched"]
        for tick in log.latest_ticks(per_check=self._reducer.ticks_kept):
            self._reducer.apply_tick(tick)

    def now(self) -> datetime:
        return self.clock.now()

    def state(self) -> SessionState:
        return self._reducer.state(now=self.clock.now(), live=self._truth())

    def _truth(self) -> LiveTruth:
        """What the evaluators and the writer know now, beyond what the log holds."""
        problem, since = self.log_problem()
        if self._poller is None:
            return LiveTruth(log_problem=problem, log_problem_since=since)
        mono = self.clock.monotonic()
        latest = dict(self._poller.latest)  # a copy at once: the polling thread adds to it
        readings = {cid: (r, max(0.0, mono - r.monotonic)) for cid, r in latest.items()}
        silent = self._polling.silent_for() if self._polling is not None else None
        stopped = self.clock.now() - timedelta(seconds=silent) if silent is not None else None
        return LiveTruth(
            statuses=self._poller.statuses, readings=readings, log_problem=problem, log_problem_since=since,
            polling_stopped_at=stopped,
        )  # fmt: skip

    def log_problem(self) -> tuple[str | None, datetime | None]:
        """Why the log is not being written now, and since when; ``(None, None)`` while it is."""
        health = self.log.write_health
        if not health.ok:
            return health.error, health.failing_since
        if self._held:
            return self._held_problem or "condition changes waiting to be written", self._held_since
        return None, None

    async def start(self, on_change: Callable[[SessionState], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._repaint.start(on_change)
        self._retry = asyncio.create_task(self._retry_held(), name="log-retry")
        if self._poll and not self._defer_polling:
            await self._start_polling()

    async def first_frame(self) -> None:
        """The screen shows its first frame: polling starts now if it was deferred."""
        if self._poll and self._defer_polling and self._poller is None and self._loop is not None and not self._stopped:
            await self._start_polling()

    async def _start_polling(self) -> None:
        """Poll in a thread of its own (``PollingThread``): the screen's loop never waits behind the polls.

        The evaluators are restored here from the log, then belong to the
        polling thread, with the probes' context and the baselines' supplier.
        """
        from checks.conditions import ConditionEvaluator
        from checks.probes.context import expected_silences
        from checks.scheduler import PollingThread

        evaluators = {}
        state = self.state()
        resumed = state.conditions
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
                    detail=view.detail,
                )
            evaluators[condition.id] = evaluator
            status = evaluator.status
            self._logged[condition.id] = (status.state, status.cause, status.flapping)
        silences = expected_silences(self.runbook.step(step_id) for step_id in self._reducer.active_step_ids())
        seen_from = self.log.info().created_at

        async def setup() -> Any:  # on the polling thread's loop
            from checks.probes import ProbeContext
            from checks.scheduler import Poller

            ctx = ProbeContext(self.runbook, env=self._env, clock=self.clock)
            ctx.expected_silences = silences
            self._ctx = ctx
            self._start_baselines(evaluators, t0=state.t0, seen_from=seen_from)
            return Poller(self.runbook, ctx, evaluators=evaluators)

        async def teardown() -> None:  # on the polling thread's loop
            if self._baselines is not None:
                await self._baselines.stop()
            if self._ctx is not None:
                await self._ctx.aclose()

        polling = self._polling = PollingThread(setup, self._on_results, teardown=teardown, name="polling")
        self._poller = await polling.start()
        self.log.heartbeat_while = self._watched

    def _watched(self) -> bool:
        """What the heartbeat vouches for (``docs/semantics.md``): the polling thread beats, this loop takes its
        results and logs what changed, and no change waits in memory. Asked by the log's flush thread."""
        polling, silent = self._polling, time.monotonic() - self._loop_beat
        return polling is not None and polling.alive and silent < LOOP_SILENCE_SECONDS and not self._held

    def _start_baselines(
        self, evaluators: dict[str, Any], *, t0: Any = None, seen_from: datetime | None = None
    ) -> None:
        """Place the baseline windows at T0 and feed them from the log or Prometheus (``cutover_tui.baselines``).

        Runs where the evaluators live: on the polling thread's loop.
        """
        from cutover_tui.baselines import BaselineSupplier

        supplier = BaselineSupplier(
            self.runbook, evaluators, ctx=self._ctx, log=self.log, record=self._log_system,
            seen_from=seen_from or self.log.info().created_at,
        )  # fmt: skip
        if supplier.needed:
            self._baselines = supplier
            supplier.start(t0 if t0 is not None else self.state().t0, self._fetched)
        self._fetched = []  # only the supplier logs more of them, and it seeds itself with what it reads

    def _to_polling(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback`` where the evaluators live: on the polling thread's loop, or here without one."""
        if self._polling is not None:
            self._polling.call_soon(callback, *args)
        else:
            callback(*args)

    async def stop(self) -> None:
        self._stopped = True
        if self._polling is not None:
            await self._polling.stop()  # the poller, the baselines, the probes' context: in their thread
        else:
            if self._baselines is not None:
                await self._baselines.stop()
            if self._poller is not None and hasattr(self._poller, "stop"):
                await self._poller.stop()
            if self._ctx is not None:
                await self._ctx.aclose()
        self._ctx = None
        if self._retry is not None:
            self._retry.cancel()
            await asyncio.gather(self._retry, return_exceptions=True)
        await self._repaint.stop()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer, self._write_held)  # a last try; what fails stays unwritten
        try:
            await loop.run_in_executor(self._writer, self.log.close)
        except sqlite3.Error:
            pass  # closed all the same; what failed is in ``log.write_health``, which `run` prints as it exits
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
        """Append durably off the event loop, fold, repaint; return once committed.

        Raises:
            LogNotWriting: the log cannot be written (condition changes held
                from before are written first, in order; if that fails too,
                nothing is written and nothing is shown as done).
        """
        record = await asyncio.get_running_loop().run_in_executor(self._writer, self._write_now, kind, payload)
        self._fold(record)
        if kind == "condition_acknowledged" and self._poller is not None:
            evaluator = self._poller.evaluators.get(payload.get("condition"))
            if evaluator is not None:
                self._to_polling(evaluator.acknowledge)
        return Acknowledged(record.seq, record.ts)

    def _write_now(self, kind: str, payload: dict[str, Any]) -> EventRecord:
        """In the writer thread: what is held first, then this event; refuse when either fails."""
        self._write_held()
        if self._held:
            raise LogNotWriting(f"LOG NOT WRITING: {self._held_problem} — decisions cannot be recorded")
        try:
            return self.log.append(kind, payload, self.actor)
        except sqlite3.Error as error:
            raise LogNotWriting(
                f"LOG NOT WRITING: {describe_write_error(error)} — decisions cannot be recorded"
            ) from None

    def _write_held(self) -> None:
        """In the writer thread: write held events in order, each with its original time, until one fails."""
        while self._held:
            event = self._held[0]
            late = round((self.clock.now() - event.ts).total_seconds(), 3)
            payload = {**event.payload, "written_late_by": late}
            try:
                record = self.log.append(event.kind, payload, event.actor, ts=event.ts, observed=event.observed)
            except sqlite3.Error as error:
                self._held_problem = describe_write_error(error)
                return
            self._held.popleft()
            self._fold_soon(record)
        self._held_problem, self._held_since = None, None
        self.log.hold_readings(False)

    def _log_in_background(
        self, kind: str, payload: dict[str, Any], actor: str, *, observed_at: datetime | None = None
    ) -> None:
        """Queue a system event for the writer thread; a failure holds it, never drops it.

        ``observed_at``: when what it records was observed (a condition change: when its poll's answer came), else now.
        """
        now = self.clock.now()
        if observed_at is not None and observed_at <= now:
            event = _Held(kind, payload, actor, observed_at, observed=True)
        else:
            event = _Held(kind, payload, actor, now)

        def write() -> None:
            if self._held:
                self._held.append(event)
                self._write_held()
                return
            try:
                record = self.log.append(kind, payload, actor, ts=event.ts, observed=event.observed)
            except sqlite3.Error as error:
                self._held_problem = describe_write_error(error)
                self._held_since = self._held_since or event.ts
                self._held.append(event)
                self.log.hold_readings(True)  # they would date it at their own write (``hold_readings``)
                return
            self._fold_soon(record)

        self._writer.submit(write)

    def _fold_soon(self, record: EventRecord) -> None:
        """From the writer thread: fold a record on the loop."""
        if self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._fold, record)
        except RuntimeError:  # the loop has closed: the record is in the log, a resume folds it
            pass

    async def _retry_held(self) -> None:
        while True:
            await asyncio.sleep(RETRY_SECONDS)
            self._loop_beat = time.monotonic()  # this loop still runs: ``_watched``
            if self._held:
                await self._loop.run_in_executor(self._writer, self._write_held)
                self._repaint.mark()  # the held count (the screen's clock moves the banner's "for 42s")

    def _fold(self, record: EventRecord) -> None:
        self._reducer.apply(record)
        if record.kind.startswith("step_") or record.kind == "rollback_started":
            self._expect_silences()
        if record.kind == "t0_set" and self._baselines is not None:
            self._to_polling(self._baselines.on_t0, self.state().t0)
        self._repaint.mark()

    def _expect_silences(self) -> None:
        """The alerts probe expects the silences the active steps name (``expect_silenced``), and no others."""
        if self._ctx is not None:
            from checks.probes.context import expected_silences

            active = [self.runbook.step(step_id) for step_id in self._reducer.active_step_ids()]
            self._ctx.expected_silences = expected_silences(active)  # one tuple replaced: safe from this thread

    def _on_results(self, results: list[tuple[Reading | None, list[ConditionStatus]]]) -> None:
        """A batch from the polling thread, on the screen's loop, in the order the polls ended."""
        for reading, statuses in results:
            self._on_result(reading, statuses)

    def _on_result(self, reading: Reading | None, statuses: list[ConditionStatus]) -> None:
        """One poll's result (or a staleness tick's changes), on the screen's loop: keep the tick, log what changed."""
        tick = None
        if reading is not None:
            tick = self.log.record_reading(reading, statuses)  # in-memory batch; never blocks on disk
            if tick is not None:
                self._reducer.apply_tick(tick)
                if self._baselines is not None:
                    self._to_polling(self._baselines.note_tick, tick)
            self.recent_readings.add(reading, tick)
            self._causes.note(tick, statuses)
        for status in statuses:
            previous = self._logged.get(status.id)
            if previous == (status.state, status.cause, status.flapping):
                continue
            self._logged[status.id] = (status.state, status.cause, status.flapping)
            before = previous[0] if previous else ConditionState.UNKNOWN
            payload = condition_payload(status, before, self.runbook, self._causes.ids(status))
            self._log_in_background("condition_changed", payload, "system", observed_at=status.observed_at)
        self._repaint.mark()

    def why(self, condition_id: str) -> Any:
        """Why is it red? (``cutover_tui.why``): every recent poll, the evaluator's baseline and judgement."""
        from cutover_tui.why import from_live

        condition = self.runbook.condition(condition_id)
        status = self._poller.statuses.get(condition_id) if self._poller is not None else None
        view = self.state().conditions.get(condition_id)
        named = self._causes.ids(status) if status is not None else ()
        return from_live(
            self.runbook, condition, view, self.recent_readings.of(condition.check), named=named, status=status
        )

    def _log_system(self, kind: str, payload: dict[str, Any]) -> None:
        """Log an event of the session's own (a baseline read from Prometheus) in the background."""
        self._log_in_background(kind, payload, "system")


class FollowBackend:
    """A read-only view of a session another process is writing.

    It re-reads the file every ``interval`` seconds for new events and ticks,
    keeps going when the writer exits and later resumes, and watches the
    writer's heartbeat: when it stops moving for ``WRITER_SILENCE_SECONDS``
    (or the session ended), the view says the writer stopped and when, every
    condition is stale and the verdict is CANNOT VERIFY.
    """

    read_only = True
    view_label = "FOLLOW (read-only)"

    def __init__(
        self, path: str | Path, runbook: Runbook, *, interval: float = 0.5, clock: Clock | None = None
    ) -> None:
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
        self._beat: datetime | None = None
        self._beat_moved_at: float | None = None  # our monotonic time when the heartbeat last changed
        self._read_at: float | None = None  # our monotonic time when the log was last read
        self._last_write: datetime | None = None
        self._replaced_at: datetime | None = None  # when the writer changed to another runbook than ``runbook``
        self._holder: int | None = None  # the pid last seen holding the log's lock (this machine only)
        self._released = False  # that lock was let go: the writer is gone, whatever its heartbeat's age
        self._disk_full = False  # the log's file system had no space left at the last read
        # In write order: after the writer's clock stepped back, the readings written last are not the latest
        # stamped. Those written after every reading of these are folded too (at most what the fold keeps of every
        # check): a step back may have left them out of each check's latest by time.
        latest = sorted(self._log.latest_ticks(per_check=self._reducer.ticks_kept), key=lambda tick: tick.id or 0)
        self._fold(self._log.events(), latest)
        folded = max((tick.id for tick in latest if tick.id is not None), default=0)
        if folded > self._last_tick_id:  # written since the tail's start was read: the tail must not fold them again
            self._last_tick_id = folded
        elif folded < self._last_tick_id:
            kept = self._reducer.ticks_kept * len(self.runbook.checks)
            later, _ = self._log.ticks_written_after(folded, newest=kept)
            self._fold([], [tick for tick in later if tick.id is not None and tick.id <= self._last_tick_id])
        self._watch_writer(
            self._log.heartbeat_at(), self._log.last_write_ts, *self._lock_seen(), disk_full(self.db_path)
        )

    def now(self) -> datetime:
        return self._now()[0]

    def _now(self) -> tuple[datetime, bool]:
        """Now on the writer's clock, as its heartbeat tells, when that reads more than ``WRITERS_CLOCK_SECONDS`` from
        this machine's (and True); else this machine's (it moves smoothly).

        The log's times are the writer's, and what counts from them (a countdown, a time in state, T+) counts on
        the same clock: with the writer's clock an hour behind, a pending condition read "fires in 0:00" and "1h0m"
        here while the writer's screen counted down. Taken from when the heartbeat was last seen moving: at most a
        read's interval behind the writer's. Not once the writer's clock reads before its log's last event: it
        stepped back, and the log's times are on the clock before the step (this machine's, if it was right).
        """
        now = self.clock.now()
        if self._beat is None or self._beat_moved_at is None:
            return now, False
        writers = self._beat + timedelta(seconds=self.clock.monotonic() - self._beat_moved_at)
        head = self._reducer.last_event_ts
        stepped_back = head is not None and (head - writers).total_seconds() > WRITERS_CLOCK_SECONDS
        differs = abs((writers - now).total_seconds()) > WRITERS_CLOCK_SECONDS
        return (writers, True) if differs and not stepped_back else (now, False)

    def state(self) -> SessionState:
        stopped = self.writer_stopped_at()
        holding = self._holder if stopped is not None and self._reducer.ended is None else None  # as last read
        moved = self._beat_moved_at
        now, writers_clock = self._now()
        live = LiveTruth(
            writer_stopped_at=stopped,
            writer_silent_for=None if moved is None else self.clock.monotonic() - moved,
            writer_holding=holding,
            writer_disk_full=holding is not None and self._disk_full,
            view_behind_for=self._behind_for() if stopped is not None and not self._gone() else None,
            runbook_replaced_at=self._replaced_at,
            writers_clock=writers_clock,
        )
        return self._reducer.state(now=now, live=live)

    def writer_stopped_at(self) -> datetime | None:
        """When the writer was last seen alive, once it is gone, or once this view has not read the log for
        ``VIEW_BEHIND_SECONDS`` (it knows of no sign of life since); None while it runs."""
        last = self._beat or self._last_write
        if self._gone() or self._behind_for() is not None:
            return last or self.clock.now()
        silence = FULL_DISK_SILENCE_SECONDS if self._disk_full else WRITER_SILENCE_SECONDS
        # Silent for as long as the reads show it: the time since this view's last read is its own, not the writer's.
        if self._beat_moved_at is not None and (self._read_at or 0.0) - self._beat_moved_at <= silence:
            return None
        # Not seen moving yet: a heartbeat this fresh is a live writer; an older one is not, nor one ahead of
        # the clock (stamped before the clock stepped back: a live writer has stamped the stepped clock since).
        # A log that keeps heartbeats but has none is a copy no process writes: its last write is no sign of life.
        sign = self._beat if self._log.keeps_heartbeat else last
        if (
            self._beat_moved_at is None
            and sign is not None
            and abs((self.clock.now() - sign).total_seconds()) <= silence
        ):
            return None
        return last or self.clock.now()

    def _gone(self) -> bool:
        """The session ended, or the writer on this machine let its lock go."""
        return self._reducer.ended is not None or self._released

    def _behind_for(self) -> float | None:
        """Seconds since this view last read the log, once more than ``VIEW_BEHIND_SECONDS``; else None."""
        if self._read_at is None:
            return None
        behind = self.clock.monotonic() - self._read_at
        return behind if behind > VIEW_BEHIND_SECONDS else None

    def _lock_seen(self) -> tuple[int | None, bool]:
        """The pid holding the log's lock on this machine, and whether its last writer's lock would be seen here."""
        scope = self._log.writer_scope()
        return writer_pid(self.db_path), scope is not None and scope == lock_scope()

    def _watch_writer(
        self,
        beat: datetime | None,
        last_write: datetime | None,
        holder: int | None,
        here: bool = False,
        full: bool = False,
    ) -> None:
        """Note the heartbeat, the last write, the lock's holder and whether the log's disk is ``full``: a lock seen
        held and then let go is a writer gone now, and so is a lock not held whose writer wrote that it would be
        seen ``here`` (this boot and PID namespace: ``store.lock_scope``).

        A writer on this machine holds the log's ``flock`` while it runs, and
        the kernel lets it go the instant the process dies, so the follower
        need not wait out ``WRITER_SILENCE_SECONDS``, nor `status` a moment
        after a ``kill -9``. A lock never seen held, from a writer elsewhere
        (another host, another PID namespace, NFS), leaves the heartbeat to
        tell. On a full disk a heartbeat missed is news:
        ``FULL_DISK_SILENCE_SECONDS``.
        """
        self._read_at = self.clock.monotonic()
        self._last_write = last_write
        self._disk_full = full
        if beat is not None and beat != self._beat:
            if self._beat is not None:
                self._beat_moved_at = self._read_at
            self._beat = beat
        if holder is not None:
            self._released = False  # held again: a writer resumed the log
        elif self._holder is not None or here:
            self._released = True
        self._holder = holder

    def _read(
        self,
    ) -> tuple[list[EventRecord], list[TickRecord], datetime | None, datetime | None, int | None, bool, bool]:
        """What was written since the last read, the writer's heartbeat, the lock's holder, whether its writer's lock
        would be seen here, and whether the log's disk is full (runs in a thread; folds nothing)."""
        events = self._log.events(after_seq=self._last_seq)
        ticks, self._last_tick_id = self._log.ticks_written_after(self._last_tick_id)
        beat, last_write = self._log.heartbeat_at(), self._log.last_write_ts
        return events, ticks, beat, last_write, *self._lock_seen(), disk_full(self.db_path)

    def _fold(self, events: list[EventRecord], ticks: list[TickRecord]) -> bool:
        for event in events:
            if event.kind == "runbook_changed":  # to another runbook than this view's: it cannot judge the writer's
                self._replaced_at = None if event.payload.get("new_sha256") == self.runbook.sha256 else event.ts
            self._reducer.apply(event)
            self._last_seq = event.seq
        for tick in ticks:
            self._reducer.apply_tick(tick)
        return bool(events or ticks)

    async def start(self, on_change: Callable[[SessionState], None]) -> None:
        async def tail() -> None:
            stopped = self.writer_stopped_at()
            while True:
                await asyncio.sleep(self.interval)
                events, ticks, beat, last_write, holder, here, full = await asyncio.to_thread(self._read)
                self._watch_writer(beat, last_write, holder, here, full)
                now_stopped = self.writer_stopped_at()
                if self._fold(events, ticks) or (now_stopped is None) != (stopped is None):
                    on_change(self.state())
                stopped = now_stopped

        self._task = asyncio.create_task(tail(), name="follow")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._log.close()

    async def append(self, kind: str, payload: dict[str, Any]) -> Acknowledged:
        raise ReadOnlySession(f"{kind}: this is a read-only view (follow)")
