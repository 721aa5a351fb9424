"""The stop-conditions pane: a card per condition that repaints only what changed; keys as in an option list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable

from app_backend import AppTestBackend, auth_errors_firing, fresh_session, session_in_progress
from app_driver import screen_lines
from cutover_tui.app import CutoverApp, make_app
from cutover_tui.widgets.conditions_list import ConditionCard, ConditionsList, in_view, on_screen
from cutover_tui.widgets.step_detail import StepDetail
from cutover_tui.widgets.steps_table import StepsTable
from runbooks import parse_runbook

SIZE = (120, 36)
BODY = ("top", "middle", "why")


async def wait_until(pilot: Pilot[Any], predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await pilot.pause(0.05)
    assert predicate()


def renders(cards: list[ConditionCard]) -> dict[str, dict[str, int]]:
    return {card.condition_id: dict(card.renders) for card in cards}


async def test_a_clock_tick_without_new_readings_renders_no_card_body() -> None:
    """A second passing with no reading (and no new sparkline instant) re-renders each card's clock cell alone."""
    backend = session_in_progress()
    # Sparkline points sit on multiples of each check's interval (2 s and 3 s here): start one second past a
    # multiple of both, so the next second brings no new point, as most seconds do.
    backend.advance((1 - int(backend.now().timestamp())) % 6)
    app = make_app(backend, clock_tick=0.05)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ConditionsList)
        cards = pane.cards
        await wait_until(pilot, lambda: all(card.renders["clock"] for card in cards))
        await pilot.pause(0.2)
        before, clocks = renders(cards), [card.plain_lines()[1][:11] for card in cards]
        backend.advance(1)
        await wait_until(
            pilot, lambda: all(card.renders["clock"] > before[card.condition_id]["clock"] for card in cards)
        )
        await pilot.pause(0.2)
        after = renders(cards)
        for card in cards:
            assert {part: after[card.condition_id][part] for part in BODY} == {
                part: before[card.condition_id][part] for part in BODY
            }
        assert [card.plain_lines()[1][:11] for card in cards] != clocks  # the clocks did move on


async def test_a_new_reading_renders_only_its_cards_changed_parts() -> None:
    """A condition that changes state re-renders that card's lines; the other cards' bodies stay as drawn."""
    backend = session_in_progress()
    app = make_app(backend, clock_tick=3600)
    async with app.run_test(size=SIZE) as pilot:
        cards = app.query_one(ConditionsList).cards
        await wait_until(pilot, lambda: all(card.renders["top"] for card in cards))
        before = renders(cards)
        backend.condition("slow_p95", "pending", 1.4, "1.4s > 1s")
        slow = app.query_one(ConditionsList).card("slow_p95")
        await wait_until(pilot, lambda: "PENDING" in slow.plain_lines()[0])
        await pilot.pause(0.2)
        after = renders(cards)
        assert after["slow_p95"]["top"] > before["slow_p95"]["top"]
        for condition_id in ("auth_errors", "health_down", "api_errors"):
            assert {p: after[condition_id][p] for p in BODY} == {p: before[condition_id][p] for p in BODY}, condition_id


async def test_keys_move_the_highlight_like_an_option_list(app: CutoverApp, pilot: Pilot[None]) -> None:
    """In the pane, down/up/end/home move the highlight; highlighted_condition_id follows; a click highlights a card."""
    pane = app.query_one(ConditionsList)
    ids = [condition.id for condition in app.runbook.stop_conditions]
    await pilot.press("2")
    assert pane.has_focus and pane.highlighted_condition_id == ids[0]
    await pilot.press("down")
    assert pane.highlighted_condition_id == ids[1]
    assert pane.card(ids[1]).has_class("-highlight") and not pane.card(ids[0]).has_class("-highlight")
    await pilot.press("end")
    assert pane.highlighted_condition_id == ids[-1]
    await pilot.press("down")
    assert pane.highlighted_condition_id == ids[-1]
    await pilot.press("up", "home")
    assert pane.highlighted_condition_id == ids[0]
    await pilot.click(pane.card(ids[2]), offset=(2, 1))
    assert pane.highlighted_condition_id == ids[2]


async def test_acknowledge_takes_the_highlighted_condition_once_the_banner_is_answered() -> None:
    """With the banner's condition acknowledged, a acknowledges the firing condition under the highlight."""
    backend = session_in_progress()
    auth_errors_firing(backend)
    backend.condition("slow_p95", "firing", 1.4, "1.4s > 1s", firing_since="2026-12-01T16:36:00Z")
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await wait_until(pilot, lambda: app.session.conditions["auth_errors"].acknowledged)
        await pilot.press("2", "end")
        assert app.query_one(ConditionsList).highlighted_condition_id == "slow_p95"
        await pilot.press("a")
        await wait_until(pilot, lambda: app.session.conditions["slow_p95"].acknowledged)


async def test_a_highlight_handled_after_the_detail_pane_is_gone_is_harmless() -> None:
    """A RowHighlighted arriving once the step detail is removed (as during teardown) raises nothing."""
    app = make_app(session_in_progress())
    async with app.run_test(size=SIZE) as pilot:
        await app.query_one(StepDetail).remove()
        table = app.query_one(StepsTable)
        table.post_message(DataTable.RowHighlighted(table, 0, table.coordinate_to_cell_key((0, 0)).row_key))
        await pilot.press("down")
        await pilot.pause()
        assert app.is_running
    assert app.return_code in (None, 0)


def test_the_cards_on_screen_are_those_partly_seen_and_one_more_each_side() -> None:
    """A pane 22 lines tall shows cards 0-7 at the top (the eighth in part), 4-11 twelve lines down; never past the last."""
    assert on_screen(400, 0, 22) == slice(0, 9)
    assert on_screen(400, 12, 22) == slice(3, 13)
    assert on_screen(400, 14.6, 22) == slice(4, 14)  # 15 lines down, as Textual rounds: cards 5-12
    assert on_screen(10, 9, 22) == slice(2, 10)


def twenty_conditions() -> str:
    """A runbook of twenty http checks, each with a stop condition: more cards than the pane shows."""
    checks = "".join(f"  c{n}: {{http: 'http://127.0.0.1:9/health', every: 5s}}\n" for n in range(20))
    conditions = "".join(
        f"  - {{id: c{n}_down, check: c{n}, for: 30s, action: halt, decides: commander}}\n" for n in range(20)
    )
    return (
        "name: Twenty conditions\nroles: {commander: IC}\n"
        f"checks:\n{checks}stop_conditions:\n{conditions}steps:\n  - {{title: Deploy, at: T+0m}}\n"
    )


async def test_a_clock_tick_repaints_no_card_out_of_view(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each second the cards in view repaint their clocks; the cards just out of view wait, stale, to take their views when seen."""
    backend = fresh_session(parse_runbook(twenty_conditions(), "twenty.yaml"))
    for check_id in backend.runbook.checks:
        backend.tick(check_id, "pass", 0.01)
    refreshed: list[str] = []
    refresh = ConditionCard.refresh
    monkeypatch.setattr(
        ConditionCard, "refresh", lambda card, *a, **k: (refreshed.append(card.condition_id), refresh(card, *a, **k))[1]
    )
    app = make_app(backend, clock_tick=0.05)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ConditionsList)
        await wait_until(pilot, lambda: all(card.renders["clock"] for card in pane.cards[:3]))
        await pilot.pause(0.2)
        height = pane.scrollable_content_region.height
        seen = {card.condition_id for card in pane.cards[in_view(len(pane.cards), pane.scroll_y, height)]}
        edges = {card.condition_id for card in pane.cards[on_screen(len(pane.cards), pane.scroll_y, height)]} - seen
        assert 3 <= len(seen) < 20 and edges
        refreshed.clear()
        backend.advance(1)
        await wait_until(pilot, lambda: seen <= set(refreshed))  # every clock in view moved on
        await pilot.pause(0.2)
        assert set(refreshed) == seen
        assert all(pane.card(condition_id).stale for condition_id in edges)


def twenty_polled() -> AppTestBackend:
    """The twenty conditions' checks each polled once: more cards than the pane shows, so they go worst first."""
    backend = fresh_session(parse_runbook(twenty_conditions(), "twenty.yaml"))
    for check_id in backend.runbook.checks:
        backend.tick(check_id, "pass", 0.01)
    return backend


async def settled_layouts(pilot: Pilot[Any], layouts: list[set[object]]) -> int:
    """How many layouts there were once start-up's are over (none for 0.3 s)."""
    laid_out = -1
    for _ in range(40):
        if len(layouts) == laid_out:
            break
        laid_out = len(layouts)
        await pilot.pause(0.3)
    return laid_out


async def test_a_new_order_moves_no_card_and_lays_nothing_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """Four conditions going pending at once come first: the slots stay, are handed those conditions and draw them; no layout."""
    layouts: list[set[object]] = []  # each layout's widgets that asked for it, and their ancestors laid out
    refresh_layout = Screen._refresh_layout

    def laid_out(screen: Screen[Any], *args: Any, **kwargs: Any) -> None:
        layouts.append({w for ancestor, asked in screen._layout_widgets.items() for w in (ancestor, *asked)})
        refresh_layout(screen, *args, **kwargs)

    monkeypatch.setattr(Screen, "_refresh_layout", laid_out)
    moved: list[object] = []
    monkeypatch.setattr(ConditionsList, "move_child", lambda pane, child, **k: moved.append(child))
    backend = twenty_polled()
    app = make_app(backend, clock_tick=3600)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ConditionsList)
        await wait_until(pilot, lambda: pane.worst_first and all(card.renders["top"] for card in pane.cards[:3]))
        before = await settled_layouts(pilot, layouts)
        slots = list(pane.children)
        assert [card.condition_id for card in pane.cards[:3]] == ["c0_down", "c1_down", "c2_down"]
        drawn = sum(card.renders["top"] for card in slots)
        for n in (3, 7, 12, 15):
            backend.condition(f"c{n}_down", "pending", None, f"c{n} failing for 2s of 30s")
        await wait_until(pilot, lambda: pane.cards[0].condition_id == "c3_down")
        await pilot.pause(0.2)
        order = ["c3_down", "c7_down", "c12_down", "c15_down", "c0_down", "c1_down", "c2_down", "c4_down"]
        assert [card.condition_id for card in pane.cards[:8]] == order
        assert list(pane.children) == slots and pane.cards == slots  # the same widgets at the same places
        assert moved == []
        # Nothing of the pane laid out (the decision log's new lines may lay their own pane out).
        assert not any(layout & {pane, *slots} for layout in layouts[before:])
        lines = screen_lines(app)
        for card in pane.cards[:4]:  # what the terminal shows in each slot: its new condition
            top = lines[card.region.y][card.region.x : card.region.right]
            assert "PENDING" in top and f" {card.condition_id} " in top, top
            assert pane.card(card.condition_id) is card
        # Only the four pending conditions' top lines were rendered: the others moved with the parts drawn of them.
        assert sum(card.renders["top"] for card in slots) == drawn + 4


async def test_the_highlight_follows_its_condition_to_another_slot_and_a_acknowledges_it() -> None:
    """A new order hands the highlighted condition to another slot: the highlight goes with it, and a acknowledges it."""
    backend = twenty_polled()
    backend.condition("c4_down", "firing", None, "c4 failing", firing_since="2026-12-01T16:30:00Z")
    app = make_app(backend, clock_tick=3600)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ConditionsList)
        await pilot.press("a")  # the banner's condition first
        await wait_until(pilot, lambda: app.session.conditions["c4_down"].acknowledged)
        await pilot.press("2", "home")
        await wait_until(pilot, lambda: pane.cards[0].condition_id == "c4_down")
        await pilot.press(*["down"] * pane.cards.index(pane.card("c15_down")))
        assert pane.highlighted_condition_id == "c15_down" and pane.highlighted == 15
        for n in (9, 15):
            backend.condition(f"c{n}_down", "firing", None, f"c{n} failing", firing_since="2026-12-01T16:30:00Z")
        await wait_until(pilot, lambda: pane.cards[2].condition_id == "c15_down")
        assert pane.highlighted == 2 and pane.highlighted_condition_id == "c15_down"
        assert [card for card in pane.cards if card.has_class("-highlight")] == [pane.card("c15_down")]
        await pilot.press("a")
        await wait_until(pilot, lambda: app.session.conditions["c15_down"].acknowledged)
        assert not app.session.conditions["c9_down"].acknowledged
