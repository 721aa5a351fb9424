"""The latest decisions and notes, newest at the bottom, appended by sequence number."""

from __future__ import annotations

from datetime import tzinfo

from rich.cells import cell_len
from rich.text import Text
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import DataTable

from cutover_tui.labels import to_zone
from cutover_tui.state import LogLine, SessionState

KIND_STYLES = {
    "decision": "bold cyan",
    "rollback_started": "bold red",
    "condition_acknowledged": "yellow",
    "step_failed": "red",
    "note": "",
}


#: The time column (``HH:MM:SS``) and the narrowest the text column gets before the pane scrolls instead.
TIME_WIDTH = 8
MIN_TEXT_WIDTH = 20
#: The lines the pane keeps to scroll back through (each wrapped: about a millisecond apiece to lay out after a
#: replay seek); the whole log is in replay and the report.
PANE_LINES = 50
#: Lines fallen out of the last ``PANE_LINES`` stay above them until there are more than this; then (or after a
#: replay seek) the pane is laid out again with the last ``PANE_LINES`` alone. Removing a row lays out the screen.
REMOVE_ONE_BY_ONE = 16
MAX_HEIGHTS_KEPT = 1000


class DecisionLog(DataTable[Text]):
    """``state.log`` as rows keyed by event sequence: new lines are added, gone ones removed.

    A line longer than the pane wraps under its own column (rows as tall as
    their text), so a decision's reason is read whole without sideways
    scrolling; when the pane's width or the widest actor changes, the rows
    are wrapped again.
    """

    DEFAULT_CSS = """
    DecisionLog { height: 1fr; overflow-x: hidden; scrollbar-gutter: stable; }
    """

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)
    """What the rows take, to scroll through. The pane's own size is the screen's to set, so a new line changes what
    scrolls, not where anything is: the table and its scrollbar repaint, and the screen is not laid out again for
    it (some 10 ms with a hundred condition cards, at every logged change). Unless the scrollbar comes or goes."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", show_cursor=False, cell_padding=1)
        self._lines: dict[int, LogLine] = {}  # shown, by seq, in order
        self._zone: tzinfo | None = None
        self._widths: tuple[int, int] = (0, 0)  # the actor and text columns' widths the rows were wrapped to
        self._heights: dict[int, int] = {}  # seq -> its row's height at those widths

    def show(self, state: SessionState, zone: tzinfo | None) -> None:
        """Show the last ``PANE_LINES`` of ``state.log`` (and up to ``REMOVE_ONE_BY_ONE`` before them): add new lines, drop old ones in bulk."""
        self._zone = zone
        wanted = {line.seq: line for line in state.log[-PANE_LINES:]}
        gone = [seq for seq in self._lines if seq not in wanted]
        new = [line for seq, line in wanted.items() if seq not in self._lines]
        # New lines go below the others. After a replay seek back they come before them, or lines shown are
        # past the instant: lay every line out again, as when more than REMOVE_ONE_BY_ONE are gone.
        last_kept = max((seq for seq in self._lines if seq in wanted), default=None)
        newest = max(wanted, default=0)
        again = (
            len(gone) > REMOVE_ONE_BY_ONE
            or any(seq > newest for seq in gone)
            or bool(last_kept is not None and new and new[0].seq < last_kept)
        )
        if not new and not again:
            return
        if again:
            self._lines = wanted
        else:  # the lines gone stay above until more than REMOVE_ONE_BY_ONE are: a row removed lays the screen out
            self._lines.update((line.seq, line) for line in new)
        if not self._wrap_again(force=again):
            for line in new:
                self._add(line)
        self.call_after_refresh(self._show_newest)

    def watch_virtual_size(self, size: Size) -> None:
        scrollbar = self.show_vertical_scrollbar
        self._scroll_update(size)  # the scrollbar's span and the scroll offset, for the new height
        if self.show_vertical_scrollbar != scrollbar:
            self.refresh(layout=True)  # the scrollbar is placed, or taken away

    def on_resize(self) -> None:
        if self._wrap_again():
            self.call_after_refresh(self._show_newest)

    def _show_newest(self) -> None:
        """Scroll to the end; when the newest line is taller than the pane, to its first line (its time and who)."""
        rows = list(self.rows.values())
        last = rows[-1].height if rows else 0
        self.scroll_to(y=min(self.max_scroll_y, sum(row.height for row in rows) - last), animate=False)

    def _wrap_again(self, *, force: bool = False) -> bool:
        """Lay the columns out for the pane's width and the widest actor; every row again when that changed (or ``force``)."""
        actor = max((cell_len(line.actor) for line in self._lines.values()), default=3)
        others = TIME_WIDTH + actor + 6 * self.cell_padding
        widths = (actor, max(MIN_TEXT_WIDTH, self.scrollable_content_region.width - others))
        if widths == self._widths and self.columns and not force:
            return False
        if widths != self._widths:
            self._heights.clear()
        self._widths = widths
        self.clear(columns=True)
        self.add_column("Time", key="time", width=TIME_WIDTH)
        self.add_column("Who", key="actor", width=widths[0])
        self.add_column("What", key="text", width=widths[1])
        for line in self._lines.values():
            self._add(line)
        return True

    def _add(self, line: LogLine) -> None:
        self.add_row(
            Text(f"{to_zone(line.ts, self._zone):%H:%M:%S}", style="dim"),
            Text(line.actor, style="dim"),
            Text(line.text, style=KIND_STYLES.get(line.kind, "dim")),
            key=str(line.seq),
            height=self._height(line),
        )

    def _height(self, line: LogLine) -> int:
        """How many lines ``line``'s text takes wrapped to the text column (kept: a seek shows the same lines again)."""
        height = self._heights.get(line.seq)
        if height is None:
            height = len(Text(line.text).wrap(self.app.console, self._widths[1]))
            if len(self._heights) > MAX_HEIGHTS_KEPT:
                self._heights.clear()
            self._heights[line.seq] = height
        return height
