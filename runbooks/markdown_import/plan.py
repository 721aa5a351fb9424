"""The plan read from a runbook: steps, roles, stop conditions, escalation, and what was not used.

Plain data, each element with the 1-based source line it came from; ``builder``
fills it, ``emit`` writes it as YAML with line comments and as a report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class Item:
    text: str
    line: int


@dataclass(slots=True)
class Step:
    title: str
    line: int
    at: float | None = None
    at_line: int | None = None
    duration: float | None = None
    duration_line: int | None = None
    owner: str | None = None  # role id
    owner_line: int | None = None
    kind: str = "task"
    kind_line: int | None = None
    phrase: str | None = None
    items: list[Item] = field(default_factory=list)
    evidence: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    notes_line: int | None = None
    watch: list[str] = field(default_factory=list)
    rollback: bool = False
    timed_source: bool = False  # created because an offset or clock time named it

    def worth_keeping(self) -> bool:
        return (
            self.at is not None
            or self.timed_source
            or bool(self.items or self.evidence)
            or self.kind == "approval"
            or self.owner is not None
            and bool(self.notes)
        )


@dataclass(slots=True)
class Condition:
    id: str
    title: str
    check: str
    when: str
    for_: float | None
    action: str
    line: int
    step: Step | None = None


@dataclass(slots=True)
class Placeholder:
    id: str
    what: str
    unit: str
    line: int


@dataclass(slots=True)
class Level:
    severity: str
    respond_within: float | None
    escalate_to: str | None
    description: str
    line: int


@dataclass(slots=True)
class Category:
    title: str
    weight: float
    line: int


@dataclass(slots=True)
class Entry:
    """One line of the report: what a source line became, or why it was not used."""

    line: int
    what: str


@dataclass(slots=True)
class Plan:
    name: str
    name_line: int | None
    description: str
    t0: datetime | None = None
    timezone: str | None = None
    t0_line: int | None = None
    roles: dict[str, tuple[str, int]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # lower-case name -> role id
    checks: dict[str, Placeholder] = field(default_factory=dict)
    conditions: list[Condition] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    escalation: list[Level] = field(default_factory=list)
    scorecard: list[Category] = field(default_factory=list)
    scorecard_go: float | None = None
    scorecard_conditional: float | None = None
    notes: list[Entry] = field(default_factory=list)  # kept only as notes
    skipped: list[Entry] = field(default_factory=list)
    warnings: list[Entry] = field(default_factory=list)
