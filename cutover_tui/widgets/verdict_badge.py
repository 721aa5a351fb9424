"""The verdict: the most visible thing on the screen."""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual.reactive import reactive
from textual.widget import Widget

from checks.state import Verdict
from cutover_tui.labels import VERDICT_LABELS


_CLASSES: dict[Verdict, str] = {
    Verdict.CONTINUE: "-continue",
    Verdict.CANNOT_VERIFY: "-cannot-verify",
    Verdict.HALT: "-halt",
    Verdict.ROLLBACK: "-rollback",
}


class VerdictBadge(Widget):
    """A solid block naming the verdict, coloured by it, and how many conditions are blind."""

    DEFAULT_CSS = """
    VerdictBadge {
        width: 19;
        height: 2;
        content-align: center middle;
        text-style: bold;
        &.-continue { background: $success-darken-2; color: $text; }
        &.-cannot-verify { background: $warning; color: $background; }
        &.-halt { background: #d75f00; color: white; }
        &.-rollback { background: $error; color: white; }
    }
    """

    verdict: reactive[Verdict] = reactive(Verdict.CANNOT_VERIFY)
    """The verdict shown; CANNOT VERIFY until a state says otherwise."""

    blind: reactive[int] = reactive(0)
    """How many stop conditions cannot be seen (unknown, stale, error), even when none gates the verdict."""

    def watch_verdict(self, verdict: Verdict) -> None:
        for value, css_class in _CLASSES.items():
            self.set_class(value is verdict, css_class)

    def render(self) -> RenderResult:
        label = f"VERDICT · {self.blind} blind" if self.blind else "VERDICT"
        return Text.assemble((label, "dim"), "\n", VERDICT_LABELS[self.verdict], justify="center")
