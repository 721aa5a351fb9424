"""Stop conditions: one three-line card per condition, updated only when its text changes."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from checks.state import BLIND_STATES, ConditionState
from cutover_tui.state import ConditionView, SessionState
from cutover_tui.labels import display_unit
from cutover_tui.derive import countdown_text
from cutover_tui.widgets.formatting import format_duration, format_value, sparkline
from cutover_tui.widgets.markers import BLIND_STYLE, condition_marker
from runbooks.model import Action, Runbook, StopCondition

ACTION_STYLES: dict[Action, str] = {
    Action.INFO: "dim",
    Action.WARN: "yellow",
    Action.HALT: "bold #d75f00",
    Action.ROLLBACK: "bold red",
}

#: Samples shown in a card's sparkline: as many as the pane's width allows, within these bounds.
MIN_TREND_SAMPLES = 12
MAX_TREND_SAMPLES = 60
#: Columns of a card that are not the sparkline (state, name, gaps, threshold marker).
CARD_TEXT_WIDTH = 36


class ConditionsList(OptionList):
    """Every stop condition: state, value against threshold, time in state, trend, action, who decides, why."""

    DEFAULT_CSS = """
    ConditionsList { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._cards: dict[str, tuple[str, ...]] = {}
        self._last_sync: tuple[SessionState, Runbook, datetime] | None = None

    def on_resize(self) -> None:
        if self._last_sync is not None:
            self.sync(*self._last_sync)

    @property
    def trend_samples(self) -> int:
        """Sparkline points that fit the pane's width."""
        room = self.scrollable_content_region.width - CARD_TEXT_WIDTH
        return max(MIN_TREND_SAMPLES, min(MAX_TREND_SAMPLES, room))

    @property
    def highlighted_condition_id(self) -> str | None:
        """The condition under the highlight."""
        option = self.highlighted_option
        return option.id if option is not None else None

    def sync(self, state: SessionState, runbook: Runbook, now: datetime) -> None:
        """Add new conditions and re-render only the cards whose content changed."""
        self._last_sync = (state, runbook, now)
        samples = self.trend_samples
        for condition in runbook.stop_conditions:
            view = state.conditions.get(condition.id)
            fingerprint = card_fingerprint(view, now, samples)
            if self._cards.get(condition.id) == fingerprint:
                continue
            card = condition_card(condition, view, runbook, now, samples)
            if condition.id in self._cards:
                self.replace_option_prompt(condition.id, card)
            else:
                self.add_option(Option(card, id=condition.id))
                if self.highlighted is None:
                    self.highlighted = 0
            self._cards[condition.id] = fingerprint


def card_fingerprint(view: ConditionView | None, now: datetime, samples: int) -> tuple[str, ...]:
    """What a card depends on, as plain strings: equal fingerprints render equal cards."""
    if view is None:
        return ("none", str(samples))
    return (
        str(samples),
        view.state.value,
        view.value_text,
        view.reason,
        str(view.flapping),
        str(view.acknowledged),
        str(view.active),
        repr(view.history[-samples:]),
        time_label(view),
    )


def time_label(view: ConditionView) -> str:
    """The card's clock, one per state: ``fires in 0:26``, ``for 1m14s`` (breach held), ``clears in 0:40``, time in state."""
    if view.state is ConditionState.PENDING:
        return f"fires in {countdown_text(view.remaining)}"
    if view.state is ConditionState.FIRING:
        return f"for {format_duration(view.breach_held)}"
    if view.state is ConditionState.RECOVERING:
        return f"clears in {countdown_text(view.remaining)}"
    return time_in_state(view)


def time_in_state(view: ConditionView) -> str:
    """How long the condition has been in its state, e.g. ``4m12s``."""
    if view.in_state_for is None:
        return ""
    return format_duration(view.in_state_for)


def condition_card(
    condition: StopCondition,
    view: ConditionView | None,
    runbook: Runbook,
    now: datetime,
    samples: int = MIN_TREND_SAMPLES,
) -> RenderableType:
    """Three lines: state, name, value against threshold; time in state, action and role, trend; why."""
    marker = condition_marker(view)
    state = view.state if view is not None else ConditionState.UNKNOWN
    blind = state in BLIND_STATES
    unit = display_unit(condition, runbook)
    threshold = condition.threshold_text or "check fails"

    grid = Table.grid(expand=True, padding=(0, 1))
    grid.add_column(width=11, no_wrap=True)
    grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    grid.add_column(no_wrap=True, justify="right")

    status = Text(f"{marker.symbol} {marker.word.upper()}", style=marker.style)
    held = Text(time_label(view) if view is not None else "", style="dim")
    if view is not None and not view.active:
        held.append(" inactive", style="dim italic")
    if view is not None and view.acknowledged:
        held.append(" ack", style="bold")
    if view is not None and view.flapping:
        held.append(" ≈flap", style="bold yellow")

    name = Text(condition.id, style="bold")
    action = Text(condition.action.value.upper(), style=ACTION_STYLES[condition.action])
    if condition.decides:
        action.append(f" → {condition.decides}")

    value = Text(view.value_text if view is not None else format_value(None, unit), style=marker.style if not blind else BLIND_STYLE)
    value.append(f" {threshold}", style="dim")
    trend = sparkline(view.history if view else (), condition.when, samples)
    grid.add_row(status, name, value)
    grid.add_row(held, action, trend)

    reason = view.reason if view is not None and view.reason else ("not evaluated yet" if view is None else "")
    why = Text(" " * 12)
    why.append(reason, style=BLIND_STYLE if blind or view is None else ("red" if state is ConditionState.FIRING else "dim"))
    why.no_wrap = True
    why.overflow = "ellipsis"
    return Group(grid, why)
