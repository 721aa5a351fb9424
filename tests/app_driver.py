"""Driving the real dashboard in a test, through its public surface and Pilot.

``open_dashboard(backend)`` runs the app over a backend (``app_backend``) and
gives a ``Dashboard``: the app, its pilot, the backend, every notice it showed
(Textual's ``Notify`` messages, seen through ``run_test``'s message hook) and
what the terminal shows (the app's own screenshot, read back as lines). The
``dashboard`` fixture (``conftest.py``) opens one for a test.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.cells import cell_len
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot
from textual.widgets import Static

from cutover_tui.app import CutoverApp, make_app
from cutover_tui.state import StepStatus
from cutover_tui.widgets.steps_table import StepsTable

#: The terminal most dashboard tests run in.
SIZE = (120, 36)

#: One run of text in Textual's SVG screenshot: its x (in pixels), its line, its characters.
_SVG_TEXT = re.compile(
    r'<text class="[^"]*" x="([0-9.]+)" y="[0-9.]+" textLength="[0-9.]+" clip-path="url\(#[\w-]+-line-(\d+)\)">([^<]*)</text>'
)
#: The width of one cell in that screenshot (Rich's export_svg: 0.61 × a 20 px font).
_CELL_PX = 12.2


@dataclass
class Dashboard:
    """The real app over a test backend, with its pilot and every message it handled."""

    app: CutoverApp
    pilot: Pilot[None]
    backend: Any
    messages: list[Message] = field(default_factory=list)

    @property
    def notices(self) -> list[str]:
        """Every notification shown so far, in order (each ``notify``)."""
        return [message.notification.message for message in self.messages if isinstance(message, Notify)]

    async def settle(self) -> None:
        """Let every worker finish (appends) and the resulting state render; a dialog left open fails fast."""
        await settle(self.pilot)

    async def select(self, step_id: str) -> None:
        """Put the timeline cursor on ``step_id``."""
        await select(self.pilot, step_id)

    def step_status(self, step_id: str) -> StepStatus:
        """The status the dashboard's state gives ``step_id``."""
        return step_status(self.app, step_id)

    def text(self, selector: str) -> str:
        """What the ``Static`` at ``selector`` shows."""
        return str(self.app.query_one(selector, Static).render())

    def screen_lines(self) -> list[str]:
        """The terminal's lines as the user sees them now (read from the app's screenshot)."""
        return screen_lines(self.app)


async def settle(pilot: Pilot[Any]) -> None:
    """Let every worker finish (appends) and the resulting state render; a dialog left open fails fast."""
    await asyncio.wait_for(pilot.app.workers.wait_for_complete(), timeout=10)
    await pilot.pause()


async def select(pilot: Pilot[Any], step_id: str) -> None:
    """Put the timeline cursor on ``step_id``."""
    pilot.app.query_one(StepsTable).select_step(step_id)
    await pilot.pause()


def step_status(app: CutoverApp, step_id: str) -> StepStatus:
    """The status the dashboard's state gives ``step_id``."""
    return next(step.status for step in app.session.steps if step.id == step_id)


async def wait_until(pilot: Pilot[Any], predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Pause until ``predicate()`` holds (a timer has ticked), at most ``timeout`` seconds."""
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await pilot.pause(0.05)
    assert predicate()


def screen_lines(app: CutoverApp) -> list[str]:
    """The terminal's lines as the user sees them now, read back from ``App.export_screenshot``."""
    width, height = app.size
    cells = [[" "] * width for _ in range(height)]
    for x, line, text in _SVG_TEXT.findall(app.export_screenshot()):
        column, row = round(float(x) / _CELL_PX), int(line)
        for char in html.unescape(text).replace("\xa0", " "):  # the screenshot writes each space as &#160;
            cells_wide = max(cell_len(char), 1)
            if 0 <= row < height and 0 <= column < width:
                cells[row][column] = char
                for covered in range(column + 1, min(column + cells_wide, width)):
                    cells[row][covered] = ""  # a wide character covers the next cell
            column += cells_wide
    return ["".join(row) for row in cells]


@asynccontextmanager
async def open_dashboard(
    backend: Any, *, size: tuple[int, int] = SIZE, clock_tick: float = 1.0
) -> AsyncIterator[Dashboard]:
    """The dashboard over ``backend`` in a ``size`` terminal, until the block ends."""
    messages: list[Message] = []
    app = make_app(backend, clock_tick=clock_tick)
    async with app.run_test(size=size, message_hook=messages.append) as pilot:
        yield Dashboard(app, pilot, backend, messages)
