"""The smallest terminal: at 80×24 what matters is on screen; below it the screen says what it needs; a card's clock is never cut."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets._footer import FooterKey

from app_backend import START, auth_errors_firing, fresh_session, session_in_progress
from app_driver import screen_lines
from checks.status import ConditionState
from cutover_tui.app import MIN_HEIGHT, MIN_WIDTH, CutoverApp, make_app
from cutover_tui.labels import VERDICT_LABELS, format_wall_clock
from cutover_tui.state import ConditionView
from cutover_tui.store import format_ts
from cutover_tui.widgets.condition_card import card_lines, clock_cell
from cutover_tui.widgets.conditions_list import ConditionsList
from cutover_tui.widgets.key_footer import KeyFooter, fit_words
from runbooks import load_runbook

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # every test drives the real app with Pilot: seconds each


def on_screen(app: CutoverApp, text: str) -> bool:
    return any(text in line for line in screen_lines(app))


def with_slow_p95_firing() -> Any:
    """Mid-cutover, a rollback condition and the last card's condition firing at once."""
    backend = session_in_progress()
    auth_errors_firing(backend)
    backend.condition("slow_p95", "firing", 1.4, "1.4s > 1s", breach_held=40.0)
    return backend


async def test_at_80_by_24_the_verdict_the_current_step_firing_conditions_and_every_key_are_on_screen() -> None:
    """80×24 with two conditions firing: the verdict, the current step, both firing cards and each footer key are visible."""
    app = make_app(with_slow_p95_firing())
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(50):  # until the cards are arranged worst first and the footer's keys drawn (bounded)
            await pilot.pause(0.05)
            lines = screen_lines(app)
            if any(line.startswith("✖ FIRING     slow_p95") for line in lines) and "? Help" in lines[-1]:
                break
        assert on_screen(app, VERDICT_LABELS[app.session.verdict])
        assert on_screen(app, "Verify /health and /metrics")  # the current step
        assert any(line.startswith("✖ FIRING     auth_errors") for line in lines)
        assert any(line.startswith("✖ FIRING     slow_p95") for line in lines)  # the runbook's last card
        footer = lines[-1]
        hints = app.query_one(KeyFooter).hints
        assert ("?", "Help") in hints and {key for key, _ in hints} >= {"c", "d", "a", "R", "?"}
        for key, word in hints:
            assert f"{key} {word}".strip() in footer, (key, word, footer)
        assert footer.rstrip().endswith("? Help")


async def test_cards_go_worst_first_only_when_they_do_not_all_fit() -> None:
    """On a tall screen the cards keep the runbook's order; at 80×24 the firing ones come first and the title says so."""
    app = make_app(with_slow_p95_firing())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        pane = app.query_one(ConditionsList)
        assert [c.condition_id for c in pane.cards] == [c.id for c in app.runbook.stop_conditions]
        assert app.query_one("#conditions-pane").border_title == "Stop conditions"
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.pause()
        assert [c.condition_id for c in pane.cards][:2] == ["auth_errors", "slow_p95"]
        assert app.query_one("#conditions-pane").border_title == "Stop conditions, worst first"


async def test_a_pane_that_goes_worst_first_at_start_shows_its_first_card_whole() -> None:
    """The demo at 80×24 before T-0: the cards went worst first as the dashboard mounted (a condition outside its
    window ranks last), and the highlight, on the runbook's first condition, followed it to the third slot; the pane
    then scrolled to show it, and the worst card's first line (its state and name) was above the pane. A new order
    brings the pane home, and the highlight's scroll asked for before it no longer moves it."""
    backend = fresh_session()
    backend.record("t0_set", {"t0": format_ts(backend.now() + timedelta(seconds=30))}, actor="commander")
    app = make_app(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(ConditionsList)
        for _ in range(5):
            await pilot.pause(0.05)
        assert pane.worst_first and pane.cards[0].condition_id != "auth_errors"  # it was reordered as it mounted
        assert pane.scroll_y == 0
        first = pane.cards[0].condition_id
        assert any(line.startswith("○ NOT POLLED") and first in line for line in screen_lines(app)), first


@pytest.mark.size(60, 16)
async def test_below_the_minimum_the_screen_says_what_it_needs(app: CutoverApp, pilot: Pilot[None]) -> None:
    """At 60×16 the screen names its size and the size it needs, keeps the verdict, and hides the empty panes; 80×24 brings them back."""
    await pilot.pause()
    text = "\n".join(screen_lines(app))
    assert f"This terminal is 60×16; the dashboard needs at least {MIN_WIDTH}×{MIN_HEIGHT}" in " ".join(text.split())
    assert f"VERDICT: {VERDICT_LABELS[app.session.verdict]} at {format_wall_clock(app.backend.now(), app.zone)}" in text
    assert not app.query_one("#main").display or app.query_one("#main").region.height == 0
    assert "Steps" not in text
    await pilot.resize_terminal(80, 24)
    await pilot.pause()
    assert app.query_one("#main").region.height > 0 and on_screen(app, "Stop conditions")
    assert not on_screen(app, "This terminal is")


def pending_view(**changes: Any) -> ConditionView:
    view = ConditionView(
        "auth_errors",
        ConditionState.PENDING,
        0.041,
        "> 1%",
        START,
        reason="4.1% > 1% for 7s of 1m",
        breach_held=7.0,
        history=(0.002, 0.041),
        for_=60.0,
        remaining=53.0,
        value_text="4.1%",
    )
    return replace(view, **changes)


@pytest.mark.parametrize(
    "view",
    [
        pending_view(),
        pending_view(remaining=724.0, acknowledged=True, flapping=True),
        pending_view(state=ConditionState.RECOVERING, remaining=3723.0, active=False, acknowledged=True),
        pending_view(state=ConditionState.FIRING, breach_held=3725.0, flapping=True),
    ],
)
def test_a_cards_clock_is_never_cut_at_any_width(view: ConditionView) -> None:
    """ "fires in 0:53", "clears in 1:02:03 inactive ack": the clock reads whole at every card width from 36 to 200."""
    runbook = session_in_progress().runbook
    condition = runbook.condition("auth_errors")
    clock = clock_cell(view).plain
    for width in range(36, 201):
        line = card_lines(condition, view, runbook, width)
        assert line["clock"].plain.rstrip() == clock, (width, line["clock"].plain)
        assert line["clock"].cell_len + line["middle"].cell_len == width


def test_a_cards_name_keeps_its_place_and_the_rule_beside_a_blind_value_gives_way_first() -> None:
    """A blind card's value reads "0.2% at 02:35:52 (fires > 2x baseline)": where the name and all that do not fit, the
    rule gives way, whole, before a letter of the name does; the value itself is cut last."""
    runbook = load_runbook(ROOT / "sample_runbooks" / "demo.yaml")
    condition = runbook.condition("auth_errors_vs_baseline")
    view = pending_view(id=condition.id, state=ConditionState.UNKNOWN, value_text="0.2% at 02:35:52",
                        threshold="> 2x baseline", reason="baseline not established: 2 of 10 readings")  # fmt: skip
    rule = "(fires > 2x baseline)"
    name, value = condition.id, view.value_text
    for width in range(36, 201):
        top = card_lines(condition, view, runbook, width)["top"].plain
        assert len(top) == width, (width, top)
        fits = width - 12 - 2  # the state cell and the two spaces
        if len(name) + len(value) + 1 + len(rule) <= fits:
            assert f" {name} " in top and top.endswith(f"{value} {rule}"), (width, top)
        elif len(name) + len(value) <= fits:
            assert f" {name} " in top and top.endswith(value) and "fires" not in top, (width, top)
        else:
            assert value in top and "fires" not in top, (width, top)  # the name is cut, the value kept whole


@pytest.mark.parametrize("size", [(80, 24), (109, 30), (110, 30), (130, 36), (200, 50)])
async def test_the_pending_cards_countdown_reads_whole_in_the_app(size: tuple[int, int]) -> None:
    """In the running app, narrow and wide layouts alike, the card's "fires in 0:53" is drawn whole."""
    backend = session_in_progress()
    backend.condition("auth_errors", "pending", 0.041, "4.1% > 1%")
    backend.advance(7)
    app = make_app(backend)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        card = app.query_one(ConditionsList).card("auth_errors")
        assert card.plain_lines()[1].startswith("fires in 0:53 ")
        assert any("fires in 0:53 " in line for line in screen_lines(app))


def test_footer_words_give_way_least_needed_first_and_help_keeps_its_own() -> None:
    """When the keys do not fit with their words, note and why lose theirs first; ? Help keeps its word."""
    keys = ["s", "c", "n", "w", "R", "?"]
    words = ["Start", "Complete", "Note", "Why?", "Rollback", "Help"]
    actions = ["start_step", "complete_step", "add_note", "why", "rollback", "help"]
    assert fit_words(keys, words, actions, 200) == words
    assert fit_words(keys, words, actions, 41) == ["Start", "Complete", "", "", "Rollback", "Help"]
    assert fit_words(keys, words, actions, 10)[-1] == "Help"


async def test_focus_moving_between_panes_with_the_same_keys_keeps_the_footers_keys() -> None:
    """Tab from the steps to the step's detail: the same keys apply, so the footer keeps its keys (composing them again
    laid the whole screen out on every move of focus); to a pane with another key, the footer shows it."""
    app = make_app(session_in_progress())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        footer = app.query_one(KeyFooter)
        assert type(app.focused).__name__ == "StepsTable"
        keys, hints = list(footer.query(FooterKey)), footer.hints
        await pilot.press("tab")
        await pilot.pause()
        assert type(app.focused).__name__ == "StepDetail"
        assert footer.hints == hints
        assert all(now is before for now, before in zip(footer.query(FooterKey), keys, strict=True))
        await pilot.press("tab")  # the detail's items: one key more
        for _ in range(20):
            await pilot.pause(0.05)
            if len(footer.hints) > len(hints):
                break
        assert len(footer.hints) == len(hints) + 1 and set(hints) < set(footer.hints)
