"""The cyclic collector's full passes skip what survived the last one, and a periodic sweep still frees cycles among it."""

from __future__ import annotations

import gc
import weakref

from cutover_tui.collector import SurvivorFreezer


class _Node:
    """An object that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.other: _Node | None = None


def test_a_full_collection_freezes_its_survivors() -> None:
    """An object alive at a full collection is frozen after it: the next passes do not walk it."""
    freezer = SurvivorFreezer(sweep_seconds=60.0, clock=lambda: 0.0)
    freezer.install()
    try:
        kept = _Node()
        gc.collect()
        assert not any(obj is kept for obj in gc.get_objects())
        assert gc.get_freeze_count() > 0
    finally:
        freezer.remove()
    assert any(obj is kept for obj in gc.get_objects())  # removed: everything is walked again


def test_a_sweep_frees_a_cycle_that_died_while_frozen() -> None:
    """A frozen cycle that becomes garbage stays until the sweep, whose full pass frees it."""
    now = [0.0]
    freezer = SurvivorFreezer(sweep_seconds=60.0, clock=lambda: now[0])
    freezer.install()
    try:
        held = _Node()
        held.other = _Node()
        held.other.other = held
        cycle = weakref.ref(held)
        gc.collect()  # alive: frozen after this full pass
        del held
        gc.collect()  # garbage now, but frozen: this pass does not walk it
        assert cycle() is not None
        now[0] = 61.0
        gc.collect()  # sweep due: everything is thawed for the next full pass
        gc.collect()  # that pass walks everything and frees the cycle, then freezes the survivors again
        assert cycle() is None
        assert freezer.sweeps == 1
        assert gc.get_freeze_count() > 0
    finally:
        freezer.remove()
