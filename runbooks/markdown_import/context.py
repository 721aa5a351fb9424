"""What the walk knows at a point of the document: the section tree and what the headings above said."""

from __future__ import annotations

from dataclasses import dataclass, field

from runbooks.markdown_import.blocks import Block, Heading
from runbooks.markdown_import.plan import Step


@dataclass
class Section:
    heading: Heading | None
    level: int
    body: list[Block] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)


@dataclass
class Context:
    unit: float | None = None
    rollback: bool = False
    trigger: bool = False
    trigger_action: str | None = None
    reference: bool = False
    roles: bool = False
    escalation: bool = False
    hypercare: bool = False
    day: float | None = None  # days from the go-live date, for clock times
    parent_step: Step | None = None
    go_no_go: bool = False
    titles: tuple[str, ...] = ()
