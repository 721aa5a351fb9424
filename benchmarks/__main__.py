"""Run the benchmarks and print every figure beside its goal.

Usage::

    python -m benchmarks all            # every benchmark, full size (several minutes)
    python -m benchmarks all --quick    # every benchmark, reduced: under a minute in all
    python -m benchmarks polling log    # some of them
    python -m benchmarks all --json out.json   # default: benchmarks/results/latest.json

With more than one benchmark, each runs in a child process of its own, so one
benchmark's memory, threads and imports never weigh on the next one's figures.
The JSON holds what this invocation ran, the machine it ran on, and for each
benchmark its figures (value, unit, goal, met), notes and raw details.
Exit status: 0 when every benchmark ran (goals missed or not), 1 when one failed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks import BENCHMARKS
from benchmarks.common import Figure, Result, format_value

DEFAULT_JSON = Path(__file__).parent / "results" / "latest.json"
#: A child running longer than this is killed and reported as failed.
CHILD_TIMEOUT = {True: 180.0, False: 1800.0}


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        memory_gb = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=5).stdout.strip()  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        commit = ""
    from textual import __version__ as textual_version

    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "cpu": model,
        "memory_gb": round(memory_gb, 1) if memory_gb else None,
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "textual": textual_version,
        "commit": commit,
    }


def run_in_process(name: str, quick: bool) -> dict[str, Any]:
    """Run one benchmark here; its entry for the JSON (figures, notes, details, seconds, error)."""
    module = importlib.import_module(BENCHMARKS[name])
    print(f"== {name}{' (quick)' if quick else ''}", flush=True)
    started = time.perf_counter()
    error = None
    try:
        result: Result = module.run(quick)
    except Exception:  # one broken benchmark must not hide the others' figures
        error = traceback.format_exc()
        print(error, file=sys.stderr)
        result = Result([Figure(key, key, None) for key in module.FIGURES], [f"failed: {error.splitlines()[-1]}"])
    reported = [figure.key for figure in result.figures]
    if sorted(reported) != sorted(module.FIGURES):
        raise AssertionError(f"{name} reported {reported}, declared {module.FIGURES}")
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "quick": quick,
        "error": error,
        "figures": {figure.key: figure.as_json() for figure in result.figures},
        "order": reported,
        "notes": result.notes,
        "details": result.details,
    }


def run_in_child(name: str, quick: bool) -> dict[str, Any]:
    """Run one benchmark in a fresh Python process; its entry for the JSON."""
    with tempfile.TemporaryDirectory(prefix="cutover-bench-") as folder:
        out = Path(folder) / "result.json"
        argv = [sys.executable, "-m", "benchmarks", name, "--json", str(out), "--no-table"] + (["--quick"] if quick else [])
        started = time.perf_counter()
        try:
            code = subprocess.run(argv, cwd=Path(__file__).parent.parent, timeout=CHILD_TIMEOUT[quick]).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        if code == 0 and out.exists():
            return json.loads(out.read_text())["benchmarks"][name]
    module = importlib.import_module(BENCHMARKS[name])
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "quick": quick,
        "error": f"the benchmark process ended with {code}",
        "figures": {key: Figure(key, key, None).as_json() for key in module.FIGURES},
        "order": list(module.FIGURES),
        "notes": [f"failed: the benchmark process ended with {code}"],
        "details": {},
    }


def print_table(results: dict[str, dict[str, Any]]) -> None:
    """One row per figure; a quick run leaves out the figures only a full run measures."""
    rows = [("benchmark", "figure", "value", "goal", "met?")]
    for name, entry in results.items():
        for key in entry["order"]:
            figure = entry["figures"][key]
            if entry["quick"] and figure["value"] is None and not entry["error"]:
                continue
            met = {True: "yes", False: "NO", None: ""}[figure["met"]]
            rows.append((name, figure["label"], format_value(figure["value"], figure["unit"]), figure["goal"], met))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    print()
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(width) if i != 2 else cell.rjust(width) for i, (cell, width) in enumerate(zip(row, widths))).rstrip())
        if n == 0:
            print("  ".join("-" * width for width in widths))
    for name, entry in results.items():
        for note in entry["notes"]:
            print(f"[{name}] {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", metavar="NAME", choices=["all", *BENCHMARKS],
                        help=f"all, or some of: {', '.join(BENCHMARKS)}")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="reduced sizes: every benchmark, under a minute in all")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="OUT",
                        help="where to write the figures (default benchmarks/results/latest.json)")
    parser.add_argument("--no-table", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = list(BENCHMARKS) if "all" in args.names else list(dict.fromkeys(args.names))
    started = time.perf_counter()
    info = machine()
    if len(names) == 1:
        results = {names[0]: run_in_process(names[0], args.quick)}
    else:
        results = {name: run_in_child(name, args.quick) for name in names}
    document = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": info,
        "benchmarks": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    if not args.no_table:
        print_table(results)
        print(f"\n{len(names)} benchmark(s) in {document['seconds']:g} s on {info['cores']} cores, "
              f"python {info['python']}; figures in {args.json}")  # fmt: skip
    return 1 if any(entry["error"] for entry in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
