"""Memory: resident memory across a long session, with time accelerated.

Method: 200 checks (the mix of ``benchmarks/log_size.py``, with its realistic
value series and its stop conditions) polled every 5 s for 72 simulated
hours (quick: 15 minutes), on a ``ManualClock``, through what a live session keeps in
memory: each reading goes through the conditions' ``ConditionEvaluator``,
``SessionLog.record_reading`` into a real SQLite file, and the ``Reducer``;
state changes are logged as ``condition_changed`` events and folded; the
state is computed once a simulated minute, and a note logged every hour.
No network: the probes' cost is in the polling benchmark.

RSS (``VmRSS``) is sampled every ten simulated minutes. The slope is a
least-squares fit over the second half of the samples (after the reducer's
and SQLite's caches have filled); the 72-hour figure extends it from the last
sample when the run was shorter.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from benchmarks.common import Figure, Result, peak_rss_mb, rss_mb, slope
from benchmarks.log_size import EVERY, KINDS, MIX, T0, Series, build_runbook
from checks.clock import ManualClock
from checks.conditions import ConditionEvaluator
from checks.reading import Reading
from cutover_tui.live import condition_payload  # the payload a live session logs
from cutover_tui.reducer import Reducer
from cutover_tui.store import SessionLog

CHECKS = 200
GOAL_MB = 200.0
FIGURES = ("simulated_hours", "rss_start_mb", "rss_mid_mb", "rss_end_mb", "peak_rss_mb", "slope_mb_per_hour", "projected_72h_mb")


def simulate(folder: Path, hours: float) -> tuple[list[tuple[float, float]], dict[str, int]]:
    """Run the session; RSS samples as (simulated hour, MB) and counts of what was done."""
    kinds = [kind for kind in KINDS for _ in range(CHECKS * MIX[kind] // 100)]
    runbook = build_runbook(kinds)
    ids = list(runbook.checks)
    series = {check: Series(kind, seed=n) for n, (check, kind) in enumerate(zip(ids, kinds))}
    clock = ManualClock(T0)
    log = SessionLog.create(folder / "memory.cutover.db", runbook, operator="bench", clock=clock)
    reducer = Reducer(runbook)
    for event in log.events():
        reducer.apply(event)
    evaluators: dict[str, list[ConditionEvaluator]] = {check: [] for check in ids}
    for condition in runbook.stop_conditions:
        evaluators[condition.check].append(ConditionEvaluator(condition, runbook.checks[condition.check], clock))
    previous = {condition.id: None for condition in runbook.stop_conditions}
    polls_per_hour = int(3600 / EVERY)
    polls = int(hours * polls_per_hour)
    polls_per_sample = min(polls_per_hour // 6, polls // 6)  # every 10 simulated minutes; 6 samples at least
    samples = [(0.0, rss_mb())]
    counts = {"readings": 0, "ticks": 0, "events": 0}
    try:
        for p in range(1, polls + 1):
            clock.advance(EVERY)
            seconds = p * EVERY
            for check in ids:
                outcome, value, extra = series[check].sample(seconds)
                reading = Reading(check, outcome, value, "", 0.02, clock.now(), clock.monotonic(), extra=extra)
                statuses = [evaluator.observe(reading) for evaluator in evaluators[check]]
                tick = log.record_reading(reading, statuses)
                counts["readings"] += 1
                if tick is not None:
                    reducer.apply_tick(tick)
                    counts["ticks"] += 1
                for status in statuses:
                    if previous[status.id] is not status.state:
                        payload = condition_payload(status, previous[status.id] or status.state, runbook)
                        reducer.apply(log.append("condition_changed", payload, actor="system"))
                        previous[status.id] = status.state
                        counts["events"] += 1
            if p % 12 == 0:  # a simulated minute
                reducer.state(now=clock.now())
            if p % polls_per_hour == 0:
                reducer.apply(log.append("note", {"text": f"hour {p // polls_per_hour}"}))
                counts["events"] += 1
            if p % polls_per_sample == 0:
                samples.append((seconds / 3600, rss_mb()))
    finally:
        log.close()
    return samples, counts


def run(quick: bool) -> Result:
    hours = 0.25 if quick else 72
    folder = Path(tempfile.mkdtemp(prefix="cutover-bench-memory-"))
    try:
        samples, counts = simulate(folder, hours)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    later = samples[len(samples) // 2 :]
    per_hour = slope([h for h, _ in later], [mb for _, mb in later])
    end = samples[-1][1]
    projected = end + max(0.0, per_hour) * (72 - hours)
    middle = samples[len(samples) // 2][1]
    print(f"{CHECKS} checks x {hours} simulated h: RSS {samples[0][1]:.0f} -> {middle:.0f} -> {end:.0f} MB, "
          f"{per_hour:+.2f} MB/h; {counts['readings']:,} readings, {counts['ticks']:,} ticks, {counts['events']:,} events")  # fmt: skip
    return Result(
        [
            Figure("simulated_hours", "simulated session length", hours, "h"),
            Figure("rss_start_mb", "RSS at the start", samples[0][1], "MB"),
            Figure("rss_mid_mb", "RSS half way", middle, "MB"),
            Figure("rss_end_mb", "RSS at the end", end, "MB", at_most=GOAL_MB),
            Figure("peak_rss_mb", "peak RSS", peak_rss_mb(), "MB", at_most=GOAL_MB),
            Figure("slope_mb_per_hour", "RSS growth (second half)", per_hour, "MB/h"),
            Figure("projected_72h_mb", "RSS projected to 72 h", projected, "MB", at_most=GOAL_MB),
        ],
        [f"memory: {CHECKS} checks every {EVERY:g} s for {hours} simulated hours (ManualClock), no network"],
        {"samples": [(round(h, 2), round(mb, 1)) for h, mb in samples], **counts},
    )
