"""Markdown checklist runbooks import to runbook YAML that the loader accepts."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from cutover_tui.cli import main
from runbooks import markdown_import
from runbooks.errors import RunbookError
from runbooks.grammar import counted
from runbooks.loader import load_runbook, parse_runbook
from runbooks.markdown_import import find_offset, import_markdown
from runbooks.model import Runbook, StepKind

SEEDS = sorted((Path(__file__).resolve().parents[1] / "seeds").glob("*.txt"))
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0

needs_seeds = pytest.mark.skipif(not SEEDS, reason="tests/seeds/ (the five seed runbooks) is missing")


def imported(markdown: str, name: str = "runbook.md") -> Runbook:
    """Import ``markdown`` and load the YAML with the real loader."""
    return parse_runbook(import_markdown(markdown, name), name)


def seed(number: str) -> str:
    return next(path for path in SEEDS if path.name.startswith(number)).read_text(encoding="utf-8")


@needs_seeds
@pytest.mark.parametrize("path", SEEDS, ids=lambda path: path.name[:3])
def test_every_seed_imports_to_a_valid_runbook(path: Path) -> None:
    """Each seed imports to YAML that parse_runbook accepts, with at least one step."""
    runbook = imported(path.read_text(encoding="utf-8"), path.name)
    assert runbook.steps or runbook.rollback
    assert all(step.title for step in (*runbook.steps, *runbook.rollback))


@needs_seeds
def test_seed_000_cutover_runbook_yields_its_six_scheduled_steps() -> None:
    """Seed 000's cutover section becomes six steps T-7d .. T+72h with their items and evidence."""
    runbook = imported(seed("000"), "000.md")
    scheduled = [step for step in runbook.steps if step.at is not None]
    assert [(s.title, s.at, len(s.items), len(s.evidence)) for s in scheduled] == [
        ("Change freeze starts", -7 * DAY, 4, 2),
        ("Staging final validation", -3 * DAY, 3, 2),
        ("Final go/no-go", -24 * HOUR, 4, 1),
        ("Production deploy", 0.0, 3, 0),
        ("Production verification", 30 * MINUTE, 5, 1),
        ("Stabilization", 72 * HOUR, 3, 2),
    ]
    freeze = scheduled[0]
    assert [item.text for item in freeze.items] == [
        "Freeze scope",
        "Freeze data model",
        "Freeze pricing and payments changes",
        "Publish release notes draft",
    ]
    assert [item.text for item in freeze.evidence] == ["Release tag planned", "Known risks logged"]
    assert freeze.evidence_required
    assert scheduled[2].kind is StepKind.GO_NO_GO


@needs_seeds
def test_seed_000_sections_without_offset_become_unscheduled_steps_in_document_order() -> None:
    """Gates A-E, with checklist items but no offset, are unscheduled steps before the cutover."""
    runbook = imported(seed("000"), "000.md")
    titles = [step.title for step in runbook.steps]
    gates = [title for title in titles if title.startswith("Gate ")]
    assert gates == [
        "Gate A — Tenant isolation + RBAC",
        "Gate B — AI governance",
        "Gate C — Performance + reliability",
        "Gate D — UAT sign-off",
        "Gate E — Legal + compliance ready",
    ]
    assert titles.index(gates[-1]) < titles.index("Change freeze starts")
    assert runbook.step("gate_c_performance_reliability").at is None
    # sections of prose, links or agent prompts have no checklist items and are left out
    assert "VS Code + Kimi agent workflow (enterprise mode)" not in titles
    assert "Reality check (important)" not in titles


@needs_seeds
def test_seed_003_markdown_fences_are_read_and_rollback_section_becomes_the_plan() -> None:
    """Seed 003's quoted go-live checklist keeps T-1 day / Go-Live Day / T+1 day; section 8 is the rollback plan."""
    runbook = imported(seed("003"), "003.md")
    scheduled = {step.title: step.at for step in runbook.steps if step.at is not None}
    assert {key: scheduled[key] for key in ("Pre-Go-Live", "Go-Live Day", "Post-Go-Live")} == {
        "Pre-Go-Live": -DAY,
        "Go-Live Day": 0.0,
        "Post-Go-Live": DAY,
    }
    assert [(step.title, len(step.items)) for step in runbook.rollback] == [
        ("Assessment", 4),
        ("Execution", 5),
        ("Post-Rollback", 4),
    ]
    # the SQL inside the tenant provisioning template is code, not a step
    assert not any("INSERT" in item.text for step in runbook.steps for item in step.items)


@needs_seeds
def test_seed_002_without_checkboxes_imports_its_numbered_procedure() -> None:
    """Seed 002 has no checkboxes: numbered items become items, their `code` sub-items kept beside them."""
    runbook = imported(seed("002"), "002.md")
    pre_deploy = runbook.step("pre_deploy_checks")
    assert len(pre_deploy.items) == 6
    assert pre_deploy.items[1].text == "Validate migration safety gate: npm run migrate:safety"
    go_no_go = runbook.step("go_no_go_criteria")
    assert go_no_go.kind is StepKind.GO_NO_GO
    assert len(go_no_go.items) == 7


@pytest.mark.parametrize(
    ("phrase", "at", "duration"),
    [
        ("T-7 days", -7 * DAY, None),
        ("T-24h", -24 * HOUR, None),
        ("T-0", 0.0, None),
        ("T+30m", 30 * MINUTE, None),
        ("T+72h", 72 * HOUR, None),
        ("(T-48h)", -48 * HOUR, None),
        ("T-24h to T0", -24 * HOUR, 24 * HOUR),
        ("T0", 0.0, None),
        ("T=0", 0.0, None),
        ("T+1 day", DAY, None),
        ("T+2 Hours", 2 * HOUR, None),
        ("T-1 hour", -HOUR, None),
        ("T-00:15", -15 * MINUTE, None),
        ("T+01:30:15", 5415.0, None),
        ("T+1h30m", 90 * MINUTE, None),
        ("T-15 min", -15 * MINUTE, None),
        ("T0+2 weeks", 14 * DAY, None),
        ("T-7d – T-3d", -7 * DAY, 4 * DAY),
    ],
)
def test_offset_phrase_styles(phrase: str, at: float, duration: float | None) -> None:
    """Each usual spelling of a T-offset is read as the same number of seconds."""
    found = find_offset(f"Step {phrase}: do it")
    assert found is not None
    assert found[:2] == (at, duration)


@pytest.mark.parametrize("text", ["T-7: freeze (unit missing)", "T-shirt order", "AT-0 meeting", "PUT+30m"])
def test_text_that_is_not_an_offset(text: str) -> None:
    """A bare number, a word starting with T-, or a T inside a word is no offset."""
    assert find_offset(text) is None


@pytest.mark.parametrize(
    ("heading", "title", "at"),
    [
        ("### 4) T-0: production deploy", "Production deploy", 0.0),
        ("## Pre-Go-Live (T-1 day)", "Pre-Go-Live", -DAY),
        ("## T+1 day", "T+24h", DAY),
        ("## 8.2 T=0 — cut over DNS", "Cut over DNS", 0.0),
    ],
)
def test_heading_with_offset_becomes_a_titled_scheduled_step(heading: str, title: str, at: float) -> None:
    """The numbering and the offset leave the title; an offset alone is the title."""
    runbook = imported(f"# Go-live\n{heading}\n- [ ] do it\n")
    assert [(step.title, step.at) for step in runbook.steps] == [(title, at)]


def test_range_gives_the_step_a_duration() -> None:
    """``T-24h to T0`` starts the step at T-24h and makes it last 24 hours."""
    runbook = imported("## Final checks (T-24h to T0)\n- [ ] on-call confirmed\n")
    assert (runbook.steps[0].at, runbook.steps[0].duration) == (-24 * HOUR, 24 * HOUR)


def test_nested_checkboxes_all_become_items() -> None:
    """``- [ ]``, ``* [ ]`` and ``+ [ ]`` nested at any depth are items, in document order."""
    runbook = imported(
        "## T-0: deploy\n"
        "- [ ] deploy backend\n"
        "  - [ ] run migrations\n"
        "    * [ ] check schema version\n"
        "* [ ] deploy frontend\n"
        "  + [ ] purge CDN\n"
    )
    assert [item.text for item in runbook.steps[0].items] == [
        "deploy backend",
        "run migrations",
        "check schema version",
        "deploy frontend",
        "purge CDN",
    ]


def test_checked_items_are_kept() -> None:
    """A ticked ``- [x]`` is part of the plan like an open one."""
    runbook = imported("## T+30m: verify\n- [x] login works\n- [X] invoices render\n- [ ] notifications sent\n")
    assert [item.text for item in runbook.steps[0].items] == ["login works", "invoices render", "notifications sent"]


def test_list_items_with_offsets_become_steps_with_their_nested_items() -> None:
    """A list item led or closed by an offset is a step; its nested checkboxes are its items."""
    runbook = imported(
        "# Cutover\n"
        "## Timeline\n"
        "- **T-48h**: freeze code\n"
        "  - [ ] tag release\n"
        "- Final rehearsal (T-24h)\n"
        "  - [ ] rehearse rollback\n"
        "  - [ ] confirm on-call\n"
        "- [ ] roll back within T+30m if errors rise\n"
    )
    steps = [(step.title, step.at, [item.text for item in step.items]) for step in runbook.steps]
    assert steps == [
        ("Timeline", None, ["roll back within T+30m if errors rise"]),
        ("Freeze code", -48 * HOUR, ["tag release"]),
        ("Final rehearsal", -24 * HOUR, ["rehearse rollback", "confirm on-call"]),
    ]


def test_evidence_and_output_lists_become_evidence_prompts() -> None:
    """Items after ``Evidence:`` or ``**Output:**`` are evidence, which is then required."""
    runbook = imported(
        "## T-3 days: staging validation\n- [ ] run smoke tests\n\nEvidence:\n\n- [ ] report saved\n"
        "## T+72h: stabilization\n- [ ] daily review\n\n**Output:**\n* daily summary\n"
    )
    staging, stabilization = runbook.steps
    assert [item.text for item in staging.items] == ["run smoke tests"]
    assert [item.text for item in staging.evidence] == ["report saved"]
    assert [item.text for item in stabilization.evidence] == ["daily summary"]
    assert staging.evidence_required and stabilization.evidence_required


def test_rollback_section_becomes_the_rollback_plan() -> None:
    """A Rollback heading and its subsections become rollback steps; the next section is a step again."""
    runbook = imported(
        "## T-0: deploy\n- [ ] deploy\n"
        "## Rollback plan\n### Decide\n1. Confirm the trigger\n2. Notify the customer\n"
        "### Execute\n- [ ] helm rollback\n"
        "## Aftercare\n- [ ] write the post-mortem\n"
    )
    assert [(step.title, [item.text for item in step.items]) for step in runbook.rollback] == [
        ("Decide", ["Confirm the trigger", "Notify the customer"]),
        ("Execute", ["helm rollback"]),
    ]
    assert [step.title for step in runbook.steps] == ["Deploy", "Aftercare"]


def test_fenced_code_and_gitbook_tags_are_ignored() -> None:
    """Checkboxes inside a code fence are not items; GitBook tags leave no trace."""
    runbook = imported(
        "{% stepper %}\n{% step %}\n### T-0: deploy {% hint %}\n- [ ] deploy backend\n"
        "```bash\n- [ ] not an item\n## T+5m: not a step\n```\n"
        "~~~\n- [ ] nor this\n~~~\n{% endstep %}\n{% endstepper %}\n"
    )
    assert [(step.title, [item.text for item in step.items]) for step in runbook.steps] == [
        ("Deploy", ["deploy backend"]),
    ]


def test_heading_without_offset_inside_a_scheduled_one_feeds_it() -> None:
    """``### Backend`` under ``## T-0: deploy`` adds its items to the T-0 step."""
    runbook = imported("## T-0: deploy\n### Backend\n- [ ] helm upgrade\n### Frontend\n- [ ] push assets\n")
    assert [(step.title, len(step.items)) for step in runbook.steps] == [("Deploy", 2)]


def test_duplicate_titles_and_items_get_unique_ids() -> None:
    """Two sections with one title and repeated item texts still load: ids are made unique."""
    runbook = imported("## Verification\n- [ ] works\n- [ ] works\n## Verification\n- [ ] works!\n")
    assert [step.id for step in runbook.steps] == ["verification", "verification_2"]
    assert [item.id for item in runbook.steps[0].items] == ["works", "works_2"]


def test_front_matter_description_is_kept_and_windows_line_endings_read() -> None:
    """GitBook front matter gives the description; CRLF files import like LF ones."""
    markdown = "---\ndescription: >-\n  Enterprise launch\n  process.\n---\n# Launch\n## T-0: deploy\n- [ ] deploy\n"
    runbook = imported(markdown.replace("\n", "\r\n"), "launch.md")
    assert runbook.description == "Enterprise launch process. Imported from launch.md."
    assert [(step.title, len(step.items)) for step in runbook.steps] == [("Deploy", 1)]


def test_name_comes_from_the_first_title_else_the_file_name() -> None:
    """The H1 names the runbook; without one the file's stem does."""
    assert imported("# Acme go-live\n## T-0\n").name == "Acme go-live"
    assert imported("## T-0\n", "acme-cutover.md").name == "acme-cutover"


def test_a_document_without_steps_is_an_error() -> None:
    """Prose alone has nothing to import: a RunbookError naming the file, not an empty runbook."""
    with pytest.raises(RunbookError, match="found no steps") as caught:
        import_markdown("# Notes\nJust prose.\n- a bullet\n", "notes.md")
    assert caught.value.file == "notes.md"


def test_import_command_writes_yaml_that_validates(tmp_path: Path) -> None:
    """``cutover-tui import FILE.md -o OUT.yaml`` writes a runbook the validate command accepts."""
    source = tmp_path / "cutover.md"
    source.write_text(
        "# Cutover\n## T-24h: go/no-go\n- [ ] gates green\n## T-0: deploy\n- [ ] deploy\n", encoding="utf-8"
    )
    output = tmp_path / "cutover.yaml"
    assert main(["import", str(source), "-o", str(output)]) == 0
    runbook = load_runbook(output)
    assert [(step.title, step.kind) for step in runbook.steps] == [
        ("Go/no-go", StepKind.GO_NO_GO),
        ("Deploy", StepKind.TASK),
    ]
    assert main(["validate", str(output)]) == 0


def test_import_command_counts_in_words_one_and_many(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The summary and the report's first line say "1 step", "1 stop condition", "1 placeholder check", not "1 steps"."""
    source = tmp_path / "launch.md"
    source.write_text(
        "## Launch criteria\n- Stop conditions (e.g., auth errors > 1% for 5 minutes):\n## T-0: deploy\n- [ ] deploy\n",
        encoding="utf-8",
    )
    assert main(["import", str(source), "-o", str(tmp_path / "launch.yaml"), "--report"]) == 0
    printed = capsys.readouterr()
    assert (
        "1 step (1 timed), 0 rollback steps, 1 item, 0 steps with an owner (0 roles), 1 stop condition, " in printed.out
    )
    assert "0 go/no-go or approval steps, 0 escalation levels" in printed.out
    assert "step 'Deploy', at T-0, 1 item\n" in printed.out
    assert printed.err.rstrip().endswith("1 step, 0 rollback steps, 1 stop condition (1 placeholder check to wire)")


def test_counted_says_one_without_the_plural() -> None:
    """``counted``: the number, then the noun, plural unless the number is one (or the plural given)."""
    assert [counted(n, "stop condition") for n in (0, 1, 2)] == ["0 stop conditions", "1 stop condition",
                                                                 "2 stop conditions"]  # fmt: skip
    assert counted(1, "go/no-go or approval step") == "1 go/no-go or approval step"
    assert counted(3, "spell", "spells") == "3 spells"
    assert counted(2, "series", "series") == "2 series"


def test_import_command_prints_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without -o the YAML goes to stdout."""
    source = tmp_path / "cutover.md"
    source.write_text("## T+30m: verify\n- [ ] login\n", encoding="utf-8")
    assert main(["import", str(source)]) == 0
    assert parse_runbook(capsys.readouterr().out).steps[0].at == 30 * MINUTE


def test_import_command_exits_2_on_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file that cannot be read is a located error and exit status 2."""
    assert main(["import", str(tmp_path / "absent.md")]) == 2
    assert "absent.md: error: cannot read the document" in capsys.readouterr().err


def test_module_examples_hold() -> None:
    """The examples in the module's docstrings run as written."""
    assert doctest.testmod(markdown_import).failed == 0
