"""The base of every dialog: centred, the stop banner still on top, escape cancels."""

from __future__ import annotations

from typing import TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from cutover_tui.widgets.stop_banner import StopBanner

ResultT = TypeVar("ResultT")


class DialogScreen(ModalScreen[ResultT]):
    """A modal dialog. Subclasses implement ``compose_dialog`` and call ``dismiss``."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    DialogScreen {
        align: center middle;
        #dialog {
            width: 76;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            border: thick $primary;
            border-title-style: bold;
            background: $surface;
            padding: 0 1;
        }
        .dialog-buttons { height: auto; align-horizontal: right; margin-top: 1; }
        .dialog-buttons Button { margin-left: 1; }
        .dialog-hint { color: $text-muted; }
        .dialog-warning { color: $warning; text-style: bold; }
        .dialog-error { color: $error; text-style: bold; display: none; }
        Input { margin-bottom: 1; }
    }
    DialogScreen.-danger #dialog { border: thick $error; }
    """

    SCROLL_FOCUSABLE = False
    """Whether the dialog body itself takes the focus (only for dialogs with nothing else to focus)."""

    def __init__(self, title: str, *, danger: bool = False) -> None:
        super().__init__(classes="-danger" if danger else None)
        self.dialog_title = title

    def compose(self) -> ComposeResult:
        yield StopBanner()
        with VerticalScroll(id="dialog", can_focus=self.SCROLL_FOCUSABLE) as dialog:
            dialog.border_title = self.dialog_title
            yield from self.compose_dialog()

    def compose_dialog(self) -> ComposeResult:
        """The dialog's body."""
        yield from ()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def refuse(self, reason: str) -> None:
        """Say on the dialog's error line why it did not go through (an empty reason clears it).

        A dialog never ignores Enter silently: what is still missing is named here.
        """
        found = self.query("#dialog-error")
        if found:
            line = found.first(Static)
            line.update(reason)
            line.display = bool(reason)


def buttons(confirm_label: str, *, danger: bool = False, disabled: bool = False) -> Horizontal:
    """``Cancel`` and the confirm button (id ``confirm``), right-aligned."""
    return Horizontal(
        Button("Cancel", id="cancel"),
        Button(confirm_label, id="confirm", variant="error" if danger else "primary", disabled=disabled),
        classes="dialog-buttons",
    )


def error_line() -> Static:
    """The dialog's error line (``DialogScreen.refuse``), hidden while empty."""
    return Static("", id="dialog-error", classes="dialog-error", markup=False)


def hint(text: str) -> Static:
    """A muted line of explanation."""
    return Static(text, classes="dialog-hint", markup=False)
