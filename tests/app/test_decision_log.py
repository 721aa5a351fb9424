"""The log pane: the last lines in the log's order, the newest at the bottom, whatever the state before it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from textual.app import App, ComposeResult

from cutover_tui.state import LogLine
from cutover_tui.widgets.decision_log import PANE_LINES, REMOVE_ONE_BY_ONE, DecisionLog

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
        assert shown(log)[-PANE_LINES:] == list(range(2 + 3 * PANE_LINES, 2 + 4 * PANE_LINES))
        assert log.scroll_y == log.max_scroll_y > 0
        last = 1 + REMOVE_ONE_BY_ONE  # the window whose lines gone are REMOVE_ONE_BY_ONE: they stay above
        for first in range(3, last + 1):
            log.show(window(first), None)
        await pilot.pause()
        assert shown(log) == list(range(1 + 3 * PANE_LINES, last + 4 * PANE_LINES))
        log.show(window(last + 1), None)  # one more gone: the pane keeps the last PANE_LINES alone
        await pilot.pause()
        assert shown(log) == list(range(last + 1 + 3 * PANE_LINES, last + 1 + 4 * PANE_LINES))


async def test_a_new_line_lays_nothing_out_and_the_scrollbar_follows(monkeypatch) -> None:
    """Once the pane scrolls, a new line repaints it and its scrollbar; the screen is not laid out again for it."""
    from textual.screen import Screen

    layouts: list[None] = []
    refresh_layout = Screen._refresh_layout
    monkeypatch.setattr(Screen, "_refresh_layout", lambda *a, **k: (layouts.append(None), refresh_layout(*a, **k))[1])
    app = LogApp()
    async with app.run_test(size=(100, 12)) as pilot:
        log = app.query_one(DecisionLog)
        log.show(window(1, 20), None)
        await pilot.pause(0.3)
        assert log.show_vertical_scrollbar
        laid_out = len(layouts)
        for first in (2, 3, 4):
            log.show(window(first, 20), None)
            await pilot.pause(0.1)
            assert log.get_row_at(log.row_count - 1)[2].plain == f"line {first + 19}"
            assert log.scroll_y == log.max_scroll_y > 0
            assert log.vertical_scrollbar.window_virtual_size == log.virtual_size.height
        log.show(window(5, 40), None)  # twenty lines at once: the scrollbar's span follows
        await pilot.pause(0.1)
        assert (
            log.vertical_scrollbar.window_virtual_size == log.virtual_size.height == len(shown(log)) + 1
        )  # and the header
        assert shown(log)[-40:] == list(range(5, 45))
        assert len(layouts) == laid_out
