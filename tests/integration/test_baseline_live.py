"""Baselines read from a real Prometheus with `query_range`: for `check --t0`, and for a session started after its window."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from checks.clock import SystemClock
from checks.conditions import ConditionEvaluator
from checks.probes import ProbeContext
from checks.probes.promql_range import query_range
from cutover_tui.baselines import BaselineSupplier
from cutover_tui.cli import main
from cutover_tui.store import SessionLog, format_ts
from runbooks import parse_runbook


def runbook_text(url: str) -> str:
    return f"""\
name: Baseline from Prometheus
sources:
  prometheus: {{url: "{url}"}}
checks:
  auth_error_ratio: {{promql: auth_error_ratio, unit: "%", every: 1s, timeout: 900ms}}
stop_conditions:
  - id: auth_vs_baseline
    check: auth_error_ratio
    when: "> 2x baseline"
    baseline: {{from: T-8s, to: T-0, min_samples: 5}}
    floor: "> 0.5%"
    action: rollback
"""


def calm_history(prometheus, seconds: float = 10.0) -> datetime:
    """Let Prometheus scrape the calm target for a while; return the instant that becomes T0."""
    prometheus.wait_for("count_over_time(auth_error_ratio[30s]) >= 3")
    time.sleep(seconds)
    return datetime.now(timezone.utc)


async def test_query_range_gives_one_sample_per_step_never_a_zero(prometheus) -> None:
    """The window's readings from Prometheus: one per check interval, usable values where scraped, no data where not."""
    t0 = calm_history(prometheus, 6)
    runbook = parse_runbook(runbook_text(prometheus.url))
    ctx = ProbeContext(runbook)
    try:
        samples = await query_range(runbook.checks["auth_error_ratio"], ctx, t0 - timedelta(seconds=6), t0)
        before = await query_range(
            runbook.checks["auth_error_ratio"], ctx, t0 - timedelta(hours=2), t0 - timedelta(hours=1, minutes=50)
        )
    finally:
        await ctx.aclose()
    assert len(samples) == 7 and all(s.usable and s.value == pytest.approx(0.002) for s in samples)
    assert all(s.source == "Prometheus query_range" for s in samples)
    assert before and all(
        s.outcome == "nodata" and s.value is None for s in before
    )  # before Prometheus started: no data


def test_check_with_t0_judges_against_the_baseline_prometheus_holds(prometheus, target, tmp_path: Path, capsys) -> None:
    """`check --t0` reads the pre-T0 window from Prometheus: 4% against a 0.2% baseline is 20x, ROLLBACK, exit 1."""
    t0 = calm_history(prometheus)
    target.set(auth_error_ratio=0.04)
    prometheus.wait_for("auth_error_ratio > 0.01")
    runbook = tmp_path / "baseline.yaml"
    runbook.write_text(runbook_text(prometheus.url))
    status = main(["check", str(runbook), "--t0", format_ts(t0), "--json"])
    report = json.loads(capsys.readouterr().out)
    condition = report["conditions"][0]
    assert status == 1 and report["verdict"] == "ROLLBACK"
    assert condition["state"] == "firing"
    assert condition["baseline"]["median"] == pytest.approx(0.002)
    assert condition["baseline"]["readings"] >= 5 and condition["baseline"]["established"]
    assert "(Prometheus query_range)" in condition["baseline"]["how"]
    assert condition["judged"]["ratio"] == pytest.approx(20.0, rel=0.05)


async def test_a_session_started_after_its_window_reads_it_from_prometheus_and_logs_the_samples(
    prometheus, tmp_path: Path
) -> None:
    """A session begun at T-0 fetches T-8s..T-0, logs it as baseline_fetched; resumed, it seeds from the log without Prometheus."""
    t0 = calm_history(prometheus)
    runbook = parse_runbook(runbook_text(prometheus.url))
    log = SessionLog.create(tmp_path / "late.cutover.db", runbook, operator="tester")
    ctx = ProbeContext(runbook)
    clock = SystemClock()
    evaluators = {c.id: ConditionEvaluator(c, runbook.checks[c.check], clock) for c in runbook.stop_conditions}
    logged: list[tuple[str, dict]] = []

    def record(kind: str, payload: dict) -> None:
        logged.append((kind, payload))
        log.append(kind, payload, "system")

    supplier = BaselineSupplier(
        runbook, evaluators, ctx=ctx, log=log, record=record, seen_from=t0 + timedelta(seconds=1)
    )
    try:
        supplier.start(t0)
        await asyncio.wait_for(supplier.fetch_now(), timeout=30)
    finally:
        await supplier.stop()
        await ctx.aclose()
    baseline = evaluators["auth_vs_baseline"].baseline_tracker.current(clock.now())
    assert baseline.established and baseline.median == pytest.approx(0.002)
    assert dict(baseline.sources) == {"Prometheus query_range": baseline.usable}
    assert [kind for kind, _ in logged] == ["baseline_fetched"]
    assert len(logged[0][1]["samples"]) == 9 and logged[0][1]["query"] == "auth_error_ratio"
    log.close()

    with SessionLog.open_readonly(tmp_path / "late.cutover.db") as stored:
        fresh = {c.id: ConditionEvaluator(c, runbook.checks[c.check], clock) for c in runbook.stop_conditions}
        BaselineSupplier(runbook, fresh, ctx=None, log=stored, seen_from=t0).start(t0, stored.events())
    resumed = fresh["auth_vs_baseline"].baseline_tracker.current(clock.now())
    assert (resumed.median, resumed.usable) == (baseline.median, baseline.usable)
