"""Session log figures: append rate, tick rate, bytes per tick, 72-hour size, fidelity, fold and replay seek time.

Usage::

    python -m benchmarks log [--quick]          # in the benchmark table, against the goals
    python -m benchmarks.log_size [--quick]     # every figure, and retention settings to try (--keyframe ...)

What it does:

1. appends events durably (each committed with ``synchronous=FULL``) and
   reports events/s;
2. records readings that are all news (so every one is stored) and reports
   ticks/s through ``record_reading`` + the batched flush;
3. simulates polling every 5 s (72 h; quick: 1 h) for checks in the mix's
   proportions (40 checks; quick: 20) with realistic value series (below),
   through the real ``record_reading`` and ``RetentionPolicy``, flushing as
   the writer thread does each second at 1,000 checks (so each seal covers
   as many readings as it would live). It does so twice, in the log's format
   and in the first one (schema 1), and reports the share of readings kept,
   the bytes per stored tick (table + index + the check table, from the
   file's pages) and its seal's share of the ``events`` pages;
4. projects the file size, seals included, for 1,000 checks x 72 h x every 5 s;
5. replay fidelity: at every poll instant, the value replay shows (the last
   stored tick, read back from the file) against the value polled, as a
   share of the retention tolerance (100% at most when retention keeps its
   promise); and whether every stored reading reads back as written;
6. writes a synthetic 72-hour log of 1,000 checks (events spread over the
   72 hours, each check's ticks as dense as step 3 keeps them; quick: one
   tick per check every 3 hours, fewer events), then times folding it the
   way resume does (all events + each check's latest ticks) and seeking
   replay to random instants (``ReplayBackend.seek``: the nearest checkpoint,
   the events after it, the state derived with the ticks it reads from the
   index; then what the screen reads of that state, ``screen_reads``: the
   views of the banners, the alerts pane, the steps' markers, the header's
   countdown, and what the conditions pane reads: every condition ranked
   worst first, the cards on screen with their sparklines, ``pane_reads``,
   the pane's own plan, which the report shows apart as well). At
   each instant it first times the floor: one indexed SELECT of every check's
   latest tick at that instant (``FLOOR_SQL``), and it reports the seek's p99
   over the floor's p99, the seek's parts, and apart what deriving every view
   of the state costs;
7. times folding the simulated log's every tick.

The value series (seeded, so runs are comparable), one per check kind:

- http latency: ~25 ms, lognormal jitter (sigma 15%) every poll, a 4x spike
  in 0.5% of polls; ``max_latency: 500ms``;
- error ratio (promql): a 5m rate, so it moves only when Prometheus scrapes
  (every 15 s): diurnal 0.1-0.3%, AR(1) noise of 3% per scrape, an incident of
  2-4% for 20 minutes every 24 h; condition ``> 1%``;
- p99 latency (promql): diurnal 250-350 ms, 4% AR(1) noise per scrape; ``> 1s``;
- request rate (promql): diurnal 800-1600 req/s, 1% noise per scrape, no threshold;
- alerts: 0 active, one alert for 10 minutes every 12 h;
- health flag (http json_path): 1, constant.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks.common import Figure, Result, percentile
from checks.clock import ManualClock
from checks.reading import Outcome, Reading
from cutover_tui.reducer import Reducer, reduce_events
from cutover_tui.store import SCHEMA_VERSION, RetentionPolicy, SessionLog, TickRecord, _check_epsilons, from_ms, to_ms
from cutover_tui.widgets.condition_card import _keys
from cutover_tui.widgets.conditions_list import arranged, on_screen, ranks
from runbooks.loader import parse_runbook

HOURS = 72
EVERY = 5.0
PROJECTED_CHECKS = 1000
T0 = datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)
FIGURES = ("bytes_per_tick", "kept_percent", "mb_per_hour", "projected_72h_mb", "size_vs_schema1", "replay_fidelity",
           "events_per_s", "resume_fold_s", "replay_open_s", "seek_p50_ms", "seek_p99_ms", "floor_p99_ms",
           "seek_vs_floor")  # fmt: skip
#: Readings polled per second by 1,000 checks every 5 s: what one flush of the writer thread, one seal, covers.
SEAL_READINGS = round(PROJECTED_CHECKS / EVERY)
#: The unit each kind's probe reports.
UNITS = {"http_latency": "s", "error_ratio": "%", "p99_latency": "s", "request_rate": "req/s", "alerts": "count",
         "health_flag": ""}  # fmt: skip
KINDS = ("http_latency", "error_ratio", "p99_latency", "request_rate", "alerts", "health_flag")
MIX = {"http_latency": 25, "error_ratio": 25, "p99_latency": 15, "request_rate": 15, "alerts": 10, "health_flag": 10}

_CHECK_YAML = {
    "http_latency": "    http: http://127.0.0.1:9/health\n    max_latency: 500ms\n",
    "error_ratio": "    promql: sum(rate(errors[5m])) / sum(rate(requests[5m]))\n    unit: '%'\n",
    "p99_latency": "    promql: histogram_quantile(0.99, sum by (le) (rate(duration_bucket[5m])))\n    unit: s\n",
    "request_rate": "    promql: sum(rate(requests[5m]))\n    unit: req/s\n",
    "alerts": "    alerts: {severity: critical}\n",
    "health_flag": "    http: http://127.0.0.1:9/health\n    json_path: ok\n",
}
_CONDITION_YAML = {
    "error_ratio": "when: '> 1%', for: 5m, action: rollback, decides: cto",
    "p99_latency": "when: '> 1s', for: 5m, action: halt, decides: commander",
}


def build_runbook(kinds: list[str]):
    """A runbook with one check per entry of ``kinds`` and conditions on the promql ones."""
    checks, conditions = [], []
    for n, kind in enumerate(kinds):
        check = f"{kind}_{n}"
        checks.append(f"  {check}:\n{_CHECK_YAML[kind]}    every: 5s\n    timeout: 4s\n")
        if kind in _CONDITION_YAML:
            conditions.append(f"  - {{id: {check}_high, check: {check}, {_CONDITION_YAML[kind]}}}\n")
    steps = "".join(f"  - {{title: Step {i}, at: T+{i * 30}m, duration: 20m}}\n" for i in range(40))
    text = (
        "name: Log size benchmark\nt0: 2026-12-01T16:30:00Z\nroles: {commander: IC, cto: CTO}\n"
        "sources:\n  prometheus: {kind: prometheus, url: http://127.0.0.1:9}\n"
        "  alertmanager: {kind: alertmanager, url: http://127.0.0.1:9}\n"
        "checks:\n" + "".join(checks) + "stop_conditions:\n" + "".join(conditions) + "steps:\n" + steps
    )
    return parse_runbook(text, "benchmark.yaml")


class Series:
    """A realistic value series for one check kind (see the module docstring)."""

    def __init__(self, kind: str, seed: int) -> None:
        self.kind = kind
        self.random = random.Random(seed)
        self.noise = 0.0
        self.value: float | None = None
        self.phase = self.random.uniform(0, 2 * math.pi)

    def sample(self, seconds: float) -> tuple[Outcome, float | None, dict]:
        day = 0.5 + 0.5 * math.sin(2 * math.pi * seconds / 86_400 + self.phase)
        rnd = self.random
        match self.kind:
            case "http_latency":
                latency = 0.025 * math.exp(rnd.gauss(0, 0.15)) * (4 if rnd.random() < 0.005 else 1)
                return Outcome.PASS, latency, {"status": 200, "latency": latency}
            case "alerts":
                firing = (seconds % 43_200) < 600
                active = [{"name": "HighErrorRate", "severity": "critical", "summary": "5xx above 2%"}] if firing else []
                return (Outcome.BREACH if firing else Outcome.PASS), float(len(active)), {
                    "active": active, "suppressed": [], "unprocessed": [],
                    "active_count": len(active), "suppressed_count": 0,
                }  # fmt: skip
            case "health_flag":
                return Outcome.PASS, 1.0, {"status": 200, "latency": 0.02}
        if self.value is None or seconds % 15 < EVERY:  # Prometheus scraped: the 5m rate moved
            sigma = {"error_ratio": 0.03, "p99_latency": 0.04, "request_rate": 0.01}[self.kind]
            self.noise = 0.8 * self.noise + rnd.gauss(0, sigma)
            base = {
                "error_ratio": 0.001 + 0.002 * day,
                "p99_latency": 0.25 + 0.1 * day,
                "request_rate": 800 + 800 * day,
            }[self.kind]
            if self.kind == "error_ratio" and (seconds % 86_400) < 1200:
                base = 0.02 + 0.02 * (seconds % 1200) / 1200
            self.value = base * (1 + self.noise)
        return Outcome.PASS, self.value, {}


def file_bytes(connection: sqlite3.Connection) -> int:
    """Bytes in use by the database pages (after a checkpoint, free pages excluded)."""
    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    free = connection.execute("PRAGMA freelist_count").fetchone()[0]
    return (pages - free) * page_size


def measure_appends(folder: Path, count: int) -> float:
    runbook = build_runbook(["error_ratio"])
    with SessionLog.create(folder / "appends.cutover.db", runbook, operator="bench") as log:
        started = time.perf_counter()
        for n in range(count):
            log.append("note", {"text": f"note {n}"})
        return count / (time.perf_counter() - started)


def measure_tick_rate(folder: Path, checks: int, rounds: int) -> float:
    runbook = build_runbook(["request_rate"] * checks)
    ids = list(runbook.checks)
    with SessionLog.create(folder / "ticks.cutover.db", runbook, operator="bench") as log:
        started = time.perf_counter()
        for r in range(rounds):
            at = T0 + timedelta(seconds=r * EVERY)
            for n, check in enumerate(ids):
                value = 1000.0 * (1 + 0.05 * ((r + n) % 2))  # 5% apart: every reading is news
                log.record_reading(Reading(check, Outcome.PASS, value, "req/s", 0.01, at, r * EVERY))
        log.flush_ticks()
        return checks * rounds / (time.perf_counter() - started)


def simulate(folder: Path, unit: float, hours: float, policy: RetentionPolicy, schema: int) -> dict:
    """``hours`` of polling every 5 s for checks in the mix's proportions, through the real retention.

    ``unit`` scales ``MIX`` to the number of checks simulated (0.2: 20 checks).
    The log is flushed, as the writer thread flushes each second, after every
    ``SEAL_READINGS`` readings polled: the readings 1,000 checks make in one
    second, so each seal covers as many stored readings as it would live.
    Every polled value is kept to compare with what the file replays.
    """
    kinds = [kind for kind in KINDS for _ in range(max(1, round(MIX[kind] * unit)))]
    runbook = build_runbook(kinds)
    ids = list(runbook.checks)
    series = {check: Series(kind, seed=n) for n, (check, kind) in enumerate(zip(ids, kinds))}
    clock = ManualClock(T0)
    path = folder / f"simulated-{schema}.cutover.db"
    log = SessionLog.create(path, runbook, operator="bench", clock=clock, retention=policy, schema_version=schema)
    kept = {kind: 0 for kind in KINDS}
    polled: dict[str, list[float | None]] = {check: [] for check in ids}
    written: list[TickRecord] = []
    polls = int(hours * 3600 / EVERY)
    every_rounds = max(1, round(SEAL_READINGS / len(ids)))
    started = time.perf_counter()
    for p in range(polls):
        seconds = p * EVERY
        at = T0 + timedelta(seconds=seconds)
        clock._wall = at  # seals are stamped when written, as live
        for check, kind in zip(ids, kinds):
            outcome, value, extra = series[check].sample(seconds)
            polled[check].append(value)
            tick = log.record_reading(Reading(check, outcome, value, UNITS[kind], 0.02, at, seconds, extra=extra))
            if tick is not None:
                kept[kind] += 1
                written.append(tick)
        if p % every_rounds == every_rounds - 1:
            log.flush_ticks()
        if p % 720 == 0:  # an event an hour: steps, notes, decisions
            log.append("note", {"text": f"hour {p // 720}"})
    elapsed = time.perf_counter() - started
    log.close()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = connection.execute("SELECT count(*) FROM ticks").fetchone()[0]
    tables = ("ticks", "checks", "outcomes") if schema >= 2 else ("ticks",)
    indexes = [row[0] for row in connection.execute(
        f"SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({','.join('?' * len(tables))})", tables)]  # fmt: skip
    tick_bytes = _table_bytes(connection, (*tables, *indexes))
    seal_bytes = _seal_bytes(connection)
    seals = connection.execute("SELECT count(*) FROM events WHERE kind = 'ticks_sealed'").fetchone()[0]
    connection.close()
    per_kind = {kind: kinds.count(kind) for kind in KINDS}
    return {
        "runbook": runbook,
        "path": path,
        "checks": len(ids),
        "readings": polls * len(ids),
        "stored": stored,
        "share": stored / (polls * len(ids)),
        "kept_share": {kind: kept[kind] / (polls * per_kind[kind]) for kind in KINDS},
        "bytes_per_tick": tick_bytes / stored,
        "seal_bytes_per_tick": seal_bytes / stored,
        "readings_per_seal": stored / seals if seals else 0.0,
        "record_rate": polls * len(ids) / elapsed,
        "fidelity": _fidelity(path, runbook, policy, polled, written, polls),
    }


def _fidelity(path: Path, runbook, policy: RetentionPolicy, polled: dict, written: list[TickRecord], polls: int) -> dict:
    """How far what the file replays is from what was polled, and whether it reads back what was written.

    At every poll instant, replay shows the check's last stored value (held
    between ticks). Retention promises it is within
    ``max(relative * |stored|, threshold_fraction * threshold)`` of the polled
    value; ``worst`` is the largest deviation as a share of that tolerance
    (at most 1 when the promise holds). ``exact`` is whether every stored
    reading reads back from the file as it was written (times to the ms).
    """
    epsilon = _check_epsilons(runbook, policy)
    worst, compared = 0.0, 0
    with SessionLog.open_readonly(path) as log:
        read = list(log.ticks())
        by_check: dict[str, list[TickRecord]] = {}
        for tick in read:
            by_check.setdefault(tick.check_id, []).append(tick)
    for check, values in polled.items():
        ticks, index = by_check.get(check, []), -1
        for p, value in enumerate(values):
            at = T0 + timedelta(seconds=p * EVERY)
            while index + 1 < len(ticks) and ticks[index + 1].ts <= at:
                index += 1
            shown = ticks[index].value if index >= 0 else None
            compared += 1
            if value is None or shown is None:
                worst = max(worst, 0.0 if value is shown else math.inf)
                continue
            tolerance = max(policy.relative_tolerance * abs(shown), epsilon.get(check, 0.0))
            deviation = abs(value - shown)
            worst = max(worst, deviation / tolerance if tolerance else (0.0 if deviation == 0 else math.inf))
    as_written = [t._replace(ts=from_ms(to_ms(t.ts)), extra=json.loads(json.dumps(dict(t.extra)))) for t in written]
    exact = sorted(read, key=lambda t: (t.check_id, t.ts)) == sorted(as_written, key=lambda t: (t.check_id, t.ts))
    return {"worst_of_tolerance": worst, "compared": compared, "exact": exact, "stored": len(read)}


def _table_bytes(connection: sqlite3.Connection, names: tuple[str, ...]) -> int:
    """Bytes of the pages holding these tables and indexes (dbstat), or the whole file without dbstat."""
    try:
        marks = ",".join("?" for _ in names)
        row = connection.execute(f"SELECT sum(pgsize) FROM dbstat WHERE name IN ({marks})", names).fetchone()
        return int(row[0])
    except sqlite3.OperationalError:
        return file_bytes(connection)


def _seal_bytes(connection: sqlite3.Connection) -> int:
    """Bytes of ``events`` and its index taken by ``ticks_sealed`` events: the pages, shared by the rows' lengths."""
    pages = _table_bytes(connection, ("events", "idx_events_kind"))
    length = "length(ts) + length(kind) + length(actor) + length(payload) + length(prev_hash) + length(hash)"
    seals, everything = connection.execute(
        f"SELECT sum(CASE WHEN kind = 'ticks_sealed' THEN {length} ELSE 0 END), sum({length}) FROM events"
    ).fetchone()
    return round(pages * (seals or 0) / everything) if everything else 0


def build_session_log(folder: Path, checks: int, events: int, tick_spacing: float) -> tuple[Path, object]:
    """A 72-hour log of ``checks`` checks (the mix) and ``events`` events spread over it.

    Each check has a tick every ``tick_spacing`` seconds (the checks' ticks
    staggered), each one news, so all are stored.
    """
    kinds = [kind for kind in KINDS for _ in range(round(checks * MIX[kind] / 100))]
    runbook = build_runbook(kinds)
    ids = list(runbook.checks)
    conditions = [c.id for c in runbook.stop_conditions]
    steps = [s.id for s in runbook.steps]
    clock = ManualClock(T0)
    path = folder / "large.cutover.db"
    states = ("pending", "firing", "recovering", "ok", "unknown")
    step_every = max(1, events // (len(steps) * 2))
    event_every = HOURS * 3600 / events
    appended = 0
    with SessionLog.create(path, runbook, operator="bench", clock=clock) as log:
        for r in range(int(HOURS * 3600 / tick_spacing)):
            while appended < events and (appended + 1) * event_every <= (r + 1) * tick_spacing:
                n, appended = appended, appended + 1
                clock.advance(event_every)
                if n % step_every == 0 and n // step_every < 2 * len(steps):
                    kind = "step_started" if (n // step_every) % 2 == 0 else "step_completed"
                    log.append(kind, {"step": steps[n // step_every // 2], "gate": {}})
                elif n % 97 == 0:
                    log.append("decision", {"decision": "hold", "reason": "watching", "conditions": {}, "verdict": "HALT"})
                else:
                    condition = conditions[n % len(conditions)]
                    state, previous = states[n % 5], states[(n - 1) % 5]
                    log.append("condition_changed", {
                        "condition": condition, "state": state, "previous": previous, "value": 0.004,
                        "threshold": "> 1%", "reason": "", "breach_held": 30.0, "flapping": False,
                    })  # fmt: skip
            for n, check in enumerate(ids):
                seconds = (r + n / len(ids)) * tick_spacing
                value = 1.0 + 0.05 * ((r + n) % 2)  # 5% apart: every reading is news
                at = T0 + timedelta(seconds=seconds)
                log.record_reading(Reading(check, Outcome.PASS, value, "", 0.02, at, seconds))
    return path, runbook


def measure_large_fold(path: Path, runbook) -> tuple[float, float]:
    """Seconds to fold the log as resume/replay/report do, and for one live ``Reducer.state()`` and the screen's reads of it."""
    started = time.perf_counter()
    with SessionLog.open_readonly(path) as log:
        reducer = Reducer(runbook)
        for event in log.events():
            reducer.apply(event)
        for tick in log.latest_ticks(per_check=reducer.ticks_kept):
            reducer.apply_tick(tick)
        screen_reads(reducer.state(), runbook)
    fold = time.perf_counter() - started
    started = time.perf_counter()
    screen_reads(reducer.state(), runbook)
    return fold, time.perf_counter() - started


def measure_fold(path: Path, runbook) -> tuple[float, float, int, int]:
    with SessionLog.open_readonly(path) as log:
        started = time.perf_counter()
        reducer = Reducer(runbook)
        events = log.events()
        state = reduce_events(runbook, events, log.latest_ticks(per_check=reducer.ticks_kept))
        latest = time.perf_counter() - started
        started = time.perf_counter()
        ticks = 0
        for tick in log.ticks():
            reducer.apply_tick(tick)
            ticks += 1
        for event in events:
            reducer.apply(event)
        full_state = reducer.state()
        full = time.perf_counter() - started
    assert state == full_state, "folding the latest ticks must equal folding them all"
    return latest, full, len(events), ticks


#: The floor a seek is held against: one indexed SELECT of every check's latest tick at the instant.
FLOOR_SQL = (
    "SELECT t.* FROM checks c JOIN ticks t ON t.id = "
    "(SELECT id FROM ticks WHERE check_ref = c.id AND ts_ms <= ? ORDER BY ts_ms DESC, id DESC LIMIT 1)"
)


#: The conditions pane of the replay screen at 120x36: 22 lines (of 3-line cards), 44 columns.
PANE_LINES, PANE_WIDTH = 22, 44
#: The cards it reads scrolled to the top: those on screen and the one below.
PANE_CARDS = on_screen(PROJECTED_CHECKS, 0, PANE_LINES).stop


def screen_reads(state, runbook) -> int:
    """Read of ``state`` what the dashboard draws after a seek; how many views.

    The verdict, its reasons, the banners' text, the steps and the header are
    derived with the state. The screen reads beyond them what ``other_reads``
    and ``pane_reads`` count.
    """
    return other_reads(state, runbook) + pane_reads(state, runbook)


def other_reads(state, runbook) -> int:
    """What the screen but the conditions pane reads of a state; how many views.

    Each banner's condition view (the banner line), the alerts checks' views
    (the alerts pane), the watched conditions and gate checks of every step
    (the steps' markers), the header's first countdown.
    """
    views = [state.conditions[b.condition] for b in state.banners if b.condition]
    views += [state.checks[check.id] for check in runbook.checks.values() if check.kind == "alerts"]
    views += [state.conditions[c] for step in runbook.steps for c in step.watch]
    views += [state.checks[c] for step in runbook.steps for c in step.gate]
    views += list(state.at_risk[:1])
    return len(views)


def pane_reads(state, runbook) -> int:
    """What the conditions pane reads of a state it is handed, scrolled to the top (``ConditionsList.show``); how many cards.

    The pane's own plan: every condition ranked worst first from its standing
    (``ranks``, ``arranged``: no view derived), the cards on screen and one
    more each side (``on_screen``) read at once (``Views.read``: their
    sparkline windows), and each of those cards handed its view and its
    check's and comparing them part by part with what it drew (the keys
    ``ConditionCard.show`` computes: sparkline points, reason). Not counted:
    Textual drawing the cards. The cards off screen are handed where to take
    their views from (``ConditionCard.show_later``), which reads nothing.
    """
    order = arranged(ranks(state, runbook), worst_first=True)  # 400 cards do not fit: worst first
    seen = order[on_screen(len(order), 0, PANE_LINES)]
    state.conditions.read(seen)
    for condition_id in seen:
        condition = runbook.condition(condition_id)
        _keys(condition, state.conditions.get(condition_id), PANE_WIDTH, state.checks.get(condition.check))
    return len(seen)


def measure_seeks(path: Path, runbook, seeks: int) -> dict:
    """Replay open, and at each of ``seeks`` random instants: the floor, the seek, and the seek's parts.

    For each instant, in this order: the floor (``FLOOR_SQL`` on its own
    read-only connection, rows fetched); the seek as the screen waits for it
    (``ReplayBackend.seek``, then what the screen reads of the state:
    ``screen_reads``); then its parts measured again one by one: resuming from
    the checkpoint and folding the events after it, ``Reducer.state()`` with
    the ticks it reads, and the screen's reads. Last, apart, every view of that
    state derived (what ``status`` or a report pays), and on a state fresh from
    the same seek, once the rest of the screen read it (``other_reads``),
    the conditions pane's share of the seek (``pane_reads``: ranking every
    condition, the cards on screen with their views, sparklines and checks).

    What opening the replay built (its events and checkpoints) is kept out of
    the cyclic collector's passes once it is open (``gc.freeze``), as the
    replay screen does after its first frame (``CutoverApp``): otherwise a full
    collection walking them (40 ms here) lands inside a seek the screen never
    makes wait for it.
    """
    from cutover_tui.replay import ReplayBackend

    started = time.perf_counter()
    replay = ReplayBackend(path, runbook)
    opened = time.perf_counter() - started
    gc.freeze()
    floor = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    span = (replay.end_at - replay.start_at).total_seconds()
    chance = random.Random(11)
    times: dict[str, list[float]] = {"floor": [], "seek": [], "events": [], "state": [], "screen": [], "every_view": [],
                                     "pane": []}  # fmt: skip
    for _ in range(seeks):
        instant = replay.start_at + timedelta(seconds=chance.uniform(0, span))
        started = time.perf_counter()
        rows = floor.execute(FLOOR_SQL, (to_ms(instant),)).fetchall()
        times["floor"].append(time.perf_counter() - started)
        assert len(rows) == len(runbook.checks)
        started = time.perf_counter()
        screen_reads(replay.seek(instant), runbook)
        times["seek"].append(time.perf_counter() - started)
        started = time.perf_counter()
        reducer = replay.events_until(instant)
        times["events"].append(time.perf_counter() - started)
        started = time.perf_counter()
        state = reducer.state(now=instant, read_ticks=replay._read_ticks)
        times["state"].append(time.perf_counter() - started)
        started = time.perf_counter()
        screen_reads(state, runbook)
        times["screen"].append(time.perf_counter() - started)
        started = time.perf_counter()
        for view in state.conditions.values():
            tuple(view.history)
        list(state.checks.values())
        times["every_view"].append(time.perf_counter() - started)
        fresh = replay.seek(instant)
        other_reads(fresh, runbook)
        started = time.perf_counter()
        pane_reads(fresh, runbook)
        times["pane"].append(time.perf_counter() - started)
    floor.close()
    gc.unfreeze()
    asyncio.run(replay.stop())  # closes the file
    return {"open_s": opened, "times_s": times}


def measure(quick: bool, policy: RetentionPolicy, folder: Path) -> dict:
    """Every figure of this benchmark (see the module docstring), in a dict."""
    unit, hours = (0.2, 1.0) if quick else (0.4, float(HOURS))
    figures: dict = {"policy": policy, "hours_simulated": hours}
    figures["appends_per_s"] = measure_appends(folder, 300 if quick else 2000)
    figures["ticks_per_s"] = measure_tick_rate(folder, 200, 50 if quick else 250)
    readings = PROJECTED_CHECKS * HOURS * 3600 / EVERY
    figures["readings"] = readings
    for schema in (1, SCHEMA_VERSION):
        sim = simulate(folder, unit, hours, policy, schema)
        per_tick = sim["bytes_per_tick"] + sim["seal_bytes_per_tick"]
        figures[f"schema{schema}"] = {key: value for key, value in sim.items() if key not in ("runbook", "path")} | {
            "projected_bytes": readings * sim["share"] * per_tick,
            "projected_seal_bytes": readings * sim["share"] * sim["seal_bytes_per_tick"],
        }  # fmt: skip
    figures["checks_simulated"] = sim["checks"]
    figures["fold_latest_s"], figures["fold_every_tick_s"], figures["fold_events"], figures["fold_ticks"] = measure_fold(
        sim["path"], sim["runbook"]
    )
    events, spacing = (1_000, 10800.0) if quick else (20_000, EVERY / sim["share"])
    started = time.perf_counter()
    large_path, large_runbook = build_session_log(folder, PROJECTED_CHECKS, events, spacing)
    figures["large"] = {
        "checks": len(large_runbook.checks), "conditions": len(large_runbook.stop_conditions), "events": events,
        "tick_spacing_s": spacing, "build_s": time.perf_counter() - started, "bytes": large_path.stat().st_size,
    }  # fmt: skip
    figures["resume_fold_s"], figures["live_state_s"] = measure_large_fold(large_path, large_runbook)
    figures["seeks"] = measure_seeks(large_path, large_runbook, 10 if quick else 100)
    return figures


def _ms(values: list[float], q: float) -> float:
    return 1000 * (percentile(values, q) or 0.0)


def report(f: dict) -> None:
    """Print every figure ``measure`` returned."""
    policy, large = f["policy"], f["large"]
    old, new = f["schema1"], f[f"schema{SCHEMA_VERSION}"]
    times = f["seeks"]["times_s"]
    print(f"retention policy          relative {policy.relative_tolerance:.0%}, {policy.threshold_fraction:.0%} of the "
          f"threshold, keyframe every {policy.keyframe_seconds:g} s")  # fmt: skip
    print(f"events appended durably   {f['appends_per_s']:,.0f} events/s (synchronous=FULL, one commit each)")
    print(f"ticks written             {f['ticks_per_s']:,.0f} ticks/s (record_reading + batched flush, all kept)")
    print(f"record_reading            {new['record_rate']:,.0f} readings/s with retention "
          f"({new['checks']} checks x {f['hours_simulated']:g} h)")  # fmt: skip
    for kind in KINDS:
        print(f"  kept {kind:<14}      {new['kept_share'][kind]:6.2%} of readings")
    print(f"kept, the mix             {new['share']:6.2%} of readings  (mix: {', '.join(f'{k} {v}%' for k, v in MIX.items())})")
    for schema, sim in ((1, old), (SCHEMA_VERSION, new)):
        print(f"schema {schema}: per stored tick {sim['bytes_per_tick']:.0f} B (ticks + index) + {sim['seal_bytes_per_tick']:.0f} B "
              f"(its seal, {sim['readings_per_seal']:.1f} readings a seal) -> 72 h {sim['projected_bytes'] / 1e6:,.0f} MB "
              f"(seals {sim['projected_seal_bytes'] / 1e6:,.0f} MB)")  # fmt: skip
    print(f"projected 72 h size       {new['projected_bytes'] / 1e6:,.0f} MB for {PROJECTED_CHECKS:,} checks every {EVERY:g} s "
          f"({f['readings'] * new['share'] / 1e6:.1f} M ticks of {f['readings'] / 1e6:.1f} M readings), "
          f"{new['projected_bytes'] / old['projected_bytes']:.2f} of schema 1's")  # fmt: skip
    fidelity = new["fidelity"]
    print(f"replay fidelity           worst {fidelity['worst_of_tolerance']:.0%} of the tolerance over {fidelity['compared']:,} "
          f"polls (schema 1: {old['fidelity']['worst_of_tolerance']:.0%}); readings read back as written: "
          f"{'all' if fidelity['exact'] else 'NOT all'} {fidelity['stored']:,}")  # fmt: skip
    print(f"synthetic 72 h log        {large['bytes'] / 1e6:,.0f} MB: {large['events']:,} events, {large['checks']:,} checks "
          f"with a tick every {large['tick_spacing_s']:,.0f} s, written in {large['build_s']:.0f} s")  # fmt: skip
    print(f"fold 72 h (resume)        {f['resume_fold_s']:,.2f} s: {large['events']:,} events + the latest ticks of "
          f"{large['checks']:,} checks, {large['conditions']} conditions, from the file")  # fmt: skip
    print(f"live Reducer.state()      {f['live_state_s'] * 1000:,.1f} ms for that session, with what the screen reads (one refresh)")
    print(f"replay open               {f['seeks']['open_s']:,.2f} s (events folded into checkpoints)")
    print(f"replay seek               p50 {_ms(times['seek'], 50):,.1f} ms, p99 {_ms(times['seek'], 99):,.1f} ms "
          f"over {len(times['seek'])} random instants")  # fmt: skip
    print(f"floor: latest tick/check  p50 {_ms(times['floor'], 50):,.1f} ms, p99 {_ms(times['floor'], 99):,.1f} ms "
          f"(one indexed SELECT, same instants); seek p99 / floor p99 = {_ms(times['seek'], 99) / _ms(times['floor'], 99):.2f}")  # fmt: skip
    print(f"  seek's parts, p50       events {_ms(times['events'], 50):.1f} ms, state with the ticks it reads "
          f"{_ms(times['state'], 50):.1f} ms, the screen's reads {_ms(times['screen'], 50):.1f} ms")  # fmt: skip
    print(f"  every view derived      p50 {_ms(times['every_view'], 50):,.1f} ms, p99 {_ms(times['every_view'], 99):,.1f} ms "
          f"(all {large['checks']:,} checks and {large['conditions']} conditions with sparklines)")  # fmt: skip
    print(f"  the conditions pane     p50 {_ms(times['pane'], 50):,.1f} ms, p99 {_ms(times['pane'], 99):,.1f} ms of the "
          f"seek: {large['conditions']} conditions ranked, the {PANE_CARDS} cards it reads (on screen, one each side) "
          f"and compared")  # fmt: skip
    print(f"fold simulated log        {f['fold_latest_s'] * 1000:,.0f} ms: {f['fold_events']} events + latest ticks of "
          f"{f['checks_simulated']} checks")  # fmt: skip
    rate = f["fold_ticks"] / f["fold_every_tick_s"]
    print(f"fold simulated, each tick {f['fold_every_tick_s']:,.1f} s for {f['fold_ticks']:,} ticks ({rate:,.0f} ticks/s; "
          f"{f['readings'] * new['share'] / rate / 60:,.1f} min projected for {PROJECTED_CHECKS:,} checks)")  # fmt: skip


def run(quick: bool) -> Result:
    """The benchmark runner's entry: the default retention policy, figures against the goals."""
    folder = Path(tempfile.mkdtemp(prefix="cutover-bench-log-"))
    try:
        f = measure(quick, RetentionPolicy(), folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(f)
    times = {name: [s * 1000 for s in values] for name, values in f["seeks"]["times_s"].items()}
    old, new = f["schema1"], f[f"schema{SCHEMA_VERSION}"]
    projected_mb = new["projected_bytes"] / 1e6
    large = f["large"]
    seek_p99, floor_p99 = percentile(times["seek"], 99), percentile(times["floor"], 99)
    return Result(
        [
            Figure("bytes_per_tick", "bytes per stored tick (table + index + its seal)",
                   new["bytes_per_tick"] + new["seal_bytes_per_tick"], "B"),  # fmt: skip
            Figure("kept_percent", "readings kept as ticks (retention)", 100 * new["share"], "%"),
            Figure("mb_per_hour", "log growth, 1,000 checks every 5 s", projected_mb / HOURS, "MB/h"),
            Figure("projected_72h_mb", "log size with seals, 1,000 checks x 5 s x 72 h", projected_mb, "MB", at_most=400),
            Figure("size_vs_schema1", "log size / the first format's, same readings", new["projected_bytes"] / old["projected_bytes"], "×"),
            Figure("replay_fidelity", "worst replayed value, share of retention tolerance",
                   100 * new["fidelity"]["worst_of_tolerance"], "%", at_most=100),  # fmt: skip
            Figure("events_per_s", "events appended durably (fsync each)", f["appends_per_s"], "/s"),
            Figure("resume_fold_s", "fold a 72 h log on resume", f["resume_fold_s"], "s"),
            Figure("replay_open_s", "open replay of a 72 h log", f["seeks"]["open_s"], "s"),
            Figure("seek_p50_ms", f"replay seek p50 ({len(times['seek'])} random instants)", percentile(times["seek"], 50), "ms"),
            Figure("seek_p99_ms", f"replay seek p99 ({len(times['seek'])} random instants)", seek_p99, "ms", at_most=50),
            Figure("floor_p99_ms", "latest tick per check, one indexed SELECT, p99", floor_p99, "ms"),
            Figure("seek_vs_floor", "replay seek p99 / that SELECT's p99, same run",
                   seek_p99 / floor_p99 if seek_p99 and floor_p99 else None, "×", at_most=2),  # fmt: skip
        ],
        [f"log: seek = ReplayBackend.seek on a synthetic 72 h log of {large['checks']:,} checks, {large['events']:,} events, "
         f"a tick per check every {large['tick_spacing_s']:,.0f} s ({large['bytes'] / 1e6:,.0f} MB); "
         f"size projected from {new['checks']} simulated checks over {f['hours_simulated']:g} h, seals included; "
         f"stored readings read back as written: {'yes' if new['fidelity']['exact'] else 'NO'}"],  # fmt: skip
        {key: value for key, value in f.items() if key not in ("policy", "seeks")}
        | {"seeks_ms": times, "replay_open_s": f["seeks"]["open_s"]},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer checks simulated, a sparser synthetic log")
    parser.add_argument("--keyframe", type=float, default=RetentionPolicy().keyframe_seconds, help="keyframe seconds")
    parser.add_argument("--tolerance", type=float, default=RetentionPolicy().relative_tolerance, help="relative tolerance")
    parser.add_argument("--threshold-fraction", type=float, default=RetentionPolicy().threshold_fraction)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the files (default: a temp dir)")
    args = parser.parse_args(argv)
    policy = RetentionPolicy(args.tolerance, args.threshold_fraction, args.keyframe)
    folder = Path(tempfile.mkdtemp(prefix="cutover-bench-", dir=args.dir))
    try:
        report(measure(args.quick, policy, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
