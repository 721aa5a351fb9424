"""The log pane: the last lines in the log's order, the newest at the bottom, whatever the state before it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from textual.app import App, ComposeResult

from cutover_tui.state import LogLine
from cutover_tui.widgets.decision_log import PANE_LINES, DecisionLog

START = datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)


def window(first: int, count: int = 4 * PANE_LINES) -> SimpleNamespace:
    """A state whose log holds lines ``first`` .. ``first + count - 1``, as the reducer bounds it at an instant."""
    return SimpleNamespace(
        log=tuple(
            LogLine(seq, START + timedelta(seconds=seq), "system", "note", f"line {seq}")
            for seq in range(max(first, 1), first + count)
        )
    )


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DecisionLog()


def shown(log: DecisionLog) -> list[int]:
    return [int(key.value) for key in log.rows if key.value is not None]


async def test_a_seek_back_shows_the_earlier_window_in_order_with_its_newest_line_last() -> None:
    """Replay seeks back: the lines before the old window come first, not after it, and the bottom line is the newest at that instant."""
    app = LogApp()
    async with app.run_test(size=(100, 12)) as pilot:
        log = app.query_one(DecisionLog)
        for last in (300, 270, 450, 449, 20, 10):  # back, forward past the window, one back, far back, from the start
            log.show(window(last - 4 * PANE_LINES + 1), None)
            await pilot.pause()
            assert shown(log) == list(range(max(last - PANE_LINES + 1, 1), last + 1)), last
            assert log.get_row_at(log.row_count - 1)[2].plain == f"line {last}"


async def test_new_lines_are_added_below_and_the_pane_follows_them() -> None:
    """Live: a new line is added at the bottom and scrolled to; the oldest falls off the pane."""
    app = LogApp()
    async with app.run_test(size=(100, 12)) as pilot:
        log = app.query_one(DecisionLog)
        log.show(window(1), None)
        log.show(window(2), None)
        await pilot.pause()
        assert shown(log) == list(range(2 + 3 * PANE_LINES, 2 + 4 * PANE_LINES))
        assert log.scroll_y == log.max_scroll_y > 0
