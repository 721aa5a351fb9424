"""One entry point for the renderers: ``render(report, "md" | "html" | "json")``."""

from __future__ import annotations

from collections.abc import Callable

from cutover_tui.report.as_html import render_html
from cutover_tui.report.as_json import render_json
from cutover_tui.report.as_markdown import render_markdown
from cutover_tui.report.model import Report


def render(report: Report, fmt: str) -> str:
    """``report`` as Markdown (``md``), a self-contained HTML page (``html``) or JSON (``json``)."""
    renderers: dict[str, Callable[[Report], str]] = {"md": render_markdown, "html": render_html, "json": render_json}
    return renderers[fmt](report)
