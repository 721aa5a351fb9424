"""Detection: the same breach, seen by a real Prometheus alerting rule and by our stop condition.

Method: the scripted target (child process) serves ``auth_error_ratio`` on
``/metrics``; a real Prometheus scrapes it and evaluates the alerting rule
``auth_error_ratio > 0.01`` with ``for: F``, scrape and evaluation every I
seconds. In the same process as this benchmark, our ``Poller`` evaluates two
stop conditions ``when: "> 1%", for: F`` polled every I seconds:

- scrape: a ``scrape`` check reading the target's ``/metrics`` directly;
- promql: a ``promql`` check asking that same Prometheus.

Our polls start at a random phase of the interval after Prometheus is up
(a person starts a session whenever they do). Once all three see the service
healthy, and after a random part of an interval, the target's ratio goes to
4% (the breach begins) and each detector's firing instant is taken: ours when
the poll that made the condition ``firing`` returned; Prometheus's when the
evaluation that fired ended (``lastEvaluation`` + ``evaluationTime`` of the
rule, when ``/api/v1/rules`` first shows it firing; polled every 100 ms).
Alertmanager would add its ``group_wait`` (30 s by default) before anyone is
told; that is not counted here. Each breach also records when each detector
first saw it (ours: the instant its hold began, the due instant of the first
breaching poll, or for promql the first breaching sample's; Prometheus: the
alert's ``activeAt``), which tells phase from hold.

A promql condition dates the breach from Prometheus's own samples (the
poller asks what the query gave between its last pass and its first breaching
poll) and polls again the instant its hold reaches ``for``, so it fires when
a rule evaluated at the first breaching sample would: no later than the rule,
whose evaluation comes at or after that sample. A scrape check has no memory
to ask: it holds exactly ``for`` from its first breaching poll, so it is later
whenever that poll falls after Prometheus's scrape and evaluation of the same
interval (their offsets come from hashes); no poller at the same interval can
avoid that, since a breach can begin just after its poll and just before
Prometheus's scrape. The figures say in how many breaches each fired no
later, that the scrape check's hold never added to its first look (fired
``for`` after it), and that none fired early (before the breach had lasted
``for``).

Full: I = 5 s, F = 1m, ten breaches. Quick: I = 1 s, F = 4 s, one breach.
"""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks.common import Figure, Result
from benchmarks.servers import PROMETHEUS, PrometheusProcess, TargetProcess
from runbooks.loader import parse_runbook

HEALTHY, BREACH = 0.002, 0.04
FIGURES = ("prometheus_fired_s", "ours_scrape_fired_s", "ours_promql_fired_s", "scrape_ratio", "promql_ratio",
           "scrape_no_later", "promql_no_later", "scrape_first_look_no_later", "scrape_hold_exact", "early")  # fmt: skip
RULES = """\
groups:
  - name: benchmark
    interval: {interval}s
    rules:
      - alert: AuthErrorsHigh
        expr: auth_error_ratio > 0.01
        for: {hold}s
"""


def build_runbook(target_url: str, prometheus_url: str, interval: float, hold: float):
    every = f"every: {interval:g}s, timeout: {interval * 0.8:g}s"
    condition = f"when: '> 1%', for: {hold:g}s, action: rollback, decides: commander"
    return parse_runbook(
        "name: Detection benchmark\nroles: {commander: IC}\n"
        f"sources:\n  prometheus: {{kind: prometheus, url: '{prometheus_url}'}}\n"
        "checks:\n"
        f"  scraped: {{scrape: '{target_url}/metrics', metric: auth_error_ratio, {every}}}\n"
        f"  queried: {{promql: auth_error_ratio, {every}}}\n"
        "stop_conditions:\n"
        f"  - {{id: scrape, check: scraped, {condition}}}\n"
        f"  - {{id: promql, check: queried, {condition}}}\n"
        "steps:\n  - {title: Deploy, at: T-0}\n",
        "detection-benchmark.yaml",
    )


def go_time(text: str) -> float:
    """A Go RFC 3339 time with nanoseconds as a POSIX timestamp."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    return datetime.fromisoformat(text).timestamp()


async def rule_state(client, prometheus_url: str) -> dict:  # noqa: ANN001 (httpx.AsyncClient)
    """The alert rule as ``/api/v1/rules`` shows it: state, lastEvaluation, evaluationTime, its alerts."""
    response = await client.get(f"{prometheus_url}/api/v1/rules", params={"type": "alert"}, timeout=2)
    return response.json()["data"]["groups"][0]["rules"][0]


async def last_scrape(client, prometheus_url: str) -> float | None:  # noqa: ANN001
    """When Prometheus last scraped the target (POSIX seconds)."""
    response = await client.get(f"{prometheus_url}/api/v1/targets", params={"state": "active"}, timeout=2)
    targets = response.json()["data"]["activeTargets"]
    return go_time(targets[0]["lastScrape"]) if targets else None


async def breaches(
    target: TargetProcess, prometheus: PrometheusProcess, interval: float, hold: float, trials: int
) -> tuple[list[dict[str, float]], float]:
    """For each breach, seconds from its start to each detector firing (and the instants each first saw it); our polls' phase."""
    import httpx

    from checks.probes import ProbeContext
    from checks.scheduler import Poller
    from checks.status import ConditionState

    runbook = build_runbook(target.url, prometheus.url, interval, hold)
    ctx = ProbeContext(runbook)
    fired: dict[str, float] = {}
    dated: dict[str, float] = {}
    first_seen: dict[str, float] = {}

    def on_result(reading, statuses) -> None:  # noqa: ANN001 (the poller's callback)
        for status in statuses:
            if status.state is ConditionState.PENDING and status.id not in first_seen:
                first_seen[status.id] = status.since.timestamp()
            if status.state is ConditionState.FIRING and status.id not in fired:
                fired[status.id] = time.time()
                dated[status.id] = status.firing_since.timestamp() if status.firing_since else fired[status.id]

    poller = Poller(runbook, ctx, on_result)
    # Our polls start at a random phase of Prometheus's scrapes and evaluations, as a session started
    # by a person would (started right after Prometheus's first scrape, they would always poll just after it).
    phase = random.uniform(0, interval)
    await asyncio.sleep(phase)
    await poller.start()
    results = []
    try:
        async with httpx.AsyncClient() as client:
            for trial in range(trials):
                target.set(auth_error_ratio=HEALTHY)
                for _ in range(int((hold + 10 * interval + 30) / 0.1)):  # bounded: until all three see it healthy
                    states = {cid: status.state for cid, status in poller.statuses.items()}
                    if all(state is ConditionState.OK for state in states.values()) and (await rule_state(client, prometheus.url))["state"] == "inactive":
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError(f"trial {trial}: the detectors did not see the service healthy ({states})")
                # A healthy poll and evaluation each, so every hold starts at zero; then a random instant
                # of the interval, so the breaches fall at every phase of the polls, scrapes and evaluations.
                await asyncio.sleep(interval + random.uniform(0, interval))
                fired.clear()
                dated.clear()
                first_seen.clear()
                began = time.time()
                target.set(auth_error_ratio=BREACH)
                rule: dict = {}
                prometheus_fired = None
                for _ in range(int((hold + 6 * interval + 30) / 0.1)):  # bounded: until all three fired
                    if prometheus_fired is None:
                        rule = await rule_state(client, prometheus.url)
                        if rule["state"] == "firing":
                            # Known to Prometheus once that evaluation ended (Alertmanager is told after it).
                            prometheus_fired = go_time(rule["lastEvaluation"]) + float(rule.get("evaluationTime") or 0)
                    if prometheus_fired is not None and len(fired) == 2:
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError(f"trial {trial}: not every detector fired (ours: {sorted(fired)}, Prometheus: {prometheus_fired})")
                active_at = next((go_time(a["activeAt"]) for a in rule.get("alerts", []) if a.get("activeAt")), None)
                result = {
                    "prometheus": prometheus_fired - began,
                    "scrape": fired["scrape"] - began,
                    "promql": fired["promql"] - began,
                    "prometheus_active_at": active_at - began if active_at else None,
                    "scrape_first_seen": first_seen.get("scrape", began) - began,
                    "promql_first_seen": first_seen.get("promql", began) - began,
                    "scrape_dated": dated["scrape"] - began,
                    "promql_dated": dated["promql"] - began,
                    "last_scrape_phase": ((await last_scrape(client, prometheus.url) or began) - began) % interval,
                }
                print(f"breach {trial + 1}: Prometheus rule fired after {result['prometheus']:.2f} s (active from "
                      f"{result['prometheus_active_at'] or float('nan'):.2f} s), ours (scrape) {result['scrape']:.2f} s "
                      f"(first seen {result['scrape_first_seen']:.2f} s), ours (promql) {result['promql']:.2f} s "
                      f"(first seen {result['promql_first_seen']:.2f} s)", flush=True)  # fmt: skip
                results.append(result)
    finally:
        await poller.stop()
        await ctx.aclose()
    return results, phase


def run(quick: bool) -> Result:
    interval, hold, trials = (1.0, 4.0, 1) if quick else (5.0, 60.0, 10)
    if not PrometheusProcess.installed():
        return Result([Figure(key, key, None) for key in FIGURES],
                      [f"not available: {PROMETHEUS} is not installed (Debian package 'prometheus')"])  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="cutover-bench-detection-"))
    try:
        with TargetProcess() as target, PrometheusProcess(
            folder, target.url, interval=interval, rules=RULES.format(interval=f"{interval:g}", hold=f"{hold:g}")
        ) as prometheus:
            results, phase = asyncio.run(breaches(target, prometheus, interval, hold, trials))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    worst = {name: max(r[name] / r["prometheus"] for r in results) for name in ("scrape", "promql")}
    mean = {name: sum(r[name] for r in results) / len(results) for name in ("prometheus", "scrape", "promql")}
    no_later = {name: sum(r[name] <= r["prometheus"] for r in results) for name in ("scrape", "promql")}
    early = sum(r[name] < hold for r in results for name in ("scrape", "promql"))
    # The scrape check's first look against the rule's (activeAt), and its hold from that look to firing.
    looked_first = sum(r["scrape_first_seen"] <= (r["prometheus_active_at"] or 0) for r in results)
    exact = sum(abs(r["scrape_dated"] - r["scrape_first_seen"] - hold) < 0.01 for r in results)
    span = f"mean of {trials}" if trials > 1 else "one breach"
    return Result(
        [
            Figure("prometheus_fired_s", f"Prometheus rule fired after the breach ({span})", mean["prometheus"], "s"),
            Figure("ours_scrape_fired_s", f"ours (scrape check) fired after ({span})", mean["scrape"], "s"),
            Figure("ours_promql_fired_s", f"ours (promql check) fired after ({span})", mean["promql"], "s"),
            Figure("scrape_ratio", "ours (scrape) / Prometheus, worst breach", worst["scrape"], "×", at_most=1.0),
            Figure("promql_ratio", "ours (promql) / Prometheus, worst breach", worst["promql"], "×", at_most=1.0),
            Figure("scrape_no_later", f"breaches ours (scrape) fired no later than Prometheus, of {trials}",
                   no_later["scrape"], at_least=trials),  # fmt: skip
            Figure("promql_no_later", f"breaches ours (promql) fired no later than Prometheus, of {trials}",
                   no_later["promql"], at_least=trials),  # fmt: skip
            Figure("scrape_first_look_no_later", f"breaches ours (scrape) first polled the breach no later than the rule first saw it, of {trials}",
                   looked_first),  # fmt: skip
            Figure("scrape_hold_exact", f"breaches ours (scrape) fired for: {hold:g} s after its first breaching poll, of {trials}",
                   exact, at_least=trials),  # fmt: skip
            Figure("early", f"firings before the breach had lasted for: {hold:g} s (either check)", early, at_most=0),
        ],
        [f"detection: scrape, evaluation and polls every {interval:g} s, for: {hold:g} s, {trials} breach(es) at random "
         "phases; Prometheus counted from the end of the evaluation that fired; Alertmanager's group_wait not counted"],  # fmt: skip
        {"breaches": results, "interval_s": interval, "for_s": hold, "poll_phase_s": phase},
    )
