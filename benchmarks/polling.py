"""Polling: scheduler lateness, CPU and memory with 100 and 1,000 HTTP checks every 5 s and every 1 s.

Method: a runbook of N ``http`` checks of the scripted target's ``/health``
(one stop condition per ten checks) is built in memory and run by the live
backend without a screen: ``Poller`` polls, the conditions are evaluated,
readings go through the session log's retention into a real SQLite file and
are folded by the reducer, and the state is recomputed for at most four
repaints a second, as in ``cutover-tui run``. The target runs in a child
process, so the CPU figure is ours alone (every thread of this process).

After a warm-up (one interval plus a second: connections opened, the first
round done), for the measured window:

- lateness: how late each poll started after its scheduled time (APScheduler
  on the event loop), p50 and p99;
- CPU: this process's CPU time over wall time, % of one core;
- RSS: this process's resident memory at the end (it includes Python,
  aiohttp, SQLite and the benchmark itself; configurations run smallest first);
- polls/s achieved and ticks skipped (a poll still running, or the loop too
  late), in the JSON.

The floor, for 1,000 checks every 5 s and 100 every 1 s, in the same run:
the same requests at the same pace (one every ``every / N`` seconds) through
the probes' own ``fetch`` on the session ``ProbeContext`` builds, each read to
its end as a poll reads it, with no scheduler, no probe, no condition, no log
and no state: the CPU the HTTP requests cost by themselves, and ours over it.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import CpuMeter, Figure, Result, percentile, rss_mb
from benchmarks.servers import TargetProcess
from runbooks.loader import parse_runbook

CONFIGS = ((100, 5.0), (100, 1.0), (1000, 5.0), (1000, 1.0))
QUICK_CONFIGS = ((100, 1.0),)
LATENESS_GOAL_MS = 100.0
CPU_GOAL = {(1000, 5.0): 25.0}
FLOOR_CONFIGS = ((100, 1.0), (1000, 5.0))
FIGURES = tuple(
    f"{checks}x{every:g}s_{name}"
    for checks, every in CONFIGS
    for name in ("lateness_p50_ms", "lateness_p99_ms", "cpu_percent", "rss_mb")
    + (("floor_cpu_percent", "cpu_over_floor") if (checks, every) in FLOOR_CONFIGS else ())
)


def build_runbook(url: str, checks: int, every: float):
    """N http checks of ``url``/health every ``every`` seconds, a stop condition on every tenth."""
    timeout = min(4.0, every * 0.8)
    lines = ["name: Polling benchmark", "roles: {commander: IC}", "checks:"]
    lines += [f"  c{n}: {{http: '{url}/health', expect_status: 200, every: {every:g}s, timeout: {timeout:g}s}}" for n in range(checks)]
    lines.append("stop_conditions:")
    lines += [f"  - {{id: c{n}_down, check: c{n}, for: 30s, action: halt, decides: commander}}" for n in range(0, checks, 10)]
    lines += ["steps:", "  - {title: Deploy, at: T-0}"]
    return parse_runbook("\n".join(lines) + "\n", "polling-benchmark.yaml")


async def measure(url: str, folder: Path, checks: int, every: float, seconds: float) -> dict[str, float]:
    from cutover_tui.live import LiveBackend
    from cutover_tui.store import SessionLog

    runbook = build_runbook(url, checks, every)
    log = SessionLog.create(folder / f"polling-{checks}-{every:g}.cutover.db", runbook, operator="bench")
    backend = LiveBackend(runbook, log, actor="bench")
    await backend.start(lambda state: None)
    try:
        await asyncio.sleep(every + 1.0)
        stats = backend._poller.stats  # the poller the live session runs
        stats.lateness.clear()
        polls, skipped = stats.polls, stats.skipped
        cpu = CpuMeter().start()
        await asyncio.sleep(seconds)
        cpu_percent = cpu.percent()
        lateness = [s * 1000 for s in stats.lateness]
        polls, skipped = stats.polls - polls, stats.skipped - skipped
    finally:
        await backend.stop()
    return {
        "lateness_p50_ms": percentile(lateness, 50),
        "lateness_p99_ms": percentile(lateness, 99),
        "lateness_max_ms": max(lateness, default=None),
        "cpu_percent": cpu_percent,
        "rss_mb": rss_mb(),
        "polls_per_s": polls / seconds,
        "expected_polls_per_s": checks / every,
        "skipped": skipped,
        "window_s": seconds,
    }


async def floor(url: str, checks: int, every: float, seconds: float) -> float:
    """CPU (% of one core) of the same requests at the same pace through the probes' ``fetch`` alone."""
    timeout = build_runbook(url, 1, every).checks["c0"].timeout
    measured = await fetches_alone(url, every / checks, every + 1.0, seconds, timeout)  # the poller's warm-up
    return measured.percent


async def fetches_alone(url: str, gap: float, warmup: float, seconds: float, timeout: float) -> Paced:
    """GETs of ``/health`` through the probes' ``fetch`` on the session ``ProbeContext`` builds, one every ``gap`` s."""
    from checks.probes import ProbeContext
    from checks.probes.common import fetch

    ctx = ProbeContext(build_runbook(url, 1, 5.0))
    try:
        return await paced(lambda: fetch(ctx, f"{url}/health", timeout=timeout), gap, warmup, seconds)
    finally:
        await ctx.aclose()


@dataclass(frozen=True, slots=True)
class Paced:
    """What ``paced`` measured: CPU seconds of this process, wall seconds, requests started."""

    cpu: float
    wall: float
    requests: int

    @property
    def percent(self) -> float:
        """CPU, % of one core."""
        return 100 * self.cpu / self.wall

    @property
    def per_request_ms(self) -> float:
        """CPU per request, ms: the cost whether or not a busy machine let the pace hold."""
        return 1000 * self.cpu / max(self.requests, 1)


async def paced(request: Callable[[], Coroutine[Any, Any, object]], gap: float, warmup: float, seconds: float) -> Paced:
    """This process's CPU while ``request()`` starts every ``gap`` seconds, for ``seconds`` after ``warmup``.

    Requests overlap as polls do: each runs as a task of its own. Those still
    running at the end are awaited before returning (outside the window).
    """
    loop = asyncio.get_running_loop()
    running: set[asyncio.Task[object]] = set()

    async def pace(duration: float) -> int:
        begin, sent = loop.time(), 0
        while loop.time() < begin + duration:
            task = loop.create_task(request())
            running.add(task)
            task.add_done_callback(running.discard)
            sent += 1
            await asyncio.sleep(max(0.0, begin + sent * gap - loop.time()))
        return sent

    await pace(warmup)
    cpu, wall = time.process_time(), time.perf_counter()
    sent = await pace(seconds)
    measured = Paced(time.process_time() - cpu, time.perf_counter() - wall, sent)
    await asyncio.gather(*running, return_exceptions=True)
    return measured


def run(quick: bool) -> Result:
    configs = QUICK_CONFIGS if quick else CONFIGS
    seconds = 2.0 if quick else 30.0
    folder = Path(tempfile.mkdtemp(prefix="cutover-bench-polling-"))
    measured: dict[tuple[int, float], dict[str, float]] = {}
    try:
        with TargetProcess() as target:
            for checks, every in configs:
                figures = asyncio.run(measure(target.url, folder, checks, every, seconds))
                if (checks, every) in FLOOR_CONFIGS:
                    figures["floor_cpu_percent"] = asyncio.run(floor(target.url, checks, every, seconds))
                    figures["cpu_over_floor"] = figures["cpu_percent"] / max(figures["floor_cpu_percent"], 0.01)
                measured[(checks, every)] = figures
                print(f"{checks:>5} checks every {every:g} s: lateness p50 {figures['lateness_p50_ms']:.1f} ms, "
                      f"p99 {figures['lateness_p99_ms']:.1f} ms; CPU {figures['cpu_percent']:.1f}%; "
                      f"RSS {figures['rss_mb']:.0f} MB; {figures['polls_per_s']:.0f} of "
                      f"{figures['expected_polls_per_s']:.0f} polls/s, {figures['skipped']} skipped"
                      + (f"; the requests alone (same run): CPU {figures['floor_cpu_percent']:.1f}%, ours "
                         f"{figures['cpu_over_floor']:.2f}x" if "floor_cpu_percent" in figures else ""), flush=True)  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result = Result([], [f"polling: live backend without a screen, {seconds:g} s measured per configuration"
                         + ("; quick: 100 checks every 1 s only" if quick else "")])  # fmt: skip
    for checks, every in CONFIGS:
        got = measured.get((checks, every), {})
        name = f"{checks:,} checks / {every:g} s"
        prefix = f"{checks}x{every:g}s_"
        result.figures += [
            Figure(prefix + "lateness_p50_ms", f"{name}: poll lateness p50", got.get("lateness_p50_ms"), "ms"),
            Figure(prefix + "lateness_p99_ms", f"{name}: poll lateness p99", got.get("lateness_p99_ms"), "ms", at_most=LATENESS_GOAL_MS),
            Figure(prefix + "cpu_percent", f"{name}: CPU, % of one core", got.get("cpu_percent"), "%", at_most=CPU_GOAL.get((checks, every))),
            Figure(prefix + "rss_mb", f"{name}: RSS", got.get("rss_mb"), "MB"),
        ]
        if (checks, every) in FLOOR_CONFIGS:
            result.figures += [
                Figure(prefix + "floor_cpu_percent", f"{name}: the same requests alone on the probes' client, CPU",
                       got.get("floor_cpu_percent"), "%"),
                Figure(prefix + "cpu_over_floor", f"{name}: CPU over the requests alone", got.get("cpu_over_floor"), "x"),
            ]  # fmt: skip
        if got:
            result.details[prefix.rstrip("_")] = got
    return result
