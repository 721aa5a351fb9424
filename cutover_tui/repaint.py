"""Repaints coalesced: a burst of readings becomes at most ``REPAINTS_PER_SECOND`` states a second."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from cutover_tui.state import SessionState

#: Readings are coalesced into at most this many repaints a second.
REPAINTS_PER_SECOND = 2


class Coalescer:
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
