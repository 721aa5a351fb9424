"""Small dialogs: a required line of text, and a yes/no confirmation."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Button, Input, Static

from cutover_tui.screens.dialog import DialogScreen, buttons, error_line, hint


class TextPromptScreen(DialogScreen[str]):
    """Ask for one line of text (a reason, a note, evidence). Dismisses with the text, or None."""

    def __init__(
        self,
        title: str,
        prompt: str,
        *,
        confirm_label: str = "Record",
        placeholder: str = "",
        danger: bool = False,
        empty_refusal: str = "Nothing typed: an empty entry is not recorded.",
    ) -> None:
        super().__init__(title, danger=danger)
        self.prompt = prompt
        self.empty_refusal = empty_refusal
        self.confirm_label = confirm_label
        self.placeholder = placeholder
        self.danger = danger

    def compose_dialog(self) -> ComposeResult:
        yield Static(self.prompt, markup=False)
        yield Input(placeholder=self.placeholder, id="text")
        yield error_line()
        yield hint("Enter records it; Escape cancels. Nothing is shown as done until the log has it.")
        yield buttons(self.confirm_label, danger=self.danger, disabled=True)

    def on_mount(self) -> None:
        self.query_one("#text", Input).focus()

    @on(Input.Changed, "#text")
    def _enable(self, event: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = not event.value.strip()
        if event.value.strip():
            self.refuse("")

    @on(Input.Submitted, "#text")
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        text = self.query_one("#text", Input).value.strip()
        if text:
            self.dismiss(text)
        else:
            self.refuse(self.empty_refusal)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(DialogScreen[bool]):
    """Ask to confirm an action. Dismisses with True, or None when cancelled."""

    def __init__(self, title: str, message: str, *, confirm_label: str, danger: bool = False) -> None:
        super().__init__(title, danger=danger)
        self.message = message
        self.confirm_label = confirm_label
        self.danger = danger

    def compose_dialog(self) -> ComposeResult:
        yield Static(self.message, markup=False)
        yield buttons(self.confirm_label, danger=self.danger)

    def on_mount(self) -> None:
        self.query_one("#confirm", Button).focus()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
