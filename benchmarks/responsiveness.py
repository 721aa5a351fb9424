"""Responsiveness: keypress to updated frame while 1,000 checks poll in the same process.

Method: the real dashboard (``make_app`` over the live backend) runs headless
(``App.run_test``, 120x36) on a runbook of 1,000 ``http`` checks of the
scripted target every 5 s (a stop condition on every tenth, 40 steps); the
target runs in a child process. Once nine in ten checks were polled, ``down``
/ ``up`` is pressed in the steps table: each key event is handed to the
driver as a terminal's input is, and the next key follows 100 ms after the
previous one's frame. Each latency runs from the key event being sent to the
first frame Textual composes after the table's cursor moved (the headless
driver then skips writing it to a terminal). Clock ticks, poll results and
repaints compete with the keys, as they do live.

A key whose frame has not come ``KEY_WAIT`` seconds after it was sent is
counted as a key without a frame (the screen was saturated), and counts as
``KEY_WAIT`` in the percentiles; the run goes on once the screen caught up.
A series that takes longer than ``SERIES_BUDGET`` counts its unpressed keys
the same way.

The same keys are then pressed again with the machine loaded by ``stress-ng
--cpu 2`` (two busy processes on this 2-core machine, beside whatever else
runs), when stress-ng is installed. Last, the polls are stopped and the same
keys pressed once more: the floor, what the screen alone costs a key in the
same run on the same machine (its clock still repaints every second).

Every collection of the cyclic garbage collector is timed (``gc.callbacks``):
a full one holds the GIL and stops every thread, the screen's too. Printed:
the full collections during the quiet keys, the longest, and how many quiet
keys waited while one ran.

Also measured over the quiet keys: the CPU share of the thread that runs the
UI loop (the screen, and the folding of the polls' results it is handed five
times a second; the polls and the probes' HTTP run on a thread of their own,
``checks.scheduler.PollingThread``), the whole process's CPU (the polling
thread and the log's writer threads too), and how long each derivation of the
``SessionState`` took (``LiveBackend.state``: for the repaints after new
readings, and for the clock a second after the last of them; the views the
screen reads of it are derived when it reads them, in the repaint, and
counted in the key's latency).
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import Figure, Result, percentile, rss_mb
from benchmarks.servers import TargetProcess
from runbooks.loader import parse_runbook

GOAL_P99_MS = 50.0
GOAL_P50_MS = 16.0
STEPS = 40
#: Seconds a key may wait for its frame before it counts as a key without a frame.
KEY_WAIT = 5.0
#: Seconds between one key's frame and the next key.
KEY_GAP = 0.1
#: Seconds one series of keys may take; keys not pressed by then count as keys without a frame.
SERIES_BUDGET = 240.0
STRESS = shutil.which("stress-ng")
FIGURES = (
    "checks",
    "keypress_p50_ms",
    "keypress_p99_ms",
    "keypress_max_ms",
    "keys_without_frame",
    "loaded_p50_ms",
    "loaded_p99_ms",
    "loaded_keys_without_frame",
    "unpolled_p50_ms",
    "unpolled_p99_ms",
    "ui_loop_cpu_percent",
    "process_cpu_percent",
    "full_collections",
    "full_collection_max_ms",
    "keys_behind_collection",
    "derive_p50_ms",
    "derive_max_ms",
    "rss_mb",
)


def build_runbook(url: str, checks: int):
    lines = ["name: Responsiveness benchmark", "roles: {commander: IC}", "checks:"]
    lines += [f"  c{n}: {{http: '{url}/health', expect_status: 200, every: 5s, timeout: 4s}}" for n in range(checks)]
    lines.append("stop_conditions:")
    lines += [f"  - {{id: c{n}_down, check: c{n}, for: 30s, action: halt, decides: commander}}" for n in range(0, checks, 10)]
    lines.append("steps:")
    lines += [f"  - {{title: Step {i}, at: T+{i * 5}m, gate: [c{i}], watch: [c{(i % (checks // 10)) * 10}_down]}}" for i in range(STEPS)]
    return parse_runbook("\n".join(lines) + "\n", "responsiveness-benchmark.yaml")


class Collections:
    """Every collection of the cyclic garbage collector while it is installed: (generation, start, end) in ``perf_counter`` seconds."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, float, float]] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:  # gc.callbacks' signature
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.spans.append((info["generation"], self._started, time.perf_counter()))

    def full(self, start: float, end: float) -> list[tuple[float, float]]:
        """The full (generation 2) collections that overlapped ``start``..``end``."""
        return [(s, e) for generation, s, e in self.spans if generation == 2 and s < end and e > start]


@dataclass
class Keys:
    """One series of key presses: latency per key (None: no frame within ``KEY_WAIT``) and the CPU meanwhile.

    ``sent`` is each key's ``perf_counter`` instant; ``full_collections`` the
    full collections during the series, and ``behind`` the keys whose wait
    overlapped one of them.
    """

    latencies: list[float | None] = field(default_factory=list)
    sent: list[float] = field(default_factory=list)
    loop_cpu: float = 0.0
    process_cpu: float = 0.0
    wall: float = 0.0
    full_collections: list[tuple[float, float]] = field(default_factory=list)

    def behind(self, collections: Collections) -> int:
        return sum(
            bool(collections.full(sent, sent + (KEY_WAIT if latency is None else latency)))
            for sent, latency in zip(self.sent, self.latencies, strict=True)
        )

    @property
    def missed(self) -> int:
        return sum(latency is None for latency in self.latencies)

    def milliseconds(self) -> list[float]:
        """Every key in ms; a key without a frame counts as ``KEY_WAIT``."""
        return [1000 * (KEY_WAIT if latency is None else latency) for latency in self.latencies]


async def press_keys(app, frames: list[float], moved: list[float], presses: int, collections: Collections) -> Keys:  # noqa: ANN001 (the app)
    """Press ``presses`` keys, each after the previous one's frame; their latencies and the CPU used meanwhile."""
    from textual import events

    keys = Keys()
    started_wall, started_cpu, started_loop = time.perf_counter(), time.process_time(), time.thread_time()
    for n in range(presses):
        if time.perf_counter() - started_wall > SERIES_BUDGET:  # a saturated screen: the rest would not fare better
            keys.latencies.extend([None] * (presses - n))
            keys.sent.extend([time.perf_counter()] * (presses - n))
            break
        before = len(moved)
        sent = time.perf_counter()
        app._driver.send_message(events.Key("down" if (n // 10) % 2 == 0 else "up", None))
        latency = None
        while time.perf_counter() - sent < KEY_WAIT:  # bounded: until the moved cursor is on a frame
            if len(moved) > before:
                frame = next((f for f in frames if f >= moved[before]), None)
                if frame is not None:
                    latency = frame - sent
                    break
            await asyncio.sleep(0.002)
        keys.latencies.append(latency)
        keys.sent.append(sent)
        if latency is None:
            for _ in range(int(10 / 0.05)):  # bounded: let the saturated screen catch up with this key
                if len(moved) > before:
                    break
                await asyncio.sleep(0.05)
        del frames[:-1]
        await asyncio.sleep(KEY_GAP)
    keys.wall = time.perf_counter() - started_wall
    keys.full_collections = [(s, e) for generation, s, e in collections.spans if generation == 2 and s >= started_wall]
    keys.process_cpu = time.process_time() - started_cpu
    keys.loop_cpu = time.thread_time() - started_loop  # this coroutine runs on the UI loop's thread
    return keys


async def measure(
    url: str, folder: Path, checks: int, presses: int, loaded: bool, collections: Collections
) -> tuple[Keys, Keys | None, Keys, list[float]]:
    """Quiet keys, loaded keys (or None), keys once polling stopped, and every state derivation's seconds (quiet keys).

    ``collections`` notes the collector's passes.
    """
    from cutover_tui.app import make_app
    from cutover_tui.live import LiveBackend
    from cutover_tui.store import SessionLog
    from cutover_tui.widgets.steps_table import StepsTable

    runbook = build_runbook(url, checks)
    backend = LiveBackend(runbook, SessionLog.create(folder / "keys.cutover.db", runbook, operator="bench"), actor="bench")
    derivations: list[float] = []
    derive = backend.state

    def timed_state():  # noqa: ANN202
        started = time.perf_counter()
        try:
            return derive()
        finally:
            derivations.append(time.perf_counter() - started)

    backend.state = timed_state  # type: ignore[method-assign]
    backend._repaint._state = timed_state  # the repaints after new readings derive through it (the clock then has no tick)
    app = make_app(backend)
    frames: list[float] = []
    compose_frame = app._display

    def display(screen, renderable) -> None:  # noqa: ANN001 (Textual's signature)
        if renderable is not None and not app._batch_count:
            frames.append(time.perf_counter())
        compose_frame(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    async with app.run_test(size=(120, 36)):
        for _ in range(300):  # bounded: until nine in ten checks were polled
            if sum(view.outcome is not None for view in app.session.checks.values()) >= 0.9 * checks:
                break
            await asyncio.sleep(0.1)
        moved: list[float] = []
        app.watch(app.query_one(StepsTable), "cursor_coordinate", lambda *_: moved.append(time.perf_counter()), init=False)
        await asyncio.sleep(1.0)
        derivations.clear()
        quiet = await press_keys(app, frames, moved, presses, collections)
        quiet_derivations = list(derivations)
        stressed = None
        if loaded:
            stress = subprocess.Popen([STRESS, "--cpu", "2", "--timeout", f"{int(presses * (KEY_WAIT + 1)) + 30}s"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            try:
                await asyncio.sleep(2.0)
                stressed = await press_keys(app, frames, moved, presses, collections)
            finally:
                stress.terminate()
                stress.wait(timeout=10)
        # The floor: the same keys once the polls stopped (the screen's clock still repaints each second).
        await backend._polling.stop()
        await asyncio.sleep(1.0)
        unpolled = await press_keys(app, frames, moved, presses, collections)
    return quiet, stressed, unpolled, quiet_derivations


def run(quick: bool) -> Result:
    checks, presses = (200, 20) if quick else (1000, 200)
    loaded = not quick and STRESS is not None
    folder = Path(tempfile.mkdtemp(prefix="cutover-bench-keys-"))
    try:
        collections = Collections()
        gc.callbacks.append(collections)
        with TargetProcess() as target:
            quiet, stressed, unpolled, derivations = asyncio.run(
                measure(target.url, folder, checks, presses, loaded, collections)
            )
    finally:
        if collections in gc.callbacks:
            gc.callbacks.remove(collections)
        shutil.rmtree(folder, ignore_errors=True)
    keys = quiet.milliseconds()
    p50, p99 = percentile(keys, 50), percentile(keys, 99)
    loop_cpu = 100 * quiet.loop_cpu / quiet.wall
    process_cpu = 100 * quiet.process_cpu / quiet.wall
    derive_ms = [1000 * s for s in derivations]
    full_ms = [1000 * (e - s) for s, e in quiet.full_collections]
    behind = quiet.behind(collections)
    print(f"{presses} keys with {checks:,} checks polling: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(keys):.1f} ms, "
          f"{quiet.missed} without a frame; UI loop {loop_cpu:.1f}% of a core, process {process_cpu:.1f}%")  # fmt: skip
    print(f"full collections of the cyclic garbage collector meanwhile: {len(full_ms)}"
          + (f", {min(full_ms):.0f}–{max(full_ms):.0f} ms" if full_ms else "")
          + f"; {behind} of {presses} keys waited behind one")  # fmt: skip
    if derive_ms:
        print(f"state derived {len(derive_ms)} times: p50 {percentile(derive_ms, 50):.1f} ms, max {max(derive_ms):.1f} ms")
    floor = unpolled.milliseconds()
    print(f"the same keys once the polls stopped: p50 {percentile(floor, 50):.1f} ms, p99 {percentile(floor, 99):.1f} ms, "
          f"UI loop {100 * unpolled.loop_cpu / unpolled.wall:.1f}% of a core")  # fmt: skip
    notes = [f"responsiveness: headless app, live backend, {checks:,} http checks every 5 s; a key without a frame "
             f"within {KEY_WAIT:g} s counts as {KEY_WAIT:g} s" + ("; quick: 200 checks, 20 keys" if quick else "")]  # fmt: skip
    loaded_keys = stressed.milliseconds() if stressed is not None else []
    if stressed is not None:
        print(f"loaded (stress-ng --cpu 2): p50 {percentile(loaded_keys, 50):.1f} ms, p99 {percentile(loaded_keys, 99):.1f} ms, "
              f"{stressed.missed} without a frame")  # fmt: skip
    elif not quick:
        notes.append("loaded figures not available: stress-ng is not installed")
    return Result(
        [
            Figure("checks", "checks polling meanwhile", checks),
            Figure("keypress_p50_ms", f"key to frame p50 ({presses} keys)", p50, "ms", at_most=GOAL_P50_MS),
            Figure("keypress_p99_ms", f"key to frame p99 ({presses} keys)", p99, "ms", at_most=GOAL_P99_MS),
            Figure("keypress_max_ms", "key to frame, slowest", max(keys), "ms"),
            Figure("keys_without_frame", f"keys without a frame within {KEY_WAIT:g} s", quiet.missed, at_most=0),
            Figure("loaded_p50_ms", "key to frame p50, machine loaded (stress-ng --cpu 2)",
                   percentile(loaded_keys, 50) if stressed else None, "ms"),  # fmt: skip
            Figure("loaded_p99_ms", "key to frame p99, machine loaded (stress-ng --cpu 2)",
                   percentile(loaded_keys, 99) if stressed else None, "ms"),  # fmt: skip
            Figure("loaded_keys_without_frame", "keys without a frame, machine loaded",
                   stressed.missed if stressed else None),  # fmt: skip
            Figure("unpolled_p50_ms", "key to frame p50 once the polls stopped (the floor, same run)",
                   percentile(floor, 50), "ms"),  # fmt: skip
            Figure("unpolled_p99_ms", "key to frame p99 once the polls stopped (the floor, same run)",
                   percentile(floor, 99), "ms"),  # fmt: skip
            Figure("ui_loop_cpu_percent", "CPU of the UI loop's thread (the screen, the results it folds)", loop_cpu, "%"),
            Figure("process_cpu_percent", "CPU of the whole process (the polling thread, the log's threads)", process_cpu, "%"),
            Figure("full_collections", "full collections of the cyclic garbage collector during the quiet keys", len(full_ms)),
            Figure("full_collection_max_ms", "the longest of them (every thread waits)", max(full_ms) if full_ms else None, "ms"),
            Figure("keys_behind_collection", "quiet keys whose wait overlapped one of them", behind),
            Figure("derive_p50_ms", "one SessionState derivation, p50", percentile(derive_ms, 50), "ms"),
            Figure("derive_max_ms", "one SessionState derivation, slowest", max(derive_ms) if derive_ms else None, "ms"),
            Figure("rss_mb", "RSS with the app running", rss_mb(), "MB"),
        ],
        notes,
        {
            "latencies_ms": [round(value, 2) for value in keys],
            "loaded_latencies_ms": [round(value, 2) for value in loaded_keys],
            "derive_ms": [round(value, 2) for value in derive_ms],
            "full_collections_ms": [round(value, 2) for value in full_ms],
            "unpolled_latencies_ms": [round(value, 2) for value in floor],
        },
    )
