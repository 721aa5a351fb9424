"""Reading one section's own blocks (not its subsections) into steps, items and stop conditions.

Decides whether the section's plain bullets are actions, follows list nesting
to the step an item belongs to, and reads labelled fields (``Owner:``,
``Duration:``, ``Trigger:``), roles, escalation levels and approval phrases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runbooks.markdown_import import phrases as P
from runbooks.markdown_import import timing as T
from runbooks.markdown_import.blocks import Blank, Block, Code, Heading, ListItem, Paragraph, Table
from runbooks.markdown_import.context import Context, Section
from runbooks.markdown_import.plan import Item, Level, Step

if TYPE_CHECKING:
    from runbooks.markdown_import.builder import Builder

_FORM_FIELD = re.compile(r"^[^:]{1,60}:\s*(?:_+|\[\s*\]|\.{3,}|-+)?\s*$")
_PLACEHOLDER_ITEM = re.compile(r"^\[[^\]]+\]$|^_+$|^\.{3,}$")
_GO_MARK = {"✅": "", "✔": "", "☑": "", "❌": "NO-GO: ", "✗": "NO-GO: ", "✘": "NO-GO: "}
_ROLE_WORD = re.compile(
    r"(?i)\b(?:lead|manager|owner|commander|engineer|sre|dba|ops|operations|cto|ceo|cio|ciso|vp|director|on[\s-]?call|admin|support|qa|"
    r"sponsor|coordinator|comms|communications?|architect|analyst|developer|dev|devops|product|pm|head|chief|officer|liaison|scribe|"
    r"incident|approver|specialist|representative|rep|security|network|infra|infrastructure|platform|release|launch|change|business|"
    r"customer|success|executive|team|desk|tester|validator|decision)\b"
)


@dataclass
class _Open:
    indent: int
    step: Step | None = None
    also: list[Step] = field(default_factory=list)  # the other steps of "T+15, T+30: ..." share its items
    item: Item | None = None
    texts: list[str] = field(default_factory=list)


class SectionWalker:
    """Reads one section's own blocks (not its subsections) into steps, items and conditions."""

    def __init__(self, builder: Builder, ctx: Context, step: Step | None, steps: list[Step], section: Section) -> None:
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
            title = self.b.title_of(title) or "Checklist"
            step = self.b.new_step(title, line, self.ctx)
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
        if self.labelled_line(text, block.line, block.quoted):
            return
        if self.trigger_line(text, block.line, as_item=False):
            return
        phrase = P.approval_phrase(text)
        if phrase is not None:
            self.approval(phrase, block.line, text)
            return
        if not block.quoted and not self.ctx.reference:
            steps = self.b.timed_steps(P.strip_emoji(text), block.line, self.ctx, allow_day=self.ctx.hypercare)
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
            step = self.b.new_step(phrase.capitalize(), line, self.ctx)
        step.kind, step.kind_line, step.phrase = "approval", line, phrase
        who = re.search(
            r"(?:^|[\s,])(?:the\s+)?(?P<who>[A-Z][\w/&-]*(?:\s+[A-Z][\w/&-]*){0,3})\s+(?:types?|says?|enters?|writes?|confirms?)\b",
            text,
        )
        if who is not None and step.owner is None and who["who"].lower() in self.b.plan.aliases:
            self.b.set_owner(step, who["who"], line)

    def labelled_line(self, text: str, line: int, quoted: bool = False) -> bool:
        """A field of the current step, a role or an escalation level, tried in that order; True when it was one."""
        return self.fields(text, line, quoted) or self.roles_line(text, line) or self.escalation_line(text, line)

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
            steps = self.b.timed_steps(text, block.line, self.ctx, allow_day=self.ctx.hypercare)
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
        if not checkbox and (parent is None or parent.step is not None) and self.labelled_line(text, block.line):
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
