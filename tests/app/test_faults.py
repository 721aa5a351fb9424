"""Faults that once turned the screen green: each reproduced with the real thing (docs/semantics.md, "Faults").

A clock that steps, a follower whose writer died, a disk that fills, a
pending rollback condition, a source that fails its first poll, a crash in
the middle of a hold. Each test fails on a dashboard that shows OK or
CONTINUE where it could not tell.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from app_driver import screen_lines
from checks.clock import SystemClock
from checks.reading import Outcome, Reading
from checks.status import BLIND_STATES, ConditionState, Verdict
from checks.target import Target
from cutover_tui.app import make_app
from cutover_tui.live import WRITER_SILENCE_SECONDS, FollowBackend, LiveBackend
from cutover_tui.store import SessionLog
from fault_kit import TmuxSession, libfaketime, wait_for, wall_clock_env, write_fault_runbook
from runbooks import load_runbook

SIZE = (120, 36)


async def wait_until(pilot, predicate, timeout: float = 20.0) -> None:
    """Let the app run until ``predicate()`` holds (bounded)."""
    for _ in range(int(timeout / 0.1)):
        if predicate():
            return
        await pilot.pause(0.1)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def faketime_env(tmp_path: Path):
    """A wall-clock offset file and the environment that applies it (Debian's libfaketime)."""
    if libfaketime() is None:
        reason = "needs Debian package 'faketime'"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    offset = tmp_path / "wall-clock-offset"
    offset.write_text("+0\n")
    return offset, wall_clock_env(offset)


@pytest.fixture
def polling_threads(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The polling threads the backends make from now on, kept so that a test can break or block them."""
    import checks.scheduler

    made: list[checks.scheduler.PollingThread] = []

    class RecordedPollingThread(checks.scheduler.PollingThread):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(checks.scheduler, "PollingThread", RecordedPollingThread)
    return made


@pytest.mark.slow
@pytest.mark.parametrize("step", ["-10m", "+10m"])
def test_a_wall_clock_step_neither_stops_polling_nor_fires_early(target, tmp_path, faketime_env, step):
    """The wall clock steps by 10 minutes as a breach starts: polls go on, and `for: 4s` fires after 4 s, not before, not never."""
    offset, env = faketime_env
    runbook = write_fault_runbook(tmp_path, target.url, hold="4s", every="1s", timeout="900ms")
    process = subprocess.Popen(
        [sys.executable, "-m", "cutover_tui", "check", str(runbook), "--for", "40s", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(2.5)  # polling has started on the faked wall clock
        offset.write_text(f"{step}\n")  # NTP steps the clock ...
        target.set(auth_error_ratio=0.05)  # ... as a real breach starts
        started = time.monotonic()
        out, err = process.communicate(timeout=60)
        took = time.monotonic() - started
    finally:
        process.kill()
    assert process.returncode == 1, out + err
    document = json.loads(out)
    assert document["verdict"] == "ROLLBACK"
    states = {row["id"]: row["state"] for row in document["conditions"]}
    assert states["auth_errors"] == "firing"
    assert 4.0 <= took < 12.0, f"fired {took:.1f}s after the breach began"


class SleepingClock(SystemClock):
    """The system's clocks, and a suspend: ``sleep(s)`` moves the monotonic-since-boot and wall clocks ``s`` ahead,
    while the event loops' clock (``time.monotonic``, which stands still in a suspend) does not move."""

    def __init__(self, slept: float = 0.0) -> None:
        self.slept = slept

    def sleep(self, seconds: float) -> None:
        self.slept += seconds

    def monotonic(self) -> float:
        return super().monotonic() + self.slept

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=self.slept)


def test_the_system_clock_counts_the_time_the_machine_slept() -> None:
    """Durations and ages are on CLOCK_BOOTTIME, which goes on in a suspend; `time.monotonic` stops."""
    import time as clocks

    before = clocks.clock_gettime(clocks.CLOCK_BOOTTIME)
    read = SystemClock().monotonic()
    assert before <= read <= clocks.clock_gettime(clocks.CLOCK_BOOTTIME)


@pytest.mark.slow
async def test_a_laptop_resumed_from_sleep_shows_nothing_it_read_before_as_current(target, tmp_path):
    """The lid closes for an hour while a breach is pending; it opens. What was read before is an hour old: every
    condition stale and CANNOT VERIFY within a second or two, not the old green (or the old pending) until the next
    poll; the hour asleep never counts toward the hold; fresh polls bring the screen back. The laptop had slept two
    hours before the session began: the polls' timers (on the loop's clock) and the hold (on the system's) differ
    by that much from the start, and the countdown must not."""
    clock = SleepingClock(slept=7200)
    runbook = load_runbook(write_fault_runbook(tmp_path, target.url, hold="8s", every="2s", timeout="1500ms"))
    app = make_app(LiveBackend(runbook, SessionLog.create(tmp_path / "s.cutover.db", runbook, operator="ic"),
                               actor="ic", clock=clock))  # fmt: skip
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.verdict is Verdict.CONTINUE)
        target.set(auth_error_ratio=0.05)
        await wait_until(pilot, lambda: app.session.conditions["auth_errors"].state is ConditionState.PENDING)
        assert app.session.conditions["auth_errors"].remaining > 6  # "fires in 0:07", not a hold already half met
        clock.sleep(3600)
        woke = time.monotonic()

        def stale() -> bool:
            views = app.session.conditions.values()
            return app.session.verdict is Verdict.CANNOT_VERIFY and all(v.state in BLIND_STATES for v in views)

        await wait_until(pilot, stale, 4)
        assert time.monotonic() - woke < 1.6  # the staleness tick's second, not the next poll's
        assert "no reading for 1h" in app.session.conditions["auth_errors"].detail
        await wait_until(pilot, lambda: app.session.conditions["auth_errors"].state is ConditionState.PENDING, 6)
        assert app.session.conditions["auth_errors"].breach_held < 8  # the hour asleep did not count
        await wait_until(pilot, lambda: app.session.conditions["auth_errors"].state is ConditionState.FIRING, 12)
        assert app.session.conditions["health_down"].state is ConditionState.OK


class SteppedClock(SystemClock):
    """The system's clocks, and an NTP step: ``step(s)`` moves only the wall clock."""

    def __init__(self) -> None:
        self.stepped = 0.0

    def step(self, seconds: float) -> None:
        self.stepped += seconds

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=self.stepped)


@pytest.mark.slow
async def test_a_wall_clock_step_leaves_every_cards_time_in_state_as_it_was(target, tmp_path):
    """NTP steps the writer's clock 10 minutes ahead: a card ok for 3 s read "ok for 10m3s" on the screen that
    polls. Each card's time in state stays what the evaluators saw, on the dashboard and in its card."""
    clock = SteppedClock()
    runbook = load_runbook(write_fault_runbook(tmp_path, target.url, every="1s", timeout="900ms"))
    app = make_app(LiveBackend(runbook, SessionLog.create(tmp_path / "s.cutover.db", runbook, operator="ic"),
                               actor="ic", clock=clock))  # fmt: skip
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.verdict is Verdict.CONTINUE)
        clock.step(600)
        await pilot.pause(1.5)  # a staleness tick and a poll since
        for view in app.session.conditions.values():
            assert view.state is ConditionState.OK
            assert view.in_state_for is not None and view.in_state_for < 60, view
        clocks = [line.split("││", 1)[1][:12] for line in screen_lines(app) if "→ " in line and "││" in line]
        assert clocks and not any("10m" in clock for clock in clocks), clocks  # each card's clock cell


@pytest.mark.slow
async def test_a_follower_whose_writer_was_killed_goes_cannot_verify(target, tmp_path):
    """kill -9 of the writer: within 20 s the follower shows CANNOT VERIFY, every condition stale, and when the writer stopped."""
    runbook_path = write_fault_runbook(tmp_path, target.url, every="1s", timeout="900ms")
    db = tmp_path / "session.cutover.db"
    with TmuxSession(["run", runbook_path, "--db", db, "--as", "ic"]) as writer:
        assert wait_for(lambda: db.exists() and _logged_states(db).get("auth_errors") == "ok", 20), writer.screen()
        follower = FollowBackend(db, load_runbook(runbook_path), interval=0.2)
        app = make_app(follower)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.session.conditions["auth_errors"].state is ConditionState.OK)
            await wait_until(pilot, lambda: app.session.verdict is not Verdict.CANNOT_VERIFY)
            assert app.session.writer_stopped_at is None
            writer.kill()
            killed = time.monotonic()
            await wait_until(pilot, lambda: app.session.verdict is Verdict.CANNOT_VERIFY, 20)
            assert time.monotonic() - killed < 20
            assert all(view.state is ConditionState.STALE for view in app.session.conditions.values())
            assert all(
                view.in_state_for < 20 for view in app.session.conditions.values()
            )  # stale since the writer stopped
            assert len(app.session.blind) == len(app.session.conditions)
            assert app.session.writer_stopped_at is not None
            assert app.banner is not None and "WRITER STOPPED" in app.banner.text.plain


@pytest.mark.slow
def test_a_heartbeat_from_the_readers_future_is_no_sign_of_life(target, tmp_path, faketime_env):
    """The writer is killed, then the wall clock steps back 2 minutes: its last heartbeat lies ahead of the clock.
    `status` (and a follower starting then) says the writer stopped, CANNOT VERIFY, not "writer running" and its last green."""
    offset, env = faketime_env
    runbook_path = write_fault_runbook(tmp_path, target.url, every="1s", timeout="900ms")
    db = tmp_path / "session.cutover.db"
    with TmuxSession(["run", runbook_path, "--db", db, "--as", "ic"]) as writer:
        assert wait_for(lambda: _status_verdict(db) == "CONTINUE", 20), writer.screen()
        writer.kill()
    offset.write_text("-2m\n")  # NTP steps the clock back after the writer died
    done = subprocess.run(
        [sys.executable, "-m", "cutover_tui", "status", str(db), "--format", "json"],
        env=env, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    document = json.loads(done.stdout)
    assert document["writer"] == "stopped", document["lines"]
    assert document["verdict"] == "CANNOT_VERIFY"


@pytest.mark.slow
async def test_a_follower_sees_the_writers_lock_let_go_without_waiting_for_its_heartbeat(target, tmp_path, monkeypatch):
    """kill -9 of a writer on this machine: its lock goes at once, so the follower says so with no heartbeat allowance; a resumed writer is live again."""
    import cutover_tui.live

    monkeypatch.setattr(
        cutover_tui.live, "WRITER_SILENCE_SECONDS", 600.0
    )  # the heartbeat alone would not tell in this test
    runbook_path = write_fault_runbook(tmp_path, target.url, every="1s", timeout="900ms")
    db = tmp_path / "session.cutover.db"
    with TmuxSession(["run", runbook_path, "--db", db, "--as", "ic"]) as writer:
        assert wait_for(lambda: db.exists() and _logged_states(db).get("auth_errors") == "ok", 20), writer.screen()
        app = make_app(FollowBackend(db, load_runbook(runbook_path), interval=0.2))
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.session.verdict is not Verdict.CANNOT_VERIFY)
            writer.kill()
            await wait_until(pilot, lambda: app.session.verdict is Verdict.CANNOT_VERIFY, 20)
            assert app.session.writer_stopped_at is not None
            assert all(view.state is ConditionState.STALE for view in app.session.conditions.values())
            assert app.banner is not None and "WRITER STOPPED" in app.banner.text.plain
            with TmuxSession(["run", runbook_path, "--db", db, "--as", "ic"]):
                await wait_until(pilot, lambda: app.session.writer_stopped_at is None, 30)
                await wait_until(pilot, lambda: app.session.verdict is not Verdict.CANNOT_VERIFY, 20)


class _Offset(SystemClock):
    """A machine whose wall clock reads ``offset`` seconds from this one's (its monotonic clock is right); setting
    ``offset`` steps it."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=self.offset)


async def _seen_beating(follower: FollowBackend) -> None:
    """Wait until ``follower`` has seen its writer's heartbeat move (about once a second: within 4 s)."""
    for _ in range(40):
        await asyncio.sleep(0.1)
        if follower._beat_moved_at is not None:
            return
    assert follower._beat_moved_at is not None


async def test_a_follower_says_how_long_ago_a_writer_with_a_wrong_clock_stopped_by_its_own_clock(tmp_path):
    """The writer stamps its heartbeat by its clock, an hour behind the follower's: "WRITER STOPPED at <its time>,
    1h0m ago" was an hour wrong, and each card's time in state "stale 1h0m". The follower saw the heartbeat last move
    seconds ago on its own monotonic clock."""
    runbook = load_runbook(write_fault_runbook(tmp_path, "http://127.0.0.1:9", health=False))
    db = tmp_path / "s.cutover.db"
    writer = SessionLog.create(db, runbook, operator="ic", clock=_Offset(-3600))
    follower = FollowBackend(db, runbook, interval=0.2)
    await follower.start(lambda state: None)
    try:
        await _seen_beating(follower)
        writer.close()  # its lock goes with it: the follower knows at its next read
        for _ in range(20):
            await asyncio.sleep(0.1)
            if follower.state().writer_stopped_at is not None:
                break
        banner = follower.state().banners[0].text
        assert banner.startswith("WRITER STOPPED at "), banner
        ago = banner.split(", ", 1)[1].split(" ago", 1)[0]
        assert ago in {"0s", "1s", "2s", "3s"}, banner
        assert "by its clock" in banner  # its time is not this machine's
        for view in follower.state().conditions.values():  # stale since then, not since an hour before it
            assert view.state is ConditionState.STALE
            assert view.in_state_for is not None and 0 <= view.in_state_for <= 4, view
    finally:
        await follower.stop()


@pytest.mark.parametrize(
    "offset, step",
    [(-3600.0, 0.0), (0.0, -3600.0)],
    ids=["the writer's clock an hour behind", "the writer's clock stepped back an hour below its log"],
)
async def test_a_followers_countdown_and_time_in_state_count_on_the_clock_that_dated_the_log(tmp_path, offset, step):
    """A condition pending for 2m, the writer's clock apart from the follower's.

    An hour behind: its countdown read 0:00 and its time in state 1h0m in the follower, which counted from the
    logged times on its own clock; now it counts on the writer's, as its heartbeat tells, and says what the writer's
    screen says. Stepped back an hour after the change: the log's times are on the clock before the step (the log
    never runs backwards), so the follower keeps counting on its own; on the writer's the time in state stood still.
    """
    runbook = load_runbook(write_fault_runbook(tmp_path, "http://127.0.0.1:9", health=False, hold="2m"))
    db = tmp_path / "s.cutover.db"
    clock = _Offset(offset)
    writer = SessionLog.create(db, runbook, operator="ic", clock=clock)
    writer.append("condition_changed", {"condition": "auth_errors", "state": "pending", "previous": "ok", "value": 0.04,
                                        "threshold": "> 1%", "reason": "4% > 1% for 0s of 2m", "breach_held": 0.0,
                                        "remaining": 120.0, "flapping": False}, actor="system")  # fmt: skip
    appended = time.monotonic()
    clock.offset += step
    follower = FollowBackend(db, runbook, interval=0.2)
    await follower.start(lambda state: None)
    try:
        await _seen_beating(follower)
        view = follower.state().conditions["auth_errors"]
        elapsed = time.monotonic() - appended
        assert view.state is ConditionState.PENDING
        assert view.in_state_for is not None and elapsed - 1.5 <= view.in_state_for <= elapsed + 0.5, (view, elapsed)
        assert view.remaining is not None and 120 - elapsed - 0.5 <= view.remaining <= 120 - elapsed + 1.5, view
    finally:
        await follower.stop()
        writer.close()


@pytest.mark.slow
async def test_a_follower_whose_own_loop_stalls_names_itself_not_the_writer(tmp_path):
    """This view's loop stalls 6 s (a starved machine: a `serve` viewer beside Chromium) while the writer beats twice a
    second: the screen is CANNOT VERIFY, with every card stale, and says that this view has not read the log, not that
    the writer stopped writing ("WRITER NOT WRITING ... 6s ago" blamed the writer); its next read clears it."""
    runbook = load_runbook(write_fault_runbook(tmp_path, "http://127.0.0.1:9", health=False))
    db = tmp_path / "s.cutover.db"
    writer = SessionLog.create(db, runbook, operator="ic")
    writer.append("condition_changed", {"condition": "auth_errors", "state": "ok", "previous": "unknown", "value": 0.004,
                                        "threshold": "> 1%", "reason": "0.4%, not > 1%", "breach_held": 0.0,
                                        "flapping": False}, actor="system")  # fmt: skip
    beating = True

    def beat() -> None:
        while beating:
            now = datetime.now(timezone.utc)
            writer.record_reading(Reading("auth_error_ratio", Outcome.PASS, 0.004, "", 0.01, now, time.monotonic()))
            writer.flush_ticks(heartbeat=True)
            time.sleep(0.5)

    beater = asyncio.get_running_loop().run_in_executor(None, beat)
    follower = FollowBackend(db, runbook, interval=0.2)
    await follower.start(lambda state: None)
    try:
        for _ in range(40):  # seen moving within a few reads
            await asyncio.sleep(0.1)
            if follower._beat_moved_at is not None:
                break
        assert follower.state().conditions["auth_errors"].state is ConditionState.OK
        assert follower.state().writer_stopped_at is None
        time.sleep(WRITER_SILENCE_SECONDS + 1)  # the loop stalls; the writer's thread beats on
        stalled = follower.state()
        assert stalled.verdict is Verdict.CANNOT_VERIFY
        assert all(view.state is ConditionState.STALE for view in stalled.conditions.values())
        banner = stalled.banners[0].text
        # 6 s, and the last read before the stall may have been a moment earlier on a loaded machine
        assert re.match(r"VIEW NOT READING: this screen last read the log ([6-9]|1\d)s ago", banner), banner
        assert "WRITER" not in banner
        for _ in range(100):  # its reads resume: the writer's heartbeat moved meanwhile
            await asyncio.sleep(0.1)
            if follower.state().writer_stopped_at is None:
                break
        resumed = follower.state()
        assert resumed.writer_stopped_at is None and not resumed.banners
        assert resumed.conditions["auth_errors"].state is ConditionState.OK
    finally:
        beating = False
        await beater
        await follower.stop()
        writer.close()


@pytest.mark.slow
async def test_a_follower_tells_a_writer_that_cannot_write_from_one_that_is_gone(target, tmp_path, small_disk):
    """The writer's disk fills: the follower goes CANNOT VERIFY within a heartbeat or two (not the 5 s it allows a
    writer whose disk has room), saying the writer still holds the log on a full disk; once it is killed, that it
    stopped."""
    runbook_path = write_fault_runbook(tmp_path, target.url, every="1s", timeout="900ms")
    db = small_disk.path / "session.cutover.db"
    with TmuxSession(["run", runbook_path, "--db", db, "--as", "ic"]) as writer:
        assert wait_for(lambda: db.exists() and _logged_states(db).get("auth_errors") == "ok", 20), writer.screen()
        app = make_app(FollowBackend(db, load_runbook(runbook_path), interval=0.2))
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.session.verdict is not Verdict.CANNOT_VERIFY)
            small_disk.fill()
            filled = time.monotonic()
            await wait_until(pilot, lambda: app.session.verdict is Verdict.CANNOT_VERIFY, 20)
            assert time.monotonic() - filled < WRITER_SILENCE_SECONDS - 1.5  # its last green was not kept
            assert all(view.state is ConditionState.STALE for view in app.session.conditions.values())
            assert app.banner is not None and "WRITER NOT WRITING" in app.banner.text.plain
            assert "still holds the log" in app.banner.text.plain
            assert "the log's disk has no space left" in app.banner.text.plain
            writer.kill()
            await wait_until(pilot, lambda: app.banner is not None and "WRITER STOPPED" in app.banner.text.plain, 10)
            assert app.session.verdict is Verdict.CANNOT_VERIFY


@pytest.mark.slow
@pytest.mark.parametrize("how", ["ends", "hangs"])
async def test_a_polling_thread_that_ends_or_hangs_turns_the_screen_cannot_verify(
    target, tmp_path, how, polling_threads
):
    """The polling thread's loop ends, or a probe blocks it: every condition goes stale, CANNOT VERIFY, a banner says why."""
    import asyncio

    from checks.scheduler import SILENCE_SECONDS

    made = polling_threads
    runbook = load_runbook(write_fault_runbook(tmp_path, target.url, every="1s", timeout="900ms"))
    backend = LiveBackend(runbook, SessionLog.create(tmp_path / "s.cutover.db", runbook, operator="ic"), actor="ic")
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: all(v.state is ConditionState.OK for v in app.session.conditions.values()))
        assert app.session.verdict is Verdict.CONTINUE
        [polling] = made
        if how == "ends":
            polling.call_soon(lambda: asyncio.get_running_loop().stop())
        else:
            polling.call_soon(time.sleep, SILENCE_SECONDS + 6)  # a probe that never yields
        stopped = time.monotonic()

        def blind() -> bool:
            # Stale; or blind already when it hung (a poll that timed out on a loaded machine stays unknown).
            # The header may turn first: one check's last reading can be a second older than another's.
            views = app.session.conditions.values()
            return app.session.verdict is Verdict.CANNOT_VERIFY and all(v.state in BLIND_STATES for v in views)

        await wait_until(pilot, blind, SILENCE_SECONDS + 4)
        assert time.monotonic() - stopped < SILENCE_SECONDS + 2.5  # no card kept its last green
        assert all(view.status == "stale" for view in app.session.checks.values())
        # The checks' own staleness may say CANNOT VERIFY first; the thread's silence names the cause within its limit.
        await wait_until(pilot, lambda: "polling stopped" in app.session.verdict_reasons, SILENCE_SECONDS + 4)
        assert app.session.verdict is Verdict.CANNOT_VERIFY
        assert app.banner is not None and "POLLING STOPPED" in app.banner.text.plain


@pytest.mark.slow
async def test_a_follower_of_a_writer_whose_polling_hangs_goes_cannot_verify(target, tmp_path, polling_threads):
    """The writer runs and writes, but a probe blocks its polling loop: its followers and `status` say CANNOT VERIFY
    within seconds, as the writer's own screen does, never the last green the writer logged."""
    from checks.scheduler import SILENCE_SECONDS
    from cutover_tui.live import WRITER_SILENCE_SECONDS

    made = polling_threads
    runbook = load_runbook(write_fault_runbook(tmp_path, target.url, every="1s", timeout="900ms", health=False))
    db = tmp_path / "s.cutover.db"
    writer = LiveBackend(runbook, SessionLog.create(db, runbook, operator="ic"), actor="ic")
    app = make_app(FollowBackend(db, runbook, interval=0.2))
    await writer.start(lambda state: None)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.session.verdict is Verdict.CONTINUE)
            assert _status_verdict(db) == "CONTINUE"
            [polling] = made
            polling.call_soon(time.sleep, SILENCE_SECONDS + WRITER_SILENCE_SECONDS + 6)  # a probe that never yields
            blocked = time.monotonic()
            await wait_until(pilot, lambda: writer.state().verdict is Verdict.CANNOT_VERIFY, SILENCE_SECONDS + 4)
            await wait_until(pilot, lambda: app.session.verdict is Verdict.CANNOT_VERIFY, SILENCE_SECONDS + 10)
            assert time.monotonic() - blocked < SILENCE_SECONDS + WRITER_SILENCE_SECONDS + 3
            assert all(view.state is ConditionState.STALE for view in app.session.conditions.values())
            assert app.banner is not None and "WRITER NOT WRITING" in app.banner.text.plain
            assert _status_verdict(db) == "CANNOT_VERIFY"  # the incident channel's line agrees
    finally:
        await writer.stop()


@pytest.mark.slow
async def test_a_follower_of_a_writer_whose_screen_loop_hangs_never_shows_its_last_green(target, tmp_path):
    """The writer's screen loop hangs (its polling and its log's flush thread go on): the changes its evaluators see
    are no longer logged. A follower says CANNOT VERIFY within seconds, never OK while the breach goes unlogged."""
    import threading

    from checks.scheduler import SILENCE_SECONDS
    from cutover_tui.live import WRITER_SILENCE_SECONDS

    runbook = load_runbook(write_fault_runbook(tmp_path, target.url, hold="1s", every="500ms", timeout="400ms"))
    db = tmp_path / "s.cutover.db"
    writer = LiveBackend(runbook, SessionLog.create(db, runbook, operator="ic"), actor="ic")
    writer_loop = asyncio.new_event_loop()
    thread = threading.Thread(target=writer_loop.run_forever, name="writer-screen", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(writer.start(lambda state: None), writer_loop).result(10)
    app = make_app(FollowBackend(db, runbook, interval=0.2))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.session.verdict is Verdict.CONTINUE)
            writer_loop.call_soon_threadsafe(time.sleep, SILENCE_SECONDS + WRITER_SILENCE_SECONDS + 6)  # it hangs
            target.set(auth_error_ratio=0.05)  # a breach only the writer's evaluators see
            hung = time.monotonic()

            def stale() -> bool:  # one check's last logged reading may be half a second older than the other's
                views = app.session.conditions.values()
                return app.session.verdict is Verdict.CANNOT_VERIFY and all(
                    v.state is ConditionState.STALE for v in views
                )

            await wait_until(pilot, stale, SILENCE_SECONDS + 10)
            assert time.monotonic() - hung < SILENCE_SECONDS + WRITER_SILENCE_SECONDS + 3
    finally:
        asyncio.run_coroutine_threadsafe(writer.stop(), writer_loop).result(30)
        writer_loop.call_soon_threadsafe(writer_loop.stop)
        thread.join(10)
        writer_loop.close()


@pytest.mark.slow
async def test_a_follower_never_judges_with_a_runbook_the_writer_has_replaced(target, tmp_path):
    """The writer resumes with an edited runbook (accepted) that adds a rollback condition, which fires: a follower
    opened before says CANNOT VERIFY and why, never CONTINUE on the runbook it started with."""
    path = write_fault_runbook(tmp_path, target.url, every="500ms", timeout="400ms", hold="1s", health=False)
    first = load_runbook(path)
    db = tmp_path / "s.cutover.db"
    writer = LiveBackend(first, SessionLog.create(db, first, operator="ic"), actor="ic")
    await writer.start(lambda state: None)
    app = make_app(FollowBackend(db, first, interval=0.2))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.verdict is Verdict.CONTINUE)
        await writer.stop()
        strict = '  - {id: auth_strict, check: auth_error_ratio, when: "> 0.1%", for: 1s, action: rollback}\n'
        path.write_text(path.read_text().replace("stop_conditions:\n", "stop_conditions:\n" + strict))
        edited = load_runbook(path)
        log = SessionLog.open(db, edited, operator="ic", accept_runbook_change=True)
        writer = LiveBackend(edited, log, actor="ic")
        await writer.start(lambda state: None)
        try:
            await wait_until(pilot, lambda: writer.state().verdict is Verdict.ROLLBACK)
            await wait_until(pilot, lambda: app.session.verdict is not Verdict.CONTINUE, 5)
            assert app.session.verdict is Verdict.CANNOT_VERIFY
            assert any("runbook" in reason for reason in app.session.verdict_reasons)
            assert app.banner is not None and "RUNBOOK CHANGED" in app.banner.text.plain
        finally:
            await writer.stop()


LAGGING_GATE_RUNBOOK = """\
name: Lagging gate
sources: {{prom: {{kind: prometheus, url: "{url}"}}}}
checks:
  replicas_ready: {{promql: "min(kube_ready_ratio)", pass_when: "> 0.9", max_age: 2s, every: 500ms, timeout: 400ms}}
steps:
  - title: Switch traffic
    gate: [replicas_ready]
"""


@pytest.mark.slow
async def test_a_gate_check_whose_samples_are_too_old_blocks_in_a_follower_as_in_the_writer(tmp_path, canned_server):
    """A lagging Prometheus answers with a sample ten minutes old, past the gate check's max_age: the writer says the
    gate is stale, CANNOT VERIFY; its follower and `status` say the same, never the gate's pass and CONTINUE."""
    sample = {"metric": {}, "value": [time.time() - 600, "1"]}
    canned_server.respond(json.dumps({"status": "success", "data": {"resultType": "vector", "result": [sample]}}))
    path = tmp_path / "release.yaml"
    path.write_text(LAGGING_GATE_RUNBOOK.format(url=canned_server.url), encoding="utf-8")
    runbook = load_runbook(path)
    db = tmp_path / "s.cutover.db"
    writer = LiveBackend(runbook, SessionLog.create(db, runbook, operator="ic"), actor="ic")
    await writer.start(lambda state: None)
    follower = FollowBackend(db, runbook, interval=0.2)
    await follower.start(lambda state: None)
    try:
        for _ in range(100):
            if (
                writer.state().checks["replicas_ready"].outcome == "pass"
                and follower.state().checks["replicas_ready"].outcome
            ):
                break
            await asyncio.sleep(0.1)
        assert writer.state().checks["replicas_ready"].status == "stale"
        assert writer.state().verdict is Verdict.CANNOT_VERIFY
        assert follower.state().checks["replicas_ready"].status == "stale"
        assert follower.state().verdict is Verdict.CANNOT_VERIFY
        assert _status_verdict(db) == "CANNOT_VERIFY"
    finally:
        await follower.stop()
        await writer.stop()


@pytest.mark.slow
async def test_a_full_disk_never_hides_a_firing_condition_and_loses_nothing(tmp_path, small_disk):
    """Disk full as a rollback condition fires: the screen shows it firing with a loud LOG NOT WRITING banner,
    refuses decisions, and once space returns the held changes are written with their original times, in order."""
    with Target() as target:
        runbook = load_runbook(write_fault_runbook(tmp_path, target.url, hold="1s", every="1s", timeout="900ms"))
        log = SessionLog.create(small_disk.path / "s.cutover.db", runbook, operator="ic")
        backend = LiveBackend(runbook, log, actor="ic")
        app = make_app(backend)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.session.conditions["auth_errors"].state is ConditionState.OK)
            small_disk.fill()
            target.set(auth_error_ratio=0.05)
            await wait_until(pilot, lambda: app.session.conditions["auth_errors"].state is ConditionState.FIRING)
            assert app.session.verdict is Verdict.ROLLBACK
            await wait_until(pilot, lambda: app.session.log_problem is not None)
            assert "LOG NOT WRITING: disk full" in app.session.log_problem
            assert "LOG NOT WRITING" in app.banner.text.plain and app.bells_rung >= 1
            await pilot.press("n")
            await pilot.press(*"rolling back now", "enter")
            await pilot.pause(0.5)
            small_disk.free()
            await wait_until(pilot, lambda: app.session.log_problem is None)
            await wait_until(pilot, lambda: _logged_states(log.path).get("auth_errors") == "firing")
        reader = SessionLog.open_readonly(log.path)
        events = reader.events()
        reader.close()
    assert not any(e.kind == "note" for e in events), (
        "a note typed while the log could not be written was shown as done"
    )
    changes = [e for e in events if e.kind == "condition_changed" and e.payload["condition"] == "auth_errors"]
    states = [e.payload["state"] for e in changes]
    assert "pending" in states and states[-1] == "firing"  # on a loaded machine a poll may also time out between
    late = [e for e in changes if e.payload.get("written_late_by")]
    assert late and all(e.payload["written_late_by"] > 0 for e in late)
    assert [e.ts for e in events] == sorted(e.ts for e in events)  # their original times, in order


@pytest.mark.slow
async def test_a_log_removed_under_a_live_session_is_copied_and_stops_vouching(target, tmp_path):
    """`rm` of the log while the session runs (a /tmp cleaner): within seconds the screen says LOG NOT WRITING, where
    the copy is, how to resume it; CANNOT VERIFY; a note typed then is refused, not shown as done into a file that
    no longer exists; a follower and `status` of the copy say CANNOT VERIFY, and the copy has everything before."""
    runbook = load_runbook(write_fault_runbook(tmp_path, target.url, every="1s", timeout="900ms"))
    db, copy = tmp_path / "s.cutover.db", tmp_path / "s-rescued.cutover.db"
    app = make_app(LiveBackend(runbook, SessionLog.create(db, runbook, operator="ic"), actor="ic"))
    follower = FollowBackend(db, runbook, interval=0.2)  # opened before the removal: it reads the file now gone
    async with app.run_test(size=SIZE) as pilot:
        await follower.start(lambda state: None)
        await wait_until(pilot, lambda: app.session.verdict is Verdict.CONTINUE)
        await wait_until(pilot, lambda: follower.state().verdict is Verdict.CONTINUE)
        await pilot.press("n", *"before", "enter")
        await wait_until(pilot, lambda: any(e.kind == "note" for e in app.backend.log.events()))
        db.unlink()
        removed = time.monotonic()
        await wait_until(pilot, lambda: app.session.log_problem is not None, 8)
        # Seen by the flush thread within its second, copied out, on the screen at its next state: 3.3 s once with
        # the whole suite on 2 cores beside it, 0.9 s alone.
        assert time.monotonic() - removed < 4
        assert "the log file was removed" in app.session.log_problem and f"--db {copy}" in app.session.log_problem
        assert app.session.verdict is Verdict.CANNOT_VERIFY
        assert app.banner is not None and "LOG NOT WRITING" in app.banner.text.plain
        await pilot.press("n", *"after", "enter")
        await pilot.pause(0.5)
        await wait_until(pilot, lambda: follower.state().verdict is Verdict.CANNOT_VERIFY, WRITER_SILENCE_SECONDS + 3)
        await follower.stop()
        # The copy has no writer: `status` of it says so once its last heartbeat is old (a writer on another
        # host is told from a dead one the same way).
        assert wait_for(lambda: _status_verdict(copy) == "CANNOT_VERIFY", WRITER_SILENCE_SECONDS + 3)
    with SessionLog.open_readonly(copy) as reader:
        notes = [e.payload["text"] for e in reader.events() if e.kind == "note"]
        assert reader.verify().ok
    assert notes == ["before"]  # "after" was never acknowledged


@pytest.mark.slow
def test_run_quit_after_its_log_was_removed_says_where_the_copy_is_and_exits_1(target, tmp_path):
    """`run` in a real terminal, its log removed, then Quit: no traceback; it says the log's writes failed, where the
    copy is and how to resume it, and exits 1 (not 0 with "Session log: …", a path that names nothing written)."""
    runbook_path = write_fault_runbook(tmp_path, target.url, every="1s", timeout="900ms")
    db = tmp_path / "s.cutover.db"
    # What it prints as it exits, and its exit status, stay on the terminal (Textual draws on stderr).
    with TmuxSession(
        ["run", runbook_path, "--db", db, "--as", "ic", ";", "echo", "exit=$?", ";", "sleep", "60"]
    ) as writer:
        assert wait_for(lambda: _logged_states(db).get("auth_errors") == "ok", 20), writer.screen()
        db.unlink()
        assert wait_for(lambda: "LOG NOT WRITING" in writer.screen(), 10), writer.screen()
        writer.keys("q")
        assert wait_for(lambda: "Quit" in writer.screen(), 10), writer.screen()
        writer.keys("Right", "Enter")
        assert wait_for(lambda: "exit=" in writer.screen(), 20), writer.screen()
        said = writer.tmux("capture-pane", "-p", "-J", "-t", writer.name).stdout  # -J: wrapped lines joined
    copy = tmp_path / "s-rescued.cutover.db"
    assert "exit=1" in said and "Traceback" not in said
    assert "the log file was removed" in said and f"--db {copy}" in said
    assert _logged_states(copy).get("auth_errors") == "ok"  # the copy: what was written before


@pytest.mark.slow
async def test_changes_held_by_a_full_disk_keep_their_times_when_the_readings_are_written_too(tmp_path, small_disk):
    """Space returns: the held changes go in before the readings that waited with them, so the log dates the
    pending and the firing when they happened (a hold apart), not both at the moment the disk came back."""
    with Target() as target:
        runbook = load_runbook(write_fault_runbook(tmp_path, target.url, hold="3s", every="1s", timeout="900ms"))
        log = SessionLog.create(small_disk.path / "s.cutover.db", runbook, operator="ic")
        app = make_app(LiveBackend(runbook, log, actor="ic"))
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.session.conditions["auth_errors"].state is ConditionState.OK)
            small_disk.fill()
            target.set(auth_error_ratio=0.05)
            await wait_until(pilot, lambda: app.session.conditions["auth_errors"].state is ConditionState.FIRING)
            await pilot.pause(2.0)  # readings keep arriving, waiting to be written
            small_disk.free()
            await wait_until(pilot, lambda: _logged_states(log.path).get("auth_errors") == "firing")
        reader = SessionLog.open_readonly(log.path)
        events = reader.events()
        reader.close()
    changes = [e for e in events if e.kind == "condition_changed" and e.payload["condition"] == "auth_errors"]
    firing = changes[-1]
    pending = next(e for e in reversed(changes) if e.payload["state"] == "pending")
    assert firing.payload["state"] == "firing" and firing.payload.get("written_late_by", 0) > 1.0
    held_for = (firing.ts - pending.ts).total_seconds()
    # Each change is dated at its poll's due instant: the hold apart, however late the screen's loop took either
    # result (dated when taken, they were 2.2 s apart once in CI); more when a poll was due late. Less when another
    # event (a change of the health check's condition, say) was logged between the pending poll's due instant and
    # its result: the log keeps its time order and dates the change at that event's time (2.867 s once, a fresh
    # clone's full suite on 2 cores). Both at the moment the disk came back would be 0 s apart.
    assert 2.5 <= held_for <= 4.5, (pending.ts, firing.ts)


@pytest.mark.slow
async def test_a_pending_rollback_condition_is_at_risk_with_a_moving_countdown(tmp_path):
    """Breached but not yet `for`: the header says AT RISK and "fires in", the countdown and the hold move, then ROLLBACK."""
    with Target() as target:
        runbook = load_runbook(write_fault_runbook(tmp_path, target.url, hold="6s", every="1s", timeout="900ms"))
        backend = LiveBackend(runbook, SessionLog.create(tmp_path / "s.cutover.db", runbook, operator="ic"), actor="ic")
        app = make_app(backend)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.session.conditions["auth_errors"].state is ConditionState.OK)
            target.set(auth_error_ratio=0.04)
            await wait_until(pilot, lambda: app.session.conditions["auth_errors"].state is ConditionState.PENDING)
            assert app.session.verdict is Verdict.AT_RISK
            first = app.session.conditions["auth_errors"]
            header = str(app.query_one("#header-next").render())
            assert "auth_errors 4% > 1% — fires in 0:0" in header
            await pilot.pause(2.0)
            later = app.session.conditions["auth_errors"]
            assert later.state is ConditionState.PENDING
            assert later.remaining < first.remaining - 1.0 and later.breach_held > first.breach_held + 1.0
            assert later.reason != first.reason  # "4% > 1% for 3s of 6s" moves on
            assert str(app.query_one("#header-next").render()) != header
            await wait_until(pilot, lambda: app.session.verdict is Verdict.ROLLBACK)
            firing = app.session.conditions["auth_errors"]
            held = firing.reason.rsplit(" for ", 1)[1]
            assert f"for {held}" in app.banner.text.plain  # banner, card and reason: one hold


@pytest.mark.slow
async def test_a_flapping_rollback_condition_stays_at_risk_live_and_in_a_follower_until_it_settles(tmp_path):
    """Breach, pass, breach...: each pass resets the hold, and the header held AT RISK only while a breach was pending,
    turning green at every pass. Flapping now holds AT RISK between the breaches, in the writer and in a follower
    (which reads the flag from the log), and both turn CONTINUE together once the flapping has passed."""
    with Target() as target:
        runbook = load_runbook(write_fault_runbook(tmp_path, target.url, hold="60s", health=False, timeout="400ms"))
        db = tmp_path / "s.cutover.db"
        backend = LiveBackend(runbook, SessionLog.create(db, runbook, operator="ic"), actor="ic")
        follower = FollowBackend(db, runbook, interval=0.2)
        app = make_app(backend)
        async with app.run_test(size=SIZE) as pilot:
            auth = lambda: app.session.conditions["auth_errors"]  # noqa: E731
            await wait_until(pilot, lambda: auth().state is ConditionState.OK)
            await follower.start(lambda state: None)
            for flip in range(16):  # a breach, then a pass, until the evaluator calls it flapping (7 changes)
                breach = flip % 2 == 0
                target.set(auth_error_ratio=0.04 if breach else 0.001)
                wanted = ConditionState.PENDING if breach else ConditionState.OK
                await wait_until(pilot, lambda: auth().state is wanted)  # noqa: B023
                if auth().flapping and not breach:
                    break
            assert auth().state is ConditionState.OK and auth().flapping
            assert app.session.verdict is Verdict.AT_RISK, app.session.verdict_reasons
            assert "auth_errors 0.1% ≤ 1% — flapping" in str(app.query_one("#header-next").render())
            await wait_until(pilot, lambda: follower.state().conditions["auth_errors"].state is ConditionState.OK, 5)
            assert follower.state().verdict is Verdict.AT_RISK, follower.state().verdict_reasons
            # 21 passing polls push the changes out of the window: both turn CONTINUE, the follower from the log.
            await wait_until(pilot, lambda: app.session.verdict is Verdict.CONTINUE, 30)
            await wait_until(pilot, lambda: follower.state().verdict is Verdict.CONTINUE, 5)
            settled = follower.state().conditions["auth_errors"]
            assert not settled.flapping
            # The flag's change alone is no change of state: the time in state still counts from the last pass.
            assert abs((settled.since - auth().since).total_seconds()) < 1.0, (settled.since, auth().since)
    await follower.stop()


@pytest.mark.slow
async def test_a_writer_resumed_on_a_log_that_last_said_flapping_logs_that_it_no_longer_is(tmp_path):
    """A resumed evaluator has no polls to call flapping, and a pending hold resumes pending: the first reading's
    change (its cause: a restored status has seen no reading) carries the flag, or whatever reads the log (a
    follower, ``status``, a replay) would show the flag the log last carried until the state next changed."""
    with Target() as target:
        target.set(auth_error_ratio=0.04)
        # A generous timeout: a scrape timed out at 400 ms under the full suite once, and its error read unknown.
        runbook = load_runbook(
            write_fault_runbook(tmp_path, target.url, hold="60s", health=False, every="1s", timeout="900ms")
        )
        db = tmp_path / "s.cutover.db"
        log = SessionLog.create(db, runbook, operator="ic")
        log.append("condition_changed", {"condition": "auth_errors", "state": "pending", "previous": "pending",
                                         "threshold": "> 1%", "value": 0.04, "cause": "breach", "breach_held": 2.0,
                                         "flapping": True}, "system")  # fmt: skip
        log.close()
        app = make_app(LiveBackend(runbook, SessionLog.open(db, runbook, operator="ic"), actor="ic"))
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.session.checks["auth_error_ratio"].outcome is not None)  # a reading
            follower = FollowBackend(db, runbook, interval=0.2)
            await follower.start(lambda state: None)
            await wait_until(pilot, lambda: not follower.state().conditions["auth_errors"].flapping, 5)
            assert follower.state().conditions["auth_errors"].state is ConditionState.PENDING
            assert not app.session.conditions["auth_errors"].flapping
            print(
                "EVENTS",
                [
                    (
                        e.kind,
                        e.payload.get("state"),
                        e.payload.get("previous"),
                        e.payload.get("flapping"),
                        e.payload.get("cause"),
                    )
                    for e in SessionLog.open_readonly(db).events()
                ],
            )
    await follower.stop()


@pytest.mark.slow
async def test_the_first_failed_poll_shows_at_once_live_and_in_a_follower(tmp_path):
    """A source down from the start: its condition says why after the first poll ("error 1 of 4"), never "not yet polled"."""
    with Target() as target:
        url = target.url
    # Nothing listens there any more. Polls 2 s apart: the first error is still the newest when looked at.
    runbook = load_runbook(write_fault_runbook(tmp_path, url, every="2s"))
    db = tmp_path / "s.cutover.db"
    backend = LiveBackend(runbook, SessionLog.create(db, runbook, operator="ic"), actor="ic")
    follower = FollowBackend(db, runbook, interval=0.2)
    app = make_app(backend)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.checks["auth_error_ratio"].outcome == "error", 5)
        reason = app.session.conditions["auth_errors"].reason
        assert "error 1 of 4" in reason or "error 2 of 4" in reason, reason
        assert "not yet polled" not in reason
        await follower.start(lambda state: None)
        await wait_until(pilot, lambda: "not yet polled" not in follower.state().conditions["auth_errors"].reason, 5)
        assert "error" in follower.state().conditions["auth_errors"].reason
    await follower.stop()


@pytest.mark.slow
def test_resume_after_kill_keeps_the_hold_and_measures_the_real_downtime(target, tmp_path):
    """kill -9 during a pending hold: the resumed hold equals the hold before the crash within a poll, and the gap is the downtime."""
    runbook_path = write_fault_runbook(tmp_path, target.url, hold="60s", health=False)  # steady readings: few ticks
    runbook = load_runbook(runbook_path)
    db = tmp_path / "session.cutover.db"
    target.set(auth_error_ratio=0.05)
    with TmuxSession(["run", runbook_path, "--db", db, "--as", "ic"]) as writer:
        assert wait_for(lambda: _logged_states(db).get("auth_errors") == "pending", 20), writer.screen()
        time.sleep(6.0)
        writer.kill()
        killed, killed_wall = time.monotonic(), datetime.now(timezone.utc)
    time.sleep(4.0)
    log = SessionLog.open(db, runbook, operator="ic")
    downtime = time.monotonic() - killed
    state = LiveBackend(runbook, log, actor="ic", poll=False).state()
    events = log.events()
    log.close()
    resumed = [e for e in events if e.kind == "session_resumed"][-1]
    pending = [e for e in events if e.kind == "condition_changed" and e.payload["state"] == "pending"][-1]
    held_at_kill = (killed_wall - pending.ts).total_seconds()  # the breach never stopped before the kill
    assert abs(resumed.payload["gap_seconds"] - downtime) < 1.5, (resumed.payload, downtime)
    hold = state.conditions["auth_errors"].breach_held
    assert abs(hold - held_at_kill) <= 1.5, (hold, held_at_kill)  # a poll (0.5 s) and a heartbeat (1 s)
    assert state.conditions["auth_errors"].state is ConditionState.PENDING


def _status_verdict(db: Path) -> str:
    """The verdict ``cutover-tui status`` prints for the log (the incident channel's line).

    A log the writer has not made yet, or is making (exit 2, "no such session log" or "not a session
    log"), reads as that message, so a wait for a verdict goes on waiting; any other failure raises."""
    done = subprocess.run(
        [sys.executable, "-m", "cutover_tui", "status", str(db), "--format", "json"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if done.returncode == 2 and ("no such session log" in done.stderr or "not a session log" in done.stderr):
        return done.stderr.strip()
    done.check_returncode()
    return json.loads(done.stdout)["verdict"]


def _logged_states(db: Path) -> dict[str, str]:
    """The latest logged state of each condition (read-only, as a reviewer would)."""
    if not db.exists():
        return {}
    try:
        log = SessionLog.open_readonly(db)
    except Exception:  # the writer is still creating it
        return {}
    try:
        return {e.payload["condition"]: e.payload["state"] for e in log.events() if e.kind == "condition_changed"}
    finally:
        log.close()
