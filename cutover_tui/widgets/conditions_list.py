"""Stop conditions: one ``ConditionCard`` per condition, three lines each, updated part by part.

The pane is a scrolling column of cards of fixed height. ``show`` hands each
card its condition's view; a card repaints only the parts of it that changed
(``cutover_tui.widgets.condition_card``), so the clock ticking in every card
never makes Textual lay the pane out again. The keys are an option list's:
``up`` / ``down`` move the highlight, ``home`` / ``end``, ``pageup`` /
``pagedown``; a click highlights a card. ``a`` acknowledges the highlighted
condition (``highlighted_condition_id``).

The cards follow the runbook's order while they all fit. When the pane is
too short for all of them (an 80×24 terminal, a banner), they go worst
first: firing, then pending and recovering, then blind, then ok, then those
outside their active window; rollback before halt before warn. A firing condition is never scrolled out of sight.

The cards are fixed slots: the card at a position stays there, and a new
order hands each slot the condition now due there, with the parts drawn of
it so far. Its parts' keys differ from the previous condition's, so its
lines repaint, and a condition that only moved renders nothing anew. No card
moves, so a new order makes Textual lay nothing of the pane out (moving every
card laid it out again: up to some 50 ms with a hundred cards). The
highlight follows its condition to the slot now holding it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rich.console import Group, RenderableType
from textual import events
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.reactive import reactive

from checks.status import BLIND_STATES, ConditionState
from cutover_tui.state import CheckView, ConditionStanding, ConditionView, SessionState
from cutover_tui.widgets.condition_card import (
    CARD_HEIGHT,
    CARD_TEXT_WIDTH,
    MIN_TREND_SAMPLES,
    ConditionCard,
    card_lines,
)
from runbooks.model import Action, Runbook, StopCondition

#: Worst first: rollback, halt, warn, info.
ACTION_RANK = {Action.ROLLBACK: 0, Action.HALT: 1, Action.WARN: 2, Action.INFO: 3}


def _urgency(standing: ConditionStanding | None) -> int:
    """Firing (or blind after firing) first, then pending and recovering, then blind, then ok, then not in force."""
    if standing is None:
        return 2
    if not standing.active:
        return 4  # outside its active window: not in force now
    if standing.state is ConditionState.FIRING or standing.firing_since is not None:
        return 0
    if standing.state in (ConditionState.PENDING, ConditionState.RECOVERING):
        return 1
    return 2 if standing.state in BLIND_STATES else 3


def ranks(state: SessionState, runbook: Runbook) -> dict[str, tuple[int, int, int]]:
    """Each condition's place worst first (urgency, action, runbook order), from its standing: no view derived, no tick read."""
    standings = state.standings
    return {
        condition.id: (_urgency(standings.get(condition.id)), ACTION_RANK[condition.action], index)
        for index, condition in enumerate(runbook.stop_conditions)
    }


def arranged(rank: Mapping[str, tuple[int, int, int]], worst_first: bool) -> list[str]:
    """The condition ids in the order the cards are shown: worst first, or the runbook's."""
    return sorted(rank, key=rank.__getitem__ if worst_first else lambda cid: rank[cid][2])


def in_view(count: int, scroll_y: float, height: int) -> slice:
    """The cards (positions in display order) a pane ``height`` lines tall shows at ``scroll_y``, even partly."""
    top = round(scroll_y)  # as Textual offsets what it draws
    first = top // CARD_HEIGHT
    last = -(-(top + max(0, height)) // CARD_HEIGHT)  # past the last card even partly seen
    return slice(min(count, first), min(count, last))


def on_screen(count: int, scroll_y: float, height: int) -> slice:
    """The cards a pane ``height`` lines tall shows at ``scroll_y`` (``in_view``), and one more each side."""
    seen = in_view(count, scroll_y, height)
    return slice(max(0, seen.start - 1), min(count, seen.stop + 1))


__all__ = ["ConditionCard", "ConditionsList", "arranged", "condition_card", "in_view", "on_screen", "ranks"]


class ConditionsList(VerticalScroll, can_focus=True):
    """Every stop condition: state, value against threshold, time in state, trend, action, who decides, why."""

    BINDINGS = [
        Binding("down", "cursor_down", "Down", show=False),
        Binding("up", "cursor_up", "Up", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
    ]

    DEFAULT_CSS = """
    ConditionsList {
        height: 1fr;
        background: $surface;
        & > ConditionCard.-highlight {
            color: $foreground;
            background: $block-cursor-blurred-background;
        }
        &:focus > ConditionCard.-highlight {
            color: $block-cursor-foreground;
            background: $block-cursor-background;
            text-style: $block-cursor-text-style;
        }
    }
    """

    highlighted: reactive[int | None] = reactive(None, init=False)
    """The index of the highlighted card, None while there are none."""

    worst_first: reactive[bool] = reactive(False, init=False)
    """The cards do not all fit, so they are shown worst first (else in the runbook's order)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._slots: list[ConditionCard] = []  # the cards as shown: a position always holds the same card
        self._cards: dict[str, ConditionCard] = {}  # condition id -> the slot now showing it
        self._order: list[str] = []  # condition ids as displayed: the slots' conditions
        self._rank: dict[str, tuple[int, int, int]] = {}
        self._views: tuple[Mapping[str, ConditionView], Mapping[str, CheckView]] | None = None  # the latest state's

    @property
    def cards(self) -> list[ConditionCard]:
        """The cards, in the order they are shown."""
        return list(self._slots)

    def card(self, condition_id: str) -> ConditionCard:
        """The card now showing ``condition_id``."""
        return self._cards[condition_id]

    @property
    def highlighted_condition_id(self) -> str | None:
        """The condition under the highlight."""
        if self.highlighted is None or not self._slots:
            return None
        return self._order[self.highlighted]

    def show(self, state: SessionState, runbook: Runbook, now: datetime) -> None:
        """Hand the cards on screen their views (each repaints only what changed); the others, where to take them.

        The cards are ranked from each condition's standing alone; only the
        cards on screen (and one more each side) read their views, in one go
        (a replay reads the sparkline windows from the log), and compare
        them with what they drew. The others derive nothing until they are
        drawn or scrolled into view (``ConditionCard.show_later``).
        """
        new: list[ConditionCard] = []
        self._rank = ranks(state, runbook)
        for condition in runbook.stop_conditions:
            if condition.id not in self._cards:
                card = self._cards[condition.id] = ConditionCard(condition, runbook)
                self._slots.append(card)
                self._order.append(condition.id)
                new.append(card)
        self._views = (state.conditions, state.checks)
        if new:
            for card in self._slots:
                card.show_later(state.conditions, state.checks)
            self.mount_all(new)
            if self.highlighted is None:
                self.highlighted = 0
            self.call_after_refresh(self._arrange)
        else:
            self._arrange(every=True)

    def _show_on_screen(self, *, every: bool = False) -> None:
        """Hand the cards on screen the views of the latest state, read at once; with ``every``, the others where to take theirs.

        Without ``every`` (a scroll, a resize) only the cards on screen that
        hold no view yet take theirs: the others show the latest already.
        """
        if self._views is None:
            return
        conditions, checks = self._views
        height = self.scrollable_content_region.height or self.app.size.height
        seen = on_screen(len(self._slots), self.scroll_y, height)
        # The cards just out of view have their views read with the rest, and take them when they come into view:
        # a card repainted out of view makes Textual place every widget again to find it (some 5 ms a second).
        visible = set(self._order[in_view(len(self._slots), self.scroll_y, height)])
        if every:
            for card in self._slots[: seen.start] + self._slots[seen.stop :]:
                card.show_later(conditions, checks)
        cards = [card for card in self._slots[seen] if every or card.stale]
        if not cards:
            return
        read = getattr(conditions, "read", None)
        if read is not None:  # what the views read, at once (a replay reads the log)
            read(card.condition_id for card in cards)
        for card in cards:
            if card.condition_id in visible:
                card.show(conditions.get(card.condition_id), checks.get(card.condition.check))
            else:
                card.show_later(conditions, checks)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._show_on_screen()  # before the cards coming into view are drawn

    def on_resize(self) -> None:
        self._arrange()

    def _arrange(self, *, every: bool = False) -> None:
        """Runbook order while every card fits, else worst first; the highlight stays on its condition; then the cards on screen shown."""
        if not self.is_attached or not self._slots:
            return
        height = self.scrollable_content_region.height
        worst_first = height > 0 and len(self._slots) * CARD_HEIGHT > height
        wanted = arranged({cid: self._rank.get(cid, (0, 0, 0)) for cid in self._cards}, worst_first)
        self.worst_first = worst_first
        reordered = wanted != self._order
        if reordered:
            self._hand_out(wanted)
            self.scroll_home(animate=False, immediate=True)
        self._show_on_screen(every=every or reordered)

    def _hand_out(self, order: list[str]) -> None:
        """Hand each slot the condition ``order`` puts there (no card moves); the highlight follows its condition."""
        highlighted = self.highlighted_condition_id
        held = {card.condition_id: card.held for card in self._slots}
        self._order = order
        self._cards = {}
        for card, condition_id in zip(self._slots, order, strict=True):
            card.hold(*held[condition_id])  # its parts' keys now differ: its lines repaint when it is shown
            self._cards[condition_id] = card
        if highlighted is not None and self.highlighted is not None:
            self._slots[self.highlighted].remove_class("-highlight")
            self._cards[highlighted].add_class("-highlight")
            self.set_reactive(ConditionsList.highlighted, order.index(highlighted))

    # ------------------------------------------------------------ the highlight

    def validate_highlighted(self, highlighted: int | None) -> int | None:
        if highlighted is None or not self._slots:
            return None
        return max(0, min(len(self._slots) - 1, highlighted))

    def watch_highlighted(self, before: int | None, after: int | None) -> None:
        cards = self._slots
        if before is not None and before < len(cards):
            cards[before].remove_class("-highlight")
        if after is not None:
            cards[after].add_class("-highlight")
            self.call_after_refresh(self._scroll_to_highlight, after)

    def _scroll_to_highlight(self, index: int) -> None:
        """Bring the highlighted card into view, unless a new order moved the highlight (and the pane home) since."""
        if index == self.highlighted and index < len(self._slots):
            self.scroll_to_widget(self._slots[index], animate=False, immediate=True)

    def _move(self, delta: int) -> None:
        if self._slots:
            self.highlighted = (self.highlighted or 0) + delta

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height // 3)

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_first(self) -> None:
        self.highlighted = 0

    def action_last(self) -> None:
        self.highlighted = len(self._slots) - 1

    def action_page_down(self) -> None:
        self._move(self._page())

    def action_page_up(self) -> None:
        self._move(-self._page())

    def on_click(self, event: events.Click) -> None:
        node: DOMNode | None = event.widget
        while node is not None and not isinstance(node, ConditionCard):
            node = node.parent if node is not self else None
        if isinstance(node, ConditionCard):
            self.highlighted = self._slots.index(node)
            self.focus()


def condition_card(
    condition: StopCondition,
    view: ConditionView | None,
    runbook: Runbook,
    now: datetime,
    samples: int = MIN_TREND_SAMPLES,
    check: CheckView | None = None,
) -> RenderableType:
    """A card as a Rich renderable, three lines wide enough for ``samples`` sparkline points (for consoles and tests)."""
    parts = card_lines(condition, view, runbook, samples + CARD_TEXT_WIDTH, check)
    middle = parts["clock"]
    middle.append_text(parts["middle"])
    return Group(parts["top"], middle, parts["why"])
