"""Active Alertmanager alerts by severity; suppressed ones apart, never hidden, never counted."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.text import Text
from textual.widgets import Static

from cutover_tui.state import AlertView, SessionState
from cutover_tui.widgets.formatting import to_zone
from cutover_tui.widgets.markers import BLIND_STYLE, check_marker
from runbooks.model import Runbook

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

    def sync(self, state: SessionState, runbook: Runbook, now: datetime, zone: tzinfo | None) -> None:
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
        text.append(f"Suppressed {len(suppressed)}: {names}", style="dim italic")
    text.rstrip()
    return text


def since(starts_at: str, zone: tzinfo | None) -> str:
    """``since 22:01`` from an Alertmanager ISO time, or the raw text if it does not parse."""
    try:
        moment = datetime.fromisoformat(starts_at)
    except ValueError:
        return starts_at
    if moment.tzinfo is None:
        return starts_at
    return f"since {to_zone(moment, zone):%H:%M}"
