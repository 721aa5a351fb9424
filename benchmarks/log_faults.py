"""The log as evidence under faults: what breaks, what is lost, what a forger gets past.

Method: each fault is made for real on a session log written by
``SessionLog`` (a flipped byte in a page, a payload that is not UTF-8, a
read-only file system, a missing folder, a full tmpfs, a second writer
through a symlink, a forger who rewrites the tail with the documented hash
formula, an edited reading, SIGTERM and SIGHUP to ``cutover-tui run`` in a
real terminal). Then the commands a person would run next (``verify``,
``report``, ``replay``, ``follow``, ``run --db``) run as subprocesses, and:

- tracebacks: runs whose standard error holds a Python traceback (goal 0);
- lost: decisions acknowledged before the fault that are missing after it (goal 0);
- undetected: forgeries that ``verify`` (with ``--expect-head`` of the head
  published before the forgery) lets pass (goal 0);
- mishandled: runs that did not exit as documented (2 and one line naming
  the database; 1 for a broken chain; 0 on read-only media) (goal 0).

Faults that need root (mounting a tmpfs) or tmux say "not available" without them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks.common import Figure, Result
from cutover_tui.store import SessionLog, event_hash, format_ts

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ("faults", "tracebacks", "acked_lost", "forgeries_undetected", "mishandled")
RUNBOOK = """\
name: Fault drill
checks:
  api_health:
    http: "http://127.0.0.1:9/health"
    every: 300ms
    timeout: 250ms
stop_conditions:
  - id: api_down
    check: api_health
    action: halt
steps:
  - title: Deploy
    at: T-0
"""


def _tests_module(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Tally:
    """What the faults did, fault by fault."""

    faults: list[str] = field(default_factory=list)
    tracebacks: int = 0
    lost: int = 0
    undetected: int = 0
    mishandled: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)

    def cli(self, fault: str, *args: object, expect: int, names: Path | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run cutover-tui; count a traceback, and a run that did not exit ``expect`` (and, for 2, in one line naming ``names``)."""
        done = subprocess.run(
            [sys.executable, "-m", "cutover_tui", *map(str, args)], capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL, cwd=cwd, env={**os.environ, "XDG_CONFIG_HOME": str(cwd or tempfile.gettempdir())},
        )  # fmt: skip
        self.tracebacks += "Traceback (most recent call last)" in done.stderr
        ok = done.returncode == expect
        if ok and expect == 2 and names is not None:
            ok = len(done.stderr.strip().splitlines()) == 1 and str(names) in done.stderr and ".lock" not in done.stderr
        if not ok:
            self.mishandled.append(f"{fault}: {' '.join(map(str, args[:1]))} exited {done.returncode}: {done.stderr.strip()[-200:]}")
        return done


def make_log(path: Path, decisions: int = 5, readings: int = 12) -> list[tuple[int, str]]:
    """A finished session with readings and decisions; the heads published after each decision."""
    writer = _tests_module("crash_writer")
    published = []
    at = datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)
    with SessionLog.create(path, writer.make_runbook(), operator="alice") as log:
        stored = 0
        for n in range(decisions):
            for _ in range(readings // decisions + 1):
                at += timedelta(seconds=5)
                stored += 1  # each value differs from the last by far more than the tolerance: every reading is kept
                log.record_reading(writer.reading("auth_error_ratio", 0.001 * stored * 7, at))
            log.flush_ticks()
            log.append("decision", {"decision": "hold", "reason": f"drill {n}", "conditions": {}, "verdict": "CONTINUE"})
            published.append(log.head)
    return published


def _sql(path: Path, *statements: str) -> None:
    connection = sqlite3.connect(path)
    for trigger in ("events_append_only_update", "events_append_only_delete"):
        connection.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()


def _views(tally: Tally, fault: str, db: Path, runbook: Path, folder: Path, *, expect: int = 2) -> None:
    for args in (["report", db, "-o", "-"], ["replay", db], ["follow", db]):
        tally.cli(fault, *args, expect=expect, names=db, cwd=folder)
    tally.cli(fault, "run", runbook, "--db", db, "--accept-runbook-change", expect=2, names=db, cwd=folder)


def fault_corrupt_page(tally: Tally, folder: Path, runbook: Path) -> None:
    db = folder / "page.cutover.db"
    make_log(db)
    connection = sqlite3.connect(db)
    root = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events'").fetchone()[0]
    size = connection.execute("PRAGMA page_size").fetchone()[0]
    connection.close()
    with open(db, "r+b") as handle:
        handle.seek((root - 1) * size)
        handle.write(b"\x07")
    tally.cli("corrupt page", "verify", db, expect=2, names=db, cwd=folder)
    _views(tally, "corrupt page", db, runbook, folder)


def fault_corrupt_payload(tally: Tally, folder: Path, runbook: Path) -> None:
    db = folder / "payload.cutover.db"
    make_log(db)
    _sql(db, "UPDATE events SET payload = CAST(X'7B2274657874223AFF227D' AS TEXT) WHERE seq = 3")
    tally.cli("corrupt payload", "verify", db, expect=1, cwd=folder)
    _views(tally, "corrupt payload", db, runbook, folder)


@contextmanager
def _tmpfs(tally: Tally, fault: str, folder: Path, size: str) -> Iterator[bool]:
    """``folder`` made and a tmpfs of ``size`` mounted on it for the block: True; False, the fault tallied as unavailable, without root."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True).returncode == 0
    if not mounted:
        tally.unavailable.append(f"{fault} (mounting a tmpfs needs root)")
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fault_read_only_media(tally: Tally, folder: Path, runbook: Path) -> None:
    media = folder / "archive"
    with _tmpfs(tally, "read-only media", media, "8m") as mounted:
        if not mounted:
            return
        db = media / "archived.cutover.db"
        make_log(db)
        subprocess.run(["mount", "-o", "remount,ro", str(media)], check=True, capture_output=True)
        tally.cli("read-only media", "verify", db, expect=0, cwd=folder)
        tally.cli("read-only media", "report", db, "-o", "-", expect=0, cwd=folder)
        for view in ("replay", "follow"):  # their reading of the log, as the command does before the screen
            code = ("import sys; from cutover_tui.commands.app_cmds import runbook_from_log; "
                    "from cutover_tui.live import FollowBackend; from cutover_tui.replay import ReplayBackend; "
                    f"db = {str(db)!r}; rb = runbook_from_log(db); "
                    f"b = {'ReplayBackend' if view == 'replay' else 'FollowBackend'}(db, rb); print(b.state().last_event_seq)")  # fmt: skip
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
            tally.tracebacks += "Traceback" in done.stderr
            if done.returncode != 0:
                tally.mishandled.append(f"read-only media: {view} could not read the archive: {done.stderr.strip()[-200:]}")


def fault_missing_dir(tally: Tally, folder: Path, runbook: Path) -> None:
    db = folder / "no" / "such" / "folder.cutover.db"
    tally.cli("missing folder", "run", runbook, "--db", db, expect=2, names=db, cwd=folder)
    tally.cli("missing folder", "verify", db, expect=2, names=db, cwd=folder)


def fault_disk_full(tally: Tally, folder: Path, runbook: Path) -> None:
    disk = folder / "small"
    with _tmpfs(tally, "disk full", disk, "2m") as mounted:
        if not mounted:
            return
        writer = _tests_module("crash_writer")
        db = disk / "full.cutover.db"
        acked: list[int] = []
        log = SessionLog.create(db, writer.make_runbook(), operator="alice")
        ballast = disk / "ballast"
        with open(ballast, "wb") as handle:  # fill the disk while the session runs
            try:
                while True:
                    handle.write(b"\0" * 65536)
                    handle.flush()
            except OSError:
                pass
        refused = 0
        for n in range(200):
            try:
                acked.append(log.append("decision", {"decision": "hold", "reason": f"full {n}" + "x" * 2000, "conditions": {}}).seq)
            except sqlite3.Error:
                refused += 1
        tally.cli("disk full", "run", runbook, "--db", disk / "new.cutover.db", expect=2, names=disk / "new.cutover.db", cwd=folder)
        ballast.unlink()
        acked.append(log.append("decision", {"decision": "go", "reason": "space back", "conditions": {}}).seq)
        log.close()
        with SessionLog.open_readonly(db) as reader:
            present = {e.seq for e in reader.events() if e.kind == "decision"}
            intact = reader.verify().ok
        tally.lost += sum(1 for seq in acked if seq not in present)
        if not refused:
            tally.unavailable.append("disk full: the disk never filled")
        if not intact:
            tally.mishandled.append("disk full: the chain does not verify after the disk recovered")
        tally.cli("disk full", "verify", db, expect=0, cwd=folder)


def fault_symlinked_second_writer(tally: Tally, folder: Path, runbook: Path) -> None:
    writer = _tests_module("crash_writer")
    db = folder / "held.cutover.db"
    link = folder / "another-name.cutover.db"
    log = SessionLog.create(db, writer.make_runbook(), operator="alice")
    link.symlink_to(db)
    try:
        done = tally.cli("symlinked second writer", "run", runbook, "--db", link, "--accept-runbook-change", expect=2, names=link, cwd=folder)
        if "is being written by" not in done.stderr:
            tally.mishandled.append("symlinked second writer: not refused as being written")
    finally:
        log.close()
    with SessionLog.open_readonly(db) as reader:
        if any(e.kind == "session_resumed" for e in reader.events()):
            tally.mishandled.append("symlinked second writer: it resumed the held session")


def fault_forged_tail(tally: Tally, folder: Path, runbook: Path) -> None:
    """Delete the last decision, recompute nothing else: and rewrite one decision, recomputing every later hash."""
    for how in ("cut", "rewrite"):
        db = folder / f"forged-{how}.cutover.db"
        published = make_log(db)
        with SessionLog.open_readonly(db) as reader:
            events = reader.events(seals=True)
        if how == "cut":
            keep = events[-2]
            _sql(db, f"DELETE FROM events WHERE seq > {keep.seq}",
                 f"UPDATE sessions SET head_seq = {keep.seq}, head_hash = '{keep.hash}'")  # fmt: skip
        else:  # turn the last decision into a GO and recompute its hash and every later one
            target = max(i for i, e in enumerate(events) if e.kind == "decision")
            prev, statements = events[target].prev_hash, []
            for event in events[target:]:
                payload = {**event.payload, "decision": "go"} if event.seq == events[target].seq else event.payload
                digest = event_hash(prev, event.seq, format_ts(event.ts), event.kind, event.actor, payload)
                text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).replace("'", "''")
                statements.append(f"UPDATE events SET payload = '{text}', prev_hash = '{prev}', hash = '{digest}' WHERE seq = {event.seq}")
                prev = digest
            statements.append(f"UPDATE sessions SET head_hash = '{prev}'")
            _sql(db, *statements)
        # With the documented formula the chain alone cannot tell (verify exits 0); the published head can.
        tally.cli(f"forged tail ({how})", "verify", db, expect=0, cwd=folder)
        _, digest = published[-1]
        done = subprocess.run([sys.executable, "-m", "cutover_tui", "verify", str(db), "--expect-head", digest],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        tally.tracebacks += "Traceback" in done.stderr
        if done.returncode != 1:
            tally.undetected += 1
            tally.mishandled.append(f"forged tail ({how}): verify --expect-head exited {done.returncode}")


def fault_edited_reading(tally: Tally, folder: Path, runbook: Path) -> None:
    for how, statement in (
        ("edited", "UPDATE ticks SET value = 0.0 WHERE id = 4"),
        ("deleted", "DELETE FROM ticks WHERE id = 7"),  # make_log stores 15 readings
        ("inserted", "INSERT INTO ticks (check_ref, ts_ms, outcome_code, value)"
                     " SELECT id, 1796143500000, 0, 0.0 FROM checks WHERE name = 'auth_error_ratio'"),  # 16:45:00Z
    ):
        db = folder / f"reading-{how}.cutover.db"
        make_log(db)
        with SessionLog.open_readonly(db) as reader:
            assert reader.last_tick_id() >= 7, "the drill log must hold the readings it edits"
        _sql(db, statement)
        done = subprocess.run([sys.executable, "-m", "cutover_tui", "verify", str(db)], capture_output=True, text=True, timeout=60)
        tally.tracebacks += "Traceback" in done.stderr
        if not (done.returncode == 1 and f"{how}: reading" in done.stdout):
            tally.undetected += 1
            tally.mishandled.append(f"{how} reading: verify exited {done.returncode}: {done.stdout.strip()[-200:]}")


def fault_signal(tally: Tally, folder: Path, runbook: Path, signame: str) -> None:
    tmux = shutil.which("tmux")
    if tmux is None:
        tally.unavailable.append(f"{signame} (needs tmux)")
        return
    db = folder / f"{signame.lower()}.cutover.db"
    exe = Path(sys.executable).with_name("cutover-tui")
    session = f"faults{os.getpid()}{signame}"
    subprocess.run([tmux, "new", "-d", "-s", session, "-x", "120", "-y", "36"], check=True)
    subprocess.run([tmux, "set", "-t", session, "remain-on-exit", "on"], check=True)
    subprocess.run([tmux, "respawn-pane", "-k", "-t", session, f"exec {exe} run {runbook} --db {db} --as drill"], check=True)
    try:
        pid = int(subprocess.run([tmux, "display", "-p", "-t", session, "#{pane_pid}"], capture_output=True, text=True).stdout)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if db.exists():
                try:
                    with SessionLog.open_readonly(db) as reader:
                        if reader.last_tick_id() >= 2:
                            break
                except Exception:  # noqa: BLE001 - being created
                    pass
            time.sleep(0.1)
        os.kill(pid, 15 if signame == "SIGTERM" else 1)
        deadline = time.monotonic() + 20
        dead = ""
        while time.monotonic() < deadline and dead != "1":
            dead = subprocess.run([tmux, "display", "-p", "-t", session, "#{pane_dead}"], capture_output=True, text=True).stdout.strip()
            time.sleep(0.1)
        screen = subprocess.run([tmux, "capture-pane", "-p", "-S", "-200", "-t", session], capture_output=True, text=True).stdout
        tally.tracebacks += "Traceback" in screen
        if dead != "1":
            tally.mishandled.append(f"{signame}: cutover-tui run did not exit")
            os.kill(pid, 9)
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)
    wal = Path(f"{db}-wal")
    with SessionLog.open_readonly(db) as reader:
        endings = [e.payload for e in reader.events() if e.kind == "session_ended"]
        intact = reader.verify().ok
    if not endings or endings[-1].get("reason") != signame:
        tally.mishandled.append(f"{signame}: no session_ended for it")
    if not intact:
        tally.mishandled.append(f"{signame}: the chain does not verify")
    if wal.exists() and wal.stat().st_size and not endings:
        tally.mishandled.append(f"{signame}: the WAL was not folded into the database")


FAULTS: dict[str, Callable[[Tally, Path, Path], None]] = {
    "corrupt page": fault_corrupt_page,
    "corrupt payload": fault_corrupt_payload,
    "read-only media": fault_read_only_media,
    "missing folder": fault_missing_dir,
    "disk full": fault_disk_full,
    "symlinked second writer": fault_symlinked_second_writer,
    "forged tail": fault_forged_tail,
    "edited reading": fault_edited_reading,
    "SIGTERM": lambda t, f, r: fault_signal(t, f, r, "SIGTERM"),
    "SIGHUP": lambda t, f, r: fault_signal(t, f, r, "SIGHUP"),
}


#: A quick run: one fault for each figure (a traceback or a wrong exit, a forgery, an acknowledged decision lost).
QUICK_FAULTS = ("corrupt payload", "forged tail", "SIGTERM")


def run(quick: bool) -> Result:
    folder = Path(tempfile.mkdtemp(prefix="cutover-bench-faults-"))
    runbook = folder / "drill.yaml"
    runbook.write_text(RUNBOOK, encoding="utf-8")
    tally = Tally()
    try:
        for name, fault in FAULTS.items():
            if quick and name not in QUICK_FAULTS:
                continue
            tally.faults.append(name)
            fault(tally, folder, runbook)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    line = (f"{len(tally.faults)} faults, {tally.tracebacks} tracebacks, {tally.lost} acknowledged decisions lost, "
            f"{tally.undetected} forgeries undetected")  # fmt: skip
    print(line)
    for problem in tally.mishandled:
        print(f"  mishandled: {problem}")
    notes = [f"log faults: {', '.join(tally.faults)}", line]
    notes += [f"not available: {what}" for what in tally.unavailable]
    notes += [f"mishandled: {what}" for what in tally.mishandled]
    return Result(
        [
            Figure("faults", "faults made", len(tally.faults)),
            Figure("tracebacks", "runs that printed a traceback", tally.tracebacks, at_most=0),
            Figure("acked_lost", "acknowledged decisions lost", tally.lost, at_most=0),
            Figure("forgeries_undetected", "forgeries verify let pass", tally.undetected, at_most=0),
            Figure("mishandled", "runs not exiting as documented", len(tally.mishandled), at_most=0),
        ],
        notes,
        {"mishandled": tally.mishandled, "unavailable": tally.unavailable},
    )


if __name__ == "__main__":  # pragma: no cover
    sys.path.insert(0, str(ROOT))
    run(quick="--quick" in sys.argv)
