"""The latest decisions and notes, newest at the bottom, appended by sequence number."""

from __future__ import annotations

from datetime import tzinfo

from rich.text import Text
from textual.widgets import DataTable

from cutover_tui.labels import to_zone
from cutover_tui.state import SessionState

KIND_STYLES = {
    "decision": "bold cyan",
    "rollback_started": "bold red",
    "condition_acknowledged": "yellow",
    "step_failed": "red",
    "note": "",
}


class DecisionLog(DataTable[Text]):
    """``state.log`` as rows keyed by event sequence: new lines are added, gone ones removed."""

    DEFAULT_CSS = """
    DecisionLog { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", show_cursor=False, cell_padding=1)
        self._seqs: list[int] = []

    def _ensure_columns(self) -> None:
        if not self.columns:
            self.add_column("Time", key="time")
            self.add_column("Who", key="actor")
            self.add_column("What", key="text")

    def show(self, state: SessionState, zone: tzinfo | None) -> None:
        """Add lines not shown yet and drop the ones no longer in ``state.log`` (bounded, or replayed back)."""
        self._ensure_columns()
        wanted = {line.seq for line in state.log}
        for seq in [s for s in self._seqs if s not in wanted]:
            self.remove_row(str(seq))
        self._seqs = [s for s in self._seqs if s in wanted]
        shown = set(self._seqs)
        added = False
        for line in state.log:
            if line.seq in shown:
                continue
            style = KIND_STYLES.get(line.kind, "dim")
            self.add_row(
                Text(f"{to_zone(line.ts, zone):%H:%M:%S}", style="dim"),
                Text(line.actor, style="dim"),
                Text(line.text, style=style),
                key=str(line.seq),
            )
            self._seqs.append(line.seq)
            added = True
        if added:
            self.call_after_refresh(self.scroll_end, animate=False)
