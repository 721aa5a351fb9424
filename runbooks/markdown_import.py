"""Markdown checklist runbooks to runbook YAML (``cutover-tui import FILE.md``).

Real runbooks are Markdown checklists. The importer keeps their plan:

- a heading, or a list item that starts (or ends) with a T-offset in any usual
  spelling (``T-7 days``, ``(T-48h)``, ``T+1 day``, ``T0``, ``T=0``,
  ``T-24h to T0``) becomes a step at that offset;
- ``- [ ]`` / ``- [x]`` / ``* [ ]`` items, nested too, become its items, and a
  list after an ``Evidence:`` or ``Output:`` line becomes its evidence prompts;
- a section without an offset becomes an unscheduled step, in document order,
  when it has checklist items; a heading without an offset inside one with an
  offset adds its items to that step;
- a section whose heading says rollback, with everything under it, becomes the
  rollback plan, where numbered procedure lists count as items too;
- a document without a single checkbox is a numbered procedure: its numbered
  list items become the items.

Fenced code blocks and GitBook ``{% ... %}`` tags are ignored, except that a
fence marked ``markdown`` (a checklist template quoted in the document) is read
as Markdown, its headings nested under the heading it sits in.

>>> print(import_markdown("# Go-live\\n## T-0: deploy\\n- [ ] helm upgrade\\n", "go-live.md"), end="")
name: Go-live
description: Imported from go-live.md.
steps:
- id: deploy
  title: Deploy
  at: T-0
  items:
  - helm upgrade
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import yaml

from runbooks.errors import RunbookError
from runbooks.grammar import format_duration, format_offset
from runbooks.loader import _slug, parse_runbook

_SECONDS_PER_UNIT = {
    **dict.fromkeys(("ms",), 0.001),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 604800.0),
}
# Longest spelling first, so that "minutes" is never read as "m" plus letters.
_UNIT = "|".join(sorted(_SECONDS_PER_UNIT, key=len, reverse=True))
_AMOUNT = rf"\d+(?:\.\d+)?\s*(?:{_UNIT})(?![A-Za-z])"
_AMOUNT_PARTS = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[A-Za-z]+)")


def _offset_pattern(group: str) -> str:
    """One T-offset as people write it, its named groups prefixed with ``group``.

    ``T-7 days``, ``T-24h``, ``T+1h30m``, ``T-00:15``, ``T0+30m``, ``T-0``,
    ``T0``, ``T=0``. A bare number other than 0 (``T-7``) is not an offset: it
    could mean days or hours, and a wrong guess would move a step.
    """
    return (
        rf"(?<![\w])T(?:\s*0)?\s*(?P<{group}_sign>[+-])\s*"
        rf"(?:(?P<{group}_clock>\d{{1,3}}:[0-5]\d(?::[0-5]\d)?)(?!\d|:\d)"
        rf"|(?P<{group}_amounts>{_AMOUNT}(?:\s*{_AMOUNT})*)"
        rf"|0+(?!\w|[.:]\d))"
        rf"|(?<![\w])T\s*=?\s*0(?!\w|[.:]\d)"
    )


# An offset, or a range such as "T-24h to T0" (the step then lasts until the end).
_OFFSET = re.compile(
    rf"(?P<start>{_offset_pattern('start')})"
    rf"(?:\s*(?:to|until|through|–|—|-|\.\.|→)\s*(?P<end>{_offset_pattern('end')}))?",
    re.IGNORECASE,  # "T+2 Hours", "t-0"
)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<yaml>.*?)\n---[ \t]*(?:\n|\Z)", re.S)
_FENCE = re.compile(r"^\s*(?P<marker>`{3,}|~{3,})\s*(?P<info>[^\s`]*)")
_HEADING = re.compile(r"^\s{0,3}(?P<hashes>#{1,6})\s+(?P<text>.*?)(?:\s+#+)?\s*$")
_LIST_ITEM = re.compile(r"^(?P<indent>\s*)(?P<marker>[-*+]|\d{1,9}[.)])\s+(?P<text>\S.*)$")
_CHECKBOX = re.compile(r"^\[[ xX]\]\s+(?P<text>\S.*)$")
_GITBOOK_TAG = re.compile(r"\{%.*?%\}")
_LINK = re.compile(r"!?\[(?P<text>[^\]]*)\]\([^)]*\)")
_NUMBERING = re.compile(r"^(?:\d+(?:\.\d+)*[.)]|\d+(?:\.\d+)+)\s+")
_EVIDENCE_LABEL = re.compile(r"(?:evidence|outputs?)\s*:?", re.I)
_ROLLBACK = re.compile(r"\broll(?:ing)?[\s-]?back\b|\bback[\s-]?out\b", re.I)
_GO_NO_GO = re.compile(r"\bgo\s*/\s*no[\s-]*go\b|\bgo[\s-]+no[\s-]+go\b", re.I)
_EDGE_PUNCTUATION = re.compile(r"^[\s:–—|,.;-]+|[\s:–—|,;-]+$")


@dataclass(frozen=True, slots=True)
class _Heading:
    level: int
    text: str


@dataclass(frozen=True, slots=True)
class _ListItem:
    indent: int
    ordered: bool
    checkbox: bool
    text: str


@dataclass(frozen=True, slots=True)
class _Paragraph:
    indent: int
    text: str


_Token = _Heading | _ListItem | _Paragraph | None  # None: a blank line


@dataclass(slots=True)
class _Item:
    text: str
    commands: list[str] = field(default_factory=list)  # sub-items of a numbered step that start with `code`

    def render(self) -> str:
        return f"{self.text}: {'; '.join(self.commands)}" if self.commands else self.text


@dataclass(slots=True)
class _Step:
    title: str
    at: float | None = None
    duration: float | None = None
    rollback: bool = False
    items: list[_Item] = field(default_factory=list)
    evidence: list[_Item] = field(default_factory=list)

    def worth_keeping(self) -> bool:
        """A step in the plan: scheduled, or with something to tick."""
        return self.at is not None or bool(self.items or self.evidence)


@dataclass(slots=True)
class _OpenListItem:
    """A list item whose nested items may still follow."""

    indent: int
    step: _Step | None = None  # the item carried an offset and became a step
    item: _Item | None = None  # the item became a checklist item


def import_markdown(text: str, source_name: str) -> str:
    """The runbook YAML for a Markdown checklist runbook.

    Args:
        text: the Markdown document.
        source_name: its file name, for the description and the fallback name.

    Returns:
        YAML text that ``runbooks.loader.parse_runbook`` accepts.

    Raises:
        RunbookError: the document has no step at all.
    """
    front_matter, body = _split_front_matter(text.replace("\r\n", "\n"))
    tokens = list(_tokens(body))
    numbered_procedure = not any(isinstance(t, _ListItem) and t.checkbox for t in tokens)
    builder = _Builder(numbered_procedure)
    for token in tokens:
        builder.feed(token)
    steps = [s for s in builder.steps if s.worth_keeping() and not s.rollback]
    rollback = [s for s in builder.steps if s.worth_keeping() and s.rollback]
    if not steps and not rollback:
        raise RunbookError(
            "found no steps: no heading or list item with a T-offset, and no checklist items",
            file=source_name,
            hint="mark steps with headings such as '## T-0: deploy' and items with '- [ ] ...'",
        )
    title = next((_clean(t.text) for t in tokens if isinstance(t, _Heading) and t.level == 1), "")
    description = " ".join(
        part for part in (_front_matter_description(front_matter), f"Imported from {Path(source_name).name}.") if part
    )
    step_ids: set[str] = set()
    document: dict[str, object] = {
        "name": title or Path(source_name).stem or "Imported runbook",
        "description": description,
        "steps": [_step_yaml(step, step_ids) for step in steps],
    }
    if rollback:
        document["rollback"] = [_step_yaml(step, step_ids) for step in rollback]
    if not steps:
        del document["steps"]
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def import_command(args: argparse.Namespace) -> int:
    """``cutover-tui import FILE.md [-o OUT.yaml]``: print or write the YAML.

    The YAML is validated before it is written, so what the command produces
    always loads.
    """
    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise RunbookError(f"cannot read the document: {error.strerror or error}", file=args.file) from None
    except UnicodeDecodeError:
        raise RunbookError("the document is not UTF-8 text", file=args.file, hint="save it as UTF-8") from None
    yaml_text = import_markdown(text, args.file)
    runbook = parse_runbook(yaml_text, args.output or "<imported>")
    if not args.output:
        sys.stdout.write(yaml_text)
        return 0
    Path(args.output).write_text(yaml_text, encoding="utf-8")
    print(f"wrote {args.output}: {len(runbook.steps)} steps, {len(runbook.rollback)} rollback steps", file=sys.stderr)
    return 0


def find_offset(text: str) -> tuple[float, float | None, re.Match[str]] | None:
    """The first T-offset in ``text``: seconds from T0, the duration of a range, and the match.

    >>> at, duration, _ = find_offset("Pre-launch checks (T-24h to T0)")
    >>> at, duration
    (-86400.0, 86400.0)
    """
    match = _OFFSET.search(text)
    if match is None:
        return None
    start = _offset_seconds(match, "start")
    duration = None
    if match["end"] is not None:
        end = _offset_seconds(match, "end")
        duration = end - start if end > start else None
    return start, duration, match


def _offset_seconds(match: re.Match[str], group: str) -> float:
    sign = -1.0 if match[f"{group}_sign"] == "-" else 1.0
    if match[f"{group}_clock"]:
        hours, minutes, seconds = (match[f"{group}_clock"] + ":0").split(":")[:3]
        return sign * (int(hours) * 3600.0 + int(minutes) * 60.0 + int(seconds))
    if match[f"{group}_amounts"]:
        return sign * sum(
            float(part["number"]) * _SECONDS_PER_UNIT[part["unit"].lower()]
            for part in _AMOUNT_PARTS.finditer(match[f"{group}_amounts"])
        )
    return 0.0


def _split_front_matter(text: str) -> tuple[str, str]:
    match = _FRONT_MATTER.match(text)
    if match is None:
        return "", text
    return match["yaml"], text[match.end():]


def _front_matter_description(front_matter: str) -> str:
    try:
        data = yaml.safe_load(front_matter) if front_matter else None
    except yaml.YAMLError:
        return ""
    description = data.get("description") if isinstance(data, dict) else None
    return " ".join(description.split()) if isinstance(description, str) else ""


def _tokens(text: str) -> Iterator[_Token]:
    """Headings, list items, paragraph lines and blanks, outside code fences.

    Fences nest the way authors write them: inside a ``markdown`` fence a
    fence with a language opens a code block that the next bare fence closes.
    """
    fences: list[tuple[str, bool, int]] = []  # (marker, is markdown, heading level it sits under)
    level = 0  # the last heading's level, as seen from the outer document
    for raw in text.splitlines():
        line = raw.expandtabs(4)
        in_code = bool(fences) and not fences[-1][1]
        fence = _FENCE.match(line)
        if fence:
            marker, info = fence["marker"], fence["info"].lower()
            closes = bool(fences) and not info and marker[0] == fences[-1][0][0] and len(marker) >= len(fences[-1][0])
            if closes:
                fences.pop()
                continue
            if not in_code:
                fences.append((marker, info in ("markdown", "md"), level))
                continue
        if in_code:
            continue
        line = _GITBOOK_TAG.sub("", line).rstrip()
        if not line.strip():
            yield None
            continue
        if heading := _HEADING.match(line):
            level = (fences[-1][2] if fences else 0) + len(heading["hashes"])
            yield _Heading(level, heading["text"])
        elif item := _LIST_ITEM.match(line):
            checkbox = _CHECKBOX.match(item["text"])
            yield _ListItem(
                indent=len(item["indent"]),
                ordered=item["marker"][0].isdigit(),
                checkbox=checkbox is not None,
                text=checkbox["text"] if checkbox else item["text"],
            )
        else:
            yield _Paragraph(len(line) - len(line.lstrip()), line.strip())


class _Builder:
    """Turns the token stream into candidate steps, in document order."""

    def __init__(self, numbered_procedure: bool) -> None:
        self.numbered_procedure = numbered_procedure
        self.steps: list[_Step] = []
        self.headings: list[tuple[int, _Step]] = []  # open headings and the step each feeds
        self.section: _Step | None = None
        self.rollback_level: int | None = None  # level of the open rollback heading
        self.in_evidence = False
        self.open_items: list[_OpenListItem] = []
        self.last_item: _Item | None = None  # for a wrapped line that continues it

    def feed(self, token: _Token) -> None:
        match token:
            case _Heading():
                self.heading(token)
            case _ListItem():
                self.list_item(token)
            case _Paragraph():
                self.paragraph(token)
            case None:
                self.last_item = None

    def heading(self, heading: _Heading) -> None:
        self.in_evidence = False
        self.open_items.clear()
        self.last_item = None
        if self.rollback_level is not None and heading.level <= self.rollback_level:
            self.rollback_level = None
        text = _NUMBERING.sub("", _clean(heading.text), count=1)
        if self.rollback_level is None and _ROLLBACK.search(text):
            self.rollback_level = heading.level
        while self.headings and self.headings[-1][0] >= heading.level:
            self.headings.pop()
        in_rollback = self.rollback_level is not None
        found = find_offset(text)
        parent = self.headings[-1][1] if self.headings else None
        if found is None and parent is not None and parent.at is not None and parent.rollback == in_rollback:
            step = parent
        else:
            step = self.new_step(text, found, in_rollback)
        self.headings.append((heading.level, step))
        self.section = step

    def list_item(self, list_item: _ListItem) -> None:
        while self.open_items and self.open_items[-1].indent >= list_item.indent:
            self.open_items.pop()
        parent = self.open_items[-1] if self.open_items else None
        text = _clean(list_item.text)
        owner = self.owner()
        opened = _OpenListItem(list_item.indent)
        found = None if self.in_evidence else find_offset(text)
        if found is not None and _at_an_edge(text, found[2]):
            opened.step = self.new_step(text, found, owner.rollback)
        elif self.in_evidence:
            opened.item = _Item(text)
            owner.evidence.append(opened.item)
        elif list_item.checkbox:
            opened.item = _Item(text)
            owner.items.append(opened.item)
        elif (
            list_item.ordered
            and (self.numbered_procedure or owner.rollback)
            and (parent is None or parent.step is not None)
        ):
            opened.item = _Item(text)
            owner.items.append(opened.item)
        elif parent is not None and parent.item is not None and list_item.text.startswith("`"):
            parent.item.commands.append(text)
        self.last_item = opened.item
        self.open_items.append(opened)

    def paragraph(self, paragraph: _Paragraph) -> None:
        text = _clean(paragraph.text)
        if _EVIDENCE_LABEL.fullmatch(text):
            self.in_evidence = True
            self.open_items.clear()
            self.last_item = None
        elif paragraph.indent > 0 and self.last_item is not None:
            self.last_item.text = f"{self.last_item.text} {text}"
        else:
            self.in_evidence = False
            self.open_items.clear()
            self.last_item = None

    def owner(self) -> _Step:
        """The step list items go to: the nearest enclosing offset item, else the section."""
        for opened in reversed(self.open_items):
            if opened.step is not None:
                return opened.step
        if self.section is None:
            self.section = self.new_step("Checklist", None, False)
        return self.section

    def new_step(self, text: str, found: tuple[float, float | None, re.Match[str]] | None, rollback: bool) -> _Step:
        if found is None:
            step = _Step(title=_title(text, None) or "Checklist", rollback=rollback)
        else:
            at, duration, match = found
            step = _Step(title=_title(text, match) or format_offset(at), at=at, duration=duration, rollback=rollback)
        self.steps.append(step)
        return step


def _at_an_edge(text: str, match: re.Match[str]) -> bool:
    """Whether a list item's offset leads it (``T-24h: ...``) or closes it (``... (T-48h)``).

    An offset mid-sentence ("rollback within T+30m") is part of the item's text.
    """
    before, after = text[: match.start()], text[match.end():]
    return not re.search(r"\w", before) or not re.search(r"\w", after)


def _clean(text: str) -> str:
    """Inline Markdown to plain text: links to their text, no bold or code marks, no trailing period or colon."""
    text = _GITBOOK_TAG.sub("", text)
    text = _LINK.sub(lambda m: m["text"], text)
    text = text.replace("**", "").replace("`", "")
    text = " ".join(text.split()).removesuffix(":").rstrip()
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1]
    return text


def _title(text: str, match: re.Match[str] | None) -> str:
    """A step title: the text without its numbering and its offset, capitalised."""
    if match is not None:
        text = f"{text[: match.start()]} {text[match.end():]}"
    text = re.sub(r"[(\[]\s*[)\]]", "", text)
    text = _EDGE_PUNCTUATION.sub("", " ".join(text.split()))
    return text[:1].upper() + text[1:]


def _step_yaml(step: _Step, taken_ids: set[str]) -> dict[str, object]:
    data: dict[str, object] = {"id": _unique(_slug(step.title) or "step", taken_ids), "title": step.title}
    if step.at is not None:
        data["at"] = format_offset(step.at)
    if step.duration is not None:
        data["duration"] = format_duration(step.duration)
    if _GO_NO_GO.search(step.title):
        data["kind"] = "go_no_go"
    if step.items:
        data["items"] = _items_yaml(step.items)
    if step.evidence:
        data["evidence"] = _items_yaml(step.evidence)
    return data


def _items_yaml(items: list[_Item]) -> list[object]:
    """Items as plain strings, with an explicit id only where the derived ids would clash."""
    taken: set[str] = set()
    result: list[object] = []
    for index, item in enumerate(items):
        text = item.render()
        derived = _slug(text) or str(index + 1)  # the id the loader derives
        if derived in taken:
            result.append({"id": _unique(derived, taken), "text": text})
        else:
            taken.add(derived)
            result.append(text)
    return result


def _unique(base: str, taken: set[str]) -> str:
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}_{number}", number + 1
    taken.add(candidate)
    return candidate
