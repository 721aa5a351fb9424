"""One stop condition as a three-line card of fixed height, re-rendered part by part.

A card is four parts, each drawn from the ``ConditionView`` alone and kept as
rendered segments until what it shows changes:

- ``top``: state, name, value against the threshold (line 1);
- ``clock``: time in state, or the countdown, and the flags (line 2, left);
- ``middle``: action and who decides, the trend (line 2, the rest);
- ``why``: the reason (line 3).

The clock is never cut: its cell is as wide as its text ("fires in 0:53",
"clears in 12:04 ack ≈flap"), and the action and the trend share what is left.

``show(view, check)`` compares each part's inputs with the ones drawn and refreshes
only the lines whose parts changed: a clock tick with no new reading
repaints the clock cell alone, and re-renders no other part. The height never
changes, so no update makes Textual lay the pane out again. A card that is
scrolled out of view renders nothing until it is seen, and is handed where
to take its view from (``show_later``), not the view: it derives nothing,
reads no sparkline and compares nothing until it is drawn or shown again.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Span, Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from checks.status import BLIND_STATES, ConditionState
from cutover_tui.derive import countdown_text, seconds_text
from cutover_tui.labels import (
    BLIND_STYLE,
    condition_marker,
    display_unit,
    format_duration,
    format_value,
    threshold_shown,
)
from cutover_tui.state import CheckView, ConditionView
from runbooks.model import Action, Runbook, StopCondition, Threshold

ACTION_STYLES: dict[Action, str] = {
    Action.INFO: "dim",
    Action.WARN: "yellow",
    Action.HALT: "bold #d75f00",
    Action.ROLLBACK: "bold red",
}

#: Columns of the left cell (the state on line 1, at least the clock on line 2); the reason is indented past it.
#: The widest state is "◑ RECOVERING" / "○ NOT POLLED".
LEFT = 12
#: Columns kept for the action on line 2 before the trend gives way to a long clock.
MIN_ACTION = 8
#: Sparkline points: as many as the card's width allows, within these bounds.
MIN_TREND_SAMPLES = 12
MAX_TREND_SAMPLES = 60
#: Columns of a card that are not the sparkline (state, name, gaps, threshold marker).
CARD_TEXT_WIDTH = 36
PARTS = ("top", "clock", "middle", "why")
#: Lines of a card.
CARD_HEIGHT = 3
#: The line each part is drawn on.
LINE_OF = {"top": 0, "clock": 1, "middle": 1, "why": 2}
#: A sparkline's bars, lowest to highest, and the mark of a gap (no value).
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
GAP_SYMBOL = "·"


def sparkline(history: Sequence[float | None], threshold: Threshold | None, width: int) -> Text:
    """The last ``width`` values as bars, then ``┊`` and the threshold's own bar height.

    The scale spans the values and the threshold, so a bar taller than the
    threshold bar is above the line (the breach is told by height, not only by
    colour: breaching bars are also red). Gaps (no value: unknown, stale,
    error) are ``·``, never a low bar.
    """
    samples = list(history)[-width:]
    values = [v for v in samples if v is not None and math.isfinite(v)]
    scale = values + ([threshold.value] if threshold is not None else [])
    low, high = (min(scale), max(scale)) if scale else (0.0, 1.0)
    span = high - low

    def level(value: float) -> int:
        if span <= 0:
            return len(SPARK_BLOCKS) // 2
        return min(len(SPARK_BLOCKS) - 1, int((value - low) / span * (len(SPARK_BLOCKS) - 1) + 0.5))

    bars = Text()
    for value in samples:
        if value is None or not math.isfinite(value):
            bars.append(GAP_SYMBOL, style="magenta")
            continue
        breached = threshold is not None and threshold.holds(value)
        bars.append(SPARK_BLOCKS[level(value)], style="red" if breached else "green")
    if not samples:
        bars.append("no data yet", style="dim")
    if threshold is not None:
        bars.append("┊", style="dim")
        bars.append(SPARK_BLOCKS[level(threshold.value)], style="yellow")
    return bars


def trend_samples(width: int) -> int:
    """Sparkline points that fit a card ``width`` cells wide."""
    return max(MIN_TREND_SAMPLES, min(MAX_TREND_SAMPLES, width - CARD_TEXT_WIDTH))


def time_label(view: ConditionView) -> str:
    """The card's clock, one per state: ``fires in 0:26``, ``for 1m14s`` (breach held), ``clears in 0:40``, time in state."""
    if view.state is ConditionState.PENDING:
        return f"fires in {countdown_text(view.remaining)}"
    if view.state is ConditionState.FIRING:
        return f"for {seconds_text(view.breach_held)}"  # whole seconds elapsed, as the reason counts them
    if view.state is ConditionState.RECOVERING:
        return f"clears in {countdown_text(view.remaining)}"
    return time_in_state(view)


def time_in_state(view: ConditionView) -> str:
    """How long the condition has been in its state, e.g. ``4m12s``."""
    if view.in_state_for is None:
        return ""
    return format_duration(view.in_state_for)


def value_cell(
    condition: StopCondition,
    view: ConditionView | None,
    runbook: Runbook,
    check: CheckView | None = None,
    *,
    rule: bool = True,
) -> Text:
    """The value against the threshold: ``4.1% > 1%`` breached, ``0.2% ≤ 1%`` passing; without ``rule``, the value alone."""
    marker = condition_marker(view, check)
    state = view.state if view is not None else ConditionState.UNKNOWN
    shown = view.value_text if view is not None else format_value(None, display_unit(condition, runbook))
    value = Text(shown, style=BLIND_STYLE if state in BLIND_STATES else marker.style)
    if rule and condition.threshold_text:  # "" for a condition that fires when its check fails
        value.append(f" {threshold_shown(condition.threshold_text, state)}", style="dim")
    return value


def trend_width(view: ConditionView | None, samples: int) -> int:
    """Cells the sparkline takes (``sparkline``), without drawing it."""
    points = len(view.history[-samples:]) if view is not None else 0
    return points if points else len("no data yet")


def clock_cell(view: ConditionView | None) -> Text:
    """Time in state (or the countdown) and the flags: inactive, acknowledged, flapping."""
    held = Text(time_label(view) if view is not None else "", style="dim")
    if view is not None and not view.active:
        held.append(" inactive", style="dim italic")
    if view is not None and view.acknowledged:
        held.append(" ack", style="bold")
    if view is not None and view.flapping:
        held.append(" ≈flap", style="bold yellow")
    return held


def why_cell(view: ConditionView | None) -> Text:
    """The reason, coloured by how much it matters."""
    state = view.state if view is not None else ConditionState.UNKNOWN
    blind = state in BLIND_STATES
    reason = view.reason if view is not None and view.reason else ("not evaluated yet" if view is None else "")
    style = BLIND_STYLE if blind or view is None else ("red" if state is ConditionState.FIRING else "dim")
    return Text(reason, style=style)


def _fit(text: Text, width: int, *, right: bool = False) -> Text:
    """``text`` cut (with an ellipsis) or padded to exactly ``width`` cells."""
    if width <= 0:
        return Text("")
    text = text.copy()
    if text.style:  # as a span under the others, so the style survives being joined to other text
        text.spans.insert(0, Span(0, len(text), text.style))
        text.style = ""
    text.no_wrap = True
    if right and text.cell_len < width:
        text.pad_left(width - text.cell_len)
    text.truncate(max(0, width), overflow="ellipsis", pad=True)
    return text


def card_lines(
    condition: StopCondition,
    view: ConditionView | None,
    runbook: Runbook,
    width: int,
    check: CheckView | None = None,
) -> dict[str, Text]:
    """Every part of a card at ``width`` cells, as Rich text: ``top``, ``clock``, ``middle``, ``why``."""
    layout = _Layout(condition, view, runbook, width, trend_samples(width), check)
    return {part: layout.text(part) for part in PARTS}


def clock_width(view: ConditionView | None) -> int:
    """Cells of the clock cell: the left column, or the clock's own text when that is wider (never cut)."""
    return max(LEFT, clock_cell(view).cell_len)


def clock_text(view: ConditionView | None, width: int) -> Text:
    """The clock part of a card ``width`` cells wide: the clock cell at its own width (``clock_width``), never cut."""
    cell = clock_cell(view)
    return _fit(cell, min(max(LEFT, cell.cell_len), width))


class _Layout:
    """Where each part of a card goes at a width, and what each part shows."""

    def __init__(
        self,
        condition: StopCondition,
        view: ConditionView | None,
        runbook: Runbook,
        width: int,
        samples: int,
        check: CheckView | None = None,
    ):
        self.condition, self.view, self.runbook, self.width, self.samples = condition, view, runbook, width, samples
        self.check = check
        value = value_cell(condition, view, runbook, check)
        # Line 1: the name, then the value at the right edge. Where they do not both fit, the rule beside the value
        # ("≤ 1%", "(fires > 2x baseline)") gives way, whole, before the name does; the value itself is cut last.
        room = max(0, width - LEFT - 2)
        if cell_len(condition.id) + value.cell_len > room:
            value = value_cell(condition, view, runbook, check, rule=False)
        self.value, self.value_width = value, min(value.cell_len, room)
        self.name = room - self.value_width
        right = max(value.cell_len, trend_width(view, samples) + (2 if condition.when is not None else 0))
        # Line 2: the clock takes what it needs; the trend, under the value, gives way to it before the action does.
        self.right = max(0, min(right, width - LEFT - 3))
        self.clock = min(clock_width(view), width)
        self.trend = max(0, min(self.right, width - self.clock - 2 - MIN_ACTION))
        self.action = max(0, width - self.clock - 2 - self.trend)

    def text(self, part: str) -> Text:
        view, condition = self.view, self.condition
        if part == "top":
            marker = condition_marker(view, self.check)
            line = _fit(Text(f"{marker.symbol} {marker.word.upper()}", style=marker.style), LEFT)
            line.append(" ")
            line.append_text(_fit(Text(condition.id, style="bold"), self.name))
            line.append(" ")
            line.append_text(_fit(self.value, self.value_width, right=True))
            return line
        if part == "clock":
            return clock_text(view, self.width)
        if part == "middle":
            if self.width - self.clock < 2:  # a clock as wide as the card: nothing else fits beside it
                return Text(" " * max(0, self.width - self.clock))
            action = Text(condition.action.value.upper(), style=ACTION_STYLES[condition.action])
            if condition.decides:
                action.append(f" → {condition.decides}")
            line = Text(" ")
            line.append_text(_fit(action, self.action))
            line.append(" ")
            trend = sparkline(view.history if view else (), condition.when, self.samples)
            line.append_text(_fit(trend, self.trend, right=True))
            return line
        line = Text(" " * (LEFT + 1))
        line.append_text(_fit(why_cell(view), max(0, self.width - LEFT - 1)))
        return line


def _keys(
    condition: StopCondition, view: ConditionView | None, width: int, check: CheckView | None = None
) -> dict[str, Hashable]:
    """What each part depends on: equal keys draw equal parts (the pane's slots are handed other conditions)."""
    if view is None:
        return {part: ("none", width, condition.id) for part in PARTS}
    samples = trend_samples(width)
    history = view.history[-samples:]
    value_width = (
        cell_len(view.value_text) + 1 + cell_len(threshold_shown(condition.threshold_text, view.state))
    )  # the value cell
    layout = (width, samples, value_width, len(history))
    marker = condition_marker(view, check)
    return {
        "top": (condition.id, layout, marker.symbol, marker.word, view.state, view.value_text),
        "clock": (time_label(view), view.active, view.acknowledged, view.flapping),
        "middle": (condition.id, layout, clock_width(view), history),
        "why": (width, view.state, view.reason),
    }


class ConditionCard(Widget):
    """One stop condition: state, name, value against threshold; clock, action, trend; why. Three lines, always."""

    DEFAULT_CSS = """
    ConditionCard {
        height: 3;
        width: 1fr;
    }
    """

    def __init__(
        self,
        condition: StopCondition,
        runbook: Runbook,
        view: ConditionView | None = None,
        check: CheckView | None = None,
    ) -> None:
        super().__init__()
        self.condition = condition
        """The condition the card shows; the pane hands the card another one when the order changes (``ConditionsList``)."""
        self.runbook = runbook
        self._view = view
        self._check = check
        self._source: tuple[Mapping[str, ConditionView], Mapping[str, CheckView]] | None = None
        self._keys: dict[str, Hashable] = {}
        self._drawn: dict[str, tuple[Hashable, Strip]] = {}  # part -> (key, strip) as last rendered
        self.renders: dict[str, int] = dict.fromkeys(PARTS, 0)
        """How many times each part was rendered (tests read it: a clock tick renders only ``clock``)."""

    @property
    def condition_id(self) -> str:
        return self.condition.id

    @property
    def view(self) -> ConditionView | None:
        """The condition's view the card shows (a pending one taken first)."""
        self._take()
        return self._view

    @property
    def check(self) -> CheckView | None:
        """The view of the condition's check the card shows (a pending one taken first)."""
        self._take()
        return self._check

    @property
    def held(self) -> tuple[StopCondition, dict[str, tuple[Hashable, Strip]]]:
        """The condition the card shows and the parts drawn of it, for the card the pane hands it to next (``hold``)."""
        return self.condition, self._drawn

    def hold(self, condition: StopCondition, drawn: dict[str, tuple[Hashable, Strip]]) -> None:
        """Show ``condition`` from now on, with the parts another card drew of it (``held``): a part drawn before is not rendered again.

        The lines on screen are the previous condition's until the next ``show``
        or ``show_later`` compares the keys and refreshes the lines that differ.
        """
        self.condition, self._drawn = condition, drawn

    @property
    def stale(self) -> bool:
        """The card holds where to take its view from, not the view itself (``show_later``)."""
        return self._source is not None

    def show(self, view: ConditionView | None, check: CheckView | None = None) -> None:
        """Take the condition's latest view (and its check's); refresh only the lines whose parts now differ from what is drawn."""
        self._source = None
        self._view, self._check = view, check
        keys = _keys(self.condition, view, self.size.width, check)
        changed = {part for part, key in keys.items() if self._keys.get(part) != key}
        self._keys = keys
        if not changed or not self.is_mounted:
            return
        if changed == {"clock"}:
            self.refresh(Region(0, 1, clock_width(view), 1))
            return
        for line in sorted({LINE_OF[part] for part in changed}):
            self.refresh(Region(0, line, self.size.width, 1))

    def show_later(self, conditions: Mapping[str, ConditionView], checks: Mapping[str, CheckView]) -> None:
        """Off screen: take the view from ``conditions`` (and the check's from ``checks``) when next drawn or shown.

        Nothing is derived or compared now; the first time the card goes
        stale it is refreshed whole, so that no line Textual kept of it is
        shown once it scrolls into view.
        """
        fresh = self._source is None
        self._source = (conditions, checks)
        if fresh:
            self._keys = {}
            if self.is_mounted:
                self.refresh()

    def _take(self) -> None:
        """Take the pending view, if any (its parts are compared when drawn)."""
        if self._source is not None:
            conditions, checks = self._source
            self._source = None
            self._view, self._check = conditions.get(self.condition.id), checks.get(self.condition.check)
            self._keys = {}

    def on_resize(self) -> None:
        if self._source is None:  # a stale card compares its parts when drawn
            self.show(self._view, self._check)

    def plain_lines(self) -> list[str]:
        """The three lines as plain text, as drawn at the card's width (for tests and screen readers)."""
        parts = card_lines(self.condition, self.view, self.runbook, self.size.width or 60, self.check)
        return [parts["top"].plain, parts["clock"].plain + parts["middle"].plain, parts["why"].plain]

    def _part(self, part: str, width: int) -> Strip:
        self._take()
        if not self._keys:
            self._keys = _keys(self.condition, self.view, width, self.check)
        key = (width, self._keys[part])
        drawn = self._drawn.get(part)
        if drawn is not None and drawn[0] == key:
            return drawn[1]
        if part == "clock":  # what a second changes: drawn without laying out the rest of the card
            text = clock_text(self.view, width)
        else:
            text = _Layout(self.condition, self.view, self.runbook, width, trend_samples(width), self.check).text(part)
        strip = Strip(render_segments(text, self.app.console), text.cell_len)
        self._drawn[part] = (key, strip)
        self.renders[part] += 1
        return strip

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        style = self.rich_style
        parts: tuple[str, ...]
        if y == 0:
            parts = ("top",)
        elif y == 1:
            parts = ("clock", "middle")
        elif y == 2:
            parts = ("why",)
        else:
            return Strip.blank(width, style)
        # Each part is styled on its own: a part drawn before keeps its styled strip (``Strip.apply_style`` caches it),
        # so a clock tick styles the few segments of the clock, not the sparkline's beside it.
        return Strip.join([self._part(part, width).apply_style(style) for part in parts]).crop_extend(0, width, style)


def render_segments(text: Text, console) -> list[Segment]:
    """``text`` as segments, without the line end."""
    return [segment for segment in text.render(console) if segment.text != "\n"]
