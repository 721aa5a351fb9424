"""The one reducer: events (and ticks up to an instant) -> ``SessionState``.

Live mode, resume, follow, replay and the report all derive what they show
here; nothing else keeps session state. The fold is pure: no I/O and no
clock — "now" is the ``until`` instant or the latest record folded.

Two forms with equal results (``tests/unit/test_reducer.py`` checks it):

- ``reduce_events(runbook, events, ticks, until=...)`` folds from scratch;
- ``Reducer``: ``apply(event)`` / ``apply_tick(tick)`` as they are written,
  ``state()`` whenever the screen wants one, so a live session never refolds
  72 hours of events.

Ticks: the reducer keeps only the last ``history + 1`` ticks of each check
(``Reducer.ticks_kept``); ``SessionLog.latest_ticks`` fetches exactly those.

The package: ``session`` (``Reducer``: the fold and ``state()``; ``reduce_events``),
``fold`` (the fold of events and ticks, checkpoints), ``records`` (what the
fold keeps, checkpoints), ``derivation`` (a state at an instant), ``views``
(the lazy mappings a state hands out) and ``helpers``.
"""

from cutover_tui.reducer.fold import LOG_LINES
from cutover_tui.reducer.helpers import (
    _alert_view,  # noqa: F401 - the name the reducer had before its split
    evidence_item_text,
)
from cutover_tui.reducer.records import Checkpoint
from cutover_tui.reducer.session import Reducer, reduce_events
from cutover_tui.reducer.views import TickReader, Views

__all__ = [
    "Checkpoint",
    "LOG_LINES",
    "Reducer",
    "TickReader",
    "Views",
    "evidence_item_text",
    "reduce_events",
]
