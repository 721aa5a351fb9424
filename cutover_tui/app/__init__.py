"""The live dashboard: renders a ``SessionState`` and turns keys into events.

The app keeps no session state of its own. A backend (live, follow, replay)
hands it states; every action is ``await backend.append(kind, payload)``, and
the screen changes only when the next state, folded from the log, shows it.

Besides ``SessionBackend``, a backend may offer (all optional):

- ``view_label: str`` — shown before the mode, e.g. ``FOLLOW (read-only)``, ``REPLAY``;
- the ``Scrubber`` methods (``cutover_tui.backend``; replay): the dashboard then
  shows the replay bar above the footer, which owns the keys that play, pause
  and seek (shown in the footer, the help and the palette) and draws the
  backend's ``scrubber_view()`` with each state;
- ``first_frame()`` (a coroutine) — awaited once the first frame is on screen
  (a live backend may start polling then, so the screen never waits for it).

The package:

- ``dashboard``: ``CutoverApp`` (and its read-only and replay variants): the
  layout, the states it draws, the keys that apply now, the actions;
- ``dialogs``: the flows behind the actions (a dialog, then the events
  ``cutover_tui.flows`` returns) and the session's end (quit, SIGTERM, SIGHUP);
- ``actions``: the one table of actions (keys, footer words, palette, writes).

>>> app = make_app(backend)  # doctest: +SKIP
>>> app.run()                 # doctest: +SKIP
"""

from cutover_tui.app.actions import ACTIONS, COMMANDS, READ_ONLY_NOTICE, WRITE_ACTIONS, DashboardAction
from cutover_tui.app.dashboard import (
    MIN_HEIGHT,
    MIN_WIDTH,
    CutoverApp,
    ReadOnlyCutoverApp,
    ReplayCutoverApp,
    StateChanged,
    make_app,
)
from cutover_tui.flows import ending_outcome

__all__ = [
    "ACTIONS",
    "COMMANDS",
    "MIN_HEIGHT",
    "MIN_WIDTH",
    "READ_ONLY_NOTICE",
    "WRITE_ACTIONS",
    "CutoverApp",
    "DashboardAction",
    "ReadOnlyCutoverApp",
    "ReplayCutoverApp",
    "StateChanged",
    "ending_outcome",
    "make_app",
]
