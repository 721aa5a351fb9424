"""Every key, what each verdict means, what "N blind" counts, and what the markers mean."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from checks.status import ConditionState, Verdict
from cutover_tui.labels import (
    BLIND_CAUSE_MARKERS,
    BLIND_MEANING,
    CHECK_MARKERS,
    CONDITION_MARKERS,
    STEP_MARKERS,
    VERDICT_LABELS,
    VERDICT_MEANINGS,
    Marker,
)
from cutover_tui.screens.dialog import DialogScreen

#: The verdicts worst first, as the ladder reads (docs/semantics.md).
LADDER = (
    Verdict.ROLLBACK,
    Verdict.HALT,
    Verdict.CANNOT_VERIFY,
    Verdict.AT_RISK,
    Verdict.CONTINUE,
    Verdict.ROLLING_BACK,
)


class HelpScreen(DialogScreen[None]):
    """The verdicts, a table of keys (given by the app, so it never drifts from the bindings) and a marker legend."""

    BINDINGS = [Binding("question_mark,q", "cancel", "Close")]
    SCROLL_FOCUSABLE = True

    DEFAULT_CSS = """
    HelpScreen #dialog { width: 100; }
    HelpScreen #keys-title, HelpScreen #legend { margin-top: 1; }
    """

    def __init__(self, keys: list[tuple[str, str]], *, note: str = "") -> None:
        super().__init__("Help")
        self.keys = keys
        self.note = note

    def compose_dialog(self) -> ComposeResult:
        yield Static(verdicts(), id="verdicts")
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, description in self.keys:
            table.add_row(key, description)
        yield Static(Text("Keys", style="bold"), id="keys-title")
        if self.note:
            yield Static(Text(self.note, style="italic"), id="keys-note")
        yield Static(table, id="keys")
        yield Static(legend(), id="legend")

    def on_mount(self) -> None:
        self.query_one("#dialog").focus()


def _named_rows(title: str) -> Table:
    """A grid under a bold ``title`` on the left: a bold name, then what it means, on each row."""
    table = Table.grid(padding=(0, 2))
    table.title = title
    table.title_style = "bold"
    table.title_justify = "left"
    table.add_column(no_wrap=True, style="bold")
    table.add_column()
    return table


def verdicts() -> Table:
    """Each verdict, worst first, and what it means; then what "N blind" counts."""
    table = _named_rows("Verdict (top left), worst first")
    for verdict in LADDER:
        table.add_row(VERDICT_LABELS[verdict], f"{VERDICT_MEANINGS[verdict]}.")
    table.add_row("N blind", f"{BLIND_MEANING}.")
    return table


def _marks(markers: Iterable[Marker]) -> Text:
    text = Text()
    seen: set[str] = set()
    for marker in markers:
        if marker.word not in seen:
            seen.add(marker.word)
            text.append(f"{marker.symbol} {marker.word}  ", style=marker.style)
    return text


def legend() -> Table:
    """Symbols and words of every marker: conditions, gate checks, why a check cannot tell, steps, evidence."""
    table = _named_rows("Marks")
    table.add_row(
        "Stop conditions", _marks(CONDITION_MARKERS[s] for s in ConditionState if s is not ConditionState.UNKNOWN)
    )
    table.add_row("Gate checks", _marks(m for status, m in CHECK_MARKERS.items() if status not in BLIND_CAUSE_MARKERS))
    unknown = CONDITION_MARKERS[ConditionState.UNKNOWN]
    cannot_tell = _marks(BLIND_CAUSE_MARKERS.values())
    cannot_tell.append(f"{unknown.symbol} {unknown.word}", style=unknown.style)
    cannot_tell.append(
        "\nwhy a check, and an unknown condition on it, cannot tell: no data (an empty result, a missing field), "
        "invalid (NaN, Inf, not a number), not polled yet, or partial (the source warned the data may be partial); "
        "? unknown is any other reason, named on the card (a baseline not established, a first failed poll)."
    )
    table.add_row("Cannot tell", cannot_tell)
    table.add_row("Steps", _marks(STEP_MARKERS.values()))
    table.add_row("Evidence", Text.assemble(("✔ given  ", "green"), ("□ owed  ", "bold yellow"), ("· optional", "dim")))
    table.add_row("Live column", "gate checks │ watched stop conditions")
    sparkline = Text.assemble(("▂▅", "green"), ("█", "red"), ("·", "magenta"), ("┊", "dim"), ("▄", "yellow"))
    sparkline.append(" = ok, breach (red, taller than the threshold), no value, then the threshold's height")
    table.add_row("Sparkline", sparkline)
    return table
