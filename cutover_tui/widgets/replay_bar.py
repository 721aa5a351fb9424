"""The replay scrubber: where the position is, and where decisions and firings fall."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from cutover_tui.labels import format_t_clock

if TYPE_CHECKING:
    from cutover_tui.replay import ReplayBackend

#: Marker and style per mark kind; firing and decisions stand out, never by colour alone.
MARKS: dict[str, tuple[str, str]] = {
    "decision": ("D", "bold cyan"),
    "firing": ("!", "bold red"),
    "rollback_started": ("R", "bold red"),
    "t0_set": ("0", "bold"),
    "session_resumed": ("~", "yellow"),
    # replay --what-if: where the changed condition would have pended, fired and cleared
    "what_if_pending": ("p", "magenta"),
    "what_if_firing": ("?", "bold magenta"),
    "what_if_ok": ("o", "magenta"),
}


class ReplayBar(Widget):
    """One line of timeline with marks, a cursor at the position, and the position's time."""

    DEFAULT_CSS = """
    ReplayBar {
        height: 2;
        padding: 0 1;
        background: $boost;
    }
    """

    def __init__(self, replay: ReplayBackend) -> None:
        super().__init__(id="replay-bar")
        self.replay = replay

    def render(self) -> RenderResult:
        replay = self.replay
        width = max(10, self.size.width - 2)
        span = max((replay.end_at - replay.start_at).total_seconds(), 1.0)

        def column(instant) -> int:
            return min(width - 1, int((instant - replay.start_at).total_seconds() / span * (width - 1)))

        cells = [("─", "dim")] * width
        for instant, kind in replay.marks():
            mark = MARKS.get(kind)
            if mark is not None:
                cells[column(instant)] = mark
        bar = Text()
        cursor = column(replay.position)
        for index, (char, style) in enumerate(cells):
            bar.append(char, style + (" reverse" if index == cursor else ""))
        t0 = replay.state().t0
        offset = f"{format_t_clock(replay.position, t0)}  " if t0 is not None else ""
        status = Text(
            f"{offset}{replay.position:%Y-%m-%d %H:%M:%S} UTC  {replay.view_label}   "
            "D decision  ! firing  R rollback  ~ dashboard down",
            style="bold",
        )
        return Text("\n").join([bar, status])
