"""Crash safety: a writer killed with SIGKILL at random instants loses no acknowledged event."""

from __future__ import annotations

import os
import random
from datetime import datetime, timezone
from pathlib import Path

import pytest

from checks.status import Verdict
from crash_writer import make_runbook, run_and_kill
from cutover_tui.live import FollowBackend
from cutover_tui.reducer import Reducer, reduce_events
from cutover_tui.store import SessionLog, verify_file

WRITER = Path(__file__).parents[1] / "crash_writer.py"
TRIALS = 24


@pytest.mark.slow
def test_sigkill_at_random_instants_loses_no_acknowledged_event(tmp_path: Path) -> None:
    """Over 24 kills: every acked decision is in the file, the chain verifies, and each restart resumes at once."""
    db = tmp_path / "crash.cutover.db"
    seed = int.from_bytes(os.urandom(4), "big")
    chance = random.Random(seed)
    acked: list[int] = []
    for _ in range(TRIALS):
        acked += run_and_kill(db, delay=chance.uniform(0.0, 0.4))
    result = verify_file(db)
    assert result.ok, f"seed {seed}: {result}"
    with SessionLog.open_readonly(db) as reader:
        events = {e.seq: e for e in reader.events()}
        ticks = list(reader.ticks())
    missing = [seq for seq in acked if seq not in events or events[seq].kind != "decision"]
    assert not missing, f"seed {seed}: acknowledged but lost: {missing[:10]}"
    assert len(acked) > TRIALS  # it really was killed mid-stream, many times
    assert sum(1 for e in events.values() if e.kind == "session_resumed") == TRIALS - 1
    assert ticks, "readings recorded before the kills reached the file"


def test_resumed_session_folds_to_the_same_state_as_reading_it(tmp_path: Path) -> None:
    """After a kill, the resuming writer's incremental state equals a read-only fold of the same file."""
    db = tmp_path / "crash.cutover.db"
    run_and_kill(db, delay=0.2)
    runbook = make_runbook()
    with SessionLog.open_readonly(db) as reader:
        before = reduce_events(runbook, reader.events(), reader.latest_ticks())
    writer = SessionLog.open(db, runbook, operator="bob")
    live = Reducer(runbook)
    for event in writer.events():
        live.apply(event)
    for tick in writer.latest_ticks(per_check=live.ticks_kept):
        live.apply_tick(tick)
    resumed_seq = writer.events()[-1].seq
    assert reduce_events(runbook, writer.events()[:-1], writer.latest_ticks()) == before
    live.apply(writer.append("note", {"text": "back"}))
    with SessionLog.open_readonly(db) as reader:
        replayed = reduce_events(runbook, reader.events(), reader.latest_ticks())
    writer.close()
    assert live.state() == replayed
    assert replayed.last_event_seq == resumed_seq + 1 and len(replayed.gaps) == 1


def test_a_reader_opened_after_its_writer_on_this_machine_was_killed_sees_it_stopped_at_once(tmp_path: Path) -> None:
    """`status` (or a follower) opened a moment after `kill -9` of a writer on this machine: its heartbeat is under 5 s
    old, which from a writer on another host would be a live one (CONTINUE for up to 5 s). The writer wrote that its
    lock can be seen from this boot and PID namespace, and no process holds it: WRITER STOPPED, CANNOT VERIFY."""
    db = tmp_path / "crash.cutover.db"
    run_and_kill(db, delay=0.0)
    with SessionLog.open_readonly(db) as reader:
        beat = reader.heartbeat_at()
        assert beat is not None and (datetime.now(timezone.utc) - beat).total_seconds() < 5
    view = FollowBackend(db, make_runbook()).state()
    assert view.writer_stopped_at is not None and view.verdict is Verdict.CANNOT_VERIFY
    assert view.banners[0].text.startswith("WRITER STOPPED"), view.banners[0].text
    resumed = SessionLog.open(db, make_runbook(), operator="bob")  # a writer here again: not stopped
    try:
        assert FollowBackend(db, make_runbook()).state().writer_stopped_at is None
    finally:
        resumed.close()
