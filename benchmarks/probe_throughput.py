"""Probe throughput: polls per second and CPU seconds per 1,000 polls.

Usage::

    .venv/bin/python benchmarks/probe_throughput.py            # http and promql
    .venv/bin/python benchmarks/probe_throughput.py --quick    # fewer polls

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
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Awaitable, Callable

import httpx

from checks.probes import ProbeContext, run_probe
from checks.reading import Reading
from runbooks.loader import parse_runbook

PROMETHEUS = "/usr/bin/prometheus"
TARGET_CODE = "from checks.target import Target; import sys, time\nt = Target().start(); print(t.url, flush=True)\nsys.stdin.read()"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure(label: str, polls: int, in_flight: int, poll: Callable[[], Awaitable[Reading | str]]) -> None:
    """Run ``polls`` polls with at most ``in_flight`` at once; print rate, CPU and outcomes."""
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
        f"  {cpu / polls * 1000:>5.2f} CPU s/1000 polls  {dict(outcomes)}"
    )


async def bench_http(url: str, polls: int) -> None:
    runbook = parse_runbook(f"name: bench\nchecks:\n  health:\n    http: {url}/health\n    json_path: ok\n")
    for in_flight in (1, 10, 20, 100):
        context = ProbeContext(runbook)
        check = runbook.checks["health"]
        await run_probe(check, context)  # warm the pool
        await measure("http /health (json_path)", polls, in_flight, lambda: run_probe(check, context))
        await context.aclose()


async def bench_promql(prometheus_url: str, polls: int) -> None:
    runbook = parse_runbook(
        f"name: bench\nsources:\n  prom: {{kind: prometheus, url: {prometheus_url}}}\n"
        'checks:\n  ratio:\n    promql: auth_error_ratio\n    pass_when: "< 1%"\n'
    )
    check = runbook.checks["ratio"]
    for in_flight in (1, 20):
        context = ProbeContext(runbook)
        await run_probe(check, context)
        await measure("promql probe (httpx)", polls, in_flight, lambda: run_probe(check, context))
        await context.aclose()

    from prometheus_api_client import PrometheusConnect

    client = PrometheusConnect(prometheus_url)
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=20) as pool:

        async def via_library() -> str:
            result = await loop.run_in_executor(pool, lambda: client.custom_query("auth_error_ratio", params={"timeout": "4500ms"}))
            return "pass" if result else "nodata"

        await via_library()
        await measure("prometheus-api-client custom_query (threads)", polls, 20, via_library)
    client.close()


def start_prometheus(workdir: Path, target_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    (workdir / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s}\nscrape_configs:\n"
        f"  - job_name: target\n    static_configs: [{{targets: ['{target_url.removeprefix('http://')}']}}]\n"
    )
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            result = httpx.get(f"{url}/api/v1/query", params={"query": 'up{job="target"} == 1'}).json()
            if result["data"]["result"]:
                return process, url
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.25)
    process.kill()
    raise RuntimeError("Prometheus did not start scraping within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer polls")
    args = parser.parse_args()
    polls = 500 if args.quick else 2000
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    target = subprocess.Popen([sys.executable, "-c", TARGET_CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        target_url = target.stdout.readline().strip()  # type: ignore[union-attr]
        asyncio.run(bench_http(target_url, polls))
        if not shutil.which(PROMETHEUS):
            print(f"promql: skipped, {PROMETHEUS} not installed (Debian package 'prometheus')")
            return
        with tempfile.TemporaryDirectory() as workdir:
            prometheus, prometheus_url = start_prometheus(Path(workdir), target_url)
            try:
                asyncio.run(bench_promql(prometheus_url, polls // 2))
            finally:
                prometheus.send_signal(signal.SIGTERM)
                prometheus.wait(timeout=10)
    finally:
        target.stdin.close()  # type: ignore[union-attr]
        target.wait(timeout=10)


if __name__ == "__main__":
    main()
