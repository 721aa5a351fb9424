"""Completing a step: the gate must pass or be overridden with a reason; the evidence owed must be given,
one answer per named item; checklist items left unticked need a reason too (logged with who completed it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Button, Input, Static

from cutover_tui.labels import check_marker
from cutover_tui.screens.dialog import DialogScreen, buttons, error_line, hint
from cutover_tui.screens.evidence import FIELD_CLASS, answer_fields, answers_in
from cutover_tui.widgets.step_detail import evidence_lines
from runbooks.model import EvidenceItem, Step


@dataclass(frozen=True, slots=True)
class CompleteRequest:
    """What the operator entered: an override reason when the gate did not pass, the evidence owed (by item id)."""

    override_reason: str | None
    evidence: dict[str, str] = field(default_factory=dict)  # item id ("" for the step as a whole) -> answer
    unticked_reason: str | None = None


class CompleteStepScreen(DialogScreen[CompleteRequest]):
    """Show the gate, the evidence (given and owed) and the checklist; ask for what is missing, then complete.

    Args:
        step: the step.
        gate: each gate check's status (empty when a decision already answered for it).
        owed: the evidence still needed (``cutover_tui.evidence.evidence_owed``): one field each.
        answers: the evidence logged so far, by item id.
        unchecked: how many checklist items are not ticked.
    """

    DEFAULT_CSS = """
    CompleteStepScreen .evidence-label { margin-top: 0; }
    """

    def __init__(
        self,
        step: Step,
        gate: dict[str, str],
        *,
        owed: Sequence[EvidenceItem] = (),
        answers: Mapping[str, Sequence[str]] | None = None,
        unchecked: int = 0,
    ) -> None:
        super().__init__(f"Complete: {step.title}")
        self.step = step
        self.gate = gate
        self.needs_override = any(outcome != "pass" for outcome in gate.values())
        self.owed = list(owed)
        self.answers = answers or {}
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
            yield Static(
                "The gate is not passing. Completing overrides it — say why (logged).", classes="dialog-warning"
            )
            yield Input(placeholder="override reason", id="override")
        if self.step.evidence:
            owed = len(self.owed)
            heading = Text(
                f"Evidence: {owed} of {len(self.step.evidence)} still owed" if owed else "Evidence", style="bold"
            )
            given = evidence_lines(self.step, self.answers, self.owed)
            yield Static(heading + Text("\n") + given if given else heading, id="evidence")
        elif self.owed:
            yield Static("Evidence is required for this step:", classes="dialog-warning", markup=False)
        yield from answer_fields(self.owed)
        if self.unchecked:
            of = f" of {len(self.step.items)}" if self.step.items else ""
            yield Static(f"{self.unchecked}{of} checklist items not ticked. Completing anyway — say why (logged).",
                         classes="dialog-warning", markup=False)  # fmt: skip
            yield Input(placeholder="why items are left unticked", id="unticked")
        yield error_line()
        yield hint("Enter moves to what is still missing, and completes once nothing is; Escape cancels.")
        label = "Complete with override" if self.needs_override else "Complete"
        yield buttons(label, danger=self.needs_override, disabled=bool(self._missing_at_start()))

    def _missing_at_start(self) -> list[str]:
        return self._missing_from({}, "", "")

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

    def _missing_from(self, evidence: Mapping[str, str], override: str, unticked: str) -> list[str]:
        missing = []
        if self.needs_override and not override:
            missing.append("a reason to override the gate")
        owed = [item for item in self.owed if not evidence.get(item.id)]
        if owed:
            named = [item.text for item in owed if item.id]
            missing.append("evidence for " + ", ".join(f"“{name}”" for name in named) if named else "the evidence")
        if self.unchecked and not unticked:
            missing.append("why checklist items are left unticked")
        return missing

    def _missing(self) -> list[str]:
        """What completing still needs, in the dialog's order."""
        return self._missing_from(answers_in(self), self._value("override") or "", self._value("unticked") or "")

    @on(Input.Changed)
    def _enable(self) -> None:
        ready = not self._missing()
        self.query_one("#confirm", Button).disabled = not ready
        if ready:
            self.refuse("")

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        missing = self._missing()
        if not missing:
            evidence = {item_id: text for item_id, text in answers_in(self).items() if text}
            self.dismiss(CompleteRequest(self._value("override") or None, evidence, self._value("unticked") or None))
            return
        self.refuse("Still needed: " + "; ".join(missing) + ".")
        empty = next((i for i in self.query(Input).results(Input) if not i.value.strip()), None)
        if empty is not None:
            empty.focus()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


__all__ = ["FIELD_CLASS", "CompleteRequest", "CompleteStepScreen"]
