"""Probe throughput: polls per second and CPU seconds per 1,000 polls.

Usage::

    python -m benchmarks probes [--quick]           # in the benchmark table
    python -m benchmarks.probe_throughput [--quick] # every concurrency level printed

Quick: http only, fewer polls (starting Prometheus takes longer than the rest).

What it measures, each run with one shared ``ProbeContext``:

1. ``http`` probes of the scripted target's ``/health`` over loopback, at
   several numbers of polls in flight;
2. ``promql`` probes (``auth_error_ratio``) against a real Prometheus
   (``/usr/bin/prometheus``, skipped when absent) scraping that target;
3. for comparison, the same query through prometheus-api-client's
   ``custom_query`` in a thread pool of the same size.

The target runs in a child process, so the CPU figure (this process's user +
system time, all threads) is the probes' own cost, not the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Awaitable, Callable

from benchmarks.common import Figure, Result
from benchmarks.servers import PROMETHEUS, PrometheusProcess, TargetProcess
from checks.probes import ProbeContext, run_probe
from checks.reading import Reading
from runbooks.loader import parse_runbook

FIGURES = ("http_polls_per_s", "http_cpu_ms_per_poll", "promql_polls_per_s", "promql_cpu_ms_per_poll",
           "library_polls_per_s")  # fmt: skip
#: Polls in flight for the figures in the table (the pool holds 20 connections).
IN_FLIGHT = 20


async def measure(label: str, polls: int, in_flight: int, poll: Callable[[], Awaitable[Reading | str]]) -> tuple[float, float]:
    """Run ``polls`` polls with at most ``in_flight`` at once; print and return polls/s and CPU ms per poll."""
    gate = asyncio.Semaphore(in_flight)
    outcomes: Counter[str] = Counter()

    async def one() -> None:
        async with gate:
            result = await poll()
            outcomes[result if isinstance(result, str) else result.outcome.value] += 1

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(polls)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(
        f"{label:<44} {polls:>5} polls {in_flight:>4} in flight  {polls / wall:>7.0f} polls/s"
        f"  {cpu / polls * 1000:>5.2f} CPU s/1000 polls  {dict(outcomes)}",
        flush=True,
    )
    return polls / wall, cpu / polls * 1000


async def bench_http(url: str, polls: int, levels: tuple[int, ...]) -> dict[int, tuple[float, float]]:
    """Polls/s and CPU ms per poll at each number of polls in flight."""
    runbook = parse_runbook(f"name: bench\nchecks:\n  health:\n    http: {url}/health\n    json_path: ok\n")
    figures = {}
    for in_flight in levels:
        context = ProbeContext(runbook)
        check = runbook.checks["health"]
        await run_probe(check, context)  # warm the pool
        figures[in_flight] = await measure("http /health (json_path)", polls, in_flight, lambda: run_probe(check, context))
        await context.aclose()
    return figures


async def bench_promql(prometheus_url: str, polls: int) -> dict[str, tuple[float, float]]:
    """Polls/s and CPU ms per poll: our promql probe at 1 and 20 in flight, the library at 20."""
    runbook = parse_runbook(
        f"name: bench\nsources:\n  prom: {{kind: prometheus, url: {prometheus_url}}}\n"
        'checks:\n  ratio:\n    promql: auth_error_ratio\n    pass_when: "< 1%"\n'
    )
    check = runbook.checks["ratio"]
    figures = {}
    for in_flight in (1, IN_FLIGHT):
        context = ProbeContext(runbook)
        await run_probe(check, context)
        figures[f"probe_{in_flight}"] = await measure("promql probe (aiohttp)", polls, in_flight, lambda: run_probe(check, context))
        await context.aclose()

    from prometheus_api_client import PrometheusConnect

    client = PrometheusConnect(prometheus_url)
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=20) as pool:

        async def via_library() -> str:
            result = await loop.run_in_executor(pool, lambda: client.custom_query("auth_error_ratio", params={"timeout": "4500ms"}))
            return "pass" if result else "nodata"

        await via_library()
        figures["library"] = await measure("prometheus-api-client custom_query (threads)", polls, IN_FLIGHT, via_library)
    client.close()
    return figures


def measure_all(quick: bool) -> tuple[dict, dict | None]:
    """The http figures at each level, and the promql ones (None when skipped)."""
    polls = 300 if quick else 2000
    levels = (1, IN_FLIGHT) if quick else (1, 10, IN_FLIGHT, 100)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs", flush=True)
    with TargetProcess() as target:
        http = asyncio.run(bench_http(target.url, polls, levels))
        if quick or not PrometheusProcess.installed():
            return http, None
        with tempfile.TemporaryDirectory() as workdir, PrometheusProcess(Path(workdir), target.url) as prometheus:
            return http, asyncio.run(bench_promql(prometheus.url, polls // 2))


def run(quick: bool) -> Result:
    http, promql = measure_all(quick)
    notes = [f"probes: one shared ProbeContext (20 connections), {IN_FLIGHT} polls in flight"]
    if promql is None:
        notes.append("probes: promql not measured " + ("in quick mode" if quick else f"({PROMETHEUS} is not installed)"))
    promql = promql or {}
    probe, library = promql.get(f"probe_{IN_FLIGHT}", (None, None)), promql.get("library", (None, None))
    return Result(
        [
            Figure("http_polls_per_s", "http probe throughput", http[IN_FLIGHT][0], "/s"),
            Figure("http_cpu_ms_per_poll", "http probe CPU per poll", http[IN_FLIGHT][1], "ms"),
            Figure("promql_polls_per_s", "promql probe throughput", probe[0], "/s"),
            Figure("promql_cpu_ms_per_poll", "promql probe CPU per poll", probe[1], "ms"),
            Figure("library_polls_per_s", "prometheus-api-client, threads, same query", library[0], "/s"),
        ],
        notes,
        {"http": {str(level): figures for level, figures in http.items()}, "promql": promql},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="http only, fewer polls")
    measure_all(parser.parse_args(argv).quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
