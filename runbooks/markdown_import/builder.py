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

from runbooks.grammar import format_offset
from runbooks.loader import slug
from runbooks.markdown_import import phrases as P
from runbooks.markdown_import import timing as T
from runbooks.markdown_import.blocks import Heading, ListItem, Paragraph, blocks
from runbooks.markdown_import.context import Context, Section
from runbooks.markdown_import.plan import Condition, Entry, Placeholder, Plan, Step
from runbooks.markdown_import.walker import SectionWalker

_NUMBERING = re.compile(
    r"^(?:(?:step|phase|stage|part|section)\s+)?(?:\d+(?:\.\d+)*[.):]?|[A-Z][.)])\s+(?:[-–—:]\s*)?", re.I
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
_LABEL_BOLD = re.compile(
    r"(?i)^(?:steps?|actions?|tasks?|checklist|procedure|commands?|notes?|evidence|outputs?|verification|verify|trigger|triggers|owner|owners|duration|references?|links?|example|examples|output|result|results|prerequisites?)$"
)


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
        self._section(root, Context(unit=self.doc_unit), None)
        self._order()
        return self.plan

    def _document_unit(self, text: str) -> float | None:
        match = _DOC_UNIT.search(text)
        if match is None:
            return None
        word = (match["unit"] or match["unit2"] or match["unit3"]).lower()
        return T.SECONDS_PER_UNIT[word]

    def _tree(self) -> Section:
        root = Section(None, 0)
        stack = [root]
        for block in self.all_blocks:
            if isinstance(block, Heading) and block.bold and self._bold_is_label(block.text):
                block = Paragraph(0, f"**{block.text}:**", block.line)
            if isinstance(block, Heading):
                while len(stack) > 1 and stack[-1].level >= block.level:
                    stack.pop()
                section = Section(block, block.level)
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

    def _section(self, section: Section, ctx: Context, step: Step | None) -> None:
        ctx = Context(**{**ctx.__dict__})
        steps: list[Step] = []
        if section.heading is not None:
            ctx, steps = self._heading(section, ctx)
            step = steps[0] if steps else None
            if step is None and ctx.parent_step is not None:
                step = ctx.parent_step
        else:
            step = None
        self.previous_clock = None
        walker = SectionWalker(self, ctx, step, steps, section)
        walker.walk(section.body)
        child_ctx = Context(**{**ctx.__dict__})
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

    def _heading(self, section: Section, ctx: Context) -> tuple[Context, list[Step]]:
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
        steps = self.timed_steps(text, heading.line, ctx, allow_day=ctx.hypercare)
        if steps:
            day = steps[0].at / 86400.0 if steps[0].at is not None and steps[0].at % 86400 == 0 else None
            ctx.day = day if day is not None else ctx.day
        elif T.is_zero_day(text) and (self.has_offsets or self.go_live is not None) and not ctx.rollback:
            step = self.new_step(self.title_of(text) or text, heading.line, ctx)
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
            title = self.title_of(text)
            if not title:
                return ctx, []
            if ctx.rollback and re.fullmatch(r"(?i)steps|actions|tasks|procedure|checklist", title):
                title = f"Rollback {title.lower()}"
            steps = [self.new_step(title, heading.line, ctx)]
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

    def timed_steps(self, text: str, line: int, ctx: Context, allow_day: bool) -> list[Step]:
        """Steps named by a leading (or closing) offset, clock time or day: one per offset."""
        offsets, rest = T.lead_offsets(text, ctx.unit)
        if offsets:
            steps = []
            for offset in offsets:
                step = self.new_step(
                    self.title_of(rest) or (format_offset(offset.at) if offset.at is not None else offset.raw),
                    line,
                    ctx,
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
            step = self.new_step(self.title_of(rest) or f"{hour:02d}:{minute:02d}", line, ctx)
            step.timed_source = True
            self._clock(step, hour, minute, zone, until, line, ctx)
            return [step]
        if allow_day:
            day = T.day_offset(text, self.zero_based_days)
            if day is not None:
                rest = text[day.end :]
                step = self.new_step(self.title_of(rest) or day.raw, line, ctx)
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
        ctx: Context,
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
    def title_of(text: str) -> str:
        text = re.sub(r"[(\[]\s*[)\]]", "", text)
        text = re.sub(r"^[\s:–—|,.;-]+|[\s:–—|,;-]+$", "", " ".join(text.split()))
        text = _NUMBERING.sub("", text, count=1)
        return text[:1].upper() + text[1:]

    def new_step(self, title: str, line: int, ctx: Context) -> Step:
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
