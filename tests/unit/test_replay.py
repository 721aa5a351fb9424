"""Replay: seeking shows what the live dashboard showed at that instant, on logs of either on-disk format."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import sqlite3
import tempfile
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.clock import ManualClock
from checks.reading import Outcome, Reading
from checks.status import ConditionState, ConditionStatus
from crash_writer import T0, make_runbook
from cutover_tui.commands.app_cmds import runbook_from_log
from cutover_tui.live import FollowBackend
from cutover_tui.reducer import Reducer, reduce_events
from cutover_tui.replay import CHECKPOINT_EVERY, ReplayBackend
from cutover_tui.store import SCHEMA_VERSION, EventRecord, SessionLog

RUNBOOK = make_runbook()
OLD_LOG = Path(__file__).parents[1] / "old_logs" / "schema1.cutover.db"
OUTCOMES = (Outcome.PASS, Outcome.PASS, Outcome.PASS, Outcome.BREACH, Outcome.ERROR, Outcome.NODATA)
_STATES = st.sampled_from([s.value for s in ConditionState])


@st.composite
def written_session(draw: st.DrawFn) -> list[tuple[float, str, Any]]:
    """A session as it is written: events and readings at rising instants (seconds after T0).

    Some readings come faster than their check's ``every`` (a sparkline then
    holds more ticks than the reducer keeps) and some checks fall silent for
    longer than a keyframe (the sparkline shows a gap).
    """
    script: list[tuple[float, str, Any]] = []
    seconds = -30.0
    for _ in range(draw(st.integers(1, 25))):
        seconds += draw(st.floats(0.2, 200))
        kind = draw(st.sampled_from(["readings", "readings", "readings", "event", "condition", "decision"]))
        if kind == "readings":
            check = draw(st.sampled_from(["auth_error_ratio", "api_health", "critical_alerts"]))
            step = draw(st.sampled_from([0.5, 1.0, 5.0, 15.0]))
            # The block's readings come from a seeded generator, not one draw each: the same readings
            # (values or none, outcomes, alerts), a tenth of the time hypothesis takes to draw them.
            chance = random.Random(draw(st.integers(0, 2**32)))
            for n in range(draw(st.integers(1, 90))):
                value = None if chance.random() < 0.5 else chance.choice((0.0, 0.05, chance.uniform(0, 0.05)))
                extra = {"active": [{"name": "A"}] * chance.randint(0, 1)} if check == "critical_alerts" else {}
                script.append((seconds + n * step, "reading", (check, chance.choice(OUTCOMES), value, extra)))
            seconds += 90 * step
        elif kind == "event":
            step = draw(st.sampled_from(["deploy", "smoke", "go_no_go"]))
            verb = draw(st.sampled_from(["step_started", "step_completed", "step_failed", "note", "item_checked"]))
            script.append(
                (seconds, "event", (verb, {"step": step, "reason": "r", "gate": {}, "text": "t", "item": "helm"}))
            )
        elif kind == "condition":
            condition = draw(st.sampled_from(["auth_errors", "api_down"]))
            payload = {"condition": condition, "state": draw(_STATES), "previous": "ok", "value": 0.02,
                       "threshold": "> 1%", "reason": "2% > 1%", "breach_held": 30.0, "flapping": False}  # fmt: skip
            script.append((seconds, "event", ("condition_changed", payload)))
        else:
            script.append((seconds, "event", ("decision", {"decision": "hold", "reason": "x", "conditions": {}})))
    return script


def write(path: Path, script: list[tuple[float, str, Any]]) -> None:
    """Write ``script`` through the real log: events appended, readings kept by the real retention."""
    clock = ManualClock(T0 - timedelta(minutes=1))
    with SessionLog.create(path, RUNBOOK, operator="alice", clock=clock) as log:
        for seconds, kind, what in sorted(script, key=lambda row: row[0]):
            at = T0 + timedelta(seconds=seconds)
            if kind == "event":
                clock.jump_wall(max(0.0, (at - clock.now()).total_seconds()))
                log.append(what[0], what[1])
            else:
                check, outcome, value, extra = what
                state = ConditionState.FIRING if outcome is Outcome.BREACH else ConditionState.OK
                statuses = (
                    [ConditionStatus("auth_errors", state, value, "> 1%", at)] if check == "auth_error_ratio" else []
                )
                log.record_reading(Reading(check, outcome, value, "%", 0.01, at, seconds, extra=extra), statuses)


@settings(max_examples=40, deadline=None)
@given(written_session(), st.lists(st.floats(-0.1, 1.1), min_size=1, max_size=8))
def test_seeking_to_any_instant_equals_folding_the_log_from_scratch(
    script: list[tuple[float, str, Any]], where: list[float]
) -> None:
    """A seek to a random instant equals reduce_events over every event and every stored tick up to it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.cutover.db"
        write(path, script)
        with SessionLog.open_readonly(path) as log:
            events, ticks = log.events(), list(log.ticks())
        replay = ReplayBackend(path, RUNBOOK)
        try:
            span = (replay.end_at - replay.start_at).total_seconds()
            for fraction in where:
                state = replay.seek(replay.start_at + timedelta(seconds=span * fraction))
                assert state == reduce_events(RUNBOOK, events, ticks, until=replay.position), replay.position
        finally:
            asyncio.run(replay.stop())


@settings(max_examples=25, deadline=None)
@given(written_session(), st.floats(-0.1, 1.1), st.randoms(use_true_random=False))
def test_views_looked_at_one_by_one_equal_the_fold_from_scratch(
    script: list[tuple[float, str, Any]], where: float, chance: Any
) -> None:
    """After a seek, each view read alone (its ticks read when it is looked at, in any order) equals the full fold's."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.cutover.db"
        write(path, script)
        with SessionLog.open_readonly(path) as log:
            events, ticks = log.events(), list(log.ticks())
        replay = ReplayBackend(path, RUNBOOK)
        try:
            state = replay.seek(
                replay.start_at + timedelta(seconds=(replay.end_at - replay.start_at).total_seconds() * where)
            )
            expected = reduce_events(RUNBOOK, events, ticks, until=replay.position)
            looks = [("conditions", c) for c in RUNBOOK.stop_conditions] + [("checks", c) for c in RUNBOOK.checks]
            chance.shuffle(looks)
            for part, item in looks:
                key = item if isinstance(item, str) else item.id
                view = getattr(state, part)[key]
                if part == "conditions":
                    assert tuple(view.history) == tuple(expected.conditions[key].history), key
                assert view == getattr(expected, part)[key], key
            assert list(state.at_risk) == list(expected.at_risk) and state.banners == expected.banners
        finally:
            asyncio.run(replay.stop())


def test_a_seek_reads_the_ticks_of_what_is_looked_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A seek reads no sparkline window until a condition's sparkline is read, then its check's window alone."""
    path = tmp_path / "s.cutover.db"
    script = [(n * 5.0, "reading", ("auth_error_ratio", Outcome.PASS, 0.001 * (n % 30), {})) for n in range(200)]
    script += [(n * 5.0 + 1, "reading", ("api_health", Outcome.PASS, 0.02, {})) for n in range(200)]
    write(path, script)
    replay = ReplayBackend(path, RUNBOOK)
    asked: list[tuple[list[str], list[str]]] = []
    read = SessionLog.seek_ticks

    def counting(log: SessionLog, until: datetime, windows: dict[str, datetime], *, checks: Any) -> Any:
        asked.append((sorted(checks), sorted(windows)))
        return read(log, until, windows, checks=checks)

    monkeypatch.setattr(SessionLog, "seek_ticks", counting)
    try:
        state = replay.seek(T0 + timedelta(seconds=700))
        assert all(not windows for _, windows in asked)  # the verdict, banners and steps read latest ticks at most
        assert state.checks["api_health"].value == 0.02
        view = state.conditions["auth_errors"]
        assert not any(windows for _, windows in asked)  # the view alone: its value, not its sparkline
        assert len(view.history) == 60 and view.history[-1] == 0.001 * (140 % 30)
        assert asked[-1] == ([], ["auth_error_ratio"])
    finally:
        asyncio.run(replay.stop())


def test_seeking_across_checkpoints_leaves_them_as_they_were(tmp_path: Path) -> None:
    """Seeks back and forth over many checkpoints give the same state for the same instant every time."""
    script = [(float(n), "event", ("note", {"text": f"note {n}"})) for n in range(400)]
    assert 4 * CHECKPOINT_EVERY < 400
    script += [(n * 5.0, "reading", ("auth_error_ratio", Outcome.PASS, 0.001 * (n % 20), {})) for n in range(80)]
    path = tmp_path / "s.cutover.db"
    write(path, script)
    replay = ReplayBackend(path, RUNBOOK)
    instants = [replay.start_at + timedelta(seconds=s) for s in (250.0, 90.0, 330.0, 250.0, 10.0, 250.0)]
    states = [replay.seek(instant) for instant in instants]
    asyncio.run(replay.stop())
    assert states[0] == states[3] == states[5]
    assert [line.text for line in states[0].log][-1] == "note 190"


def test_a_checkpoint_is_not_changed_by_folding_after_it() -> None:
    """Reducer.from_checkpoint(checkpoint) then more events leaves the checkpoint, and a second resume, as they were."""
    reducer = Reducer(RUNBOOK)
    first = reducer.checkpoint()
    later = Reducer.from_checkpoint(RUNBOOK, first)
    start = T0
    for seq, (kind, payload) in enumerate([
        ("step_started", {"step": "deploy"}),
        ("item_checked", {"step": "deploy", "item": "helm", "checked": True}),
        ("evidence_added", {"step": "deploy", "text": "rev 42"}),
        ("condition_changed", {"condition": "auth_errors", "state": "firing", "value": 0.02, "breach_held": 60.0}),
        ("condition_acknowledged", {"condition": "auth_errors"}),
    ], start=1):  # fmt: skip
        later.apply(EventRecord(seq, start, kind, "alice", payload, "", ""))
    assert later.state(now=start).conditions["auth_errors"].acknowledged
    untouched = Reducer.from_checkpoint(RUNBOOK, first).state(now=start)
    assert untouched == Reducer(RUNBOOK).state(now=start)
    assert untouched.steps[1].items_checked == frozenset() and untouched.steps[1].evidence == ()


def test_seek_reads_the_latest_tick_of_every_check_and_the_windows_conditions_read(tmp_path: Path) -> None:
    """seek_ticks gives each check's latest tick, and of a condition's check its window and the tick before it."""
    path = tmp_path / "s.cutover.db"
    script = [(n * 5.0, "reading", ("auth_error_ratio", Outcome.PASS, 0.001 * (n % 30), {})) for n in range(200)]
    script += [
        (n * 5.0 + 1, "reading", ("critical_alerts", Outcome.PASS, float(n % 2), {"active": []})) for n in range(200)
    ]
    write(path, script)
    until = T0 + timedelta(seconds=700)
    with SessionLog.open_readonly(path) as log:
        every = list(log.ticks(until=until))
        read = log.seek_ticks(until, {"auth_error_ratio": until - timedelta(seconds=100)})
    ratio = [t for t in every if t.check_id == "auth_error_ratio"]
    window = [t for t in ratio if t.ts > until - timedelta(seconds=100)]
    before = [t for t in ratio if t.ts <= until - timedelta(seconds=100)][-1]
    alerts = [t for t in every if t.check_id == "critical_alerts"]
    assert sorted(read, key=lambda t: (t.check_id, t.ts)) == [before, *window, alerts[-1]]
    with SessionLog.open_readonly(path) as log:
        assert log.seek_ticks(until, checks=["critical_alerts", "no_such_check"]) == [alerts[-1]]
        assert log.seek_ticks(until, {"auth_error_ratio": until - timedelta(seconds=100)}, checks=[]) == [
            before,
            *window,
        ]
        assert log.seek_ticks(until, checks=[]) == []


# --------------------------------------------------------------- logs written in the first format


def test_a_schema_1_log_replays_follows_and_verifies(tmp_path: Path) -> None:
    """A log written by the first format: replay at any instant equals the full fold; follow and verify read it."""
    assert SCHEMA_VERSION > 1
    old = tmp_path / OLD_LOG.name
    shutil.copyfile(OLD_LOG, old)
    runbook = runbook_from_log(old)
    with SessionLog.open_readonly(old) as log:
        assert log.schema_version == 1
        events, ticks = log.events(), list(log.ticks())
        assert log.verify().ok and log.verify().ticks == 110
    assert len(ticks) == 110 and {t.check_id for t in ticks} == {"api_health", "auth_error_ratio", "critical_alerts"}
    replay = ReplayBackend(old, runbook)
    try:
        for minutes in (0, 5, 12, 13.5, 16, 19.9, 30):
            state = replay.seek(replay.start_at + timedelta(minutes=minutes))
            assert state == reduce_events(runbook, events, ticks, until=replay.position)
        firing = replay.seek(datetime.fromisoformat("2026-12-01T16:32:00+00:00"))
        assert firing.conditions["auth_errors"].state is ConditionState.FIRING
        assert firing.conditions["auth_errors"].history[-1] is not None
    finally:
        asyncio.run(replay.stop())
    follower = FollowBackend(old, runbook)
    assert follower.state().ended == "abandoned"


def test_a_schema_1_log_reports_as_the_code_that_wrote_it_reported(tmp_path: Path) -> None:
    """Every fact the code that wrote the first-format log reported is reported unchanged (newer reports only add)."""
    from cutover_tui.report import build_report, render_json

    old = tmp_path / OLD_LOG.name
    shutil.copyfile(OLD_LOG, old)
    report = build_report(old, generated_at=datetime.fromisoformat("2026-12-02T00:00:00+00:00"))
    then = json.loads((OLD_LOG.parent / "schema1.report.json").read_text())
    assert _changed(then, json.loads(render_json(report))) == []


def _changed(then: object, now: object, path: str = "") -> list[str]:
    """Where ``now`` lost or changed something ``then`` held (keys ``now`` adds are fine)."""
    if isinstance(then, dict) and isinstance(now, dict):
        return [
            p
            for k, v in then.items()
            for p in (_changed(v, now[k], f"{path}.{k}") if k in now else [f"{path}.{k} missing"])
        ]
    if isinstance(then, list) and isinstance(now, list) and len(then) == len(now):
        return [p for i, (a, b) in enumerate(zip(then, now, strict=True)) for p in _changed(a, b, f"{path}[{i}]")]
    return [] if then == now else [f"{path}: {then!r} became {now!r}"]


def test_a_resumed_schema_1_log_goes_on_in_its_own_format_and_verifies(tmp_path: Path) -> None:
    """Resuming a first-format log writes its new readings in that format: one file, one format, still verified."""
    old = tmp_path / OLD_LOG.name
    shutil.copyfile(OLD_LOG, old)
    runbook = runbook_from_log(old)
    clock = ManualClock(datetime.fromisoformat("2026-12-01T17:00:00+00:00"))
    with SessionLog.open(old, runbook, operator="bob", clock=clock) as log:
        for n in range(5):
            at = clock.now() + timedelta(seconds=5 * n)
            log.record_reading(Reading("auth_error_ratio", Outcome.PASS, 0.001 * (n + 1), "%", 0.01, at, n))
        log.append("note", {"text": "resumed"})
    with SessionLog.open_readonly(old) as log:
        result = log.verify()
        assert log.schema_version == 1 and result.ok and result.ticks == 115, result
        assert [t.value for t in log.ticks(check="auth_error_ratio")][-5:] == [0.001, 0.002, 0.003, 0.004, 0.005]
        with closing(sqlite3.connect(f"file:{old}?mode=ro", uri=True)) as db:
            assert (
                db.execute("SELECT ts FROM ticks ORDER BY id DESC LIMIT 1").fetchone()[0] == "2026-12-01T17:00:20.000Z"
            )
