"""Help explains the verdicts, "N blind" and the marks; no data, invalid and not polled each have their own mark and word."""

from __future__ import annotations

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Static

from app_backend import fresh_session, session_in_progress
from checks.status import Verdict
from cutover_tui.app import CutoverApp, make_app
from cutover_tui.labels import BLIND_CAUSE_MARKERS, CHECK_MARKERS, CONDITION_MARKERS, VERDICT_LABELS
from cutover_tui.screens.help import HelpScreen
from cutover_tui.widgets.conditions_list import ConditionsList
from cutover_tui.widgets.steps_table import StepsTable

pytestmark = pytest.mark.slow  # every test drives the real app with Pilot: seconds each

SIZE = (120, 40)


def plain(app: CutoverApp, selector: str, width: int = 100) -> str:
    """What a Static in the open screen shows, as plain text at ``width`` columns."""
    console = Console(width=width, record=True)
    console.print(app.screen.query_one(selector, Static).content)
    return console.export_text()


def test_no_data_invalid_and_not_polled_are_three_marks() -> None:
    """The three reasons a check cannot tell have three distinct symbols and words, none of them ok's or unknown's."""
    marks = [CHECK_MARKERS[status] for status in ("nodata", "invalid", "never")]
    assert len({m.symbol for m in marks}) == 3 and len({m.word for m in marks}) == 3
    taken = {CHECK_MARKERS["pass"].symbol, CONDITION_MARKERS[next(iter(CONDITION_MARKERS))].symbol, "?"}
    assert not {m.symbol for m in marks} & taken
    assert [m.word for m in marks] == ["no data", "invalid", "not polled"]


async def test_help_explains_every_verdict_blind_and_the_marks(app: CutoverApp, pilot: Pilot[None]) -> None:
    """? shows each verdict with what it means, what "N blind" counts, and every mark with its word."""
    await pilot.press("question_mark")
    await pilot.pause()
    assert isinstance(app.screen, HelpScreen)
    verdicts = plain(app, "#verdicts")
    for verdict in Verdict:
        assert VERDICT_LABELS[verdict] in verdicts
    assert "we cannot tell" in verdicts and "blocks GO" in verdicts
    assert "N blind" in verdicts and "cannot be seen now" in verdicts
    legend = plain(app, "#legend")
    for marker in BLIND_CAUSE_MARKERS.values():
        assert f"{marker.symbol} {marker.word}" in legend
    assert "? unknown" in legend and "◷ stale" in legend and "! error" in legend


async def test_cards_and_the_timeline_say_why_a_condition_is_unknown() -> None:
    """An unknown condition whose check had no data, an invalid value or no poll yet shows that mark and word."""
    backend = session_in_progress()  # api_errors: no data (its check's metric is absent)
    backend.tick("latency_p95", "invalid", None, detail="NaN")
    backend.condition("slow_p95", "unknown", None, "invalid: NaN")
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        cards = app.query_one(ConditionsList)
        assert cards.card("api_errors").plain_lines()[0].startswith("∅ NO DATA ")
        assert cards.card("slow_p95").plain_lines()[0].startswith("≠ INVALID ")
        assert cards.card("auth_errors").plain_lines()[0].startswith("● OK ")
        live = app.query_one(StepsTable).get_cell("monitor_error_rate_latency", "live").plain
        assert "∅" in live and "≠" in live
    app = make_app(fresh_session())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        card = app.query_one(ConditionsList).card("auth_errors")
        assert card.plain_lines()[0].startswith("○ NOT POLLED ")
        assert app.query_one(StepsTable).get_cell("final_go_no_go", "live").plain == "○○"
