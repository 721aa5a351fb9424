"""Stop conditions relative to the pre-T0 baseline: the grammar, the honest gaps, the log as the baseline's source."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from checks.baseline import Baseline, BaselineSample, BaselineTracker, compare_median
from checks.clock import ManualClock
from checks.conditions import ConditionEvaluator
from checks.reading import Outcome, Reading
from checks.status import ConditionState
from cutover_tui.store import SessionLog
from runbooks import RunbookError, parse_runbook
from runbooks.grammar import parse_relative, parse_threshold
from runbooks.model import BaselineWindow, Check, PromqlSpec, StopCondition
from scripted_session import START, ScriptedSession

ROOT = Path(__file__).resolve().parents[2]

RUNBOOK = """\
name: Baseline session
roles: {cto: CTO}
checks:
  auth_error_ratio: {scrape: "http://127.0.0.1:9/metrics", metric: auth_error_ratio, unit: "%", every: 2s, timeout: 1s, pass_when: "< 1%"}
stop_conditions:
  - id: auth_vs_baseline
    check: auth_error_ratio
    when: "> 2x baseline"
    baseline: {from: T-30s, to: T-0, min_samples: 10}
    floor: "> 0.5%"
    for: 10s
    action: rollback
    decides: cto
"""


def condition(
    when: str = "> 2x baseline", *, floor: str | None = "> 0.5%", min_samples: int = 5, **extra
) -> StopCondition:
    return StopCondition(
        id="c", check="k", when=None, relative=parse_relative(when), baseline=BaselineWindow(-60.0, 0.0, min_samples),
        floor=parse_threshold(floor) if floor else None, **extra,
    )  # fmt: skip


class Evaluated:
    """An evaluator relative to a baseline, T0 a minute after the start, and readings every 10 s."""

    def __init__(self, cond: StopCondition | None = None) -> None:
        self.clock = ManualClock()
        self.check = Check(
            id="k", kind="promql", spec=PromqlSpec(query="k", source="prometheus"), every=10.0, timeout=5.0, unit="%"
        )
        self.evaluator = ConditionEvaluator(cond or condition(), self.check, self.clock)
        self.evaluator.set_t0(self.clock.now() + timedelta(seconds=60))

    def poll(self, value: float | None, outcome: Outcome = Outcome.PASS, detail: str = ""):
        reading = Reading("k", outcome, value, "%", 0.01, self.clock.now(), self.clock.monotonic(), detail)
        status = self.evaluator.observe(reading)
        self.clock.advance(10)
        return status


# ----------------------------------------------------------------- grammar


@pytest.mark.parametrize(
    ("text", "op", "factor"),
    [
        ("> 2x baseline", ">", 2.0),
        (">= 1.5x baseline", ">=", 1.5),
        ("< 0.5x baseline", "<", 0.5),
        ("<=0.8×Baseline", "<=", 0.8),
    ],
)
def test_relative_thresholds_parse(text: str, op: str, factor: float) -> None:
    """`> 2x baseline`, `>= 1.5x`, `< 0.5x`: an operator and a positive factor of the baseline."""
    relative = parse_relative(text)
    assert (relative.op, relative.factor) == (op, factor)
    assert relative.against(0.002).holds(0.0041) is (op.startswith(">"))


@pytest.mark.parametrize("text", ["== 2x baseline", "> 0x baseline", "> -1x baseline", "> 2 baseline", "> 2x"])
def test_bad_relative_thresholds_are_refused(text: str) -> None:
    """Equality, a zero or negative factor and a missing `x` are errors a person can act on."""
    with pytest.raises(ValueError):
        parse_relative(text)


def test_a_runbook_with_a_baseline_condition_loads_typed() -> None:
    """The issue's example loads: relative comparison, window, floor, for, action."""
    loaded = parse_runbook(RUNBOOK).stop_conditions[0]
    assert loaded.relative == parse_relative("> 2x baseline") and loaded.when is None
    assert loaded.baseline == BaselineWindow(-30.0, 0.0, 10)
    assert loaded.floor == parse_threshold("> 0.5%") and loaded.threshold_text == "> 2x baseline"


@pytest.mark.parametrize(
    ("change", "message", "key_path"),
    [
        ("    baseline: {from: T-30s, to: T-0, min_samples: 10}\n", None, None),
        (
            '    when: "> 1%"\n    baseline: {from: T-30s, to: T-0}\n',
            "'baseline' applies to a stop condition whose 'when' is relative",
            "stop_conditions[0].baseline",
        ),
        ("", "needs the window the baseline is taken from", "stop_conditions[0]"),
        ("    baseline: {from: T-0, to: T-30s}\n", "ends before it starts", "stop_conditions[0].baseline.to"),
        (
            "    baseline: {from: T-30s, to: T-0}\n    window: 5m\n",
            "'window' applies to judge: mann_whitney",
            "stop_conditions[0].window",
        ),
        ("    baseline: {from: T-30s, to: T-0}\n    judge: mann_whitney\n", "say how long", "stop_conditions[0].judge"),
    ],
)
def test_baseline_keys_are_checked_where_they_are(change: str, message: str | None, key_path: str | None) -> None:
    """Each key of a baseline condition needs the others it goes with; errors name the key path."""
    when = '    when: "> 2x baseline"\n' if "when" not in change else ""
    text = (
        'name: x\nchecks:\n  k: {promql: up}\nsources:\n  prometheus: {url: "http://127.0.0.1:9090"}\n'
        f"stop_conditions:\n  - id: c\n    check: k\n{when}{change}"
    )
    if message is None:
        assert parse_runbook(text).stop_conditions[0].baseline is not None
        return
    with pytest.raises(RunbookError) as raised:
        parse_runbook(text)
    assert message in str(raised.value) and raised.value.key_path == key_path


def test_approvers_belong_to_approval_steps() -> None:
    """`approvers: 2` on an approval step is two people; on a task it is an error naming the key."""
    ok = parse_runbook("name: x\nsteps:\n  - {title: Approve, kind: approval, phrase: GO, approvers: 2}\n")
    assert ok.steps[0].approvers == 2
    with pytest.raises(RunbookError) as raised:
        parse_runbook("name: x\nsteps:\n  - {title: Deploy, approvers: 2}\n")
    assert raised.value.key_path == "steps[0].approvers"


# ----------------------------------------------------------------- honest gaps


def test_before_min_samples_the_condition_is_unknown_baseline_not_established() -> None:
    """Four readings of five: unknown, saying how many; the fifth establishes the baseline, and the value is judged."""
    run = Evaluated()
    for n in range(1, 5):
        status = run.poll(0.002)
        assert status.state is ConditionState.UNKNOWN
        assert status.reason == f"baseline not established: {n} of 5 readings T-1m to T-0"
        assert status.cause == "no_baseline"
    status = run.poll(0.002)
    assert status.state is ConditionState.OK and status.baseline.established and status.baseline.median == 0.002


def test_nodata_invalid_and_error_readings_are_no_baseline() -> None:
    """Six readings without a usable value make no baseline however many there are; they are counted as left out."""
    run = Evaluated()
    for outcome in (Outcome.NODATA, Outcome.INVALID, Outcome.NODATA, Outcome.INVALID, Outcome.NODATA, Outcome.INVALID):
        run.poll(None, outcome, "empty vector")
    status = run.poll(0.002)
    assert status.state is ConditionState.UNKNOWN
    assert (
        "baseline not established: 1 of 5 readings" in status.reason
        and "6 without a usable value left out" in status.reason
    )


def test_without_t0_the_window_cannot_be_placed() -> None:
    """No T0: unknown, saying so (a baseline is never taken from anywhere else)."""
    run = Evaluated()
    run.evaluator.set_t0(None)
    status = run.poll(0.002)
    assert status.state is ConditionState.UNKNOWN and status.reason == "baseline not established: T0 is not set"


def test_a_zero_baseline_with_a_value_above_the_floor_is_a_breach() -> None:
    """A baseline of 0: a value above the floor breaches `> 2x baseline` (no division), one below it does not."""
    run = Evaluated(condition(for_=0.0))
    for _ in range(5):
        status = run.poll(0.0)
    assert status.state is ConditionState.OK and status.baseline.median == 0.0
    above = run.poll(0.006)
    assert above.state is ConditionState.FIRING
    assert above.reason.startswith("0.6% against a baseline of 0 > 2x baseline")
    assert above.comparison.ratio == float("inf")
    below = run.poll(0.004)
    assert below.state is ConditionState.OK and "but not > 0.5% (floor)" in below.reason


def test_the_floor_and_the_ratio_must_both_hold() -> None:
    """3x a 0.1% baseline is 0.3%: above 2x, below the 0.5% floor: no breach; 0.6% is both."""
    window = Baseline(0.001, (0.001,) * 10, 10, 0, 10, START, START, START, True)
    relative, floor = parse_relative("> 2x baseline"), parse_threshold("> 0.5%")
    assert compare_median(relative, floor, 0.003, window, "%").breach is False
    assert compare_median(relative, floor, 0.006, window, "%").breach is True
    assert compare_median(relative, None, 0.003, window, "%").detail == "0.3% = 3x baseline 0.1% > 2x baseline"


def test_a_throughput_drop_breaches_below_half_the_baseline() -> None:
    """`< 0.5x baseline`: 40 req/s against a baseline of 100 breaches; 60 does not."""
    run = Evaluated(condition("< 0.5x baseline", floor=None))
    for _ in range(6):
        run.poll(100.0)
    assert run.poll(40.0).state is ConditionState.FIRING
    assert run.poll(60.0).state is ConditionState.OK


def test_the_baseline_window_closes_at_its_end() -> None:
    """Readings after the window's end do not move the baseline: a spike after T0 is judged against the calm before it."""
    run = Evaluated(condition(for_=0.0))
    for _ in range(8):  # T-60s .. T+10s
        run.poll(0.002)
    for _ in range(5):
        status = run.poll(0.02)
    assert status.baseline.median == 0.002 and status.baseline.complete and status.baseline.usable == 7
    assert status.state is ConditionState.FIRING


def test_tracker_keeps_only_readings_inside_its_window() -> None:
    """With T0 placed, a reading outside the window is not kept; before T0, every reading is."""
    tracker = BaselineTracker(BaselineWindow(-60.0, 0.0, 1))
    tracker.add(BaselineSample(START - timedelta(hours=1), "pass", 1.0))
    tracker.t0 = START
    tracker.add(BaselineSample(START + timedelta(seconds=5), "pass", 9.0))
    tracker.add(BaselineSample(START - timedelta(seconds=5), "pass", 2.0))
    assert [s.value for s in tracker.samples()] == [2.0]
    assert tracker.current(START + timedelta(seconds=10)).median == 2.0


def test_importing_the_judges_does_not_import_scipy() -> None:
    """scipy is imported only when a Mann–Whitney condition is judged, never by loading the evaluator."""
    code = "import sys, checks.baseline, checks.conditions, cutover_tui.report; print('scipy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"


# ----------------------------------------------------------------- from the session log


def test_the_baseline_comes_from_the_session_log_and_every_reading_of_its_window_is_stored(tmp_path: Path) -> None:
    """A flat pre-T0 series is stored whole inside the window (retention would keep one tick); the change names them."""
    session = ScriptedSession(tmp_path / "s.cutover.db", RUNBOOK, t0_in=60)
    session.poll("auth_error_ratio", 0.002, until=80)
    session.poll("auth_error_ratio", 0.02, until=100)
    session.close()
    with SessionLog.open_readonly(tmp_path / "s.cutover.db") as log:
        window = [
            t
            for t in log.ticks(check="auth_error_ratio")
            if START + timedelta(seconds=30) <= t.ts <= START + timedelta(seconds=60)
        ]
        outside = [
            t
            for t in log.ticks(check="auth_error_ratio")
            if START + timedelta(seconds=62) <= t.ts <= START + timedelta(seconds=80)
        ]
        changes = [e.payload for e in log.events() if e.kind == "condition_changed"]
    assert len(window) == 16 and len(outside) <= 1  # every 2 s inside T-30s..T-0; retention as usual after it
    firing = next(p for p in changes if p["state"] == "firing")
    assert firing["baseline"]["median"] == 0.002 and firing["baseline"]["usable"] == 16
    assert firing["baseline"]["ticks"] == [window[0].id, window[-1].id]
    assert "median 0.2% of 16 readings T-30s to T-0 (session log, ticks" in firing["baseline"]["text"]
    assert firing["judged"]["ratio"] == pytest.approx(10.0)
    assert firing["ticks"] and firing["ticks"][-1] > window[-1].id  # the readings that made it fire, by id


def test_a_resumed_session_takes_its_baseline_from_the_stored_readings(tmp_path: Path) -> None:
    """Fresh evaluators seeded from the log (as on resume) hold the same baseline the live one computed."""
    db = tmp_path / "s.cutover.db"
    session = ScriptedSession(db, RUNBOOK, t0_in=60)
    session.poll("auth_error_ratio", None, until=70, values=lambda t: 0.001 + t / 100_000)
    live = session.evaluators["auth_vs_baseline"].status.baseline
    session.close()
    from cutover_tui.baselines import BaselineSupplier

    runbook = parse_runbook(RUNBOOK)
    clock = ManualClock(START + timedelta(seconds=75))
    fresh = {c.id: ConditionEvaluator(c, runbook.checks[c.check], clock) for c in runbook.stop_conditions}
    with SessionLog.open_readonly(db) as log:
        BaselineSupplier(runbook, fresh, ctx=None, log=log, seen_from=START).start(session.t0, log.events())
    resumed = fresh["auth_vs_baseline"].baseline_tracker.current(clock.now())
    assert (resumed.median, resumed.usable, resumed.values) == (live.median, live.usable, live.values)
    assert resumed.ticks is not None


def test_a_runbook_needing_scipy_without_it_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    """`check` and `run` on a Mann–Whitney runbook where scipy cannot be imported exit 2 naming the package; validate warns."""
    runbook = tmp_path / "mw.yaml"
    runbook.write_text(
        textwrap.dedent("""\
        name: MW
        checks:
          k: {http: "http://127.0.0.1:9/health"}
        stop_conditions:
          - {id: c, check: k, when: "> 2x baseline", baseline: {from: T-30m, to: T-0}, judge: mann_whitney, window: 5m}
        """)
    )
    blocked = "import sys; sys.modules['scipy'] = None; from cutover_tui.cli import main; sys.exit(main(sys.argv[1:]))"
    check = subprocess.run(
        [sys.executable, "-c", blocked, "check", str(runbook)], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert check.returncode == 2
    assert "needs the Python package scipy" in check.stderr and "Traceback" not in check.stderr
    run = subprocess.run([sys.executable, "-c", blocked, "run", str(runbook), "--db", str(tmp_path / "x.db")],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)  # fmt: skip
    assert run.returncode == 2 and "needs the Python package scipy" in run.stderr and not (tmp_path / "x.db").exists()
    validate = subprocess.run(
        [sys.executable, "-c", blocked, "validate", str(runbook)], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert "warning: judge: mann_whitney needs the Python package scipy" in validate.stdout + validate.stderr


async def test_a_failed_fetch_from_prometheus_is_named_never_counted(tmp_path: Path) -> None:
    """Prometheus unreachable: the condition stays unknown and its reason says the fetch failed; nothing is seeded."""
    import socket

    from checks.clock import SystemClock
    from checks.probes import ProbeContext
    from cutover_tui.baselines import BaselineSupplier

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: connections are refused
    runbook = parse_runbook(
        f'name: x\nsources:\n  prometheus: {{url: "http://127.0.0.1:{port}"}}\nchecks:\n  k: {{promql: up, every: 1s, timeout: 500ms}}\n'
        'stop_conditions:\n  - {id: c, check: k, when: "> 2x baseline", baseline: {from: T-30m, to: T-0, min_samples: 3}}\n'
    )
    clock = SystemClock()
    evaluators = {"c": ConditionEvaluator(runbook.stop_conditions[0], runbook.checks["k"], clock)}
    ctx = ProbeContext(runbook)
    supplier = BaselineSupplier(runbook, evaluators, ctx=ctx, seen_from=clock.now())
    try:
        supplier.start(clock.now())
        for _ in range(100):
            if supplier.problems:
                break
            await asyncio.sleep(0.05)
    finally:
        await supplier.stop()
        await ctx.aclose()
    reading = Reading("k", Outcome.PASS, 1.0, "", 0.01, clock.now(), clock.monotonic())
    status = evaluators["c"].observe(reading)
    assert status.state is ConditionState.UNKNOWN
    assert "baseline not established: 0 of 3 readings T-30m to T-0" in status.reason
    assert "reading the baseline from Prometheus failed: cannot connect" in status.reason
