"""A stop condition's whole life against a real Prometheus scraping the scripted target."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from checks.conditions import HOLD_SLACK
from checks.probes import ProbeContext
from checks.reading import Reading
from checks.scheduler import Poller
from checks.status import BLIND_STATES, ConditionState, ConditionStatus
from checks.verdict import counts_as_firing
from runbooks.loader import parse_runbook
from runbooks.model import Runbook

S = ConditionState

RUNBOOK = """\
name: Condition lifecycle
sources:
  prom: {{kind: prometheus, url: "{url}"}}
checks:
  auth_error_ratio:
    promql: auth_error_ratio
    every: 500ms
    timeout: 400ms
stop_conditions:
  - id: auth_errors
    check: auth_error_ratio
    when: "> 1%"
    for: 3s
    keep_firing_for: 2s
    action: rollback
"""


@contextlib.asynccontextmanager
async def polling(runbook: Runbook) -> AsyncIterator[History]:
    """A poller on ``runbook`` for the block; what it reports, in the ``History`` yielded."""
    ctx = ProbeContext(runbook)
    history = History()
    poller = Poller(runbook, ctx, history)
    await poller.start()
    try:
        yield history
    finally:
        await poller.stop()
        await ctx.aclose()


class History:
    """Every status the poller reported for the condition, in order."""

    def __init__(self) -> None:
        self.statuses: list[ConditionStatus] = []
        self.readings: list[Reading] = []

    def __call__(self, reading: Reading, statuses: list[ConditionStatus]) -> None:
        self.readings.append(reading)
        self.statuses.extend(statuses)

    @property
    def states(self) -> list[ConditionState]:
        return [s.state for s in self.statuses]

    async def wait_for(self, state: ConditionState, *, after: int = 0, timeout: float = 30.0) -> int:
        """Wait (bounded) until the condition reports ``state`` at an index >= ``after``; returns that index."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index in range(after, len(self.statuses)):
                if self.statuses[index].state is state:
                    return index
            await asyncio.sleep(0.1)
        raise AssertionError(f"no {state} within {timeout}s; saw {self.states[after:]}")


async def test_auth_errors_above_1pct_for_3s_goes_pending_firing_recovering_ok_and_blind_when_prometheus_stops(
    prometheus, target
):
    """auth errors > 1% for 3s: pending, firing after 3s, recovering, ok; Prometheus stopped: error, never ok."""
    async with polling(parse_runbook(RUNBOOK.format(url=prometheus.url))) as history:
        start = await history.wait_for(S.OK)

        target.set(auth_error_ratio=0.04)
        pending = history.statuses[await history.wait_for(S.PENDING, after=start)]
        fired_at = await history.wait_for(S.FIRING, after=start)
        firing = history.statuses[fired_at]
        assert firing.breach_held >= 3.0 - HOLD_SLACK
        # Both are dated at the instants their polls were due: `for` apart, up to float noise.
        assert (firing.firing_since - pending.since).total_seconds() >= 3.0 - HOLD_SLACK
        assert firing.reason.startswith("4% > 1% for ")

        target.set(auth_error_ratio=0.002)
        recovering_at = await history.wait_for(S.RECOVERING, after=fired_at)
        recovering = history.statuses[recovering_at]
        assert counts_as_firing(recovering)
        resolved_at = await history.wait_for(S.OK, after=recovering_at)
        assert (history.statuses[resolved_at].since - recovering.since).total_seconds() >= 2.0 - HOLD_SLACK

        stopped_at = len(history.statuses)
        prometheus.stop()
        await history.wait_for(S.ERROR, after=stopped_at)
        first_blind = next(i for i in range(stopped_at, len(history.statuses)) if history.states[i] in BLIND_STATES)
        assert all(state in BLIND_STATES for state in history.states[first_blind:])
        assert history.statuses[-1].reason.startswith("cannot connect")


async def test_a_promql_hold_counts_from_the_first_breaching_sample_not_from_our_first_look(prometheus, target):
    """Polled every 2 s from a Prometheus scraping every 1 s: pending from the first breaching sample, firing `for` after it."""
    runbook = parse_runbook(
        RUNBOOK.format(url=prometheus.url).replace("every: 500ms", "every: 2s").replace("timeout: 400ms", "timeout: 1s")
    )
    async with polling(runbook) as history:
        start = await history.wait_for(S.OK)
        target.set(auth_error_ratio=0.04)
        pending = history.statuses[await history.wait_for(S.PENDING, after=start)]
        firing = history.statuses[await history.wait_for(S.FIRING, after=start)]
        reported = time.time()
    samples = prometheus.query("auth_error_ratio[1m]")["result"][0]["values"]
    first_breach = next(float(at) for at, value in samples if float(value) > 0.01)
    # Prometheus stamps a sample with its scrape's start; ours finds it to the millisecond on the source's clock,
    # which it reaches through the reading's sample age: a thread switch while the reading is taken adds to it
    # (65 ms once on two cores with the whole suite beside it).
    since = pending.since.timestamp()
    assert since > first_breach - 0.15, (since, first_breach)
    # A poll after the scrape began still reads the value before it until the scrape has ended (a target slow to
    # answer on a loaded machine: 1.6 s once): the hold counts from that passing poll, never before it.
    passed_later = [r.observed_at.timestamp() for r in history.readings
                    if r.value is not None and r.value <= 0.01 and r.observed_at.timestamp() > first_breach]  # fmt: skip
    assert since <= (max(passed_later) if passed_later else first_breach + 0.15), (since, first_breach, passed_later)
    assert firing.firing_since is not None
    assert abs((firing.firing_since - pending.since).total_seconds() - 3.0) < 0.01
    # Fired by a poll of its own when the hold ended, not by the next regular poll up to 2 s later.
    assert reported - firing.firing_since.timestamp() < 1.0
