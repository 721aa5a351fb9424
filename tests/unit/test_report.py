"""`cutover-tui report`: the post-mortem and release evidence of a session log, in Markdown, HTML and JSON.

The fixed session below is written with the real ``SessionLog`` and a manual
clock, so every timestamp in it, and so every report of it, is fixed. Set
``UPDATE_GOLDEN=1`` to rewrite ``tests/golden/`` after an intended change.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from checks.clock import ManualClock
from checks.reading import Outcome, Reading
from cutover_tui.cli import main
from cutover_tui.report import Report, build_report, render
from cutover_tui.store import SessionLog
from runbooks.loader import parse_runbook
from runbooks.model import Runbook

GOLDEN = Path(__file__).parents[1] / "golden"
GENERATED_AT = datetime(2026, 12, 1, 18, 0, tzinfo=timezone.utc)
START = datetime(2026, 12, 1, 16, 10, tzinfo=timezone.utc)

RUNBOOK_YAML = """\
name: Payments go-live
t0: 2026-12-01T16:30:00Z
roles: {commander: Incident commander, cto: CTO, sre: Release engineer}
checks:
  api_health:
    title: API /health
    http: http://127.0.0.1:9/health
    expect_status: 200
    unit: s
    every: 30s
    timeout: 2s
  auth_error_ratio:
    title: Auth error ratio
    scrape: http://127.0.0.1:9/metrics
    metric: auth_error_ratio
    unit: "%"
    every: 30s
    timeout: 2s
  latency_p95:
    title: Response time p95
    scrape: http://127.0.0.1:9/metrics
    metric: http_request_duration_p95_seconds
    unit: s
    every: 30s
    timeout: 2s
stop_conditions:
  - id: auth_errors
    title: Auth errors above 1%
    check: auth_error_ratio
    when: "> 1%"
    for: 1m
    action: rollback
    decides: cto
  - id: health_down
    title: /health failing
    check: api_health
    for: 1m
    action: halt
    decides: commander
  - id: slow_p95
    title: Response time p95 above 1s
    check: latency_p95
    when: "> 1s"
    for: 30s
    action: warn
steps:
  - id: go_no_go
    title: Final go/no-go
    at: T-15m
    kind: go_no_go
    owner: commander
    items: [All gates green, Rollback rehearsed]
    gate: [api_health]
  - id: approve
    title: Approve production deploy
    at: T-5m
    kind: approval
    phrase: APPROVE PROD DEPLOY
    owner: cto
  - id: deploy
    title: Deploy backend
    at: T-0
    duration: 10m
    owner: sre
    items: [helm upgrade --install, run migrations]
    evidence: [helm history]
    gate: [api_health]
    watch: [auth_errors]
  - id: verify
    title: Production verification
    at: T+10m
    duration: 5m
    owner: commander
    items: [Login and RBAC, Invoice generation]
    evidence: required
  - id: load_test
    title: Load test in production
    at: T+15m
    owner: sre
rollback:
  - id: helm_rollback
    title: Roll back to the previous release
    duration: 5m
    owner: sre
  - id: verify_rollback
    title: Verify the old version serves
    at: T+5m
    owner: sre
    gate: [api_health]
scorecard:
  go: 90
  conditional: 80
  categories:
    - {id: security, title: Security, weight: 50}
    - {id: performance, title: Performance, weight: 50}
"""


def at(clock_time: str) -> datetime:
    """``"16:45:30"`` on the session's day, UTC."""
    hours, minutes, seconds = (int(part) for part in clock_time.split(":"))
    return START.replace(hour=hours, minute=minutes, second=seconds)


class Session:
    """Writes a session as the dashboard would: readings every 30 s, events at fixed instants."""

    def __init__(self, path: Path, runbook: Runbook) -> None:
        self.path = path
        self.runbook = runbook
        self.clock = ManualClock(START)
        self.log = SessionLog.create(path, runbook, operator="alice", clock=self.clock)
        self.polled = START
        self.values = {"api_health": 0.045, "auth_error_ratio": 0.002, "latency_p95": 0.18}

    def until(self, clock_time: str) -> None:
        """Poll every check each 30 s up to ``clock_time``, then move the clock there."""
        moment = at(clock_time)
        while self.polled + timedelta(seconds=30) <= moment:
            self.polled += timedelta(seconds=30)
            for check_id, value in self.values.items():
                outcome = Outcome.BREACH if value is None else Outcome.PASS
                reading = Reading(
                    check_id, outcome, value, "", 0.01, self.polled, 0.0, "" if value is not None else "HTTP 503"
                )
                self.log.record_reading(reading, [])
        self.clock.advance((moment - self.clock.now()).total_seconds())

    def event(self, clock_time: str, kind: str, actor: str | None = None, **payload: object) -> None:
        self.until(clock_time)
        self.log.append(kind, payload, actor=actor)

    def change(
        self, clock_time: str, condition: str, previous: str, state: str, value: float | None, reason: str
    ) -> None:
        threshold = self.runbook.condition(condition).when
        self.event(
            clock_time, "condition_changed", "system", condition=condition, state=state, previous=previous,
            value=value, threshold=threshold.text if threshold else "", reason=reason, breach_held=0.0, flapping=False,
        )  # fmt: skip

    def seen(self, **states: tuple[str, float | None]) -> dict[str, dict[str, object]]:
        """The conditions snapshot a decision carries."""
        return {
            c.id: {"state": states.get(c.id, ("ok", None))[0], "value": states.get(c.id, ("ok", None))[1],
                   "threshold": c.when.text if c.when else ""}
            for c in self.runbook.stop_conditions
        }  # fmt: skip


def write_fixed_session(path: Path) -> None:
    """A go-live that fires a rollback condition, is down for 5 minutes, and rolls back."""
    runbook = parse_runbook(RUNBOOK_YAML)
    s = Session(path, runbook)
    s.change("16:10:30", "auth_errors", "unknown", "ok", 0.002, "0.2% within > 1%")
    s.change("16:10:30", "health_down", "unknown", "ok", 0.045, "HTTP 200")
    s.change("16:10:30", "slow_p95", "unknown", "ok", 0.18, "180ms within > 1s")
    s.event("16:15:10", "step_started", step="go_no_go")
    s.event("16:15:20", "item_checked", step="go_no_go", item="all_gates_green", checked=True)
    s.event("16:15:25", "item_checked", step="go_no_go", item="rollback_rehearsed", checked=True)
    s.event(
        "16:16:00", "decision", step="go_no_go", decision="go", reason="all gates green, scorecard 95",
        scorecard={"scores": {"security": 100.0, "performance": 90.0}, "total": 95.0, "result": "GO"},
        conditions=s.seen(auth_errors=("ok", 0.002), health_down=("ok", 0.045), slow_p95=("ok", 0.18)),
        verdict="CONTINUE",
    )  # fmt: skip
    s.event("16:16:00", "step_completed", step="go_no_go", gate={"api_health": "pass"})
    s.event(
        "16:25:10", "decision", "carol", step="approve", decision="go", reason="approved", phrase="APPROVE PROD DEPLOY",
        conditions=s.seen(auth_errors=("ok", 0.002), health_down=("ok", 0.045), slow_p95=("ok", 0.18)), verdict="CONTINUE",
    )  # fmt: skip
    s.event("16:25:10", "step_completed", "carol", step="approve", gate={})
    s.event("16:29:00", "t0_set", t0="2026-12-01T16:32:00.000Z")
    s.event("16:32:30", "step_started", "bob", step="deploy")
    s.event("16:33:00", "item_checked", "bob", step="deploy", item="helm_upgrade_install", checked=True)
    s.event("16:38:00", "evidence_added", "bob", step="deploy", text="helm history: revision 42 deployed")
    s.values["api_health"] = None
    s.until("16:40:00")
    s.change("16:40:00", "health_down", "ok", "pending", None, "HTTP 503")
    s.values["api_health"] = 0.05
    s.until("16:40:30")
    s.change("16:40:30", "health_down", "pending", "ok", 0.05, "HTTP 200")
    s.event(
        "16:41:00", "step_completed", "bob", step="deploy", gate={"api_health": "breach"},
        override_reason="health blip during pod restart, verified by hand",
    )  # fmt: skip
    s.event("16:42:00", "step_started", step="verify")
    s.event("16:43:00", "item_checked", step="verify", item="login_and_rbac", checked=True)
    s.values.update(auth_error_ratio=0.024, latency_p95=0.7)
    s.until("16:45:00")
    s.change("16:45:00", "auth_errors", "ok", "pending", 0.024, "2.4% > 1%")
    s.values["auth_error_ratio"] = 0.041
    s.until("16:46:00")
    s.change("16:46:00", "auth_errors", "pending", "firing", 0.041, "4.1% > 1% for 1m")
    s.event("16:46:30", "condition_acknowledged", "bob", condition="auth_errors", reason="looking at auth pods")
    s.event(
        "16:47:30", "decision", "carol", step="verify", decision="hold", reason="investigating auth errors",
        conditions=s.seen(auth_errors=("firing", 0.041), health_down=("ok", 0.05), slow_p95=("ok", 0.7)),
        verdict="ROLLBACK",
    )  # fmt: skip
    s.event("16:48:00", "note", text="moving to the war room")
    s.log.close()
    s.clock.advance(300)  # the dashboard's laptop slept: 16:48 -> 16:53
    s.log = SessionLog.open(path, runbook, operator="alice", clock=s.clock)
    s.polled = s.clock.now()
    s.until("16:53:30")
    s.change("16:53:30", "health_down", "unknown", "ok", 0.045, "HTTP 200")
    s.change("16:53:30", "slow_p95", "unknown", "ok", 0.7, "700ms within > 1s")
    s.event(
        "16:54:00", "decision", "carol", step="verify", decision="rollback", reason="auth errors persist after the gap",
        conditions=s.seen(auth_errors=("firing", 0.038), health_down=("unknown", None), slow_p95=("unknown", None)),
        verdict="ROLLBACK",
    )  # fmt: skip
    s.event("16:54:05", "rollback_started", "carol", reason="auth errors persist after the gap")
    s.event("16:54:30", "step_failed", step="verify", reason="SSO tenants cannot log in")
    s.event("16:55:00", "step_skipped", "bob", step="load_test", reason="rolled back")
    s.event("16:55:00", "step_started", "bob", step="helm_rollback")
    s.event("16:58:00", "step_completed", "bob", step="helm_rollback", gate={})
    s.values.update(auth_error_ratio=0.003, latency_p95=0.19)
    s.until("16:59:00")
    s.change("16:59:00", "auth_errors", "firing", "recovering", 0.003, "0.3% within > 1%")
    s.change("17:00:00", "auth_errors", "recovering", "ok", 0.003, "0.3% within > 1%")
    s.event("17:01:00", "step_completed", "bob", step="verify_rollback", gate={"api_health": "pass"})
    s.event("17:02:00", "note", text="RCA ticket OPS-1234 opened", step="verify")
    s.event("17:03:00", "session_ended", outcome="rolled_back")
    s.log.close()
    # The host and version are where the session ran; fix them so the report is the same on every machine.
    connection = sqlite3.connect(path)
    connection.execute("UPDATE sessions SET host='ops-jump-1', tool_version='0.1.0'")
    connection.commit()
    connection.close()


@pytest.fixture(scope="module")
def fixed_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fixed") / "go-live.cutover.db"
    write_fixed_session(path)
    return path


@pytest.fixture
def log_copy(fixed_log: Path, tmp_path: Path) -> Path:
    """A private copy of the fixed log, to edit or write reports next to."""
    path = tmp_path / fixed_log.name
    shutil.copyfile(fixed_log, path)
    return path


@pytest.fixture(scope="module")
def report(fixed_log: Path) -> Report:
    return build_report(fixed_log, generated_at=GENERATED_AT)


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), (
        f"{path} differs; UPDATE_GOLDEN=1 rewrites it after a wanted change"
    )


def tamper(path: Path, statement: str) -> None:
    """Edit the log as someone with sqlite3 would: drop the append-only triggers first."""
    connection = sqlite3.connect(path)
    connection.execute("DROP TRIGGER events_append_only_update")
    connection.execute("DROP TRIGGER events_append_only_delete")
    connection.execute(statement)
    connection.commit()
    connection.close()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["report", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


class Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


# ----------------------------------------------------------------- content


def test_markdown_report_matches_golden(report: Report) -> None:
    """The Markdown release evidence of the fixed session is exactly the reviewed golden file."""
    assert_golden("report.md", render(report, "md"))


def test_json_report_matches_golden(report: Report) -> None:
    """The JSON report of the fixed session is exactly the reviewed golden file, keys in the model's order."""
    text = render(report, "json")
    assert_golden("report.json", text)
    data = json.loads(text)
    assert list(data) == [
        "report_version", "generated_at", "session", "integrity", "summary", "steps", "rollback_steps",
        "decisions", "conditions", "gaps", "notes", "broke_it", "what_if",
    ]  # fmt: skip


def test_header_names_runbook_commander_t0_outcome_and_duration(report: Report) -> None:
    """The header: runbook and sha256, commander and actors, planned and live T0, logged outcome, duration."""
    session = report.session
    assert session.runbook_name == "Payments go-live"
    assert session.runbook_sha256 == parse_runbook(RUNBOOK_YAML).sha256
    assert (session.commander, session.actors) == ("alice", ("alice", "carol", "bob"))
    assert session.planned_t0 == at("16:30:00") and session.actual_t0 == at("16:32:00")
    assert (session.outcome, session.outcome_source) == ("rolled_back", "session_ended")
    assert (session.started_at, session.ended_at, session.duration_seconds) == (at("16:10:00"), at("17:03:00"), 3180.0)


def test_timeline_gives_planned_actual_drift_and_pass_fail_with_evidence(report: Report) -> None:
    """Each step: planned from the live T0, actual start and end, drift, PASS/FAIL/SKIPPED, items, evidence, override."""
    steps = {s.id: s for s in report.steps}
    deploy = steps["deploy"]
    assert (deploy.planned_start, deploy.planned_end) == (at("16:32:00"), at("16:42:00"))
    assert (deploy.started_at, deploy.ended_at, deploy.drift_seconds, deploy.end_drift_seconds) == (
        at("16:32:30"), at("16:41:00"), 30.0, -60.0,
    )  # fmt: skip
    assert deploy.result == "PASS" and deploy.gate_overridden and deploy.gate == {"api_health": "breach"}
    assert [(i.text, i.checked) for i in deploy.items] == [("helm upgrade --install", True), ("run migrations", False)]
    assert deploy.evidence == ("helm history: revision 42 deployed",) and deploy.owner_title == "Release engineer"
    assert (steps["verify"].result, steps["verify"].reason) == ("FAIL", "SSO tenants cannot log in")
    assert (steps["load_test"].result, steps["load_test"].reason) == ("SKIPPED", "rolled back")
    assert [(s.id, s.result, s.planned_start) for s in report.rollback_steps] == [
        ("helm_rollback", "PASS", at("16:54:05")), ("verify_rollback", "PASS", at("16:59:05")),
    ]  # fmt: skip
    assert report.summary.results == {
        "PASS": 3,
        "FAIL": 1,
        "SKIPPED": 1,
        "IN PROGRESS": 0,
        "NOT RUN": 0,
        "ABANDONED": 0,
    }
    assert report.summary.gate_overrides == ("deploy",) and report.summary.missing_evidence == ()


def test_decisions_carry_scorecard_and_the_condition_values_frozen_then(report: Report) -> None:
    """Each decision: who, what, why, the scorecard, and every condition's state and value at that instant."""
    go, approval, hold, rollback = report.decisions
    assert go.scorecard is not None and (go.scorecard.total, go.scorecard.result) == (95.0, "GO")
    assert [(s.title, s.weight, s.score) for s in go.scorecard.scores] == [
        ("Security", 50.0, 100.0),
        ("Performance", 50.0, 90.0),
    ]
    assert approval.phrase == "APPROVE PROD DEPLOY" and approval.actor == "carol"
    assert (hold.decision, hold.verdict, hold.ts) == ("hold", "ROLLBACK", at("16:47:30"))
    frozen = {c.id: (c.state, c.value, c.unit) for c in hold.conditions}
    assert frozen["auth_errors"] == ("firing", 0.041, "%") and frozen["slow_p95"] == ("ok", 0.7, "s")
    assert rollback.decision == "rollback"


def test_stop_condition_history_time_in_state_peak_and_time_to_decision(report: Report) -> None:
    """A condition: time in each state (the gap apart), first breach, peak, and the first decision after it fired."""
    auth = report.conditions[0]
    assert auth.id == "auth_errors" and auth.final_state == "ok"
    assert auth.first_breach is not None and (auth.first_breach.ts, auth.first_breach.value) == (at("16:45:00"), 0.024)
    assert auth.peak is not None and auth.peak.value == 0.041
    assert auth.seconds_unwatched == 300.0
    assert auth.seconds_in_state == {
        "ok": 2070.0 + 180.0,
        "pending": 60.0,
        "firing": 480.0,
        "recovering": 60.0,
        "unknown": 30.0,
    }
    (episode,) = auth.episodes
    assert (episode.fired_at, episode.ended_at) == (at("16:46:00"), at("17:00:00"))
    assert (episode.decision, episode.decided_by, episode.seconds_to_decision) == ("hold", "carol", 90.0)
    assert auth.chart.firing == ((at("16:46:00"), at("16:48:00")), (at("16:53:00"), at("16:59:00")))
    assert [(a.actor, a.reason) for a in auth.acknowledgements] == [("bob", "looking at auth pods")]
    slow = report.conditions[2]
    assert slow.first_breach is None and slow.episodes == () and slow.peak is not None and slow.peak.value == 0.7


def test_gaps_where_the_dashboard_was_down(report: Report) -> None:
    """A resume after 5 minutes shows as a gap, and the charts have no values inside it."""
    (gap,) = report.gaps
    assert (gap.start, gap.end, gap.seconds) == (at("16:48:00"), at("16:53:00"), 300.0)
    inside = [p for p in report.conditions[0].chart.points if gap.start < p[0] < gap.end]
    assert inside == [] or all(value is None for _, value in inside)
    held_to = [p for p in report.conditions[0].chart.points if p[1] is None]
    assert any(gap.start <= ts <= gap.end for ts, _ in held_to), "the line is broken across the gap"


def test_a_resume_with_the_clock_behind_the_log_is_a_gap_of_unknown_length(tmp_path: Path) -> None:
    """A resume whose wall clock read before the last write is a gap the report cannot measure: unknown, not 0s."""
    clock = ManualClock(START)
    path = tmp_path / "stepped.cutover.db"
    with SessionLog.create(path, parse_runbook(RUNBOOK_YAML), operator="alice", clock=clock) as log:
        log.append("note", {"text": "before the step"})
    clock.jump_wall(-3600)
    with SessionLog.open(path, parse_runbook(RUNBOOK_YAML), operator="alice", clock=clock):
        pass
    report = build_report(path)
    (gap,) = report.gaps
    assert gap.seconds is None and report.summary.seconds_down == 0
    markdown = render(report, "md")
    assert "Dashboard down: 1 gap of unknown length." in markdown
    assert f"| {START:%H:%M:%S} | {START:%H:%M:%S} | unknown: the wall clock read before the last write |" in markdown


def test_markdown_says_pass_fail_and_intact(report: Report) -> None:
    """The Markdown names each result and ends with the verify result."""
    text = render(report, "md")
    row = (
        "| Deploy backend | Release engineer | T-0 16:32:00 → 16:42:00 | 16:32:30 → 16:41:00 | +30s, end -1m "
        "| ✔ PASS (1 of 2 items unticked — no reason given, by bob) |"
    )
    assert row in text
    assert "Gate overridden: health blip during pod restart, verified by hand" in text
    assert f"✔ intact: {report.integrity.events} events and {report.integrity.readings} readings verified" in text
    assert (
        f"head seq {report.integrity.head_seq} sha256 {report.integrity.head_hash}" in text and "TAMPERED" not in text
    )


# ----------------------------------------------------------------- HTML


def test_html_is_one_self_contained_page_with_a_chart_per_condition(report: Report) -> None:
    """The HTML parses, has inline CSS with print rules, one SVG per stop condition, and loads nothing."""
    page = render(report, "html")
    parser = Tags()
    parser.feed(page)
    parser.close()
    tags = [tag for tag, _ in parser.tags]
    assert tags.count("svg") == len(report.conditions) == 3
    assert "script" not in tags and "link" not in tags and "img" not in tags and "iframe" not in tags
    assert all("src" not in attrs and not (attrs.get("href") or "").startswith("http") for _, attrs in parser.tags)
    assert tags.count("style") == 1 and "@media print" in page
    svg_paths = [attrs for tag, attrs in parser.tags if tag == "path" and attrs.get("class") == "series"]
    assert len(svg_paths) == 3
    thresholds = [attrs for tag, attrs in parser.tags if tag == "line" and attrs.get("class") == "threshold"]
    firing = [attrs for tag, attrs in parser.tags if tag == "rect" and attrs.get("class") == "firing"]
    assert len(thresholds) == 2 and len(firing) == 2  # health_down has no threshold; auth_errors fired across the gap


def test_html_escapes_operator_text(tmp_path: Path) -> None:
    """Text typed by operators is shown, never interpreted, in HTML and Markdown."""
    path = tmp_path / "escape.cutover.db"
    with SessionLog.create(path, parse_runbook(RUNBOOK_YAML), operator="alice") as log:
        log.append("note", {"text": "<script>alert(1)</script> | <img src=x>"})
    report = build_report(path)
    page = render(report, "html")
    parser = Tags()
    parser.feed(page)
    assert not {"script", "img"} & {tag for tag, _ in parser.tags}
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    markdown = render(report, "md")
    assert "&lt;script>" in markdown and "\\| &lt;img" in markdown


# ----------------------------------------------------------------- tampering and outcomes


def test_report_of_a_tampered_log_says_tampered_and_names_the_seq(
    log_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Editing a decision's payload with sqlite3 is reported first, as TAMPERED with the seq; exit 1."""
    seq = (
        sqlite3.connect(log_copy)
        .execute("SELECT seq FROM events WHERE kind='decision' ORDER BY seq DESC")
        .fetchone()[0]
    )
    tamper(log_copy, f"""UPDATE events SET payload=json_set(payload, '$.decision', 'go') WHERE seq={seq}""")
    out = log_copy.with_name("tampered.md")
    status, stdout, stderr = run_cli(capsys, str(log_copy), "-o", str(out))
    text = out.read_text()
    assert status == 1 and f"TAMPERED: seq {seq}" in stderr and str(out) in stdout
    first_section = text.split("## Go/no-go summary")[0]
    assert f"> **✖ TAMPERED: seq {seq}: edited" in first_section
    assert "not evidence of what happened" in first_section
    page = render(build_report(log_copy), "html")
    assert page.index(f"TAMPERED: seq {seq}") < page.index("<h2>")
    assert json.loads(render(build_report(log_copy), "json"))["integrity"] == {
        "intact": False, "events": 59, "bad_seq": seq, "reason": "edited: the row's contents do not match its hash",
        "runbook_intact": True, "readings": 0, "head_seq": 0, "head_hash": "",
    }  # fmt: skip


def test_an_edited_runbook_text_is_reported_as_tampered(log_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The runbook in the unchained sessions row must hash to the sha256 the events recorded, else TAMPERED."""
    connection = sqlite3.connect(log_copy)
    connection.execute("UPDATE sessions SET runbook_text=replace(runbook_text, 'at: T+10m', 'at: T+20m')")
    connection.commit()
    connection.close()
    status, stdout, stderr = run_cli(capsys, str(log_copy), "-o", "-")
    assert status == 1 and "TAMPERED" in stderr and "the runbook text in the sessions table does not match" in stderr
    assert stdout.startswith("# Cutover report: Payments go-live\n\n> **✖ TAMPERED: edited: the runbook text")


def test_outcome_is_inferred_without_session_ended(tmp_path: Path) -> None:
    """No session_ended: all steps done or skipped is completed; a rollback is rolled back; else not ended."""
    runbook = parse_runbook(RUNBOOK_YAML)
    outcomes = {}
    for name, events in {
        "done": [("step_completed", {"step": s.id, "gate": {}}) for s in runbook.steps[:-1]]
        + [("step_skipped", {"step": "load_test", "reason": "not needed"})],
        "rolled": [("rollback_started", {"reason": "errors"})],
        "open": [("step_started", {"step": "go_no_go"})],
    }.items():
        path = tmp_path / f"{name}.cutover.db"
        with SessionLog.create(path, runbook, operator="alice") as log:
            for kind, payload in events:
                log.append(kind, payload)
        session = build_report(path).session
        outcomes[name] = (session.outcome, session.outcome_source)
    assert outcomes == {
        "done": ("completed", "inferred"), "rolled": ("rolled_back", "inferred"), "open": ("unfinished", "inferred"),
    }  # fmt: skip


def test_times_are_shown_in_the_runbook_time_zone(tmp_path: Path) -> None:
    """A runbook with a time zone gets its report's times in that zone; JSON stays UTC."""
    runbook = parse_runbook(
        RUNBOOK_YAML.replace("t0: 2026-12-01T16:30:00Z", "t0: 2026-12-01T22:00:00+05:30\ntimezone: Asia/Kolkata")
    )
    path = tmp_path / "ist.cutover.db"
    with SessionLog.create(path, runbook, operator="alice", clock=ManualClock(START)) as log:
        log.append("note", {"text": "hello"})
    report = build_report(path)
    assert "| Planned T0 | 2026-12-01 22:00:00 IST |" in render(report, "md")
    assert json.loads(render(report, "json"))["session"]["planned_t0"] == "2026-12-01T16:30:00.000Z"


def test_chart_of_many_readings_is_bounded_and_keeps_the_peak(tmp_path: Path) -> None:
    """Thousands of stored readings draw a bounded number of chart points, the peak among them."""
    runbook = parse_runbook(RUNBOOK_YAML)
    clock = ManualClock(START)
    path = tmp_path / "long.cutover.db"
    with SessionLog.create(path, runbook, operator="alice", clock=clock) as log:
        for n in range(6000):
            moment = START + timedelta(seconds=30 * n)
            value = 0.5 if n == 4321 else 0.002 * (1 + n % 7)  # every reading moves by more than the tolerance
            log.record_reading(Reading("auth_error_ratio", Outcome.PASS, value, "%", 0.01, moment, 0.0), [])
        clock.advance(30 * 6000)
        log.append("note", {"text": "end"})
    auth = build_report(path).conditions[0]
    assert auth.readings == 6000 and auth.peak is not None and auth.peak.value == 0.5
    assert len(auth.chart.points) <= 4 * 321 and (auth.peak.ts, 0.5) in auth.chart.points


# ----------------------------------------------------------------- the command


def test_default_output_is_named_after_the_session_and_time(log_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without -o the Markdown report lands next to the log as <session>-report-<UTC time>.md, and its path is printed."""
    status, stdout, _ = run_cli(capsys, str(log_copy))
    written = [p for p in log_copy.parent.iterdir() if p.name.startswith("go-live-report-")]
    assert status == 0 and len(written) == 1
    assert re.fullmatch(r"go-live-report-\d{8}T\d{6}Z\.md", written[0].name)
    assert stdout == f"report written to {written[0]}\n"
    assert written[0].read_text().startswith("# Cutover report: Payments go-live\n")


def test_format_follows_the_extension_or_the_flag(log_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """-o page.html writes HTML; --format json -o - writes JSON to standard output only."""
    page = log_copy.with_name("page.html")
    assert run_cli(capsys, str(log_copy), "-o", str(page))[0] == 0
    assert page.read_text().startswith("<!DOCTYPE html>")
    status, stdout, stderr = run_cli(capsys, str(log_copy), "-o", "-", "--format", "json")
    assert status == 0 and stderr == "" and json.loads(stdout)["session"]["outcome"] == "rolled_back"
    status, stdout, _ = run_cli(capsys, str(log_copy), "-o", "-")
    assert stdout.startswith("# Cutover report")


def test_not_a_session_log_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing file, a text file and a SQLite file without the session tables exit 2 with a reason."""
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 100)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    for path in (tmp_path / "missing.cutover.db", text, other):
        status, stdout, stderr = run_cli(capsys, str(path))
        assert status == 2 and stdout == "" and ("not a session log" in stderr or "no such session log" in stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "other.db"]
