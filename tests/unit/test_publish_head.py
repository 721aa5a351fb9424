"""run --publish-head CMD: the head leaves the machine after each decision, and verify checks it later."""

from __future__ import annotations

from pathlib import Path

from crash_writer import make_runbook
from cutover_tui.cli import main
from cutover_tui.publish import PublishingLiveBackend
from cutover_tui.store import SessionLog


def decision(kind: str = "go") -> dict:
    return {"decision": kind, "reason": "green", "conditions": {}, "verdict": "CONTINUE"}


async def test_each_decision_publishes_the_head_that_verify_then_expects(tmp_path: Path, capsys) -> None:
    """The command gets the head on stdin and in its environment after each decision; verify --expect-head holds it."""
    db, copy = tmp_path / "s.cutover.db", tmp_path / "heads.txt"
    log = SessionLog.create(db, make_runbook(), operator="alice")
    backend = PublishingLiveBackend(
        make_runbook(), log, actor="alice", poll=False,
        command=f'cat >> {copy}; echo "env $CUTOVER_HEAD_SEQ $CUTOVER_HEAD_SHA256" >> {copy}',
    )  # fmt: skip
    await backend.append("note", {"text": "not a decision: not published"})
    await backend.append("decision", decision())
    await backend.append("decision", decision("hold"))
    await backend.stop()
    lines = copy.read_text().splitlines()
    assert len(lines) == 4 and all(status == 0 for *_, status in backend.published)
    seq, digest, _ = backend.published[-1]
    assert lines[2] == f"cutover-tui head {db} seq {seq} sha256 {digest}" and lines[3] == f"env {seq} {digest}"
    assert main(["verify", str(db), "--expect-head", digest]) == 0
    capsys.readouterr()


async def test_a_failing_publish_is_logged_as_a_note(tmp_path: Path) -> None:
    """A publish command that fails does not stop the session; the failure is in the log."""
    db = tmp_path / "s.cutover.db"
    log = SessionLog.create(db, make_runbook(), operator="alice")
    backend = PublishingLiveBackend(make_runbook(), log, actor="alice", poll=False, command="echo no route >&2; exit 3")
    acknowledged = await backend.append("decision", decision())
    await backend.stop()
    with SessionLog.open_readonly(db) as reader:
        notes = [e.payload["text"] for e in reader.events() if e.kind == "note"]
    assert notes == [f"publishing the log head (seq {acknowledged.seq}) failed: exit status 3: no route"]
