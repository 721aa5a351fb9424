"""The latest decisions and notes, newest at the bottom, appended by sequence number."""

from __future__ import annotations

from datetime import tzinfo

from rich.cells import cell_len
from rich.text import Text
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

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", show_cursor=False, cell_padding=1)
        self._lines: dict[int, LogLine] = {}  # shown, by seq, in order
        self._zone: tzinfo | None = None
        self._widths: tuple[int, int] = (0, 0)  # the actor and text columns' widths the rows were wrapped to

    def show(self, state: SessionState, zone: tzinfo | None) -> None:
        """Add lines not shown yet and drop the ones no longer in ``state.log`` (bounded, or replayed back)."""
        self._zone = zone
        wanted = {line.seq for line in state.log}
        for seq in [s for s in self._lines if s not in wanted]:
            self.remove_row(str(seq))
            del self._lines[seq]
        new = [line for line in state.log if line.seq not in self._lines]
        self._lines.update((line.seq, line) for line in new)
        if not self._wrap_again():
            for line in new:
                self._add(line)
        if new:
            self.call_after_refresh(self._show_newest)

    def on_resize(self) -> None:
        if self._wrap_again():
            self.call_after_refresh(self._show_newest)

    def _show_newest(self) -> None:
        """Scroll to the end; when the newest line is taller than the pane, to its first line (its time and who)."""
        rows = list(self.rows.values())
        last = rows[-1].height if rows else 0
        self.scroll_to(y=min(self.max_scroll_y, sum(row.height for row in rows) - last), animate=False)

    def _wrap_again(self) -> bool:
        """Lay the columns out for the pane's width and the widest actor; every row again when that changed."""
        actor = max((cell_len(line.actor) for line in self._lines.values()), default=3)
        others = TIME_WIDTH + actor + 6 * self.cell_padding
        widths = (actor, max(MIN_TEXT_WIDTH, self.scrollable_content_region.width - others))
        if widths == self._widths and self.columns:
            return False
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
            height=None,  # as tall as its text wrapped to the column
        )
