"""``cutover-tui check RUNBOOK``: the headless gate for pipelines.

Polls every check once (or for ``--for DURATION`` on their intervals), then
prints each check's reading, each stop condition's state and the verdict, and
exits with it. What counts is described in ``EPILOG`` (shown by ``--help``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from checks.reading import Reading
    from checks.status import ConditionStatus, Verdict
    from runbooks.model import Runbook

EXIT_CONTINUE = 0
EXIT_STOP = 1
EXIT_CANNOT_VERIFY = 3
EXIT_AT_RISK = 4

EPILOG = """\
exit status:
  0  CONTINUE       nothing that stops the launch
  1  HALT/ROLLBACK  a halt or rollback stop condition is firing, or a gate
                    check (one with pass_when, or named in a step's gate) fails
  2                 the runbook is invalid, --only names nothing in it, or its
                    commands are not approved (nothing ran)
  3  CANNOT VERIFY  a stop condition or gate check could not be read (error,
                    no data, stale)
  4  AT RISK        a halt or rollback condition is breached but has not yet
                    lasted its `for` (pending), or is recovering

The verdict is computed by the same function as the dashboard's header
(ROLLBACK > HALT > CANNOT VERIFY > AT RISK > CONTINUE). What is judged: every
stop condition in force now (its `active` window placed at the runbook's t0),
and every gate check. Without --for, each check is polled once, so a
condition with `for` cannot elapse: a breach is pending and the exit is 4
(breached now; not yet known to last). A condition with no `for` fires on the
first breach. With --for, checks are polled on their intervals and `for` is
evaluated over time; the command ends early once a halt or rollback
condition fires. Pending at the end is still 4: choose a --for longer than
the longest `for` to let conditions fire. A scrape in rate mode needs two
samples, so without --for it is read twice, one interval apart.

Command checks run only once their command list is approved: asked on a
terminal and remembered for the runbook's sha256, or --trust for this run
(CI). Everything printed has the values of the runbook's secret variables
(token_env, ${VAR} in headers and command env) replaced with ${NAME}.
"""

#: Exit status per verdict.
EXITS = {
    "CONTINUE": EXIT_CONTINUE,
    "AT_RISK": EXIT_AT_RISK,
    "CANNOT_VERIFY": EXIT_CANNOT_VERIFY,
    "HALT": EXIT_STOP,
    "ROLLBACK": EXIT_STOP,
}


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """Add ``check``'s arguments to its sub-parser."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("runbook", metavar="RUNBOOK", help="runbook YAML file")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--for",
        dest="duration",
        metavar="DURATION",
        type=_duration,
        help="poll for this long (30s, 5m ...) on the checks' intervals instead of once",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="ID",
        help="only these checks or stop conditions (a condition brings its check along)",
    )
    parser.add_argument(
        "--trust",
        action="store_true",
        help="run the runbook's commands without asking (for CI; remembered nowhere)",
    )
    parser.add_argument(
        "--t0",
        metavar="TIME",
        type=_t0,
        help="T0 for active windows and baselines: an ISO time with offset (2026-12-01T22:00:00Z) or a "
        "duration from now (-30m: T0 was 30 minutes ago); default the runbook's t0",
    )


def _duration(text: str) -> float:
    from runbooks.grammar import parse_duration

    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _t0(text: str):
    """``--t0``: an ISO 8601 time with a UTC offset, or a signed duration from now (``-30m``, ``+5m``)."""
    from datetime import datetime, timedelta, timezone

    from runbooks.grammar import parse_duration

    stripped = text.strip()
    if stripped[:1] in ("-", "+"):
        try:
            seconds = parse_duration(stripped[1:])
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"invalid --t0 {text!r}: {error}") from None
        return datetime.now(timezone.utc) + timedelta(seconds=-seconds if stripped[0] == "-" else seconds)
    try:
        moment = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid --t0 {text!r}: expected an ISO time with offset (2026-12-01T22:00:00Z) or -30m"
        ) from None
    if moment.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"--t0 {text!r} has no UTC offset: add one, e.g. Z or +05:30")
    return moment


def run(command: str, args: argparse.Namespace) -> int:
    """Poll, print, and return 0 continue, 1 halt/rollback, 3 cannot verify, 4 at risk (2 for a bad runbook)."""
    import asyncio

    from cutover_tui.redaction import Redactor, activate, secret_env_names
    from cutover_tui.trust import NotApproved, require_approval
    from runbooks import load_runbook

    runbook = load_runbook(args.runbook)
    activate(Redactor(secret_env_names(runbook)))
    try:
        check_ids, condition_ids = _select(runbook, args.only)
    except KeyError as error:
        print(
            f"cutover-tui check: --only {error.args[0]!r} is neither a check nor a stop condition in {args.runbook}",
            file=sys.stderr,
        )
        return 2
    try:
        if any(runbook.checks[c].kind == "command" for c in check_ids):  # --only may leave none
            require_approval(runbook, trust=args.trust, command="check")
    except NotApproved as error:
        print(f"cutover-tui check: {error}", file=sys.stderr)
        return 2
    from checks.baseline import JudgeUnavailable, require_scipy

    if any(c.judge == "mann_whitney" for c in runbook.stop_conditions if c.id in condition_ids):
        try:
            require_scipy()
        except JudgeUnavailable as error:
            print(f"cutover-tui check: {error}", file=sys.stderr)
            return 2
    progress = _print_change if args.duration is not None and not args.json else None
    t0 = getattr(args, "t0", None) or runbook.t0
    report = asyncio.run(_gate(runbook, check_ids, condition_ids, args.duration, progress, t0=t0))
    if args.json:
        _print_json(report)
    else:
        _print_table(report)
    return EXITS.get(report.verdict.value, EXIT_STOP)


def _select(runbook: Runbook, only: list[str] | None) -> tuple[list[str], list[str]]:
    """The check and condition ids ``--only`` asks for (all by default), in runbook order."""
    if not only:
        return list(runbook.checks), [c.id for c in runbook.stop_conditions]
    conditions = {c.id: c for c in runbook.stop_conditions}
    checks: set[str] = set()
    chosen: set[str] = set()
    for item in only:
        if item in conditions:
            chosen.add(item)
            checks.add(conditions[item].check)
        elif item in runbook.checks:
            checks.add(item)
            chosen.update(c.id for c in runbook.stop_conditions if c.check == item)
        else:
            raise KeyError(item)
    return [c for c in runbook.checks if c in checks], [c.id for c in runbook.stop_conditions if c.id in chosen]


@dataclass(frozen=True)
class _Report:
    """What one run of the gate found: latest readings, condition statuses, the verdict."""

    runbook: Runbook
    check_ids: list[str]  # the checks polled, in runbook order
    readings: dict[str, Reading]
    statuses: dict[str, ConditionStatus]
    active: set[str]  # condition ids in force
    verdict: Verdict
    blocking: list[str]  # gate check ids that did not pass
    reasons: tuple[str, ...] = ()  # why the verdict, worst first


async def _gate(
    runbook: Runbook,
    check_ids: list[str],
    condition_ids: list[str],
    duration: float | None,
    progress: Callable[[ConditionStatus], None] | None,
    *,
    t0: datetime | None = None,
) -> _Report:
    """Poll (once, or for ``duration``), then judge; baselines are placed at ``t0`` (read from Prometheus for promql checks)."""
    import asyncio

    from checks.conditions import ConditionEvaluator
    from checks.probes import ProbeContext
    from checks.scheduler import Poller
    from checks.status import ConditionState
    from checks.verdict import counts_as_firing
    from cutover_tui.baselines import BaselineSupplier
    from runbooks.model import Action, ScrapeSpec

    readings: dict[str, Reading] = {}
    last_state: dict[str, ConditionState] = {}
    fired: dict[str, datetime] = {}  # halt and rollback conditions that fired during the run: when
    active = _active_conditions(runbook, condition_ids, t0)
    stopping = asyncio.Event()

    def on_result(reading: Reading | None, statuses: list[ConditionStatus]) -> None:
        if reading is not None:
            readings[reading.check_id] = reading
        for status in statuses:
            previous = last_state.get(status.id)
            last_state[status.id] = status.state
            if progress is not None and previous is not None and previous is not status.state:
                progress(status)
            stops = runbook.condition(status.id).action in (Action.HALT, Action.ROLLBACK)
            if stops and counts_as_firing(status) and status.id in active:
                fired.setdefault(status.id, status.firing_since or status.since)
                stopping.set()

    ctx = ProbeContext(runbook)
    evaluators = {
        c.id: ConditionEvaluator(c, runbook.checks[c.check], ctx.clock)
        for c in runbook.stop_conditions
        if c.id in condition_ids
    }
    poller = Poller(runbook, ctx, on_result, evaluators=evaluators, checks=check_ids)
    last_state.update({cid: status.state for cid, status in poller.statuses.items()})
    baselines = BaselineSupplier(runbook, evaluators, ctx=ctx, seen_from=ctx.clock.now())
    try:
        baselines.start(t0)
        await baselines.fetch_now()  # the baselines Prometheus holds, before the first poll is judged
        if duration is None:
            await poller.poll_once()
            # A rate needs two scrapes: read those checks again one interval later.
            rated = [c for c in poller.checks.values() if isinstance(c.spec, ScrapeSpec) and c.spec.mode == "rate"]
            if rated:
                await asyncio.sleep(max(c.every for c in rated))
                await poller.poll_once(c.id for c in rated)
        else:
            await poller.start()
            try:
                await asyncio.wait_for(stopping.wait(), timeout=duration)
            except TimeoutError:
                pass
            await poller.stop()
    finally:
        await baselines.stop()
        await ctx.aclose()
    return _judge(runbook, readings, poller.statuses, active, check_ids, fired)


def _active_conditions(runbook: Runbook, condition_ids: list[str], t0: datetime | None = None) -> set[str]:
    from datetime import datetime, timezone

    from checks.verdict import is_active

    now = datetime.now(timezone.utc)
    t0 = t0 or runbook.t0
    return {c.id for c in runbook.stop_conditions if c.id in condition_ids and is_active(c, t0, now)}


def _judge(
    runbook: Runbook,
    readings: dict[str, Reading],
    statuses: dict[str, ConditionStatus],
    active: set[str],
    check_ids: list[str],
    fired: Mapping[str, datetime] | None = None,
) -> _Report:
    """The verdict over every condition in force and every gate check, by the dashboard's ``judge``.

    A halt or rollback condition that fired during the run (``fired``) and is recovering or cleared before its
    end still stops: nobody can log a decision here.
    """
    from checks.clock import SystemClock
    from checks.verdict import check_status, counts_as_firing, judge
    from runbooks.model import Step

    step_gates = {check_id for step in (*runbook.steps, *runbook.rollback) for check_id in step.gate}
    gates = tuple(
        check_id for check_id in check_ids if runbook.checks[check_id].pass_when is not None or check_id in step_gates
    )
    whole_launch = Step(id="check", title="cutover-tui check", gate=gates, watch=tuple(sorted(active)))
    in_force = {cid: status for cid, status in statuses.items() if cid in active}
    now = SystemClock().monotonic()  # the clock the readings were stamped on
    check_statuses = {
        cid: check_status(runbook.checks[cid], readings[cid].outcome.value, now - readings[cid].monotonic,
                          degraded=readings[cid].degraded, sample_age=readings[cid].sample_age)
        if cid in readings else None
        for cid in check_ids
    }  # fmt: skip
    cleared = {
        cid: (fired_at, statuses[cid].since)
        for cid, fired_at in (fired or {}).items()
        if cid in in_force and not counts_as_firing(statuses[cid])
    }
    judgement = judge(
        runbook,
        in_force,
        whole_launch,
        check_statuses,
        failing_gates_halt=True,
        cleared_firings=cleared,
        unanswered=in_force.keys(),  # recovering or cleared, a firing no decision can answer here
    )
    return _Report(
        runbook,
        check_ids,
        readings,
        statuses,
        active,
        judgement.verdict,
        list(judgement.blocking_gates),
        judgement.reasons,
    )


# -- output -------------------------------------------------------------------


def _print_change(status: ConditionStatus) -> None:
    from cutover_tui.redaction import redact_text

    print(redact_text(f"{status.since:%H:%M:%SZ}  {status.id}: {status.state.value}  {status.reason}"), flush=True)


def _check_rows(report: _Report) -> list[dict[str, object]]:
    import math

    rows = []
    for check_id in report.check_ids:
        row: dict[str, object] = {
            "id": check_id,
            "outcome": None,
            "value": None,
            "unit": report.runbook.checks[check_id].unit,
            "latency_ms": None,
            "detail": "not polled",
            "degraded": False,
            "gate_blocking": check_id in report.blocking,
        }
        reading = report.readings.get(check_id)
        if reading is not None:
            finite = reading.value is not None and math.isfinite(reading.value)
            row.update(
                outcome=reading.outcome.value,
                value=reading.value if finite else None,  # JSON has no NaN; the outcome says invalid
                unit=reading.unit,
                latency_ms=round(reading.latency * 1000, 1),
                detail=reading.detail,
                degraded=reading.degraded,
            )
        rows.append(row)
    return rows


def _condition_rows(report: _Report) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for condition_id, status in report.statuses.items():
        condition = report.runbook.condition(condition_id)
        active = condition_id in report.active
        rows.append(
            {
                "id": condition_id,
                "state": status.state.value if active else "inactive",
                "value": status.value,
                "threshold": status.threshold,
                "since": status.since.isoformat(),
                "reason": status.reason,
                "action": condition.action.value,
                "breach_held": round(status.breach_held, 3),
            }
        )
        if status.baseline is not None:
            rows[-1]["baseline"] = {
                "median": status.baseline.median,
                "readings": status.baseline.usable,
                "min_samples": status.baseline.min_samples,
                "established": status.baseline.established,
                "how": status.baseline.describe(report.runbook.checks[condition.check].unit),
            }
        if status.comparison is not None:
            rows[-1]["judged"] = status.comparison.as_payload()
    return rows


def _print_json(report: _Report) -> None:
    import json

    document = {
        "runbook": report.runbook.name,
        "verdict": report.verdict.value,
        "reasons": list(report.reasons),
        "checks": _check_rows(report),
        "conditions": _condition_rows(report),
    }
    from cutover_tui.redaction import redact_rendered

    print(redact_rendered(json.dumps(document, indent=2, ensure_ascii=False)))


def _print_table(report: _Report) -> None:
    from checks.wording import format_value
    from cutover_tui.redaction import redact_text

    print(redact_text(report.runbook.name))
    print()
    checks = [
        (
            row["id"],
            f"{row['outcome'] or '-'}{' (gate)' if row['gate_blocking'] else ''}",
            format_value(row["value"], str(row["unit"])) if isinstance(row["value"], (int, float)) else "-",
            "-" if row["latency_ms"] is None else f"{row['latency_ms']:.0f}ms",
            row["detail"],
        )
        for row in _check_rows(report)
    ]
    _table(("CHECK", "OUTCOME", "VALUE", "LATENCY", "DETAIL"), checks)
    print()
    conditions = []
    for row, status in zip(_condition_rows(report), report.statuses.values(), strict=True):
        condition = report.runbook.condition(status.id)
        reading = report.readings.get(condition.check)
        unit = (
            condition.when.unit
            if condition.when
            else (reading.unit if reading else report.runbook.checks[condition.check].unit)
        )
        shown = "-" if status.value is None else format_value(status.value, unit)
        conditions.append((row["id"], row["state"], shown, row["threshold"], row["action"], row["reason"]))
    _table(("CONDITION", "STATE", "VALUE", "THRESHOLD", "ACTION", "REASON"), conditions)
    print()
    print(f"VERDICT: {report.verdict.value.replace('_', ' ')}")
    for reason in report.reasons:
        print(f"  {reason}")


def _table(header: tuple[str, ...], rows: Sequence[tuple[object, ...]]) -> None:
    from cutover_tui.redaction import redact_text

    rows = [tuple(redact_text(str(cell)) for cell in row) for row in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in (header, *rows):
        cells = [str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)]
        print("  ".join(cells).rstrip())
