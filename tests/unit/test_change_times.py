"""A condition change is dated when its poll's answer came, not when the screen's loop took the result.

The results of polls reach the screen's loop late when the loop is busy (a
loaded machine, a long redraw). The log dates each change at its reading's
time, so the log's own times say what the evaluator saw: pending and firing
``for`` apart, whatever the lag. The log's order stays its time order, and a
lag is not taken for a clock that stepped back.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from checks.reading import Outcome, Reading
from cutover_tui.store import EventRecord
from scripted_session import START, ScriptedSession

RUNBOOK = """\
name: Change times
roles: {cto: CTO}
checks:
  auth_error_ratio: {scrape: "http://127.0.0.1:9/metrics", metric: auth_error_ratio, unit: "%", every: 1s, timeout: 900ms, pass_when: "< 1%"}
  latency: {scrape: "http://127.0.0.1:9/metrics", metric: p95_ms, unit: ms, every: 1s, timeout: 900ms, pass_when: "< 500"}
stop_conditions:
  - {id: auth_errors, check: auth_error_ratio, when: "> 1%", for: 3s, action: rollback, decides: cto}
  - {id: slow, check: latency, when: "> 500", for: 0s, action: halt, decides: cto}
steps:
  - {id: deploy, title: Production deploy, at: T-0}
"""


def finish(session: ScriptedSession) -> list[EventRecord]:
    """The session's events once every change queued is in the log; the log closed."""
    session.settle()
    events = session.log.events()
    session.close()
    return events


def changes(events: list[EventRecord], condition: str) -> list[tuple[str, float, dict]]:
    """(state, seconds after the start, payload) of each logged change of ``condition``."""
    return [
        (e.payload["state"], (e.ts - START).total_seconds(), e.payload)
        for e in events
        if e.kind == "condition_changed" and e.payload["condition"] == condition
    ]


def test_pending_and_firing_are_for_apart_however_late_the_screen_took_each_result(tmp_path: Path) -> None:
    """The result that starts the hold is taken 0.9 s late, the one that fires at once: the log has them 3 s apart."""
    session = ScriptedSession(tmp_path / "s.cutover.db", RUNBOOK)
    session.poll("auth_error_ratio", 0.002, until=4)
    session.lag = 0.9
    session.poll("auth_error_ratio", 0.04, until=5)
    session.lag = 0.0
    session.poll("auth_error_ratio", 0.04, until=9)
    logged = [(state, at) for state, at, _ in changes(finish(session), "auth_errors")]
    assert logged == [("ok", 0.0), ("pending", 5.0), ("firing", 8.0)], logged


def test_a_late_result_after_a_newer_event_keeps_the_logs_order_and_claims_no_clock_step(tmp_path: Path) -> None:
    """A change seen at 5 s whose result was taken at 7.5 s, after another logged at 6 s, is dated at 6 s, with no
    ``clock_behind_by``."""
    session = ScriptedSession(tmp_path / "s.cutover.db", RUNBOOK)
    session.poll("auth_error_ratio", 0.002, until=0)
    session.poll("latency", 120, until=0)
    session.advance_to(5)
    late = Reading(check_id="latency", outcome=Outcome.BREACH, value=900, unit="ms", latency=0.0,
                   observed_at=session.clock.now(), monotonic=session.clock.monotonic())  # fmt: skip
    statuses = [session.evaluators["slow"].observe(late, due=late.monotonic)]
    session.advance_to(6)
    session.poll_once("auth_error_ratio", 0.04)  # pending, logged at 6 s
    session.settle()
    session.advance_to(7.5)
    session.backend._on_result(late, statuses)  # the latency poll's result, taken at last
    events = finish(session)
    ((_, pending_at, _),) = [c for c in changes(events, "auth_errors") if c[0] == "pending"]
    ((_, firing_at, payload),) = [c for c in changes(events, "slow") if c[0] == "firing"]
    assert pending_at == 6.0 and firing_at == 6.0, (pending_at, firing_at)
    assert "clock_behind_by" not in payload
    times = [e.ts for e in events]
    assert times == sorted(times)


def test_a_clock_stepped_back_is_still_said_when_a_change_is_dated_at_its_reading(tmp_path: Path) -> None:
    """After the wall clock steps back an hour, a change is at the log's last time and says by how much."""
    session = ScriptedSession(tmp_path / "s.cutover.db", RUNBOOK)
    session.poll("auth_error_ratio", 0.002, until=2)
    session.settle()
    head = session.log.events()[-1].ts
    session.clock.jump_wall(-3600)
    session.clock.advance(1)
    session.poll_once("auth_error_ratio", 0.04)
    ((_, pending_at, payload),) = [c for c in changes(finish(session), "auth_errors") if c[0] == "pending"]
    assert START + timedelta(seconds=pending_at) == head
    assert payload["clock_behind_by"] == 3597.0, payload  # the last event was at 0 s; the clock reads 3 s - 1 h
