"""The report as one HTML page: inline CSS and SVG, no external assets or scripts, printable."""

from __future__ import annotations

import html

from cutover_tui.report.as_svg import CSS, svg_chart
from cutover_tui.report.document import Alert, Block, Bullets, ChartBlock, Clock, Heading, Paragraph, Table, document
from cutover_tui.report.model import Report


def render_html(report: Report) -> str:
    """The report as one HTML page: inline CSS and SVG, no external assets or scripts, printable."""
    clock = Clock(report)
    body = "\n".join(_html_block(block, clock) for block in document(report))
    title = html.escape(f"Cutover report: {report.session.runbook_name}")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _html_block(block: Block, clock: Clock) -> str:
    e = html.escape
    match block:
        case Heading(level, text):
            return f"<h{level}>{e(text)}</h{level}>"
        case Paragraph(text):
            return f"<p>{e(text)}</p>"
        case Alert(text, danger):
            return f'<p class="alert {"danger" if danger else "ok"}" role="alert">{e(text)}</p>'
        case Bullets(items):
            return "<ul>" + "".join(f"<li>{e(item)}</li>" for item in items) + "</ul>"
        case Table(headers, rows, row_classes):
            head = "".join(f"<th>{e(h)}</th>" for h in headers)
            body = "".join(
                (f'<tr class="{e(row_classes[i])}">' if i < len(row_classes) else "<tr>")
                + "".join(f"<td>{e(cell)}</td>" for cell in row)
                + "</tr>"
                for i, row in enumerate(rows)
            )
            return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        case ChartBlock(condition):
            return f"<figure>{svg_chart(condition, clock)}</figure>"
    raise AssertionError(block)
