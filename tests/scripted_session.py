"""A session written by the real live path, on a hand-moved clock, from scripted readings.

``ScriptedSession`` drives ``LiveBackend._on_result`` (what the poller calls
after every poll) with readings the test makes up: the evaluators, the log's
retention, the tick ids, the condition changes and the baselines are the
ones a live session uses. Steps, decisions and T0 are appended as the
dashboard appends them. Nothing polls and no time passes but the clock's.

Example::

    session = ScriptedSession(tmp_path / "s.cutover.db", RUNBOOK, t0_in=60)
    session.poll("auth_error_ratio", 0.002, until=60)      # every 2 s for a minute
    session.append("step_started", {"step": "deploy"})
    session.poll("auth_error_ratio", 0.04, until=200)
    session.close()
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from checks.clock import ManualClock
from checks.conditions import ConditionEvaluator
from checks.reading import Outcome, Reading
from cutover_tui.live import LiveBackend
from cutover_tui.store import SessionLog, format_ts
from runbooks import parse_runbook
from runbooks.model import Runbook

START = datetime(2026, 12, 1, 16, 0, tzinfo=timezone.utc)


class _Evaluators:
    """What ``LiveBackend`` reads of its poller: the evaluators' statuses and each check's latest reading."""

    def __init__(self, evaluators: dict[str, ConditionEvaluator]) -> None:
        self.evaluators = evaluators
        self.latest: dict[str, Reading] = {}

    @property
    def statuses(self) -> dict[str, Any]:
        return {cid: evaluator.status for cid, evaluator in self.evaluators.items()}

    async def stop(self) -> None:
        pass


class ScriptedSession:
    """A session log written through ``LiveBackend`` from scripted polls.

    Args:
        path: the log to create.
        runbook: YAML text or a ``Runbook``.
        t0_in: log ``t0_set`` at the start with T0 this many seconds later (None: leave T0 alone).
        actor: who is at the keys.
        latency: seconds every poll takes.
        lag: seconds between a poll's answer and the screen's loop taking its result (a busy loop).
        delay: seconds a poll starts after it was due (the polling thread's scheduling delay, which the log does not
            keep), given the poll's second since the start.
    """

    def __init__(
        self,
        path: Path,
        runbook: str | Runbook,
        *,
        t0_in: float | None = None,
        actor: str = "tester",
        latency: float = 0.0,
        lag: float = 0.0,
        delay: Callable[[float], float] | None = None,
    ) -> None:
        self.runbook = parse_runbook(runbook) if isinstance(runbook, str) else runbook
        self.clock = ManualClock(START)
        self.latency = latency
        self.lag = lag
        self.delay = delay
        self.log = SessionLog.create(path, self.runbook, operator=actor, clock=self.clock)
        if t0_in is not None:
            self.t0 = START + timedelta(seconds=t0_in)
            self.log.append("t0_set", {"t0": format_ts(self.t0)})
        else:
            self.t0 = self.runbook.t0
        self.backend = LiveBackend(self.runbook, self.log, actor=actor, clock=self.clock, poll=False)
        self.evaluators = {
            c.id: ConditionEvaluator(c, self.runbook.checks[c.check], self.clock) for c in self.runbook.stop_conditions
        }
        self.backend._start_baselines(self.evaluators)
        self.backend._poller = self.poller = _Evaluators(self.evaluators)
        self.statuses: list[dict[str, Any]] = []
        self._next_poll: dict[str, float] = {}
        self.readings: list[Reading] = []

    @property
    def elapsed(self) -> float:
        return (self.clock.now() - START).total_seconds()

    def advance_to(self, seconds: float) -> None:
        if seconds > self.elapsed:
            self.clock.advance(seconds - self.elapsed)

    def poll(
        self,
        check_id: str,
        value: float | None,
        *,
        until: float,
        outcome: Outcome | None = None,
        detail: str = "",
        values: Any = None,
    ) -> None:
        """Poll ``check_id`` at its interval up to ``until`` seconds after the start, reading ``value`` each time.

        ``values``, when given, is called with the poll's second and returns the value (jitter, ramps).
        """
        check = self.runbook.checks[check_id]
        at = self._next_poll.get(check_id, self.elapsed)
        while at <= until + 1e-9:
            self.advance_to(at)
            number = values(at) if values is not None else value
            self.poll_once(check_id, number, outcome=outcome, detail=detail)
            at += check.every
        self._next_poll[check_id] = at

    def poll_once(
        self, check_id: str, value: float | None, *, outcome: Outcome | None = None, detail: str = ""
    ) -> Reading:
        """One poll now: the evaluators observe it (due now less the latency), then the live backend logs it (``lag`` later)."""
        check = self.runbook.checks[check_id]
        if outcome is None:
            passed = check.pass_when is None or (value is not None and check.pass_when.holds(value))
            outcome = Outcome.PASS if passed else Outcome.BREACH
        due = self.clock.monotonic()
        if self.delay is not None:
            self.clock.advance(self.delay(self.elapsed))
        if self.latency:
            self.clock.advance(self.latency)
        reading = Reading(
            check_id=check_id, outcome=outcome, value=value, unit=check.unit, latency=self.latency,
            observed_at=self.clock.now(), monotonic=self.clock.monotonic(), detail=detail,
        )  # fmt: skip
        statuses = [e.observe(reading, due=due) for e in self.evaluators.values() if e.check.id == check_id]
        self.poller.latest[check_id] = reading
        if self.lag:
            self.clock.advance(self.lag)
        self.backend._on_result(reading, statuses)
        self.readings.append(reading)
        return reading

    def append(self, kind: str, payload: dict[str, Any], actor: str | None = None) -> None:
        """An event as the dashboard appends it, now (after the condition changes queued before it)."""
        self.settle()
        self.log.append(kind, payload, actor)

    def settle(self) -> None:
        """Wait until the condition changes queued so far are in the log."""
        self.backend._writer.submit(lambda: None).result()

    def close(self) -> None:
        self.settle()
        self.backend._writer.shutdown(wait=True)
        self.log.append("session_ended", {"outcome": "abandoned", "reason": "quit"})
        self.log.close()
