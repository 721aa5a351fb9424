"""The go/no-go weighted scorecard: a score per category, the total and GO / CONDITIONAL / NO-GO live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.validation import Number
from textual.widgets import Input, Label, Static

from runbooks.model import Scorecard

RESULT_STYLES = {
    "GO": ("✔ GO", "bold green"),
    "CONDITIONAL": ("◐ CONDITIONAL", "bold yellow"),
    "NO-GO": ("✖ NO-GO", "bold red"),
}


class ScorecardForm(Vertical):
    """One 0–100 input per category; ``value`` is the payload ``{scores, total, result}``."""

    DEFAULT_CSS = """
    ScorecardForm {
        height: auto;
        .score-row { height: 1; }
        .score-row Label { width: 1fr; }
        .score-row Input { width: 8; margin: 0; }
        #scorecard-total { margin-bottom: 1; }
    }
    """

    @dataclass
    class Changed(Message):
        """The scores changed: the new total and result."""

        total: float
        result: str
        complete: bool

    def __init__(self, scorecard: Scorecard, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.scorecard = scorecard
        self.scores: dict[str, float] = {}
        """Valid scores entered so far, by category id."""

    def compose(self) -> ComposeResult:
        for index, category in enumerate(self.scorecard.categories):
            with Horizontal(classes="score-row"):
                yield Label(f"{category.title} (weight {category.weight:g}%)", markup=False)
                yield Input(
                    placeholder="0–100",
                    id=f"score-{index}",
                    type="integer",
                    restrict=r"\d{0,3}",
                    validators=[Number(minimum=0, maximum=100)],
                    compact=True,
                )
        yield Static(id="scorecard-total")

    def on_mount(self) -> None:
        self._show_total()

    @property
    def complete(self) -> bool:
        """Every category has a valid score."""
        return len(self.scores) == len(self.scorecard.categories)

    @property
    def value(self) -> dict[str, Any]:
        """``{scores, total, result}`` as the decision payload records it."""
        total, result = self.scorecard.result(self.scores)
        return {"scores": dict(self.scores), "total": total, "result": result}

    @on(Input.Changed)
    def _score_changed(self, event: Input.Changed) -> None:
        if event.input.id is None or not event.input.id.startswith("score-"):
            return
        event.stop()
        category = self.scorecard.categories[int(event.input.id.removeprefix("score-"))]
        valid = event.validation_result is None or event.validation_result.is_valid
        if event.value and valid:
            self.scores[category.id] = float(event.value)
        else:
            self.scores.pop(category.id, None)
        total, result = self._show_total()
        self.post_message(self.Changed(total, result, self.complete))

    def _show_total(self) -> tuple[float, str]:
        total, result = self.scorecard.result(self.scores)
        label, style = RESULT_STYLES[result]
        text = Text.assemble(("Total ", "bold"), (f"{total:g}", "bold"), " / 100  →  ", (label, style))
        missing = len(self.scorecard.categories) - len(self.scores)
        text.append(f"   (GO ≥ {self.scorecard.go:g}, CONDITIONAL ≥ {self.scorecard.conditional:g})", style="dim")
        if missing:
            text.append(f"\n{missing} categor{'y' if missing == 1 else 'ies'} not scored yet", style="yellow")
        self.query_one("#scorecard-total", Static).update(text)
        return total, result
