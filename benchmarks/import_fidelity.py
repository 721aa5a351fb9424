"""Markdown import fidelity: what the importer keeps of runbooks a commander converted by hand.

Usage::

    python -m benchmarks import_fidelity [--quick]   # in the benchmark table, against the goals
    python -m benchmarks.import_fidelity              # per-fixture figures only

Each ``tests/import_corpus/NAME.md`` has ``NAME.yaml`` beside it: the runbook
a careful commander wrote from it by hand. The benchmark imports the Markdown,
validates the YAML with the real loader, and compares it with the expectation:

- steps are paired by title (similarity of the words, an equal offset helps);
  an imported step paired with no expected one is *invented*;
- offsets: expected steps with ``at`` whose paired step has the same ``at``;
- owners: expected steps with an owner whose paired step's owner role has the
  same title (or one naming the other);
- stop conditions: expected conditions matched by ``when``, ``for`` and ``action``;
- go/no-go: expected ``go_no_go`` and ``approval`` steps paired with a step of
  the same kind (and phrase);
- items: expected checklist items and evidence prompts found, word for word
  (case and punctuation aside), anywhere in the import.

Figures are recalls in percent over the whole corpus; per-fixture counts are
printed and kept in the details. Quick mode measures the same corpus (it takes
well under a second).
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import Figure, Result
from runbooks.errors import RunbookError
from runbooks.loader import parse_runbook
from runbooks.markdown_import import import_markdown
from runbooks.model import Runbook, Step

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "import_corpus"
FIGURES = ("offsets", "owners", "stop_conditions", "go_no_go", "items", "invented_steps", "valid_outputs")
FIELDS = ("offsets", "owners", "stop_conditions", "go_no_go", "items")
GOALS = {"offsets": 90.0, "owners": 90.0, "stop_conditions": 80.0, "go_no_go": 80.0, "items": 98.0}


@dataclass
class Score:
    """Found / expected per field for one fixture, the invented steps, and whether the output validated."""

    name: str
    found: Counter[str] = field(default_factory=Counter)
    expected: Counter[str] = field(default_factory=Counter)
    invented: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    valid: bool = False
    error: str = ""


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _role_title(runbook: Runbook, role: str | None) -> str:
    return _words(runbook.roles.get(role, role) if role else "")


def _pair(expected: list[Step], imported: list[Step]) -> dict[int, Step]:
    """Expected step index -> imported step, by title similarity (equal offsets help)."""
    pairs: dict[int, Step] = {}
    free = list(imported)
    for index, want in enumerate(expected):
        best, best_score = None, 0.0
        for candidate in free:
            score = difflib.SequenceMatcher(None, _words(want.title), _words(candidate.title)).ratio()
            if want.at is not None and candidate.at == want.at:
                score += 0.3
            if score > best_score:
                best, best_score = candidate, score
        if best is not None and best_score >= 0.6:
            pairs[index] = best
            free.remove(best)
    return pairs


def compare(expected: Runbook, imported: Runbook, name: str) -> Score:
    """The fidelity of ``imported`` against the hand-written ``expected``."""
    score = Score(name, valid=True)
    for want_list, got_list in ((list(expected.steps), list(imported.steps)), (list(expected.rollback), list(imported.rollback))):
        pairs = _pair(want_list, got_list)
        paired = set(map(id, pairs.values()))
        score.invented += [step.title for step in got_list if id(step) not in paired]
        for index, want in enumerate(want_list):
            got = pairs.get(index)
            if got is None:
                score.missed.append(f"step '{want.title}'")
            if want.at is not None:
                score.expected["offsets"] += 1
                score.found["offsets"] += got is not None and got.at == want.at
            if want.owner is not None:
                score.expected["owners"] += 1
                want_role, got_role = _role_title(expected, want.owner), _role_title(imported, got.owner if got else None)
                score.found["owners"] += bool(got_role) and (want_role == got_role or want_role in got_role or got_role in want_role)
            if want.kind.value != "task":
                score.expected["go_no_go"] += 1
                score.found["go_no_go"] += got is not None and got.kind == want.kind and got.phrase == want.phrase
    remaining = list(imported.stop_conditions)
    for want in expected.stop_conditions:
        score.expected["stop_conditions"] += 1
        match = next((c for c in remaining if c.when is not None and want.when is not None
                      and (c.when.op, round(c.when.value, 9)) == (want.when.op, round(want.when.value, 9))
                      and c.for_ == want.for_ and c.action == want.action), None)
        if match is not None:
            remaining.remove(match)
            score.found["stop_conditions"] += 1
        else:
            score.missed.append(f"stop condition '{want.title or want.id}'")
    got_items = Counter(_words(item.text) for step in (*imported.steps, *imported.rollback) for item in (*step.items, *step.evidence))
    for step in (*expected.steps, *expected.rollback):
        for item in (*step.items, *step.evidence):
            score.expected["items"] += 1
            key = _words(item.text)
            if got_items[key] > 0:
                got_items[key] -= 1
                score.found["items"] += 1
            else:
                score.missed.append(f"item '{item.text}'")
    return score


def measure(path: Path) -> Score:
    """Import one fixture and compare it with its expectation (``NAME.yaml`` beside it)."""
    expected = parse_runbook(path.with_suffix(".yaml").read_text(encoding="utf-8"), str(path.with_suffix(".yaml")))
    try:
        imported = parse_runbook(import_markdown(path.read_text(encoding="utf-8"), path.name), path.name)
    except RunbookError as error:
        score = Score(path.stem, error=error.format())
        for field_name in FIELDS:
            score.expected[field_name] = 1
        return score
    return compare(expected, imported, path.stem)


def fixtures() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*.md") if p.with_suffix(".yaml").exists())


def _percent(found: int, expected: int) -> float | None:
    return None if expected == 0 else round(100.0 * found / expected, 1)


def run(quick: bool) -> Result:
    scores = [measure(path) for path in fixtures()]
    header = f"{'fixture':36} " + " ".join(f"{name:>15}" for name in FIELDS) + f" {'invented':>8} valid"
    print(header)
    for score in scores:
        cells = " ".join(f"{score.found[f]:>7}/{score.expected[f]:<7}" for f in FIELDS)
        print(f"{score.name:36} {cells} {len(score.invented):>8} {'yes' if score.valid else 'NO'}")
    totals_found = sum((s.found for s in scores), Counter())
    totals_expected = sum((s.expected for s in scores), Counter())
    print(f"{'total':36} " + " ".join(f"{totals_found[f]:>7}/{totals_expected[f]:<7}" for f in FIELDS)
          + f" {sum(len(s.invented) for s in scores):>8} {sum(s.valid for s in scores)}/{len(scores)}")
    figures = [
        Figure(field_name, f"{field_name.replace('_', ' ')} recall", _percent(totals_found[field_name], totals_expected[field_name]),
               "%", at_least=GOALS[field_name])
        for field_name in FIELDS
    ]
    figures.append(Figure("invented_steps", "invented steps", float(sum(len(s.invented) for s in scores)), "", at_most=0.0))
    figures.append(Figure("valid_outputs", "outputs that validate", _percent(sum(s.valid for s in scores), len(scores)), "%", at_least=100.0))
    notes = [f"{len(scores)} fixtures in tests/import_corpus/, each against the YAML a commander wrote by hand"]
    for score in scores:
        if score.invented:
            notes.append(f"{score.name}: invented {', '.join(repr(t) for t in score.invented)}")
        if score.error:
            notes.append(f"{score.name}: {score.error}")
    details = {s.name: {"found": dict(s.found), "expected": dict(s.expected), "invented": s.invented,
                        "missed": s.missed, "valid": s.valid} for s in scores}
    return Result(figures, notes, details)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the same corpus (kept for the runner's interface)")
    parser.add_argument("--missed", action="store_true", help="list what each fixture missed")
    args = parser.parse_args(argv)
    result = run(args.quick)
    if args.missed:
        for name, detail in result.details.items():
            for what in detail["missed"]:
                print(f"{name}: missed {what}")
    for note in result.notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
