"""T-0 set to a typed time: now, a wall-clock time, an ISO instant, or an offset from now."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from app_backend import AppTestBackend, demo_runbook
from app_driver import settle
from cutover_tui.app import CutoverApp, make_app
from cutover_tui.screens.set_t0 import SetT0Screen, describe_t0, parse_t0
from cutover_tui.store import format_ts

IST = ZoneInfo("Asia/Kolkata")
#: 22:00 IST on 2026-12-01.
NOW = datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("now", NOW),
        ("", NOW),
        ("22:30", datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc)),
        ("21:55:30", datetime(2026, 12, 1, 16, 25, 30, tzinfo=timezone.utc)),
        ("-5m", NOW - timedelta(minutes=5)),
        ("+10m", NOW + timedelta(minutes=10)),
        ("+1h30m", NOW + timedelta(hours=1, minutes=30)),
        ("2026-12-01T22:15:00+05:30", datetime(2026, 12, 1, 16, 45, tzinfo=timezone.utc)),
        ("2026-12-01T16:45Z", datetime(2026, 12, 1, 16, 45, tzinfo=timezone.utc)),
        ("2026-12-01 22:15", datetime(2026, 12, 1, 16, 45, tzinfo=timezone.utc)),  # no offset: the runbook's zone
    ],
)
def test_typed_t0_means_this_instant(typed: str, expected: datetime) -> None:
    """Each accepted form names the instant the commander means, in the runbook's zone."""
    assert parse_t0(typed, NOW, IST) == expected


def test_a_wall_clock_time_is_its_nearest_occurrence() -> None:
    """00:10 typed at 23:50 is twenty minutes ahead, and 23:50 typed at 00:10 twenty minutes back."""
    late = datetime(2026, 12, 1, 23, 50, tzinfo=IST)
    assert parse_t0("00:10", late, IST) == late + timedelta(minutes=20)
    early = datetime(2026, 12, 2, 0, 10, tzinfo=IST)
    assert parse_t0("23:50", early, IST) == early - timedelta(minutes=20)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("soon", "'soon' is not a time T-0 can be set to: try now, 16:30"),
        ("25:00", "'25:00' is not a time of day: hours 0–23, minutes and seconds 00–59"),
        ("-5 minutes", "'-5 minutes': after - write a duration such as 5m, 90s or 1h30m"),
    ],
)
def test_a_bad_entry_says_what_would_do(typed: str, message: str) -> None:
    """A bad entry is refused with a reason a person can act on."""
    with pytest.raises(ValueError) as raised:
        parse_t0(typed, NOW, IST)
    assert str(raised.value).startswith(message)


def test_the_preview_says_when_against_now() -> None:
    """The dialog's preview names the wall-clock time in the runbook's zone and how far from now."""
    assert describe_t0(NOW + timedelta(minutes=4, seconds=12), NOW, IST) == "T-0 at 22:04:12 IST (in 4m12s)"
    assert describe_t0(NOW - timedelta(minutes=5), NOW, IST) == "T-0 at 21:55:00 IST (5m ago)"
    assert describe_t0(NOW, NOW, IST) == "T-0 at 22:00:00 IST (now)"


@pytest.mark.slow
@pytest.mark.scenario("fresh")
async def test_t_sets_t0_to_a_typed_time_and_logs_that_instant(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """t, then 22:30: the logged t0_set carries 22:30 IST, not the moment of typing; the clock counts down to it."""
    await pilot.press("t")
    await pilot.pause()
    assert isinstance(app.screen, SetT0Screen)
    await pilot.press(*"22:30")
    assert str(app.screen.query_one("#t0-preview", Static).render()) == "T-0 at 22:30:00 IST (in 30m)"
    await pilot.press("enter")
    await settle(pilot)
    assert backend.appended[-1].kind == "t0_set"
    assert backend.appended[-1].payload == {"t0": format_ts(datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc))}
    assert str(app.query_one("#header-t-clock").render()) == "T-00:30:00"


@pytest.mark.slow
@pytest.mark.scenario("fresh")
async def test_t_refuses_a_bad_time_in_the_dialog_and_then_takes_a_relative_one(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """A bad entry keeps the dialog open with its reason and logs nothing; -5m then sets T-0 five minutes back."""
    await pilot.press("t")
    await pilot.pause()
    await pilot.press(*"half past", "enter")
    await pilot.pause()
    assert isinstance(app.screen, SetT0Screen) and backend.appended == []
    error = app.screen.query_one("#dialog-error", Static)
    assert error.display and str(error.render()).startswith("'half past' is not a time T-0 can be set to")
    app.screen.query_one("#t0", Input).value = ""
    await pilot.press(*"-5m", "enter")
    await settle(pilot)
    assert backend.appended[-1].payload == {"t0": format_ts(backend.now() - timedelta(minutes=5))}
    assert str(app.query_one("#header-t-clock").render()) == "T+00:05:00"


@pytest.mark.slow
async def test_a_rehearsal_moves_t0_to_a_typed_time() -> None:
    """In a rehearsal with a T-0, t re-baselines it to the typed time, saying every planned time moves."""
    backend = AppTestBackend(demo_runbook())
    backend.record(
        "session_started",
        {"runbook_name": "demo", "runbook_sha256": "", "planned_t0": None, "rehearsal": True},
        actor="commander",
    )
    backend.record("t0_set", {"t0": format_ts(backend.now())}, actor="commander")
    app = make_app(backend)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        assert "Every planned time moves" in str(app.screen.query_one("#t0-current", Static).render())
        await pilot.press(*"+10m", "enter")
        await settle(pilot)
        assert app.session.t0 == backend.now() + timedelta(minutes=10)
