"""Completing a step: the gate must pass or be overridden with a reason; required evidence must exist;
checklist items left unticked need a reason too (logged with who completed it)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Button, Input, Static

from cutover_tui.screens.dialog import DialogScreen, buttons, hint
from cutover_tui.widgets.markers import check_marker
from runbooks.model import Step


@dataclass(frozen=True, slots=True)
class CompleteRequest:
    """What the operator entered: an override reason when the gate did not pass, evidence when required."""

    override_reason: str | None
    evidence: str | None
    unticked_reason: str | None = None


class CompleteStepScreen(DialogScreen[CompleteRequest]):
    """Show the gate and the checklist, ask for what is missing, then complete."""

    def __init__(self, step: Step, gate: dict[str, str], *, needs_evidence: bool, unchecked: int) -> None:
        super().__init__(f"Complete: {step.title}")
        self.step = step
        self.gate = gate
        self.needs_override = any(outcome != "pass" for outcome in gate.values())
        self.needs_evidence = needs_evidence
        self.unchecked = unchecked

    def compose_dialog(self) -> ComposeResult:
        if self.gate:
            lines = Text("Gate:\n", style="bold")
            for check_id, outcome in self.gate.items():
                marker = check_marker(outcome)
                lines.append(f"  {marker.symbol} {check_id}: {marker.word}\n", style=marker.style)
            lines.rstrip()
            yield Static(lines, id="gate")
        if self.needs_override:
            yield Static("The gate is not passing. Completing overrides it — say why (logged).", classes="dialog-warning")
            yield Input(placeholder="override reason", id="override")
        if self.needs_evidence:
            yield Static("Evidence is required for this step (a link, a ticket, what you saw):", markup=False)
            yield Input(placeholder="evidence", id="evidence")
        if self.unchecked:
            of = f" of {len(self.step.items)}" if self.step.items else ""
            yield Static(f"{self.unchecked}{of} checklist items not ticked. Completing anyway — say why (logged).",
                         classes="dialog-warning", markup=False)  # fmt: skip
            yield Input(placeholder="why items are left unticked", id="unticked")
        yield hint("Enter completes; Escape cancels.")
        label = "Complete with override" if self.needs_override else "Complete"
        disabled = self.needs_override or self.needs_evidence or bool(self.unchecked)
        yield buttons(label, danger=self.needs_override, disabled=disabled)

    def on_mount(self) -> None:
        inputs = self.query(Input)
        if inputs:
            inputs.first().focus()
        else:
            self.query_one("#confirm", Button).focus()

    def _value(self, input_id: str) -> str | None:
        found = self.query(f"#{input_id}")
        if not found:
            return None
        return found.first(Input).value.strip()

    def _ready(self) -> bool:
        return (
            (not self.needs_override or bool(self._value("override")))
            and (not self.needs_evidence or bool(self._value("evidence")))
            and (not self.unchecked or bool(self._value("unticked")))
        )

    @on(Input.Changed)
    def _enable(self) -> None:
        self.query_one("#confirm", Button).disabled = not self._ready()

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        if self._ready():
            self.dismiss(
                CompleteRequest(self._value("override") or None, self._value("evidence") or None, self._value("unticked") or None)
            )
        else:
            self.focus_next(Input)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
