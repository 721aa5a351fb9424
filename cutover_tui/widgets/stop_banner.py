"""The HALT/ROLLBACK banner shown across every screen until a decision is logged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from cutover_tui.state import SessionState
from cutover_tui.labels import display_unit
from cutover_tui.widgets.formatting import format_duration, format_value
from runbooks.model import Action, Runbook


@dataclass(frozen=True, slots=True)
class Banner:
    """What the banner shows: its text, whether it is a halt (else rollback), for which condition."""

    text: Text
    halt: bool
    condition: str | None


class StopBanner(Static):
    """Mirrors the app's ``banner`` reactive; every screen composes one, docked at its top."""

    DEFAULT_CSS = """
    StopBanner {
        dock: top;
        height: auto;
        width: 1fr;
        padding: 0 1;
        background: $error;
        color: white;
        display: none;
        &.-halt { background: #d75f00; }
    }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "banner", self._show_banner, init=True)

    def _show_banner(self, banner: Banner | None) -> None:
        self.display = banner is not None
        if banner is not None:
            self.set_class(banner.halt, "-halt")
            self.update(banner.text)


def build_banner(state: SessionState, runbook: Runbook, now: datetime) -> Banner | None:
    """The banner for ``state.banner_condition`` at ``now``, or None when no decision is awaited.

    Names the condition, its value, the threshold, how long it has been
    breached and the role that decides; past the escalation time of its
    severity without an acknowledgement, whom to escalate to.
    """
    if state.banner is None:
        return None
    view = state.conditions.get(state.banner_condition or "")
    try:
        condition = runbook.condition(state.banner_condition or "")
    except KeyError:
        condition = None
    if view is None or condition is None:
        return Banner(Text(f"✖ {state.banner}  — d: record a decision", style="bold"), False, state.banner_condition)
    halt = condition.action is Action.HALT
    breached = view.breach_held
    started = view.firing_since or view.since
    unanswered = max(0.0, (now - started).total_seconds()) if started else 0.0
    decides = runbook.roles.get(condition.decides or "", condition.decides or "the commander")
    text = Text()
    text.append("■ HALT " if halt else "✖ ROLLBACK ", style="bold reverse")
    text.append(f" {condition.id} {view.state.value}: ", style="bold")
    text.append(f"{format_value(view.value, display_unit(condition, runbook))} ", style="bold")
    text.append(f"(threshold {condition.when.text if condition.when else 'check fails'}) ")
    text.append(f"for {format_duration(breached)}", style="bold")
    text.append(f" — decides: {decides}")
    if view.acknowledged:
        text.append("  [acknowledged]", style="bold")
    text.append("\n d: record a decision   a: acknowledge   R: enter rollback", style="")
    level = next((e for e in runbook.escalation if e.severity == condition.severity), None)
    if (
        level is not None
        and level.respond_within is not None
        and not view.acknowledged
        and unanswered > level.respond_within
    ):
        whom = runbook.roles.get(level.escalate_to or "", level.escalate_to or "the next level")
        text.append(
            f"\n ▲ no response for {format_duration(unanswered)} ({level.severity}: respond within "
            f"{format_duration(level.respond_within)}) — escalate to {whom}",
            style="bold reverse",
        )
    return Banner(text, halt, condition.id)
