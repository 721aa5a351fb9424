"""Keeping the cyclic garbage collector's full passes short while the dashboard runs.

A full collection walks every object the collector tracks and holds the GIL
meanwhile: every thread waits, the screen's too, and a key pressed then waits
with it. What lives long (modules, widgets, the runbook, the fold's records,
Textual's caches of rendered lines) would be walked again at every pass,
though a pass almost never finds garbage among it.

``SurvivorFreezer`` freezes (``gc.freeze``) what start-up made, and then,
after every full collection, what survived it: the next passes walk only what
was made since. Frozen objects that reference counting frees (nearly all of
them: a reading, a tick, a rendered line evicted from its cache) are freed as
before. Only a frozen object that later becomes part of a reference cycle
with no way in (a dialog's widgets once it closed, say) would wait: so every
``SWEEP_SECONDS`` everything is thawed (``gc.unfreeze``) and the next full
pass walks it all once, freeing any such garbage, before its survivors are
frozen again. Memory then stays as flat as without freezing; one pass in
``SWEEP_SECONDS`` is as long as every pass was before.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

#: Every this many seconds the next full collection walks everything, frozen or not.
SWEEP_SECONDS = 600.0


class SurvivorFreezer:
    """Freezes what survives each full collection; thaws everything every ``sweep_seconds`` for one pass.

    Args:
        sweep_seconds: how often a full pass walks everything.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(self, sweep_seconds: float = SWEEP_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.sweep_seconds = sweep_seconds
        self._clock = clock
        self._installed = False
        self._swept_at = 0.0
        self._thawed = False  # everything is thawed: the next full pass walks it all
        self.sweeps = 0  # full passes that walked everything

    def install(self) -> None:
        """Freeze what exists now (start-up's objects) and every full collection's survivors from now on."""
        if self._installed:
            return
        gc.freeze()
        self._swept_at = self._clock()
        gc.callbacks.append(self._after_collection)
        self._installed = True

    def remove(self) -> None:
        """Stop freezing, and thaw everything: the collector walks it all again."""
        if not self._installed:
            return
        self._installed = False
        if self._after_collection in gc.callbacks:
            gc.callbacks.remove(self._after_collection)
        gc.unfreeze()

    def _after_collection(self, phase: str, info: dict[str, Any]) -> None:
        """``gc.callbacks``: at the end of a full collection, freeze its survivors, or thaw everything for the next."""
        if phase != "stop" or info.get("generation") != 2 or not self._installed:
            return
        if self._thawed:  # this pass walked everything: its garbage is gone
            self._thawed = False
            self.sweeps += 1
            self._swept_at = self._clock()
        elif self._clock() - self._swept_at >= self.sweep_seconds:
            gc.unfreeze()
            self._thawed = True
            return
        gc.freeze()
