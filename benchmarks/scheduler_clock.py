"""Scheduler clock: APScheduler 3 against the event loop's own timers, on time and across a wall-clock step.

Why the poller schedules on ``loop.call_at`` and not on APScheduler. Both
schedule the same jobs on one asyncio loop: N no-op jobs every ``every``
seconds from spread phases, coalesced, one instance each, as the poller did
with APScheduler (``interval`` trigger, ``coalesce``, ``max_instances=1``,
``misfire_grace_time`` half an interval) and does now with ``call_at``.

- on time: lateness p50 / p99 of each job's start after its due time, and the
  CPU of the process, for 1,000 jobs every 5 s;
- wall-clock step: the same, 20 jobs every 0.5 s, in a child process under
  Debian's libfaketime (``FAKETIME_DONT_FAKE_MONOTONIC``); two seconds in, the
  wall clock steps back by ten minutes, as NTP or a laptop resume does. The
  figure is how many jobs ran in the five seconds after the step, against
  how many were due. APScheduler decides what is due by the wall clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import CpuMeter, Figure, Result, percentile

FIGURES = (
    "apscheduler_lateness_p99_ms",
    "loop_lateness_p99_ms",
    "apscheduler_cpu_percent",
    "loop_cpu_percent",
    "apscheduler_runs_after_step_percent",
    "loop_runs_after_step_percent",
)


async def _run_apscheduler(jobs: int, every: float, seconds: float, lateness: list[float], runs: list[float]) -> None:
    from datetime import datetime, timedelta, timezone

    from apscheduler.events import EVENT_JOB_SUBMITTED
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=timezone.utc)
    due: dict[str, datetime] = {}

    def submitted(event) -> None:
        due[event.job_id] = event.scheduled_run_times[-1]

    async def job(job_id: str) -> None:
        lateness.append((datetime.now(timezone.utc) - due.pop(job_id)).total_seconds())
        runs.append(time.monotonic())

    scheduler.add_listener(submitted, EVENT_JOB_SUBMITTED)
    start = datetime.now(timezone.utc)
    for n in range(jobs):
        scheduler.add_job(job, "interval", args=[str(n)], id=str(n), seconds=every,
                          next_run_time=start + timedelta(seconds=every * n / jobs),
                          max_instances=1, coalesce=True, misfire_grace_time=max(1, int(every / 2)))  # fmt: skip
    scheduler.start()
    await asyncio.sleep(seconds)
    # Paused, the jobs already handed to the loop finish: shut down at once, APScheduler cancels them and logs each
    # as "Error running job" (CancelledError), which read as a failure of the run.
    scheduler.pause()
    await asyncio.sleep(0.1)
    scheduler.shutdown(wait=False)


async def _run_loop_timers(jobs: int, every: float, seconds: float, lateness: list[float], runs: list[float]) -> None:
    from checks.scheduler import grace, latest_due

    loop = asyncio.get_running_loop()
    handles: list[asyncio.TimerHandle] = []

    async def job() -> None:
        runs.append(time.monotonic())

    def due(index: int, at: float) -> None:
        now = loop.time()
        instant, _ = latest_due(at, every, now)
        handles[index] = loop.call_at(instant + every, due, index, instant + every)
        if now - instant <= grace(every):
            lateness.append(now - instant)
            loop.create_task(job())

    origin = loop.time()
    for n in range(jobs):
        handles.append(loop.call_at(origin + every * n / jobs, due, n, origin + every * n / jobs))
    await asyncio.sleep(seconds)
    for handle in handles:
        handle.cancel()


RUNNERS = {"apscheduler": _run_apscheduler, "loop": _run_loop_timers}


def on_time(kind: str, jobs: int, every: float, seconds: float) -> tuple[float | None, float]:
    """Lateness p99 (ms) and CPU (% of a core) of ``jobs`` no-op jobs every ``every`` s."""
    lateness: list[float] = []
    runs: list[float] = []
    meter = CpuMeter().start()
    asyncio.run(RUNNERS[kind](jobs, every, seconds, lateness, runs))
    p99 = percentile(lateness[jobs:], 99)  # after the first round
    return (None if p99 is None else p99 * 1000), meter.percent()


def across_step(kind: str, offset: Path) -> float:
    """In this process under libfaketime: the share of due runs that ran in the 5 s after a −10 min wall step."""
    jobs, every = 20, 0.5
    runs: list[float] = []

    async def scenario() -> float:
        task = asyncio.create_task(RUNNERS[kind](jobs, every, 8.0, [], runs))
        await asyncio.sleep(2.0)
        offset.write_text("-10m\n")
        stepped = time.monotonic()
        await task
        ran = sum(1 for moment in runs if stepped < moment <= stepped + 5.0)
        return 100.0 * ran / (jobs * 5.0 / every)

    return asyncio.run(scenario())


def _child(kind: str, offset: str) -> None:
    print(json.dumps({"percent": across_step(kind, Path(offset))}))


def step_in_child(kind: str) -> float | None:
    """``across_step`` in a child process whose wall clock libfaketime controls; None without libfaketime."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from fault_kit import libfaketime, wall_clock_env

    if libfaketime() is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        offset = Path(folder) / "offset"
        offset.write_text("+0\n")
        code = f"from benchmarks.scheduler_clock import _child; _child({kind!r}, {str(offset)!r})"
        done = subprocess.run([sys.executable, "-c", code], env=wall_clock_env(offset), capture_output=True, text=True,
                              timeout=60, cwd=Path(__file__).resolve().parent.parent)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        return float(json.loads(done.stdout.strip().splitlines()[-1])["percent"])


def run(quick: bool) -> Result:
    jobs, every, seconds = (200, 1.0, 4.0) if quick else (1000, 5.0, 20.0)
    notes = [f"scheduler clock: {jobs} no-op jobs every {every:g} s for {seconds:g} s each; wall-clock step: "
             "20 jobs every 0.5 s, the wall clock stepped back 10 min by libfaketime, runs in the next 5 s"]
    figures: list[Figure] = []
    details: dict[str, object] = {}
    for kind in ("apscheduler", "loop"):
        p99, cpu = on_time(kind, jobs, every, seconds)
        details[kind] = {"lateness_p99_ms": p99, "cpu_percent": cpu}
        figures.append(Figure(f"{kind}_lateness_p99_ms", f"{kind}: start lateness p99", p99, "ms"))
        figures.append(Figure(f"{kind}_cpu_percent", f"{kind}: CPU of one core", cpu, "%"))
    for kind in ("apscheduler", "loop"):
        percent = step_in_child(kind)
        if percent is None:
            notes.append("wall-clock step not measured: Debian package 'faketime' is not installed")
        figures.append(Figure(f"{kind}_runs_after_step_percent", f"{kind}: due runs made after a -10 min wall step",
                              percent, "%", at_least=90.0 if kind == "loop" else None))  # fmt: skip
    order = {key: index for index, key in enumerate(FIGURES)}
    figures.sort(key=lambda figure: order[figure.key])
    return Result(figures, notes, details)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    print(run("--quick" in sys.argv))
