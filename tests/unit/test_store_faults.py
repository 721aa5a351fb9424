"""The session log under a failing disk and a dead writer: nothing acknowledged is lost, failures are loud."""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest

from checks.clock import ManualClock
from checks.reading import Outcome
from checks.status import ConditionState, Verdict
from crash_writer import T0, make_runbook, reading, status
from cutover_tui.live import FollowBackend
from cutover_tui.store import CannotWrite, SessionLog, describe_write_error


def test_a_full_disk_fails_the_append_and_says_so(small_disk) -> None:
    """With the disk full, append raises, nothing is half-written, and write_health says "disk full" until a write succeeds."""
    db = small_disk.path / "go-live.cutover.db"
    log = SessionLog.create(db, make_runbook(), operator="alice")
    log.append("note", {"text": "before"})
    small_disk.fill()
    with pytest.raises(sqlite3.Error):
        log.append("note", {"text": "x" * 200_000})
    health = log.write_health
    assert not health.ok and health.error == "disk full" and health.failing_since is not None
    small_disk.free()
    record = log.append("note", {"text": "after"})
    assert log.write_health.ok
    assert record.seq == 3
    log.close()
    with SessionLog.open_readonly(db) as reader:
        assert [e.payload.get("text") for e in reader.events()] == [None, "before", "after"]
        assert reader.verify().ok


@pytest.mark.parametrize("free_kib", [0, 16])
def test_a_new_log_on_a_full_disk_is_refused_as_a_full_disk_not_a_read_only_one(small_disk, free_kib) -> None:
    """With a few KiB left SQLite says "disk I/O error" (its shared memory cannot grow): the one line still says the disk is full."""
    small_disk.fill(leave=free_kib * 1024)
    db = small_disk.path / "go-live.cutover.db"
    with pytest.raises(CannotWrite) as refused:
        SessionLog.create(db, make_runbook(), operator="alice")
    message = str(refused.value)
    assert message.startswith(f"{db}: ")
    assert "the disk is full" in message and "read-only" not in message


def test_ticks_whose_write_failed_are_written_once_the_disk_recovers(small_disk) -> None:
    """A flush that fails keeps its ticks pending, in order; the next flush after space returns writes them all."""
    db = small_disk.path / "go-live.cutover.db"
    clock = ManualClock(T0)
    log = SessionLog.create(db, make_runbook(), operator="alice", clock=clock)
    small_disk.fill()
    kept = []
    for second in range(5):
        clock.advance(1)
        outcome = Outcome.BREACH if second % 2 else Outcome.PASS
        tick = log.record_reading(
            reading("api_health", float(second), clock.now(), outcome),
            [status("api_down", ConditionState.OK, clock.now())],
        )
        kept.append(tick)
        with pytest.raises(sqlite3.Error):
            log.flush_ticks(heartbeat=True)
    assert all(tick is not None for tick in kept)
    small_disk.free()
    assert log.flush_ticks() == 5
    log.close()
    with SessionLog.open_readonly(db) as reader:
        assert [t.value for t in reader.ticks()] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_an_event_held_while_the_disk_was_full_keeps_its_original_time(tmp_path: Path) -> None:
    """append(ts=...) writes an event with the time it happened, never before the last event (time order is seq order)."""
    clock = ManualClock(T0)
    log = SessionLog.create(tmp_path / "s.cutover.db", make_runbook(), operator="alice", clock=clock)
    clock.advance(60)
    held = log.append("note", {"text": "held"}, ts=T0 + timedelta(seconds=30))
    too_early = log.append("note", {"text": "earlier than the last"}, ts=T0 - timedelta(hours=1))
    log.close()
    assert held.ts == T0 + timedelta(seconds=30)
    assert too_early.ts == held.ts


@pytest.mark.slow
def test_the_writer_stamps_a_heartbeat_every_second(tmp_path: Path) -> None:
    """While a writer runs, sessions.heartbeat_at moves about once a second, even with nothing to write."""
    db = tmp_path / "s.cutover.db"
    log = SessionLog.create(db, make_runbook(), operator="alice")
    reader = SessionLog.open_readonly(db)
    try:
        deadline = time.monotonic() + 5
        seen = set()
        while time.monotonic() < deadline and len(seen) < 3:
            beat = reader.heartbeat_at()
            if beat is not None:
                seen.add(beat)
            time.sleep(0.2)
        assert len(seen) >= 3
    finally:
        log.close()
        reader.close()


@pytest.mark.slow
def test_resume_measures_the_gap_from_the_heartbeat_not_the_last_tick(tmp_path: Path) -> None:
    """The gap a resumed session logs is the real downtime: from the writer's last heartbeat, not its last stored tick."""
    db = tmp_path / "s.cutover.db"
    log = SessionLog.create(db, make_runbook(), operator="alice")
    time.sleep(2.5)  # heartbeats, but no event and no tick
    log.close()
    before_resume = time.monotonic()
    time.sleep(1.0)
    log = SessionLog.open(db, make_runbook(), operator="alice")
    down = time.monotonic() - before_resume
    resumed = log.events()[-1]
    log.close()
    assert resumed.kind == "session_resumed"
    assert resumed.payload["gap_seconds"] < down + 1.5, "measured from the last heartbeat, not from session_started"


def test_write_errors_read_as_words() -> None:
    """SQLite's messages become what a commander can act on."""
    assert describe_write_error(sqlite3.OperationalError("database or disk is full")) == "disk full"
    assert describe_write_error(sqlite3.OperationalError("disk I/O error")) == "disk I/O error"
    assert (
        describe_write_error(sqlite3.OperationalError("attempt to write a readonly database"))
        == "the file became read-only"
    )


@pytest.mark.parametrize("how", ["rm", "mv"])
def test_a_log_removed_under_its_writer_is_copied_beside_and_nothing_more_is_acknowledged(tmp_path: Path, how) -> None:
    """`rm` (a /tmp cleaner) or `mv` of the log while its writer runs: what it goes on writing reaches no file anyone
    can read, and is lost when it exits. The next write fails and says so, a copy of every event written so far goes
    beside the path, and nothing is acknowledged (nor heartbeat stamped) until the file is back. The copy never goes
    at the path itself, where the writer's connection still has its `-wal` and `-shm` by name."""
    db = tmp_path / "go-live.cutover.db"
    log = SessionLog.create(db, make_runbook(), operator="alice")
    log.append("decision", {"decision": "go", "reason": "before"})
    log.flush_ticks(heartbeat=True)
    if how == "rm":
        db.unlink()
    else:
        db.rename(tmp_path / "elsewhere.cutover.db")
    with pytest.raises(sqlite3.Error, match="removed"):
        log.append("decision", {"decision": "continue", "reason": "after"})
    with pytest.raises(sqlite3.Error):
        log.flush_ticks(heartbeat=True)
    health = log.write_health
    copy = tmp_path / "go-live-rescued.cutover.db"
    assert not health.ok and health.failing_since is not None
    assert "the log file was removed" in health.error and f"--db {copy}" in health.error
    assert not db.exists()
    with SessionLog.open_readonly(copy) as reader:  # everything acknowledged before the removal
        assert [e.payload.get("reason") for e in reader.events() if e.kind == "decision"] == ["before"]
        assert reader.verify().ok
    # No process writes the copy: `status` or a follower of it says so at once, not after its last heartbeat (copied
    # from the log a moment ago) is 5 s old (CONTINUE until then).
    copy_view = FollowBackend(copy, make_runbook()).state()
    assert copy_view.writer_stopped_at is not None and copy_view.verdict is Verdict.CANNOT_VERIFY
    log.close()
    resumed = SessionLog.open(copy, make_runbook(), operator="alice")  # the copy resumes as the log
    resumed.append("decision", {"decision": "continue", "reason": "resumed"})
    resumed.close()
    with SessionLog.open_readonly(copy) as reader:
        assert [e.payload.get("reason") for e in reader.events() if e.kind == "decision"] == ["before", "resumed"]
        assert reader.verify().ok


def test_a_log_replaced_under_its_writer_is_left_alone_and_copied_beside_it(tmp_path: Path) -> None:
    """Another file now has the log's name: the writer writes neither to it nor to the file nobody can find; the copy
    of what was written goes beside it, and a file already there is never overwritten."""
    db = tmp_path / "go-live.cutover.db"
    log = SessionLog.create(db, make_runbook(), operator="alice")
    log.append("note", {"text": "before"})
    db.unlink()
    db.write_bytes(b"someone else's file")
    with pytest.raises(sqlite3.Error, match="replaced"):
        log.append("note", {"text": "after"})
    assert db.read_bytes() == b"someone else's file"
    rescued = tmp_path / "go-live-rescued.cutover.db"
    assert str(rescued) in log.write_health.error
    with SessionLog.open_readonly(rescued) as reader:
        assert [e.payload.get("text") for e in reader.events() if e.kind == "note"] == ["before"]
    log.close()


def test_a_log_moved_back_under_its_writer_is_written_again(tmp_path: Path) -> None:
    """`mv` away and back again: the writer's own file is in place once more, and writes resume in it."""
    db = tmp_path / "go-live.cutover.db"
    log = SessionLog.create(db, make_runbook(), operator="alice")
    away = tmp_path / "away.cutover.db"
    db.rename(away)
    with pytest.raises(sqlite3.Error):
        log.append("note", {"text": "while away"})
    away.rename(db)
    log.append("note", {"text": "back"})
    assert log.write_health.ok
    log.close()
    with SessionLog.open_readonly(db) as reader:
        assert [e.payload.get("text") for e in reader.events() if e.kind == "note"] == ["back"]


def test_a_log_whose_folder_was_removed_says_no_copy_could_be_written(tmp_path: Path) -> None:
    """`rm -rf` of the log's folder: nowhere to put a copy back; the failure says so, and never claims a copy."""
    import shutil

    folder = tmp_path / "session"
    folder.mkdir()
    log = SessionLog.create(folder / "go-live.cutover.db", make_runbook(), operator="alice")
    shutil.rmtree(folder)
    with pytest.raises(sqlite3.Error):
        log.append("note", {"text": "after"})
    error = log.write_health.error
    assert "the log file was removed" in error and "no copy could be written" in error
    assert "a copy of everything written" not in error
    log.close()
