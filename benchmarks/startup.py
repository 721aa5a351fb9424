"""Startup: process start to the first frame of ``cutover-tui run`` in a real terminal, cold and warm.

Method: a private tmux server (its own socket, 120x36) runs ``cutover-tui run
sample_runbooks/demo.yaml`` in a new window, the demo's service running in a
child process; the clock starts just before tmux is asked to spawn it and
stops when ``tmux capture-pane`` first shows the runbook's name, the stop
conditions pane and a step's title whole, "Final go/no-go" (polled every 10 ms,
so figures are within ~10 ms). The title counts: a frame that cut every title
to 12 cells, as the first one did before the steps were fitted in the layout
pass, is not the dashboard yet. That title is the third step's, shown whole at
80x24 as at 120x36, and not in the header at the start.

- warm: repeated starts, files in the OS page cache (what a second start sees);
- cold: the first start after the page cache was emptied of the Python files
  it reads (the virtualenv, the standard library, this project), with
  ``posix_fadvise(DONTNEED)``, as after a reboot. Files other processes keep
  mapped stay cached; the JSON says how many files were evicted.

Both measure a start after the first: the project's bytecode is compiled
before timing (``compile_project``), as pip's install or any earlier start
leaves it (Textual's is, by pip), so that a ``PYTHONDONTWRITEBYTECODE``
set where the benchmark runs does not make every start compile the project.

Baseline: ``python -c "import textual.app"`` (spawn to exit), measured the same
ways in the same run: no Textual app can start faster than it imports Textual.
Also timed warm: importing every module ``run`` loads before its first frame
(``APP_MODULES``), which tells import time from the app's own start-up work.

CPU: beside each warm time, the CPU time the process had used by then (user +
system, all its threads; for the imports, ``getrusage`` of the finished child;
for a start, the pane's process's ``/proc/PID/stat`` when the frame was seen,
in the kernel's clock ticks, so within 10 ms and a poll's work after the
frame). On two cores shared with other work, a start's wall time is mostly
waiting for a core; its CPU time is not, and the CPU ratios tell what the
code costs when the wall ratios move with the machine's load. The goals stay
on the wall times.

Second floor: the least a Textual app draws (``benchmarks/startup_floor.py``: a
Header, the same two texts, a Footer), started in the same terminal the same
way, cold (after its own eviction) and warm (alternating with ``run``'s warm
starts). Its first frame is Textual's own start in a real terminal (driver,
the built-in widgets' CSS, the first layout and render), so ``run``'s first
frame over it, and the milliseconds above it, are what is ours.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from benchmarks.common import Figure, Result, cpu_seconds
from benchmarks.servers import TargetProcess

ROOT = Path(__file__).resolve().parent.parent
RUNBOOK = ROOT / "sample_runbooks" / "demo.yaml"
FIRST_FRAME = ("Demo go-live", "Stop conditions", "Final go/no-go")
APP_MODULES = ("cutover_tui.cli, cutover_tui.commands.app_cmds, runbooks, cutover_tui.redaction, cutover_tui.trust, "
               "cutover_tui.store, cutover_tui.app, cutover_tui.live")
GOAL = 0.5
#: First frame at most this many times ``import textual.app``, measured in the same run.
RATIO_GOAL = 1.3
FRAME_TIMEOUT = 30.0
FLOOR_APP = Path(__file__).resolve().parent / "startup_floor.py"
FIGURES = ("textual_import_warm_s", "textual_import_cold_s", "app_import_warm_s", "floor_first_frame_warm_s",
           "floor_first_frame_cold_s", "first_frame_cold_s", "first_frame_warm_s", "first_frame_warm_max_s",
           "warm_ratio_to_textual", "cold_ratio_to_textual", "warm_ratio_to_floor", "cold_ratio_to_floor",
           "warm_above_floor_ms", "cold_above_floor_ms", "textual_import_cpu_s", "app_import_cpu_s",
           "floor_first_frame_cpu_s", "first_frame_cpu_s", "cpu_ratio_to_textual", "cpu_ratio_to_floor",
           "cpu_above_floor_ms")  # fmt: skip


def startup_files() -> list[Path]:
    """Every file Python may read to start the app: the interpreter, the standard library, the virtualenv, this project."""
    paths = sysconfig.get_paths()
    roots = {Path(paths["stdlib"]), Path(paths["purelib"]), Path(paths["platlib"]),
             ROOT / "cutover_tui", ROOT / "checks", ROOT / "runbooks"}  # fmt: skip
    files = [Path(sys.executable).resolve()]
    for root in roots:
        for folder, _, names in os.walk(root):
            files.extend(Path(folder) / name for name in names)
    return files


def evict_page_cache(files: list[Path]) -> int:
    """Drop the page cache of ``files``; returns how many were evicted."""
    evicted = 0
    for path in files:
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
            evicted += 1
        finally:
            os.close(descriptor)
    return evicted


def compile_project(root: Path = ROOT) -> None:
    """Write the bytecode (``__pycache__``) of the project in ``root``, as any start that may write it does."""
    import compileall

    for package in ("cutover_tui", "checks", "runbooks"):
        compileall.compile_dir(root / package, quiet=1)


def time_import(modules: str = "textual.app") -> tuple[float, float]:
    """Seconds for a fresh Python to import ``modules`` and exit: wall, and the CPU it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {modules}"], check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cpu_used(pid: int) -> float | None:
    """Seconds of CPU process ``pid`` has used (``cpu_seconds``); None once it is gone."""
    try:
        return cpu_seconds(pid)
    except OSError:
        return None


class Terminal:
    """A private tmux server with one idle 120x36 session to open windows in."""

    def __init__(self) -> None:
        self.socket = f"cutover-bench-{os.getpid()}"
        self._tmux("new-session", "-d", "-x", "120", "-y", "36", "-s", "bench", "sleep 3600")

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], check=True,
                              capture_output=True, text=True, timeout=10).stdout  # fmt: skip

    def first_frame(self, command: str, window: str) -> tuple[float, float | None]:
        """Seconds from asking tmux to run ``command`` to the first frame on screen, and the CPU the process had
        used when it was seen; closes the window after."""
        started = time.perf_counter()
        self._tmux("new-window", "-d", "-t", "bench", "-n", window, command)
        pid = self._pid(window)
        try:
            while time.perf_counter() - started < FRAME_TIMEOUT:
                screen = self._tmux("capture-pane", "-p", "-t", f"bench:{window}")
                if all(text in screen for text in FIRST_FRAME):
                    seen = time.perf_counter() - started
                    return seen, cpu_used(pid)
                time.sleep(0.01)
            raise RuntimeError(f"no first frame within {FRAME_TIMEOUT:g} s; the screen showed:\n{screen}")
        finally:
            self._close(window)

    def _pid(self, window: str) -> int:
        """The process in ``window`` (the shell tmux starts execs the command, so it keeps the pid)."""
        return int(self._tmux("display-message", "-p", "-t", f"bench:{window}", "#{pane_pid}").strip())

    def _close(self, window: str) -> None:
        pid = self._pid(window)
        self._tmux("kill-window", "-t", f"bench:{window}")
        for _ in range(500):  # the next start must not share the CPU with this one's shutdown
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.01)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


def run(quick: bool) -> Result:
    warm_runs = 1 if quick else 10
    if shutil.which("tmux") is None:
        return Result([Figure(key, key, None) for key in FIGURES], ["not available: tmux is not installed"])
    executable = Path(sys.executable).with_name("cutover-tui")
    program = str(executable) if executable.exists() else f"{sys.executable} -m cutover_tui"
    folder = Path(tempfile.mkdtemp(prefix="cutover-bench-startup-"))
    terminal = Terminal()
    try:
        with TargetProcess() as target:
            def command(n: int) -> str:
                return (f"cd {folder} && exec env LANG=C.UTF-8 TERM=xterm-256color DEMO_URL={target.url} "
                        f"{program} run {RUNBOOK} --db {folder / f'start-{n}.cutover.db'} --as bench")  # fmt: skip

            floor = f"cd {folder} && exec env LANG=C.UTF-8 TERM=xterm-256color {sys.executable} {FLOOR_APP}"
            compile_project()
            files = startup_files()
            evicted = evict_page_cache(files)
            import_cold, _ = time_import()
            evict_page_cache(files)
            cold, _ = terminal.first_frame(command(0), "cold")
            evict_page_cache(files)
            floor_cold, _ = terminal.first_frame(floor, "floor-cold")
            print(f"cold first frame     {cold:.3f} s (page cache of {evicted:,} files evicted first)")
            print(f"cold floor app       {floor_cold:.3f} s")
            print(f"cold textual import  {import_cold:.3f} s")
            imports, imports_cpu = zip(*(time_import() for _ in range(warm_runs)), strict=True)
            app_imports, app_imports_cpu = zip(*(time_import(APP_MODULES) for _ in range(warm_runs)), strict=True)
            warm, floor_warm, warm_cpu, floor_cpu = [], [], [], []
            for n in range(1, warm_runs + 1):  # alternating, so that both see the same machine
                for starts, cpus, start in ((warm, warm_cpu, command(n)), (floor_warm, floor_cpu, floor)):
                    seen, cpu = terminal.first_frame(start, f"{'warm' if start != floor else 'floor'}{n}")
                    starts.append(seen)
                    if cpu is not None:
                        cpus.append(cpu)
            print(f"warm first frame     {', '.join(f'{s:.3f}' for s in warm)} s")
            print(f"warm floor app       {', '.join(f'{s:.3f}' for s in floor_warm)} s")
            print(f"warm textual import  {', '.join(f'{s:.3f}' for s in imports)} s")
            print(f"warm app imports     {', '.join(f'{s:.3f}' for s in app_imports)} s")
            print(f"CPU: first frame     {', '.join(f'{s:.2f}' for s in warm_cpu)} s")
            print(f"CPU: floor app       {', '.join(f'{s:.2f}' for s in floor_cpu)} s")
            print(f"CPU: textual import  {', '.join(f'{s:.3f}' for s in imports_cpu)} s")
            print(f"CPU: app imports     {', '.join(f'{s:.3f}' for s in app_imports_cpu)} s")
    finally:
        terminal.close()
        shutil.rmtree(folder, ignore_errors=True)
    warm_median, import_median = statistics.median(warm), statistics.median(imports)
    floor_median = statistics.median(floor_warm)
    import_cpu = statistics.median(imports_cpu)
    run_cpu = statistics.median(warm_cpu) if warm_cpu else None
    floor_cpu_median = statistics.median(floor_cpu) if floor_cpu else None
    if run_cpu is not None and floor_cpu_median is not None:
        print(f"CPU to the first frame: {run_cpu / import_cpu:.2f}× the Textual import's, "
              f"{run_cpu / floor_cpu_median:.2f}× the floor app's ({(run_cpu - floor_cpu_median) * 1000:.0f} ms above it)")  # fmt: skip
    print(f"first frame over the floor app: warm {warm_median / floor_median:.2f}× "
          f"({(warm_median - floor_median) * 1000:.0f} ms above it), cold {cold / floor_cold:.2f}× "
          f"({(cold - floor_cold) * 1000:.0f} ms above it); the floor app over the Textual import: "
          f"warm {floor_median / import_median:.2f}×")  # fmt: skip
    return Result(
        [
            Figure("textual_import_warm_s", "python -c 'import textual.app', warm (median)", import_median, "s"),
            Figure("textual_import_cold_s", "python -c 'import textual.app', cold", import_cold, "s"),
            Figure("app_import_warm_s", "python -c 'import <what run loads>', warm (median)", statistics.median(app_imports), "s"),
            Figure("floor_first_frame_warm_s", f"floor app (header, 3 lines, footer): first frame, warm (median of {warm_runs})",
                   floor_median, "s"),  # fmt: skip
            Figure("floor_first_frame_cold_s", "floor app: first frame, cold", floor_cold, "s"),
            Figure("first_frame_cold_s", "run: start to first frame, cold", cold, "s", at_most=GOAL),
            Figure("first_frame_warm_s", f"run: start to first frame, warm (median of {warm_runs})", warm_median, "s", at_most=GOAL),
            Figure("first_frame_warm_max_s", f"run: start to first frame, warm (slowest of {warm_runs})", max(warm), "s", at_most=GOAL),
            Figure("warm_ratio_to_textual", "warm first frame / Textual import (same run)", warm_median / import_median,
                   "×", at_most=RATIO_GOAL),  # fmt: skip
            Figure("cold_ratio_to_textual", "cold first frame / cold Textual import (same run)", cold / import_cold,
                   "×", at_most=RATIO_GOAL),  # fmt: skip
            Figure("warm_ratio_to_floor", "warm first frame / floor app's (same run)", warm_median / floor_median, "×"),
            Figure("cold_ratio_to_floor", "cold first frame / floor app's (same run)", cold / floor_cold, "×"),
            Figure("warm_above_floor_ms", "warm first frame above the floor app's (medians)",
                   (warm_median - floor_median) * 1000, "ms"),  # fmt: skip
            Figure("cold_above_floor_ms", "cold first frame above the floor app's", (cold - floor_cold) * 1000, "ms"),
            Figure("textual_import_cpu_s", "CPU: python -c 'import textual.app', warm (median)", import_cpu, "s"),
            Figure("app_import_cpu_s", "CPU: python -c 'import <what run loads>', warm (median)",
                   statistics.median(app_imports_cpu), "s"),  # fmt: skip
            Figure("floor_first_frame_cpu_s", "CPU: floor app to its first frame, warm (median)", floor_cpu_median, "s"),
            Figure("first_frame_cpu_s", "CPU: run to its first frame, warm (median)", run_cpu, "s"),
            Figure("cpu_ratio_to_textual", "CPU: run's first frame / Textual import (same run)",
                   None if run_cpu is None else run_cpu / import_cpu, "×"),  # fmt: skip
            Figure("cpu_ratio_to_floor", "CPU: run's first frame / floor app's (same run)",
                   None if run_cpu is None or not floor_cpu_median else run_cpu / floor_cpu_median, "×"),  # fmt: skip
            Figure("cpu_above_floor_ms", "CPU: run's first frame above the floor app's (medians)",
                   None if run_cpu is None or floor_cpu_median is None else (run_cpu - floor_cpu_median) * 1000,
                   "ms"),  # fmt: skip
        ],
        [f"startup: real terminal (tmux 120x36), {RUNBOOK.name} against the demo service; cold = "
         f"{evicted:,} files evicted from the page cache first; floor app = {FLOOR_APP.name}, "
         "alternating with run's warm starts"],  # fmt: skip
        {"warm_s": warm, "floor_warm_s": floor_warm, "textual_import_warm_s": list(imports),
         "app_import_warm_s": list(app_imports), "evicted_files": evicted, "warm_cpu_s": warm_cpu,
         "floor_warm_cpu_s": floor_cpu, "textual_import_cpu_s": list(imports_cpu),
         "app_import_cpu_s": list(app_imports_cpu)},  # fmt: skip
    )
