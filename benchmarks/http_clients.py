"""HTTP clients: the probes' requests on httpx and on aiohttp, CPU for the same GETs.

Why the probes use aiohttp. The same GETs of the scripted target's ``/health``
(in a child process, so the CPU is the client's alone), 200 a second as 1,000
checks every 5 s make them, each with a 4 s timeout, at most 20 at once:

- httpx: an ``AsyncClient`` as the probes built it before (a pool of 20
  connections kept alive, TLS verified, redirects not followed), each response
  streamed to its end, behind the same 20 slots;
- aiohttp: the probes' own ``fetch`` on the session ``ProbeContext`` builds.

Each measures this process's CPU time over wall time for the window, after a
6 s warm-up (connections opened), on an event loop of its own. The two
alternate, three times each (once each in a quick run); the figures are the
medians, the details hold every run.
"""

from __future__ import annotations

import asyncio
import statistics

from benchmarks.common import Figure, Result
from benchmarks.polling import paced_cpu
from benchmarks.servers import TargetProcess

FIGURES = ("httpx_cpu_percent", "aiohttp_cpu_percent", "aiohttp_over_httpx")
#: 1,000 checks every 5 s.
GAP = 5.0 / 1000
TIMEOUT = 4.0
CONNECTIONS = 20
WARMUP = 6.0


async def on_httpx(url: str, seconds: float) -> float:
    """CPU (% of one core) of the GETs on httpx, as the probes used it."""
    import httpx

    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    slots = asyncio.Semaphore(CONNECTIONS)

    async def request() -> None:
        async with slots, client.stream("GET", f"{url}/health", timeout=TIMEOUT) as response:
            async for _ in response.aiter_bytes():
                pass

    async with httpx.AsyncClient(limits=limits, verify=True, follow_redirects=False) as client:
        return await paced_cpu(request, GAP, WARMUP, seconds)


async def on_aiohttp(url: str, seconds: float) -> float:
    """CPU (% of one core) of the GETs through the probes' ``fetch``."""
    from benchmarks.polling import build_runbook
    from checks.probes import ProbeContext
    from checks.probes.common import fetch

    ctx = ProbeContext(build_runbook(url, 1, 5.0), max_http_connections=CONNECTIONS)
    ctx.prepare()
    try:
        return await paced_cpu(lambda: fetch(ctx, f"{url}/health", timeout=TIMEOUT), GAP, WARMUP, seconds)
    finally:
        await ctx.aclose()


def run(quick: bool) -> Result:
    seconds, rounds = (2.0, 1) if quick else (30.0, 3)
    runs: dict[str, list[float]] = {"httpx": [], "aiohttp": []}
    with TargetProcess() as target:
        for round_ in range(rounds):
            for name in ("httpx", "aiohttp") if round_ % 2 == 0 else ("aiohttp", "httpx"):
                measure = on_httpx if name == "httpx" else on_aiohttp
                runs[name].append(asyncio.run(measure(target.url, seconds)))
                print(f"{name}: CPU {runs[name][-1]:.1f}% of one core", flush=True)
    httpx_cpu, aiohttp_cpu = statistics.median(runs["httpx"]), statistics.median(runs["aiohttp"])
    figures = [
        Figure("httpx_cpu_percent", "200 GETs/s on httpx: CPU, % of one core", httpx_cpu, "%"),
        Figure("aiohttp_cpu_percent", "200 GETs/s through the probes' fetch (aiohttp): CPU", aiohttp_cpu, "%"),
        Figure("aiohttp_over_httpx", "aiohttp over httpx, the same GETs", aiohttp_cpu / httpx_cpu, "x", at_most=0.7),
    ]
    notes = [f"http_clients: {seconds:g} s measured per run, {rounds} run(s) each, alternating"]
    return Result(figures, notes, {"runs": runs, "seconds": seconds})
