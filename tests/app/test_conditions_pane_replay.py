"""In replay the conditions pane reads the views of the cards on screen alone; cards scrolled to show the instant seen."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from textual import events
from textual.app import App
from textual.pilot import Pilot

from app_backend import START
from app_driver import open_dashboard, screen_lines, settle
from checks.clock import ManualClock
from checks.reading import Outcome, Reading
from cutover_tui.replay import ReplayBackend
from cutover_tui.store import SessionLog
from cutover_tui.widgets.condition_card import ConditionCard, card_lines
from cutover_tui.widgets.conditions_list import ConditionsList
from runbooks import parse_runbook
from runbooks.model import Runbook

pytestmark = pytest.mark.slow  # drives the real app with Pilot

SIZE = (120, 36)
CONDITIONS = 40
EVERY = 5
ROUNDS = 120


def many_conditions() -> Runbook:
    """A runbook of ``CONDITIONS`` promql checks, each with a stop condition: far more cards than a pane shows."""
    checks = "".join(
        f"  rate_{n}:\n    promql: sum(rate(errors_{n}[5m]))\n    unit: '%'\n    every: {EVERY}s\n    timeout: 4s\n"
        for n in range(CONDITIONS)
    )
    conditions = "".join(
        f"  - {{id: rate_{n}_high, check: rate_{n}, when: '> 90%', for: 5m, action: halt, decides: commander}}\n"
        for n in range(CONDITIONS)
    )
    text = (
        "name: Many conditions\nt0: 2026-12-01T16:30:00Z\nroles: {commander: IC}\n"
        "sources:\n  prometheus: {kind: prometheus, url: http://127.0.0.1:9}\n"
        f"checks:\n{checks}stop_conditions:\n{conditions}"
        "steps:\n  - {title: Deploy, at: T+0m, duration: 20m}\n"
    )
    return parse_runbook(text, "many.yaml")


def write_log(path: Path, runbook: Runbook) -> None:
    """Ten minutes of readings, every check's value moving each round (so each instant's sparkline differs)."""
    clock = ManualClock(START)
    with SessionLog.create(path, runbook, operator="alice", clock=clock) as log:
        for r in range(ROUNDS):
            clock.advance(EVERY)
            for n, check in enumerate(runbook.checks):
                value = ((r * 7 + n * 3) % 50) / 100
                log.record_reading(Reading(check, Outcome.PASS, value, "%", 0.02, clock.now(), r * EVERY))


class CountingReplay(ReplayBackend):
    """A replay that records which checks each read of the log asked for: their sparkline windows, their latest tick."""

    def __init__(self, path: Path, runbook: Runbook) -> None:
        super().__init__(path, runbook)
        self.windows: set[str] = set()
        self.latest: set[str] = set()

    def _read_ticks(self, until: datetime, windows: Mapping[str, datetime], *, checks: Iterable[str]) -> list:
        checks = list(checks)
        self.windows.update(windows)
        self.latest.update(checks)
        return super()._read_ticks(until, windows, checks=checks)

    def forget(self) -> None:
        self.windows.clear()
        self.latest.clear()


def on_screen(app: App[None], pane: ConditionsList) -> dict[ConditionCard, list[str]]:
    """Each card wholly on screen, with its three lines as the terminal shows them."""
    lines = screen_lines(app)
    region = pane.scrollable_content_region
    return {
        card: [lines[y][card.region.x : card.region.right].rstrip() for y in range(card.region.y, card.region.bottom)]
        for card in pane.cards
        if region.contains_region(card.region)
    }


def expected(path: Path, runbook: Runbook, instant: datetime, card: ConditionCard) -> list[str]:
    """The card's three lines at its width for the state at ``instant``, from a replay of its own (``card_lines``)."""
    state = ReplayBackend(path, runbook).seek(instant)
    condition = card.condition
    parts = card_lines(
        condition, state.conditions[condition.id], runbook, card.size.width, state.checks[condition.check]
    )
    return [
        parts["top"].plain.rstrip(),
        (parts["clock"].plain + parts["middle"].plain).rstrip(),
        parts["why"].plain.rstrip(),
    ]


def replayed(tmp_path: Path) -> tuple[Path, Runbook, CountingReplay]:
    """A log of ``many_conditions`` written in ``tmp_path``, and its counting replay."""
    runbook = many_conditions()
    path = tmp_path / "many.cutover.db"
    write_log(path, runbook)
    return path, runbook, CountingReplay(path, runbook)


async def seek_to(pilot: Pilot[None], backend: CountingReplay, instant: datetime) -> None:
    backend.forget()
    backend.seek_by(instant - backend.position)
    await settle(pilot)


async def test_a_seek_reads_only_the_sparklines_of_the_cards_on_screen(tmp_path: Path) -> None:
    """After a seek, no card off screen has read its check's window or latest tick; each card on screen shows the instant."""
    path, runbook, backend = replayed(tmp_path)
    async with open_dashboard(backend, size=SIZE) as view:
        pane = view.app.query_one(ConditionsList)
        instant = backend.start_at + timedelta(minutes=6)
        await seek_to(view.pilot, backend, instant)
        cards = pane.cards
        seen = on_screen(view.app, pane)
        assert 3 <= len(seen) < CONDITIONS // 2
        around = {card.condition.check for card in cards[: len(seen) + 2]}  # on screen, one partly and one below
        assert backend.windows and backend.windows <= around
        assert not backend.latest - around
        for card, lines in seen.items():
            assert lines == expected(path, runbook, backend.position, card), card.condition_id
        off = cards[len(seen) + 2 :]
        assert all(card.stale for card in off)


def wheel_down(pane: ConditionsList) -> None:
    """The mouse wheel turned one notch down over the pane."""
    pane.post_message(events.MouseScrollDown(pane, 2, 2, 0, 1, 0, False, False, False))


def wheel_up(pane: ConditionsList) -> None:
    """The mouse wheel turned one notch up over the pane."""
    pane.post_message(events.MouseScrollUp(pane, 2, 2, 0, -1, 0, False, False, False))


async def test_cards_scrolled_into_view_show_the_instant_sought(tmp_path: Path) -> None:
    """After a seek, page down, down, page up and the wheel: each card coming into view shows the sought instant, never an older one."""
    path, runbook, backend = replayed(tmp_path)
    async with open_dashboard(backend, size=SIZE) as view:
        pilot, pane = view.pilot, view.app.query_one(ConditionsList)
        await seek_to(pilot, backend, backend.start_at + timedelta(minutes=3))
        await pilot.press("2", *["pagedown"] * 6)  # every card drawn once, at three minutes (home and end seek)
        await settle(pilot)
        await pilot.press(*["pageup"] * 6)
        await settle(pilot)
        await seek_to(pilot, backend, backend.start_at + timedelta(minutes=8))
        moves: list[Callable[[], Awaitable[None]]] = [
            *[lambda: pilot.press("pagedown")] * 3,
            lambda: pilot.press(*["down"] * 12),
            lambda: pilot.press("pageup"),
            *[lambda: asyncio.sleep(0, wheel_down(pane))] * 2,
            lambda: asyncio.sleep(0, wheel_up(pane)),
        ]
        for step, move in enumerate(moves):
            before = pane.scroll_y
            await move()
            await settle(pilot)
            assert pane.scroll_y != before, step  # each move scrolled the pane
            seen = on_screen(view.app, pane)
            assert seen and not any(card.stale for card in seen)
            for card, lines in seen.items():
                assert lines == expected(path, runbook, backend.position, card), (step, card.condition_id)
