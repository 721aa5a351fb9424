"""Reading the plan out of a runbook's blocks: sections, steps, owners, stop conditions.

The walk keeps, for every section, what its heading says (an offset, a
rollback plan, triggers, a go/no-go, roles, escalation, reference material)
and decides per section whether plain bullets are actions. Every element it
makes remembers its source line; every line it does not use goes to the
report as kept only as notes or skipped, and an offset it cannot place is a
warning, never dropped in silence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from runbooks.grammar import format_offset
from runbooks.loader import slug
from runbooks.markdown_import import phrases as P
from runbooks.markdown_import import timing as T
from runbooks.markdown_import.blocks import Blank, Block, Code, Heading, ListItem, Paragraph, Table, blocks
from runbooks.markdown_import.plan import Condition, Entry, Item, Level, Placeholder, Plan, Step

_NUMBERING = re.compile(
    r"^(?:(?:step|phase|stage|part|section)\s+)?(?:\d+(?:\.\d+)*[.):]?|[A-Z][.)])\s+(?:[-–—:]\s*)?", re.I
)
_FORM_FIELD = re.compile(r"^[^:]{1,60}:\s*(?:_+|\[\s*\]|\.{3,}|-+)?\s*$")
_PLACEHOLDER_ITEM = re.compile(r"^\[[^\]]+\]$|^_+$|^\.{3,}$")
_GO_MARK = {"✅": "", "✔": "", "☑": "", "❌": "NO-GO: ", "✗": "NO-GO: ", "✘": "NO-GO: "}
_ROLE_WORD = re.compile(
    r"(?i)\b(?:lead|manager|owner|commander|engineer|sre|dba|ops|operations|cto|ceo|cio|ciso|vp|director|on[\s-]?call|admin|support|qa|"
    r"sponsor|coordinator|comms|communications?|architect|analyst|developer|dev|devops|product|pm|head|chief|officer|liaison|scribe|"
    r"incident|approver|specialist|representative|rep|security|network|infra|infrastructure|platform|release|launch|change|business|"
    r"customer|success|executive|team|desk|tester|validator|decision)\b"
)
_HYPERCARE = re.compile(
    r"(?i)hypercare|post[\s-]?(?:launch|go[\s-]?live|cutover|release|migration)|stabili[sz]|after (?:launch|go[\s-]?live)|monitoring plan|timeline|schedule|run[\s-]?of[\s-]?show|cadence"
)
_STOP_ROLLBACK = re.compile(
    r"(?i)roll(?:ing)?[\s-]?back[^.\n]{0,60}\bstop conditions?\b|\bstop conditions?\b[^.\n]{0,40}\broll(?:ing)?[\s-]?back"
)
_DOC_UNIT = re.compile(
    r"(?i)(?:all\s+)?(?:times?|offsets?)\s+(?:are\s+)?(?:in|given in|shown in)\s+(?P<unit>minutes|hours|days)|(?P<unit2>minutes|hours|days)\s+(?:relative to|before|from)\s+(?:T0|T-0|go[\s-]?live|launch|cutover)|\bT-minus\s+(?P<unit3>minutes|hours)"
)
_GATE_OWNER = re.compile(
    r"(?i)^(?:approvers?|approved by|signed(?:[\s-]off)? by|sign[\s-]?off(?: by)?|decision maker|decides|decided by|decision(?: by)?)$"
)
_LABEL_BOLD = re.compile(
    r"(?i)^(?:steps?|actions?|tasks?|checklist|procedure|commands?|notes?|evidence|outputs?|verification|verify|trigger|triggers|owner|owners|duration|references?|links?|example|examples|output|result|results|prerequisites?)$"
)


@dataclass
class _Section:
    heading: Heading | None
    level: int
    body: list[Block] = field(default_factory=list)
    children: list[_Section] = field(default_factory=list)


@dataclass
class _Context:
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


class Builder:
    """Builds a ``Plan`` from Markdown text."""

    def __init__(self, text: str, source_name: str, first_line: int, title: str, description: str) -> None:
        self.source = source_name
        self.all_blocks = list(blocks(text, first_line))
        self.plan = Plan(name=title, name_line=None, description=description)
        self.has_checkboxes = any(isinstance(b, ListItem) and b.box in ("open", "checked") for b in self.all_blocks)
        self.zero_based_days = bool(re.search(r"(?i)\bday\s*0\b|\bD0\b", text))
        self.has_offsets = any(T.find_offsets(b.text) for b in self.all_blocks if isinstance(b, (Heading, ListItem)))
        self.stop_means_rollback = bool(_STOP_ROLLBACK.search(text))
        self.doc_unit = self._document_unit(text)
        self.go_live: T.GoLive | None = None
        self.previous_clock: float | None = None
        self.condition_ids: set[str] = set()

    # -- entry ---------------------------------------------------------------------

    def build(self) -> Plan:
        for block in self.all_blocks:
            if isinstance(block, (Paragraph, ListItem, Heading)) and self.go_live is None:
                found = T.find_go_live(block.text, block.line)
                if found is not None:
                    self.go_live = found
                    self.plan.t0, self.plan.timezone, self.plan.t0_line = found.t0, found.zone, found.line
                    if not found.zone_stated:
                        self.warn(found.line, "the go-live time names no time zone: read as UTC")
        root = self._tree()
        h1 = [s for s in root.children if s.heading is not None and s.heading.level == 1 and not s.heading.bold]
        if len(h1) == 1 and self.plan.name_line is None and (title := h1[0].heading) is not None:
            self.plan.name = P.clean(P.strip_emoji(title.text)) or self.plan.name
            self.plan.name_line = title.line
            title_unit = T.context_unit(title.text)
            if title_unit is not None and self.doc_unit is None:
                self.doc_unit = title_unit
            root.body.extend(h1[0].body)
            root.children = [
                *root.children[: root.children.index(h1[0])],
                *h1[0].children,
                *root.children[root.children.index(h1[0]) + 1 :],
            ]
        self._section(root, _Context(unit=self.doc_unit), None)
        self._order()
        return self.plan

    def _document_unit(self, text: str) -> float | None:
        match = _DOC_UNIT.search(text)
        if match is None:
            return None
        word = (match["unit"] or match["unit2"] or match["unit3"]).lower()
        return T.SECONDS_PER_UNIT[word]

    def _tree(self) -> _Section:
        root = _Section(None, 0)
        stack = [root]
        for block in self.all_blocks:
            if isinstance(block, Heading) and block.bold and self._bold_is_label(block.text):
                block = Paragraph(0, f"**{block.text}:**", block.line)
            if isinstance(block, Heading):
                while len(stack) > 1 and stack[-1].level >= block.level:
                    stack.pop()
                section = _Section(block, block.level)
                stack[-1].children.append(section)
                stack.append(section)
            else:
                stack[-1].body.append(block)
        return root

    @staticmethod
    def _bold_is_label(text: str) -> bool:
        plain = P.clean(text)
        if _LABEL_BOLD.match(plain) or P.EVIDENCE_LABEL.match(plain) or P.NOTE_LABEL.match(plain):
            return True
        if len(plain.split()) > 14 or plain.endswith((".", "!", "?")):
            return True
        labelled = P.field(text)
        return (
            labelled is not None
            and bool(labelled[1])
            and not T.find_offsets(text)
            and (P.NOTE_LABEL.match(labelled[0]) is not None or P.owner_field(text) is not None)
        )

    # -- sections ------------------------------------------------------------------

    def _section(self, section: _Section, ctx: _Context, step: Step | None) -> None:
        ctx = _Context(**{**ctx.__dict__})
        steps: list[Step] = []
        if section.heading is not None:
            ctx, steps = self._heading(section, ctx)
            step = steps[0] if steps else None
            if step is None and ctx.parent_step is not None:
                step = ctx.parent_step
        else:
            step = None
        self.previous_clock = None
        walker = _Walker(self, ctx, step, steps, section)
        walker.walk(section.body)
        child_ctx = _Context(**{**ctx.__dict__})
        current = walker.step
        if (
            current is not None
            and (current.at is not None or current.timed_source)
            or ctx.parent_step is not None
            and current is ctx.parent_step
        ):
            child_ctx.parent_step = current
        else:
            child_ctx.parent_step = None
        for child in section.children:
            self._section(child, child_ctx, None)

    def _heading(self, section: _Section, ctx: _Context) -> tuple[_Context, list[Step]]:
        heading = section.heading
        assert heading is not None
        raw = P.strip_emoji(heading.text)
        text = P.clean(raw)
        text = _NUMBERING.sub("", text, count=1)
        ctx.titles = (*ctx.titles, text)
        unit = T.context_unit(text)
        if unit is not None:
            ctx.unit = unit
        if P.REFERENCE_HEADING.search(text) or re.search(r"(?i)\b(?:template|example|sample)s?\b", text):
            ctx.reference = True
        if _HYPERCARE.search(text):
            ctx.hypercare = True
        bare = re.sub(r"\(.*?\)|[^\w\s/-]", " ", text)
        if (
            not ctx.rollback
            and heading.level > 1
            and P.ROLLBACK_PLAN_HEADING.search(text)
            and not P.NOT_ROLLBACK_PLAN.search(text)
            and not P.NOT_A_PLAN.search(text)
            and (P.ROLLBACK_PLAN_WORD.search(text) or len(bare.split()) <= 3)
        ):
            ctx.rollback = True
            ctx.trigger = False
        if P.TRIGGER_HEADING.search(text) and not P.GO_NO_GO_HEADING.search(text):
            ctx.trigger = True
            ctx.trigger_action = P.action_of(text) or ctx.trigger_action
        has_box = any(isinstance(b, ListItem) and b.box in ("open", "checked") for b in section.body)
        if P.ROLES_HEADING.search(text) and not has_box and not T.find_offsets(text):
            ctx.roles = True
        if P.ESCALATION_HEADING.search(text) and not has_box:
            ctx.escalation = True
        ctx.go_no_go = bool(P.GO_NO_GO_HEADING.search(text)) and not ctx.trigger
        if P.TRIGGER_HEADING.search(text) and not P.GO_NO_GO_HEADING.search(text):
            return ctx, []  # a trigger section makes stop conditions, not steps
        # owner and duration written into the heading
        owner = None
        found_owner = P.owner_inline(text)
        if found_owner is not None:
            owner, text = found_owner
        duration = None
        found_duration = T.title_duration(text)
        if found_duration is not None:
            duration, text = found_duration
        steps = self._timed_steps(text, heading.line, ctx, allow_day=ctx.hypercare)
        if steps:
            day = steps[0].at / 86400.0 if steps[0].at is not None and steps[0].at % 86400 == 0 else None
            ctx.day = day if day is not None else ctx.day
        elif T.is_zero_day(text) and (self.has_offsets or self.go_live is not None) and not ctx.rollback:
            step = self._new_step(self._title(text) or text, heading.line, ctx)
            step.at, step.at_line, step.timed_source = 0.0, heading.line, True
            ctx.day = 0.0
            steps = [step]
        elif (day := self._heading_day(text)) is not None:
            ctx.day = day
        if not steps and ctx.parent_step is not None and not ctx.go_no_go and ctx.rollback == ctx.parent_step.rollback:
            if owner is not None and ctx.parent_step.owner is None:
                self.set_owner(ctx.parent_step, owner, heading.line)
            return ctx, []
        if not steps:
            title = self._title(text)
            if not title:
                return ctx, []
            if ctx.rollback and re.fullmatch(r"(?i)steps|actions|tasks|procedure|checklist", title):
                title = f"Rollback {title.lower()}"
            steps = [self._new_step(title, heading.line, ctx)]
        for step in steps:
            if owner is not None:
                self.set_owner(step, owner, heading.line)
            if duration is not None and step.duration is None:
                step.duration, step.duration_line = duration, heading.line
            if ctx.go_no_go:
                step.kind, step.kind_line = "go_no_go", heading.line
        return ctx, steps

    def _heading_day(self, text: str) -> float | None:
        for offset in T.find_offsets(text):
            if offset.at is not None and offset.at % 86400 == 0:
                return offset.at / 86400.0
        return None

    def _timed_steps(self, text: str, line: int, ctx: _Context, allow_day: bool) -> list[Step]:
        """Steps named by a leading (or closing) offset, clock time or day: one per offset."""
        offsets, rest = T.lead_offsets(text, ctx.unit)
        if offsets:
            steps = []
            for offset in offsets:
                step = self._new_step(
                    self._title(rest) or (format_offset(offset.at) if offset.at is not None else offset.raw), line, ctx
                )
                step.timed_source = True
                if offset.at is None:
                    self.warn(
                        line,
                        f"'{offset.raw}' has no unit (minutes? hours?): step '{step.title}' is left "
                        "untimed; write T-30m, or say the unit in a heading such as 'Run of show (minutes)'",
                    )
                elif ctx.rollback:
                    self.warn(
                        line,
                        f"'{offset.raw}' in the rollback plan: rollback steps are timed from the start of "
                        f"the rollback, so step '{step.title}' is left untimed",
                    )
                else:
                    step.at, step.at_line = offset.at, line
                    if offset.duration is not None:
                        step.duration, step.duration_line = offset.duration, line
                steps.append(step)
            return steps
        clock = T.lead_clock(text)
        if clock is not None:
            (hour, minute, zone, until), rest = clock
            step = self._new_step(self._title(rest) or f"{hour:02d}:{minute:02d}", line, ctx)
            step.timed_source = True
            self._clock(step, hour, minute, zone, until, line, ctx)
            return [step]
        if allow_day:
            day = T.day_offset(text, self.zero_based_days)
            if day is not None:
                rest = text[day.end :]
                step = self._new_step(self._title(rest) or day.raw, line, ctx)
                step.timed_source = True
                step.at, step.at_line = day.at, line
                if day.duration is not None:
                    step.duration, step.duration_line = day.duration, line
                return [step]
        return []

    def _clock(
        self,
        step: Step,
        hour: int,
        minute: int,
        zone: str | None,
        until: tuple[int, int] | None,
        line: int,
        ctx: _Context,
    ) -> None:
        if self.go_live is None:
            self.warn(
                line,
                f"clock time {hour:02d}:{minute:02d} with no stated go-live (such as "
                f"'Go-Live: 2026-02-01 00:00 UTC'): step '{step.title}' is left untimed",
            )
            return
        if ctx.rollback:
            self.warn(
                line, f"clock time {hour:02d}:{minute:02d} in the rollback plan: step '{step.title}' is left untimed"
            )
            return
        at = T.clock_offset(
            self.go_live, hour, minute, zone, ctx.day * 86400.0 if ctx.day is not None else None, self.previous_clock
        )
        step.at, step.at_line = at, line
        self.previous_clock = at
        if until is not None:
            end = T.clock_offset(self.go_live, until[0], until[1], zone, None, at)
            if end > at:
                step.duration, step.duration_line = end - at, line

    @staticmethod
    def _title(text: str) -> str:
        text = re.sub(r"[(\[]\s*[)\]]", "", text)
        text = re.sub(r"^[\s:–—|,.;-]+|[\s:–—|,;-]+$", "", " ".join(text.split()))
        text = _NUMBERING.sub("", text, count=1)
        return text[:1].upper() + text[1:]

    def _new_step(self, title: str, line: int, ctx: _Context) -> Step:
        step = Step(title=title, line=line, rollback=ctx.rollback)
        self.plan.steps.append(step)
        return step

    # -- shared helpers --------------------------------------------------------------

    def warn(self, line: int, message: str) -> None:
        self.plan.warnings.append(Entry(line, message))

    def note(self, line: int, message: str) -> None:
        self.plan.notes.append(Entry(line, message))

    def skip(self, line: int, message: str) -> None:
        self.plan.skipped.append(Entry(line, message))

    def role(self, who: str, line: int) -> str:
        """The role id for an owner as written, reusing a role it names (by title, alias or person)."""
        who = " ".join(who.split())
        key = who.lower().lstrip("@")
        if key in self.plan.aliases:
            return self.plan.aliases[key]
        alias = re.match(r"^(?P<main>[^()]+?)\s*\((?P<alias>[^()]+)\)\s*$", who)
        names = [key]
        if alias:
            names += [alias["main"].lower(), alias["alias"].lower()]
            for name in names[1:]:
                if name in self.plan.aliases:
                    role_id = self.plan.aliases[name]
                    self.plan.aliases[key] = role_id
                    return role_id
        base = slug(alias["main"] if alias else who.lstrip("@")) or "role"
        role_id, number = base, 2
        while role_id in self.plan.roles:
            role_id, number = f"{base}_{number}", number + 1
        self.plan.roles[role_id] = (who.lstrip("@") if who.startswith("@") else who, line)
        for name in names:
            self.plan.aliases.setdefault(name, role_id)
        return role_id

    def add_role(self, title: str, person: str | None, line: int) -> None:
        """A role from a roles section or table; the person's name becomes an alias."""
        title = P.clean(title).strip(" :-")
        if not title or not re.search(r"[A-Za-z]", title):
            return
        role_id = self.role(title, line)
        if person:
            for name in re.split(r"\s*(?:,|/|&|\band\b)\s*", P.clean(person)):
                name = re.sub(r"\s*\(.*?\)|\s*[<\[].*$|\s+[-–—]\s+.*$", "", name).strip()
                if name and P.person(name) and len(name.split()) <= 4:
                    self.plan.aliases.setdefault(name.lower(), role_id)
                    self.plan.aliases.setdefault(name.split()[0].lower(), role_id)

    def set_owner(self, step: Step, who: str, line: int) -> None:
        step.owner = self.role(who, line)
        step.owner_line = line

    def condition(
        self, clause: P.ThresholdClause, line: int, action: str, step: Step | None, fallback_metric: str = ""
    ) -> None:
        metric = clause.metric or fallback_metric
        if not metric:
            self.note(line, f"threshold '{clause.text}' names no measure: kept as a note")
            return
        unit = clause.unit
        if clause.baseline:
            when_unit, check_unit, what = "", "× baseline", f"{metric} relative to its baseline"
        elif unit in ("%",):
            when_unit, check_unit, what = "%", "%", metric
        elif unit in ("ms", "msec", "millisecond", "milliseconds"):
            when_unit, check_unit, what = "ms", "s", metric
        elif unit in ("s", "sec", "secs", "second", "seconds"):
            when_unit, check_unit, what = "s", "s", metric
        elif unit in ("m", "min", "mins", "minute", "minutes"):
            when_unit, check_unit, what = "m", "s", metric
        elif unit in ("h", "hr", "hrs", "hour", "hours"):
            when_unit, check_unit, what = "h", "s", metric
        else:
            when_unit, check_unit, what = "", unit, metric
        number = f"{clause.number:g}"
        when = f"{clause.op} {number}{when_unit}"
        check_id = slug(what) or "measure"
        if check_id not in self.plan.checks:
            self.plan.checks[check_id] = Placeholder(check_id, what, check_unit, line)
        title = P.clean(clause.text)
        title = title[:1].upper() + title[1:]
        base = (
            slug(
                f"{metric} {clause.op.replace('>', 'above').replace('<', 'below').replace('=', '')} {number}{when_unit.replace('%', 'pct')}"
            )
            or check_id
        )
        condition_id, suffix = base, 2
        while condition_id in self.condition_ids:
            condition_id, suffix = f"{base}_{suffix}", suffix + 1
        self.condition_ids.add(condition_id)
        condition = Condition(condition_id, title, check_id, when, clause.for_seconds, action, line, step)
        self.plan.conditions.append(condition)
        if step is not None and not step.rollback:
            step.watch.append(condition_id)

    # -- after the walk ----------------------------------------------------------------

    def _order(self) -> None:
        """Timed steps in offset order, untimed steps where they stood; a warning names each move."""
        for rollback in (False, True):
            steps = [s for s in self.plan.steps if s.rollback == rollback and s.worth_keeping()]
            timed = [s for s in steps if s.at is not None]
            ordered = sorted(timed, key=lambda s: s.at or 0.0)  # stable: equal offsets keep document order (all timed)
            if ordered != timed:
                moved = [s for s, o in zip(timed, ordered, strict=True) if s is not o]
                self.warn(
                    moved[0].line,
                    f"steps sorted by their offsets ({len(moved)} moved, the first "
                    f"'{moved[0].title}' at {format_offset(moved[0].at or 0)})",
                )
            slots = iter(ordered)
            result = [next(slots) if s.at is not None else s for s in steps]
            others = [s for s in self.plan.steps if s.rollback != rollback or not s.worth_keeping()]
            self.plan.steps = [*result, *others] if not rollback else [*others, *result]
        kept = [s for s in self.plan.steps if s.worth_keeping()]
        for step in self.plan.steps:
            if not step.worth_keeping() and step.notes:
                self.note(step.line, f"section '{step.title}' has no action, only text: skipped")
        self.plan.steps = kept


@dataclass
class _Open:
    indent: int
    step: Step | None = None
    also: list[Step] = field(default_factory=list)  # the other steps of "T+15, T+30: ..." share its items
    item: Item | None = None
    texts: list[str] = field(default_factory=list)


class _Walker:
    """Reads one section's own blocks (not its subsections) into steps, items and conditions."""

    def __init__(
        self, builder: Builder, ctx: _Context, step: Step | None, steps: list[Step], section: _Section
    ) -> None:
        self.b = builder
        self.ctx = ctx
        self.step = step  # where items go
        self.steps = steps or ([step] if step is not None else [])
        self.section = section
        self.evidence = False
        self.open: list[_Open] = []
        self.last_item: Item | None = None
        body = section.body
        tops = [b for b in body if isinstance(b, ListItem)]
        self.has_box = any(b.box in ("open", "checked") for b in tops)
        min_indent = min((b.indent for b in tops), default=0)
        top = [b for b in tops if b.indent == min_indent and b.box not in ("open", "checked")]
        texts = [b.text for b in top if not _FORM_FIELD.match(P.clean(b.text)) and not P.owner_field(b.text)]
        verbs = sum(P.verb_led(t) for t in texts)
        ordered = bool(top) and all(b.ordered for b in top)
        procedural = bool(
            re.search(
                r"(?i)\b(?:steps?|procedure|checklist|tasks?|actions?|runbook|execution|deploy\w*|migrat\w*|cutover|"
                r"pre[\s-]|post[\s-]|verification|validation|smoke|launch|go[\s-]?live|hypercare|monitor\w*|"
                r"backup|freeze|prepar\w*|readiness|rollout|release|day|before|after|during|window|phase)\b",
                " ".join(ctx.titles[-1:]),
            )
        )
        planful = (
            ctx.rollback
            or ctx.go_no_go
            or ctx.parent_step is not None
            or any(s.at is not None or s.timed_source for s in self.steps)
        )
        fraction = verbs / len(texts) if texts else 0.0
        self.actions = (
            not ctx.reference
            and not ctx.trigger
            and not ctx.roles
            and not ctx.escalation
            and (
                planful
                or (not builder.has_checkboxes and ordered)
                or (fraction >= 0.5 and (ordered or not builder.has_checkboxes or procedural))
            )
        )

    # -- where things go -------------------------------------------------------------

    def target(self) -> Step | None:
        for opened in reversed(self.open):
            if opened.step is not None:
                return opened.step
        return self.step

    def ensure(self, line: int) -> Step:
        step = self.target()
        if step is None:
            title = self.ctx.titles[-1] if self.ctx.titles else "Checklist"
            title = Builder._title(title) or "Checklist"
            step = self.b._new_step(title, line, self.ctx)
            if self.ctx.go_no_go:
                step.kind = "go_no_go"
            self.step = step
            self.steps.append(step)
        return step

    # -- the walk ----------------------------------------------------------------------

    def walk(self, body: list[Block]) -> None:
        for block in body:
            match block:
                case Blank():
                    self.last_item = None
                case Heading():
                    pass
                case Paragraph():
                    self.paragraph(block)
                case ListItem():
                    self.list_item(block)
                case Table():
                    self.open.clear()
                    from runbooks.markdown_import.tables import TableReader

                    TableReader(self).read(block)
                case Code():
                    self.code(block)

    def code(self, block: Code) -> None:
        step = self.target()
        if step is None or self.ctx.reference:
            self.b.skip(block.line, f"code block{' (' + block.info + ')' if block.info else ''}: not part of a step")
            return
        text = block.text.strip("\n")
        if text.strip():
            step.notes.append(f"commands (not run):\n{text}")
            step.notes_line = step.notes_line or block.line
            self.b.note(block.line, f"code block kept in the notes of '{step.title}' (not run)")

    def fields(self, text: str, line: int, quoted: bool = False) -> bool:
        """A ``Label: value`` line about the current step; True when it was one."""
        if self.ctx.reference and not self.ctx.roles:
            return False
        who = P.owner_field(text)
        if who is not None and not self.ctx.roles:
            step = self.target() or (
                self.ensure(line)
                if self.ctx.go_no_go or self.section.heading is not None and not self.ctx.trigger
                else None
            )
            if step is not None:
                self.b.set_owner(step, who, line)
                return True
            return False
        labelled = P.field(text)
        if labelled is None:
            duration = T.duration_field(text)
            if duration is not None and (step := self.target()) is not None:
                step.duration, step.duration_line = duration, line
                return True
            return False
        label, value = labelled
        duration = T.duration_field(text)
        if duration is not None and (step := self.target()) is not None:
            step.duration, step.duration_line = duration, line
            return True
        if P.EVIDENCE_LABEL.match(label):
            if value:
                step = self.ensure(line)
                step.evidence.append(Item(P.clean(value), line))
            else:
                self.evidence = True
                self.open.clear()
            return True
        if P.TRIGGER_LABEL.match(label) or (
            re.match(r"(?i)^(?:rollback|roll back|abort)$", label) and P.thresholds(value)
        ):
            clauses = P.thresholds(value)
            action = P.action_of(text) or self.ctx.trigger_action or ("rollback" if self.ctx.rollback else "halt")
            for clause in clauses:
                self.b.condition(clause, line, action, self.target() if not self.ctx.rollback else None)
            if not clauses:
                self.b.note(line, f"trigger without a number to watch: '{P.clean(value)}'")
                step = self.target()
                if step is not None:
                    step.notes.append(P.clean(text))
            return True
        if P.COMMAND_LABEL.match(label) and value and (step := self.target()) is not None:
            step.notes.append(P.clean(text))
            return True
        return False

    def paragraph(self, block: Paragraph) -> None:
        text = block.text
        self.open.clear()
        if self.b.go_live is not None and block.line == self.b.go_live.line:
            return
        plain = P.clean(P.strip_emoji(text))
        if not plain:
            return
        if re.fullmatch(
            r"(?i)(?:evidence|outputs?|expected outputs?|artifacts?|verification|verify|done when|proof)\s*:?", plain
        ):
            self.evidence = True
            return
        self.evidence = False
        if block.indent > 0 and self.last_item is not None and not block.quoted:
            self.last_item.text = f"{self.last_item.text} {plain}"
            return
        self.last_item = None
        if self.fields(text, block.line, block.quoted):
            return
        if self.roles_line(text, block.line):
            return
        if self.escalation_line(text, block.line):
            return
        if self.trigger_line(text, block.line, as_item=False):
            return
        phrase = P.approval_phrase(text)
        if phrase is not None:
            self.approval(phrase, block.line, text)
            return
        if not block.quoted and not self.ctx.reference:
            steps = self.b._timed_steps(P.strip_emoji(text), block.line, self.ctx, allow_day=self.ctx.hypercare)
            if steps:
                self.open.clear()
                self.step = steps[-1]
                self.steps.extend(steps)
                return
        step = self.target()
        if step is not None and not self.ctx.reference:
            step.notes.append(plain)
            step.notes_line = step.notes_line or block.line
        else:
            self.b.skip(block.line, f"text: '{_short(plain)}'")

    def approval(self, phrase: str, line: int, text: str = "") -> None:
        step = self.target()
        if step is None or step.kind != "task" or step.phrase is not None:
            step = self.b._new_step(phrase.capitalize(), line, self.ctx)
        step.kind, step.kind_line, step.phrase = "approval", line, phrase
        who = re.search(
            r"(?:^|[\s,])(?:the\s+)?(?P<who>[A-Z][\w/&-]*(?:\s+[A-Z][\w/&-]*){0,3})\s+(?:types?|says?|enters?|writes?|confirms?)\b",
            text,
        )
        if who is not None and step.owner is None and who["who"].lower() in self.b.plan.aliases:
            self.b.set_owner(step, who["who"], line)

    def roles_line(self, text: str, line: int) -> bool:
        if not self.ctx.roles:
            return False
        labelled = P.field(text)
        if labelled is not None and labelled[1] and _ROLE_WORD.search(labelled[0]):
            self.b.add_role(labelled[0], labelled[1], line)
            return True
        match = re.match(r"^(?P<role>[^—–]+?)\s+[—–]\s+(?P<person>.+)$", P.clean(text))
        if match and _ROLE_WORD.search(match["role"]):
            self.b.add_role(match["role"], match["person"], line)
            return True
        if _ROLE_WORD.search(text) and len(P.clean(text).split()) <= 5:
            self.b.add_role(P.clean(text), None, line)
            return True
        return False

    def escalation_line(self, text: str, line: int) -> bool:
        if not self.ctx.escalation:
            return False
        plain = P.clean(text)
        ladder = re.search(r"(?P<steps>\d+(?:\s*/\s*\d+)+)\s*(?P<unit>min(?:ute)?s?|m|h(?:ours?)?|hrs?)\b", plain)
        if ladder is not None:
            unit = T.SECONDS_PER_UNIT[
                ladder["unit"].lower()
                if ladder["unit"].lower() in T.SECONDS_PER_UNIT
                else ladder["unit"].lower().rstrip("s")
            ]
            for number, step in enumerate(re.split(r"\s*/\s*", ladder["steps"]), start=1):
                self.b.plan.escalation.append(
                    Level(
                        f"L{number}",
                        float(step) * unit,
                        None,
                        f"{plain[: ladder.start()].strip(' :')}: level {number}",
                        line,
                    )
                )
            return True
        match = re.match(
            r"(?i)^(?P<sev>(?:P|SEV|Sev|L|S)\s*-?\d|critical|high|medium|low|major|minor|level\s*\d)\b[^:]*?[:—–-]\s*(?P<rest>.+)$",
            plain,
        )
        if match is None:
            return False
        rest = match["rest"]
        within = T.duration_value(rest)
        escalate = re.search(
            r"(?i)(?:escalate to|→|->|page|notify|contact)\s*:?\s*(?P<who>[A-Z@][\w@ .&/-]{1,40})", rest
        )
        self.b.plan.escalation.append(
            Level(
                re.sub(r"\s+", "", match["sev"]) if re.match(r"(?i)[PLS]|sev", match["sev"]) else match["sev"].title(),
                within,
                escalate["who"].strip() if escalate else None,
                rest,
                line,
            )
        )
        return True

    def trigger_line(self, text: str, line: int, as_item: bool) -> bool:
        """Thresholds in a trigger section, or a line that says "roll back if ...": stop conditions."""
        plain = P.clean(text)
        if not (self.ctx.trigger or P.LINE_TRIGGER.search(plain)):
            return False
        clauses = P.thresholds(plain)
        if not clauses:
            if self.ctx.trigger and not as_item:
                self.b.note(line, f"trigger without a number to watch: '{_short(plain)}'")
                step = self.target()
                if step is not None:
                    step.notes.append(plain)
                return True
            return False
        action = (
            P.action_of(self._action_text(plain))
            or self.ctx.trigger_action
            or ("rollback" if self.ctx.rollback else None)
        )
        if action is None:
            action = "rollback" if self.b.stop_means_rollback and re.search(r"(?i)stop condition", plain) else "halt"
        if re.search(r"(?i)stop conditions?", plain) and self.b.stop_means_rollback:
            action = "rollback"
        watched = None if self.ctx.rollback else self.target()
        for clause in clauses:
            self.b.condition(clause, line, action, watched)
        return not as_item

    @staticmethod
    def _action_text(text: str) -> str:
        """The words saying what to do: after an arrow or "then", else the whole line."""
        match = re.search(r"(?:→|->|=>|\bthen\b|:\s*(?=\w+\s+(?:roll|abort|halt)))(?P<rest>.*)$", text)
        return match["rest"] if match else text

    def list_item(self, block: ListItem) -> None:
        while self.open and self.open[-1].indent >= block.indent:
            self.open.pop()
        parent = self.open[-1] if self.open else None
        text = P.strip_emoji(block.text) if block.box is None else block.text
        plain = P.clean(text)
        opened = _Open(block.indent)
        self.open.append(opened)
        self.last_item = None
        if not plain:
            return
        checkbox = block.box in ("open", "checked")
        # a timed item: a step of its own, its nested items its actions
        if (
            not self.evidence
            and not self.ctx.reference
            and (parent is None or parent.step is not None or parent.item is None)
        ):
            steps = self.b._timed_steps(text, block.line, self.ctx, allow_day=self.ctx.hypercare)
            if steps:
                for step in steps:
                    found = P.owner_inline(step.title)
                    if found is not None:
                        step.title = found[1] or step.title
                        self.b.set_owner(step, found[0], block.line)
                    found_duration = T.title_duration(step.title)
                    if found_duration is not None and step.duration is None:
                        step.duration, step.duration_line = found_duration[0], block.line
                        step.title = found_duration[1] or step.title
                for step in steps:
                    if re.search(r"(?i)go\s*/\s*no[\s-]*go|go[\s-]+no[\s-]+go", step.title):
                        step.kind, step.kind_line = "go_no_go", block.line
                opened.step = steps[0]
                opened.also = steps[1:]
                self.steps.extend(steps)
                return
        if parent is not None and parent.item is not None and not checkbox:
            parent.item.text = _join_detail(parent.item.text, plain, parent)
            parent.texts.append(plain)
            opened.item, opened.texts = parent.item, parent.texts  # deeper bullets join the same item
            return
        if not checkbox and (parent is None or parent.step is not None):
            if self.fields(text, block.line):
                return
            if self.roles_line(text, block.line):
                return
            if self.escalation_line(text, block.line):
                return
        if self.trigger_line(text, block.line, as_item=checkbox):
            return
        phrase = P.approval_phrase(text)
        if phrase is not None and not checkbox:
            self.approval(phrase, block.line, text)
            return
        if self.evidence:
            step = self.ensure(block.line)
            opened.item = Item(plain, block.line)
            step.evidence.append(opened.item)
            self.last_item = opened.item
            return
        is_item = checkbox
        prefix = ""
        target = self.target()
        if (
            not is_item
            and (self.ctx.go_no_go or target is not None and target.kind == "go_no_go")
            and not self.ctx.reference
        ):
            is_item = not _FORM_FIELD.match(plain)
            prefix = _GO_MARK.get(block.box or "", "")
        elif not is_item and self.actions and (parent is None or parent.step is not None):
            is_item = not _FORM_FIELD.match(plain) and not (block.box is None and _is_link_only(block.text))
        if is_item and (_PLACEHOLDER_ITEM.match(plain) or (not checkbox and _FORM_FIELD.match(plain))):
            self.b.skip(block.line, f"blank to fill in: '{_short(plain)}'")
            return
        if is_item:
            step = self.ensure(block.line)
            opened.item = Item(prefix + plain, block.line)
            step.items.append(opened.item)
            for holder in reversed(self.open[:-1]):
                if holder.step is step:
                    for other in holder.also:
                        other.items.append(Item(prefix + plain, block.line))
                    break
            self.last_item = opened.item
            return
        if target is not None and not self.ctx.reference:
            target.notes.append(plain)
            target.notes_line = target.notes_line or block.line
            self.b.note(block.line, f"bullet kept in the notes of '{target.title}': '{_short(plain)}'")
        else:
            self.b.skip(block.line, f"bullet: '{_short(plain)}'")


def _join_detail(text: str, detail: str, parent: _Open) -> str:
    if not parent.texts:
        return f"{text.rstrip(':')}: {detail}"
    return f"{text}; {detail}"


def _is_link_only(text: str) -> bool:
    return bool(re.fullmatch(r"\s*(?:\*\*)?!?\[[^\]]*\]\([^)]*\)(?:\*\*)?\s*[.:]?\s*(?:[-–—].*)?", text))


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
