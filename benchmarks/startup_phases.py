"""Where ``run``'s start-up CPU goes, phase by phase, beside the floor app's (``startup_floor.py``).

Usage::

    python -m benchmarks.startup_phases [--runs 8] [--tree PATH]

Method: ``run sample_runbooks/demo.yaml`` and the floor app start in a real
terminal (a private tmux server, 120x36), alternating, each ``--runs`` times.
Each runs under this module as its launcher (``--child``), which wraps a few
of the dashboard's and Textual's methods to note the process's CPU time (user
+ system, every thread: ``time.process_time``) as each phase ends, and exits
at the dashboard's first ``call_after_refresh``. The phases, in the order a
start goes through them:

- python: the interpreter's own start, until the launcher runs;
- imports: the command line, then the dashboard's modules and Textual (the
  launcher imports them before the command runs; a real start imports them
  inside ``run``, while the log opens on a thread: the same CPU);
- runbook: reading and checking the runbook, the approval of its commands;
- log and backend: the log created (on its thread) and folded by the backend;
- first state: the app made, the first ``SessionState`` derived;
- Textual start: from ``App.run`` to the screen's ``compose``;
- compose and mount: the widgets made, styled and mounted;
- state drawn: the first state handed to the widgets (``on_mount``);
- first layout and render: the screen styled again as it is shown, laid out
  and drawn whole (the frame the ``startup`` benchmark waits for);
- after it: what runs until the first ``call_after_refresh`` (the terminal's
  resize events, the footer's keys).

The floor app has no runbook, log or state: its imports are Textual's and its
first layout and render are Textual's own. Figures are medians over the
runs, in milliseconds of CPU; the machine's load moves them, the phases'
shares and the differences less. ``--tree`` times another checkout's code
(its ``cutover_tui``, ``checks`` and ``runbooks`` first on the path) in the
same terminal, alternating with this one, to compare code back to back.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FLOOR = "floor"
RUN_PHASES = ("python", "imports", "runbook", "log and backend", "first state", "Textual start", "compose and mount",
              "state drawn", "first layout and render", "after it")  # fmt: skip
WAIT_SECONDS = 30.0


class Marks:
    """The CPU time at the end of each phase, written as JSON when the start is over."""

    def __init__(self, out: str) -> None:
        self.out = out
        self.times: dict[str, float] = {"python": time.process_time()}

    def note(self, phase: str) -> None:
        self.times.setdefault(phase, time.process_time())

    def after(self, owner: Any, name: str, phase: str) -> None:
        """Note ``phase`` when ``owner.name`` (a plain method) first returns."""
        original = getattr(owner, name)

        @functools.wraps(original)  # Textual counts a handler's parameters through it
        def noted(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            self.note(phase)
            return result

        setattr(owner, name, noted)

    def before(self, owner: Any, name: str, phase: str) -> None:
        """Note ``phase`` when ``owner.name`` is first called."""
        original = getattr(owner, name)

        @functools.wraps(original)
        def noted(*args: Any, **kwargs: Any) -> Any:
            self.note(phase)
            return original(*args, **kwargs)

        setattr(owner, name, noted)

    def done(self) -> None:
        self.note("after it")
        Path(self.out).write_text(json.dumps(self.times))
        os._exit(0)


def instrument_textual(marks: Marks, app_class: type) -> None:
    """The marks every Textual app shares: its start until ``compose``, its first layout and render."""
    from textual.screen import Screen

    marks.before(app_class, "compose", "Textual start")
    marks.after(Screen, "_refresh_layout", "first layout and render")


def child_run(out: str, argv: list[str]) -> None:
    """Start ``cutover-tui run`` with its phases noted."""
    marks = Marks(out)
    import cutover_tui.app as dashboard_package
    from cutover_tui import cli
    from cutover_tui.commands import app_cmds

    marks.note("imports")
    app_class = dashboard_package.CutoverApp
    marks.before(app_cmds, "_live", "runbook")
    marks.before(dashboard_package, "make_app", "log and backend")  # ``run`` takes it from the package
    marks.after(dashboard_package, "make_app", "first state")
    instrument_textual(marks, app_class)
    marks.before(app_class, "on_mount", "compose and mount")
    marks.after(app_class, "_render_state", "state drawn")

    async def first_refresh(app: Any) -> None:
        marks.done()

    app_class._after_first_frame = first_refresh  # type: ignore[method-assign]
    sys.argv = ["cutover-tui", *argv]
    cli.main(argv)


def child_floor(out: str) -> None:
    """Start the floor app with its phases noted."""
    marks = Marks(out)
    from startup_floor import FloorApp  # this file runs as a script: its folder is on the path

    marks.note("imports")
    instrument_textual(marks, FloorApp)

    class Noted(FloorApp):
        def on_mount(self) -> None:
            marks.note("compose and mount")
            self.call_after_refresh(marks.done)

    Noted().run()


def start(socket: str, command: str, out: Path) -> dict[str, float]:
    """Run ``command`` in a new tmux window; the phases' CPU in milliseconds, each from the one before."""
    subprocess.run(["tmux", "-L", socket, "new-window", "-d", "-t", "bench:", command], check=True, timeout=10)
    deadline = time.monotonic() + WAIT_SECONDS
    while not out.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no first frame within {WAIT_SECONDS:g} s: {command}")
        time.sleep(0.02)
    time.sleep(0.05)  # the file is whole once the process has exited
    times = json.loads(out.read_text())
    out.unlink()
    ordered = sorted(times.items(), key=lambda item: item[1])
    return {phase: (cpu - (ordered[i - 1][1] if i else 0.0)) * 1000 for i, (phase, cpu) in enumerate(ordered)}


def measure(runs: int, trees: list[str]) -> dict[str, list[dict[str, float]]]:
    """Each tree's ``run`` and the floor app, alternating in one terminal, ``runs`` times each."""
    from benchmarks.startup import compile_project

    for tree in trees:
        compile_project(Path(tree))  # as ``startup`` does: no start compiles the project
    folder = Path(tempfile.mkdtemp(prefix="cutover-phases-"))
    socket = f"cutover-phases-{os.getpid()}"
    tmux = ["tmux", "-L", socket, "-f", "/dev/null"]
    subprocess.run([*tmux, "new-session", "-d", "-x", "120", "-y", "36", "-s", "bench", "sleep 3600"], check=True)
    found: dict[str, list[dict[str, float]]] = {name: [] for name in [*trees, FLOOR]}
    env = f"cd {folder} && exec env LANG=C.UTF-8 TERM=xterm-256color DEMO_URL=http://127.0.0.1:9"
    try:
        for n in range(runs):
            for name in found:
                out = folder / f"{n}-{len(found[name])}-{abs(hash(name))}.json"
                launcher = f"{sys.executable} {Path(__file__).resolve()} --child {out}"
                if name == FLOOR:
                    command = f"{env} {launcher} floor"
                else:
                    command = (f"{env} PYTHONPATH={name} {launcher} run {name}/sample_runbooks/demo.yaml "
                               f"--db {folder}/{out.stem}.db --as bench")  # fmt: skip
                found[name].append(start(socket, command, out))
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, timeout=10)
    return found


def report(found: dict[str, list[dict[str, float]]]) -> None:
    """Median milliseconds of CPU per phase, for each tree and the floor app, and each tree's total above the floor."""
    names = list(found)
    print(f"{'phase':26s}" + "".join(f"{Path(name).name:>14s}" for name in names))
    floor_total = statistics.median(sum(r.values()) for r in found[FLOOR])
    for phase in RUN_PHASES:
        cells = [statistics.median(r.get(phase, 0.0) for r in found[name]) for name in names]
        print(f"{phase:26s}" + "".join(f"{cell:14.1f}" for cell in cells))
    totals = [statistics.median(sum(r.values()) for r in found[name]) for name in names]
    print(f"{'total':26s}" + "".join(f"{total:14.1f}" for total in totals))
    print(f"{'above the floor app':26s}" + "".join(f"{total - floor_total:14.1f}" for total in totals))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--tree", action="append", default=[], help="another checkout to time beside this one")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        out, what, *rest = args.child
        child_floor(out) if what == FLOOR else child_run(out, [what, *rest])
        return
    report(measure(args.runs, [str(ROOT), *args.tree]))


if __name__ == "__main__":
    main()
