"""The ``alerts`` probe: how many alerts Alertmanager (API v2) has active.

``GET /api/v2/alerts`` with the check's ``filter`` matchers, asking for active,
silenced, inhibited and unprocessed alerts alike, so nothing is hidden:

- the value is the number with ``status.state == "active"``; it passes at 0
  (or as ``pass_when`` says);
- suppressed (silenced or inhibited) alerts are listed in
  ``extra["suppressed"]`` and never counted; unprocessed ones (just received)
  in ``extra["unprocessed"]``, not counted either;
- Alertmanager unreachable or answering non-2xx is an ERROR, never "no alerts";
- with ``watchdog`` named, that alert must be active: when it is not, the poll
  is NODATA ("watchdog alert 'Watchdog' not firing", shown unknown whatever
  ``on_nodata`` says), unless an alert is active anyway — a breach we can see
  outranks one we cannot.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from checks.probes.common import (
    Fetched,
    Observation,
    build_headers,
    error,
    fetch,
    shorten,
    source_of,
)
from checks.probes.context import ProbeContext
from checks.reading import Outcome
from runbooks.model import Check

#: Alerts listed per group in ``extra``; counts are always complete.
MAX_LISTED = 50


async def probe(check: Check, ctx: ProbeContext) -> Observation:
    """Fetch the matching alerts (and the watchdog) and count the active ones."""
    source = source_of(check, ctx, "alertmanager")
    headers = build_headers(ctx.env, source.headers, token_env=source.token_env)
    url = f"{source.url.rstrip('/')}/api/v2/alerts"
    receiver = check.spec.get("receiver")
    watchdog = check.spec.get("watchdog")

    async def alerts_matching(matchers: list[str]) -> list[dict[str, Any]]:
        params: list[tuple[str, str]] = [
            ("active", "true"),
            ("silenced", "true"),
            ("inhibited", "true"),
            ("unprocessed", "true"),
            *(("filter", matcher) for matcher in matchers),
        ]
        if receiver:
            params.append(("receiver", str(receiver)))
        response = await fetch(ctx, url, headers=headers, params=params, timeout=check.timeout, verify=source.verify_tls)
        return _alerts(response)

    matchers = [str(m) for m in check.spec.get("matchers") or ()]  # type: ignore[attr-defined]
    if watchdog:
        # The check's matchers would usually exclude the watchdog, so it is asked for on its own.
        alerts, watchdogs = await asyncio.gather(alerts_matching(matchers), alerts_matching([f'alertname="{watchdog}"']))
        watchdog_firing = any(alert["status"]["state"] == "active" for alert in watchdogs)
    else:
        alerts, watchdog_firing = await alerts_matching(matchers), True

    groups: dict[str, list[dict[str, Any]]] = {"active": [], "suppressed": [], "unprocessed": []}
    for alert in alerts:
        state = alert["status"].get("state")
        groups[state if state in groups else "unprocessed"].append(alert)
    active = len(groups["active"])
    extra = {
        "active": [_summary(a) for a in groups["active"][:MAX_LISTED]],
        "suppressed": [_summary(a) for a in groups["suppressed"][:MAX_LISTED]],
        "unprocessed": [_summary(a) for a in groups["unprocessed"][:MAX_LISTED]],
        "active_count": active,
        "suppressed_count": len(groups["suppressed"]),
    }
    observation = _count_active(check, active, groups["active"], extra)
    if not watchdog_firing and observation.outcome is not Outcome.BREACH:
        return Observation(Outcome.NODATA, float(active), f"watchdog alert {watchdog!r} not firing", extra=extra, unit="count", final=True)
    return observation


def _count_active(check: Check, active: int, alerts: list[dict[str, Any]], extra: dict[str, Any]) -> Observation:
    """PASS at no active alert (or as ``pass_when`` says), else BREACH naming the alerts."""
    names = sorted({str(a.get("labels", {}).get("alertname", "?")) for a in alerts})
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    detail = f"{active} active: {shown}" if active else "no active alerts"
    if extra["suppressed_count"]:
        detail += f" ({extra['suppressed_count']} suppressed)"
    breached = active > 0 if check.pass_when is None else not check.pass_when.holds(active)
    if breached and check.pass_when is not None:
        detail += f" (fails {check.pass_when.text})"
    return Observation(Outcome.BREACH if breached else Outcome.PASS, float(active), detail, extra=extra, unit="count")


def _alerts(response: Fetched) -> list[dict[str, Any]]:
    """The alert list of an API v2 response; ERROR on non-2xx or an unreadable body."""
    if not response.ok:
        raise error(response.error_detail(), http_status=response.status)
    try:
        alerts = json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        raise error("Alertmanager response is not valid JSON") from None
    if not isinstance(alerts, list) or not all(isinstance(a, dict) and isinstance(a.get("status"), dict) for a in alerts):
        raise error("Alertmanager response is not a list of alerts")
    return alerts


def _summary(alert: dict[str, Any]) -> dict[str, Any]:
    """What the screen shows of one alert."""
    labels = alert.get("labels") or {}
    annotations = alert.get("annotations") or {}
    status = alert["status"]
    return {
        "name": labels.get("alertname", ""),
        "severity": labels.get("severity", ""),
        "state": status.get("state", ""),
        "summary": shorten(str(annotations.get("summary") or annotations.get("description") or "")),
        "starts_at": alert.get("startsAt", ""),
        "silenced_by": list(status.get("silencedBy") or []),
        "inhibited_by": list(status.get("inhibitedBy") or []),
        "labels": dict(labels),
    }
