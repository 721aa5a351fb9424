"""The verdict: the most visible thing on the screen."""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual.reactive import reactive
from textual.widget import Widget

from checks.status import Verdict
from cutover_tui.labels import VERDICT_LABELS

_CLASSES: dict[Verdict, str] = {
    Verdict.CONTINUE: "-continue",
    Verdict.AT_RISK: "-at-risk",
    Verdict.CANNOT_VERIFY: "-cannot-verify",
    Verdict.HALT: "-halt",
    Verdict.ROLLBACK: "-rollback",
    Verdict.ROLLING_BACK: "-rolling-back",
}


class VerdictBadge(Widget):
    """A solid block naming the verdict, coloured by it, and how many conditions are blind."""

    DEFAULT_CSS = """
    VerdictBadge {
        width: 24;
        height: 2;
        content-align: center middle;
        text-style: bold;
        &.-continue { background: $success-darken-2; color: $text; }
        &.-at-risk { background: #af8700; color: black; }
        &.-rolling-back { background: $primary-darken-2; color: white; }
        &.-cannot-verify { background: $warning; color: $background; }
        &.-halt { background: #d75f00; color: white; }
        &.-rollback { background: $error; color: white; }
    }
    """

    verdict: reactive[Verdict] = reactive(Verdict.CANNOT_VERIFY)
    """The verdict shown; CANNOT VERIFY until a state says otherwise."""

    blind: reactive[int] = reactive(0)
    """How many stop conditions cannot be seen (unknown, stale, error), even when none gates the verdict."""

    rolling_back: reactive[bool] = reactive(False)
    """The rollback plan runs: the verdict shown is the plan's."""

    def watch_verdict(self, verdict: Verdict) -> None:
        for value, css_class in _CLASSES.items():
            self.set_class(value is verdict, css_class)

    def render(self) -> RenderResult:
        title = "ROLLING BACK" if self.rolling_back and self.verdict is not Verdict.ROLLING_BACK else "VERDICT"
        label = f"{title} · {self.blind} blind" if self.blind else title
        return Text.assemble((label, "dim"), "\n", VERDICT_LABELS[self.verdict], justify="center")
