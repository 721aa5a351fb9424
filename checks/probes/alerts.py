"""The ``alerts`` probe: how many alerts Alertmanager (API v2) has active.

``GET /api/v2/alerts`` with the check's ``filter`` matchers, asking for active,
silenced, inhibited and unprocessed alerts alike, so nothing is hidden:

- the value is the number with ``status.state == "active"``; it passes at 0
  (or as ``pass_when`` says);
- suppressed (silenced or inhibited) alerts are listed in
  ``extra["suppressed"]`` and never counted; unprocessed ones (just received,
  not yet run through silences and inhibitions) in ``extra["unprocessed"]``,
  not counted either, but the poll cannot pass on them: NODATA ("1 critical
  alert just received, not yet processed by Alertmanager — cannot vouch");
- a suppressed alert is still a firing alert that matches the check: a
  silence cannot vouch for health, so unless the runbook expects it the poll
  is NODATA ("2 critical alerts silenced until 14:05 UTC — cannot vouch"),
  shown unknown whatever ``on_nodata`` says, and ``degraded`` (a condition
  whose ``when`` the active count does not breach cannot pass on it either).
  Expected are the alerts matching an ``expect_silenced`` entry of a step
  active now (``ProbeContext.expected_silences``), and every suppressed alert
  of a check with ``suppressed: ignore``;
- each suppressed alert's entry names what suppresses it: its silences
  (``/api/v2/silence/{id}``: id, author, comment, end) and the alerts that
  inhibit it (looked up by fingerprint in the whole alert list). Both are
  cached per source for ``DETAIL_REFRESH`` seconds and looked up only when a
  new one appears, at most ``MAX_SILENCE_LOOKUPS`` silences a poll; a failed
  lookup leaves the entry without details and never changes the outcome;
- Alertmanager unreachable or answering non-2xx is an ERROR, never "no alerts";
- with ``watchdog`` named, that alert must be firing (active, or suppressed:
  Alertmanager holds it either way): when it is not, the poll is NODATA
  ("watchdog alert 'Watchdog' not firing", shown unknown whatever
  ``on_nodata`` says). Alertmanager keeps an alert active until its
  ``endsAt`` (4 minutes after the last send, by Prometheus' defaults), so a
  watchdog still active is not proof that Prometheus still sends it: a pass
  carries as ``sample_age`` the time since Alertmanager last received it (its
  ``updatedAt``), and past the check's ``max_age`` it is stale.

An alert active beyond the check's criterion outranks both: a breach we can
see is a breach, whatever else we cannot see.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from checks.probes.common import (
    Fetched,
    Observation,
    ProbeFailed,
    build_headers,
    error,
    fetch,
    shorten,
    source_of,
)
from checks.probes.context import ExpectedSilence, ProbeContext
from checks.reading import Outcome
from runbooks.grammar import counted
from runbooks.loader import split_matcher
from runbooks.model import AlertsSpec, Check

#: Alerts listed per group in ``extra``; counts are always complete.
MAX_LISTED = 50
#: Silences looked up per poll (new or due for refresh); the rest wait for the next poll.
MAX_SILENCE_LOOKUPS = 10
#: Seconds a looked-up silence or inhibiting alert is reused before it is asked for again.
DETAIL_REFRESH = 60.0
#: Silences and inhibiting alerts named per suppressed alert.
MAX_REASONS = 3
#: Share of the check's timeout the detail lookups may use, at most.
DETAIL_TIMEOUT_SHARE = 0.5
#: ``expected_by`` of the suppressed alerts of a check with ``suppressed: ignore``.
IGNORED_BY_CHECK = "suppressed: ignore"


async def probe(check: Check, ctx: ProbeContext) -> Observation:
    """Fetch the matching alerts (and the watchdog) and count the active ones."""
    spec = check.spec_as(AlertsSpec)
    source = source_of(check, ctx, "alertmanager")
    headers = build_headers(ctx.env, source.headers, token_env=source.token_env)
    base = source.url.rstrip("/")
    receiver = spec.receiver
    watchdog = spec.watchdog
    # Detail look-ups stop here, so that the poll itself ends within the timeout.
    deadline = asyncio.get_running_loop().time() + check.timeout * 0.9

    async def alerts_matching(matchers: list[str]) -> list[dict[str, Any]]:
        params: list[tuple[str, str]] = [
            ("active", "true"),
            ("silenced", "true"),
            ("inhibited", "true"),
            ("unprocessed", "true"),
            *(("filter", matcher) for matcher in matchers),
        ]
        if receiver:
            params.append(("receiver", receiver))
        response = await fetch(
            ctx,
            f"{base}/api/v2/alerts",
            headers=headers,
            params=params,
            timeout=check.timeout,
            verify=source.verify_tls,
        )
        return _alerts(response)

    matchers = list(spec.matchers)
    if watchdog:
        # The check's matchers would usually exclude the watchdog, so it is asked for on its own.
        alerts, watchdogs = await asyncio.gather(
            alerts_matching(matchers), alerts_matching([f'alertname="{watchdog}"'])
        )
        # A silenced watchdog still reached Alertmanager: the pipeline works.
        firing = [alert for alert in watchdogs if alert["status"].get("state") in ("active", "suppressed")]
        watchdog_firing, watchdog_age = bool(firing), _received_ago(firing, ctx.clock.now())
    else:
        alerts, watchdog_firing, watchdog_age = await alerts_matching(matchers), True, None

    groups: dict[str, list[dict[str, Any]]] = {"active": [], "suppressed": [], "unprocessed": []}
    for alert in alerts:
        state = alert["status"].get("state")
        groups[state if state in groups else "unprocessed"].append(alert)
    active = len(groups["active"])

    ignore_all = spec.suppressed == "ignore"
    suppressed = [(alert, _expected_by(alert, ignore_all, ctx.expected_silences)) for alert in groups["suppressed"]]
    suppressed.sort(key=lambda pair: pair[1] is not None)  # unexpected first: those are listed whatever the bound
    unexpected = [alert for alert, expected_by in suppressed if expected_by is None]
    listed = suppressed[:MAX_LISTED]
    details = await _details(
        ctx, source.verify_tls, base, headers, check.timeout, deadline, [alert for alert, _ in listed]
    )

    extra = {
        "active": [_summary(a) for a in groups["active"][:MAX_LISTED]],
        "suppressed": [_suppressed_entry(alert, expected_by, details) for alert, expected_by in listed],
        "unprocessed": [_summary(a) for a in groups["unprocessed"][:MAX_LISTED]],
        "active_count": active,
        "suppressed_count": len(suppressed),
        "suppressed_unexpected": len(unexpected),
    }
    observation = _count_active(check, active, groups["active"], extra)
    if observation.outcome is Outcome.BREACH:
        return dataclasses.replace(observation, degraded=bool(unexpected))
    if not watchdog_firing:
        return Observation(
            Outcome.NODATA,
            float(active),
            f"watchdog alert {watchdog!r} not firing",
            degraded=bool(unexpected),
            extra=extra,
            unit="count",
            final=True,
        )
    if unexpected:
        zone = _zone(ctx.runbook.timezone)
        detail = _cannot_vouch(unexpected, details, ctx.clock.now(), zone)
        return Observation(Outcome.NODATA, float(active), detail, degraded=True, extra=extra, unit="count", final=True)
    if groups["unprocessed"]:  # firing, and not yet known to be silenced or inhibited: no health to vouch for
        detail = (
            f"{_alerts_noun(groups['unprocessed'])} just received, not yet processed by Alertmanager — cannot vouch"
        )
        return Observation(Outcome.NODATA, float(active), detail, degraded=True, extra=extra, unit="count", final=True)
    return dataclasses.replace(observation, sample_age=watchdog_age)  # a pass is as fresh as the watchdog


def _received_ago(alerts: list[dict[str, Any]], now: datetime) -> float | None:
    """Seconds since Alertmanager last received any of ``alerts`` (their newest ``updatedAt``); None without one."""
    times = [moment for alert in alerts if (moment := _parse_time(alert.get("updatedAt"))) is not None]
    return max(0.0, (now - max(times)).total_seconds()) if times else None


def _count_active(check: Check, active: int, alerts: list[dict[str, Any]], extra: dict[str, Any]) -> Observation:
    """PASS at no active alert (or as ``pass_when`` says), else BREACH naming the alerts."""
    names = sorted({str(a.get("labels", {}).get("alertname", "?")) for a in alerts})
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    detail = f"{active} active: {shown}" if active else "no active alerts"
    suppressed, unexpected = extra["suppressed_count"], extra["suppressed_unexpected"]
    if suppressed:
        expected = suppressed - unexpected
        note = "" if not expected else ", expected" if expected == suppressed else f", {expected} expected"
        detail += f" ({suppressed} suppressed{note})"
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
    if not isinstance(alerts, list) or not all(
        isinstance(a, dict) and isinstance(a.get("status"), dict) for a in alerts
    ):
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


# -- expected suppression --------------------------------------------------------------


def _expected_by(alert: dict[str, Any], ignore_all: bool, expected: Iterable[ExpectedSilence]) -> str | None:
    """Who expects this suppressed alert: ``IGNORED_BY_CHECK``, a step id, or None (nobody)."""
    if ignore_all:
        return IGNORED_BY_CHECK
    labels = alert.get("labels") or {}
    for expectation in expected:
        if matches(labels, expectation.matchers):
            return expectation.step
    return None


def matches(labels: Mapping[str, Any], matchers: Iterable[str]) -> bool:
    """Whether ``labels`` satisfy every matcher, as Alertmanager matches them.

    A missing label reads as the empty string; regexes are anchored at both
    ends. A matcher that cannot be read never matches, so nothing is expected
    by mistake.
    """
    for matcher in matchers:
        try:
            name, op, value = _split(matcher)
            actual = str(labels.get(name, ""))
            if op in ("=", "!="):
                ok = (actual == value) == (op == "=")
            else:
                ok = (_regex(value).fullmatch(actual) is not None) == (op == "=~")
        except (ValueError, re.error):
            return False
        if not ok:
            return False
    return True


@functools.lru_cache(maxsize=256)
def _split(matcher: str) -> tuple[str, str, str]:
    """``split_matcher``, once per matcher: the same few are matched against every suppressed alert at every poll."""
    return split_matcher(matcher)


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# -- what suppresses each alert ------------------------------------------------------


@dataclass
class _SourceMemory:
    """Looked-up silences and inhibiting alerts of one Alertmanager, reused between polls."""

    silences: dict[str, tuple[float, dict[str, Any]]] = field(
        default_factory=dict
    )  # id -> (monotonic look-up time, summary)
    inhibitors: dict[str, dict[str, Any]] = field(default_factory=dict)  # fingerprint -> summary
    inhibitors_at: float | None = None  # monotonic time of the last look-up of the alert list


@dataclass
class _Details:
    """Silences by id and inhibiting alerts by fingerprint, for this poll's entries."""

    silences: dict[str, dict[str, Any]] = field(default_factory=dict)
    inhibitors: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


async def _details(
    ctx: ProbeContext,
    verify: bool,
    base: str,
    headers: Mapping[str, str],
    timeout: float,
    deadline: float,
    alerts: list[dict[str, Any]],
) -> _Details:
    """The silences and inhibiting alerts of ``alerts``, from the cache or Alertmanager.

    Bounded in time (``DETAIL_TIMEOUT_SHARE`` of the check's timeout) and in
    requests (``MAX_SILENCE_LOOKUPS`` silences, one alert list); what cannot
    be looked up now is left out, never guessed.
    """
    memory: _SourceMemory = ctx.alerts_memory.setdefault(base, _SourceMemory())
    silence_ids = list(
        dict.fromkeys(sid for a in alerts for sid in (a["status"].get("silencedBy") or [])[:MAX_REASONS])
    )
    fingerprints = list(
        dict.fromkeys(fp for a in alerts for fp in (a["status"].get("inhibitedBy") or [])[:MAX_REASONS])
    )
    # Forget what no alert refers to any more: the memory stays as small as the current picture.
    memory.silences = {sid: memory.silences[sid] for sid in silence_ids if sid in memory.silences}
    memory.inhibitors = {fp: memory.inhibitors[fp] for fp in fingerprints if fp in memory.inhibitors}
    now, wall = ctx.clock.monotonic(), ctx.clock.now()

    def silence_due(sid: str) -> bool:
        cached = memory.silences.get(sid)
        return cached is None or now - cached[0] >= DETAIL_REFRESH or _ended(cached[1].get("ends_at"), wall)

    due = [sid for sid in silence_ids if silence_due(sid)][:MAX_SILENCE_LOOKUPS]
    inhibitors_due = bool(fingerprints) and (
        memory.inhibitors_at is None
        or now - memory.inhibitors_at >= DETAIL_REFRESH
        or any(fp not in memory.inhibitors for fp in fingerprints)
    )
    details = _Details()
    if due or inhibitors_due:
        request = functools.partial(fetch, ctx, headers=headers, timeout=timeout, verify=verify)
        lookups = [_silence(request, base, sid) for sid in due]
        if inhibitors_due:
            lookups.append(_inhibitors(request, base, fingerprints))
        try:
            loop_now = asyncio.get_running_loop().time()
            async with asyncio.timeout_at(min(loop_now + timeout * DETAIL_TIMEOUT_SHARE, deadline)):
                results = await asyncio.gather(*lookups, return_exceptions=True)
        except TimeoutError:
            results = [error("timed out")] * len(lookups)
        for sid, result in zip(due, results, strict=False):  # the inhibitors, when looked up, come last
            if isinstance(result, dict):
                memory.silences[sid] = (now, result)
            else:
                details.problems.append(f"silence {sid}: {_problem(result)}")
        if inhibitors_due:
            result = results[-1]
            if isinstance(result, dict):
                memory.inhibitors.update(result)
                memory.inhibitors_at = now
            else:
                details.problems.append(f"inhibiting alerts: {_problem(result)}")
    details.silences = {sid: summary for sid, (_, summary) in memory.silences.items()}
    details.inhibitors = dict(memory.inhibitors)
    return details


def _problem(result: object) -> str:
    if isinstance(result, ProbeFailed):
        return result.detail
    if isinstance(result, TimeoutError):
        return "timed out"
    if isinstance(result, BaseException):
        return shorten(f"{type(result).__name__}: {result}") if str(result) else type(result).__name__
    return "unreadable"


async def _silence(request: Any, base: str, silence_id: str) -> dict[str, Any]:
    """One silence, as the screen shows it: id, author, comment, start, end, matchers."""
    response: Fetched = await request(f"{base}/api/v2/silence/{urllib.parse.quote(silence_id, safe='')}")
    if not response.ok:
        raise error(response.error_detail())
    try:
        silence = json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        raise error("silence is not valid JSON") from None
    if not isinstance(silence, dict):
        raise error("silence is not a JSON object")
    matchers = [m for m in silence.get("matchers") or () if isinstance(m, dict)]
    status = silence.get("status")
    if not isinstance(status, dict):
        status = {}
    return {
        "id": str(silence.get("id") or silence_id),
        "created_by": shorten(str(silence.get("createdBy") or ""), 80),
        "comment": shorten(str(silence.get("comment") or "")),
        "starts_at": str(silence.get("startsAt") or ""),
        "ends_at": str(silence.get("endsAt") or ""),
        "state": str(status.get("state") or ""),
        "matchers": [_matcher_text(m) for m in matchers[:5]],
    }


def _matcher_text(matcher: dict[str, Any]) -> str:
    """``alertname="DiskFull"`` from an API v2 silence matcher."""
    regex, equal = bool(matcher.get("isRegex")), matcher.get("isEqual", True) is not False
    op = ("=~" if equal else "!~") if regex else ("=" if equal else "!=")
    return shorten(f"{matcher.get('name', '')}{op}{json.dumps(str(matcher.get('value', '')), ensure_ascii=False)}", 120)


async def _inhibitors(request: Any, base: str, fingerprints: list[str]) -> dict[str, dict[str, Any]]:
    """The alerts with these fingerprints, from the whole alert list (the API has no look-up by fingerprint)."""
    alerts = _alerts(await request(f"{base}/api/v2/alerts"))
    wanted = set(fingerprints)
    found: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        fingerprint = alert.get("fingerprint")
        if fingerprint in wanted:
            labels = alert.get("labels") or {}
            found[str(fingerprint)] = {
                "fingerprint": str(fingerprint),
                "name": str(labels.get("alertname", "")),
                "severity": str(labels.get("severity", "")),
                "labels": {str(k): shorten(str(v), 80) for k, v in list(labels.items())[:10]},
            }
    for fingerprint in wanted - found.keys():  # resolved meanwhile: named by fingerprint alone
        found[fingerprint] = {"fingerprint": fingerprint, "name": "", "severity": "", "labels": {}}
    return found


def _suppressed_entry(alert: dict[str, Any], expected_by: str | None, details: _Details) -> dict[str, Any]:
    """``_summary`` plus who expects the suppression and what suppresses the alert."""
    entry = _summary(alert)
    entry["expected_by"] = expected_by or ""
    entry["silences"] = [
        details.silences.get(sid)
        or {"id": sid, "created_by": "", "comment": "", "starts_at": "", "ends_at": "", "state": "", "matchers": []}
        for sid in entry["silenced_by"][:MAX_REASONS]
    ]
    entry["inhibitors"] = [
        details.inhibitors.get(fp) or {"fingerprint": fp, "name": "", "severity": "", "labels": {}}
        for fp in entry["inhibited_by"][:MAX_REASONS]
    ]
    if details.problems:
        entry["details_missing"] = details.problems[0]
    return entry


# -- the words -------------------------------------------------------------------------


def _alerts_noun(alerts: list[dict[str, Any]]) -> str:
    """``2 critical alerts``, ``1 alert`` (a severity only when they share one)."""
    count = len(alerts)
    severities = {str((a.get("labels") or {}).get("severity", "")) for a in alerts}
    severity = f"{severities.pop()} " if len(severities) == 1 and "" not in severities else ""
    return counted(count, f"{severity}alert")


def _cannot_vouch(unexpected: list[dict[str, Any]], details: _Details, now: datetime, zone: tzinfo) -> str:
    """``2 critical alerts suppressed (1 silenced until 14:05 UTC, 1 inhibited by X) — cannot vouch``."""
    noun = _alerts_noun(unexpected)
    silenced = [a for a in unexpected if a["status"].get("silencedBy")]
    inhibited = [a for a in unexpected if not a["status"].get("silencedBy")]
    # Each alert stays silenced until its last silence ends; say "until" only when every end is known.
    ends: list[datetime] = []
    for alert in silenced:
        known = [
            m
            for sid in alert["status"]["silencedBy"]
            if (m := _parse_time(details.silences.get(sid, {}).get("ends_at")))
        ]
        if not known:
            ends = []
            break
        ends.append(max(known))
    until = f" until {_clock_time(max(ends), now, zone)}" if ends else ""
    names = sorted(
        {
            i["name"] or i["fingerprint"][:8]
            for a in inhibited
            for fp in a["status"].get("inhibitedBy") or ()
            if (i := details.inhibitors.get(fp))
        }
    )
    by = f" by {', '.join(names[:2])}{' and others' if len(names) > 2 else ''}" if names else ""
    if not inhibited:
        how = f"silenced{until}"
    elif not silenced:
        how = f"inhibited{by}"
    else:
        how = f"suppressed ({len(silenced)} silenced{until}, {len(inhibited)} inhibited{by})"
    return f"{noun} {how} — cannot vouch"


def _zone(name: str | None) -> tzinfo:
    if name:
        try:
            return ZoneInfo(name)
        except (KeyError, ValueError, OSError):
            pass
    return timezone.utc


def _parse_time(text: object) -> datetime | None:
    """An Alertmanager time (RFC 3339, ``Z`` or an offset, up to nanoseconds) as an aware datetime."""
    if not isinstance(text, str) or not text:
        return None
    cleaned = re.sub(r"(\.\d{6})\d+", r"\1", text.strip()).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _ended(text: object, now: datetime) -> bool:
    moment = _parse_time(text)
    return moment is not None and moment <= now


def _clock_time(moment: datetime, now: datetime, zone: tzinfo) -> str:
    """``14:05 UTC`` today in ``zone``, ``12-02 14:05 UTC`` on another day."""
    local, today = moment.astimezone(zone), now.astimezone(zone)
    shown = f"{local:%H:%M}" if local.date() == today.date() else f"{local:%m-%d %H:%M}"
    return f"{shown} {local.tzname() or ''}".rstrip()
