"""An approval step: the approve button enables only once the exact phrase is typed, by someone named.

With ``approvers: 2`` (or more) the dialog is shown once per approver: each
types their name and the phrase; a name that has already approved is refused
(``cutover_tui.flows.refuse_approver``). With one approver the name starts
as the person at the keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Button, Input, Static

from cutover_tui.flows import refuse_approver
from cutover_tui.screens.dialog import DialogScreen, buttons, hint
from runbooks.model import Step


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """The phrase as typed (equal to the step's), an optional comment, and who approves."""

    phrase: str
    comment: str
    approver: str = ""


class ApprovalScreen(DialogScreen[ApprovalRequest]):
    """Type the step's phrase, exactly, and your name, to approve.

    Args:
        step: the approval step.
        number, of: this is approval ``number`` of ``of``.
        taken: names that have approved already (refused here).
        typist: who is at the keys (the name offered when one approval is enough).
    """

    def __init__(
        self, step: Step, *, number: int = 1, of: int = 1, taken: Sequence[str] = (), typist: str = ""
    ) -> None:
        counted = f" ({number} of {of})" if of > 1 else ""
        super().__init__(f"Approve — {step.title}{counted}", danger=True)
        self.step = step
        self.phrase = step.phrase or ""
        self.number, self.of = number, of
        self.taken = list(taken)
        self.typist = typist if of == 1 else ""

    def compose_dialog(self) -> ComposeResult:
        if self.of > 1:
            done = f" Approved so far by: {', '.join(self.taken)}." if self.taken else ""
            yield Static(f"This step needs {self.of} different people to approve.{done}", markup=False)
        yield Static(Text.assemble("Type ", (self.phrase, "bold reverse"), " exactly to approve."))
        yield Input(placeholder=self.phrase, id="phrase")
        yield Input(value=self.typist, placeholder="your name (who approves, logged)", id="approver", compact=True)
        yield Static(id="approval-warning", classes="dialog-warning", markup=False)
        yield Input(placeholder="comment (optional, logged)", id="comment", compact=True)
        yield hint("Case and spaces matter. Escape cancels.")
        yield buttons("Approve", danger=True, disabled=True)

    def on_mount(self) -> None:
        self.query_one("#phrase", Input).focus()

    def _refusal(self, *, submitted: bool = False) -> str | None:
        """Why the approval cannot go through yet ("" while the phrase is being typed correctly), or None."""
        typed = self.query_one("#phrase", Input).value
        if typed != self.phrase:
            if submitted and not typed:
                return f"Type {self.phrase} to approve."
            if submitted or not self.phrase.startswith(typed):
                return f"The phrase does not match: type {self.phrase} exactly (case and spaces matter)."
            return ""
        return refuse_approver(self.query_one("#approver", Input).value, self.taken)

    @on(Input.Changed)
    def _enable(self) -> None:
        refusal = self._refusal()
        self.query_one("#confirm", Button).disabled = refusal is not None
        self.query_one("#approval-warning", Static).update(refusal or "")

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        refusal = self._refusal(submitted=True)
        if refusal is not None:
            self.query_one("#approval-warning", Static).update(refusal)
            phrase_wrong = self.query_one("#phrase", Input).value != self.phrase
            self.query_one("#phrase" if phrase_wrong else "#approver", Input).focus()
            return
        self.dismiss(
            ApprovalRequest(
                self.query_one("#phrase", Input).value,
                self.query_one("#comment", Input).value.strip(),
                " ".join(self.query_one("#approver", Input).value.split()),
            )
        )

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
