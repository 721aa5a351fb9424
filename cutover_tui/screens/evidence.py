"""Evidence: one field per named evidence item, each answer logged under its item.

A step that names its evidence (``evidence: [Release tag, Migration log]``)
asks for one answer per item; ``evidence: required`` asks for one answer for
the step as a whole. ``e`` attaches answers at any time (``EvidenceScreen``);
completing asks for what is still owed (``CompleteStepScreen`` composes the
same rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from textual import on
from textual.app import ComposeResult
from textual.dom import DOMNode
from textual.widget import Widget
from textual.widgets import Button, Input, Static

from cutover_tui.evidence import WHOLE_STEP
from cutover_tui.screens.dialog import DialogScreen, buttons, error_line, hint
from runbooks.model import EvidenceItem, Step

#: Inputs that take an answer carry this class; their name is ``item:<id>`` (``item:`` for the step as a whole).
FIELD_CLASS = "evidence-answer"


def answer_fields(
    items: Iterable[EvidenceItem], answers: Mapping[str, Sequence[str]] | None = None, *, compact: bool = True
) -> list[Widget]:
    """A labelled input per item: its text, and whether it is owed, optional, or what was given already."""
    widgets: list[Widget] = []
    for index, item in enumerate(items):
        given = (answers or {}).get(item.id, ())
        if not item.id:
            label = "Evidence for the step (a link, a ticket, what you saw)"
        elif given:
            label = f"{item.text} (given: {'; '.join(given)})"
        else:
            label = f"{item.text} ({'owed' if item.required else 'optional'})"
        widgets.append(Static(f"{label}:", classes="evidence-label", markup=False))
        widgets.append(
            Input(
                placeholder="a link, a ticket, what you saw",
                id=f"evidence-{index}",
                name=f"item:{item.id}",
                classes=FIELD_CLASS,
                compact=compact,
            )
        )
    return widgets


def answers_in(node: DOMNode) -> dict[str, str]:
    """The answers typed into ``node``'s evidence fields, by item id (``""``: the step as a whole)."""
    return {
        str(field.name).removeprefix("item:"): field.value.strip()
        for field in node.query(f"Input.{FIELD_CLASS}").results(Input)
    }


class EvidenceScreen(DialogScreen[dict[str, str]]):
    """Attach evidence to a step: a field per named item, or one for the step. Dismisses with the answers, or None."""

    DEFAULT_CSS = """
    EvidenceScreen .evidence-label { margin-top: 1; }
    """

    def __init__(self, step: Step, answers: Mapping[str, Sequence[str]]) -> None:
        super().__init__(f"Evidence: {step.title}")
        self.step = step
        self.answers = answers
        self.items = list(step.evidence) or [WHOLE_STEP]

    def compose_dialog(self) -> ComposeResult:
        yield from answer_fields(self.items, self.answers)
        yield error_line()
        yield hint("Fill any of them. Enter moves to the next item and attaches from the last; Escape cancels.")
        yield buttons("Attach")

    def on_mount(self) -> None:
        owed = next(
            (index for index, item in enumerate(self.items) if item.required and not self.answers.get(item.id)), 0
        )
        self.query_one(f"#evidence-{owed}", Input).focus()

    @on(Input.Changed)
    def _clear(self) -> None:
        if any(answers_in(self).values()):
            self.refuse("")

    @on(Input.Submitted)
    def _next_or_submit(self, event: Input.Submitted) -> None:
        fields = list(self.query(f"Input.{FIELD_CLASS}").results(Input))
        if event.input in fields and event.input is not fields[-1]:
            fields[fields.index(event.input) + 1].focus()
            return
        self._submit()

    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        answers = {item_id: text for item_id, text in answers_in(self).items() if text}
        if not answers:
            self.refuse("Nothing typed: give the evidence for at least one item, or Escape to cancel.")
            return
        self.dismiss(answers)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
