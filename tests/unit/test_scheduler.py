"""The poller: real polls of a local HTTP target on the event loop's monotonic timers, never overlapping."""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from itertools import pairwise

import pytest

from checks.probes import ProbeContext
from checks.reading import Outcome, Reading
from checks.scheduler import GATHER_SECONDS, HANDOFFS_PER_SECOND, SILENCE_SECONDS, Poller, PollingThread
from checks.status import ConditionState, ConditionStatus
from runbooks.grammar import parse_threshold
from runbooks.loader import parse_runbook
from runbooks.model import Check, HttpSpec, Runbook, StopCondition


def make_runbook(url: str, *, every: float, timeout: float, when: str = "> 2s", for_: float = 0.0) -> Runbook:
    health = Check(id="health", kind="http", spec=HttpSpec(url=f"{url}/health"), every=every, timeout=timeout)
    slow = StopCondition(id="slow_health", check="health", when=parse_threshold(when), for_=for_)
    return Runbook(
        name="poller",
        t0=None,
        timezone=None,
        roles={},
        sources={},
        checks={"health": health},
        stop_conditions=(slow,),
        steps=(),
        rollback=(),
    )


class Recorder:
    """Collects what the poller reports."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self.ticks: list[list[ConditionStatus]] = []
        self._arrived = asyncio.Event()

    def __call__(self, reading: Reading | None, statuses: list[ConditionStatus]) -> None:
        if reading is None:
            self.ticks.append(statuses)
        else:
            self.readings.append(reading)
            self._arrived.set()

    async def count_reached(self, count: int) -> None:
        """Return as soon as ``count`` readings have arrived (the caller runs before any later timer)."""
        while len(self.readings) < count:
            self._arrived.clear()
            await self._arrived.wait()


async def test_a_poll_slower_than_its_interval_never_overlaps_and_skipped_ticks_are_counted(target):
    """Case 7: with polls taking 0.6s every 0.25s, polls never overlap and the skipped ticks are counted."""
    target.set(delay=0.6)
    runbook = make_runbook(target.url, every=0.25, timeout=2.0)
    ctx = ProbeContext(runbook)
    recorder = Recorder()
    poller = Poller(runbook, ctx, recorder)
    await poller.start()
    # Three polls (about 2 s), stopped as the third one's reading arrives, before the next tick can
    # start another: no poll is cut short by the stop, however busy the machine.
    async with asyncio.timeout(20):  # no task in between: the stop runs before any later timer
        await recorder.count_reached(3)
    await poller.stop()
    await ctx.aclose()
    spans = sorted((r.monotonic - r.latency, r.monotonic) for r in recorder.readings)
    assert len(spans) >= 2
    for (_, end), (next_start, _) in pairwise(spans):
        assert next_start >= end
    assert poller.stats.polls == len(spans)
    # Each 0.6s poll spans at least two 0.25s ticks, which are skipped, not queued.
    assert poller.stats.skipped >= 2 * (len(spans) - 1)
    assert all(r.outcome is Outcome.PASS for r in recorder.readings)
    assert len(poller.stats.lateness) == len(spans)  # stopped between polls: none was cut short


async def test_ticks_missed_while_the_loop_was_blocked_are_counted_not_back_filled(target):
    """After the loop is blocked for 1.5s (six 0.25s ticks), one poll runs and the rest are counted skipped."""
    runbook = make_runbook(target.url, every=0.25, timeout=0.2)
    ctx = ProbeContext(runbook)
    poller = Poller(runbook, ctx)
    await poller.start()
    await asyncio.sleep(0.4)
    polls_before, skipped_before = poller.stats.polls, poller.stats.skipped
    time.sleep(1.5)  # blocks the event loop, as a long render would
    await asyncio.sleep(0.15)
    polls_after, skipped_after = poller.stats.polls, poller.stats.skipped
    await poller.stop()
    await ctx.aclose()
    assert polls_after - polls_before <= 2
    assert skipped_after - skipped_before >= 4


async def test_poll_once_polls_every_check_and_evaluates_its_conditions(target):
    """poll_once() gives one reading per check and feeds its conditions."""
    runbook = make_runbook(target.url, every=10, timeout=2, when="> 0s")
    ctx = ProbeContext(runbook)
    recorder = Recorder()
    poller = Poller(runbook, ctx, recorder)
    readings = await poller.poll_once()
    await ctx.aclose()
    assert [r.check_id for r in readings] == ["health"]
    assert recorder.readings == readings
    assert poller.statuses["slow_health"].state is ConditionState.FIRING


async def test_stop_cancels_a_poll_in_flight(target):
    """stop() returns promptly even while a poll waits on a slow target."""
    target.set(delay=3.0)
    runbook = make_runbook(target.url, every=5, timeout=4)
    ctx = ProbeContext(runbook)
    recorder = Recorder()
    poller = Poller(runbook, ctx, recorder)
    await poller.start()
    await asyncio.sleep(0.5)
    await asyncio.wait_for(poller.stop(), timeout=1.0)
    await ctx.aclose()
    target.set(delay=0.0)
    assert recorder.readings == []


async def test_staleness_tick_reports_a_condition_whose_check_was_not_polled_in_time(target):
    """After the loop was starved past 2 × every + timeout, the tick reports the condition stale before any poll lands."""
    runbook = make_runbook(target.url, every=0.4, timeout=0.3)
    ctx = ProbeContext(runbook)
    recorder = Recorder()
    poller = Poller(runbook, ctx, recorder)
    for _ in range(5):  # ok to start from; a busy machine can make a first poll miss its 0.3 s
        await poller.poll_once()
        if poller.statuses["slow_health"].state is ConditionState.OK:
            break
    assert poller.statuses["slow_health"].state is ConditionState.OK
    await poller.start()
    time.sleep(1.6)  # a starved loop: no poll ran for 1.6 s > 2 × 0.4 + 0.3
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    stale_now = poller.statuses["slow_health"].state
    await poller.stop()
    await ctx.aclose()
    states = [s.state for changed in recorder.ticks for s in changed]
    assert ConditionState.STALE in states
    assert stale_now is ConditionState.STALE


async def test_the_hold_counts_from_due_times_so_a_slow_poll_never_delays_firing(target):
    """Polls due every 0.2 s that take 0.15 s each fire `for: 0.6s` at the fourth breach poll, as Prometheus would."""
    target.set(delay=0.15)
    runbook = make_runbook(target.url, every=0.2, timeout=0.18, when="> 0.1s", for_=0.6)
    ctx = ProbeContext(runbook)
    recorder = Recorder()
    poller = Poller(runbook, ctx, recorder)
    await poller.start()
    for _ in range(40):
        await asyncio.sleep(0.05)
        if poller.statuses["slow_health"].state is ConditionState.FIRING:
            break
    await poller.stop()
    await ctx.aclose()
    breaches = [
        r for r in recorder.readings if r.outcome is Outcome.PASS
    ]  # 200s slower than 0.1 s: breaches of `> 0.1s`
    assert poller.statuses["slow_health"].state is ConditionState.FIRING
    assert len(breaches) == 4, [round(r.latency, 3) for r in breaches]


@pytest.mark.parametrize("only", [["health"], []])
async def test_checks_argument_limits_what_is_polled(only):
    """Only the named checks are polled and their conditions evaluated."""
    runbook = make_runbook("http://127.0.0.1:9", every=10, timeout=1)
    ctx = ProbeContext(runbook)
    poller = Poller(runbook, ctx, checks=only)
    await ctx.aclose()
    assert list(poller.checks) == only
    assert list(poller.evaluators) == (["slow_health"] if only else [])


async def test_results_that_end_together_reach_the_caller_in_one_hand_off():
    """A result after a quiet spell waits GATHER_SECONDS for those that end with it (polls due at one instant): one batch, not two."""
    runbook = replace(make_runbook("http://127.0.0.1:9", every=60, timeout=1), checks={}, stop_conditions=())
    contexts: list[ProbeContext] = []
    batches: list[int] = []

    async def setup() -> Poller:
        contexts.append(ProbeContext(runbook))
        return Poller(runbook, contexts[0])

    async def teardown() -> None:
        await contexts[0].aclose()

    polling = PollingThread(setup, lambda batch: batches.append(len(batch)), teardown=teardown)
    poller = await polling.start()
    try:

        def two_results() -> None:  # on the thread's loop: one result now, one 20 ms later
            assert poller.on_result is not None
            poller.on_result(None, [])
            asyncio.get_running_loop().call_later(GATHER_SECONDS * 0.4, poller.on_result, None, [])

        polling.call_soon(two_results)
        for _ in range(40):  # bounded: 2 s
            if batches:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1 / HANDOFFS_PER_SECOND)
    finally:
        await polling.stop()
    assert batches[0] == 2


async def test_a_polling_thread_hands_its_results_to_the_callers_loop_in_order_and_in_batches(target):
    """Polls run on a loop of their own thread; their results reach the caller's loop, in order, a few batches a second."""
    runbook = make_runbook(target.url, every=0.05, timeout=2.0)
    contexts: list[ProbeContext] = []
    batches: list[tuple[float, list[tuple[Reading | None, list[ConditionStatus]]], str]] = []

    async def setup() -> Poller:
        contexts.append(ProbeContext(runbook))
        return Poller(runbook, contexts[0])

    async def teardown() -> None:
        await contexts[0].aclose()

    caller = asyncio.get_running_loop()
    polling = PollingThread(setup, lambda batch: batches.append((caller.time(), batch, threading.current_thread().name)),
                            teardown=teardown, name="polls")  # fmt: skip
    poller = await polling.start()
    try:
        for _ in range(100):  # bounded: until 30 polls reached this loop
            if sum(r is not None for _, batch, _ in batches for r, _ in batch) >= 30:
                break
            await asyncio.sleep(0.05)
        assert polling.alive
    finally:
        running = list(batches)
        await polling.stop()
    readings = [r for _, batch, _ in batches for r, _ in batch if r is not None]
    assert len(readings) >= 30 and readings == sorted(readings, key=lambda r: r.monotonic)
    assert {name for _, _, name in batches} == {threading.current_thread().name}  # handed to this loop's thread
    gaps = [b - a for (a, _, _), (b, _, _) in pairwise(running)]
    assert min(gaps) >= 1 / HANDOFFS_PER_SECOND - 0.02  # a few times a second, however fast the polls come
    assert len(readings) / len(batches) > 1.5  # so a hand-off carries several polls
    assert poller.stats.polls == len(readings)  # the last polls' results were handed off at stop too


@pytest.mark.slow
async def test_a_polling_thread_that_ends_or_hangs_is_not_alive(target):
    """A thread whose loop ended is not alive at once; one whose loop is blocked, once it has been silent SILENCE_SECONDS."""
    runbook = make_runbook(target.url, every=0.2, timeout=2.0)
    contexts: list[ProbeContext] = []

    async def setup() -> Poller:
        contexts.append(ProbeContext(runbook))
        return Poller(runbook, contexts[-1])

    async def teardown() -> None:
        await contexts.pop().aclose()

    hung = PollingThread(setup, lambda batch: None, teardown=teardown)
    await hung.start()
    hung.call_soon(time.sleep, SILENCE_SECONDS + 1.5)  # a probe that blocks its loop
    await asyncio.sleep(1.0)
    assert hung.alive
    await asyncio.sleep(SILENCE_SECONDS + 0.2)
    assert not hung.alive and hung.silent_for() >= SILENCE_SECONDS
    await asyncio.sleep(1.5)  # it wakes up: beating again within a second
    assert hung.alive
    await hung.stop()
    ended = PollingThread(setup, lambda batch: None, teardown=teardown, name="ended-polling")
    await ended.start()
    [thread] = [thread for thread in threading.enumerate() if thread.name == "ended-polling"]
    ended.call_soon(lambda: asyncio.get_running_loop().stop())  # its loop gone, as after a crash in it
    await asyncio.to_thread(thread.join, 5)
    assert not ended.alive
    await ended.stop()


def _promql_runbook(url: str) -> Runbook:
    return parse_runbook(
        "name: poller\n"
        f"sources:\n  prom: {{kind: prometheus, url: '{url}'}}\n"
        "checks:\n  ratio: {promql: auth_error_ratio, every: 2s, timeout: 1.8s}\n"
        "stop_conditions:\n  - {id: ratio_high, check: ratio, when: '> 1%', for: 10s}\n",
        "poller.yaml",
    )


def _answer(value: str, *, behind: float = 0.0) -> str:
    """An instant-query answer stamped now, on a clock ``behind`` seconds behind ours."""
    result = [{"metric": {}, "value": [time.time() - behind, value]}]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})


def _asked_at(seen) -> float | None:
    """The past instant a query asked about (its ``time``), None for a query about now."""
    return float(seen.query["time"][0]) if "time" in seen.query else None


async def _first_pending(server, passing: str, breach: Callable[[], None]) -> tuple[ConditionStatus, Reading]:
    """Poll ``ratio`` from ``server`` (answering ``passing``) until ok, ``breach()``, poll until pending: that status and its reading."""
    runbook = _promql_runbook(server.url)
    server.respond(passing)
    ctx = ProbeContext(runbook)
    results: list[tuple[Reading | None, list[ConditionStatus]]] = []
    poller = Poller(runbook, ctx, lambda reading, statuses: results.append((reading, statuses)))
    await poller.start()
    try:
        for state in (ConditionState.OK, ConditionState.PENDING):
            if state is ConditionState.PENDING:
                breach()
            for _ in range(100):  # bounded: 5 s
                if poller.statuses["ratio_high"].state is state:
                    break
                await asyncio.sleep(0.05)
    finally:
        await poller.stop()
        await ctx.aclose()
    return next((s, r) for r, statuses in results for s in statuses if s.state is ConditionState.PENDING and r)


@pytest.mark.parametrize("past", ["breach", "error"])
async def test_a_promql_breach_is_dated_from_what_the_source_said_in_between_and_never_past_what_it_cannot_tell(
    canned_server, past
):
    """The source says the breach held in between polls: pending from the poll after the last pass; it cannot say: from our look."""

    def breach() -> None:
        canned_server.respond(_answer("0.04"), where=lambda seen: _asked_at(seen) is None)
        if past == "breach":
            canned_server.respond(_answer("0.04"), where=lambda seen: _asked_at(seen) is not None)
        else:
            canned_server.respond("{}", status=503, where=lambda seen: _asked_at(seen) is not None)

    pending, looked = await _first_pending(canned_server, _answer("0.004"), breach)
    assert any(_asked_at(seen) for seen in canned_server.requests), "the source was asked about the instants in between"
    look = looked.observed_at.timestamp() - looked.latency
    if past == "breach":  # every past instant breached: from just after the last pass, ~2 s before our look
        assert 1.8 < look - pending.since.timestamp() < 2.2
    else:  # nothing in between could be told: from the breaching poll's own due instant
        assert abs(look - pending.since.timestamp()) < 0.05


async def test_a_source_whose_clock_is_behind_ours_never_dates_a_breach_before_it_began(canned_server):
    """Prometheus 3 s behind: the instants asked are on its clock, so the hold starts when the breach began, not 3 s (or a poll) before."""
    behind = 3.0
    began = math.inf

    def breach() -> None:
        nonlocal began
        began = time.time()  # on our clock; on the source's, `began - behind`
        server = canned_server
        server.respond(_answer("0.04", behind=behind), where=lambda seen: _asked_at(seen) is None)
        server.respond(
            _answer("0.004", behind=behind), where=lambda seen: (_asked_at(seen) or math.inf) < began - behind
        )
        server.respond(_answer("0.04", behind=behind), where=lambda seen: (_asked_at(seen) or 0) >= began - behind)

    pending, _ = await _first_pending(canned_server, _answer("0.004", behind=behind), breach)
    assert pending.since.timestamp() >= began - 0.01
