"""`cutover-tui status FILE`: five lines for the incident channel, from the log alone, read-only."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from test_verify import read_only_media  # noqa: F401 - the fixture: a folder on a read-only file system

from checks.clock import ManualClock
from cutover_tui.store import SessionLog
from runbooks.loader import parse_runbook

RUNBOOK = """\
name: Status go-live
roles: {commander: Commander, cto: CTO}
checks:
  api_health: {http: "http://127.0.0.1:9/health", every: 5s}
  auth_error_ratio: {http: "http://127.0.0.1:9/auth", every: 5s, unit: "%"}
  api_error_ratio: {http: "http://127.0.0.1:9/api", every: 5s, unit: "%"}
stop_conditions:
  - {id: auth_errors, check: auth_error_ratio, when: "> 1%", for: 1m, action: rollback, decides: cto}
  - {id: api_errors, check: api_error_ratio, when: "> 1%", for: 1m, action: halt, decides: commander}
steps:
  - {id: deploy, title: Production deploy, at: T-0, duration: 10m, owner: commander, watch: [auth_errors]}
  - {id: verify, title: Production verification, at: T+10m, owner: commander}
"""


def condition(log: SessionLog, name: str, previous: str, state: str, value: float, reason: str) -> None:
    log.append("condition_changed", {
        "condition": name, "state": state, "previous": previous, "value": value, "threshold": "> 1%",
        "reason": reason, "breach_held": 0.0, "flapping": False,
    }, actor="system")  # fmt: skip


def write_session(path: Path, *, alive: bool = True, clock: ManualClock | None = None) -> SessionLog:
    """T-0 five minutes ago, deploy started 2 min late, auth_errors firing, a HOLD by carol; the writer's heartbeat now."""
    now = datetime.now(timezone.utc)
    clock = clock or ManualClock()
    clock.advance((now - timedelta(minutes=6) - clock.now()).total_seconds())
    log = SessionLog.create(path, parse_runbook(RUNBOOK), operator="alice", clock=clock)
    log.append("t0_set", {"t0": (now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")})
    clock.advance(180)
    log.append("step_started", {"step": "deploy"}, actor="bob")
    condition(log, "auth_errors", "unknown", "ok", 0.002, "0.2%, not > 1%")
    condition(log, "api_errors", "unknown", "ok", 0.001, "0.1%, not > 1%")
    clock.advance(30)
    condition(log, "auth_errors", "ok", "pending", 0.024, "2.4% > 1%")
    clock.advance(60)
    condition(log, "auth_errors", "pending", "firing", 0.041, "4.1% > 1% for 1m")
    clock.advance(30)
    log.append("decision", {"decision": "hold", "reason": "investigating auth errors", "step": "deploy",
                            "conditions": {}, "verdict": "ROLLBACK"}, actor="carol")  # fmt: skip
    clock.advance(60)
    if alive:
        log.flush_ticks(heartbeat=True)
    return log


def status(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cutover_tui", "status", *map(str, args)],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip


def test_five_lines_verdict_clock_step_conditions_decision_head(tmp_path: Path) -> None:
    """Five lines: ROLLBACK and why, T+5m, the step late by 2m, the firing condition with value, the HOLD by carol, the head."""
    db = tmp_path / "s.cutover.db"
    log = write_session(db)
    try:
        done = status(db)
        head_seq, head_sha = log.head
    finally:
        log.close()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 5, done.stdout
    assert lines[0].startswith("ROLLBACK — auth_errors") and "T+00:05:0" in lines[0] and "Status go-live" in lines[0]
    assert re.fullmatch(r"Step: Production deploy \(active, started 2m late\) · next: Production verification, "
                        r"due in (4m5\ds|5m)", lines[1]), lines[1]  # fmt: skip
    assert lines[2].startswith("Conditions: FIRING auth_errors 4.1% (threshold > 1%) ROLLBACK → cto"), lines[2]
    assert "api_errors" not in lines[2]
    assert (
        lines[3].startswith("Last decision: HOLD by carol at ") and "on deploy: investigating auth errors" in lines[3]
    )
    assert lines[4] == f"Log head: seq {head_seq} sha256 {head_sha} · writer running"


def test_a_decision_dated_ahead_of_this_clock_says_so_not_just_now(tmp_path: Path) -> None:
    """A writer whose clock ran 10 minutes ahead dated its decision then: `status` said "(just now)" beside a time
    10 minutes from now. It says how far ahead of this machine's clock the decision is dated."""
    db = tmp_path / "s.cutover.db"
    clock = ManualClock()
    log = write_session(db, clock=clock)
    try:
        clock.advance(600)
        log.append("decision", {"decision": "continue", "reason": "errors back to 0.2%", "step": "deploy",
                                "conditions": {}, "verdict": "CONTINUE"}, actor="carol")  # fmt: skip
        done = status(db)
    finally:
        log.close()
    line = done.stdout.splitlines()[3]
    assert line.startswith("Last decision: CONTINUE by carol at "), line
    assert re.search(r"\(dated (9m5\ds|10m) ahead of this clock\)", line) and "just now" not in line, line


def test_the_decision_line_names_who_decided_and_who_typed_it(tmp_path: Path) -> None:
    """A ROLLBACK the CTO decided, typed by the commander at the keyboard: `status` said "ROLLBACK by root", the typist.
    It names the decider as the dashboard's log does, and the typist beside; the JSON keeps both."""
    db = tmp_path / "s.cutover.db"
    log = write_session(db)
    try:
        log.append("decision", {"decision": "rollback", "reason": "auth errors 4%", "step": "deploy", "conditions": {},
                                "verdict": "ROLLBACK", "decided_by": "cto"}, actor="root")  # fmt: skip
        done, as_json = status(db), status(db, "--format", "json")
    finally:
        log.close()
    line = done.stdout.splitlines()[3]
    assert line.startswith("Last decision: ROLLBACK by CTO (typed by root) at "), line  # roles: {cto: CTO}
    decision = json.loads(as_json.stdout)["decision"]
    assert (decision["actor"], decision["decided_by"]) == ("root", "CTO")


def test_a_writer_gone_silent_is_cannot_verify_and_says_when_last_seen(tmp_path: Path) -> None:
    """No heartbeat: the firing rollback stays on top, every condition is blind, and the log line says the writer stopped."""
    db = tmp_path / "s.cutover.db"
    write_session(db, alive=False).close()
    done = status(db)
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and len(lines) == 5, done.stderr
    assert lines[0].startswith("ROLLBACK — auth_errors stale after firing"), lines[0]
    assert "2 blind: auth_errors, api_errors" in lines[2], lines[2]
    assert "writer stopped, last seen" in lines[4], lines[4]


def test_markdown_bolds_the_labels_and_breaks_lines(tmp_path: Path) -> None:
    """Markdown: the verdict line bold, each label bold, a hard line break between lines, underscores escaped."""
    db = tmp_path / "s.cutover.db"
    write_session(db).close()
    done = status(db, "--format", "markdown")
    lines = done.stdout.rstrip("\n").split("  \n")
    assert done.returncode == 0 and len(lines) == 5, done.stdout
    assert lines[0].startswith("**") and lines[0].endswith("**") and "auth\\_errors" in lines[0]
    assert [line.split(":**")[0] for line in lines[1:]] == ["**Step", "**Conditions", "**Last decision", "**Log head"]


def test_json_carries_the_facts_and_the_lines(tmp_path: Path) -> None:
    """JSON: verdict, firing condition with value and action, last decision with who and when, head, and the five lines."""
    db = tmp_path / "s.cutover.db"
    log = write_session(db)
    head_seq, head_sha = log.head
    try:
        done = status(db, "--format", "json")  # while its writer runs (closed, on this machine, it has stopped)
    finally:
        log.close()
    data = json.loads(done.stdout)
    assert data["verdict"] == "ROLLBACK" and data["reasons"][0].startswith("auth_errors")
    (firing,) = data["firing"]
    assert (
        firing["condition"] == "auth_errors"
        and firing["value"] == pytest.approx(0.041)
        and firing["action"] == "rollback"
    )
    assert (
        data["decision"]["decision"] == "hold"
        and data["decision"]["actor"] == "carol"
        and data["decision"]["ts"].endswith("Z")
    )
    assert (data["head_seq"], data["head_sha256"]) == (head_seq, head_sha)
    assert data["step"]["id"] == "deploy" and data["step"]["drift_seconds"] == pytest.approx(120, abs=1)
    assert len(data["lines"]) == 5 and data["writer"] == "running"


def test_reads_an_archived_log_on_read_only_media(tmp_path: Path, read_only_media) -> None:  # noqa: F811
    """An archived, ended session on a read-only file system: status reads it and names the outcome."""
    db = tmp_path / "s.cutover.db"
    log = write_session(db)
    log.append("session_ended", {"outcome": "abandoned", "reason": "quit"})
    log.close()
    (archived,) = read_only_media(db)
    done = status(archived)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[4].endswith("session ended (abandoned)")


def test_status_never_writes_the_log(tmp_path: Path) -> None:
    """Reading the status changes neither the file nor its modification time, and makes no -wal beside a closed log."""
    db = tmp_path / "s.cutover.db"
    write_session(db).close()
    before = (db.read_bytes(), os.stat(db).st_mtime_ns)
    assert status(db).returncode == 0
    assert (db.read_bytes(), os.stat(db).st_mtime_ns) == before


def test_not_a_session_log_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A file that is not a session log: exit 2, one line naming it, no traceback."""
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    done = status(bogus)
    assert done.returncode == 2 and "Traceback" not in done.stderr and str(bogus) in done.stderr


def test_a_follower_started_after_a_backward_clock_step_reads_the_newest_reading_written(tmp_path: Path) -> None:
    """The writer's clock ran an hour ahead, then stepped back, and its health check began to fail: a follower (and
    status) opened then finds, beside each check's latest stamped reading, those written after it, so it shows the
    failure, not the old pass stamped later nor "stamped ahead of the clock"."""
    from checks.reading import Outcome
    from crash_writer import T0, make_runbook, reading
    from cutover_tui.live import FollowBackend

    runbook = make_runbook()
    db = tmp_path / "stepped.cutover.db"
    with SessionLog.create(db, runbook, operator="ic", clock=ManualClock(T0)) as log:
        for second in range(80):  # an hour ahead: more readings than a follower keeps of a check
            log.record_reading(reading("api_health", 0.01 + second / 100, T0 + timedelta(seconds=3600 + second)))
        for second in range(5):  # the clock stepped back; the service fails
            log.record_reading(reading("api_health", 0.02, T0 + timedelta(seconds=10 + second), Outcome.BREACH))
        log.flush_ticks()
    follower = FollowBackend(db, runbook, clock=ManualClock(T0 + timedelta(seconds=15)))
    try:
        health = follower.state().checks["api_health"]
        assert (health.outcome, health.value) == ("breach", 0.02)  # stale: its writer is gone
    finally:
        asyncio.run(follower.stop())
