"""The header: verdict, runbook, mode, T-clock, wall clock, next step and projected end."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from checks.status import Verdict
from cutover_tui.derive import standing_decision
from cutover_tui.labels import (
    DECISION_LABELS,
    decider_title,
    format_at,
    format_drift,
    format_duration,
    format_t_clock,
    format_wall_clock,
    format_wall_time,
)
from cutover_tui.state import Mode, SessionState, StepStatus
from cutover_tui.widgets.verdict_badge import VerdictBadge
from runbooks.model import Runbook

MODE_STYLES: dict[Mode, str] = {
    Mode.LIVE: "bold",
    Mode.REHEARSAL: "bold cyan",
    Mode.ROLLBACK: "bold white on red",
}
MODE_LABELS: dict[Mode, str] = {Mode.LIVE: "LIVE", Mode.REHEARSAL: "REHEARSAL", Mode.ROLLBACK: "ROLLING BACK"}


class DashboardHeader(Horizontal):
    """Two lines beside the verdict badge; updated from state and from the clock."""

    DEFAULT_CSS = """
    DashboardHeader {
        height: 2;
        background: $panel;
        #header-lines { width: 1fr; height: 2; padding: 0 1; }
        .header-line { height: 1; width: 1fr; }
        #header-title { width: 1fr; text-style: bold; text-overflow: ellipsis; text-wrap: nowrap; }
        #header-mode, #header-t-clock, #header-wall-clock, #header-end { width: auto; padding-left: 2; }
        #header-t-clock { text-style: bold; }
        #header-next { width: 1fr; text-overflow: ellipsis; text-wrap: nowrap; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: dict[str, Text] = {}
        self._last_shown: tuple[SessionState, Runbook, datetime, tzinfo | None, str | None] | None = None

    def on_resize(self) -> None:
        if self._last_shown is not None:
            self.show(*self._last_shown)

    def compose(self) -> ComposeResult:
        yield VerdictBadge()
        with Vertical(id="header-lines"):
            with Horizontal(classes="header-line"):
                yield Static(id="header-title")
                yield Static(id="header-mode")
                yield Static(id="header-t-clock")
                yield Static(id="header-wall-clock")
            with Horizontal(classes="header-line"):
                yield Static(id="header-next")
                yield Static(id="header-end")

    def show(
        self,
        state: SessionState,
        runbook: Runbook,
        now: datetime,
        zone: tzinfo | None,
        view_label: str | None,
    ) -> None:
        """Render ``state`` at ``now``; widgets whose text did not change are left alone."""
        self._last_shown = (state, runbook, now, zone, view_label)
        badge = self.query_one(VerdictBadge)
        badge.verdict, badge.blind, badge.rolling_back = _badge(state)
        self._set("#header-title", Text(state.runbook_name))
        self._set("#header-mode", mode_text(state, view_label))
        self._set("#header-t-clock", Text(format_t_clock(now, state.t0)))
        wall = format_wall_clock(now, zone) + (" (writer's clock)" if state.writers_clock else "")
        self._set("#header-wall-clock", Text(wall))
        # Before its first layout the header has no size yet; it spans the terminal's width.
        title_width = max(12, ((self.size.width or self.app.size.width) - 60) // 2)
        self._set("#header-next", next_text(state, runbook, now, zone, title_width))
        self._set("#header-end", end_text(state, runbook, now, zone))

    def _set(self, selector: str, text: Text) -> None:
        before = self._shown.get(selector)
        if before != text:
            self._shown[selector] = text
            # The clocks change every second at the same width: only a new width needs a layout, and only where
            # the width follows the text (the title and the next step fill what the others leave).
            static = self.query_one(selector, Static)
            width = static.styles.width
            follows_text = width is None or width.is_auto
            static.update(text, layout=before is None or (follows_text and before.cell_len != text.cell_len))


def mode_text(state: SessionState, view_label: str | None) -> Text:
    """``LIVE`` / ``REHEARSAL`` / ``ROLLBACK``, prefixed by ``FOLLOW (read-only)`` or ``REPLAY``."""
    text = Text()
    if view_label:
        text.append(f" {view_label} ", style="bold black on cyan")
        text.append(" ")
    text.append(f" {MODE_LABELS[state.mode]} ", style=MODE_STYLES[state.mode])
    if state.ended:
        text.append(f" ENDED: {state.ended}", style="bold")
    return text


def next_text(state: SessionState, runbook: Runbook, now: datetime, zone: tzinfo | None, title_width: int = 40) -> Text:
    """A decision that stops the plan, standing; then what comes next with its countdown, then what runs now; titles
    cut to ``title_width``."""

    def title(text: str) -> Text:
        cut = Text(text, style="bold")
        cut.truncate(title_width, overflow="ellipsis")
        return cut

    text = Text()
    decision = standing_decision(state)
    if decision is not None:
        who = decider_title(runbook, decision.decided_by or decision.actor)
        mark = "‖" if decision.decision == "hold" else "✖"
        text.append(
            f"{mark} {DECISION_LABELS[decision.decision]} decided {format_wall_time(decision.ts, zone, now)} by {who}",
            style="bold yellow" if decision.decision == "hold" else "bold red",
        )
        if decision.decision == "rollback":
            text.append(", the rollback plan not started", style="bold red")  # a follower's view has no R key
        text.append("   ")
    for risk in state.at_risk[:1]:
        text.append(f"⚠ {risk.text}", style="bold yellow")
        if len(state.at_risk) > 1:
            text.append(f" (+{len(state.at_risk) - 1} more)", style="yellow")
        text.append("   ")
    upcoming = state.step(state.next_step)
    if upcoming is not None:
        text.append("Next ", style="dim")
        text.append_text(title(upcoming.title))
        if upcoming.planned_start is not None:
            seconds = (upcoming.planned_start - now).total_seconds()
            # durations in whole seconds elapsed, as the step's drift says them: "in 04:12" and "due 04:35 ago" read as
            # times of day beside the clock and the planned time
            if seconds >= 1:
                text.append(f" in {format_duration(int(seconds))}", style="bold")  # as the T-clock counts
            elif seconds >= 0:
                text.append(" due now", style="bold")
            else:
                text.append(f" due {format_duration(int(-seconds))} ago", style="bold yellow")
            at = format_at(runbook.step(upcoming.id).at, rollback=upcoming.rollback_plan)
            text.append(f" ({at} {format_wall_time(upcoming.planned_start, zone, now)})", style="dim")
        text.append("   ")
    current = state.step(state.current_step)
    if current is not None and current.status is StepStatus.ACTIVE and current.started_at:
        elapsed = (now - current.started_at).total_seconds()
        duration = runbook.step(current.id).duration
        over = duration is not None and elapsed > duration
        text.append("Now ▶ ", style="bold cyan")
        text.append_text(title(current.title))
        text.append(f" {format_duration(elapsed)}", style="bold red" if over else "")
        if duration is not None:
            text.append(
                f"/{format_duration(duration)}" + (" OVERRUN" if over else ""), style="bold red" if over else "dim"
            )
    elif upcoming is None:
        text.append("No steps remaining", style="dim")
    text.rstrip()
    return text


def end_text(state: SessionState, runbook: Runbook, now: datetime, zone: tzinfo | None) -> Text:
    """``End ≈ 23:40 (+6m00s)``: the projected end and its drift from the plan."""
    projection = state.projection
    if projection is None:
        return Text("")
    text = Text("End ≈ ", style="dim")
    text.append(format_wall_time(projection.end, zone, now))
    drift = projection.drift_seconds
    if drift is not None:
        late = drift >= 60
        text.append(f" ({format_drift(drift)})", style="bold yellow" if late else "dim")
    return text


def _badge(state: SessionState) -> tuple[Verdict, int, bool]:
    """What the verdict badge shows of ``state``: its verdict, how many conditions are blind, whether rolling back."""
    return state.verdict, len(state.blind), state.mode is Mode.ROLLBACK
