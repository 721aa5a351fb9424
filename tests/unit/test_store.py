"""The session log file: schema, durability rules, one writer, resume, retention."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlite_utils

from canned_server import CannedServer
from checks.clock import ManualClock
from checks.reading import Outcome
from checks.status import ConditionState
from crash_writer import T0, make_runbook, reading, status
from cutover_tui.store import (
    GENESIS_HASH,
    NotASessionLog,
    RunbookChanged,
    SessionLocked,
    SessionLog,
    event_hash,
)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "go-live.cutover.db"


def test_new_file_and_its_wal_are_private(db: Path) -> None:
    """The session file, its -wal and -shm are created mode 0600, and no lock file beside them."""
    log = SessionLog.create(db, make_runbook(), operator="alice")
    log.append("note", {"text": "hello"})
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in db.parent.iterdir() if p.name.startswith(db.name)}
    log.close()
    assert set(modes) >= {db.name, db.name + "-wal", db.name + "-shm"}
    assert not any(name.endswith(".lock") for name in modes)
    assert set(modes.values()) == {0o600}


def test_sessions_row_records_the_runbook_and_who_ran_it(db: Path) -> None:
    """The sessions row holds the runbook text, sha256, planned T0, host, operator and version."""
    runbook = make_runbook()
    with SessionLog.create(db, runbook, operator="alice", rehearsal=True) as log:
        log.append("t0_set", {"t0": T0 + timedelta(minutes=3)})
        info = log.info()
    assert (info.runbook_name, info.runbook_text, info.runbook_sha256) == (runbook.name, runbook.text, runbook.sha256)
    assert info.planned_t0 == T0 and info.actual_t0 == T0 + timedelta(minutes=3)
    assert info.operator == "alice" and info.host and info.tool_version and info.rehearsal
    assert info.head_seq == 2


def test_create_refuses_an_existing_file(db: Path) -> None:
    """create never adopts an existing file; open resumes it."""
    db.write_text("not mine")
    with pytest.raises(FileExistsError):
        SessionLog.create(db, make_runbook(), operator="alice")
    assert db.read_text() == "not mine"


def test_events_are_hash_chained_and_read_back_as_written(db: Path) -> None:
    """Each event's hash covers the previous hash and its canonical JSON; reads return the stored payload."""
    with SessionLog.create(db, make_runbook(), operator="alice") as log:
        record = log.append("decision", {"decision": "go", "reason": "all green", "value": float("nan")}, actor="bob")
        events = log.events()
    assert [e.kind for e in events] == ["session_started", "decision"]
    assert events[0].prev_hash == GENESIS_HASH and events[1].prev_hash == events[0].hash
    assert events[1] == record and record.actor == "bob" and record.payload["value"] is None
    ts = events[1].ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{events[1].ts.microsecond // 1000:03d}Z"
    assert record.hash == event_hash(record.prev_hash, 2, ts, "decision", "bob", record.payload)


def test_unknown_event_kind_is_refused(db: Path) -> None:
    """Only the documented event kinds can be appended."""
    with SessionLog.create(db, make_runbook(), operator="alice") as log:
        with pytest.raises(ValueError, match="unknown event kind"):
            log.append("step_teleported", {})
        assert len(log.events()) == 1


def test_events_table_refuses_update_and_delete(db: Path) -> None:
    """The events table is append-only: UPDATE and DELETE abort."""
    SessionLog.create(db, make_runbook(), operator="alice").close()
    connection = sqlite3.connect(db)
    for sql in ("UPDATE events SET actor='mallory'", "DELETE FROM events"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            connection.execute(sql)
    connection.close()


def test_sqlite_utils_opens_the_file_and_reads_the_schema(db: Path) -> None:
    """A reviewer can open the log with sqlite-utils and query events as JSON without our code."""
    with SessionLog.create(db, make_runbook(), operator="alice") as log:
        log.append("decision", {"decision": "go", "reason": "green"})
    reviewer = sqlite_utils.Database(db)
    assert {"sessions", "events", "ticks", "runbook_versions"} <= set(reviewer.table_names())
    rows = list(reviewer.query("SELECT json_extract(payload, '$.decision') AS d FROM events WHERE kind='decision'"))
    assert rows == [{"d": "go"}]
    reviewer.close()


def test_sqlite_utils_reads_the_keys_indexes_and_defaults_of_a_new_log(db: Path) -> None:
    """The tables are created in plain SQL, and sqlite-utils sees the keys, references, indexes and defaults they declare."""
    SessionLog.create(db, make_runbook(), operator="alice").close()
    reviewer = sqlite_utils.Database(db)
    ticks = reviewer["ticks"]
    assert ticks.pks == ["id"] and reviewer["events"].pks == ["seq"] and reviewer["runbook_versions"].pks == ["sha256"]
    assert {(fk.column, fk.other_table, fk.other_column) for fk in ticks.foreign_keys} == {
        ("check_ref", "checks", "id"), ("outcome_code", "outcomes", "code")}  # fmt: skip
    assert {tuple(index.columns) for index in ticks.indexes} == {("check_ref", "ts_ms")}
    assert [(index.columns, index.unique) for index in reviewer["checks"].indexes] == [(["name"], 1)]
    assert ticks.default_values == {"degraded": 0, "detail": ""}
    assert [row["name"] for row in reviewer["outcomes"].rows] == ["pass", "breach", "nodata", "invalid", "error"]
    assert set(reviewer.view_names()) == {"readings"} and len(reviewer.triggers) == 2
    reviewer.close()


def test_second_writer_process_is_refused_and_pointed_to_follow(db: Path) -> None:
    """A second process opening the same file to write gets a message naming the holder and `follow`."""
    log = SessionLog.create(db, make_runbook(), operator="alice")
    code = (
        "import sys; sys.path.insert(0, 'tests')\n"
        "from crash_writer import make_runbook\n"
        "from cutover_tui.store import SessionLog, SessionLocked\n"
        f"try: SessionLog.open({str(db)!r}, make_runbook(), operator='bob')\n"
        "except SessionLocked as e: print(e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=Path(__file__).parents[2]
    )
    log.close()
    assert f"pid {os.getpid()}" in result.stdout
    assert f"cutover-tui follow {db}" in result.stdout


def test_lock_is_released_on_close_so_the_session_can_resume(db: Path) -> None:
    """After close another writer may open the file; while open, a second open in-process is refused."""
    log = SessionLog.create(db, make_runbook(), operator="alice")
    with pytest.raises(SessionLocked):
        SessionLog.open(db, make_runbook(), operator="bob")
    log.close()
    SessionLog.open(db, make_runbook(), operator="bob").close()


def test_readonly_reader_sees_new_events_while_the_writer_runs(db: Path) -> None:
    """open_readonly reads a live file (WAL) and sees each event once committed."""
    log = SessionLog.create(db, make_runbook(), operator="alice")
    reader = SessionLog.open_readonly(db)
    seen = reader.events()
    log.append("note", {"text": "one"})
    log.append("note", {"text": "two"})
    new = reader.events(after_seq=seen[-1].seq)
    assert [e.payload["text"] for e in new] == ["one", "two"]
    with pytest.raises(PermissionError):
        reader.append("note", {"text": "three"})
    reader.close()
    log.close()


def test_reader_in_another_process_follows_a_running_writer(db: Path) -> None:
    """While a writer process appends, a read-only reader here sees the log grow, and verifies it."""
    writer = subprocess.Popen(
        [sys.executable, str(Path(__file__).parents[1] / "crash_writer.py"), str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert writer.stdout is not None and writer.stdout.readline().startswith("ack ")
        reader = SessionLog.open_readonly(db)
        first = reader.events(seals=True)
        for _ in range(50):  # the writer appends thousands a second; a few reads suffice
            writer.stdout.readline()
        later = reader.events(after_seq=first[-1].seq, seals=True)
        result = reader.verify()
        reader.close()
    finally:
        writer.kill()
        writer.wait(timeout=30)
        if writer.stdout is not None:
            writer.stdout.close()
    assert later and later[0].seq == first[-1].seq + 1 and later[0].prev_hash == first[-1].hash
    assert result.ok


def test_non_session_files_are_named_as_such(tmp_path: Path) -> None:
    """Opening a missing file, a text file or a foreign SQLite file raises NotASessionLog."""
    text = tmp_path / "notes.txt"
    text.write_text("hello " * 200)
    foreign = tmp_path / "other.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.close()
    for path in (tmp_path / "missing.db", text, foreign):
        with pytest.raises(NotASessionLog, match="not a session log|no such session log"):
            SessionLog.open_readonly(path)


def test_resuming_a_foreign_file_leaves_it_untouched(tmp_path: Path) -> None:
    """open() on an empty or foreign file refuses it without writing to it."""
    empty = tmp_path / "empty.cutover.db"
    empty.touch()
    with pytest.raises(NotASessionLog):
        SessionLog.open(empty, make_runbook(), operator="alice")
    assert empty.stat().st_size == 0 and not Path(f"{empty}-wal").exists()


def test_resume_logs_the_gap_since_the_last_write(db: Path) -> None:
    """open() on an existing file appends session_resumed with the gap since the last event or tick."""
    clock = ManualClock(T0)
    log = SessionLog.create(db, make_runbook(), operator="alice", clock=clock)
    log.record_reading(reading("auth_error_ratio", 0.002, T0 + timedelta(seconds=20)))
    log.close()
    clock.advance(320)
    resumed = SessionLog.open(db, make_runbook(), operator="bob", clock=clock)
    last = resumed.events()[-1]
    resumed.close()
    assert last.kind == "session_resumed" and last.actor == "bob"
    assert last.payload == {
        "gap_seconds": 300.0,
        "last_write_ts": "2026-12-01T16:30:20.000Z",
        "accepted_runbook_change": False,
        "last_tick_id": 1,  # the one reading written before the resume: readings after it are newer, whatever their time
    }


def test_an_event_dated_while_the_wall_clock_is_behind_the_log_says_by_how_much(db: Path) -> None:
    """After the wall clock steps back, an event keeps the log's order (the last event's time) and records how far behind the clock read."""
    clock = ManualClock(T0)
    with SessionLog.create(db, make_runbook(), operator="alice", clock=clock) as log:
        log.append("note", {"text": "before the step"})
        clock.jump_wall(-7200)
        clock.advance(5)
        behind = log.append("note", {"text": "after the step"})
        clock.jump_wall(7200)
        caught_up = log.append("note", {"text": "clock caught up"})
        events = log.events()
    assert behind.ts == events[-3].ts == T0
    assert behind.payload == {"text": "after the step", "clock_behind_by": 7195.0}
    assert caught_up.ts == T0 + timedelta(seconds=5) and caught_up.payload == {"text": "clock caught up"}
    assert [e.payload for e in events[-2:]] == [behind.payload, caught_up.payload]


def test_resume_with_the_clock_behind_the_last_write_does_not_claim_a_gap(db: Path) -> None:
    """A resume whose wall clock reads before the last write logs the gap as unknown, and how far behind the clock was."""
    clock = ManualClock(T0)
    log = SessionLog.create(db, make_runbook(), operator="alice", clock=clock)
    log.record_reading(reading("auth_error_ratio", 0.002, T0 + timedelta(seconds=20)))
    log.close()
    clock.jump_wall(-3600)
    resumed = SessionLog.open(db, make_runbook(), operator="bob", clock=clock)
    last = resumed.events()[-1]
    resumed.close()
    assert last.kind == "session_resumed"
    assert last.payload == {
        "gap_seconds": None,
        "last_write_ts": "2026-12-01T16:30:20.000Z",
        "accepted_runbook_change": False,
        "last_tick_id": 1,
        "clock_behind_by": 3600.0,
    }


def test_resume_with_a_changed_runbook_is_refused_naming_both_hashes(db: Path) -> None:
    """A runbook whose sha256 differs is refused with both hashes named, and nothing is written."""
    old, new = make_runbook(), make_runbook(note="# edited\n")
    SessionLog.create(db, old, operator="alice").close()
    with pytest.raises(RunbookChanged) as refused:
        SessionLog.open(db, new, operator="alice")
    assert old.sha256 in str(refused.value) and new.sha256 in str(refused.value)
    with SessionLog.open_readonly(db) as reader:
        assert [e.kind for e in reader.events()] == ["session_started"]


def test_accepted_runbook_change_is_logged_and_both_texts_kept(db: Path) -> None:
    """accept_runbook_change resumes, logs runbook_changed, and keeps the old text in runbook_versions."""
    old, new = make_runbook(), make_runbook(note="# edited\n")
    SessionLog.create(db, old, operator="alice").close()
    with SessionLog.open(db, new, operator="alice", accept_runbook_change=True) as log:
        events = log.events()
        info = log.info()
    assert [e.kind for e in events] == ["session_started", "session_resumed", "runbook_changed"]
    assert events[1].payload["accepted_runbook_change"] is True
    assert events[2].payload == {"old_sha256": old.sha256, "new_sha256": new.sha256}
    assert info.runbook_sha256 == new.sha256 and info.runbook_text == new.text
    versions = {r["sha256"]: r["text"] for r in sqlite_utils.Database(db)["runbook_versions"].rows}
    assert versions == {old.sha256: old.text, new.sha256: new.text}


def test_retention_keeps_changes_tolerance_breaks_and_keyframes(db: Path) -> None:
    """Readings are kept on outcome/state change, beyond the tolerance, and every 120 s; the rest are dropped."""
    log = SessionLog.create(db, make_runbook(), operator="alice")
    at = lambda s: T0 + timedelta(seconds=s)  # noqa: E731
    ok, pending = ConditionState.OK, ConditionState.PENDING
    script = [
        (0, 0.0020, Outcome.PASS, ok, True),  # first reading
        (5, 0.0020, Outcome.PASS, ok, False),  # same value
        (10, 0.0021, Outcome.PASS, ok, False),  # 0.01 points: within 2% of the 1% threshold
        (15, 0.0023, Outcome.PASS, ok, True),  # 0.03 points: beyond it
        (20, 0.0023, Outcome.BREACH, ok, True),  # outcome changed
        (25, 0.0023, Outcome.BREACH, pending, True),  # condition state changed
        (30, 0.0023, Outcome.BREACH, pending, False),
        (145, 0.0023, Outcome.BREACH, pending, True),  # keyframe: 120 s since the last kept
        (150, None, Outcome.NODATA, pending, True),
        (155, None, Outcome.NODATA, pending, False),
        (160, None, Outcome.ERROR, pending, True),
    ]
    kept = [
        log.record_reading(reading("auth_error_ratio", v, at(s), outcome), [status("auth_errors", state, at(s))])
        is not None
        for s, v, outcome, state, _ in script
    ]
    log.close()
    assert kept == [expected for *_, expected in script]
    with SessionLog.open_readonly(db) as reader:
        assert [t.ts for t in reader.ticks()] == [at(s) for s, *_, keep in script if keep]


def test_http_latency_jitter_is_not_news_but_a_status_change_is(db: Path) -> None:
    """Float measurements in extra (an HTTP latency) do not keep a reading; a new status code does."""
    log = SessionLog.create(db, make_runbook(), operator="alice")
    kept = [
        log.record_reading(reading("api_health", 0.0, T0 + timedelta(seconds=5 * n), status=code, latency=latency))
        is not None
        for n, (code, latency) in enumerate([(200, 0.021), (200, 0.034), (200, 0.019), (204, 0.020)])
    ]
    log.close()
    assert kept == [True, False, False, True]


def test_alert_lists_are_kept_as_json_in_extra(db: Path) -> None:
    """A reading's extra (the alerts lists) is stored as JSON and read back, and a new alert set is news."""
    log = SessionLog.create(db, make_runbook(), operator="alice")
    alert = {"name": "HighErrorRate", "severity": "critical", "summary": "5xx above 2%"}
    log.record_reading(reading("critical_alerts", 0, T0, active=[], suppressed=[]))
    tick = log.record_reading(reading("critical_alerts", 0, T0 + timedelta(seconds=15), active=[alert], suppressed=[]))
    log.close()
    assert tick is not None
    with SessionLog.open_readonly(db) as reader:
        ticks = list(reader.ticks(check="critical_alerts"))
        raw = sqlite_utils.Database(db).execute("SELECT extra FROM ticks ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert ticks[-1].extra == {"active": [alert], "suppressed": []}
    assert json.loads(raw)["active"][0]["name"] == "HighErrorRate"


def test_ticks_reach_the_file_within_a_second_without_any_event(db: Path) -> None:
    """The writer thread flushes batched ticks at least every second."""
    log = SessionLog.create(db, make_runbook(), operator="alice")
    log.record_reading(reading("auth_error_ratio", 0.002, T0))
    reader = SessionLog.open_readonly(db)
    deadline = time.monotonic() + 5
    while not list(reader.ticks()) and time.monotonic() < deadline:
        time.sleep(0.05)
    waited = 5 - (deadline - time.monotonic())
    count = len(list(reader.ticks()))
    reader.close()
    log.close()
    assert count == 1 and waited < 3


def test_latest_ticks_returns_the_last_n_per_check(db: Path) -> None:
    """latest_ticks gives each check's last N ticks up to an instant, in time order."""
    log = SessionLog.create(db, make_runbook(), operator="alice")
    for i in range(10):
        log.record_reading(reading("auth_error_ratio", 0.001 * i, T0 + timedelta(seconds=5 * i)))
        log.record_reading(reading("api_health", 200 + 10 * i, T0 + timedelta(seconds=5 * i, milliseconds=1)))
    log.close()
    with SessionLog.open_readonly(db) as reader:
        latest = reader.latest_ticks(until=T0 + timedelta(seconds=30), per_check=3)
    assert [(t.check_id, t.value) for t in latest] == [
        ("api_health", 230), ("auth_error_ratio", 0.004), ("api_health", 240),
        ("auth_error_ratio", 0.005), ("api_health", 250), ("auth_error_ratio", 0.006),
    ]  # fmt: skip


def test_appends_from_several_threads_keep_one_unbroken_chain(db: Path) -> None:
    """Concurrent append() calls from worker threads get distinct seqs and a valid chain."""
    from concurrent.futures import ThreadPoolExecutor

    log = SessionLog.create(db, make_runbook(), operator="alice")
    with ThreadPoolExecutor(4) as pool:
        seqs = list(pool.map(lambda i: log.append("note", {"text": str(i)}).seq, range(200)))
    result = log.verify()
    log.close()
    assert sorted(seqs) == list(range(2, 202))
    assert result.ok and result.events == 201


async def test_tokens_from_the_environment_never_reach_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, canned_server: CannedServer
) -> None:
    """A session polling with a bearer token from the environment leaves no byte of it in the db, wal or shm."""
    from checks.probes import ProbeContext, run_probe
    from runbooks.loader import parse_runbook

    token = "fake-" + secrets.token_hex(16)
    monkeypatch.setenv("CUTOVER_TEST_TOKEN", token)
    canned_server.respond(b'{"ok": 1}', where=lambda r: r.headers.get("authorization") == f"Bearer {token}")
    canned_server.respond(b"", status=401, where=lambda r: r.headers.get("authorization") != f"Bearer {token}")
    # A proxy in front of Prometheus that quotes the header it refused, in plain text.
    canned_server.respond(f"upstream refused Bearer {token}\n", status=500, content_type="text/plain",
                          where=lambda r: r.path.startswith("/api/"))  # fmt: skip
    base = canned_server.url
    runbook = parse_runbook(
        f"""
name: Secret handling
roles: {{commander: Incident commander}}
sources:
  prometheus: {{kind: prometheus, url: "{base}", token_env: CUTOVER_TEST_TOKEN}}
checks:
  api_health:
    http: {base}/health
    headers: {{Authorization: "Bearer ${{CUTOVER_TEST_TOKEN}}"}}
    json_path: ok
    every: 5s
    timeout: 2s
  error_ratio: {{promql: "sum(rate(errors[5m]))", every: 5s, timeout: 2s}}
stop_conditions:
  - {{id: api_down, check: api_health, action: halt, decides: commander}}
steps:
  - {{title: Deploy, at: T-0, gate: [api_health]}}
""",
        "secret.yaml",
    )
    db = tmp_path / "secret.cutover.db"
    log = SessionLog.create(db, runbook, operator="alice")
    ctx = ProbeContext(runbook)
    try:
        for _ in range(3):
            for check in runbook.checks.values():
                polled = await run_probe(check, ctx)
                log.record_reading(polled)
                log.append("note", {"text": f"{polled.check_id}: {polled.outcome} {polled.detail}"})
    finally:
        await ctx.aclose()
    health, error_ratio = (list(log.ticks(check=c)) for c in ("api_health", "error_ratio"))
    log.append(
        "decision", {"decision": "hold", "reason": f"prometheus says: {error_ratio[-1].detail}", "conditions": {}}
    )
    log.flush_ticks()
    files = [p for p in tmp_path.iterdir() if p.name.startswith(db.name)]
    while_open = {p.name: p.read_bytes() for p in files}
    log.close()
    after_close = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(db.name)}
    assert {r.headers.get("authorization") for r in canned_server.requests} == {f"Bearer {token}"}  # it was used
    assert health[-1].outcome == "pass" and error_ratio[-1].outcome == "error"
    assert "${CUTOVER_TEST_TOKEN}" in error_ratio[-1].detail  # the quoting proxy's echo was redacted
    assert {db.name, db.name + "-wal"} <= set(while_open)
    for name, content in (*while_open.items(), *after_close.items()):
        assert token.encode() not in content, f"the token leaked into {name}"


# ----------------------------------------------------------------- one writer per file, whatever its name


def _try_second_writer(path: Path) -> str:
    """Open ``path`` to write from another process; what it printed (the refusal, or "opened")."""
    code = (
        "import sys; sys.path.insert(0, 'tests')\n"
        "from crash_writer import make_runbook\n"
        "from cutover_tui.store import SessionLog, SessionLocked\n"
        f"try: SessionLog.open({str(path)!r}, make_runbook(), operator='bob').close(); print('opened')\n"
        "except SessionLocked as e: print(e)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                          cwd=Path(__file__).parents[2]).stdout  # fmt: skip


@pytest.mark.parametrize("spelling", ["symlink", "hard link", "another spelling"])
def test_second_writer_by_another_name_is_refused(db: Path, tmp_path: Path, spelling: str) -> None:
    """A symlink, a hard link or another spelling of the path reaches the same lock: refused, no false resume."""
    other = tmp_path / "elsewhere"
    other.mkdir()
    if spelling == "symlink":
        name = other / "link.cutover.db"
        name.symlink_to(db)
    elif spelling == "hard link":
        name = other / "hard.cutover.db"
    else:
        name = tmp_path / "elsewhere" / ".." / "." / db.name
    log = SessionLog.create(db, make_runbook(), operator="alice")
    if spelling == "hard link":
        os.link(db, name)
    try:
        refusal = _try_second_writer(name)
    finally:
        log.close()
    assert f"is being written by pid {os.getpid()}" in refusal, refusal
    with SessionLog.open_readonly(db) as reader:
        assert [e.kind for e in reader.events()] == ["session_started"]  # no session_resumed from the refused writer
    assert _try_second_writer(name).strip() == "opened"  # released on close


def test_broken_chain_is_refused_on_resume_unless_accepted(db: Path) -> None:
    """Resuming a log whose chain fails names the first bad seq; accepted, it is logged and verify keeps saying so."""
    from cutover_tui.store import BrokenChain

    with SessionLog.create(db, make_runbook(), operator="alice") as log:
        for n in range(4):
            log.append("note", {"text": f"note {n}"})
    connection = sqlite3.connect(db)
    connection.execute("DROP TRIGGER events_append_only_update")
    connection.execute("""UPDATE events SET payload='{"text":"rewritten"}' WHERE seq=3""")
    connection.commit()
    connection.close()
    with pytest.raises(BrokenChain, match=r"seq 3: edited.*--accept-broken-chain"):
        SessionLog.open(db, make_runbook(), operator="bob")
    with SessionLog.open_readonly(db) as reader:
        assert len(reader.events()) == 5  # nothing written by the refused resume
    with SessionLog.open(db, make_runbook(), operator="bob", accept_broken_chain=True) as log:
        log.append("note", {"text": "carried on"})
    with SessionLog.open_readonly(db) as reader:
        accepted = [e for e in reader.events() if e.kind == "chain_break_accepted"]
        result = reader.verify()
    assert accepted and accepted[0].payload["bad_seq"] == 3 and accepted[0].actor == "bob"
    assert not result.ok and result.bad_seq == 3


def test_a_deleted_tail_accepted_on_resume_still_fails_verify(db: Path) -> None:
    """Cutting the tail and resuming with --accept-broken-chain does not launder the cut: verify names it."""
    with SessionLog.create(db, make_runbook(), operator="alice") as log:
        for n in range(4):
            log.append("note", {"text": f"note {n}"})
    connection = sqlite3.connect(db)
    connection.execute("DROP TRIGGER events_append_only_delete")
    connection.execute("DELETE FROM events WHERE seq = 5")
    connection.commit()
    connection.close()
    SessionLog.open(db, make_runbook(), operator="bob", accept_broken_chain=True).close()
    with SessionLog.open_readonly(db) as reader:
        result = reader.verify()
    assert not result.ok and result.bad_seq == 5 and "deleted" in result.reason and "accepted" in result.reason


def _cli(*args: object, privileged: bool = True) -> subprocess.CompletedProcess[str]:
    """Run cutover-tui; ``privileged=False`` drops root's power to ignore file permissions, as a user is refused."""
    argv = [sys.executable, "-m", "cutover_tui", *map(str, args)]
    if not privileged and os.geteuid() == 0:
        argv = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.fixture
def runbook_file(tmp_path: Path) -> Path:
    path = tmp_path / "rb.yaml"
    path.write_text("name: Places\nchecks:\n  up: {http: 'http://127.0.0.1:9/', every: 5s}\n", encoding="utf-8")
    return path


def test_missing_folder_is_one_line_naming_the_database(runbook_file: Path, tmp_path: Path) -> None:
    """run --db in a folder that does not exist: one line naming the database (not a lock file), exit 2."""
    db = tmp_path / "no" / "such" / "go.cutover.db"
    done = _cli("run", runbook_file, "--db", db)
    assert (
        done.returncode == 2
        and done.stderr.strip()
        == f"cutover-tui run: {db}: cannot create the session log: the folder {db.parent} does not exist"
    )


@pytest.mark.slow
def test_read_only_folder_and_permission_denied_are_one_line(runbook_file: Path, tmp_path: Path) -> None:
    """A folder that refuses writes, and a log file that refuses the user: one line naming the database, exit 2."""
    folder = tmp_path / "locked"
    folder.mkdir()
    db = folder / "go.cutover.db"
    folder.chmod(0o555)
    try:
        done = _cli("run", runbook_file, "--db", db, privileged=False)
    finally:
        folder.chmod(0o755)
    assert (
        done.returncode == 2
        and done.stderr.strip() == f"cutover-tui run: {db}: cannot create the session log: permission denied"
    )
    SessionLog.create(db, make_runbook(), operator="alice").close()
    db.chmod(0o000)
    try:
        for args in (["run", runbook_file, "--db", db], ["verify", db], ["report", db, "-o", "-"], ["replay", db]):
            done = _cli(*args, privileged=False)
            assert done.returncode == 2, (args, done.stderr)
            assert len(done.stderr.splitlines()) == 1 and str(db) in done.stderr and ".lock" not in done.stderr, (
                args,
                done.stderr,
            )
            assert "Traceback" not in done.stderr and "permission denied" in done.stderr, (args, done.stderr)
    finally:
        db.chmod(0o600)


def test_readings_are_stored_as_numbers_and_the_readings_view_spells_them_out(db: Path) -> None:
    """Schema 2 stores a check number, integer ms and an outcome code; `readings` shows each reading as ticks() reads it."""
    from checks.reading import Reading

    log = SessionLog.create(db, make_runbook(), operator="alice")
    at = T0 + timedelta(milliseconds=123)
    log.record_reading(Reading("auth_error_ratio", Outcome.PASS, 0.004, "%", 0.02, at, 0.0))
    log.record_reading(
        Reading("api_health", Outcome.ERROR, None, "s", 4.0, at, 0.0, detail="timed out after 4s", degraded=True)
    )
    log.record_reading(Reading("auth_error_ratio", Outcome.BREACH, 0.03, "ratio", 0.02, at + timedelta(seconds=5), 5.0))
    log.record_reading(reading("critical_alerts", 1.0, at, active=[{"name": "A"}]))
    log.close()
    reviewer = sqlite_utils.Database(db)
    assert {"checks", "outcomes", "ticks"} <= set(reviewer.table_names()) and "readings" in reviewer.view_names()
    assert [tuple(r) for r in reviewer.execute("SELECT id, name, unit FROM checks ORDER BY id")] == [
        (1, "auth_error_ratio", "%"), (2, "api_health", "s"), (3, "critical_alerts", ""),
    ]  # fmt: skip
    raw = reviewer.execute("SELECT check_ref, ts_ms, outcome_code, unit FROM ticks ORDER BY id").fetchall()
    assert raw == [
        (1, 1796142600123, 0, None),
        (2, 1796142600123, 4, None),
        (1, 1796142605123, 1, "ratio"),
        (3, 1796142600123, 0, None),
    ]
    assert {fk.column: fk.other_table for fk in reviewer["ticks"].foreign_keys} == {
        "check_ref": "checks",
        "outcome_code": "outcomes",
    }
    shown = [
        tuple(r)
        for r in reviewer.execute(
            "SELECT ts, check_id, outcome, value, unit, degraded, detail, extra FROM readings ORDER BY id"
        )
    ]
    reviewer.close()
    with SessionLog.open_readonly(db) as reader:
        assert reader.schema_version == 2
        ticks = sorted(reader.ticks(), key=lambda t: (t.ts, t.check_id))
    assert shown == [
        ("2026-12-01T16:30:00.123Z", "auth_error_ratio", "pass", 0.004, "%", 0, "", None),
        ("2026-12-01T16:30:00.123Z", "api_health", "error", None, "s", 1, "timed out after 4s", None),
        ("2026-12-01T16:30:05.123Z", "auth_error_ratio", "breach", 0.03, "ratio", 0, "", None),
        ("2026-12-01T16:30:00.123Z", "critical_alerts", "pass", 1.0, "", 0, "", '{"active":[{"name":"A"}]}'),
    ]
    assert [(t.check_id, t.ts, t.outcome, t.value, t.unit, t.degraded, t.detail, dict(t.extra)) for t in ticks] == [
        ("api_health", at, "error", None, "s", True, "timed out after 4s", {}),
        ("auth_error_ratio", at, "pass", 0.004, "%", False, "", {}),
        ("critical_alerts", at, "pass", 1.0, "", False, "", {"active": [{"name": "A"}]}),
        ("auth_error_ratio", at + timedelta(seconds=5), "breach", 0.03, "ratio", False, "", {}),
    ]


def test_a_check_first_stored_by_a_batch_that_failed_is_registered_by_the_retry(small_disk) -> None:
    """A batch whose write fails (disk full) registers no check; the retry writes the check's row with its readings."""
    path = small_disk.path / "full.cutover.db"
    log = SessionLog.create(path, make_runbook(), operator="alice")
    small_disk.fill()
    log.record_reading(reading("auth_error_ratio", 0.002, T0))
    with pytest.raises(sqlite3.Error):
        log.flush_ticks()
    small_disk.free()
    assert log.flush_ticks() == 1
    log.close()
    with SessionLog.open_readonly(path) as reader:
        assert [t.check_id for t in reader.ticks()] == ["auth_error_ratio"]
        assert reader.verify().ok
