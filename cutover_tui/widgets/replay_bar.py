"""The replay scrubber: where the position is, where decisions and firings fall, and the keys that move it.

The bar owns the scrubber's keys (play/pause, speed, ±1 and ±10 minutes,
previous and next mark, T-0, end) and calls the backend through the
``Scrubber`` protocol; it draws the ``ScrubberView`` the app hands it with
each state, as the other widgets draw theirs. The app forwards the keys to
the bar (``CutoverApp.action_scrub``): they apply wherever the focus is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from rich.text import Text
from textual.app import RenderResult
from textual.binding import Binding, BindingType
from textual.widget import Widget

from cutover_tui.backend import Scrubber, ScrubberView
from cutover_tui.labels import format_t_clock

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

    # Priority: the scrubber's keys (home, end, [ ]) win over the focused table's.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "play_pause", "Play/pause", priority=True),
        Binding("plus", "speed(1)", "Faster", key_display="+", priority=True),
        Binding("minus", "speed(-1)", "Slower", key_display="-", priority=True),
        Binding("left_square_bracket", "seek_minutes(-1)", "-1 min", key_display="[", priority=True),
        Binding("right_square_bracket", "seek_minutes(1)", "+1 min", key_display="]", priority=True),
        Binding("left_curly_bracket", "seek_minutes(-10)", "-10 min", key_display="{", priority=True),
        Binding("right_curly_bracket", "seek_minutes(10)", "+10 min", key_display="}", priority=True),
        Binding("less_than_sign", "seek_mark(-1)", "Prev event", key_display="<", priority=True),
        Binding("greater_than_sign", "seek_mark(1)", "Next event", key_display=">", priority=True),
        Binding("home", "seek_t0", "T-0", priority=True),
        Binding("end", "seek_end", "End", priority=True),
    ]

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__(id="replay-bar")
        self.scrubber = scrubber
        self.view: ScrubberView | None = None
        """The position drawn."""

    def show(self, view: ScrubberView) -> None:
        """Draw ``view``; the same position again draws nothing."""
        if view != self.view:
            self.view = view
            self.refresh()

    # ------------------------------------------------------------ keys

    def action_play_pause(self) -> None:
        self.scrubber.play_pause()

    def action_speed(self, steps: int) -> None:
        self.scrubber.change_speed(steps)

    def action_seek_minutes(self, minutes: int) -> None:
        self.scrubber.seek_by(timedelta(minutes=minutes))

    def action_seek_mark(self, direction: int) -> None:
        self.scrubber.seek_mark(direction)

    def action_seek_t0(self) -> None:
        why = self.scrubber.seek_t0()
        if why:  # home could not go to T-0 exactly: why, and where it went instead
            self.notify(why, severity="warning")

    def action_seek_end(self) -> None:
        self.scrubber.seek_end()

    # ------------------------------------------------------------ drawing

    def render(self) -> RenderResult:
        view = self.view
        if view is None:
            return Text()
        width = max(10, self.size.width - 2)
        span = max((view.end_at - view.start_at).total_seconds(), 1.0)

        def column(instant: datetime) -> int:
            return min(width - 1, int((instant - view.start_at).total_seconds() / span * (width - 1)))

        cells = [("─", "dim")] * width
        for instant, kind in view.marks:
            mark = MARKS.get(kind)
            if mark is not None:
                cells[column(instant)] = mark
        bar = Text()
        cursor = column(view.position)
        for index, (char, style) in enumerate(cells):
            bar.append(char, style + (" reverse" if index == cursor else ""))
        offset = f"{format_t_clock(view.position, view.t0)}  " if view.t0 is not None else ""
        status = Text(
            f"{offset}{view.position:%Y-%m-%d %H:%M:%S} UTC  {view.label}   "
            "D decision  ! firing  R rollback  ~ dashboard down",
            style="bold",
        )
        return Text("\n").join([bar, status])
