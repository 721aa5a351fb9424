"""The HALT/ROLLBACK banner shown across every screen until a decision is logged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from rich.text import Text
from textual.widgets import Static

from cutover_tui.derive import hold_text, observed_text, seconds_text
from cutover_tui.labels import format_wall_clock
from cutover_tui.state import Mode, SessionState
from runbooks.model import Runbook


@dataclass(frozen=True, slots=True)
class Banner:
    """What the banner shows: its text, whether it is a halt (else rollback or a fault), for which condition.

    ``key`` names what it is about (``rollback:auth_errors``, ``log``): a new key rings the bell.
    """

    text: Text
    halt: bool
    condition: str | None
    key: str = ""


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


def build_banner(
    state: SessionState, runbook: Runbook, now: datetime, *, live: bool = True, zone: tzinfo | None = None
) -> Banner | None:
    """Every banner of ``state`` (``SessionState.banners``, most urgent first), or None when there is none.

    A firing condition's banner names it, its value, the threshold, how long
    it has been breached and the role that decides; one whose firing ended
    with no decision logged, when it fired and cleared (times in ``zone``).
    Past the escalation time of its severity without an acknowledgement,
    whom to escalate to. A failing
    log or a stopped writer comes first: it says why nothing can be trusted.
    ``live`` False (follow, replay): no hints of keys that write.
    """
    if not state.banners:
        return None
    text = Text()
    first = state.banners[0]
    for index, banner in enumerate(state.banners):
        if index:
            text.append("\n")
        if banner.condition is None:
            symbol = "⚠ " if banner.kind == "log" else "◷ "
            text.append(symbol + banner.text, style="bold reverse")
            continue
        view = state.conditions.get(banner.condition)
        condition = runbook.condition(banner.condition)
        decides = runbook.roles.get(condition.decides or "", condition.decides or "the commander")
        text.append("■ HALT " if banner.kind == "halt" else "✖ ROLLBACK ", style="bold reverse")
        if banner.cleared is not None:
            fired_at, cleared_at = banner.cleared
            text.append(f" {condition.id} fired at {format_wall_clock(fired_at, zone)} ", style="bold")
            text.append(f"for {seconds_text((cleared_at - fired_at).total_seconds())}", style="bold")
            text.append(f", cleared at {format_wall_clock(cleared_at, zone)}")
            if view is not None:
                text.append(f" (now {view.state.value}: {observed_text(view)})")
            text.append(": no decision logged", style="bold")
        elif view is not None:
            text.append(f" {condition.id} {view.state.value}: ", style="bold")
            text.append(f"{observed_text(view)} ", style="bold")
            rule = f"threshold {condition.threshold_text}" if condition.threshold_text else f"{condition.check} failing"
            text.append(f"({rule}) ")
            text.append(hold_text(view, lambda at: format_wall_clock(at, zone)), style="bold")
        text.append(f" — decides: {decides}")
        if banner.acknowledged:
            text.append("  [acknowledged]", style="bold")
        if live and (banner is first or index == 1 and first.condition is None):
            hints = ["d: record a decision"]
            if not banner.acknowledged and banner.cleared is None:
                hints.append("a: acknowledge")
            if state.mode is not Mode.ROLLBACK:
                hints.append("R: enter rollback")
            text.append("\n " + "   ".join(hints), style="")
        if banner.escalation:
            text.append(f"\n ▲ {banner.escalation}", style="bold reverse")
    key = f"{first.kind}:{first.condition or ''}"
    return Banner(text, first.kind == "halt", state.banner_condition, key)
