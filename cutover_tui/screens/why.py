"""Why is it red? One screen answering the commander's question about one stop condition (key ``w``).

What it reads and from where, its last readings with times, outcomes and
latency, how far its ``for`` has got, the last error in full, the baseline
and how it was computed, and a Prometheus graph link to open elsewhere
(``cutover_tui.why`` gathers it; this screen only shows it). Read-only: it
works the same live, following and in replay.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Static

from cutover_tui.labels import to_zone
from cutover_tui.screens.dialog import DialogScreen, hint
from cutover_tui.why import Why

_OUTCOME_STYLES = {
    "pass": "green",
    "breach": "bold red",
    "error": "bold yellow",
    "nodata": "yellow",
    "invalid": "yellow",
}


class WhyScreen(DialogScreen[None]):
    """The answer for one condition; escape or Close returns to the dashboard."""

    DEFAULT_CSS = """
    WhyScreen #dialog { width: 118; }
    WhyScreen #why-facts { margin-bottom: 1; }
    """
    SCROLL_FOCUSABLE = True

    def __init__(self, why: Why, zone: tzinfo | None) -> None:
        title = f"Why is it {why.state}? — {why.condition}" + (f": {why.title}" if why.title else "")
        super().__init__(title, danger=why.state in ("firing", "pending", "error"))
        self.why = why
        self.zone = zone

    def _time(self, moment: datetime) -> str:
        return f"{to_zone(moment, self.zone):%H:%M:%S}"

    def compose_dialog(self) -> ComposeResult:
        facts = Text()
        for line in self.why.facts():
            label, _, rest = line.partition(": ")
            facts.append(f"{label}: ", style="bold")
            facts.append(f"{rest}\n")
        facts.rstrip()
        yield Static(facts, id="why-facts")
        table = Table(title=self.why.readings_note, title_justify="left", expand=True, box=None, padding=(0, 1))
        columns: tuple[tuple[str, JustifyMethod], ...] = (
            ("Time", "left"), ("Outcome", "left"), ("Value", "right"), ("Latency", "right"), ("Tick", "right"),
            ("Detail", "left"),
        )  # fmt: skip
        for column, justify in columns:
            table.add_column(column, justify=justify, no_wrap=column != "Detail")
        for reading in self.why.readings:
            latency = "—" if reading.latency_ms is None else f"{reading.latency_ms:.0f}ms"
            tick = "—" if reading.tick is None else f"{reading.tick}{' ◀' if reading.named else ''}"
            table.add_row(self._time(reading.at), Text(reading.outcome, style=_OUTCOME_STYLES.get(reading.outcome, "")),
                          reading.value, latency, tick, reading.detail)  # fmt: skip
        if not self.why.readings:
            table.add_row("—", "not yet polled", "", "", "", "")
        yield Static(table, id="why-readings")
        yield hint("◀ the readings the condition's last change named (tick ids in the log). Escape closes.")
        yield Horizontal(Button("Close", id="close", variant="primary"), classes="dialog-buttons")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(None)
