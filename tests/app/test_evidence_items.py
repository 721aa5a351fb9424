"""Evidence attaches to a named item: two named items ask for two answers, each logged and reported under its item."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from app_backend import AppTestBackend, fresh_session
from app_driver import select, settle
from cutover_tui import evidence
from cutover_tui.app import CutoverApp
from cutover_tui.report import build_report, render
from cutover_tui.screens.complete_step import CompleteStepScreen
from cutover_tui.screens.evidence import EvidenceScreen
from cutover_tui.store import SessionLog
from cutover_tui.widgets.decision_log import DecisionLog
from runbooks import load_runbook
from runbooks.errors import RunbookError
from runbooks.model import EvidenceItem

RUNBOOK = """\
name: Evidence
steps:
  - id: tag
    title: Tag the release
    evidence: [Release tag, {id: risks, text: Known risks logged}]
  - id: snapshot
    title: Snapshot
    evidence: required
  - id: notes
    title: Release notes
    evidence:
      - Notes published
      - {text: Customer email, required: false}
  - id: prompts
    title: Optional evidence
    evidence: optional
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "runbook.yaml"
    path.write_text(text)
    return path


def test_named_evidence_items_are_required_one_by_one(tmp_path: Path) -> None:
    """A list names items, each required unless it says required: false; required / optional keep their meaning."""
    runbook = load_runbook(write(tmp_path, RUNBOOK))
    assert runbook.step("tag").evidence == (
        EvidenceItem("release_tag", "Release tag"),
        EvidenceItem("risks", "Known risks logged"),
    )
    assert runbook.step("tag").evidence_required
    assert runbook.step("snapshot").evidence_required and runbook.step("snapshot").evidence == ()
    notes = runbook.step("notes")
    assert [(item.text, item.required) for item in notes.evidence] == [
        ("Notes published", True),
        ("Customer email", False),
    ]
    assert notes.evidence_required
    assert not runbook.step("prompts").evidence_required


def test_an_unknown_key_on_an_evidence_item_names_the_valid_ones(tmp_path: Path) -> None:
    """An evidence item with a key it does not take is a runbook error at that key, with the nearest valid key."""
    text = RUNBOOK.replace("{text: Customer email, required: false}", "{text: Customer email, requried: false}")
    with pytest.raises(RunbookError) as raised:
        load_runbook(write(tmp_path, text))
    assert "requried" in str(raised.value) and "required" in str(raised.value)


def test_owed_evidence_counts_each_required_item() -> None:
    """Owed: each required item without an answer; an answer for the step as a whole covers evidence: required."""
    backend = fresh_session()
    spec = backend.runbook.step("change_freeze")
    assert [item.text for item in evidence.evidence_owed(spec, backend.state().step("change_freeze"))] == [
        "Release tag planned",
        "Known risks logged",
    ]
    backend.record("evidence_added", {"step": "change_freeze", "item": spec.evidence[1].id, "text": "RISK-12"})
    assert [item.text for item in evidence.evidence_owed(spec, backend.state().step("change_freeze"))] == [
        "Release tag planned"
    ]
    snapshot = backend.runbook.step("backup_snapshot")
    assert evidence.evidence_owed(snapshot, backend.state().step("backup_snapshot")) == [evidence.WHOLE_STEP]
    backend.record("evidence_added", {"step": "backup_snapshot", "text": "snap-0420"})
    assert evidence.evidence_owed(snapshot, backend.state().step("backup_snapshot")) == []


def test_a_log_from_before_named_answers_is_not_owing() -> None:
    """An answer logged without an item (before answers named theirs) covered the step then, and still does."""
    backend = fresh_session()
    backend.record("evidence_added", {"step": "change_freeze", "text": "v2.4.0 tagged, risks in RISK-12"})
    spec = backend.runbook.step("change_freeze")
    assert evidence.evidence_owed(spec, backend.state().step("change_freeze")) == []


def error_line(app: CutoverApp) -> str:
    line = app.screen.query_one("#dialog-error", Static)
    return str(line.render()) if line.display else ""


@pytest.mark.slow
@pytest.mark.scenario("fresh")
@pytest.mark.size(120, 40)
async def test_completing_a_step_with_two_named_items_asks_for_two_answers(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """c on a step with two named items shows a field for each; one answer is refused naming the other; both are logged under their items."""
    await select(pilot, "change_freeze")
    await pilot.press("c")
    await pilot.pause()
    assert isinstance(app.screen, CompleteStepScreen)
    fields = [i for i in app.screen.query(Input) if i.id and i.id.startswith("evidence-")]
    assert [f.name for f in fields] == ["item:release_tag_planned", "item:known_risks_logged"]
    assert str(app.screen.query_one("#evidence", Static).render()) == "Evidence: 2 of 2 still owed"
    fields[0].value = "v2.4.0 tagged"
    app.screen.query_one("#unticked", Input).value = "freeze announced by email"
    await pilot.press("enter")
    await pilot.pause()
    assert backend.appended == []
    assert error_line(app) == "Still needed: evidence for “Known risks logged”."
    fields[1].value = "RISK-12"
    await pilot.press("enter")
    await settle(pilot)
    assert [(e.kind, e.payload.get("item"), e.payload.get("text")) for e in backend.appended] == [
        ("evidence_added", "release_tag_planned", "v2.4.0 tagged"),
        ("evidence_added", "known_risks_logged", "RISK-12"),
        ("step_completed", None, None),
    ]
    log = app.query_one(DecisionLog)
    lines = [log.get_row_at(row)[2].plain for row in range(log.row_count)]
    assert "evidence for Change freeze starts — Known risks logged: RISK-12" in lines


@pytest.mark.slow
@pytest.mark.scenario("fresh")
@pytest.mark.size(120, 40)
async def test_e_answers_one_item_and_completing_asks_only_for_the_other(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """e attaches one item's answer; the detail pane and the completion dialog then show only the other as owed."""
    await select(pilot, "change_freeze")
    await pilot.press("e")
    await pilot.pause()
    assert isinstance(app.screen, EvidenceScreen)
    await pilot.press("enter", "enter")  # nothing typed: moves on, then refuses
    await pilot.pause()
    assert error_line(app) == "Nothing typed: give the evidence for at least one item, or Escape to cancel."
    app.screen.query_one("#evidence-1", Input).value = "RISK-12"
    await pilot.press("enter")
    await settle(pilot)
    assert [(e.kind, e.payload) for e in backend.appended] == [
        ("evidence_added", {"step": "change_freeze", "item": "known_risks_logged", "text": "RISK-12"})
    ]
    detail = str(app.query_one("#detail-body", Static).render())
    assert "Evidence (1 of 2 owed, e to add):" in detail
    assert "□ Release tag planned: owed" in detail and "✔ Known risks logged: RISK-12" in detail
    await pilot.press("c")
    await pilot.pause()
    fields = [i.name for i in app.screen.query(Input) if i.id and i.id.startswith("evidence-")]
    assert fields == ["item:release_tag_planned"]


@pytest.mark.slow
@pytest.mark.scenario("fresh")
@pytest.mark.size(120, 40)
async def test_evidence_required_without_names_asks_for_one_answer(
    app: CutoverApp, pilot: Pilot[None], backend: AppTestBackend
) -> None:
    """evidence: required keeps working: one field, one answer logged for the step as a whole."""
    await select(pilot, "backup_snapshot")
    await pilot.press("c")
    await pilot.pause()
    assert [i.name for i in app.screen.query(Input) if i.id and i.id.startswith("evidence-")] == ["item:"]
    app.screen.query_one("#evidence-0", Input).value = "snap-0420"
    app.screen.query_one("#unticked", Input).value = "taken by the backup job"
    await pilot.press("enter")
    await settle(pilot)
    assert backend.appended[0].payload == {"step": "backup_snapshot", "text": "snap-0420"}
    assert backend.kinds() == ["evidence_added", "step_completed"]


def test_the_report_shows_each_answer_under_its_item(tmp_path: Path) -> None:
    """The Markdown report lists each answer under its item's name, and an item still owed as owed."""
    runbook = load_runbook(write(tmp_path, RUNBOOK))
    path = tmp_path / "session.cutover.db"
    log = SessionLog.create(path, runbook, operator="alice")
    log.append("step_started", {"step": "tag"})
    log.append("evidence_added", {"step": "tag", "item": "release_tag", "text": "v2.4.0"})
    log.append("step_completed", {"step": "tag", "gate": {}})
    log.close()
    report = build_report(path)
    tag = next(step for step in report.steps if step.id == "tag")
    assert tag.evidence_items == ("Release tag",) and tag.evidence_owed == ("Known risks logged",)
    markdown = render(report, "md")
    assert "Evidence — Release tag: v2.4.0" in markdown
    assert "Evidence owed: Known risks logged." in markdown
    assert "Required evidence missing: Tag the release." in markdown
