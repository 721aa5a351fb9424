"""The report as Markdown release evidence (GitHub-flavoured tables)."""

from __future__ import annotations

import re

from cutover_tui.report.document import Alert, Block, Bullets, ChartBlock, Heading, Paragraph, Table, document
from cutover_tui.report.model import Report


def render_markdown(report: Report) -> str:
    """The report as Markdown release evidence (GitHub-flavoured tables)."""
    return "\n".join(filter(None, map(_markdown_block, document(report)))).rstrip() + "\n"


_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def _md(text: str) -> str:
    """Operator text as Markdown inline text: no raw HTML tags, no line breaks."""
    return _TAG_START.sub("&lt;", text).replace("\r", "").replace("\n", " ")


def _md_cell(text: str) -> str:
    return _md(text).replace("|", "\\|") or " "


def _markdown_block(block: Block) -> str:
    match block:
        case Heading(level, text):
            return f"{'#' * level} {_md(text)}\n"
        case Paragraph(text):
            return f"{_md(text)}\n"
        case Alert(text, danger):
            return f"> **{_md(text)}**\n" if danger else f"> {_md(text)}\n"
        case Bullets(items):
            return "".join(f"- {_md(item)}\n" for item in items)
        case Table(headers, rows, _):
            lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
            lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]
            return "\n".join(lines) + "\n"
        case ChartBlock():
            return ""
    raise AssertionError(block)
