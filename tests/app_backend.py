"""An in-memory session backend for the dashboard's tests.

It implements ``SessionBackend`` with the real reducer over a list of events
held in memory: ``append`` adds to that list (payloads go through JSON, as the
log stores them) and hands the new state to the app. It never polls; tests
script readings and condition changes with ``record`` and ``tick``. The data
sources and the SQLite log are covered by their own tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from checks.clock import ManualClock
from cutover_tui.backend import Acknowledged, ReadOnlySession
from cutover_tui.reducer import Reducer
from cutover_tui.state import LiveTruth, SessionState
from cutover_tui.store import EventRecord, TickRecord, event_hash, format_ts
from runbooks import load_runbook
from runbooks.model import Runbook

DEMO_RUNBOOK = Path(__file__).resolve().parent.parent / "sample_runbooks" / "demo.yaml"

#: The frozen instant of every scripted session: 2026-12-01 22:00 IST.
START = datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)


def demo_runbook() -> Runbook:
    """The demo runbook, shown in a fixed zone so screens do not depend on the machine's."""
    return replace(load_runbook(DEMO_RUNBOOK), timezone="Asia/Kolkata")


class AppTestBackend:
    """A ``SessionBackend`` over in-memory events, folded by the real ``Reducer``.

    Attributes:
        events: every event appended, in order (tests assert on them).
        appended: only the events the app appended through ``append``.
        fail_appends: when set, ``append`` raises it (a log that cannot write).
    """

    def __init__(
        self,
        runbook: Runbook,
        *,
        clock: ManualClock | None = None,
        read_only: bool = False,
        actor: str = "commander",
        view_label: str | None = None,
    ) -> None:
        self.runbook = runbook
        self.read_only = read_only
        self.actor = actor
        self.db_path = ":memory:"
        self.clock = clock or ManualClock(START)
        if view_label is not None:
            self.view_label = view_label
        self.events: list[EventRecord] = []
        self.appended: list[EventRecord] = []
        self.fail_appends: Exception | None = None
        self.started = False
        self.stopped = False
        self._reducer = Reducer(runbook)
        self._on_change: Callable[[SessionState], None] | None = None
        self.live: LiveTruth | None = None
        """What a live or follow backend would know beyond the log (a follower on the writer's clock)."""

    def now(self) -> datetime:
        return self.clock.now()

    def state(self) -> SessionState:
        return self._reducer.state(now=self.now(), live=self.live)

    async def start(self, on_change: Callable[[SessionState], None]) -> None:
        self._on_change = on_change
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def append(self, kind: str, payload: dict[str, Any]) -> Acknowledged:
        if self.read_only:
            raise ReadOnlySession(kind)
        if self.fail_appends is not None:
            raise self.fail_appends
        record = self.record(kind, payload, actor=self.actor)
        self.appended.append(record)
        return Acknowledged(record.seq, record.ts)

    # ------------------------------------------------------------ scripting

    def record(self, kind: str, payload: dict[str, Any], *, actor: str = "system") -> EventRecord:
        """Add an event as the log would store it, fold it, and tell the app."""
        stored = json.loads(json.dumps(payload))
        seq = len(self.events) + 1
        ts = self.now()
        previous = self.events[-1].hash if self.events else ""
        digest = event_hash(previous, seq, format_ts(ts), kind, actor, stored)
        event = EventRecord(seq, ts, kind, actor, stored, previous, digest)
        self.events.append(event)
        self._reducer.apply(event)
        self._changed()
        return event

    def tick(self, check_id: str, outcome: str, value: float | None, *, detail: str = "", **extra: Any) -> None:
        """Add a stored reading of ``check_id`` now."""
        unit = self.runbook.checks[check_id].unit
        self._reducer.apply_tick(TickRecord(check_id, self.now(), outcome, value, unit, 0.01, False, detail, extra))
        self._changed()

    def condition(self, condition_id: str, state: str, value: float | None, reason: str, **more: Any) -> None:
        """A ``condition_changed`` event as the evaluator writes it."""
        condition = self.runbook.condition(condition_id)
        previous = self.state().conditions[condition_id].state.value
        payload = {
            "condition": condition_id,
            "state": state,
            "previous": previous,
            "value": value,
            "threshold": condition.when.text if condition.when else "",
            "reason": reason,
            "breach_held": more.pop("breach_held", 0.0),
            "flapping": more.pop("flapping", False),
            **more,
        }
        self.record("condition_changed", payload)

    def advance(self, seconds: float) -> None:
        """Move the frozen clock."""
        self.clock.advance(seconds)

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.state())

    def kinds(self) -> list[str]:
        """Kinds of the events the app appended, in order."""
        return [event.kind for event in self.appended]


# ---------------------------------------------------------------- scenarios


def fresh_session(runbook: Runbook | None = None, **options: Any) -> AppTestBackend:
    """A session just started: no T0, nothing polled yet (of the demo runbook, or ``runbook``)."""
    backend = AppTestBackend(runbook or demo_runbook(), **options)
    backend.record(
        "session_started",
        {
            "runbook_name": backend.runbook.name,
            "runbook_sha256": backend.runbook.sha256,
            "planned_t0": None,
            "rehearsal": False,
        },
        actor="commander",
    )
    return backend


def healthy_readings(backend: AppTestBackend, polls: int = 12) -> None:
    """``polls`` rounds of readings 5 s apart: all pass but ``api_error_ratio``, which has no data."""
    for n in range(polls):
        backend.tick("api_health", "pass", 0.08 + 0.01 * (n % 3), detail="HTTP 200")
        backend.tick("auth_traffic", "pass", 42.0 + n)
        backend.tick("auth_error_ratio", "pass", 0.002 + 0.0005 * (n % 4))
        backend.tick("api_error_ratio", "nodata", None, detail="metric api_error_ratio absent")
        backend.tick("latency_p95", "pass", 0.18 + 0.02 * (n % 5))
        backend.advance(5)
    conditions = backend.state().conditions
    for condition_id, value, reason in (
        ("auth_errors", 0.0035, "0.35% ≤ 1%"),
        ("auth_errors_vs_baseline", 0.0035, "0.35% = 1.4x baseline 0.25%, not > 2x baseline"),
        ("health_down", 0.1, "HTTP 200"),
        ("slow_p95", 0.22, "220ms ≤ 1s"),
    ):
        if conditions[condition_id].state.value != "ok":
            backend.condition(condition_id, "ok", value, reason)


def session_in_progress(**options: Any) -> AppTestBackend:
    """T+2m: the plan up to the production deploy done, ``verify_endpoints`` active.

    ``api_errors`` has no data (unknown, blind), so the verdict for a step
    watching it would be CANNOT VERIFY.
    """
    backend = fresh_session(**options)
    backend.record("t0_set", {"t0": format_ts(backend.now() + timedelta(minutes=3))}, actor="commander")
    healthy_readings(backend, polls=6)
    for step in ("change_freeze", "staging_validation"):
        backend.record("step_started", {"step": step}, actor="commander")
        backend.advance(20)
        backend.record("step_completed", {"step": step, "gate": {}}, actor="commander")
    backend.record(
        "decision",
        {"decision": "go", "reason": "scorecard 93", "step": "final_go_no_go", "conditions": {}, "verdict": "CONTINUE"},
        actor="commander",
    )
    backend.record("step_completed", {"step": "final_go_no_go", "gate": {"api_health": "pass"}}, actor="commander")
    backend.advance(60)
    backend.record("step_started", {"step": "backup_snapshot"}, actor="sre")
    backend.record("evidence_added", {"step": "backup_snapshot", "text": "snapshot snap-0420 taken"}, actor="sre")
    backend.record("step_completed", {"step": "backup_snapshot", "gate": {}}, actor="sre")
    backend.record(
        "decision",
        {
            "decision": "go",
            "reason": "approved",
            "step": "approve_prod_deploy",
            "phrase": "APPROVE PROD DEPLOY",
            "conditions": {},
            "verdict": "CONTINUE",
        },
        actor="cto",
    )
    backend.record("step_completed", {"step": "approve_prod_deploy", "gate": {}}, actor="cto")
    healthy_readings(backend, polls=20)
    backend.record("step_started", {"step": "production_deploy"}, actor="sre")
    healthy_readings(backend, polls=10)
    backend.record("step_completed", {"step": "production_deploy", "gate": {"api_health": "pass"}}, actor="sre")
    backend.record("step_started", {"step": "verify_endpoints"}, actor="sre")
    backend.record(
        "item_checked",
        {"step": "verify_endpoints", "item": backend.runbook.step("verify_endpoints").items[0].id, "checked": True},
        actor="sre",
    )
    backend.condition("api_errors", "unknown", None, "no data: metric api_error_ratio absent")
    healthy_readings(backend, polls=4)
    return backend


def auth_errors_firing(backend: AppTestBackend) -> None:
    """The auth-error spike: pending, then firing after its 1 m hold (a ROLLBACK banner)."""
    backend.condition("auth_errors", "pending", 0.041, "4.1% > 1%")
    for n in range(12):
        backend.tick("auth_error_ratio", "breach", 0.038 + 0.002 * (n % 3))
        backend.tick("api_health", "pass", 0.09, detail="HTTP 200")
        backend.advance(5)
    backend.condition("auth_errors", "firing", 0.042, "4.2% > 1% for 1m", breach_held=60.0)


def session_firing(**options: Any) -> AppTestBackend:
    """In progress, with the auth-error spike firing: a ROLLBACK banner."""
    backend = session_in_progress(**options)
    auth_errors_firing(backend)
    return backend


def session_rolling_back(**options: Any) -> AppTestBackend:
    """The auth-error spike fired and the commander entered rollback."""
    backend = session_firing(**options)
    backend.record("rollback_started", {"reason": "auth errors 4% for 1m"}, actor="commander")
    return backend


def rehearsal_session(**options: Any) -> AppTestBackend:
    """A rehearsal whose T-0 was set ten minutes ago (T-0 may move)."""
    backend = AppTestBackend(demo_runbook(), **options)
    backend.record("session_started", {"runbook_name": "demo", "runbook_sha256": "", "planned_t0": None,
                                       "rehearsal": True}, actor="commander")  # fmt: skip
    backend.record("t0_set", {"t0": format_ts(backend.now())}, actor="commander")
    backend.advance(600)
    return backend


#: The sessions a dashboard test starts from, by name (``@pytest.mark.scenario(name)``, ``conftest.backend``).
SCENARIOS: dict[str, Callable[[], AppTestBackend]] = {
    "in progress": session_in_progress,
    "fresh": fresh_session,
    "firing": session_firing,
    "rolling back": session_rolling_back,
    "following": lambda: session_in_progress(read_only=True, view_label="FOLLOW (read-only)"),
    "rehearsal": rehearsal_session,
}
