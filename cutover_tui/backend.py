"""What the Textual app talks to: a session backend.

The app never touches a data source or the database. It renders the
``SessionState`` a backend gives it and turns keys into commands. Three
backends implement this protocol:

- live (``cutover-tui run`` / ``demo``): polls checks, evaluates stop
  conditions, appends events durably to the session log;
- follow: tails a log another process writes (read-only);
- replay: folds the log up to a scrubbed instant (read-only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

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
