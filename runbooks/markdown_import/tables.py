"""Pipe tables mapped by their header: steps, stop conditions, escalation, roles, scorecard or items.

Time / When / T-minus -> ``at``; Step / Action / Task -> title; Owner /
Responsible / Who -> ``owner``; Verify / Done when / Output -> evidence;
Duration -> ``duration``; Trigger / Threshold / Alert (+ Action) -> stop
conditions; Severity + Response -> escalation; Role + Name -> roles;
Category + Weight -> scorecard; a table of check boxes -> items.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from runbooks.markdown_import import phrases as P
from runbooks.markdown_import import timing as T
from runbooks.markdown_import.blocks import Table
from runbooks.markdown_import.plan import Category, Item, Level, Step

if TYPE_CHECKING:
    from runbooks.markdown_import.walker import SectionWalker

_TIME_HEADER = re.compile(
    r"(?i)^(?:time|when|t[\s-]?(?:minus|offset)?|offset|start|start time|schedule|clock|day|date/time|timing|slot|window|t-?\s*time|planned(?: time)?|eta|week)\b"
)
_TITLE_HEADER = re.compile(
    r"(?i)^(?:step|action|task|activity|activities|milestone|phase|event|what|description|item|work|procedure|stage)s?\b"
)
_OWNER_HEADER = re.compile(
    r"(?i)^(?:owners?|responsible|who|lead|assignee|assigned(?: to)?|dri|team|executor|accountable|performed by|by|r)\b"
)
_EVIDENCE_HEADER = re.compile(
    r"(?i)^(?:verify|verification|done when|output|evidence|success criteria|validation|expected(?: result| outcome)?|check|proof|acceptance)\b"
)
_DURATION_HEADER = re.compile(
    r"(?i)^(?:duration|est\.?|estimate[ds]?|length|time needed|time required|effort|timebox)\b"
)
_TRIGGER_HEADER = re.compile(
    r"(?i)^(?:trigger|threshold|condition|signal|alert|alarm|rollback (?:if|when|trigger)|abort (?:if|when)|limit|breach)"
)
_METRIC_HEADER = re.compile(r"(?i)^(?:metric|kpi|indicator|signal|measure|sli)s?\b")
_ACTION_HEADER = re.compile(r"(?i)^(?:action|response|then|decision|result|do)s?\b")
_SEVERITY_HEADER = re.compile(r"(?i)^(?:(?:issue\s+)?severity|sev|level|priority|tier|p-level|incident level)")
_RESPONSE_HEADER = re.compile(r"(?i)(?:response|respond|ack|sla|time to|within|resolution)")
_ESCALATE_HEADER = re.compile(r"(?i)^(?:escalat|contact|who|owner|path|decision authority|notify|page)")
_CATEGORY_HEADER = re.compile(r"(?i)^(?:category|area|dimension|criteri(?:on|a)|pillar)")
_WEIGHT_HEADER = re.compile(r"(?i)^weight")
_ROLE_HEADER = re.compile(r"(?i)^(?:role|function|position|title|responsibility)s?\b")
_NAME_HEADER = re.compile(r"(?i)^(?:name|person|people|contact|primary|assignee)s?\b")
_BOX_CELL = re.compile(r"^\s*(?:\[[ xX]?\]|[☐□☑☒⬜✅❌]|yes/no)\s*$")


class TableReader:
    """A pipe table mapped by its header: steps, stop conditions, escalation, roles, scorecard or items."""

    def __init__(self, walker: SectionWalker) -> None:
        self.w = walker
        self.b = walker.b

    @staticmethod
    def column(header: tuple[str, ...], pattern: re.Pattern[str], skip: tuple[int, ...] = ()) -> int | None:
        for index, cell in enumerate(header):
            if index not in skip and pattern.search(P.clean(P.strip_emoji(cell)).strip()):
                return index
        return None

    def read(self, table: Table) -> None:
        header = tuple(P.clean(P.strip_emoji(h)) for h in table.header)
        ctx = self.w.ctx
        weight = self.column(header, _WEIGHT_HEADER)
        category = self.column(header, _CATEGORY_HEADER)
        if weight is not None and category is not None:
            return self.scorecard(table, category, weight)
        severity = self.column(header, _SEVERITY_HEADER)
        response = self.column(header, _RESPONSE_HEADER, skip=(severity,) if severity is not None else ())
        if severity is not None and (response is not None or ctx.escalation):
            return self.escalation(table, header, severity, response)
        trigger = self.column(header, _TRIGGER_HEADER)
        metric = self.column(header, _METRIC_HEADER)
        if trigger is not None or (ctx.trigger and metric is not None):
            return self.triggers(table, header, trigger, metric)
        time_column = self.column(header, _TIME_HEADER)
        title = self.column(header, _TITLE_HEADER, skip=(time_column,) if time_column is not None else ())
        owner = self.column(header, _OWNER_HEADER)
        duration = self.column(header, _DURATION_HEADER)
        role = self.column(header, _ROLE_HEADER)
        name = self.column(header, _NAME_HEADER)
        if role is not None and (ctx.roles or (name is not None and time_column is None and title is None)):
            return self.roles(table, role, name)
        if not ctx.reference and (
            (time_column is not None and (title is not None or len(header) >= 2))
            or (title is not None and (owner is not None or duration is not None) and not ctx.roles)
        ):
            return self.steps(table, header, time_column, title, owner, duration)
        if any(_BOX_CELL.match(cell) for row, _ in table.rows for cell in row):
            return self.checklist(table)
        self.b.skip(table.line, f"table ({' | '.join(header)}): reference, no steps")

    def scorecard(self, table: Table, category: int, weight: int) -> None:
        for row, line in table.rows:
            if category >= len(row) or weight >= len(row):
                continue
            number = re.search(r"\d+(?:\.\d+)?", row[weight])
            title = P.clean(P.strip_emoji(row[category]))
            if number and title and not re.match(r"(?i)total", title):
                self.b.plan.scorecard.append(Category(title, float(number.group()), line))

    def escalation(self, table: Table, header: tuple[str, ...], severity: int, response: int | None) -> None:
        escalate = self.column(header, _ESCALATE_HEADER, skip=tuple(i for i in (severity, response) if i is not None))
        describe = self.column(header, re.compile(r"(?i)^(?:description|meaning|definition|examples?|impact|criteria)"))
        for row, line in table.rows:
            cells = [P.clean(P.strip_emoji(c)) for c in row]
            if severity >= len(cells) or not cells[severity]:
                continue
            raw = cells[severity]
            short = re.search(r"\b(?:P|SEV|Sev|L|S)\s*-?\d\b", raw)
            level = re.sub(r"\s+", "", short.group()) if short else raw
            within = T.duration_value(cells[response]) if response is not None and response < len(cells) else None
            who = cells[escalate] if escalate is not None and escalate < len(cells) and cells[escalate] else None
            description = (
                cells[describe]
                if describe is not None and describe < len(cells)
                else (raw if short and raw != level else "")
            )
            self.b.plan.escalation.append(Level(level, within, who, description, line))

    def triggers(self, table: Table, header: tuple[str, ...], trigger: int | None, metric: int | None) -> None:
        action_column = self.column(header, _ACTION_HEADER, skip=tuple(i for i in (trigger, metric) if i is not None))
        threshold_columns = [
            i
            for i, h in enumerate(header)
            if re.search(r"(?i)threshold|alert|limit|trigger|breach|rollback if|abort if", h)
        ]
        for row, line in table.rows:
            cells = [P.clean(P.strip_emoji(c)) for c in row]
            name = (
                cells[metric]
                if metric is not None and metric < len(cells)
                else (cells[trigger] if trigger is not None and trigger < len(cells) else "")
            )
            action_text = cells[action_column] if action_column is not None and action_column < len(cells) else ""
            action = (
                P.action_of(action_text)
                or P.action_of(" ".join(header))
                or self.w.ctx.trigger_action
                or ("rollback" if self.w.ctx.rollback else "halt")
            )
            if re.search(r"(?i)alert|alarm", " ".join(header[i] for i in threshold_columns)) and not action_text:
                action = P.action_of(" ".join(self.w.ctx.titles[-1:])) or "warn"
                if action not in ("rollback", "halt"):
                    action = "warn"
            found = False
            columns: list[int | None] = list(threshold_columns) or [trigger]
            for index in columns:
                if index is None or index >= len(cells):
                    continue
                cell = cells[index]
                text = (
                    cell
                    if index == metric
                    or re.match(r"^\s*(?:[A-Za-z])", cell)
                    and P.thresholds(cell)
                    and P.thresholds(cell)[0].metric
                    else f"{name} {cell}"
                )
                for clause in P.thresholds(text):
                    self.b.condition(
                        clause, line, action, None if self.w.ctx.rollback else self.w.target(), fallback_metric=name
                    )
                    found = True
            if not found:
                self.b.note(line, f"trigger without a number to watch: '{_short(' | '.join(c for c in cells if c))}'")
                step = self.w.target()
                if step is not None:
                    step.notes.append(" | ".join(c for c in cells if c))

    def roles(self, table: Table, role: int, name: int | None) -> None:
        for row, line in table.rows:
            cells = [P.clean(c) for c in row]
            if role < len(cells) and cells[role]:
                person = cells[name] if name is not None and name < len(cells) else None
                self.b.add_role(cells[role], person, line)

    def steps(
        self,
        table: Table,
        header: tuple[str, ...],
        time_column: int | None,
        title: int | None,
        owner: int | None,
        duration: int | None,
    ) -> None:
        evidence = self.column(
            header, _EVIDENCE_HEADER, skip=tuple(i for i in (time_column, title, owner, duration) if i is not None)
        )
        if title is None:
            title = next((i for i in range(len(header)) if i not in (time_column, owner, duration, evidence)), None)
        if title is None:
            return
        ctx = self.w.ctx
        self.b.previous_clock = None
        section = self.w.step
        inherit = section if time_column is None and section is not None and section.at is not None else None
        for row, line in table.rows:
            cells = [c.strip() for c in row]
            if title >= len(cells):
                continue
            text = P.clean(P.strip_emoji(cells[title]))
            if not text or re.fullmatch(r"[-–—_.]*", text):
                continue
            steps: list[Step] = []
            if time_column is not None and time_column < len(cells):
                when = P.clean(cells[time_column])
                steps = self.b.timed_steps(f"{when}: {text}", line, ctx, allow_day=True)
                if not steps and when and re.search(r"\d", when):
                    self.b.warn(
                        line, f"time '{when}' is not an offset, a clock time or a day: step '{text}' is left untimed"
                    )
            if not steps:
                step = self.b.new_step(self.b.title_of(text), line, ctx)
                step.timed_source = True
                if inherit is not None:  # rows of a timed section happen at its time
                    step.at, step.at_line = inherit.at, inherit.at_line
                steps = [step]
            for step in steps:
                found = P.owner_inline(step.title)
                if found is not None:
                    step.title = found[1] or step.title
                    self.b.set_owner(step, found[0], line)
                if owner is not None and owner < len(cells):
                    who = P.person(cells[owner])
                    if who:
                        self.b.set_owner(step, who, line)
                if duration is not None and duration < len(cells):
                    seconds = T.duration_value(cells[duration])
                    if seconds is not None:
                        step.duration, step.duration_line = seconds, line
                if evidence is not None and evidence < len(cells) and P.clean(cells[evidence]):
                    step.evidence.append(Item(P.clean(cells[evidence]), line))
                if ctx.go_no_go or re.search(r"(?i)go\s*/\s*no[\s-]*go|go[\s-]+no[\s-]+go", step.title):
                    step.kind, step.kind_line = "go_no_go", line
                for index, cell in enumerate(cells):
                    if (
                        index not in (time_column, title, owner, duration, evidence)
                        and P.clean(cell)
                        and index < len(header)
                    ):
                        step.notes.append(f"{header[index]}: {P.clean(cell)}")
                        step.notes_line = step.notes_line or line

        if inherit is not None and not inherit.items and not inherit.evidence:
            inherit.at, inherit.timed_source = None, False  # the rows are the section's steps

    def checklist(self, table: Table) -> None:
        step = self.w.ensure(table.line)
        for row, line in table.rows:
            cells = [P.clean(c) for c in row if c.strip() and not _BOX_CELL.match(c)]
            if cells:
                step.items.append(Item(": ".join(cells[:2]), line))


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
