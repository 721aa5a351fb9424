"""A stop condition's values over the session as an inline SVG chart, and the page's CSS."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime, timedelta

from cutover_tui.labels import format_value
from cutover_tui.report.document import Clock
from cutover_tui.report.model import Chart, ConditionReport

_WIDTH, _HEIGHT = 720, 190
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 56, 10, 26


def svg_chart(condition: ConditionReport, clock: Clock) -> str:
    """The check's values over the session as a step line, with the threshold, firing periods and gaps."""
    chart, unit, e = condition.chart, condition.unit, html.escape
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
    span = max((chart.end - chart.start).total_seconds(), 1e-3)
    values = [v for _, v in chart.points if v is not None]
    scale = values + ([chart.threshold] if chart.threshold is not None else [])
    low, high = (min(scale), max(scale)) if scale else (0.0, 1.0)
    pad = (high - low) * 0.08 or abs(high) * 0.1 or 1.0
    low, high = low - pad, high + pad

    def x(moment: datetime) -> float:
        return _LEFT + min(max((moment - chart.start).total_seconds() / span, 0.0), 1.0) * plot_w

    def y(value: float) -> float:
        return _TOP + (high - value) / (high - low) * plot_h

    def band(start: datetime, end: datetime, css: str, label: str) -> str:
        return (
            f'<rect class="{css}" x="{x(start):.1f}" y="{_TOP}" width="{max(x(end) - x(start), 0.5):.1f}" '
            f'height="{plot_h}"><title>{e(label)}</title></rect>'
        )

    label = f"{condition.id}: {condition.check} over the session" + (
        f", threshold {condition.threshold}" if condition.threshold else ""
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-label="{e(label)}">',
        f"<title>{e(label)}</title>",
        f'<rect class="plot" x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}"/>',
    ]
    parts += [band(a, b, "down", f"dashboard down {clock.time(a)} → {clock.time(b)}") for a, b in chart.down]
    parts += [band(a, b, "firing", f"firing {clock.time(a)} → {clock.time(b)}") for a, b in chart.firing]
    for value in (low + pad, high - pad):
        parts.append(_svg_text(_LEFT - 4, y(value) + 4, format_value(value, unit), "axis", "end"))
    for k, anchor in enumerate(("start", "middle", "middle", "middle", "end")):
        moment = chart.start + timedelta(seconds=span * k / 4)
        parts.append(_svg_text(x(moment), _HEIGHT - 8, clock.time(moment), "axis", anchor))
    if chart.t0 is not None and chart.start <= chart.t0 <= chart.end:
        parts.append(
            f'<line class="t0" x1="{x(chart.t0):.1f}" x2="{x(chart.t0):.1f}" y1="{_TOP}" y2="{_TOP + plot_h}"/>'
        )
        parts.append(_svg_text(x(chart.t0) + 3, _TOP + 11, "T0", "axis", "start"))
    if chart.threshold is not None:
        ty = y(chart.threshold)
        parts.append(f'<line class="threshold" x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}"/>')
        parts.append(_svg_text(_LEFT + plot_w + 4, ty + 4, condition.threshold, "threshold-label", "start"))
    path = _step_path(chart, x, y)
    if path:
        parts.append(f'<path class="series" d="{path}"/>')
    else:
        empty = f"no readings of {condition.check} stored"
        parts.append(_svg_text(_LEFT + plot_w / 2, _TOP + plot_h / 2, empty, "axis", "middle"))
    parts.append("</svg>")
    return "".join(parts)


def _svg_text(x: float, y: float, text: str, css: str, anchor: str) -> str:
    return f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{html.escape(text)}</text>'


def _step_path(chart: Chart, x: Callable[[datetime], float], y: Callable[[float], float]) -> str:
    """An SVG path holding each value until the next point; a ``None`` point lifts the pen."""
    commands: list[str] = []
    drawing = False
    for moment, value in chart.points:
        if value is None:
            if drawing:
                commands.append(f"H{x(moment):.1f}")
            drawing = False
        elif drawing:
            commands.append(f"H{x(moment):.1f}V{y(value):.1f}")
        else:
            commands.append(f"M{x(moment):.1f} {y(value):.1f}")
            drawing = True
    if drawing:
        commands.append(f"H{x(chart.end):.1f}")
    return "".join(commands)


CSS = """
:root { color-scheme: light; --fail: #b00020; --pass: #1b5e20; --warn: #8a5a00; --muted: #666; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111; background: #fff; margin: 0; }
main { max-width: 980px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.6em; margin: 0 0 .4em; }
h2 { font-size: 1.25em; margin: 1.6em 0 .5em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
h3 { font-size: 1.05em; margin: 1.2em 0 .3em; }
table { border-collapse: collapse; margin: .5em 0 1em; width: 100%; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
tr.pass td:last-child { color: var(--pass); font-weight: 600; }
tr.fail td:last-child { color: var(--fail); font-weight: 700; }
tr.skipped td:last-child, tr.in-progress td:last-child { color: var(--warn); font-weight: 600; }
tr.not-run td:last-child { color: var(--muted); }
.alert { padding: 10px 14px; border-radius: 4px; font-weight: 600; }
.alert.danger { background: #fde7ea; border: 3px solid var(--fail); color: var(--fail); font-size: 1.15em; }
.alert.ok { background: #e8f5e9; border: 1px solid var(--pass); color: var(--pass); }
figure { margin: .5em 0 1.5em; }
svg { width: 100%; height: auto; font: 11px system-ui, sans-serif; }
svg .plot { fill: #fafafa; stroke: #bbb; }
svg .firing { fill: #d32f2f; fill-opacity: .18; }
svg .down { fill: #777; fill-opacity: .22; }
svg .series { fill: none; stroke: #1565c0; stroke-width: 1.5; }
svg .threshold { stroke: #d32f2f; stroke-width: 1; stroke-dasharray: 5 3; }
svg .threshold-label { fill: #d32f2f; }
svg .t0 { stroke: #444; stroke-dasharray: 2 3; }
svg .axis { fill: #555; }
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  h2, h3 { break-after: avoid; }
  table, figure, .alert { break-inside: avoid; }
  .alert.danger { background: none; border: 4px solid #000; color: #000; }
}
""".strip()
