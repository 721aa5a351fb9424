"""`cutover-tui verify FILE`: an intact chain passes; every kind of tampering is named."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from crash_writer import make_runbook
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


def test_intact_log_verifies(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An untouched log exits 0 with the event count."""
    assert verify(log_file, capsys) == (0, "8 events verified\n")


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
    assert (result.returncode, result.stdout) == (0, "8 events verified\n")
