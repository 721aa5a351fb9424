"""Writes ``schema1.cutover.db``: a session log in the first on-disk format (ISO text times, check ids and
outcomes spelled out in every reading).

It ran once, with the cutover-tui that wrote that format (``SCHEMA_VERSION == 1``); the file it wrote is
kept as it came out, so the tests read a log really written by the old code, not one imitated by the new.

    python tests/old_logs/make_schema1.py tests/old_logs/schema1.cutover.db
"""

from __future__ import annotations

import math
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from checks.clock import ManualClock
from checks.reading import Outcome, Reading
from checks.status import ConditionState, ConditionStatus
from cutover_tui import store
from runbooks.loader import parse_runbook

RUNBOOK = """\
name: Schema 1 go-live
t0: 2026-12-01T16:30:00Z
roles: {commander: Incident commander, cto: CTO}
sources:
  prometheus: {kind: prometheus, url: http://127.0.0.1:9}
  alertmanager: {kind: alertmanager, url: http://127.0.0.1:9}
checks:
  api_health:
    http: http://127.0.0.1:9/health
    max_latency: 500ms
    every: 5s
  auth_error_ratio:
    promql: sum(rate(auth_errors[5m])) / sum(rate(auth_requests[5m]))
    unit: '%'
    every: 5s
  critical_alerts:
    alerts: {severity: critical}
    every: 15s
stop_conditions:
  - {id: auth_errors, check: auth_error_ratio, when: '> 1%', for: 1m, action: rollback, decides: cto}
  - {id: api_slow, check: api_health, when: '> 400ms', for: 30s, action: halt, decides: commander}
steps:
  - {id: go_no_go, title: Final go/no-go, at: T-10m}
  - {id: deploy, title: Deploy backend, at: T+0m, duration: 10m, gate: [api_health], watch: [auth_errors]}
  - {id: smoke, title: Smoke tests, at: T+15m, duration: 5m, watch: [api_slow]}
"""
T0 = datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)


def main(path: str) -> None:
    assert store.SCHEMA_VERSION == 1, "this writes the first format: run it with the code that wrote it"
    runbook = parse_runbook(RUNBOOK, "schema1.yaml")
    clock = ManualClock(T0 - timedelta(minutes=15))
    log = store.SessionLog.create(Path(path), runbook, operator="alice", clock=clock)
    states = {"auth_errors": ConditionState.OK, "api_slow": ConditionState.OK}

    def status(condition: str) -> ConditionStatus:
        return ConditionStatus(condition, states[condition], None, "", clock.now())

    for n in range(240):  # 20 minutes, a poll every 5 s
        at = T0 - timedelta(minutes=10) + timedelta(seconds=5 * n)
        clock._wall = at  # the readings' own times: the seals are stamped when written
        seconds = 5 * n
        latency = 0.03 + 0.01 * math.sin(n / 7) + (0.5 if 150 <= n < 160 else 0.0)
        if n == 40:
            health = Reading("api_health", Outcome.ERROR, None, "s", 4.0, at, seconds, detail="timed out after 4s")
        else:
            outcome = Outcome.BREACH if latency > 0.5 else Outcome.PASS
            health = Reading("api_health", outcome, latency, "s", latency, at, seconds,
                             extra={"status": 200, "latency": latency})  # fmt: skip
        log.record_reading(health, [status("api_slow")])
        ratio = 0.002 + 0.001 * math.cos(n / 5) + (0.03 if 120 <= n < 150 else 0.0)
        ratio_reading = Reading("auth_error_ratio", Outcome.PASS, ratio, "%", 0.02, at, seconds, degraded=n == 60)
        if n == 126:
            states["auth_errors"] = ConditionState.PENDING
            log.append("condition_changed", {"condition": "auth_errors", "state": "pending", "previous": "ok",
                                             "value": ratio, "threshold": "> 1%", "reason": "3.2% > 1%",
                                             "breach_held": 0.0, "flapping": False}, actor="system", ts=at)  # fmt: skip
        if n == 138:
            states["auth_errors"] = ConditionState.FIRING
            log.append("condition_changed", {"condition": "auth_errors", "state": "firing", "previous": "pending",
                                             "value": ratio, "threshold": "> 1%", "reason": "3.1% > 1% for 1m",
                                             "breach_held": 60.0, "flapping": False, "firing_since": store.format_ts(at)},
                       actor="system", ts=at)  # fmt: skip
        log.record_reading(ratio_reading, [status("auth_errors")])
        if n % 3 == 0:
            firing = 130 <= n < 170
            active = [{"name": "AuthErrors", "severity": "critical", "summary": "auth 5xx above 1%"}] if firing else []
            log.record_reading(Reading("critical_alerts", Outcome.BREACH if firing else Outcome.PASS, float(len(active)),
                                       "count", 0.01, at, seconds,
                                       extra={"active": active, "suppressed": [], "active_count": len(active)}))  # fmt: skip
        if n == 100:
            log.append("step_completed", {"step": "go_no_go", "gate": {}}, ts=at)
        if n == 121:
            log.append("step_started", {"step": "deploy"}, ts=at)
        if n == 145:
            log.append("decision", {"decision": "hold", "reason": "watching auth errors", "step": "deploy",
                                    "conditions": {"auth_errors": {"state": "firing", "value": ratio, "threshold": "> 1%",
                                                                   "firing_since": "2026-12-01T16:31:30.000Z"}},
                                    "verdict": "ROLLBACK"}, actor="cto", ts=at)  # fmt: skip
        if n % 12 == 11:
            log.flush_ticks()
    log.append("note", {"text": "auth errors back to normal"}, ts=clock.now())
    log.append("session_ended", {"outcome": "abandoned", "reason": "quit"}, ts=clock.now())
    log.close()


if __name__ == "__main__":
    main(sys.argv[1])
