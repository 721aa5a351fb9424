"""Responsiveness: keypress to updated frame while 1,000 checks poll in the same process.

Method: the real dashboard (``make_app`` over the live backend) runs headless
(``App.run_test``, 120x36) on a runbook of 1,000 ``http`` checks of the
scripted target every 5 s (a stop condition on every tenth, 40 steps); the
target runs in a child process. Once the checks are polled, ``down`` / ``up``
is pressed in the steps table, each key once the screen has settled after
the previous one (``Pilot.press`` waits for that: 100-200 ms here). Each latency runs from the key event being sent (the path a terminal's input
takes) to the first frame Textual composes after the table's cursor moved
(the headless driver then skips writing it to a terminal). Clock ticks,
poll results and repaints compete with the keys, as they do live.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import Figure, Result, percentile, rss_mb
from benchmarks.servers import TargetProcess
from runbooks.loader import parse_runbook

GOAL_MS = 50.0
STEPS = 40
FIGURES = ("checks", "keypress_p50_ms", "keypress_p99_ms", "keypress_max_ms", "rss_mb")


def build_runbook(url: str, checks: int):
    lines = ["name: Responsiveness benchmark", "roles: {commander: IC}", "checks:"]
    lines += [f"  c{n}: {{http: '{url}/health', expect_status: 200, every: 5s, timeout: 4s}}" for n in range(checks)]
    lines.append("stop_conditions:")
    lines += [f"  - {{id: c{n}_down, check: c{n}, for: 30s, action: halt, decides: commander}}" for n in range(0, checks, 10)]
    lines.append("steps:")
    lines += [f"  - {{title: Step {i}, at: T+{i * 5}m, gate: [c{i}], watch: [c{(i % (checks // 10)) * 10}_down]}}" for i in range(STEPS)]
    return parse_runbook("\n".join(lines) + "\n", "responsiveness-benchmark.yaml")


async def measure(url: str, folder: Path, checks: int, presses: int) -> list[float]:
    """Seconds from each key to its frame."""
    from cutover_tui.app import make_app
    from cutover_tui.live import LiveBackend
    from cutover_tui.store import SessionLog
    from cutover_tui.widgets.steps_table import StepsTable

    runbook = build_runbook(url, checks)
    backend = LiveBackend(runbook, SessionLog.create(folder / "keys.cutover.db", runbook, operator="bench"), actor="bench")
    app = make_app(backend)
    frames: list[float] = []
    compose_frame = app._display

    def display(screen, renderable) -> None:  # noqa: ANN001 (Textual's signature)
        if renderable is not None and not app._batch_count:
            frames.append(time.perf_counter())
        compose_frame(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    latencies: list[float] = []
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(150):  # bounded: until nine in ten checks were polled
            if sum(view.outcome is not None for view in app.session.checks.values()) >= 0.9 * checks:
                break
            await pilot.pause(0.1)
        moved: list[float] = []
        app.watch(app.query_one(StepsTable), "cursor_coordinate", lambda *_: moved.append(time.perf_counter()), init=False)
        for n in range(presses):
            before = len(moved)
            sent = time.perf_counter()
            await pilot.press("down" if (n // 10) % 2 == 0 else "up")
            for _ in range(1000):  # bounded: until the moved cursor is on a frame
                if len(moved) > before and frames and frames[-1] >= moved[before]:
                    break
                await asyncio.sleep(0.005)
            else:
                raise RuntimeError(f"key {n}: no frame showed the cursor move within 5 s")
            latencies.append(next(frame for frame in frames if frame >= moved[before]) - sent)
    return latencies


def run(quick: bool) -> Result:
    checks, presses = (200, 20) if quick else (1000, 200)
    folder = Path(tempfile.mkdtemp(prefix="cutover-bench-keys-"))
    try:
        with TargetProcess() as target:
            latencies = [s * 1000 for s in asyncio.run(measure(target.url, folder, checks, presses))]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(f"{presses} keys with {checks:,} checks polling: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms")
    return Result(
        [
            Figure("checks", "checks polling meanwhile", checks),
            Figure("keypress_p50_ms", f"key to frame p50 ({presses} keys)", p50, "ms"),
            Figure("keypress_p99_ms", f"key to frame p99 ({presses} keys)", p99, "ms", at_most=GOAL_MS),
            Figure("keypress_max_ms", "key to frame, slowest", max(latencies), "ms"),
            Figure("rss_mb", "RSS with the app running", rss_mb(), "MB"),
        ],
        [f"responsiveness: headless app, live backend, {checks:,} http checks every 5 s"
         + ("; quick: 200 checks, 20 keys" if quick else "")],  # fmt: skip
        {"latencies_ms": [round(value, 2) for value in latencies]},
    )
