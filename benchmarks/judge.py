"""What the baseline, the what-if and the report's new sections cost.

- ``evaluator``: the time one poll takes in a condition relative to the
  baseline (median judge) while its window is open and after it closed, and
  with the Mann–Whitney judge, against a plain threshold condition: the
  poller runs these on the event loop the screen shares.
- ``what_if``: re-evaluating a long session's readings with a changed
  threshold (``cutover_tui.whatif.what_if``): a check polled every 5 s for
  N hours, stored by the real retention (a flat series with jitter and two
  spikes), re-evaluated from the log.
- ``report``: ``build_report`` of that log with and without ``--what-if``.

No goal is asserted here: these are figures to watch, printed beside the
plain threshold's for scale.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from benchmarks.common import Figure, Result, percentile

FIGURES = (
    "plain_poll_us",
    "baseline_open_poll_us",
    "baseline_closed_poll_us",
    "mann_whitney_poll_us",
    "what_if_seconds",
    "what_if_polls_per_second",
    "report_seconds",
    "report_what_if_seconds",
)

RUNBOOK = """\
name: Judge benchmark
checks:
  ratio: {scrape: "http://127.0.0.1:9/metrics", metric: r, unit: "%", every: 5s, timeout: 2s, pass_when: "< 1%"}
stop_conditions:
  - {id: plain, check: ratio, when: "> 1%", for: 1m, action: rollback}
  - id: relative
    check: ratio
    when: "> 2x baseline"
    baseline: {from: T-30m, to: T-0, min_samples: 10}
    floor: "> 0.5%"
    for: 1m
    action: rollback
"""


def poll_cost(condition_yaml: str, polls: int, *, t0_after: float) -> list[float]:
    """Microseconds per ``observe`` of one condition over ``polls`` readings 5 s apart."""
    from checks.clock import ManualClock
    from checks.conditions import ConditionEvaluator
    from checks.reading import Outcome, Reading
    from runbooks import parse_runbook

    runbook = parse_runbook(
        'name: b\nchecks:\n  k: {scrape: "http://127.0.0.1:9/m", metric: r, unit: "%", every: 5s, timeout: 2s}\n'
        f"stop_conditions:\n  - {condition_yaml}\n"
    )
    clock = ManualClock()
    evaluator = ConditionEvaluator(runbook.stop_conditions[0], runbook.checks["k"], clock)
    evaluator.set_t0(clock.now() + timedelta(seconds=t0_after))
    rnd = random.Random(1)
    costs = []
    for _ in range(polls):
        reading = Reading("k", Outcome.PASS, 0.002 + rnd.uniform(-2e-4, 2e-4), "%", 0.01, clock.now(), clock.monotonic())
        started = time.perf_counter()
        evaluator.observe(reading)
        costs.append((time.perf_counter() - started) * 1e6)
        clock.advance(5)
    return costs


def long_session(path: Path, hours: float) -> int:
    """A session of ``hours`` written through the live path (``tests/scripted_session.py``); its polls."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from scripted_session import ScriptedSession

    rnd = random.Random(2)
    session = ScriptedSession(path, RUNBOOK, t0_in=1800)
    end = hours * 3600

    def value(t: float) -> float:
        spike = (7200 <= t % 36000 < 7500) or (20000 <= t % 36000 < 20150)
        return (0.04 if spike else 0.002) + rnd.uniform(-2e-4, 2e-4)

    session.poll("ratio", None, until=end, values=value)
    session.close()
    return len(session.readings)


def run(quick: bool) -> Result:
    polls, hours = (500, 0.25) if quick else (20000, 24.0)
    notes = [
        f"evaluator: {polls} polls 5 s apart per condition; what-if and report: a {hours:g} h session, one check every 5 s, "
        "written through the live path with the real retention"
    ]
    figures: list[Figure] = []
    cases = {
        "plain_poll_us": ('{id: c, check: k, when: "> 1%", for: 1m}', 0.0),
        "baseline_open_poll_us": ('{id: c, check: k, when: "> 2x baseline", baseline: {from: T-3h, to: T-0}}', polls * 5.0),
        "baseline_closed_poll_us": ('{id: c, check: k, when: "> 2x baseline", baseline: {from: T-30m, to: T-0}}', 1800.0),
        "mann_whitney_poll_us": ('{id: c, check: k, when: "> 2x baseline", baseline: {from: T-30m, to: T-0}, '
                                 "judge: mann_whitney, window: 5m}", 1800.0),
    }  # fmt: skip
    labels = {
        "plain_poll_us": "a threshold condition: one poll, p50",
        "baseline_open_poll_us": "relative to a baseline whose window is open: one poll, p50",
        "baseline_closed_poll_us": "relative to a closed baseline (median): one poll, p50",
        "mann_whitney_poll_us": "Mann–Whitney (5 min window vs 360 baseline readings): one poll, p50",
    }
    for key, (condition, t0_after) in cases.items():
        costs = poll_cost(condition, polls, t0_after=t0_after)
        figures.append(Figure(key, labels[key], percentile(costs, 50), "µs"))

    from cutover_tui.report import build_report
    from cutover_tui.whatif import what_if

    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "long.cutover.db"
        total = long_session(db, hours)
        started = time.perf_counter()
        results = what_if(db, ["plain: > 2% for 2m"])
        elapsed = time.perf_counter() - started
        figures.append(Figure("what_if_seconds", f"what-if over {hours:g} h ({total} polls)", elapsed, "s"))
        figures.append(Figure("what_if_polls_per_second", "what-if: polls re-evaluated per second (both runs)",
                              2 * total / elapsed if elapsed else None, "/s"))  # fmt: skip
        notes.append(f"what-if: {results[0].readings} stored readings, {results[0].rebuilt} polls rebuilt between them")
        started = time.perf_counter()
        build_report(db)
        figures.append(Figure("report_seconds", "report of that session", time.perf_counter() - started, "s"))
        started = time.perf_counter()
        build_report(db, what_if=["plain: > 2% for 2m"])
        figures.append(Figure("report_what_if_seconds", "report with one --what-if", time.perf_counter() - started, "s"))
    return Result(figures, notes, {})


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    print(run("--quick" in sys.argv))
