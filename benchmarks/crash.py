"""Crash safety: SIGKILL a writing session at random instants, then check what survived.

Method: ``tests/crash_writer.py`` (run as a script) resumes one session log
and appends decisions and readings as fast as it can, printing ``ack SEQ``
once each decision is committed. Each trial starts it, lets it write for a
random 0-400 ms after its first ack, and kills it with SIGKILL. Then:

- lost: acknowledged decisions missing from the file (goal 0);
- resume mismatches: trials where resuming the file (``SessionLog.open`` and
  the incremental ``Reducer``, as ``cutover-tui run`` does) folds to another
  state than a read-only fold of the same file (``reduce_events``) before
  the resume (goal 0);
- chain breaks: trials after which ``verify`` fails (goal 0).
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import tempfile
from pathlib import Path

from benchmarks.common import Figure, Result
from cutover_tui.reducer import Reducer, reduce_events
from cutover_tui.store import SessionLog, verify_file

WRITER = Path(__file__).resolve().parent.parent / "tests" / "crash_writer.py"
FIGURES = ("trials", "acked_decisions", "acked_lost", "resume_mismatches", "chain_breaks")


def crash_writer():
    """The tests' crash writer script as a module: its ``make_runbook`` and ``run_and_kill``."""
    spec = importlib.util.spec_from_file_location("crash_writer", WRITER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def resume_matches(db: Path, runbook) -> bool:
    """Whether resuming folds to the state a read-only fold of the file gives (the resume event aside)."""
    with SessionLog.open_readonly(db) as reader:
        before = reduce_events(runbook, reader.events(), reader.latest_ticks())
    writer = SessionLog.open(db, runbook, operator="bench")
    try:
        events = writer.events()
        resumed = Reducer(runbook)
        for event in events[:-1]:  # the last is this resume's session_resumed
            resumed.apply(event)
        for tick in writer.latest_ticks(per_check=resumed.ticks_kept):
            resumed.apply_tick(tick)
        return events[-1].kind == "session_resumed" and resumed.state() == before
    finally:
        writer.close()


def run(quick: bool) -> Result:
    trials = 5 if quick else 100
    writer = crash_writer()
    runbook = writer.make_runbook()
    folder = Path(tempfile.mkdtemp(prefix="cutover-bench-crash-"))
    db = folder / "crash.cutover.db"
    chance = random.Random(int.from_bytes(os.urandom(4), "big"))
    acked: list[int] = []
    mismatches = breaks = 0
    try:
        for trial in range(trials):
            acked += writer.run_and_kill(db, chance.uniform(0.0, 0.4))
            breaks += not verify_file(db).ok
            mismatches += not resume_matches(db, runbook)
            if (trial + 1) % 20 == 0:
                print(f"{trial + 1} kills: {len(acked):,} decisions acknowledged", flush=True)
        with SessionLog.open_readonly(db) as reader:
            decisions = {event.seq for event in reader.events() if event.kind == "decision"}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    lost = sum(1 for seq in acked if seq not in decisions)
    print(f"{trials} kills: {len(acked):,} acknowledged, {lost} lost, {mismatches} resume mismatches, {breaks} chain breaks")
    return Result(
        [
            Figure("trials", "SIGKILL trials", trials),
            Figure("acked_decisions", "decisions acknowledged before the kills", len(acked)),
            Figure("acked_lost", "acknowledged decisions lost", lost, at_most=0),
            Figure("resume_mismatches", "trials whose resume folded differently", mismatches, at_most=0),
            Figure("chain_breaks", "trials after which verify failed", breaks, at_most=0),
        ],
        [f"crash: {trials} SIGKILLs of tests/crash_writer.py at random instants, each resumed"],
    )
