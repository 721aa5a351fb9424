"""Replay: the dashboard driven by a time scrubber instead of the clock.

The screen at instant ``t`` is the one the live dashboard showed at ``t``: the
same ``Reducer`` folds the log's events up to ``t`` and the ticks stored up to
``t``. Seeking is fast on long logs because the events are folded once into
checkpoints (``Reducer.checkpoint()`` every ``CHECKPOINT_EVERY`` events:
immutable records, shared, never deep-copied). A seek resumes from the nearest
checkpoint before ``t`` and folds the few events after it. The state at ``t``
then reads the ticks it needs from the file's index
(``SessionLog.seek_ticks``) as its views are looked at: the verdict reads the
current step's gate checks, the alerts pane the alerts checks, a banner or a
countdown its condition's latest reading, a condition card on screen its
sparkline window. A screen showing ten conditions of 400 reads ten windows.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cutover_tui.backend import Acknowledged, ReadOnlySession, ScrubberView
from cutover_tui.reducer import Checkpoint, Reducer
from cutover_tui.state import SessionState
from cutover_tui.store import EventRecord, SessionLog, TickRecord, parse_ts
from runbooks.model import Runbook

#: Events between checkpoints: a seek folds half as many after its checkpoint on average.
CHECKPOINT_EVERY = 25
SPEEDS = (1, 10, 60, 600)
#: Event kinds the "previous / next" keys stop at.
MARK_KINDS = frozenset({"decision", "condition_changed", "rollback_started", "t0_set", "session_resumed"})


class ReplayBackend:
    """A read-only session backend whose ``now()`` is the scrubber's position (a ``Scrubber``: the replay bar moves it).

    Args:
        path: the session log.
        runbook: the runbook stored in it (``runbook_from_log``).
        tick: seconds between frames while playing.
    """

    read_only = True

    def __init__(self, path: str | Path, runbook: Runbook, *, tick: float = 0.25) -> None:
        self.runbook = runbook
        self.db_path = str(path)
        self.actor = "reviewer"
        self.tick = tick
        self._log = SessionLog.open_readonly(path)
        self._closed = False
        self.events: list[EventRecord] = self._log.events()
        if not self.events:
            raise ValueError(f"{path}: the log holds no events to replay")
        self.start_at = self.events[0].ts
        last_tick = self._log.last_write_ts
        self.end_at = max(self.events[-1].ts, last_tick) if last_tick else self.events[-1].ts
        self._times = [event.ts for event in self.events]
        self._marks = [
            (e.ts, e.payload.get("state", "") if e.kind == "condition_changed" else e.kind)
            for e in self.events
            if e.kind in MARK_KINDS
        ]
        self._checkpoints: list[Checkpoint] = []  # the events folded after every CHECKPOINT_EVERY events
        reducer = Reducer(runbook)
        self._start = reducer.checkpoint()
        for index, event in enumerate(self.events, start=1):
            reducer.apply(event)
            if index % CHECKPOINT_EVERY == 0:
                self._checkpoints.append(reducer.checkpoint())
        self.position = self.start_at
        self.playing = False
        self.speed = SPEEDS[1]
        self._state = self.seek(self.start_at)
        self._on_change: Callable[[SessionState], None] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def view_label(self) -> str:
        play = f"▶ {self.speed}×" if self.playing else "❚❚ paused"
        return f"REPLAY {play}"

    def now(self) -> datetime:
        return self.position

    def state(self) -> SessionState:
        return self._state

    # ------------------------------------------------------------ seeking

    def seek(self, instant: datetime) -> SessionState:
        """Fold the log up to ``instant`` (clamped to the session) and make it the current state."""
        instant = min(max(instant, self.start_at), self.end_at)
        reducer = self.events_until(instant)
        self.position = instant
        self._state = reducer.state(now=instant, read_ticks=self._read_ticks)
        return self._state

    def events_until(self, instant: datetime) -> Reducer:
        """A reducer that folded every event up to ``instant`` and no tick: the checkpoint before it and the events after that."""
        folded = bisect.bisect_right(self._times, instant)
        index = folded // CHECKPOINT_EVERY  # checkpoint i holds the first (i + 1) * CHECKPOINT_EVERY events
        reducer = Reducer.from_checkpoint(self.runbook, self._checkpoints[index - 1] if index > 0 else self._start)
        for event in self.events[index * CHECKPOINT_EVERY : folded]:
            reducer.apply(event)
        return reducer

    def _read_ticks(
        self, until: datetime, windows: Mapping[str, datetime], *, checks: Iterable[str]
    ) -> list[TickRecord]:
        """``SessionLog.seek_ticks``, for the views of a state: one looked at after ``stop`` reads the file again."""
        if not self._closed:
            return self._log.seek_ticks(until, windows, checks=checks)
        with SessionLog.open_readonly(self.db_path) as log:
            return log.seek_ticks(until, windows, checks=checks)

    def marks(self) -> list[tuple[datetime, str]]:
        """Where decisions, firings and other state changes fall, for the timeline bar."""
        return self._marks

    def next_mark(self, direction: int) -> datetime:
        """The instant of the next (+1) or previous (-1) decision or state change from the position."""
        times = [instant for instant, _ in self._marks]
        if direction > 0:
            index = bisect.bisect_right(times, self.position)
            return times[index] if index < len(times) else self.end_at
        index = bisect.bisect_left(times, self.position)
        return times[index - 1] if index > 0 else self.start_at

    def t0(self) -> datetime | None:
        """T-0 as the position sees it, else the first T-0 the log sets later; None when the session never had one."""
        if self._state.t0 is not None:
            return self._state.t0
        for event in self.events:
            if event.kind == "t0_set" and event.payload.get("t0"):
                return parse_ts(str(event.payload["t0"]))
        return None

    # ------------------------------------------------------------ the scrubber (``cutover_tui.backend.Scrubber``)

    def scrubber_view(self) -> ScrubberView:
        """Where the replay is, for the replay bar."""
        return ScrubberView(
            self.start_at, self.end_at, self.position, self._state.t0, tuple(self.marks()), self.view_label
        )

    def play_pause(self) -> None:
        self.playing = not self.playing and self.position < self.end_at
        self._changed()

    def change_speed(self, steps: int) -> None:
        index = SPEEDS.index(self.speed) + steps
        self.speed = SPEEDS[min(max(index, 0), len(SPEEDS) - 1)]
        self._changed()

    def seek_by(self, delta: timedelta) -> None:
        self.seek(self.position + delta)
        self._changed()

    def seek_mark(self, direction: int) -> None:
        self.seek(self.next_mark(direction))
        self._changed()

    def seek_end(self) -> None:
        self.seek(self.end_at)
        self._changed()

    def seek_t0(self) -> str | None:
        """Go to T-0; when the session never set one, or it falls outside the log, say so."""
        t0 = self.t0()
        if t0 is None:
            return "This session never set T-0: home has nowhere to go (end goes to the end)."
        self.seek(t0)
        self._changed()
        if t0 < self.start_at:
            return f"T-0 ({t0:%H:%M:%S} UTC) is before the log begins: at its start."
        if t0 > self.end_at:
            return f"T-0 ({t0:%H:%M:%S} UTC) is after the log ends: at its end."
        return None

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self._state)

    # ------------------------------------------------------------ playing

    async def start(self, on_change: Callable[[SessionState], None]) -> None:
        self._on_change = on_change

        async def play() -> None:
            while True:
                await asyncio.sleep(self.tick)
                if self.playing:
                    self.seek(self.position + timedelta(seconds=self.tick * self.speed))
                    self.playing = self.position < self.end_at
                    self._changed()

        self._task = asyncio.create_task(play(), name="replay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._closed = True
        self._log.close()

    async def append(self, kind: str, payload: dict[str, Any]) -> Acknowledged:
        raise ReadOnlySession(f"{kind}: this is a read-only view (replay)")
