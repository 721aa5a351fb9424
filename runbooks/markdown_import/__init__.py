"""Markdown runbooks to runbook YAML (``cutover-tui import FILE.md [--report]``).

Teams arrive with Markdown runbooks: checklists, run-of-show timelines,
tables, rollback plans. The importer reads their plan:

- headings, and bold lines standing alone (one level below the heading
  above), are sections; a section, list item or table row led by an offset
  is a step at that offset;
- offsets in every dress: ``T-30m``, ``T-30`` with the unit from the text
  around it (``(minutes)`` in a heading, "times in minutes"), lists
  (``T+15, T+30, T+45``, one step each), ranges (``T+1 to T+7 days``: start
  and duration), ``T−1 day``, ``T=0``, ``D-1``, ``H-2``, ``L-24h``, ``Day 1-2``
  in a hypercare schedule, and clock times (``06:00``, ``9am WAT``,
  ``00:00 - 01:00``) relative to a stated go-live (``Go-Live: 2026-02-01
  00:00 UTC`` sets ``t0`` and ``timezone``);
- checkboxes are items; where a section has none, its numbered or
  imperative bullets are (decided per section); sub-bullets stay with their
  item, code blocks go to the step's notes (never run);
- owners (``Owner: X``, ``**Owner**: X``, ``(Owner: X, Due: …)``, ``— @x``,
  an Owner column) become roles; a roles section adds roles and names;
- thresholds under rollback, abort, trigger or alert headings, or on a line
  that says "roll back if", become stop conditions (``when``, ``for``,
  ``action``) on placeholder checks that read ``unknown — not wired`` until a
  probe replaces them;
- go/no-go, gate, decision and criteria headings make ``go_no_go`` steps;
  a quoted phrase to type ("APPROVE PROD DEPLOY") an ``approval`` step;
- only a rollback section is the rollback plan (its trigger subsections
  are stop conditions); drills and rollback tests are forward steps;
- durations, escalation tables and lists, and weighted scorecards are read;
- timed steps are sorted by offset, untimed ones stay in place.

Every YAML element carries a comment naming its source line, and
``--report`` lists what was understood, what was kept only as notes or
skipped, and the warnings (an offset without a unit is one, never a silent
drop).

>>> print(import_markdown("# Go-live\\n## T-0: deploy\\n- [ ] helm upgrade\\n", "go-live.md"), end="")  # doctest: +ELLIPSIS
# Imported from go-live.md ...
...
steps:
  - id: deploy  # go-live.md:2
    title: Deploy
    at: T-0  # go-live.md:2
    items:
      - helm upgrade  # go-live.md:3
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

from runbooks.errors import RunbookError
from runbooks.grammar import counted
from runbooks.loader import parse_runbook
from runbooks.markdown_import import emit
from runbooks.markdown_import.builder import Builder
from runbooks.markdown_import.plan import Plan
from runbooks.markdown_import.timing import Offset
from runbooks.markdown_import.timing import find_offset as _find_offset

__all__ = ["find_offset", "import_command", "import_markdown", "read_plan"]

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<yaml>.*?)\n---[ \t]*(?:\n|\Z)", re.S)


def read_plan(text: str, source_name: str) -> Plan:
    """The plan of a Markdown runbook, every element with its source line.

    Raises:
        RunbookError: the document has no step at all.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    front, body, first_line = _split_front_matter(text)
    description = " ".join(
        part for part in (_front_matter_description(front), f"Imported from {Path(source_name).name}.") if part
    )
    plan = Builder(body, source_name, first_line, Path(source_name).stem or "Imported runbook", description).build()
    if not plan.steps:
        raise RunbookError(
            "found no steps: no heading or list item with an offset, no checklist items, no action lists",
            file=source_name,
            hint="mark steps with headings such as '## T-0: deploy' and items with '- [ ] ...'",
        )
    return plan


def import_markdown(text: str, source_name: str) -> str:
    """The runbook YAML for a Markdown runbook; ``runbooks.loader.parse_runbook`` accepts it.

    Raises:
        RunbookError: the document has no step at all.
    """
    return emit.to_yaml(read_plan(text, source_name), source_name)


def import_report(text: str, source_name: str) -> str:
    """The ``--report`` text for a Markdown runbook."""
    return emit.report(read_plan(text, source_name), source_name)


def import_command(args: argparse.Namespace) -> int:
    """``cutover-tui import FILE.md [-o OUT.yaml] [--report]``: print or write the YAML (validated first)."""
    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise RunbookError(f"cannot read the document: {error.strerror or error}", file=args.file) from None
    except UnicodeDecodeError:
        raise RunbookError("the document is not UTF-8 text", file=args.file, hint="save it as UTF-8") from None
    plan = read_plan(text, args.file)
    yaml_text = emit.to_yaml(plan, args.file)
    runbook = parse_runbook(yaml_text, args.output or "<imported>")
    if getattr(args, "report", False):
        target = sys.stdout if args.output else sys.stderr
        target.write(emit.report(plan, args.file))
    if not args.output:
        sys.stdout.write(yaml_text)
        return 0
    Path(args.output).write_text(yaml_text, encoding="utf-8")
    print(
        f"wrote {args.output}: {counted(len(runbook.steps), 'step')}, {counted(len(runbook.rollback), 'rollback step')}, "
        f"{counted(len(runbook.stop_conditions), 'stop condition')} "
        f"({counted(len(runbook.warnings), 'placeholder check')} to wire)",
        file=sys.stderr,
    )
    return 0


def find_offset(text: str, unit: float | None = None) -> tuple[float, float | None, Offset] | None:
    """The first T-offset in ``text``: seconds from T0, the duration of a range, and the match.

    >>> find_offset("Pre-launch checks (T-24h to T0)")[:2]
    (-86400.0, 86400.0)
    """
    found = _find_offset(text, unit)
    return None if found is None or found.at is None else (found.at, found.duration, found)


def _split_front_matter(text: str) -> tuple[str, str, int]:
    match = _FRONT_MATTER.match(text)
    if match is None:
        return "", text, 1
    return match["yaml"], text[match.end() :], text[: match.end()].count("\n") + 1


def _front_matter_description(front_matter: str) -> str:
    try:
        data = yaml.safe_load(front_matter) if front_matter else None
    except yaml.YAMLError:
        return ""
    description = data.get("description") if isinstance(data, dict) else None
    return " ".join(description.split()) if isinstance(description, str) else ""
