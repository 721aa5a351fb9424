"""Active Alertmanager alerts by severity; suppressed ones apart, never hidden, never counted.

Each suppressed alert says what suppresses it (the silence's author, end,
comment and id; the inhibiting alerts) and whether the runbook expects it:
one nobody expects is why its alerts check cannot vouch, and is drawn in the
blind style.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from rich.text import Text
from textual.widgets import Static

from cutover_tui.labels import BLIND_STYLE, check_marker, to_zone
from cutover_tui.state import AlertView, SessionState
from runbooks.model import Runbook

#: Suppressed alerts described one per line; the rest are counted.
MAX_SUPPRESSED_LINES = 8

SEVERITY_ORDER = ("critical", "page", "high", "error", "major", "warning", "minor", "low", "info")
SEVERITY_STYLES = {"critical": "bold red", "page": "bold red", "high": "red", "error": "red", "warning": "yellow"}


def severity_rank(alert: AlertView) -> int:
    """Sort key: most severe first, unknown severities last."""
    severity = alert.severity.lower()
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


class AlertsPanel(Static):
    """Alerts from the latest alerts readings, and whether those readings could be trusted."""

    DEFAULT_CSS = """
    AlertsPanel { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: Text | None = None

    def show(self, state: SessionState, runbook: Runbook, now: datetime, zone: tzinfo | None) -> None:
        """Redraw only when the rendered text changed."""
        text = alerts_text(state, runbook, now, zone)
        if text != self._shown:
            self._shown = text
            self.update(text)


def alerts_text(state: SessionState, runbook: Runbook, now: datetime, zone: tzinfo | None) -> Text:
    """Blind alert sources first, then active alerts by severity, then the suppressed ones."""
    text = Text()
    for check in runbook.checks.values():
        if check.kind != "alerts":
            continue
        view = state.checks.get(check.id)
        status = view.status if view is not None else "never"
        if status in ("pass", "breach"):
            continue
        marker = check_marker(status)
        why = view.detail if view is not None and view.detail and status != "stale" else marker.word
        text.append(f"{marker.symbol} {check.id}: cannot tell ({why})\n", style=BLIND_STYLE)
    active = sorted((a for a in state.alerts if a.state != "suppressed"), key=severity_rank)
    suppressed = [a for a in state.alerts if a.state == "suppressed"]
    for alert in active:
        style = SEVERITY_STYLES.get(alert.severity.lower(), "")
        text.append(f"✖ {alert.severity or '?':<8} ", style=style or "bold")
        text.append(alert.name, style="bold")
        text.append(f" {since(alert.starts_at, zone)}", style="dim")
        if alert.summary:
            text.append(f"  {alert.summary}")
        text.append("\n")
    if not any(check.kind == "alerts" for check in runbook.checks.values()):
        text.append("No Alertmanager check in this runbook\n", style="dim")
    elif not active and not text:
        text.append("No active alerts\n", style="dim")
    if suppressed:
        names = ", ".join(f"{a.name} ({a.severity})" for a in suppressed)
        text.append(f"Suppressed {len(suppressed)}: {names}\n", style="dim italic")
        suppressed.sort(key=lambda a: bool(a.expected_by))  # those nobody expects first
        for alert in suppressed[:MAX_SUPPRESSED_LINES]:
            text.append(f"  ⊘ {suppressed_line(alert, now, zone)}\n", style="dim" if alert.expected_by else BLIND_STYLE)
        if len(suppressed) > MAX_SUPPRESSED_LINES:
            text.append(f"  and {len(suppressed) - MAX_SUPPRESSED_LINES} more suppressed\n", style="dim")
    text.rstrip()
    return text


def suppressed_line(alert: AlertView, now: datetime, zone: tzinfo | None) -> str:
    """``DiskFull: silenced by alice until 14:05 — "disk swap" (id 3f2a9c1b); cannot vouch``."""
    reasons = []
    for silence in alert.silences:
        words = "silenced"
        if silence.created_by:
            words += f" by {silence.created_by}"
        if silence.ends_at:
            words += f" until {wall_time(silence.ends_at, now, zone)}"
        if silence.comment:
            words += f' — "{silence.comment}"'
        if silence.id:
            words += f" (id {silence.id[:8]})"
        reasons.append(words)
    if alert.inhibitors:
        reasons.append("inhibited by " + ", ".join(alert.inhibitors))
    line = f"{alert.name}: {'; '.join(reasons) or 'suppressed'}"
    if alert.details_missing:
        line += f" [details unavailable: {alert.details_missing}]"
    if alert.expected_by == "suppressed: ignore":
        return f"{line} — ignored (suppressed: ignore)"
    if alert.expected_by:
        return f"{line} — expected during step {alert.expected_by}"
    return f"{line} — cannot vouch"


def wall_time(moment_text: str, now: datetime, zone: tzinfo | None) -> str:
    """``14:05`` today, ``12-02 14:05`` another day, from an Alertmanager time; the raw text if it does not parse."""
    try:
        moment = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", moment_text).replace("Z", "+00:00"))
    except ValueError:
        return moment_text
    if moment.tzinfo is None:
        return moment_text
    local, today = to_zone(moment, zone), to_zone(now, zone)
    return f"{local:%H:%M}" if local.date() == today.date() else f"{local:%m-%d %H:%M}"


def since(starts_at: str, zone: tzinfo | None) -> str:
    """``since 22:01`` from an Alertmanager ISO time, or the raw text if it does not parse."""
    try:
        moment = datetime.fromisoformat(starts_at)
    except ValueError:
        return starts_at
    if moment.tzinfo is None:
        return starts_at
    return f"since {to_zone(moment, zone):%H:%M}"
