"""What if? The recorded readings re-evaluated with a changed condition equal a live run with that condition."""

from __future__ import annotations

import random
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest

from checks.clock import ManualClock
from checks.conditions import ConditionEvaluator
from cutover_tui.cli import main
from cutover_tui.report import build_report, render
from cutover_tui.whatif import rebuild_polls, what_if
from runbooks import parse_runbook
from runbooks.what_if import parse_what_if
from scripted_session import START, ScriptedSession

RUNBOOK = """\
name: What-if session
roles: {cto: CTO}
checks:
  auth_error_ratio: {scrape: "http://127.0.0.1:9/metrics", metric: auth_error_ratio, unit: "%", every: 2s, timeout: 1s, pass_when: "< 1%"}
stop_conditions:
  - {id: auth_errors, check: auth_error_ratio, when: "> 1%", for: 1m, keep_firing_for: 20s, action: rollback, decides: cto}
  - id: auth_vs_baseline
    check: auth_error_ratio
    when: "> 2x baseline"
    baseline: {from: T-30s, to: T-0, min_samples: 10}
    floor: "> 0.5%"
    for: 30s
    action: rollback
    decides: cto
steps:
  - {id: deploy, title: Production deploy, at: T-0}
  - {id: verify, title: Production verification, at: T+2m}
"""


def scripted(path: Path) -> ScriptedSession:
    """Calm with jitter, a deploy, a 4% spike with jitter from T+2m for 2m50s, a ROLLBACK decision, calm again."""
    rnd = random.Random(7)
    session = ScriptedSession(path, RUNBOOK, t0_in=40, latency=0.05)
    session.poll("auth_error_ratio", None, until=40, values=lambda t: 0.002 + rnd.uniform(-1e-4, 1e-4))
    session.append("step_started", {"step": "deploy"})
    session.poll("auth_error_ratio", None, until=158, values=lambda t: 0.002 + rnd.uniform(-1e-4, 1e-4))
    session.append("step_started", {"step": "verify"})
    session.poll("auth_error_ratio", None, until=330, values=lambda t: 0.04 + rnd.uniform(-2e-3, 2e-3))
    session.append("decision", {"decision": "rollback", "reason": "auth errors", "conditions": {}, "decided_by": "cto"})
    session.poll("auth_error_ratio", None, until=480, values=lambda t: 0.002 + rnd.uniform(-1e-4, 1e-4))
    session.close()
    return session


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> ScriptedSession:
    return scripted(tmp_path_factory.mktemp("whatif") / "s.cutover.db")


def live_run(session: ScriptedSession, spec: str) -> list[tuple[str, object]]:
    """The changed condition evaluated live: a fresh evaluator fed every reading the session polled, as it polled them."""
    condition = parse_what_if(spec).apply(session.runbook)
    check = session.runbook.checks[condition.check]
    clock = ManualClock(START)
    evaluator = ConditionEvaluator(condition, check, clock)
    evaluator.set_t0(session.t0)
    changes, state = [], evaluator.status.state
    for reading in session.readings:
        clock.advance((reading.observed_at - clock.now()).total_seconds())
        status = evaluator.observe(
            replace(reading, monotonic=clock.monotonic()), due=clock.monotonic() - reading.latency
        )
        if status.state is not state:
            changes.append((status.state.value, reading.observed_at))
            state = status.state
    return changes


@pytest.mark.parametrize(
    "spec",
    ["auth_errors: > 2% for 2m", "auth_errors: > 3% for 30s keep_firing_for 1m", "auth_errors: for 10s",
     "auth_vs_baseline: > 5x baseline for 1m", "auth_vs_baseline: > 2x baseline floor > 5%"],
)  # fmt: skip
def test_what_if_equals_a_live_run_with_the_changed_condition_on_the_same_readings(
    session: ScriptedSession, spec: str
) -> None:
    """Every transition of the what-if (state and time) is the one a live evaluator with that condition made."""
    results = what_if(session.log.path, [spec])
    assert [(t.state.value, t.at) for t in results[0].transitions] == live_run(session, spec)


def test_the_runbooks_own_condition_reproduces_the_log(session: ScriptedSession) -> None:
    """Re-evaluated unchanged, the stored readings (with the polls rebuilt between them) give the log's changes."""
    result = what_if(session.log.path, ["auth_errors: for 1m"])[0]
    assert [(t.state, t.at) for t in result.replayed] == [(t.state, t.at) for t in result.happened]
    assert result.faithful().startswith("Re-evaluated with the runbook's own condition (> 1% for 1m), the ")
    assert result.rebuilt > result.readings  # most polls were not stored: retention kept changes and keyframes


def test_the_runbooks_own_condition_reproduces_the_log_when_polls_start_late_by_different_amounts(
    tmp_path: Path,
) -> None:
    """On a loaded machine each poll starts some tens of milliseconds after it was due, a little less or more each
    time, and the log keeps when a poll answered and how long its request took, not that delay. Rebuilt from the
    log, the poll that fired live held 59.997 s of a 1-minute hold (its delay 3 ms shorter than the first breach's),
    and the re-evaluation fired a poll later: "4 of the log's 5 changes" in a loaded demo's report. A hold that falls
    short by less than the delays the log cannot tell is met, as it was live."""
    session = ScriptedSession(tmp_path / "late.cutover.db", RUNBOOK, t0_in=40, latency=0.004,
                              delay=lambda t: 0.040 - t * 5e-5)  # fmt: skip
    session.poll("auth_error_ratio", 0.002, until=158)
    session.poll("auth_error_ratio", 0.04, until=260)
    session.poll("auth_error_ratio", 0.002, until=330)
    session.close()
    result = what_if(session.log.path, ["auth_errors: for 1m"])[0]
    assert [t.state.value for t in result.happened] == ["ok", "pending", "firing", "recovering", "ok"]
    assert [(t.state, t.at) for t in result.replayed] == [(t.state, t.at) for t in result.happened]


def test_the_summary_says_when_it_would_have_fired_and_when_the_decision_came(session: ScriptedSession) -> None:
    """'with > 2% for 2m, auth_errors would have fired at T+4m2s (1m later); the ROLLBACK decision came at T+4m50s'."""
    result = what_if(session.log.path, ["auth_errors: > 2% for 2m"])[0]
    assert result.summary() == (
        "with > 2% for 2m, auth_errors would have fired at T+4m (1m later); the ROLLBACK decision came at T+4m50s"
    )
    never = what_if(session.log.path, ["auth_errors: > 5%"])[0]
    assert never.summary().startswith("with > 5%, auth_errors would not have fired (it fired at T+3m)")


def test_polls_between_stored_ticks_are_rebuilt_at_the_checks_interval(session: ScriptedSession) -> None:
    """Between two stored ticks the held value is repeated every `every` from the tick's due instant, never into a gap."""
    check = session.runbook.checks["auth_error_ratio"]
    from cutover_tui.store import SessionLog

    with SessionLog.open_readonly(session.log.path) as log:
        ticks = list(log.ticks(check="auth_error_ratio"))
    polls = list(rebuild_polls(check, ticks, until=session.readings[-1].observed_at))
    gaps = {round((b[0].observed_at - a[0].observed_at).total_seconds(), 3) for a, b in pairwise(polls)}
    assert gaps == {2.0} and len(polls) == len(session.readings)


def test_report_what_if_adds_a_section(session: ScriptedSession) -> None:
    """`report --what-if` says what would have happened beside what did, with the timeline of the change."""
    text = render(build_report(session.log.path, what_if=["auth_errors: > 2% for 2m"]), "md")
    section = text[text.index("## What if") :]
    assert "### auth_errors: > 2% for 2m" in section
    assert (
        "- With > 2% for 2m, auth_errors would have fired at T+4m (1m later); the ROLLBACK decision came at T+4m50s."
        in section
    )
    assert "- T+4m firing: " in section


@pytest.mark.parametrize(
    ("spec", "message"),
    [("auth_errors > 2%", "expected CONDITION: CHANGES"), ("nope: > 2%", "no stop condition 'nope'"),
     ("auth_errors: > 2 parsecs", "unknown unit"), ("auth_errors: > 2x baseline", "needs a window")],
)  # fmt: skip
def test_a_bad_what_if_is_one_line_and_exit_2(
    session: ScriptedSession, spec: str, message: str, capsys, tmp_path: Path
) -> None:
    """A what-if that does not parse or names nothing: `report` and `replay` say why in one line and exit 2."""
    for command in (["report", str(session.log.path), "-o", str(tmp_path / "r.md")], ["replay", str(session.log.path)]):
        assert main([*command, "--what-if", spec]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_what_if_runbook_keeps_what_it_does_not_name() -> None:
    """Only the named fields change: `for 10s` keeps the threshold, the action and who decides."""
    runbook = parse_runbook(RUNBOOK)
    changed = parse_what_if("auth_errors: for 10s").apply(runbook)
    assert changed == replace(runbook.condition("auth_errors"), for_=10.0)


async def test_replay_with_what_if_shows_the_transitions_in_the_log_pane_and_the_timeline(
    session: ScriptedSession,
) -> None:
    """`replay --what-if`: at the end, the log pane holds 'what if' lines at their instants and the bar marks the firing."""
    from cutover_tui.app import make_app
    from cutover_tui.whatif import make_replay_backend

    results = what_if(session.log.path, ["auth_errors: > 2% for 2m"])
    backend = make_replay_backend(session.log.path, session.runbook, results)
    assert ("what_if_firing" in {kind for _, kind in backend.marks()}) and "WHAT IF > 2% for 2m" in backend.view_label
    app = make_app(backend)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("end")
        await pilot.pause()
        lines = [line for line in app.session.log if line.kind == "what_if"]
        assert [line.text.split(" (")[0] for line in lines] == [
            "what if > 2% for 2m: auth_errors ok", "what if > 2% for 2m: auth_errors pending",
            "what if > 2% for 2m: auth_errors firing", "what if > 2% for 2m: auth_errors recovering",
            "what if > 2% for 2m: auth_errors ok",
        ]  # fmt: skip
        firing = next(line for line in lines if "firing" in line.text)
        assert firing.ts == results[0].first(results[0].transitions[2].state).at
        await pilot.press("home")
        await pilot.pause()
        assert not any(line.kind == "what_if" and line.ts > app.session.now for line in app.session.log)
