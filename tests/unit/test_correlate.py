"""Which step broke it: breaches, firings and alerts beside the step that preceded them, on a scripted session."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cutover_tui.correlate import StepTimeline, correlate
from cutover_tui.reducer import reduce_events
from cutover_tui.report import build_report, render
from cutover_tui.store import SessionLog, TickRecord, format_ts
from scripted_session import START, ScriptedSession

RUNBOOK = """\
name: Correlated session
roles: {cto: CTO, sre: SRE}
sources:
  alertmanager: {url: "http://127.0.0.1:9093"}
checks:
  auth_error_ratio: {scrape: "http://127.0.0.1:9/metrics", metric: auth_error_ratio, unit: "%", every: 5s, timeout: 2s}
  critical_alerts: {alerts: {severity: critical}, every: 5s, timeout: 2s}
stop_conditions:
  - {id: auth_errors, check: auth_error_ratio, when: "> 1%", for: 30s, action: rollback, decides: cto}
steps:
  - {id: deploy, title: Production deploy, at: T-0}
  - {id: migrate, title: Run migrations, at: T+1m}
  - {id: verify, title: Production verification, at: T+2m}
"""


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> ScriptedSession:
    """Deploy at 0 s, migrations at 60 s (done at 100 s), verification at 120 s; errors from 190 s; a ROLLBACK at 260 s."""
    session = ScriptedSession(tmp_path_factory.mktemp("correlate") / "s.cutover.db", RUNBOOK, t0_in=0)
    session.append("step_started", {"step": "deploy"})
    session.poll("auth_error_ratio", 0.002, until=60)
    session.append("step_started", {"step": "migrate"})
    session.poll("auth_error_ratio", 0.002, until=100)
    session.append("step_completed", {"step": "migrate", "gate": {}})
    session.poll("auth_error_ratio", 0.002, until=120)
    session.append("step_started", {"step": "verify"})
    session.poll("auth_error_ratio", 0.002, until=185)
    session.poll("auth_error_ratio", 0.04, until=255)
    session.append("decision", {"decision": "rollback", "reason": "auth errors", "conditions": {},
                                "decided_by": "cto", "decides": "cto", "answers": ["auth_errors"]})  # fmt: skip
    session.close()
    return session


def test_breach_and_firing_name_the_step_that_preceded_them_with_the_lag(session: ScriptedSession) -> None:
    """The spike at 190 s began 1m10s after 'Production verification' started, and fired 30 s later."""
    with SessionLog.open_readonly(session.log.path) as log:
        found = correlate(session.runbook, log.events())
    assert [(c.kind, c.subject, (c.at - START).total_seconds()) for c in found] == [
        ("breach", "auth_errors", 190.0), ("firing", "auth_errors", 220.0),
    ]  # fmt: skip
    assert (
        found[0].text()
        == "auth_errors began breaching 1m10s after 'Production verification' started; also running: 'Production deploy'"
    )
    assert found[1].context.last_started.id == "verify" and found[1].context.lag() == 100.0


def test_a_step_that_had_ended_is_named_as_ended() -> None:
    """Between migrations' end and the next start, the last step started is named, and said to have ended."""
    from cutover_tui.store import EventRecord
    from runbooks import parse_runbook

    runbook = parse_runbook(RUNBOOK)

    def event(seq: int, seconds: float, kind: str, step: str) -> EventRecord:
        return EventRecord(seq, START + timedelta(seconds=seconds), kind, "t", {"step": step}, "", "")

    timeline = StepTimeline(
        runbook, [event(1, 0, "step_started", "migrate"), event(2, 40, "step_completed", "migrate")]
    )
    context = timeline.at(START + timedelta(seconds=70))
    assert context.running == () and context.text("auth_errors fired") == (
        "auth_errors fired 1m10s after 'Run migrations' started (it had ended 30s before)"
    )
    assert (
        timeline.at(START - timedelta(seconds=5)).text("alert X started") == "alert X started before any step started"
    )


def test_an_alert_is_placed_by_its_starts_at_not_by_when_it_was_polled(session: ScriptedSession) -> None:
    """Alertmanager's startsAt (75 s, during migrations) places the alert, though it was first polled at 200 s."""
    starts = format_ts(START + timedelta(seconds=75))
    alert = {
        "name": "DBConnectionsHigh",
        "severity": "critical",
        "starts_at": starts,
        "labels": {"alertname": "DBConnectionsHigh"},
    }
    ticks = [
        TickRecord("critical_alerts", START + timedelta(seconds=s), "breach", 1.0, extra={"active": [alert]})
        for s in (200, 205, 210)
    ]
    with SessionLog.open_readonly(session.log.path) as log:
        found = [c for c in correlate(session.runbook, log.events(), ticks) if c.kind == "alert"]
    assert len(found) == 1
    assert (
        found[0].text()
        == "alert DBConnectionsHigh started 15s after 'Run migrations' started; also running: 'Production deploy'"
    )


def test_the_report_and_the_replayed_log_say_which_step_broke_it(session: ScriptedSession) -> None:
    """The report's section and summary, the decision it answered, and the log pane's line say the same."""
    report = build_report(session.log.path)
    text = render(report, "md")
    assert "- Which step broke it: auth_errors began breaching 1m10s after 'Production verification' started" in text
    row = "| 16:03:40 | fired | auth_errors | Production verification | 1m40s | Production deploy, Production verification |"
    assert row in text
    decision = report.decisions[0]
    assert (
        decision.after_step
        == "auth_errors fired 1m40s after 'Production verification' started; also running: 'Production deploy'"
    )
    assert "Decided by CTO (cto); typed by tester" in text and "The banner asked for: CTO ✔" in text
    with SessionLog.open_readonly(session.log.path) as log:
        state = reduce_events(session.runbook, log.events())
    firing = next(line for line in state.log if line.kind == "condition_changed" and "-> firing" in line.text)
    assert firing.text.endswith(" — 1m40s after 'Production verification' started")
