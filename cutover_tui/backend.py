"""What the Textual app talks to: a session backend.

The app never touches a data source or the database. It renders the
``SessionState`` a backend gives it and turns keys into commands. Three
backends implement this protocol:

- live (``cutover-tui run`` / ``demo``): polls checks, evaluates stop
  conditions, appends events durably to the session log;
- follow: tails a log another process writes (read-only);
- replay: folds the log up to a scrubbed instant (read-only); it is also a
  ``Scrubber``, which the replay bar moves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from cutover_tui.state import SessionState
from runbooks.model import Runbook


class ReadOnlySession(Exception):
    """Raised by ``append`` on a follow or replay backend."""


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """An event the log has committed (fsynced): safe to show as done."""

    seq: int
    ts: datetime


class SessionBackend(Protocol):
    runbook: Runbook
    read_only: bool
    actor: str
    db_path: str

    def now(self) -> datetime:
        """The instant the screen shows: wall clock live, the scrubber in replay."""

    def state(self) -> SessionState:
        """The current folded state (cheap: incrementally maintained)."""

    async def start(self, on_change: Callable[[SessionState], None]) -> None:
        """Begin polling / tailing. ``on_change`` is called on the app's event loop,
        coalesced (at most a few times a second), whenever the state changed."""

    async def stop(self) -> None:
        """Stop background work and close the log (flushing pending ticks)."""

    async def append(self, kind: str, payload: dict[str, Any]) -> Acknowledged:
        """Append one event (kinds in ``cutover_tui.state``) durably; runs the
        write off the event loop. Raises ``ReadOnlySession`` when read-only."""


@dataclass(frozen=True, slots=True)
class ScrubberView:
    """Where a replay is, as the replay bar draws it: the span, the position, the marks, the play state."""

    start_at: datetime
    end_at: datetime
    position: datetime
    t0: datetime | None  # T-0 as the position sees it
    marks: tuple[tuple[datetime, str], ...]  # where decisions, firings and other changes fall, and their kind
    label: str  # ``REPLAY ▶ 10×``, ``REPLAY ❚❚ paused``


@runtime_checkable
class Scrubber(Protocol):
    """A backend whose instant the operator moves (replay): what the replay bar calls.

    Each move hands the app the state at the new position (``on_change``), and
    the app hands the bar the new ``scrubber_view()``.
    """

    def scrubber_view(self) -> ScrubberView:
        """Where the replay is now."""

    def play_pause(self) -> None:
        """Play from the position, or pause; at the end, stay paused."""

    def change_speed(self, steps: int) -> None:
        """Play faster (``+1``) or slower (``-1``), within the speeds there are."""

    def seek_by(self, delta: timedelta) -> None:
        """Move the position by ``delta`` (clamped to the session)."""

    def seek_mark(self, direction: int) -> None:
        """Move to the next (``+1``) or previous (``-1``) mark; past the last, to the end or the start."""

    def seek_t0(self) -> str | None:
        """Move to T-0; why not, or where it landed instead, when it could not go there exactly."""

    def seek_end(self) -> None:
        """Move to the end of the session."""
