"""The post-mortem and release-evidence report of a session log.

``build_report(path)`` reads a session log read-only, folds it through the
one reducer (``cutover_tui.reducer.Reducer``) and returns a ``Report``: the
session header, the checklist with PASS/FAIL and evidence, the decisions with
the condition values frozen at each, every stop condition's history, the
gaps where the dashboard was down and the result of ``verify``. The report
keeps no state of its own: everything in it is in the log.

Three renderings of the same ``Report``::

    report = build_report("go-live.cutover.db")
    render(report, "md")     # release evidence (Markdown)
    render(report, "html")   # one self-contained page, an SVG chart per stop condition
    render(report, "json")   # the Report as JSON, keys in a stable order, for other tools

Times are shown in the runbook's ``timezone`` (UTC when it has none); JSON
carries UTC ISO 8601 timestamps and normalised values (``%`` as a fraction,
times in seconds) with each condition's display unit.

The package: ``model`` (the ``Report`` dataclasses, imported from there), ``build`` (from the log),
``document`` (what the report says, as blocks), one renderer per format
(``as_markdown``, ``as_html`` with ``as_svg`` for its charts and CSS,
``as_json``) and ``formats`` (``render``).
"""

from cutover_tui.report.as_html import render_html
from cutover_tui.report.as_json import render_json
from cutover_tui.report.as_markdown import render_markdown
from cutover_tui.report.build import build_report
from cutover_tui.report.formats import render
from cutover_tui.report.model import Report

__all__ = ["Report", "build_report", "render", "render_html", "render_json", "render_markdown"]
