"""Record a decision: GO / NO-GO / CONDITIONAL GO / HOLD / ROLLBACK / CONTINUE with a reason.

A ``go_no_go`` step shows the runbook's weighted scorecard; its scores, total
and result go into the decision payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from checks.state import Verdict
from cutover_tui.screens.dialog import DialogScreen, buttons, hint
from cutover_tui.state import DECISIONS
from cutover_tui.widgets.scorecard_form import ScorecardForm
from cutover_tui.labels import DECISION_LABELS, VERDICT_LABELS
from runbooks.model import Scorecard, Step


#: What each scorecard result recommends, to warn when the decision disagrees.
SCORECARD_DECISIONS = {"GO": "go", "CONDITIONAL": "conditional_go", "NO-GO": "no_go"}


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    """The decision, its reason and, for a go/no-go step, the scorecard payload."""

    decision: str
    reason: str
    scorecard: dict[str, Any] | None


class DecisionScreen(DialogScreen[DecisionRequest]):
    """Choose a decision (keys 1–6 or arrows), give a reason, score the go/no-go when there is one."""

    BINDINGS = [Binding(str(n), f"choose({n - 1})", DECISION_LABELS[d], show=False) for n, d in enumerate(DECISIONS, 1)]

    def __init__(
        self,
        *,
        step: Step | None,
        scorecard: Scorecard | None,
        verdict: Verdict,
        verdict_reasons: list[str],
    ) -> None:
        super().__init__(f"Decision — {step.title}" if step else "Decision")
        self.step = step
        self.scorecard = scorecard
        self.verdict = verdict
        self.verdict_reasons = verdict_reasons

    def compose_dialog(self) -> ComposeResult:
        verdict = Text.assemble(("Verdict now: ", "bold"), VERDICT_LABELS[self.verdict])
        for reason in self.verdict_reasons:
            verdict.append(f"\n  {reason}", style="dim")
        yield Static(verdict, id="decision-verdict")
        if self.scorecard is not None:
            yield ScorecardForm(self.scorecard, id="scorecard")
        with RadioSet(id="decision-choice", compact=True):
            for number, decision in enumerate(DECISIONS, 1):
                yield RadioButton(f"{number}  {DECISION_LABELS[decision]}", id=f"decision-{decision}")
        yield Static(id="decision-warning", classes="dialog-warning")
        yield Input(placeholder="reason (required, logged)", id="reason", compact=True)
        yield hint("1–6 choose · Tab moves · Enter records · Escape cancels")
        yield buttons("Record decision", disabled=True)

    def on_mount(self) -> None:
        first = self.query(Input).first() if self.scorecard is not None else self.query_one(RadioSet)
        first.focus()
        self._refresh()

    @property
    def chosen(self) -> str | None:
        """The selected decision, or None."""
        pressed = self.query_one(RadioSet).pressed_button
        return pressed.id.removeprefix("decision-") if pressed is not None and pressed.id else None

    def action_choose(self, index: int) -> None:
        self.query_one(f"#decision-{DECISIONS[index]}", RadioButton).value = True

    def _ready(self) -> bool:
        scored = self.scorecard is None or self.query_one(ScorecardForm).complete
        return self.chosen is not None and bool(self.query_one("#reason", Input).value.strip()) and scored

    @on(RadioSet.Changed)
    @on(Input.Changed)
    @on(ScorecardForm.Changed)
    def _refresh(self) -> None:
        self.query_one("#confirm", Button).disabled = not self._ready()
        self.query_one("#decision-warning", Static).update(self._warning())

    def _warning(self) -> str:
        chosen = self.chosen
        warnings = []
        if chosen in ("go", "conditional_go", "continue") and self.verdict is not Verdict.CONTINUE:
            warnings.append(f"The verdict is {VERDICT_LABELS[self.verdict]}: {DECISION_LABELS[chosen]} overrides it.")
        if self.scorecard is not None and chosen in ("go", "conditional_go", "no_go"):
            form = self.query_one(ScorecardForm)
            recommended = SCORECARD_DECISIONS[form.value["result"]]
            if form.complete and recommended != chosen:
                warnings.append(f"The scorecard says {form.value['result']}.")
        return " ".join(warnings)

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        if not self._ready():
            self.focus_next()
            return
        scorecard = self.query_one(ScorecardForm).value if self.scorecard is not None else None
        chosen = self.chosen
        assert chosen is not None
        self.dismiss(DecisionRequest(chosen, self.query_one("#reason", Input).value.strip(), scorecard))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
