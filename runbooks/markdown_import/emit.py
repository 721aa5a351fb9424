"""The plan as runbook YAML with a source-line comment on every element, and as a report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from runbooks.grammar import counted, format_duration, format_offset
from runbooks.loader import slug
from runbooks.markdown_import.plan import Item, Plan, Step


def scalar(value: object) -> str:
    """A YAML scalar: plain when it reads back as the same string, else double-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:g}"
    text = str(value)
    if (
        text
        and "\n" not in text
        and " #" not in text
        and ": " not in text
        and not text.endswith(":")
        and text == text.strip()
    ):
        try:
            if yaml.safe_load(f"k: {text}") == {"k": text} and not re.match(r"^[-?:,\[\]{}#&*!|>'\"%@`]", text):
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text, ensure_ascii=False)


class Writer:
    def __init__(self, source: str) -> None:
        self.source = Path(source).name
        self.lines: list[str] = []

    def at(self, line: int | None) -> str:
        return f"  # {self.source}:{line}" if line else ""

    def add(self, text: str, line: int | None = None) -> None:
        self.lines.append(text + self.at(line))

    def block(self, indent: str, key: str, text: str, line: int | None) -> None:
        """A multi-line string as a literal block (or quoted, when a line starts with a space)."""
        if "\n" not in text or any(part[:1].isspace() for part in text.split("\n") if part) or text != text.strip():
            self.add(f"{indent}{key}: {scalar(text)}", line)
            return
        self.add(f"{indent}{key}: |-", line)
        for part in text.split("\n"):
            self.lines.append(f"{indent}  {part}".rstrip())


def to_yaml(plan: Plan, source: str) -> str:
    w = Writer(source)
    w.add(f"# Imported from {Path(source).name} by cutover-tui import; each comment names the source line.")
    w.add(
        "# Checks marked 'placeholder' are not wired: their stop conditions read unknown until a probe replaces them."
    )
    w.add(f"name: {scalar(plan.name)}", plan.name_line)
    w.add(f"description: {scalar(plan.description)}")
    if plan.t0 is not None:
        w.add(f"t0: {plan.t0.isoformat()}", plan.t0_line)
        w.add(f"timezone: {scalar(plan.timezone)}", plan.t0_line)
    if plan.roles:
        w.add("roles:")
        for role_id, (title, line) in plan.roles.items():
            w.add(f"  {role_id}: {scalar(title)}", line)
    if plan.checks:
        w.add("checks:")
        for check in plan.checks.values():
            w.add(f"  {check.id}:", check.line)
            w.add(f"    placeholder: {scalar(check.what)}")
            w.add(f"    title: {scalar(check.what)}")
            if check.unit:
                w.add(f"    unit: {scalar(check.unit)}")
    if plan.escalation:
        w.add("escalation:")
        seen: set[str] = set()
        for level in plan.escalation:
            if level.severity in seen:
                continue
            seen.add(level.severity)
            w.add(f"  - severity: {scalar(level.severity)}", level.line)
            if level.respond_within is not None:
                w.add(f"    respond_within: {format_duration(level.respond_within)}")
            if level.escalate_to:
                w.add(f"    escalate_to: {scalar(level.escalate_to)}")
            if level.description:
                w.add(f"    description: {scalar(level.description)}")
    if plan.conditions:
        w.add("stop_conditions:")
        for condition in plan.conditions:
            w.add(f"  - id: {condition.id}", condition.line)
            w.add(f"    title: {scalar(condition.title)}")
            w.add(f"    check: {condition.check}")
            w.add(f"    when: {json.dumps(condition.when, ensure_ascii=False)}")
            if condition.for_:
                w.add(f"    for: {format_duration(condition.for_)}")
            w.add(f"    action: {condition.action}")
    taken: set[str] = set()
    forward = [s for s in plan.steps if not s.rollback]
    rollback = [s for s in plan.steps if s.rollback]
    condition_ids = {c.id for c in plan.conditions}
    if forward:
        w.add("steps:")
        for step in forward:
            _step(w, step, taken, condition_ids)
    if rollback:
        w.add("rollback:")
        for step in rollback:
            _step(w, step, taken, condition_ids)
    total = sum(c.weight for c in plan.scorecard)
    if plan.scorecard and abs(total - 100) < 1e-6:
        w.add("scorecard:")
        if plan.scorecard_go is not None:
            w.add(f"  go: {plan.scorecard_go:g}")
        if plan.scorecard_conditional is not None and (
            plan.scorecard_go is None or plan.scorecard_conditional <= plan.scorecard_go
        ):
            w.add(f"  conditional: {plan.scorecard_conditional:g}")
        w.add("  categories:")
        for category in plan.scorecard:
            w.add(f"    - {{title: {scalar(category.title)}, weight: {category.weight:g}}}", category.line)
    return "\n".join(w.lines) + "\n"


def _step(w: Writer, step: Step, taken: set[str], condition_ids: set[str]) -> None:
    base = slug(step.title) or "step"
    step_id, number = base, 2
    while step_id in taken:
        step_id, number = f"{base}_{number}", number + 1
    taken.add(step_id)
    w.add(f"  - id: {step_id}", step.line)
    w.add(f"    title: {scalar(step.title)}")
    if step.at is not None:
        w.add(f"    at: {format_offset(step.at)}", step.at_line)
    if step.duration is not None and step.duration > 0:
        w.add(f"    duration: {format_duration(step.duration)}", step.duration_line)
    if step.owner is not None:
        w.add(f"    owner: {step.owner}", step.owner_line)
    if step.kind != "task":
        w.add(f"    kind: {step.kind}", step.kind_line)
        if step.kind == "approval":
            w.add(f"    phrase: {scalar(step.phrase)}", step.kind_line)
    if step.items:
        w.add("    items:")
        _items(w, step.items)
    if step.evidence:
        w.add("    evidence:")
        _items(w, step.evidence)
    watch = [c for c in dict.fromkeys(step.watch) if c in condition_ids]
    if watch:
        w.add(f"    watch: [{', '.join(watch)}]")
    if step.notes:
        w.block("    ", "notes", "\n".join(step.notes), step.notes_line)


def _items(w: Writer, items: list[Item]) -> None:
    taken: set[str] = set()
    for index, item in enumerate(items):
        derived = slug(item.text) or str(index + 1)
        if derived in taken:
            unique, number = derived, 2
            while unique in taken:
                unique, number = f"{derived}_{number}", number + 1
            taken.add(unique)
            w.add(f"      - {{id: {unique}, text: {scalar(item.text)}}}", item.line)
        else:
            taken.add(derived)
            w.add(f"      - {scalar(item.text)}", item.line)


def report(plan: Plan, source: str) -> str:
    """What was understood, kept only as notes, skipped, and the warnings, each with its line."""
    name = Path(source).name
    forward = [s for s in plan.steps if not s.rollback]
    rollback = [s for s in plan.steps if s.rollback]
    items = sum(len(s.items) for s in plan.steps)
    owned = sum(1 for s in plan.steps if s.owner)
    gates = [s for s in plan.steps if s.kind != "task"]
    lines = [
        f"{name}: {counted(len(forward), 'step')} ({sum(1 for s in forward if s.at is not None)} timed), "
        f"{counted(len(rollback), 'rollback step')}, {counted(items, 'item')}, "
        f"{counted(owned, 'step')} with an owner ({counted(len(plan.roles), 'role')}), "
        f"{counted(len(plan.conditions), 'stop condition')}, {counted(len(gates), 'go/no-go or approval step')}, "
        f"{counted(len(plan.escalation), 'escalation level')}",
        "",
        "understood:",
    ]
    entries: list[tuple[int, str]] = []
    if plan.t0 is not None:
        entries.append((plan.t0_line or 0, f"go-live {plan.t0.isoformat()} ({plan.timezone}) is T0"))
    for step in plan.steps:
        kind = {"task": "step", "go_no_go": "go/no-go step", "approval": "approval step"}[step.kind]
        parts = [f"{'rollback ' if step.rollback else ''}{kind} '{step.title}'"]
        if step.at is not None:
            parts.append(f"at {format_offset(step.at)}")
        if step.duration:
            parts.append(f"for {format_duration(step.duration)}")
        if step.owner:
            parts.append(f"owner {step.owner}")
        if step.phrase:
            parts.append(f"phrase {step.phrase}")
        if step.items:
            parts.append(counted(len(step.items), "item"))
        if step.evidence:
            parts.append(f"{len(step.evidence)} evidence")
        entries.append((step.line, ", ".join(parts)))
    for condition in plan.conditions:
        held = f" for {format_duration(condition.for_)}" if condition.for_ else ""
        entries.append(
            (
                condition.line,
                f"stop condition '{condition.title}': {condition.when}{held} -> {condition.action} "
                f"(placeholder check {condition.check}, not wired)",
            )
        )
    for role_id, (title, line) in plan.roles.items():
        entries.append((line, f"role {role_id}: {title}"))
    for level in plan.escalation:
        within = f" within {format_duration(level.respond_within)}" if level.respond_within else ""
        entries.append(
            (
                level.line,
                f"escalation {level.severity}{within}{' -> ' + level.escalate_to if level.escalate_to else ''}",
            )
        )
    for category in plan.scorecard:
        entries.append((category.line, f"scorecard category {category.title} ({category.weight:g})"))
    lines += [f"  {name}:{line}  {text}" for line, text in sorted(entries, key=lambda e: e[0])]
    for title, group in (("kept only as notes:", plan.notes), ("skipped:", plan.skipped), ("warnings:", plan.warnings)):
        lines += ["", title] + (
            [f"  {name}:{e.line}  {e.what}" for e in sorted(group, key=lambda e: e.line)] or ["  (none)"]
        )
    return "\n".join(lines) + "\n"
