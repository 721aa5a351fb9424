"""`cutover-tui verify FILE`: an intact chain passes; every kind of tampering is named."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from crash_writer import make_runbook, reading
from cutover_tui.cli import main
from cutover_tui.store import SessionLog, event_hash, format_ts


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    """A finished session of 8 events."""
    path = tmp_path / "go-live.cutover.db"
    with SessionLog.create(path, make_runbook(), operator="alice") as log:
        log.append("step_started", {"step": "deploy"})
        for n in range(5):
            log.append("note", {"text": f"note {n}"})
        log.append("decision", {"decision": "go", "reason": "all green", "conditions": {}, "verdict": "CONTINUE"})
    return path


def tamper(path: Path, *statements: str) -> None:
    """Edit the file as someone with sqlite3 would: drop the append-only triggers, then change rows."""
    connection = sqlite3.connect(path)
    connection.execute("DROP TRIGGER events_append_only_update")
    connection.execute("DROP TRIGGER events_append_only_delete")
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()


def verify(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(["verify", str(path)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def head_of(path: Path) -> tuple[int, str]:
    with SessionLog.open_readonly(path) as reader:
        return reader.head


def test_intact_log_verifies(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An untouched log exits 0 with the event and reading counts and prints its head."""
    seq, digest = head_of(log_file)
    assert verify(log_file, capsys) == (0, f"8 events and 0 readings verified\nhead: seq {seq} sha256 {digest}\n")


def test_a_log_of_one_event_says_one_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The counts read as counted: a log just created holds one event, not "1 events"."""
    path = tmp_path / "new.cutover.db"
    SessionLog.create(path, make_runbook(), operator="alice").close()
    status, printed = verify(path, capsys)
    assert (status, printed.splitlines()[0]) == (0, "1 event and 0 readings verified")


def test_edited_payload_is_named(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Changing a payload is reported as an edit of that seq."""
    tamper(log_file, """UPDATE events SET payload='{"text":"nothing happened"}' WHERE seq=4""")
    status, out = verify(log_file, capsys)
    assert status == 1 and "seq 4: edited" in out


def test_edited_payload_with_recomputed_hash_is_named(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rewriting a row and its own hash breaks the next row's prev_hash: the rewritten seq is named."""
    with SessionLog.open_readonly(log_file) as reader:
        row = reader.events()[4]
    rewritten = event_hash(row.prev_hash, row.seq, format_ts(row.ts), row.kind, "mallory", row.payload)
    tamper(log_file, f"UPDATE events SET actor='mallory', hash='{rewritten}' WHERE seq=5")
    status, out = verify(log_file, capsys)
    assert status == 1 and "seq 5: edited" in out and "seq 6's prev_hash" in out


def test_edited_runbook_text_is_named(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The runbook text sits outside the chain; an edit to it no longer matches the sha256 the chain recorded."""
    tamper(log_file, "UPDATE sessions SET runbook_text = replace(runbook_text, 'name:', 'name: edited')")
    status, out = verify(log_file, capsys)
    assert status == 1 and "runbook text" in out and "edited" in out


def test_edited_hash_is_named(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Changing only a stored hash is an edit of that seq."""
    tamper(log_file, "UPDATE events SET hash='" + "0" * 64 + "' WHERE seq=3")
    status, out = verify(log_file, capsys)
    assert status == 1 and "seq 3: edited" in out


def test_deleted_row_is_named(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Deleting a row is reported as the missing seq."""
    tamper(log_file, "DELETE FROM events WHERE seq=6")
    status, out = verify(log_file, capsys)
    assert status == 1 and "seq 6: deleted" in out


def test_deleted_last_row_is_named(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Cutting the tail of the log is caught by the head recorded in sessions."""
    tamper(log_file, "DELETE FROM events WHERE seq=8")
    status, out = verify(log_file, capsys)
    assert status == 1 and "seq 8: deleted" in out


def test_swapped_pair_is_named(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Swapping the order of two events is reported as reordered at the first of them."""
    tamper(
        log_file,
        "UPDATE events SET seq=-1 WHERE seq=4",
        "UPDATE events SET seq=4 WHERE seq=5",
        "UPDATE events SET seq=5 WHERE seq=-1",
    )
    status, out = verify(log_file, capsys)
    assert status == 1 and "seq 4: reordered" in out


def test_swapped_timestamps_are_an_edit(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Swapping two rows' timestamps (to fake the order things happened in) is an edit."""
    tamper(log_file, "UPDATE events SET ts=(SELECT ts FROM events WHERE seq=2) WHERE seq=7")
    status, out = verify(log_file, capsys)
    assert status == 1 and "seq 7: edited" in out


@pytest.mark.parametrize("content", [b"", b"hello, this is a text file\n" * 50, "sqlite-foreign"])
def test_not_a_session_log_exits_2(tmp_path: Path, content: bytes | str, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty file, a text file or another SQLite database exits 2 saying it is not a session log."""
    path = tmp_path / "thing.db"
    if content == "sqlite-foreign":
        sqlite3.connect(path).execute("CREATE TABLE events (x)").connection.close()
    else:
        path.write_bytes(content)
    status, out = verify(path, capsys)
    assert status == 2 and "not a session log" in out


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist exits 2."""
    status, out = verify(tmp_path / "nope.cutover.db", capsys)
    assert status == 2 and "no such session log" in out


def test_verify_runs_as_a_command(log_file: Path) -> None:
    """The installed entry point prints the count and exits 0 (no Textual needed)."""
    result = subprocess.run(
        [sys.executable, "-m", "cutover_tui", "verify", str(log_file)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.startswith("8 events and 0 readings verified\n")


# ----------------------------------------------------------------- readings, heads, seals, damaged and archived files


@pytest.fixture
def log_with_readings(tmp_path: Path) -> Path:
    """A finished session with 12 stored readings in 3 sealed batches, and a decision after them."""
    path = tmp_path / "readings.cutover.db"
    at = datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)
    with SessionLog.create(path, make_runbook(), operator="alice") as log:
        for batch in range(3):
            for n in range(4):
                at += timedelta(seconds=5)
                log.record_reading(reading("auth_error_ratio", 0.001 * (batch * 4 + n + 1) * 10, at))
            log.flush_ticks()
        log.append("decision", {"decision": "go", "reason": "green", "conditions": {}, "verdict": "CONTINUE"})
    return path


def test_readings_are_sealed_and_verified(log_with_readings: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every stored reading is covered by a ticks_sealed event, and verify counts them."""
    with SessionLog.open_readonly(log_with_readings) as reader:
        seals = [e for e in reader.events(seals=True) if e.kind == "ticks_sealed"]
        views = [e.kind for e in reader.events()]
    assert [(s.payload["first"], s.payload["last"]) for s in seals] == [(1, 4), (5, 8), (9, 12)]
    assert "ticks_sealed" not in views  # the views fold everything but the seals
    status, out = verify(log_with_readings, capsys)
    assert status == 0 and "12 readings verified" in out


def test_edited_reading_is_named(log_with_readings: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Changing one stored value (the breach that was not) is caught, naming the reading."""
    tamper(log_with_readings, "UPDATE ticks SET value = 0.0 WHERE id = 6")
    status, out = verify(log_with_readings, capsys)
    assert status == 1 and "edited: reading 6 (auth_error_ratio at 2026-12-01T16:30:30.000Z)" in out


def test_deleted_reading_is_named(log_with_readings: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Deleting a stored reading is caught, naming the missing one."""
    tamper(log_with_readings, "DELETE FROM ticks WHERE id = 9")
    status, out = verify(log_with_readings, capsys)
    assert status == 1 and "deleted: reading 9" in out


def test_inserted_reading_is_named(log_with_readings: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A reading added afterwards is sealed by nothing: caught, naming it."""
    tamper(
        log_with_readings,
        "INSERT INTO ticks (id, check_ref, ts_ms, outcome_code, value)"
        " SELECT 13, id, 1796142700000, 0, 0.001 FROM checks WHERE name = 'auth_error_ratio'",
    )
    status, out = verify(log_with_readings, capsys)
    assert status == 1 and "inserted: reading 13 (auth_error_ratio at 2026-12-01T16:31:40.000Z)" in out


def test_expect_head_catches_a_rewritten_tail(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A forger who cuts the last event and rewrites the head passes plain verify, not --expect-head of the published head."""
    seq, published = head_of(log_file)
    with SessionLog.open_readonly(log_file) as reader:
        previous = reader.events()[-2]
    tamper(
        log_file,
        f"DELETE FROM events WHERE seq = {seq}",
        f"UPDATE sessions SET head_seq = {previous.seq}, head_hash = '{previous.hash}'",
    )
    assert verify(log_file, capsys)[0] == 0  # the chain alone cannot tell
    assert main(["verify", str(log_file), "--expect-head", published]) == 1
    out = capsys.readouterr().out
    assert f"does not hold the expected head sha256 {published}" in out
    assert main(["verify", str(log_file), "--expect-head", f"{previous.seq}:{previous.hash}"]) == 0


def test_expect_head_accepts_an_earlier_head_of_a_log_that_grew(
    log_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A head published earlier is still held after the session went on; a short prefix of it is enough."""
    _, published = head_of(log_file)
    with SessionLog.open(log_file, make_runbook(), operator="bob") as log:
        log.append("note", {"text": "later"})
    assert main(["verify", str(log_file), "--expect-head", published[:20]]) == 0
    assert main(["verify", str(log_file), "--expect-head", "not-a-hash"]) == 2
    assert "is not a head" in capsys.readouterr().err


def _ssh_keygen_or_fail() -> str:
    program = shutil.which("ssh-keygen")
    if program is None:
        if os.environ.get("CI") == "true":
            pytest.fail("ssh-keygen is missing (Debian: openssh-client; .ci/run installs it)")
        pytest.skip("needs ssh-keygen (Debian: openssh-client)")
    return program


def _key(tmp_path: Path, name: str) -> Path:
    key = tmp_path / name
    subprocess.run(
        [_ssh_keygen_or_fail(), "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True, timeout=60
    )
    return key


def test_seal_signs_the_head_and_verify_checks_the_signer(
    log_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """seal signs the head with ssh-keygen; verify --signer accepts that key, refuses another, and a log cut after sealing."""
    alice, mallory = _key(tmp_path, "alice"), _key(tmp_path, "mallory")
    assert main(["seal", str(log_file), "--key", str(alice)]) == 0
    seal = Path(str(log_file) + ".seal")
    assert "-----BEGIN SSH SIGNATURE-----" in seal.read_text()
    assert main(["verify", str(log_file), "--signer", f"{alice}.pub"]) == 0
    assert main(["verify", str(log_file), "--signer", f"{mallory}.pub"]) == 1
    assert "the signature does not verify" in capsys.readouterr().out
    seq, _ = head_of(log_file)
    with SessionLog.open_readonly(log_file) as reader:
        last = reader.events()[-2]
    tamper(
        log_file,
        f"DELETE FROM events WHERE seq = {seq}",
        f"UPDATE sessions SET head_seq = {last.seq}, head_hash = '{last.hash}'",
    )
    assert main(["verify", str(log_file), "--signer", f"{alice}.pub"]) == 1
    assert "does not hold the head sealed in" in capsys.readouterr().out


@pytest.mark.slow
def test_payload_that_is_not_utf8_is_named_not_a_traceback(log_file: Path) -> None:
    """A flipped byte that leaves a payload invalid UTF-8: verify exits 1 naming the seq; report and replay exit 2 in one line."""
    tamper(log_file, """UPDATE events SET payload = CAST(X'7B2274657874223AFF227D' AS TEXT) WHERE seq = 4""")
    done = _cli("verify", log_file)
    assert done.returncode == 1 and "seq 4: edited" in done.stdout and "Traceback" not in done.stderr
    for command in ("report", "replay", "follow"):
        done = _cli(command, log_file, *(["-o", "-"] if command == "report" else []))
        assert done.returncode == 2, (command, done.stderr)
        assert "Traceback" not in done.stderr and str(log_file) in done.stderr and len(done.stderr.splitlines()) == 1


def corrupt_page(path: Path, table: str) -> None:
    """Overwrite the b-tree page type of ``table``'s root page: SQLite then reports the image malformed."""
    connection = sqlite3.connect(path)
    root = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    connection.close()
    with open(path, "r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(b"\x07")


def _cli(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cutover_tui", *map(str, args)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("table", ["events", "ticks"])
def test_damaged_page_is_one_line_and_exit_2_everywhere(log_with_readings: Path, tmp_path: Path, table: str) -> None:
    """A damaged page: verify, report, replay, follow and run --db say the file is damaged and exit 2, no traceback."""
    corrupt_page(log_with_readings, table)
    runbook = tmp_path / "rb.yaml"
    runbook.write_text("name: Damaged\nchecks:\n  up: {http: 'http://127.0.0.1:9/', every: 5s}\n", encoding="utf-8")
    for args in (["verify"], ["report", "-o", "-"], ["replay"], ["follow"]):
        done = _cli(args[0], log_with_readings, *args[1:])
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and "damaged" in done.stderr and str(log_with_readings) in done.stderr, (
            args
        )
    done = _cli("run", runbook, "--db", log_with_readings, "--accept-runbook-change")
    assert done.returncode == 2 and "Traceback" not in done.stderr and str(log_with_readings) in done.stderr, (
        done.stderr
    )


@pytest.fixture
def read_only_media(tmp_path: Path):
    """A folder on a file system mounted read-only (needs root, as CI has): an archive, a write-once store."""
    media = tmp_path / "archive"
    media.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(media)], capture_output=True, text=True
    )
    if done.returncode != 0:
        reason = f"cannot mount a file system for a read-only media test: {done.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)

    def archive(*files: Path) -> list[Path]:
        copies = [media / f.name for f in files]
        for source, copy in zip(files, copies, strict=True):
            shutil.copyfile(source, copy)
        subprocess.run(["mount", "-o", "remount,ro", str(media)], check=True, capture_output=True)
        return copies

    try:
        yield archive
    finally:
        subprocess.run(["umount", "-l", str(media)], capture_output=True)


def test_archived_log_on_read_only_media_is_read(log_with_readings: Path, read_only_media) -> None:
    """On read-only media verify, report and the views' reads work (immutable), where they said "not a session log"."""
    from cutover_tui.commands.app_cmds import runbook_from_log
    from cutover_tui.live import FollowBackend
    from cutover_tui.replay import ReplayBackend

    (archived,) = read_only_media(log_with_readings)
    done = _cli("verify", archived)
    assert done.returncode == 0 and "12 readings verified" in done.stdout, done.stderr
    done = _cli("report", archived, "-o", "-")
    assert done.returncode == 0 and "intact" in done.stdout, done.stderr
    runbook = runbook_from_log(archived)
    assert len(ReplayBackend(archived, runbook).events) > 1
    follower = FollowBackend(archived, runbook)
    assert follower.state().last_event_seq > 1
    done = _cli("report", archived)  # next to the file: the medium refuses, and says so in one line
    assert (
        done.returncode == 2
        and "Traceback" not in done.stderr
        and "cannot write the report" in done.stderr
        and "-o -" in done.stderr
    )


def test_archive_with_unfolded_wal_on_read_only_media_says_what_to_do(tmp_path: Path, read_only_media) -> None:
    """A -wal still holding writes cannot be read on read-only media: one line says copy both to a writable place."""
    db = tmp_path / "live.cutover.db"
    log = SessionLog.create(db, make_runbook(), operator="alice")
    log.append("note", {"text": "only in the WAL"})
    archived, _ = read_only_media(db, Path(str(db) + "-wal"))
    log.close()
    done = _cli("verify", archived)
    assert (
        done.returncode == 2 and "-wal" in done.stderr and "writable" in done.stderr and "Traceback" not in done.stderr
    )


# ----------------------------------------------------------------- schema 2's tables


def test_the_by_hand_check_of_the_readings_in_the_docs_verifies_a_real_log(
    log_with_readings: Path, monkeypatch
) -> None:
    """The Python in docs/session-log.md that checks every reading against its seals passes on a log, and fails on an edit."""
    docs = (Path(__file__).parents[2] / "docs" / "session-log.md").read_text(encoding="utf-8")
    start = docs.index("By hand, every reading")
    code = docs[
        docs.index("```python", start) + len("```python") : docs.index("```", docs.index("```python", start) + 9)
    ]
    monkeypatch.chdir(log_with_readings.parent)
    (log_with_readings.parent / "go-live.cutover.db").write_bytes(log_with_readings.read_bytes())
    exec(compile(code, "session-log.md", "exec"), {})
    tamper(log_with_readings.parent / "go-live.cutover.db", "UPDATE ticks SET value = 0.5 WHERE id = 7")
    with pytest.raises(AssertionError):
        exec(compile(code, "session-log.md", "exec"), {})


def test_a_renamed_check_is_an_edit_of_its_readings(
    log_with_readings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Renaming a check in the checks table changes what its readings say: verify names the first of them."""
    tamper(log_with_readings, "UPDATE checks SET name = 'api_health' WHERE name = 'auth_error_ratio'")
    status, out = verify(log_with_readings, capsys)
    assert status == 1 and "edited: reading 1 (api_health at 2026-12-01T16:30:05.000Z) does not match its seal" in out


def test_renamed_outcomes_and_a_rewritten_readings_view_are_caught(
    log_with_readings: Path, tmp_path: Path, capsys
) -> None:
    """The outcomes table and the readings view are what a reviewer reads: an edit to either fails verify."""
    other = tmp_path / "other.cutover.db"
    shutil.copyfile(log_with_readings, other)
    tamper(log_with_readings, "UPDATE outcomes SET name = 'pass' WHERE code = 1")
    status, out = verify(log_with_readings, capsys)
    assert status == 1 and "outcomes table" in out
    tamper(other, "DROP VIEW readings", "CREATE VIEW readings AS SELECT * FROM ticks")
    status, out = verify(other, capsys)
    assert status == 1 and "readings view" in out


def test_a_log_in_a_newer_format_is_refused_in_one_line(log_file: Path) -> None:
    """A log whose schema_version this cutover-tui does not know: every command exits 2 naming it, no traceback."""
    connection = sqlite3.connect(log_file)
    connection.execute("UPDATE sessions SET schema_version = 9")
    connection.commit()
    connection.close()
    for args in (["verify"], ["report", "-o", "-"], ["replay"], ["follow"]):
        done = _cli(args[0], log_file, *args[1:])
        assert done.returncode == 2 and "Traceback" not in done.stderr, (args, done.stderr)
        assert "log schema 9" in done.stderr and str(log_file) in done.stderr and len(done.stderr.splitlines()) == 1


def test_a_schema_1_log_verifies_and_an_edit_in_it_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A log written in the first format verifies every reading, and an edited reading in it is named."""
    old = tmp_path / "schema1.cutover.db"
    shutil.copyfile(Path(__file__).parents[1] / "old_logs" / "schema1.cutover.db", old)
    status, out = verify(old, capsys)
    assert status == 0 and "31 events and 110 readings verified" in out
    tamper(old, "UPDATE ticks SET value = 0.0 WHERE id = 50")
    status, out = verify(old, capsys)
    assert status == 1 and "edited: reading 50 (" in out and "does not match its seal" in out
