"""Faults: every fault the screen must survive, made for real; how many ever showed OK or CONTINUE, and how fast each showed.

Method. Each fault runs against real software on 127.0.0.1: the scripted
target (``checks.target.Target``), a real Prometheus scraping one, a real
Alertmanager, Nagios-style plugins, ``cutover-tui run`` in a real terminal
(tmux), ``cutover-tui check`` as a subprocess (under Debian's libfaketime for
the wall-clock steps), a real tmpfs filled to the last byte. Where no real
server makes the fault on demand, a front for the real Prometheus
(``benchmarks/fault_servers.py``) has it answer another query (its real 400,
422, empty vector, NaN, +Inf, two series, matrix, string), at an earlier
instant (old samples), with warnings added or cut in half, or answers with
the body a proxy or Prometheus sends (a 503 timeout, a plain-text 503, an
HTML page, a 200 with ``status: error``); ``tests/canned_server.py`` serves
JSON bodies that lose a field.

What is watched is what the dashboard renders: the ``SessionState`` of a real
``LiveBackend`` (or ``FollowBackend``) sampled every 50 ms; the verdict badge
of the real app under ``App.run_test()`` for the wall-clock steps (its wall
clock stepped through the product's ``Clock``: under libfaketime 0.9.10 the
threaded dashboard thrashes even at +0, frames 3 to 6 s apart, so ``run`` in
tmux is not measured that way); the progress lines and verdict of ``check``.
Each session first shows the service healthy (every affected condition
``ok``, the verdict CONTINUE); then the fault is injected.

- Shown as OK or CONTINUE: once the product could know (a poll that started
  after the fault has finished; for faults told by time, such as a stopped
  writer or a stale reading, once the product's own rule says it must show),
  any sample where an affected condition reads ``ok`` or the verdict reads
  CONTINUE, until the fault has shown and for two polls after; or a fault
  that never shows within three times its budget. Before the product could
  know, the last healthy reading is still the truth and is not counted.
- Time to show: from the injection to the first sample that shows it (not
  OK, not CONTINUE, and what the fault is: unknown, stale, error, CANNOT
  VERIFY, AT RISK, firing, ROLLING BACK, LOG NOT WRITING, as each says).
- Budget: one poll interval plus the check's timeout (1 s + 0.8 s here),
  plus what stands between the fault and the check when the product's own
  rule says so: a Prometheus scrape (data through Prometheus), a repaint
  (the dashboard repaints at most twice a second), the staleness rule
  (2 × interval + timeout), a follower's writer-silence rule (5 s); and one
  sample (50 ms) for the sampling itself. The ratio is time to show over
  budget; each fault's line names its budget.

Full: every fault here (52 with every tool installed), six at a time. Quick:
eight of the cheapest (no Prometheus, Alertmanager or tmux), all at once.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from benchmarks.common import Figure, Result
from checks.clock import SystemClock, offset_from

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ("faults_injected", "shown_ok_or_continue", "longest_to_show_s", "worst_ratio")

INTERVAL, TIMEOUT = 1.0, 0.8
POLL = {"every": "1s", "timeout": "800ms"}
#: How often the state is sampled, seconds; every budget allows one sample more.
SAMPLE = 0.05
POLL_BUDGET = INTERVAL + TIMEOUT + SAMPLE
POLL_TEXT = "a poll interval 1 s + timeout 0.8 s"
#: Polls watched after a fault has shown, in case it turns green again.
SETTLE = 2 * INTERVAL + TIMEOUT
#: A reading that finished this long after the fault plus its timeout came from a poll started after it.
SLACK = 0.1
#: Sessions at once in a full run.
CONCURRENCY = 6
#: Prometheus scrapes the target this often, seconds.
SCRAPE = 1.0
HEALTHY, BREACH = 0.002, 0.04


def _tests_module(name: str) -> Any:
    """A helper module of the test suite (``tests/`` is not a package)."""
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", ROOT / "tests" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# -- what one fault showed ------------------------------------------------------


@dataclass
class Shown:
    """What the screen showed after one fault.

    Attributes:
        name: the fault.
        seconds: injection to the first sample showing it; None when it never did.
        budget: seconds the product has to show it; ``budget_text`` says why.
        green_for: seconds of samples reading OK or CONTINUE once the product could know.
        first: what the screen said when it first showed the fault.
        green: what read OK or CONTINUE, and when, if anything did.
        note: anything else measured (a hold kept, firing time, a banner's delay).
    """

    name: str
    seconds: float | None
    budget: float
    budget_text: str
    green_for: float = 0.0
    first: str = ""
    green: str = ""
    note: str = ""

    @property
    def lied(self) -> bool:
        return self.seconds is None or self.green_for > 0

    @property
    def ratio(self) -> float | None:
        return None if self.seconds is None else self.seconds / self.budget

    def line(self) -> str:
        if self.seconds is None:
            head = f"NEVER SHOWN within {3 * self.budget:.1f} s"
        else:
            head = f"shown in {self.seconds:5.2f} s ({self.ratio:.2f}× of {self.budget:.2f} s)"
        text = f"  {head}  {self.name}: {self.first}"
        if self.green:
            text += f"\n      SHOWN AS OK OR CONTINUE for {self.green_for:.2f} s: {self.green}"
        if self.note:
            text += f"\n      {self.note}"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "budget_s": round(self.budget, 3),
            "budget": self.budget_text,
            "ratio": None if self.ratio is None else round(self.ratio, 3),
            "shown_ok_or_continue": self.lied,
            "green_for_s": round(self.green_for, 3),
            "first": self.first,
            "green": self.green,
            "note": self.note,
        }


@dataclass
class Look:
    """One sample of the screen.

    Attributes:
        green: what reads OK or CONTINUE ("watched ok, CONTINUE"), or "".
        shown: the fault is shown as what it is.
        text: what the screen says, in short.
        informed: whether the product has had the fault's data (None: decide by the budget).
    """

    green: str
    shown: bool
    text: str
    informed: bool | None = None


class NotInjected(Exception):
    """The fault could not be set up (a baseline never healthy, a tool missing); it is not counted."""


async def observe(
    name: str,
    look: Callable[[], Look | Awaitable[Look]],
    injected: float,
    budget: float,
    budget_text: str,
    *,
    settle: float = SETTLE,
    note: Callable[[], str] | None = None,
) -> Shown:
    """Sample ``look`` every ``SAMPLE`` s from ``injected`` (monotonic) until the fault has shown and ``settle`` more
    seconds passed, or three budgets (at least budget + 3 s) passed without it showing."""
    deadline = injected + max(3 * budget, budget + 3.0)
    result = Shown(name, None, budget, budget_text)
    green_samples: list[float] = []
    settle_until = None
    while True:
        now = time.monotonic()
        seen = look()
        if asyncio.iscoroutine(seen):
            seen = await seen
        assert isinstance(seen, Look)
        informed = seen.informed if seen.informed is not None else now - injected >= budget
        if seen.green and informed:
            if not green_samples:
                result.green = f"{seen.green} at +{now - injected:.2f} s ({seen.text})"
            green_samples.append(now)
        if result.seconds is None and seen.shown and not seen.green:
            result.seconds, result.first = now - injected, seen.text
            settle_until = now + settle
        if settle_until is not None and now >= settle_until or now >= deadline:
            break
        await asyncio.sleep(max(0.0, SAMPLE - (time.monotonic() - now)))
    if green_samples:
        result.green_for = max(SAMPLE, green_samples[-1] - green_samples[0] + SAMPLE)
    if result.seconds is None and not result.first:
        result.first = f"still {seen.text}"
    if note is not None:
        result.note = note()
    return result


# -- runbooks --------------------------------------------------------------------


def runbook_doc(
    name: str,
    check: dict[str, Any],
    *,
    when: str | None = None,
    hold: str = "0s",
    action: str = "rollback",
    sources: dict[str, Any] | None = None,
    max_age: str | None = None,
    gate: bool = False,
    rollback: bool = False,
) -> dict[str, Any]:
    """One check (``probe``) and one stop condition on it (``watched``), watched by the first step."""
    condition: dict[str, Any] = {"id": "watched", "check": "probe"}
    if when is not None:
        condition["when"] = when
    condition |= {"for": hold, "action": action, "decides": "cto"}
    if max_age is not None:
        condition["max_age"] = max_age
    step: dict[str, Any] = {"title": "Deploy", "at": "T-0", "watch": ["watched"]}
    if gate:
        step["gate"] = ["probe"]
    doc: dict[str, Any] = {"name": f"Fault: {name}", "roles": {"cto": "CTO"}}
    if sources:
        doc["sources"] = sources
    doc |= {
        "checks": {"probe": {**check, **POLL}},
        "stop_conditions": [condition],
        "steps": [step, {"title": "Verify", "at": "T+10m"}],
    }
    if rollback:
        doc["rollback"] = [{"title": "Roll back the release"}]
    return doc


def parse(doc: dict[str, Any], name: str) -> Any:
    from runbooks.loader import parse_runbook

    return parse_runbook(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), f"{name}.yaml")


def write_runbook(folder: Path, doc: dict[str, Any], slug: str) -> Path:
    path = folder / f"{slug}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


# -- looking at a session's state -------------------------------------------------


def describe(state: Any, conditions: tuple[str, ...] = ("watched",)) -> str:
    parts = [state.verdict.value]
    for cid in conditions:
        view = state.conditions.get(cid)
        if view is not None:
            parts.append(f"{cid} {view.state.value}: {view.reason}")
    if state.log_problem:
        parts.append(state.log_problem)
    return "; ".join(parts)[:160]


def greens(state: Any, conditions: tuple[str, ...]) -> str:
    from checks.status import ConditionState, Verdict

    found = [f"{cid} ok" for cid in conditions if state.conditions[cid].state is ConditionState.OK]
    if state.verdict is Verdict.CONTINUE:
        found.append("CONTINUE")
    return ", ".join(found)


def polled_after(state: Any, check_id: str, instant: float) -> bool:
    """Whether the check's newest reading came from a poll that started after wall time ``instant``."""
    view = state.checks.get(check_id)
    return bool(view and view.observed_at and view.observed_at.timestamp() >= instant + TIMEOUT + SLACK)


def healthy(state: Any, conditions: tuple[str, ...]) -> bool:
    from checks.status import ConditionState, Verdict

    return state.verdict is Verdict.CONTINUE and all(state.conditions[c].state is ConditionState.OK for c in conditions)


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait (bounded) for ``predicate``; ``NotInjected`` when it never holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise NotInjected(f"{what} within {timeout:g} s")
        await asyncio.sleep(SAMPLE)


class Live:
    """A real ``LiveBackend`` on a fresh log in ``folder``: ``async with Live(...) as backend``."""

    def __init__(self, folder: Path, doc: dict[str, Any], slug: str, *, db_folder: Path | None = None) -> None:
        self.runbook = parse(doc, slug)
        self.path = (db_folder or folder) / f"{slug}.cutover.db"
        self.backend: Any = None

    async def __aenter__(self) -> Any:
        from cutover_tui.live import LiveBackend
        from cutover_tui.store import SessionLog

        log = SessionLog.create(self.path, self.runbook, operator="bench")
        self.backend = LiveBackend(self.runbook, log, actor="bench")
        await self.backend.start(lambda state: None)
        return self.backend

    async def __aexit__(self, *exc: object) -> None:
        await self.backend.stop()


async def live_fault(
    lab: Lab,
    name: str,
    doc: dict[str, Any],
    inject: Callable[[], Any],
    *,
    conditions: tuple[str, ...] = ("watched",),
    shown: Callable[[Any], bool] | None = None,
    budget: float = POLL_BUDGET,
    budget_text: str = POLL_TEXT,
    informed_by_poll: bool = True,
    settle: float = SETTLE,
) -> Shown:
    """A live session on ``doc``: healthy first, then ``inject()``, then watched."""
    slug = lab.slug(name)
    async with Live(lab.folder, doc, slug) as backend:
        await until(lambda: healthy(backend.state(), conditions), 20, "the session never showed the service healthy")
        done = inject()
        if asyncio.iscoroutine(done):
            await done
        injected, wall = time.monotonic(), time.time()

        def look() -> Look:
            state = backend.state()
            return Look(
                greens(state, conditions),
                shown(state) if shown is not None else True,
                describe(state, conditions),
                polled_after(state, "probe", wall) if informed_by_poll else None,
            )

        return await observe(name, look, injected, budget, budget_text, settle=settle)


# -- the lab: what the faults share -------------------------------------------------


@dataclass
class Lab:
    """Shared servers and the scratch folder."""

    folder: Path
    kit: Any  # tests/fault_kit.py
    canned: Any  # tests/canned_server.py
    prometheus: Any = None  # benchmarks.servers.PrometheusProcess
    prometheus_target: Any = None  # the Target it scrapes
    alertmanager: Any = None  # benchmarks.fault_servers.AlertmanagerProcess
    ready: dict[str, asyncio.Event] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # a shared server that failed to start -> why
    _slugs: set[str] = field(default_factory=set)

    def slug(self, name: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "fault"
        slug, n = base, 1
        while slug in self._slugs:
            n += 1
            slug = f"{base}-{n}"
        self._slugs.add(slug)
        return slug

    async def need(self, server: str) -> None:
        await self.ready[server].wait()
        if server in self.problems:
            raise NotInjected(self.problems[server])


@dataclass(frozen=True)
class Fault:
    name: str
    run: Callable[[Lab], Awaitable[Shown]]
    needs: tuple[str, ...] = ()  # prometheus, alertmanager, tmux, faketime, root
    quick: bool = False
    alone: bool = False  # a Textual app: runs by itself, as a dashboard has its process to itself
    last: bool = False  # takes a shared server down: runs after every other fault


FAULTS: list[Fault] = []


def fault(name: str, *, needs: tuple[str, ...] = (), quick: bool = False, alone: bool = False, last: bool = False):
    def register(function: Callable[[Lab, str], Awaitable[Shown]]) -> Callable[[Lab, str], Awaitable[Shown]]:
        FAULTS.append(Fault(name, lambda lab: function(lab, name), needs, quick, alone, last))
        return function

    return register


def target() -> Any:
    """The scripted service, not yet started (``with target() as service`` starts and stops it)."""
    from checks.target import Target

    return Target()


# -- http checks against the scripted target ---------------------------------------------


def _health(url: str) -> dict[str, Any]:
    return {"http": f"{url}/health", "expect_status": 200}


@fault("http: a proxy answers 502 with its HTML page", quick=True)
async def http_502(lab: Lab, name: str) -> Shown:
    with target() as service:
        doc = runbook_doc(name, _health(service.url), action="halt")
        return await live_fault(lab, name, doc, lambda: service.set(fault="html_502"))


@fault("http: connection refused (the service is gone)", quick=True)
async def http_refused(lab: Lab, name: str) -> Shown:
    with target() as service:
        doc = runbook_doc(name, _health(service.url), action="halt")
        return await live_fault(lab, name, doc, lambda: asyncio.to_thread(service.stop))


@fault("http: the service hangs (every poll times out)", quick=True)
async def http_timeout(lab: Lab, name: str) -> Shown:
    with target() as service:
        doc = runbook_doc(name, _health(service.url), action="halt")
        return await live_fault(lab, name, doc, lambda: service.set(delay=30))


@fault("http: a poll slower than its interval (answers after 0.75 s)")
async def http_slow(lab: Lab, name: str) -> Shown:
    with target() as service:
        doc = runbook_doc(name, _health(service.url), action="halt")
        return await live_fault(lab, name, doc, lambda: service.set(delay=1.5 * INTERVAL))


@fault("http: the connection closes without an answer")
async def http_drop(lab: Lab, name: str) -> Shown:
    with target() as service:
        doc = runbook_doc(name, _health(service.url), action="halt")
        return await live_fault(lab, name, doc, lambda: service.set(fault="drop"))


@fault("http: a truncated JSON body (json_path)")
async def http_truncated(lab: Lab, name: str) -> Shown:
    with target() as service:
        doc = runbook_doc(name, {"http": f"{service.url}/health", "json_path": "auth_error_ratio"}, when="> 1%")
        return await live_fault(lab, name, doc, lambda: service.set(fault="truncated"))


def _canned(lab: Lab) -> Any:
    server = lab.canned.CannedServer()
    server._http.handle_error = lambda request, address: None  # a reset keep-alive connection is routine here
    return server.start()


@fault("http: a JSON field goes missing (pass_when '< 1%')", quick=True)
async def json_missing_below(lab: Lab, name: str) -> Shown:
    server = _canned(lab)
    try:
        server.respond(json.dumps({"status": "ok", "error_ratio": HEALTHY}))
        doc = runbook_doc(name, {"http": f"{server.url}/status", "json_path": "error_ratio", "pass_when": "< 1%"})
        return await live_fault(lab, name, doc, lambda: server.respond(json.dumps({"status": "ok"})))
    finally:
        server.stop()


@fault("http: a JSON field goes missing (when '!= 0')")
async def json_missing_not_equal(lab: Lab, name: str) -> Shown:
    server = _canned(lab)
    try:
        server.respond(json.dumps({"status": "ok", "failed_jobs": 0}))
        doc = runbook_doc(name, {"http": f"{server.url}/status", "json_path": "failed_jobs"}, when="!= 0")
        return await live_fault(lab, name, doc, lambda: server.respond(json.dumps({"status": "ok"})))
    finally:
        server.stop()


# -- Nagios-style commands ------------------------------------------------------------

PLUGIN = """\
#!/bin/sh
# A Nagios-style plugin whose behaviour a file chooses.
case "$(cat "$1")" in
  ok) echo "OK - errors fine | ratio=0.2%;1;2"; exit 0 ;;
  unknown) echo "UNKNOWN - cannot reach the database"; exit 3 ;;
  strange) echo "segfault in plugin"; exit 139 ;;
  hang) exec sleep 30 ;;
  silent) exit 0 ;;
esac
"""


async def command_fault(lab: Lab, name: str, mode: str) -> Shown:
    slug = lab.slug(name)
    plugin, choice = lab.folder / f"{slug}.sh", lab.folder / f"{slug}.mode"
    plugin.write_text(PLUGIN)
    choice.write_text("ok\n")
    doc = runbook_doc(name, {"command": ["/bin/sh", str(plugin), str(choice)], "pass_when": "< 1%"})

    def inject() -> None:
        (lab.folder / f"{slug}.next").write_text(mode + "\n")
        os.replace(lab.folder / f"{slug}.next", choice)

    return await live_fault(lab, name, doc, inject)


@fault("command: exits 3 UNKNOWN", quick=True)
async def command_unknown(lab: Lab, name: str) -> Shown:
    return await command_fault(lab, name, "unknown")


@fault("command: exits 139 (above 3)")
async def command_strange(lab: Lab, name: str) -> Shown:
    return await command_fault(lab, name, "strange")


@fault("command: times out")
async def command_hang(lab: Lab, name: str) -> Shown:
    return await command_fault(lab, name, "hang")


@fault("command: prints nothing (pass_when needs a value)", quick=True)
async def command_silent(lab: Lab, name: str) -> Shown:
    return await command_fault(lab, name, "silent")


# -- the session itself -------------------------------------------------------------------


@fault("the first poll fails (nothing listens)", quick=True)
async def first_poll_fails(lab: Lab, name: str) -> Shown:
    from benchmarks.servers import free_port

    doc = runbook_doc(name, _health(f"http://127.0.0.1:{free_port()}"), action="halt")
    live = Live(lab.folder, doc, lab.slug(name))
    injected = time.monotonic()
    async with live as backend:

        def look() -> Look:
            state = backend.state()
            reason = state.conditions["watched"].reason
            return Look(greens(state, ("watched",)), "not yet polled" not in reason, describe(state), True)

        return await observe(name, look, injected, POLL_BUDGET, f"{POLL_TEXT} (the first poll starts at once)")


@fault("the first poll fails, seen by a follower")
async def first_poll_fails_follow(lab: Lab, name: str) -> Shown:
    from benchmarks.servers import free_port
    from cutover_tui.live import FollowBackend

    doc = runbook_doc(name, _health(f"http://127.0.0.1:{free_port()}"), action="halt")
    live = Live(lab.folder, doc, lab.slug(name))
    injected = time.monotonic()
    async with live as backend:
        follower = FollowBackend(backend.db_path, live.runbook, interval=0.2)
        await follower.start(lambda state: None)
        try:

            def look() -> Look:
                state = follower.state()
                reason = state.conditions["watched"].reason
                return Look(greens(state, ("watched",)), "error" in reason, describe(state), True)

            return await observe(name, look, injected, POLL_BUDGET + 0.2, f"{POLL_TEXT} + a follower's read (0.2 s)")
        finally:
            await follower.stop()


def _scrape(url: str) -> dict[str, Any]:
    return {"scrape": f"{url}/metrics", "metric": "auth_error_ratio"}


@fault("a rollback condition pending (for: 30s)", quick=True)
async def pending(lab: Lab, name: str) -> Shown:
    from checks.status import ConditionState, Verdict

    with target() as service:
        doc = runbook_doc(name, _scrape(service.url), when="> 1%", hold="30s")

        def at_risk(state: Any) -> bool:
            view = state.conditions["watched"]
            return state.verdict is Verdict.AT_RISK and view.state is ConditionState.PENDING and bool(state.at_risk)

        return await live_fault(lab, name, doc, lambda: service.set(auth_error_ratio=BREACH), shown=at_risk)


@fault("rollback mode: the spike recovers while rolling back")
async def rollback_mode(lab: Lab, name: str) -> Shown:
    from checks.status import ConditionState, Verdict
    from cutover_tui.state import StepStatus

    with target() as service:
        doc = runbook_doc(name, _scrape(service.url), when="> 1%", rollback=True)
        async with Live(lab.folder, doc, lab.slug(name)) as backend:
            await until(lambda: healthy(backend.state(), ("watched",)), 20, "the session never showed the service healthy")
            service.set(auth_error_ratio=BREACH)
            await until(lambda: backend.state().conditions["watched"].state is ConditionState.FIRING, 10, "no firing")
            await backend.append("decision", {"decision": "rollback", "reason": "auth errors", "conditions": {},
                                              "verdict": "ROLLBACK"})  # fmt: skip
            await backend.append("rollback_started", {"reason": "auth errors"})
            service.set(auth_error_ratio=HEALTHY)  # the spike recovers as the rollback begins
            injected = time.monotonic()

            def look() -> Look:
                state = backend.state()
                forward = [s for s in state.steps if not s.rollback_plan]
                abandoned = all(s.status is StepStatus.ABANDONED for s in forward)
                text = f"{describe(state)}; forward steps {', '.join(s.status.value for s in forward)}"
                green = "CONTINUE" if state.verdict is Verdict.CONTINUE else ""
                return Look(green, state.verdict is Verdict.ROLLING_BACK and abandoned, text, True)

            def recovered() -> str:
                view = backend.state().conditions["watched"]
                return f"the condition had recovered to {view.state.value} by the end"

            return await observe(name, look, injected, POLL_BUDGET, POLL_TEXT, settle=4 * POLL_BUDGET, note=recovered)


@fault("gate checks go stale (no reading)")
async def gate_stale(lab: Lab, name: str) -> Shown:
    """The real evaluator and reducer, fed real readings of the target until the readings stop."""
    from checks.clock import SystemClock
    from checks.conditions import ConditionEvaluator
    from checks.probes import ProbeContext, run_probe
    from checks.scheduler import TICK_INTERVAL
    from checks.status import Verdict
    from checks.verdict import check_stale_after
    from cutover_tui.reducer import Reducer
    from cutover_tui.state import LiveTruth
    from cutover_tui.store import SessionLog

    with target() as service:
        doc = runbook_doc(name, _health(service.url), action="halt", gate=True)
        runbook = parse(doc, "gate")
        with SessionLog.create(lab.folder / f"{lab.slug(name)}.cutover.db", runbook, operator="bench") as log:
            log.append("step_started", {"step": "deploy"})
            events = log.events()
        reducer = Reducer(runbook)
        for event in events:
            reducer.apply(event)
        check, clock = runbook.checks["probe"], SystemClock()
        evaluator = ConditionEvaluator(runbook.stop_conditions[0], check, clock)
        ctx = ProbeContext(runbook)
        origin = clock.monotonic()  # as the poller: polls due from here every interval, the staleness tick every second
        try:
            for n in range(3):  # polls on their interval ...
                due = origin + n * INTERVAL
                await asyncio.sleep(max(0.0, due - clock.monotonic()))
                reading = await run_probe(check, ctx)
                evaluator.observe(reading, due=due)
        finally:
            await ctx.aclose()
        # ... then the readings stop; time goes on, and the tick still comes each second.
        stale_after = check_stale_after(check)
        next_tick = [origin + TICK_INTERVAL]

        def state() -> Any:
            while clock.monotonic() >= next_tick[0]:
                evaluator.tick()
                next_tick[0] += TICK_INTERVAL
            age = clock.monotonic() - reading.monotonic
            truth = LiveTruth(statuses={"watched": evaluator.status}, readings={"probe": (reading, age)})
            return reducer.state(now=clock.now(), live=truth), age

        first, _ = state()
        if not healthy(first, ("watched",)) or dict(first.step("deploy").gate).get("probe") != "pass":
            raise NotInjected(f"the gate never passed before its readings stopped: {describe(first)}")

        def look() -> Look:
            now, age = state()
            gate = dict(now.step("deploy").gate).get("probe")
            shown = gate == "stale" and now.verdict is Verdict.CANNOT_VERIFY
            # Past the rule, the gate, the verdict and the condition's card should all say so.
            return Look(greens(now, ("watched",)), shown, f"gate probe {gate}; {describe(now)}", age > stale_after)

        read_at = reading.monotonic - offset_from(clock, time.monotonic)  # stamped on the system clock
        return await observe(name, look, read_at, stale_after + SAMPLE,
                             f"the staleness rule: 2 × interval + timeout = {stale_after:g} s")  # fmt: skip


def _has_root() -> bool:
    return os.geteuid() == 0


@asynccontextmanager
async def _disk_filled(lab: Lab, name: str, check: Callable[[str], dict[str, Any]],
                       **doc_options: Any) -> AsyncIterator[tuple[Any, Any]]:  # fmt: skip
    """A live session watching ``check`` of a target, its log on a tmpfs filled once it shows the service healthy.

    Yields the target and the session's backend; the disk is given back once the block is done.
    """
    slug = lab.slug(name)
    with lab.kit.TmpfsDisk(lab.folder / f"{slug}-disk") as disk, target() as service:
        doc = runbook_doc(name, check(service.url), **doc_options)
        async with Live(lab.folder, doc, slug, db_folder=disk.path) as backend:
            await until(lambda: healthy(backend.state(), ("watched",)), 20, "the session never showed the service healthy")
            disk.fill()
            yield service, backend
            disk.free()


@fault("the disk fills as a rollback condition fires", needs=("root",))
async def disk_full_firing(lab: Lab, name: str) -> Shown:
    from checks.status import ConditionState, Verdict

    async with _disk_filled(lab, name, _scrape, when="> 1%") as (service, backend):
        service.set(auth_error_ratio=BREACH)
        injected, wall = time.monotonic(), time.time()
        banner: list[float] = []

        def look() -> Look:
            state = backend.state()
            if state.log_problem and not banner:
                banner.append(time.monotonic() - injected)
            firing = state.conditions["watched"].state is ConditionState.FIRING and state.verdict is Verdict.ROLLBACK
            return Look(greens(state, ("watched",)), firing, describe(state), polled_after(state, "probe", wall))

        def said() -> str:
            if not banner:
                return "no LOG NOT WRITING banner while watched"
            return f"LOG NOT WRITING banner {banner[0]:.2f} s after the fault"

        return await observe(name, look, injected, POLL_BUDGET, POLL_TEXT, settle=3.0, note=said)


@fault("the disk fills: the log stops being written", needs=("root",))
async def disk_full_log(lab: Lab, name: str) -> Shown:
    from checks.status import Verdict

    async with _disk_filled(lab, name, _health, action="halt") as (_, backend):
        injected = time.monotonic()
        failed: list[float] = []

        def look() -> Look:
            state = backend.state()
            if not backend.log.write_health.ok and not failed:
                failed.append(time.monotonic() - injected)
            shown = state.verdict is Verdict.CANNOT_VERIFY and bool(state.log_problem)
            green = "CONTINUE" if state.verdict is Verdict.CONTINUE else ""
            return Look(green, shown, describe(state), bool(failed))

        def said() -> str:
            return f"the first write failed {failed[0]:.2f} s after the disk filled" if failed else "no write failed"

        return await observe(name, look, injected, 1.0 + SAMPLE, "the heartbeat writes each second", note=said)


# -- through a real Prometheus ----------------------------------------------------------


async def prometheus_fault(lab: Lab, name: str, misbehave: dict[str, Any], *, max_age: str | None = None) -> Shown:
    """A promql check of ``auth_error_ratio`` through a ``PrometheusFront``, which then misbehaves."""
    from benchmarks.fault_servers import PrometheusFront

    await lab.need("prometheus")
    with PrometheusFront(lab.prometheus.url) as front:
        doc = runbook_doc(name, {"promql": "auth_error_ratio"}, when="> 1%", max_age=max_age,
                          sources={"prometheus": {"kind": "prometheus", "url": front.url}})  # fmt: skip
        return await live_fault(lab, name, doc, lambda: front.set(**misbehave))


PROMETHEUS_FAULTS: dict[str, dict[str, Any]] = {
    "Prometheus: 400 bad_data (a query it cannot parse)": {"query": "auth_error_ratio{"},
    "Prometheus: 422 execution error (many-to-many match)": {
        "query": 'auth_error_ratio * on() (auth_error_ratio or label_replace(auth_error_ratio, "copy", "1", "", ""))'
    },
    "Prometheus: 503 timeout (its JSON error body)": {
        "canned": (503, "application/json",
                   b'{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}')  # fmt: skip
    },
    "Prometheus: a proxy's 503 in plain text": {
        "canned": (503, "text/plain", b"upstream connect error or disconnect/reset before headers. reset reason: overflow")
    },
    "Prometheus: a proxy's HTML page (200)": {
        "canned": (200, "text/html", b"<html><head><title>Sign in</title></head><body>Single sign-on</body></html>")
    },
    "Prometheus: truncated JSON": {"truncate": True},
    "Prometheus: 200 with status error": {
        "canned": (200, "application/json", b'{"status":"error","errorType":"internal","error":"store unavailable"}')
    },
    "Prometheus: warnings beside the data (partial)": {"warnings": ("remote store eu-1 unreachable: partial data",)},
    "Prometheus: an empty vector": {"query": 'auth_error_ratio{job="gone"}'},
    "Prometheus: NaN": {"query": "(auth_error_ratio - auth_error_ratio) / 0"},
    "Prometheus: +Inf": {"query": "auth_error_ratio / 0"},
    "Prometheus: two series where one was expected": {
        "query": 'auth_error_ratio or label_replace(auth_error_ratio, "replica", "b", "", "")'
    },
    "Prometheus: a matrix result": {"query": "auth_error_ratio[5s]"},
    "Prometheus: a string result": {"query": '"0.002"'},
}

for _name, _misbehave in PROMETHEUS_FAULTS.items():

    async def _run(lab: Lab, name: str, misbehave: dict[str, Any] = _misbehave) -> Shown:
        return await prometheus_fault(lab, name, misbehave)

    fault(_name, needs=("prometheus",))(_run)


@fault("Prometheus: samples older than max_age (a lagging API)", needs=("prometheus",))
async def prometheus_old(lab: Lab, name: str) -> Shown:
    return await prometheus_fault(lab, name, {"lag": LAG}, max_age="3s")


@fault("Prometheus: a gate check's samples older than its max_age", needs=("prometheus",))
async def prometheus_old_gate(lab: Lab, name: str) -> Shown:
    """A check that only gates a step (no stop condition reads it), its samples older than the check's max_age."""
    from benchmarks.fault_servers import PrometheusFront
    from checks.status import Verdict

    await lab.need("prometheus")
    with PrometheusFront(lab.prometheus.url) as front:
        doc = runbook_doc(name, {"promql": "auth_error_ratio", "source": "direct"}, when="> 1%", sources={
            "direct": {"kind": "prometheus", "url": lab.prometheus.url},
            "fronted": {"kind": "prometheus", "url": front.url},
        })  # fmt: skip
        doc["checks"]["gated"] = {"promql": "auth_error_ratio", "source": "fronted", "pass_when": "< 1%",
                                  "max_age": "3s", **POLL}  # fmt: skip
        doc["steps"][0]["gate"] = ["gated"]
        async with Live(lab.folder, doc, lab.slug(name)) as backend:
            await backend.append("step_started", {"step": "deploy"})

            def gate(state: Any) -> str:
                return dict(state.step("deploy").gate).get("gated", "")

            await until(lambda: healthy(backend.state(), ("watched",)) and gate(backend.state()) == "pass", 20,
                        "the session never showed the gate passing")  # fmt: skip
            front.set(lag=LAG)
            injected, wall = time.monotonic(), time.time()

            def look() -> Look:
                state = backend.state()
                marker = gate(state)
                green = [text for text, bad in ((f"gate gated {marker}", marker == "pass"),
                                                ("CONTINUE", state.verdict is Verdict.CONTINUE)) if bad]  # fmt: skip
                return Look(", ".join(green), True, f"gate gated {marker}; {describe(state)}",
                            polled_after(state, "gated", wall))  # fmt: skip

            return await observe(name, look, injected, POLL_BUDGET, POLL_TEXT)


#: The lagging API answers for this many seconds ago (Prometheus has that much history before the faults begin).
LAG = 6.0
QUANTILE = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[4s])))"


@fault("Prometheus: p95 in the +Inf bucket", needs=("prometheus",))
async def quantile_inf(lab: Lab, name: str) -> Shown:
    import httpx

    await lab.need("prometheus")
    doc = runbook_doc(name, {"promql": QUANTILE}, when="> 1s",
                      sources={"prometheus": {"kind": "prometheus", "url": lab.prometheus.url}})  # fmt: skip
    async with Live(lab.folder, doc, lab.slug(name)) as backend, httpx.AsyncClient(timeout=2) as client:
        await until(lambda: healthy(backend.state(), ("watched",)), 20, "the session never showed the service healthy")
        lab.prometheus_target.set(latency_p95=2.0)
        injected = time.monotonic()
        in_prometheus: list[float] = []  # wall time Prometheus itself first answered the top bucket

        async def look() -> Look:
            if not in_prometheus:
                answer = (await client.get(f"{lab.prometheus.url}/api/v1/query", params={"query": QUANTILE})).json()
                result = answer["data"]["result"]
                if result and float(result[0]["value"][1]) >= 1.0:
                    in_prometheus.append(time.time())
            state = backend.state()
            informed = bool(in_prometheus) and polled_after(state, "probe", in_prometheus[0])
            return Look(greens(state, ("watched",)), True, describe(state), informed)

        try:
            return await observe(name, look, injected, SCRAPE + POLL_BUDGET, f"a scrape ({SCRAPE:g} s) + {POLL_TEXT}")
        finally:
            lab.prometheus_target.set(latency_p95=0.18)


@fault("Prometheus: down (killed)", needs=("prometheus",), last=True)
async def prometheus_down(lab: Lab, name: str) -> Shown:
    await lab.need("prometheus")
    doc = runbook_doc(name, {"promql": "auth_error_ratio"}, when="> 1%",
                      sources={"prometheus": {"kind": "prometheus", "url": lab.prometheus.url}})  # fmt: skip
    return await live_fault(lab, name, doc, lambda: asyncio.to_thread(lab.prometheus.stop))


# -- through a real Alertmanager --------------------------------------------------------


def _alerts_doc(lab: Lab, name: str, slug: str, **spec: Any) -> dict[str, Any]:
    return runbook_doc(name, {"alerts": {"severity": "critical", "fault": slug}, **spec},
                       sources={"alertmanager": {"kind": "alertmanager", "url": lab.alertmanager.url}})  # fmt: skip


def _alert(alertname: str, **labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": alertname, **labels}, "annotations": {"summary": f"{alertname} (fault benchmark)"}}


async def _critical_alert_fault(lab: Lab, name: str, slug: str, alertname: str, **labels: str) -> Shown:
    """A session on the critical alerts labelled ``fault=slug``; the fault posts ``alertname`` so labelled (and ``labels``)."""
    doc = _alerts_doc(lab, name, slug)
    return await live_fault(lab, name, doc, lambda: asyncio.to_thread(
        lab.alertmanager.post, _alert(alertname, severity="critical", fault=slug, **labels)))  # fmt: skip


@fault("Alertmanager: a critical alert fires", needs=("alertmanager",))
async def alert_fires(lab: Lab, name: str) -> Shown:
    await lab.need("alertmanager")
    return await _critical_alert_fault(lab, name, lab.slug(name), "PaymentsDown")


@fault("Alertmanager: a critical alert silenced (a leftover maintenance silence)", needs=("alertmanager",))
async def alert_silenced(lab: Lab, name: str) -> Shown:
    await lab.need("alertmanager")
    slug = lab.slug(name)
    await asyncio.to_thread(lab.alertmanager.silence, {"fault": slug}, comment="maintenance window (left over)")
    return await _critical_alert_fault(lab, name, slug, "PaymentsDown")


@fault("Alertmanager: a critical alert inhibited (by an alert the check does not match)", needs=("alertmanager",))
async def alert_inhibited(lab: Lab, name: str) -> Shown:
    await lab.need("alertmanager")
    slug = lab.slug(name)
    manager = lab.alertmanager
    await asyncio.to_thread(manager.post, _alert("ClusterMaintenance", severity="info", cluster=slug))
    await until(lambda: bool(manager.alerts(alertname="ClusterMaintenance", cluster=slug)), 10, "no ClusterMaintenance")
    await asyncio.sleep(1.0)  # the inhibitor learns its source alerts from Alertmanager's own subscription
    return await _critical_alert_fault(lab, name, slug, "CheckoutErrors", cluster=slug)


@fault("Alertmanager: the watchdog alert stops", needs=("alertmanager",))
async def watchdog_missing(lab: Lab, name: str) -> Shown:
    await lab.need("alertmanager")
    slug = lab.slug(name)
    watchdog = f"Watchdog-{slug}"
    manager = lab.alertmanager
    await asyncio.to_thread(manager.post, _alert(watchdog, severity="none"))
    doc = _alerts_doc(lab, name, slug, watchdog=watchdog)
    ended = datetime.now(timezone.utc) - timedelta(seconds=1)
    resolved = {**_alert(watchdog, severity="none"), "endsAt": ended.isoformat()}
    return await live_fault(lab, name, doc, lambda: asyncio.to_thread(manager.post, resolved))


@fault("Alertmanager: down (killed)", needs=("alertmanager",), last=True)
async def alertmanager_down(lab: Lab, name: str) -> Shown:
    await lab.need("alertmanager")
    doc = _alerts_doc(lab, name, lab.slug(name))
    return await live_fault(lab, name, doc, lambda: asyncio.to_thread(lab.alertmanager.kill))


# -- the headless gate: cutover-tui check -------------------------------------------------

_PROGRESS = re.compile(r"^\d\d:\d\d:\d\dZ\s+(?P<id>\S+): (?P<state>\w+)\s*(?P<reason>.*)$")


async def check_fault(
    lab: Lab, name: str, doc: dict[str, Any], inject: Callable[[], Any], *, duration: str, env: dict[str, str] | None = None,
    budget: float = POLL_BUDGET, budget_text: str = POLL_TEXT,
) -> tuple[Shown, list[tuple[float, str]], str]:
    """``cutover-tui check RUNBOOK --for DURATION``: its progress lines after the fault, and its verdict.

    Returns what showed, the (seconds after the fault, state) of each progress line, and the verdict.
    """
    path = write_runbook(lab.folder, doc, lab.slug(name))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cutover_tui", "check", str(path), "--for", duration,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=lab.folder,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    states: list[tuple[float, str]] = []
    current = ["unknown"]
    injected = [0.0]

    async def read() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            match = _PROGRESS.match(line)
            if match and match["id"] == "watched":
                current[0] = match["state"]
                if injected[0]:
                    states.append((time.monotonic() - injected[0], match["state"]))

    reader = asyncio.create_task(read())
    try:
        await until(lambda: current[0] == "ok", 20, f"check never showed the service healthy ({lines[-3:]})")
        done = inject()
        if asyncio.iscoroutine(done):
            await done
        injected[0] = time.monotonic()

        def look() -> Look:
            verdict = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("VERDICT:")), "")
            green = "watched ok" if current[0] == "ok" else "CONTINUE" if verdict == "CONTINUE" else ""
            return Look(green, current[0] != "ok", f"watched {current[0]}" + (f"; VERDICT {verdict}" if verdict else ""))

        shown = await observe(name, look, injected[0], budget, budget_text)
        await asyncio.wait_for(process.wait(), 60)
        await asyncio.wait_for(reader, 5)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        reader.cancel()
    verdict = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("VERDICT:")), "none")
    if verdict == "CONTINUE":
        shown.green = shown.green or f"check's verdict CONTINUE (exit {process.returncode})"
        shown.green_for = shown.green_for or SAMPLE
    return shown, states, f"{verdict} (exit {process.returncode})"


#: The timeout of the checks ``check`` runs once.
CHECK_TIMEOUT = 3.0


async def check_once(lab: Lab, path: Path) -> tuple[float, str, int]:
    """``cutover-tui check RUNBOOK --json`` once: seconds it took, its verdict, its exit status."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cutover_tui", "check", str(path), "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=lab.folder,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    try:
        document = json.loads(out)
        verdict = document["verdict"]
        if verdict != "CONTINUE":
            verdict += f" ({'; '.join(document.get('reasons', []))}: " + "; ".join(
                f"{row['id']} {row['outcome']} {row['detail']}" for row in document["checks"]) + ")"  # fmt: skip
    except (ValueError, KeyError):
        verdict = f"no verdict ({out[-200:]!r})"
    return time.monotonic() - started, verdict, process.returncode or 0


async def check_gate_fault(lab: Lab, name: str, misbehave: dict[str, Any]) -> Shown:
    """A headless gate on a check that only gates a step, read through a ``PrometheusFront``: healthy, then faulty.

    ``check`` answers when it exits, so the time to show is its run time, and
    its budget the same run's time when healthy plus one timeout.
    """
    from benchmarks.fault_servers import PrometheusFront

    await lab.need("prometheus")
    with PrometheusFront(lab.prometheus.url) as front:
        doc = runbook_doc(name, {"promql": "auth_error_ratio", "pass_when": "< 1%", "max_age": "3s"}, when="> 1%",
                          gate=True, sources={"prometheus": {"kind": "prometheus", "url": front.url}})  # fmt: skip
        # One poll per run: a timeout that a fresh process's first request on a loaded machine never reaches.
        doc["checks"]["probe"] |= {"every": "5s", "timeout": f"{CHECK_TIMEOUT:g}s"}
        doc["stop_conditions"] = []
        doc["steps"][0].pop("watch")
        path = write_runbook(lab.folder, doc, lab.slug(name))
        healthy: list[float] = []
        for _ in range(4):  # the slower of two healthy runs (a loaded machine may time a first poll out)
            seconds, verdict, code = await check_once(lab, path)
            if verdict == "CONTINUE":
                healthy.append(seconds)
            if len(healthy) == 2:
                break
        else:
            raise NotInjected(f"check said {verdict} (exit {code}) before the fault")
        healthy_seconds = max(healthy)
        front.set(**misbehave)
        seconds, verdict, code = await check_once(lab, path)
    budget = healthy_seconds + CHECK_TIMEOUT + SAMPLE
    shown = Shown(name, seconds, budget, f"the same check's slower healthy run ({healthy_seconds:.2f} s) + a timeout",
                  first=f"{verdict} (exit {code})")  # fmt: skip
    if verdict.startswith("CONTINUE") or code == 0:
        shown.green, shown.green_for = f"check's verdict {verdict}, exit {code}", SAMPLE
    return shown


@fault("check: a gate check's samples older than its max_age", needs=("prometheus",))
async def check_gate_old(lab: Lab, name: str) -> Shown:
    return await check_gate_fault(lab, name, {"lag": LAG})


@fault("check: a gate check passing on partial data (warnings)", needs=("prometheus",))
async def check_gate_partial(lab: Lab, name: str) -> Shown:
    return await check_gate_fault(lab, name, {"warnings": ("remote store eu-1 unreachable: partial data",)})


@fault("check: a rollback condition pending (the headless gate)")
async def check_pending(lab: Lab, name: str) -> Shown:
    with target() as service:
        doc = runbook_doc(name, _scrape(service.url), when="> 1%", hold="1m")
        shown, _, verdict = await check_fault(lab, name, doc, lambda: service.set(auth_error_ratio=BREACH), duration="5s")
    shown.note = f"check's verdict: {verdict}"
    if not verdict.startswith("AT RISK (exit 4)"):
        shown.green_for, shown.green = max(shown.green_for, SAMPLE), shown.green or f"check's verdict {verdict}, not AT RISK"
    return shown


def _faketime_offset(lab: Lab, slug: str) -> tuple[Path, dict[str, str]]:
    offset = lab.folder / f"{slug}.offset"
    offset.write_text("+0\n")
    return offset, lab.kit.wall_clock_env(offset)


async def check_clock_step(lab: Lab, name: str, step: str) -> Shown:
    slug = lab.slug(name)
    offset, env = _faketime_offset(lab, slug)
    with target() as service:
        doc = runbook_doc(name, _scrape(service.url), when="> 1%", hold="4s")

        def inject() -> None:
            offset.write_text(f"{step}\n")  # NTP steps the clock ...
            service.set(auth_error_ratio=BREACH)  # ... as a real breach starts

        shown, states, verdict = await check_fault(lab, name, doc, inject, duration="30s", env=env)
    fired = next((seconds for seconds, state in states if state == "firing"), None)
    shown.note = f"fired {fired:.2f} s after the breach (for: 4s); verdict {verdict}" if fired else f"never fired; {verdict}"
    if fired is not None and fired < 4.0:
        shown.note += " — FIRED EARLY"
    return shown


@fault("check: the wall clock steps back 10 min as a breach starts", needs=("faketime",))
async def check_clock_back(lab: Lab, name: str) -> Shown:
    return await check_clock_step(lab, name, "-10m")


@fault("check: the wall clock steps forward 10 min as a breach starts", needs=("faketime",))
async def check_clock_forward(lab: Lab, name: str) -> Shown:
    return await check_clock_step(lab, name, "+10m")


# -- cutover-tui run in a real terminal ----------------------------------------------------

VERDICT_WORDS = {
    "✔ CONTINUE": "CONTINUE",
    "⚠ AT RISK": "AT RISK",
    "? CANNOT VERIFY": "CANNOT VERIFY",
    "■ HALT": "HALT",
    "✖ ROLLBACK": "ROLLBACK",
    "↺ ROLLING BACK": "ROLLING BACK",
}
#: The dashboard repaints at most twice a second.
REPAINT = 0.5


def screen_verdict(screen: str) -> str:
    return next((word for label, word in VERDICT_WORDS.items() if label in screen), "")


async def wait_screen(terminal: Any, predicate: Callable[[str], bool], timeout: float, what: str) -> str:
    deadline = time.monotonic() + timeout
    while True:
        screen = await asyncio.to_thread(terminal.screen)
        if predicate(screen):
            return screen
        if time.monotonic() > deadline:
            raise NotInjected(f"{what} within {timeout:g} s; the screen said {screen_verdict(screen) or screen[-300:]!r}")
        await asyncio.sleep(0.1)


def _fault_doc(name: str, url: str, hold: str) -> dict[str, Any]:
    return runbook_doc(name, _scrape(url), when="> 1%", hold=hold)


class SteppedClock(SystemClock):
    """The system's clocks with the wall clock stepped by ``offset`` seconds, as NTP or a laptop resume steps it.

    Monotonic time is left alone. It is a ``SystemClock`` to the poller, which
    then schedules on the loop's own (monotonic) timers as it does for real.
    """

    offset = 0.0

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=self.offset)


async def app_clock_step(lab: Lab, name: str, step: float) -> Shown:
    """The dashboard itself (``App.run_test``) on a live session whose wall clock steps as a breach starts."""
    with target() as service:
        return await _app_clock_step(lab, name, service, step)


async def _app_clock_step(lab: Lab, name: str, service: Any, step: float) -> Shown:
    from checks.status import ConditionState, Verdict
    from cutover_tui.app import make_app
    from cutover_tui.live import LiveBackend
    from cutover_tui.store import SessionLog
    from cutover_tui.widgets.verdict_badge import VerdictBadge

    slug, clock = lab.slug(name), SteppedClock()
    runbook = parse(_fault_doc(name, service.url, "4s"), slug)
    log = SessionLog.create(lab.folder / f"{slug}.cutover.db", runbook, operator="bench", clock=clock)
    app = make_app(LiveBackend(runbook, log, actor="bench", clock=clock))
    async with app.run_test(size=(120, 36)):
        badge = app.query_one(VerdictBadge)
        await until(lambda: badge.verdict is Verdict.CONTINUE and healthy(app.session, ("watched",)), 20,
                    "the dashboard never showed CONTINUE")  # fmt: skip
        clock.offset = step  # NTP steps the clock ...
        service.set(auth_error_ratio=BREACH)  # ... as a real breach starts
        injected = time.monotonic()
        fired: list[float] = []

        def look() -> Look:
            shown, view = badge.verdict, app.session.conditions["watched"]
            if shown is Verdict.ROLLBACK and not fired:
                fired.append(time.monotonic() - injected)
            green = [text for text, bad in (("CONTINUE on the screen", shown is Verdict.CONTINUE),
                                            ("watched ok", view.state is ConditionState.OK)) if bad]  # fmt: skip
            return Look(", ".join(green), shown in (Verdict.AT_RISK, Verdict.ROLLBACK),
                        f"the screen says {shown.value}; watched {view.state.value}: {view.reason}")  # fmt: skip

        def said() -> str:
            if not fired:
                return "the screen never said ROLLBACK while watched"
            return f"the screen said ROLLBACK {fired[0]:.2f} s after the breach (for: 4s)" + (
                " — FIRED EARLY" if fired[0] < 4.0 else "")  # fmt: skip

        return await observe(name, look, injected, POLL_BUDGET + REPAINT, f"{POLL_TEXT} + a repaint ({REPAINT:g} s)",
                             settle=5.0, note=said)  # fmt: skip


@fault("dashboard: the wall clock steps back 10 min as a breach starts", alone=True)
async def app_clock_back(lab: Lab, name: str) -> Shown:
    return await app_clock_step(lab, name, -600.0)


@fault("dashboard: the wall clock steps forward 10 min as a breach starts", alone=True)
async def app_clock_forward(lab: Lab, name: str) -> Shown:
    return await app_clock_step(lab, name, 600.0)


async def watch_follower(name: str, db: Path, runbook: Any, stop: Callable[[], None]) -> Shown:
    """A ``FollowBackend`` of ``db``: healthy first, then ``stop()`` the writer, then watched."""
    from checks.status import ConditionState, Verdict
    from cutover_tui.live import WRITER_SILENCE_SECONDS, FollowBackend

    follower = FollowBackend(db, runbook, interval=0.5)
    await follower.start(lambda state: None)
    try:
        await until(lambda: healthy(follower.state(), ("watched",)), 30, "the follower never showed the service healthy")
        stop()
        injected = time.monotonic()

        def look() -> Look:
            state = follower.state()
            shown = state.verdict is Verdict.CANNOT_VERIFY and state.writer_stopped_at is not None and all(
                view.state is ConditionState.STALE for view in state.conditions.values())  # fmt: skip
            return Look(greens(state, ("watched",)), shown, describe(state))

        budget = WRITER_SILENCE_SECONDS + follower.interval + SAMPLE
        return await observe(name, look, injected, budget, f"the writer-silence rule ({WRITER_SILENCE_SECONDS:g} s)"
                             f" + a follower's read ({follower.interval:g} s)")  # fmt: skip
    finally:
        await follower.stop()


@fault("follow: the writer is killed (kill -9)", needs=("tmux",))
async def follow_killed(lab: Lab, name: str) -> Shown:
    from runbooks import load_runbook

    slug = lab.slug(name)
    with target() as service:
        path = write_runbook(lab.folder, _fault_doc(name, service.url, "30s"), slug)
        db = lab.folder / f"{slug}.cutover.db"
        with lab.kit.TmuxSession(["run", path, "--db", db, "--as", "bench"]) as terminal:
            await wait_screen(terminal, lambda s: screen_verdict(s) == "CONTINUE", 60, "run never showed CONTINUE")
            return await watch_follower(name, db, load_runbook(path), terminal.kill)


#: A writer without a terminal: the dashboard's ``LiveBackend`` on a new log (tmux resumes a stopped pane at once).
HEADLESS_WRITER = """\
import asyncio, sys
from cutover_tui.live import LiveBackend
from cutover_tui.store import SessionLog
from runbooks import load_runbook

async def main():
    runbook = load_runbook(sys.argv[1])
    backend = LiveBackend(runbook, SessionLog.create(sys.argv[2], runbook, operator="bench"), actor="bench")
    await backend.start(lambda state: None)
    print("writing", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@fault("follow: the writer freezes (SIGSTOP)")
async def follow_frozen(lab: Lab, name: str) -> Shown:
    from runbooks import load_runbook

    slug = lab.slug(name)
    with target() as service:
        path = write_runbook(lab.folder, _fault_doc(name, service.url, "30s"), slug)
        db = lab.folder / f"{slug}.cutover.db"
        writer = await asyncio.create_subprocess_exec(
            sys.executable, "-c", HEADLESS_WRITER, str(path), str(db), cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert writer.stdout is not None
            if (await asyncio.wait_for(writer.stdout.readline(), 60)).strip() != b"writing":
                raise NotInjected("the headless writer did not start")
            return await watch_follower(name, db, load_runbook(path), lambda: os.kill(writer.pid, signal.SIGSTOP))
        finally:
            writer.kill()  # SIGKILL ends a stopped process too
            await writer.wait()


def _logged_states(db: Path) -> dict[str, tuple[str, datetime]]:
    """The latest logged state of each condition, with its time (read-only, as a reviewer would)."""
    from cutover_tui.store import SessionLog

    if not db.exists():
        return {}
    try:
        log = SessionLog.open_readonly(db)
    except Exception:  # the writer is still creating it
        return {}
    try:
        return {e.payload["condition"]: (e.payload["state"], e.ts) for e in log.events() if e.kind == "condition_changed"}
    finally:
        log.close()


@fault("kill -9 during a pending hold, then resume", needs=("tmux",))
async def kill_during_hold(lab: Lab, name: str) -> Shown:
    from checks.status import ConditionState, Verdict
    from cutover_tui.live import LiveBackend
    from cutover_tui.store import SessionLog
    from runbooks import load_runbook

    slug = lab.slug(name)
    with target() as service:
        service.set(auth_error_ratio=BREACH)
        path = write_runbook(lab.folder, _fault_doc(name, service.url, "60s"), slug)
        runbook = load_runbook(path)
        db = lab.folder / f"{slug}.cutover.db"
        with lab.kit.TmuxSession(["run", path, "--db", db, "--as", "bench"]) as terminal:
            await until(lambda: _logged_states(db).get("watched", ("",))[0] == "pending", 30, "the writer never logged pending")
            await asyncio.sleep(3.0)
            terminal.kill()
            killed = datetime.now(timezone.utc)
        await asyncio.sleep(1.0)
        pending_since = _logged_states(db)["watched"][1]
        injected = time.monotonic()
        backend = LiveBackend(runbook, SessionLog.open(db, runbook, operator="bench"), actor="bench")
        await backend.start(lambda state: None)
        try:
            first = backend.state().conditions["watched"]

            def look() -> Look:
                state = backend.state()
                shown = state.verdict is Verdict.AT_RISK and state.conditions["watched"].state is ConditionState.PENDING
                return Look(greens(state, ("watched",)), shown, describe(state), True)

            def said() -> str:
                before = (killed - pending_since).total_seconds()
                return f"hold {before:.1f} s at the kill, {first.breach_held:.1f} s on resume"

            return await observe(name, look, injected, POLL_BUDGET, f"{POLL_TEXT} (resumed from the log at once)", note=said)
        finally:
            await backend.stop()


# -- running them ---------------------------------------------------------------------------


def missing(needs: tuple[str, ...], kit: Any) -> list[str]:
    """The tools among ``needs`` this machine lacks, each with the Debian package (or privilege) that gives it."""
    from benchmarks.fault_servers import AlertmanagerProcess
    from benchmarks.servers import PrometheusProcess

    have = {
        "prometheus": (PrometheusProcess.installed, "Debian package 'prometheus'"),
        "alertmanager": (AlertmanagerProcess.installed, "Debian package 'prometheus-alertmanager'"),
        "tmux": (lambda: shutil.which("tmux") is not None, "Debian package 'tmux'"),
        "faketime": (lambda: kit.libfaketime() is not None, "Debian package 'faketime'"),
        "root": (_has_root, "root, to mount a tmpfs"),
    }
    return [have[need][1] for need in needs if not have[need][0]()]


async def start_servers(lab: Lab, wanted: set[str]) -> None:
    """Start the shared Prometheus (with its target) and Alertmanager in threads; each faults waits on its own."""
    from benchmarks.fault_servers import AlertmanagerProcess
    from benchmarks.servers import PrometheusProcess

    async def prometheus() -> None:
        try:
            lab.prometheus_target = target().start()
            folder = lab.folder / "prometheus"
            folder.mkdir()
            lab.prometheus = await asyncio.to_thread(PrometheusProcess, folder, lab.prometheus_target.url, interval=SCRAPE)
            await asyncio.sleep(LAG + 1.0)  # history for the lagging API to answer from
        except Exception as failure:  # one missing server must not hide the other faults
            lab.problems["prometheus"] = f"Prometheus did not start: {failure}"
        finally:
            lab.ready["prometheus"].set()

    async def alertmanager() -> None:
        try:
            folder = lab.folder / "alertmanager"
            folder.mkdir()
            lab.alertmanager = await asyncio.to_thread(AlertmanagerProcess, folder)
        except Exception as failure:
            lab.problems["alertmanager"] = f"Alertmanager did not start: {failure}"
        finally:
            lab.ready["alertmanager"].set()

    for server, start in (("prometheus", prometheus), ("alertmanager", alertmanager)):
        lab.ready[server] = asyncio.Event()
        if server in wanted:
            asyncio.get_running_loop().create_task(start())
        else:
            lab.problems[server] = f"{server} not wanted"
            lab.ready[server].set()


def stop_servers(lab: Lab) -> None:
    if lab.prometheus is not None:
        lab.prometheus.stop()
    if lab.prometheus_target is not None:
        lab.prometheus_target.stop()
    if lab.alertmanager is not None:
        lab.alertmanager.stop()


async def run_faults(faults: list[Fault], lab: Lab, concurrency: int) -> tuple[list[Shown], list[str]]:
    """Every fault (apps one by one after the others, those taking a server down last); what each showed, and the
    faults not injected and why."""
    results: list[Shown] = []
    skipped: list[str] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(item: Fault) -> None:
        async with gate:
            started = time.monotonic()
            try:
                shown = await asyncio.wait_for(item.run(lab), 120)
            except NotInjected as why:
                skipped.append(f"{item.name}: not injected: {why}")
                print(f"  not injected  {item.name}: {why}", flush=True)
                return
            except Exception as failure:  # a broken fault must not hide the others
                detail = "".join(traceback.format_exception_only(failure)).strip()
                skipped.append(f"{item.name}: failed to run: {detail}")
                print(f"  FAILED TO RUN  {item.name}: {detail}", file=sys.stderr, flush=True)
                traceback.print_exc()
                return
            shown.note = (shown.note + "; " if shown.note else "") + f"{time.monotonic() - started:.1f} s in all"
            results.append(shown)
            print(shown.line(), flush=True)

    await asyncio.gather(*(one(item) for item in faults if not item.alone and not item.last))
    for item in faults:
        if item.alone and not item.last:
            await one(item)
    await asyncio.gather(*(one(item) for item in faults if item.last))
    order = {item.name: n for n, item in enumerate(faults)}
    results.sort(key=lambda shown: order[shown.name])
    return results, skipped


async def main(quick: bool) -> tuple[list[Shown], list[str], list[str]]:
    kit = _tests_module("fault_kit")
    canned = _tests_module("canned_server")
    chosen = [item for item in FAULTS if item.quick or not quick]
    unavailable: list[str] = []
    runnable: list[Fault] = []
    for item in chosen:
        lacking = missing(item.needs, kit)
        if lacking:
            unavailable.append(f"{item.name} (needs {', '.join(lacking)})")
        else:
            runnable.append(item)
    folder = Path(tempfile.mkdtemp(prefix="cutover-bench-faults-"))
    lab = Lab(folder, kit, canned)
    try:
        await start_servers(lab, {need for item in runnable for need in item.needs})
        results, skipped = await run_faults(runnable, lab, len(runnable) if quick else CONCURRENCY)
    finally:
        await asyncio.to_thread(stop_servers, lab)
        shutil.rmtree(folder, ignore_errors=True)
    return results, skipped, unavailable


def run(quick: bool) -> Result:
    results, skipped, unavailable = asyncio.run(main(quick))
    injected = len(results)
    lied = [shown for shown in results if shown.lied]
    timed = [shown for shown in results if shown.seconds is not None]
    longest = max(timed, key=lambda shown: shown.seconds, default=None)
    worst = max(timed, key=lambda shown: shown.ratio, default=None)
    worst_ratio = worst.ratio if worst is not None else None
    if any(shown.seconds is None for shown in results):
        worst_ratio = max(worst_ratio or 0.0, 3.0)  # a fault never shown took at least three budgets
    print(f"{injected} faults injected, {len(lied)} shown as OK or CONTINUE", flush=True)
    if longest is not None and worst is not None:
        print(f"longest time to show: {longest.seconds:.2f} s ({longest.name}; budget {longest.budget:.2f} s: "
              f"{longest.budget_text}); worst ratio {worst.ratio:.2f}× ({worst.name})", flush=True)  # fmt: skip
    notes = [
        f"faults: {injected} injected{' (quick: the cheapest)' if quick else ''}, {len(lied)} shown as OK or CONTINUE; "
        "time to show from the injection; each fault's budget is its poll interval + timeout, plus a scrape, a "
        "repaint, the staleness rule or the writer-silence rule where the product's rule adds one",
    ]
    if longest is not None and worst is not None:
        notes.append(f"faults: longest to show {longest.seconds:.2f} s ({longest.name}, budget {longest.budget:.2f} s); "
                     f"worst ratio {worst.ratio:.2f}× ({worst.name})")  # fmt: skip
    for shown in lied:
        notes.append(f"faults: SHOWN AS OK OR CONTINUE: {shown.name}: {shown.green or shown.first}")
    notes += [f"faults: {line}" for line in skipped]
    if unavailable:
        notes.append(f"not available here: {len(unavailable)} fault(s): {'; '.join(unavailable)}")
    return Result(
        [
            Figure("faults_injected", "faults injected", injected, at_least=1 if quick else 25),
            Figure("shown_ok_or_continue", "shown as OK or CONTINUE", len(lied), at_most=0),
            Figure("longest_to_show_s", "longest time to show a fault", longest.seconds if longest else None, "s"),
            Figure("worst_ratio", "worst time to show / its budget", worst_ratio, "×", at_most=1.0),
        ],
        notes,
        {"faults": {shown.name: shown.as_json() for shown in results}, "not_injected": skipped, "unavailable": unavailable},
    )


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    result = run(quick)
    for note in result.notes:
        print(note)
