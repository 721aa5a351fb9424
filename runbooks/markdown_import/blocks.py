"""Markdown lines to blocks, each with the line it came from.

A line-based reader rather than a CommonMark parser: runbooks quote whole
checklists inside ```` ```markdown ```` fences that themselves hold ```` ```sql ````
fences (CommonMark would close the outer fence at the inner one's end), put
GitBook ``{% ... %}`` tags between items, and use bold lines as headings. What
the importer needs from a line (heading, list item, table row, paragraph,
code) is plain to see at its start, and every block keeps its 1-based line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

_FENCE = re.compile(r"^\s*(?P<marker>`{3,}|~{3,})\s*(?P<info>[^\s`]*)")
_HEADING = re.compile(r"^\s{0,3}(?P<hashes>#{1,6})\s+(?P<text>.*?)(?:\s+#+)?\s*$")
_LIST_ITEM = re.compile(r"^(?P<indent>\s*)(?P<marker>[-*+•]|\d{1,9}[.)]|[a-zA-Z][.)])\s+(?P<text>\S.*)$")
_BOX_ITEM = re.compile(r"^(?P<indent>\s*)(?P<box>[☐□☑☒✅✔❌✗✘⬜])\s*(?P<text>\S.*)$")
_CHECKBOX = re.compile(r"^\[(?P<mark>[ xX✓✔-]?)\]\s+(?P<text>\S.*)$")
_BOX_TEXT = re.compile(r"^(?P<box>[☐□☑☒⬜])\s*(?P<text>\S.*)$")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$|^\s*[^|`]+\|[^|]+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_RULE = re.compile(r"^\s{0,3}(?:(?:\*\s*){3,}|(?:-\s*){3,}|(?:_\s*){3,})$")
_GITBOOK_TAG = re.compile(r"\{%.*?%\}")
_HTML_COMMENT = re.compile(r"<!--.*?-->")
_HTML_TAG = re.compile(r"</?(?:details|summary|div|span|br|p|b|i|u|strong|em|sup|sub|center|kbd)\b[^>]*>", re.I)
_WHOLE_BOLD = re.compile(r"^\s*(?:\*\*|__)(?P<text>[^*_].*?)(?:\*\*|__)\s*:?\s*$")
_QUOTE = re.compile(r"^\s{0,3}>\s?")

CHECKED = "checked"
OPEN = "open"


@dataclass(frozen=True, slots=True)
class Heading:
    """``## text``, or a bold line standing alone (``bold``: placed one level below the heading above it)."""

    level: int
    text: str
    line: int
    bold: bool = False


@dataclass(frozen=True, slots=True)
class ListItem:
    """A list item. ``box`` is None (no checkbox), ``open``, ``checked``, or the mark (✅ ❌) it starts with."""

    indent: int
    ordered: bool
    box: str | None
    text: str
    line: int


@dataclass(frozen=True, slots=True)
class Paragraph:
    indent: int
    text: str
    line: int
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """A pipe table: header cells and rows of cells, each row with its line."""

    header: tuple[str, ...]
    rows: tuple[tuple[tuple[str, ...], int], ...]
    line: int


@dataclass(frozen=True, slots=True)
class Code:
    """A fenced code block (never read as steps): its info word, text and first line."""

    info: str
    text: str
    line: int
    indent: int = 0


@dataclass(frozen=True, slots=True)
class Blank:
    line: int


Block = Heading | ListItem | Paragraph | Table | Code | Blank


@dataclass(slots=True)
class _Fence:
    marker: str
    markdown: bool
    level: int  # the heading level it sits under, for headings inside a markdown fence
    line: int
    info: str = ""
    indent: int = 0
    body: list[str] = field(default_factory=list)


def blocks(text: str, first_line: int = 1) -> Iterator[Block]:
    """The blocks of ``text``, whose first line is line ``first_line`` of the file."""
    lines = text.split("\n")
    fences: list[_Fence] = []
    level = 0
    index = 0
    while index < len(lines):
        number = first_line + index
        line = lines[index].expandtabs(4)
        index += 1
        fence = _FENCE.match(line)
        in_code = bool(fences) and not fences[-1].markdown
        if fence:
            marker, info = fence["marker"], fence["info"].lower()
            top = fences[-1] if fences else None
            if top is not None and not info and marker[0] == top.marker[0] and len(marker) >= len(top.marker):
                fences.pop()
                if not top.markdown:
                    yield Code(top.info, "\n".join(top.body), top.line, top.indent)
                continue
            if not in_code:
                fences.append(
                    _Fence(marker, info in ("markdown", "md"), level, number, info, len(line) - len(line.lstrip()))
                )
                continue
        if in_code:
            fences[-1].body.append(lines[index - 1])
            continue
        line = _HTML_TAG.sub("", _HTML_COMMENT.sub("", _GITBOOK_TAG.sub("", line))).rstrip()
        if not line.strip() or _RULE.match(line):
            yield Blank(number)
            continue
        quoted = False
        if _QUOTE.match(line):
            quoted = True
            line = _QUOTE.sub("", line, count=1)
            if not line.strip():
                yield Blank(number)
                continue
        if not quoted and (heading := _HEADING.match(line)):
            level = (fences[-1].level if fences else 0) + len(heading["hashes"])
            yield Heading(level, heading["text"].strip(), number)
            continue
        if not quoted and _is_table_start(line, lines, index):
            header = _cells(line)
            rows: list[tuple[tuple[str, ...], int]] = []
            index += 1  # the rule under the header
            while index < len(lines) and "|" in lines[index] and lines[index].strip():
                rows.append((_cells(lines[index]), first_line + index))
                index += 1
            yield Table(header, tuple(rows), number)
            continue
        if not quoted and (bold := _WHOLE_BOLD.match(line)) and "**" not in bold["text"]:
            yield Heading(level + 1, bold["text"].strip().rstrip(":").strip(), number, bold=True)
            continue
        if item := _LIST_ITEM.match(line):
            text = item["text"]
            box = None
            if checkbox := _CHECKBOX.match(text):
                box = OPEN if checkbox["mark"] in (" ", "") else CHECKED
                text = checkbox["text"]
            elif boxed := _BOX_TEXT.match(text):
                box = OPEN if boxed["box"] in "☐□⬜" else CHECKED
                text = boxed["text"]
            elif text[:1] in "✅✔☑❌✗✘":
                box = text[:1]
                text = text[1:].strip()
            marker = item["marker"]
            if marker[0].isalpha() and not _looks_lettered(lines, index - 1):
                yield Paragraph(len(line) - len(line.lstrip()), line.strip(), number, quoted)
                continue
            yield ListItem(len(item["indent"]), marker[0].isdigit() or marker[0].isalpha(), box, text.strip(), number)
            continue
        if boxed := _BOX_ITEM.match(line):
            mark = boxed["box"]
            box = OPEN if mark in "☐□⬜" else CHECKED if mark in "☑☒" else mark
            yield ListItem(len(boxed["indent"]), False, box, boxed["text"].strip(), number)
            continue
        yield Paragraph(len(line) - len(line.lstrip()), line.strip(), number, quoted)
    for unclosed in fences:  # an unclosed fence runs to the end of the document
        if not unclosed.markdown:
            yield Code(unclosed.info, "\n".join(unclosed.body), unclosed.line, unclosed.indent)


def _is_table_start(line: str, lines: list[str], index: int) -> bool:
    return "|" in line and index < len(lines) and bool(_TABLE_RULE.match(lines[index])) and "|" in lines[index] + line


def _cells(line: str) -> tuple[str, ...]:
    stripped = line.strip()
    if stripped.startswith("|"):
        stripped = stripped[1:]
    if stripped.endswith("|") and not stripped.endswith("\\|"):
        stripped = stripped[:-1]
    cells = re.split(r"(?<!\\)\|", stripped)
    return tuple(cell.strip().replace("\\|", "|") for cell in cells)


def _looks_lettered(lines: list[str], index: int) -> bool:
    """``a) ...`` is a list item only beside other lettered items (else "A. Smith said" is prose)."""
    for other in (index - 1, index + 1):
        if 0 <= other < len(lines) and re.match(r"^\s*[a-zA-Z][.)]\s+\S", lines[other]):
            return True
    return False
