"""``cutover-tui status FILE [--format text|markdown|json]``: five lines for the incident channel.

The state is the follower's (``FollowBackend``: the same reducer, verdict and
writer heartbeat as ``follow``), read once from the log opened read-only, so
an archived log on read-only media works and a running session is never
touched. The lines:

1. the verdict and its first reason, the T-clock, the mode, the runbook;
2. the current step, its status and drift, and the next step;
3. firing and at-risk stop conditions with their values (and the blind ones);
4. the last decision: what, who, when, why;
5. the log's head (seq and sha256, what ``verify --expect-head`` takes) and the writer.

Exit 0 when printed, 2 when FILE is not a readable session log.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import Any

FORMATS = ("text", "markdown", "json")
#: A decision's reason is cut to this many characters in the line.
REASON_LIMIT = 100


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """Add ``status``'s arguments to its sub-parser."""
    parser.add_argument("db", metavar="FILE", help="a session log (*.cutover.db), live or archived")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text (default), markdown (for a chat channel) or json")  # fmt: skip


def run(command: str, args: argparse.Namespace) -> int:
    from cutover_tui.redaction import Redactor, activate, redact_text, secret_env_names
    from cutover_tui.store import SessionLogError

    try:
        summary = read_status(args.db)
    except SessionLogError as error:
        print(redact_text(f"cutover-tui status: {error}"), file=sys.stderr)
        return 2
    # The writer redacted what it stored; this catches a secret set here that the writer did not know.
    activate(Redactor(secret_env_names(summary.runbook)))
    print(redact_text(render(summary, args.format)))
    return 0


@dataclass
class Status:
    """What the five lines say, as data (``--format json`` prints it)."""

    runbook: Any = field(repr=False)
    verdict: str
    reasons: list[str]
    now: datetime
    t_clock: str
    mode: str
    runbook_name: str
    step: dict[str, Any] | None
    next_step: dict[str, Any] | None
    firing: list[dict[str, Any]]
    at_risk: list[dict[str, Any]]
    blind: list[str]
    decision: dict[str, Any] | None
    head_seq: int
    head_sha256: str
    writer: str  # "running" | "stopped" | "ended"
    writer_since: datetime | None
    ended: str | None
    zone: tzinfo = field(repr=False, default=timezone.utc)


def read_status(db: str) -> Status:
    """The session's state now, read once from the log (read-only)."""
    from cutover_tui.commands.app_cmds import runbook_from_log
    from cutover_tui.live import FollowBackend
    from cutover_tui.store import SessionLog

    runbook = runbook_from_log(db)
    backend = FollowBackend(db, runbook)
    try:
        state = backend.state()
    finally:
        _close(backend)
    with SessionLog.open_readonly(db) as log:
        head_seq, head_sha = log.head
    return _status(runbook, state, head_seq, head_sha)


def _close(backend: Any) -> None:
    import asyncio

    asyncio.run(backend.stop())  # it never started tailing: this only closes its log


def _zone(runbook: Any) -> tzinfo:
    from cutover_tui.labels import display_zone

    return display_zone(runbook.timezone) or timezone.utc


def _status(runbook: Any, state: Any, head_seq: int, head_sha: str) -> Status:
    from checks.status import ConditionState
    from cutover_tui.labels import decider_title, format_t_clock

    now = state.now or datetime.now(timezone.utc)
    conditions = {c.id: c for c in runbook.stop_conditions}

    def step_view(step_id: str | None) -> dict[str, Any] | None:
        step = state.step(step_id)
        if step is None:
            return None
        return {"id": step.id, "title": step.title, "status": step.status.value, "drift_seconds": step.drift_seconds,
                "planned_start": step.planned_start, "started_at": step.started_at}  # fmt: skip

    firing = []
    for view in state.conditions.values():
        if view.state in (ConditionState.FIRING, ConditionState.RECOVERING) or view.firing_since is not None:
            spec = conditions.get(view.id)
            firing.append({
                "condition": view.id, "state": view.state.value, "value": view.value, "value_text": view.value_text,
                "threshold": view.threshold, "since": view.firing_since or view.since, "reason": view.reason,
                "action": spec.action.value if spec is not None else None,
                "decides": spec.decides if spec is not None else None, "acknowledged": view.acknowledged,
            })  # fmt: skip
    at_risk = [
        {"condition": a.condition, "state": a.state.value, "seconds": a.seconds, "text": a.text} for a in state.at_risk
    ]
    decision = None
    if state.decisions:
        last = state.decisions[-1]
        decision = {
            "decision": last.decision,
            "actor": last.actor,
            "decided_by": decider_title(runbook, last.decided_by) or None,  # the role's title, as the log pane says
            "ts": last.ts,
            "reason": last.reason,
            "step": last.step,
        }
    if state.ended is not None:
        writer = "ended"
    elif state.writer_stopped_at is not None:
        writer = "stopped"
    else:
        writer = "running"
    return Status(
        runbook=runbook, verdict=state.verdict.value, reasons=list(state.verdict_reasons), now=now,
        t_clock=format_t_clock(now, state.t0), mode=state.mode.value, runbook_name=state.runbook_name,
        step=step_view(state.current_step), next_step=step_view(state.next_step), firing=firing, at_risk=at_risk,
        blind=list(state.blind), decision=decision, head_seq=head_seq, head_sha256=head_sha, writer=writer,
        writer_since=state.writer_stopped_at, ended=state.ended, zone=_zone(runbook),
    )  # fmt: skip


# ------------------------------------------------------------------ rendering


def render(status: Status, fmt: str) -> str:
    """The five lines as text or Markdown, or the whole status as JSON."""
    if fmt == "json":
        return json.dumps({**_plain(status), "lines": lines(status)}, indent=2, ensure_ascii=False)
    rows = lines(status)
    if fmt == "markdown":
        out = [f"**{_markdown_escape(rows[0])}**"]
        for row in rows[1:]:
            label, _, rest = row.partition(": ")
            out.append(f"**{label}:** {_markdown_escape(rest)}")
        return "  \n".join(out)  # two spaces: a line break in Markdown
    return "\n".join(rows)


def lines(status: Status) -> list[str]:
    """The five lines, plain text."""
    return [
        _verdict_line(status),
        _step_line(status),
        _conditions_line(status),
        _decision_line(status),
        _log_line(status),
    ]


def _clock(moment: datetime | None, status: Status) -> str:
    from cutover_tui.labels import format_wall_clock

    return "—" if moment is None else format_wall_clock(moment, status.zone)


def _verdict_line(status: Status) -> str:
    verdict = status.verdict.replace("_", " ")
    reason = f" — {status.reasons[0]}" if status.reasons and status.verdict != "CONTINUE" else ""
    return (
        f"{verdict}{reason} · {status.t_clock} · {status.mode} · {status.runbook_name} · {_clock(status.now, status)}"
    )


def _step_line(status: Status) -> str:
    from cutover_tui.labels import format_duration

    parts = []
    if status.step is not None:
        step = status.step
        drift = step["drift_seconds"]
        if step["status"] == "pending":
            timing = (
                ""
                if drift is None
                else f", due {format_duration(drift)} ago"
                if drift >= 1
                else f", due in {format_duration(drift)}"
            )
            timing = "not started" + timing
        elif drift is None or step["started_at"] is None:
            timing = ""
        elif abs(drift) < 1:
            timing = ", started on time"
        else:
            timing = f", started {format_duration(drift)} {'late' if drift > 0 else 'early'}"
        parts.append(f"Step: {step['title']} ({timing if step['status'] == 'pending' else step['status'] + timing})")
    else:
        parts.append("Step: none active")
    if status.next_step is not None and (status.step is None or status.next_step["id"] != status.step["id"]):
        nxt = status.next_step
        when = ""
        if nxt["planned_start"] is not None:
            late = (status.now - nxt["planned_start"]).total_seconds()
            when = f", due {format_duration(late)} ago" if late >= 1 else f", due in {format_duration(-late)}"
        parts.append(f"next: {nxt['title']}{when}")
    return " · ".join(parts)


def _conditions_line(status: Status) -> str:
    parts = []
    for item in status.firing:
        who = f" → {item['decides']}" if item["decides"] else ""
        ack = ", acknowledged" if item["acknowledged"] else ""
        action = (item["action"] or "").upper()
        value = f"{item['value_text']} (threshold {item['threshold']})" if item["value_text"] else item["threshold"]
        parts.append(f"FIRING {item['condition']} {value} {action}{who}{ack}".replace("  ", " "))
    firing_ids = {item["condition"] for item in status.firing}
    parts += [f"AT RISK {item['text']}" for item in status.at_risk if item["condition"] not in firing_ids]
    if status.blind:
        parts.append(f"{len(status.blind)} blind: {', '.join(status.blind)}")
    return "Conditions: " + (" · ".join(parts) if parts else "none firing or at risk")


def _decision_line(status: Status) -> str:
    if status.decision is None:
        return "Last decision: none yet"
    d = status.decision
    reason = d["reason"] if len(d["reason"]) <= REASON_LIMIT else d["reason"][: REASON_LIMIT - 1] + "…"
    ago = _ago((status.now - d["ts"]).total_seconds())
    on = f" on {d['step']}" if d["step"] else ""
    said = f": {reason}" if reason else ""
    typed = f" (typed by {d['actor']})" if d["decided_by"] and d["decided_by"] != d["actor"] else ""
    who = f"{d['decided_by'] or d['actor']}{typed}"
    return f"Last decision: {d['decision'].upper().replace('_', ' ')} by {who} at {_clock(d['ts'], status)} ({ago}){on}{said}"


def _log_line(status: Status) -> str:
    if status.writer == "ended":
        writer = f"session ended ({status.ended})"
    elif status.writer == "stopped":
        writer = f"writer stopped, last seen {_clock(status.writer_since, status)}"
    else:
        writer = "writer running"
    return f"Log head: seq {status.head_seq} sha256 {status.head_sha256} · {writer}"


def _ago(seconds: float) -> str:
    from cutover_tui.labels import format_duration

    if seconds <= -1:  # dated by a writer whose clock ran ahead of this one
        return f"dated {format_duration(-seconds)} ahead of this clock"
    return "just now" if seconds < 1 else f"{format_duration(seconds)} ago"


def _markdown_escape(text: str) -> str:
    for char in ("\\", "*", "_", "`", "[", "]", "<", ">"):
        text = text.replace(char, "\\" + char)
    return text


def _plain(status: Status) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    fields = ("verdict", "reasons", "now", "t_clock", "mode", "runbook_name", "step", "next_step", "firing", "at_risk",
              "blind", "decision", "head_seq", "head_sha256", "writer", "writer_since", "ended")  # fmt: skip
    return {name: plain(getattr(status, name)) for name in fields}
