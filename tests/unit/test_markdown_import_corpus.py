"""The importer against runbooks converted by hand: the corpus, the five seeds, placeholders, the report."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

from checks.clock import ManualClock
from checks.conditions import ConditionEvaluator
from checks.probes import ProbeContext, run_probe
from checks.reading import Outcome
from checks.status import ConditionState
from cutover_tui.cli import main
from runbooks.loader import parse_runbook
from runbooks.markdown_import import import_markdown, import_report
from runbooks.model import Action, Runbook, StepKind

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted((ROOT / "tests" / "import_corpus").glob("*.md"))
SEEDS = sorted((ROOT / "tests" / "seeds").glob("*.txt"))
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0

sys.path.insert(0, str(ROOT))  # benchmarks/ is not an installed package
from benchmarks import import_fidelity  # noqa: E402


def imported(markdown: str, name: str = "runbook.md") -> Runbook:
    return parse_runbook(import_markdown(markdown, name), name)


def seed(number: str) -> Runbook:
    path = next(p for p in SEEDS if p.name.startswith(number))
    return imported(path.read_text(encoding="utf-8"), path.name)


# -- the corpus ----------------------------------------------------------------------


def test_the_corpus_has_at_least_fifteen_runbooks_each_with_its_expectation() -> None:
    """Fifteen or more Markdown runbooks, each beside the YAML a commander wrote from it."""
    assert len(CORPUS) >= 15
    assert all(path.with_suffix(".yaml").exists() for path in CORPUS)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_corpus_runbook_imports_to_its_expectation(path: Path) -> None:
    """Each corpus runbook validates, invents no step and keeps at least 75% of each field (the goals hold overall)."""
    score = import_fidelity.measure(path)
    assert score.valid, score.error
    assert score.invented == []
    for field_name in import_fidelity.FIELDS:
        if score.expected[field_name]:
            assert 100.0 * score.found[field_name] / score.expected[field_name] >= 75.0, (field_name, score.missed)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_every_yaml_element_names_its_source_line(path: Path) -> None:
    """Every step, item, role, check and stop condition line carries '# FILE:LINE' of a real line."""
    text = import_markdown(path.read_text(encoding="utf-8"), path.name)
    source_lines = len(path.read_text(encoding="utf-8").splitlines())
    element = re.compile(r"^(?:  - id: |      - |  [a-z0-9_]+: |  [a-z0-9_]+:$|  - severity: )")
    for line in text.splitlines():
        if element.match(line):
            found = re.search(rf"  # {re.escape(path.name)}:(\d+)$", line)
            assert found, line
            assert 1 <= int(found.group(1)) <= source_lines


def test_the_benchmark_reports_every_declared_figure() -> None:
    """`python -m benchmarks import_fidelity` measures every field over the corpus, with per-fixture details."""
    result = import_fidelity.run(quick=True)
    assert [figure.key for figure in result.figures] == list(import_fidelity.FIGURES)
    assert all(figure.value is not None for figure in result.figures)
    assert all(figure.met for figure in result.figures), [(f.key, f.value) for f in result.figures]
    assert len(result.details) == len(CORPUS)


# -- the seeds, against hand-written expectations -----------------------------------------


def test_seed_000_keeps_its_cutover_gates_and_approval_phrase() -> None:
    """Seed 000: six timed cutover steps, gates A-E as go/no-go, 'APPROVE PROD DEPLOY' as an approval step."""
    runbook = seed("000")
    assert [(s.title, s.at) for s in runbook.steps if s.at is not None] == [
        ("Change freeze starts", -7 * DAY),
        ("Staging final validation", -3 * DAY),
        ("Final go/no-go", -DAY),
        ("Production deploy", 0.0),
        ("Production verification", 30 * MINUTE),
        ("Stabilization", 72 * HOUR),
    ]
    gates = [s for s in runbook.steps if s.title.startswith("Gate ")]
    assert len(gates) == 5 and all(s.kind is StepKind.GO_NO_GO for s in gates)
    assert runbook.step("final_go_no_go").kind is StepKind.GO_NO_GO
    assert [s.phrase for s in runbook.steps if s.kind is StepKind.APPROVAL] == ["APPROVE PROD DEPLOY"]
    assert not any(s.title.startswith(("Reality check", "What the agent", "Environments")) for s in runbook.steps)


def test_seed_001_stop_condition_section_becomes_a_rollback_stop_condition() -> None:
    """Seed 001's 'auth errors > 1% for 5 minutes' is a rollback condition on a placeholder check; its gates are go/no-go."""
    runbook = seed("001")
    [condition] = runbook.stop_conditions
    assert (condition.when.op, condition.when.value, condition.for_, condition.action) == (
        ">",
        0.01,
        300.0,
        Action.ROLLBACK,
    )
    assert runbook.checks[condition.check].kind == "placeholder"
    gates = {s.title for s in runbook.steps if s.kind is StepKind.GO_NO_GO}
    assert gates == {"Security + Compliance Gate", "Configuration Gate", "Infrastructure Gate (Helm)"}
    assert len(runbook.warnings) == 1 and "not wired" in runbook.warnings[0]


def test_seed_002_incident_actions_keep_their_content() -> None:
    """Seed 002's incident handling items carry their sub-steps; the go/no-go criteria are seven items."""
    runbook = seed("002")
    incident = runbook.step("incident_handling")
    assert [item.text.split(":")[0] for item in incident.items] == [
        "For customer-visible incidents",
        "For integration failures",
        "For authorization/security anomalies",
        "For deployment regressions",
    ]
    assert "Revoke suspicious sessions" in incident.items[2].text
    assert "GET /api/status/incidents" in incident.items[0].text
    criteria = runbook.step("go_no_go_criteria")
    assert criteria.kind is StepKind.GO_NO_GO and len(criteria.items) == 7
    assert runbook.step("pre_deploy_checks").items[1].text == "Validate migration safety gate: npm run migrate:safety"


def test_seed_003_owners_hypercare_thresholds_and_escalation() -> None:
    """Seed 003: table owners become roles, the hypercare days are offsets, alert thresholds warn, L1-P0 escalate."""
    runbook = seed("003")
    hypercare = {
        s.title: (s.at, s.duration, runbook.roles[s.owner])
        for s in runbook.steps
        if s.title.startswith(("Active monitoring", "Daily check-ins", "Bi-weekly", "Standard support"))
    }
    assert hypercare["Active monitoring, immediate support"] == (0.0, 2 * DAY, "Engineering")
    assert hypercare["Daily check-ins, issue resolution"] == (2 * DAY, 3 * DAY, "Customer Success")
    assert hypercare["Standard support"][0] == 14 * DAY
    conditions = {(c.when.text, c.action) for c in runbook.stop_conditions}
    assert conditions == {("< 95%", Action.WARN), ("> 1%", Action.WARN), ("> 1s", Action.WARN)}
    assert [(level.severity, level.respond_within) for level in runbook.escalation] == [
        ("L1", 4 * HOUR),
        ("L2", 2 * HOUR),
        ("L3", HOUR),
        ("P0", 30 * MINUTE),
    ]
    assert [s.title for s in runbook.rollback] == ["Assessment", "Execution", "Post-Rollback"]


def test_seed_004_scorecard_escalation_roles_and_decision_points() -> None:
    """Seed 004: the weighted scorecard, the P0-P3 escalation matrix, the contact roles and the go/no-go points."""
    runbook = seed("004")
    assert runbook.scorecard is not None
    assert [c.weight for c in runbook.scorecard.categories] == [25, 20, 20, 15, 10, 5, 5]
    assert [level.severity for level in runbook.escalation] == ["P0", "P1", "P2", "P3"]
    assert {"CTO", "Security Lead", "DevOps Lead"} <= set(runbook.roles.values())
    decision = runbook.step("go_no_go_decision_points")
    assert decision.kind is StepKind.GO_NO_GO and len(decision.items) == 4
    assert not runbook.rollback  # "Automated Rollback System" is a feature, not the rollback plan


# -- reading the plan ----------------------------------------------------------------------------


def test_bold_lines_are_steps_one_level_down_with_units_from_the_document() -> None:
    """`**T-45 mins: Backend**` and `**T-30: Frontend**` (unit from the text) are steps, not items of the parent."""
    runbook = imported(
        "# Launch\nTimes are in minutes relative to T0.\n## Pre-launch\n**T-45 mins: Backend**\n- [ ] deploy\n"
        "**T-30: Frontend**\n- [ ] publish\n"
    )
    assert [(s.title, s.at, [i.text for i in s.items]) for s in runbook.steps] == [
        ("Backend", -45 * MINUTE, ["deploy"]),
        ("Frontend", -30 * MINUTE, ["publish"]),
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("- T+15, T+30, T+45: check dashboards", [15 * MINUTE, 30 * MINUTE, 45 * MINUTE]),
        ("- D-1: pre-checks", [-DAY]),
        ("- H-2: bridge opens", [-2 * HOUR]),
        ("- L-24h: readiness review", [-DAY]),
        ("- T−1 day: data load", [-DAY]),
        ("- T=0: go live", [0.0]),
    ],
)
def test_offsets_in_every_dress(line: str, expected: list[float]) -> None:
    """Lists of offsets make one step each; D-, H-, L- and the minus sign read as offsets."""
    runbook = imported(f"# Plan\nAll offsets are in minutes.\n## Timeline\n{line}\n")
    assert [s.at for s in runbook.steps] == expected


def test_a_range_gives_start_and_duration_with_the_unit_at_its_end() -> None:
    """`T+1 to T+7 days` starts at T+1d and lasts six days."""
    runbook = imported("## T+1 to T+7 days: Hypercare\n- [ ] daily triage\n")
    assert (runbook.steps[0].at, runbook.steps[0].duration) == (DAY, 6 * DAY)


def test_clock_times_count_from_a_stated_go_live_with_its_zone() -> None:
    """`Go-Live: 2026-02-01 09:00 WAT` sets t0 and the zone; 06:00 and `12:00 - 13:00` become offsets."""
    runbook = imported(
        "# Launch\n**Go-live**: 2026-02-01 09:00 WAT\n## Schedule\n- 06:00 — War room opens\n"
        "- 9am WAT — Publish\n- 12:00 - 13:00 — Surge staffing\n"
    )
    assert runbook.t0.isoformat() == "2026-02-01T09:00:00+01:00" and runbook.timezone == "Africa/Lagos"
    assert [(s.at, s.duration) for s in runbook.steps] == [(-3 * HOUR, None), (0.0, None), (3 * HOUR, HOUR)]


def test_references_inside_sentences_and_fences_are_not_steps() -> None:
    """ "by T-2h", "due", "e.g." and offsets in a fenced example make no step."""
    runbook = imported(
        "# Switch\n## Timeline\n- T0: send the campaign\n## Notes\nSend the heads-up at T-4h.\n"
        "- [ ] Send the reminder by T-2h\n```text\nT-30m  example only\n```\n"
    )
    assert [s.title for s in runbook.steps if s.at is not None] == ["Send the campaign"]


def test_an_offset_without_a_unit_is_a_warning_not_a_silent_drop() -> None:
    """`T-30` with no unit anywhere keeps its step untimed and the report warns with the line."""
    markdown = "# Plan\n## Timeline\n- T-30: announce\n"
    assert imported(markdown).steps[0].at is None
    report = import_report(markdown, "plan.md")
    assert re.search(r"warnings:\n  plan\.md:3  'T-30' has no unit", report)


def test_owners_in_many_spellings_share_roles() -> None:
    """`Owner:`, `**Owner**:`, `(Owner: X, Due: …)`, an alias in brackets and a person's name map to one role each."""
    runbook = imported(
        "# R\n## Roles\n- **SRE Lead (Launch Commander)**: Alex Kim\n"
        "## T-30m: deploy\n- [ ] helm upgrade\nOwner: Alex\n"
        "## T-10m: verify\n- [ ] smoke\n**Owner**: Launch Commander\n"
        "## T0: flip (Owner: Dana, Due: T-1d)\n- [ ] flag on\n"
    )
    assert [runbook.roles[s.owner] for s in runbook.steps] == ["SRE Lead (Launch Commander)"] * 2 + ["Dana"]


def test_trigger_thresholds_become_stop_conditions_and_other_lines_notes() -> None:
    """Under a rollback-triggers heading, '> 2% sustained for 5 minutes' and '≥ 90%' become conditions; prose stays a note."""
    runbook = imported(
        "# R\n## T0: deploy\n- [ ] deploy\n## Rollback triggers\n"
        "- Error rate > 2% sustained for 5 minutes\n- CPU ≥ 90% for 10 min\n- Any data loss\n"
        "## Rollback plan\n1. Revert\n"
    )
    assert [(c.when.text, c.for_, c.action) for c in runbook.stop_conditions] == [
        ("> 2%", 300.0, Action.ROLLBACK),
        (">= 90%", 600.0, Action.ROLLBACK),
    ]
    assert [s.title for s in runbook.rollback] == ["Rollback plan"]


def test_a_title_with_rollback_does_not_make_the_file_a_rollback_plan() -> None:
    """The H1 'Deployment and Rollback Runbook' and a 'Rollback testing' section stay forward steps."""
    runbook = imported(
        "# Deployment and Rollback Runbook\n## Deploy\n- [ ] deploy\n## Rollback testing\n- [ ] test it\n"
    )
    assert [s.title for s in runbook.steps] == ["Deploy", "Rollback testing"] and not runbook.rollback


def test_timed_steps_are_sorted_with_a_warning() -> None:
    """Steps out of offset order are sorted; the report says so."""
    markdown = "# R\n## T+1h: later\n- [ ] b\n## T-1h: earlier\n- [ ] a\n"
    assert [s.at for s in imported(markdown).steps] == [-HOUR, HOUR]
    assert "steps sorted by their offsets" in import_report(markdown, "r.md")


# -- the placeholder check --------------------------------------------------------------------------


def test_a_placeholder_check_polls_as_unknown_not_wired_whatever_on_nodata_says() -> None:
    """Polling a placeholder is final no data 'not wired'; its condition is unknown even with on_nodata: pass."""
    runbook = parse_runbook(
        "name: p\nchecks:\n  errors: {placeholder: Error rate, on_nodata: pass}\n"
        "stop_conditions:\n  - {id: errors_high, check: errors, when: '> 5%', action: rollback}\n"
    )
    check = runbook.checks["errors"]
    clock = ManualClock()

    async def poll():
        ctx = ProbeContext(runbook, clock=clock)
        try:
            return await run_probe(check, ctx)
        finally:
            await ctx.aclose()

    reading = asyncio.run(poll())
    assert (reading.outcome, reading.detail) == (Outcome.NODATA, "not wired")
    status = ConditionEvaluator(runbook.condition("errors_high"), check, clock).observe(reading)
    assert (status.state, status.reason) == (ConditionState.UNKNOWN, "not wired")


def test_validate_warns_about_placeholders_and_strict_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`validate` exits 0 with a located warning; `validate --strict` exits 2 on it."""
    path = tmp_path / "r.yaml"
    path.write_text("name: r\nchecks:\n  errors:\n    placeholder: Error rate\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    assert "1 warning" in captured.out
    assert f"{path}:4:18: warning: check 'errors' is a placeholder, not wired" in captured.err
    assert main(["validate", "--strict", str(path)]) == 2


def test_import_report_lists_understood_notes_skipped_and_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`import FILE.md --report` prints each understood element, note and skip with FILE:LINE, beside the YAML."""
    source = CORPUS[0]
    output = tmp_path / "out.yaml"
    assert main(["import", str(source), "-o", str(output), "--report"]) == 0
    out = capsys.readouterr().out
    assert f"{source.name}:12  step 'Backend Deployment', at T-45m, owner sre_lead, 2 items" in out
    assert "stop condition 'Payment error rate > 2% sustained for 5 minutes'" in out
    assert "kept only as notes:" in out and "skipped:" in out and "warnings:" in out
    assert main(["validate", str(output)]) == 0
