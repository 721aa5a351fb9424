"""Every key, and what the markers mean."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from cutover_tui.screens.dialog import DialogScreen
from cutover_tui.widgets.markers import CHECK_MARKERS, CONDITION_MARKERS, STEP_MARKERS


class HelpScreen(DialogScreen[None]):
    """A table of keys (given by the app, so it never drifts from the bindings) and a marker legend."""

    BINDINGS = [Binding("question_mark,q", "cancel", "Close")]
    SCROLL_FOCUSABLE = True

    DEFAULT_CSS = """
    HelpScreen #dialog { width: 90; }
    """

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__("Keys")
        self.keys = keys

    def compose_dialog(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, description in self.keys:
            table.add_row(key, description)
        yield Static(table)
        yield Static(legend(), id="legend")

    def on_mount(self) -> None:
        self.query_one("#dialog").focus()


def legend() -> Text:
    """Symbols and words of every marker: conditions, gate checks, steps."""
    text = Text("\nStop conditions: ", style="bold")
    for marker in CONDITION_MARKERS.values():
        text.append(f"{marker.symbol} {marker.word}  ", style=marker.style)
    text.append("\nGate checks:     ", style="bold")
    seen: set[str] = set()
    for marker in CHECK_MARKERS.values():
        if marker.word not in seen:
            seen.add(marker.word)
            text.append(f"{marker.symbol} {marker.word}  ", style=marker.style)
    text.append("\nSteps:           ", style="bold")
    for marker in STEP_MARKERS.values():
        text.append(f"{marker.symbol} {marker.word}  ", style=marker.style)
    text.append("\nLive column: gate checks │ watched stop conditions.  Sparkline: ", style="")
    text.append("▂▅", style="green")
    text.append("█", style="red")
    text.append("·", style="magenta")
    text.append("┊", style="dim")
    text.append("▄", style="yellow")
    text.append(" = ok, breach (^ below), no value, then the threshold's height.")
    return text
