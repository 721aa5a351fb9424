"""An approval step: the approve button enables only once the exact phrase is typed."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Button, Input, Static

from cutover_tui.screens.dialog import DialogScreen, buttons, hint
from runbooks.model import Step


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """The phrase as typed (equal to the step's) and an optional comment."""

    phrase: str
    comment: str


class ApprovalScreen(DialogScreen[ApprovalRequest]):
    """Type the step's phrase, exactly, to approve."""

    def __init__(self, step: Step) -> None:
        super().__init__(f"Approve — {step.title}", danger=True)
        self.step = step
        self.phrase = step.phrase or ""

    def compose_dialog(self) -> ComposeResult:
        yield Static(Text.assemble("Type ", (self.phrase, "bold reverse"), " exactly to approve."))
        yield Input(placeholder=self.phrase, id="phrase")
        yield Input(placeholder="comment (optional, logged)", id="comment", compact=True)
        yield hint("Case and spaces matter. Escape cancels.")
        yield buttons("Approve", danger=True, disabled=True)

    def on_mount(self) -> None:
        self.query_one("#phrase", Input).focus()

    @on(Input.Changed, "#phrase")
    def _enable(self, event: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = event.value != self.phrase

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        typed = self.query_one("#phrase", Input).value
        if typed != self.phrase:
            self.query_one("#phrase", Input).focus()
            return
        self.dismiss(ApprovalRequest(typed, self.query_one("#comment", Input).value.strip()))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
