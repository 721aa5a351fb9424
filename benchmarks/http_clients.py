"""HTTP clients: the probes' requests on httpx and on aiohttp, CPU for the same GETs.

Why the probes use aiohttp. The same GETs of the scripted target's ``/health``
(in a child process, so the CPU is the client's alone), 200 a second as 1,000
checks every 5 s make them, each with a 4 s timeout, at most 20 at once:

- httpx: an ``AsyncClient`` as the probes built it before (a pool of 20
  connections kept alive, TLS verified, redirects not followed), each response
  streamed to its end, behind the same 20 slots;
- aiohttp: the probes' own ``fetch`` on the session ``ProbeContext`` builds.

Each measures this process's CPU time over the window, after a 6 s warm-up
(quick: 1 s; connections opened), on an event loop of its own: as % of one core, and per
request started. On a busy machine a client that needs more CPU than it is
given falls behind the pace, so its % understates it; the CPU per request
does not, and the ratio is taken on it. The two alternate, three times each
(once each in a quick run); the figures are the medians, the details hold
every run.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import asdict

from benchmarks.common import Figure, Result
from benchmarks.polling import Paced, fetches_alone, paced
from benchmarks.servers import TargetProcess

FIGURES = (
    "httpx_cpu_percent",
    "aiohttp_cpu_percent",
    "httpx_cpu_per_request_ms",
    "aiohttp_cpu_per_request_ms",
    "aiohttp_over_httpx",
)
#: 1,000 checks every 5 s.
GAP = 5.0 / 1000
TIMEOUT = 4.0
CONNECTIONS = 20
WARMUP = {False: 6.0, True: 1.0}  # by quick


async def on_httpx(url: str, seconds: float, warmup: float) -> Paced:
    """The GETs on httpx, as the probes used it."""
    import httpx

    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    slots = asyncio.Semaphore(CONNECTIONS)

    async def request() -> None:
        async with slots, client.stream("GET", f"{url}/health", timeout=TIMEOUT) as response:
            async for _ in response.aiter_bytes():
                pass

    async with httpx.AsyncClient(limits=limits, verify=True, follow_redirects=False) as client:
        return await paced(request, GAP, warmup, seconds)


async def on_aiohttp(url: str, seconds: float, warmup: float) -> Paced:
    """The GETs through the probes' ``fetch`` (at most ``CONNECTIONS`` at once: the context's default)."""
    return await fetches_alone(url, GAP, warmup, seconds, TIMEOUT)


def run(quick: bool) -> Result:
    seconds, rounds = (2.0, 1) if quick else (30.0, 3)
    runs: dict[str, list[Paced]] = {"httpx": [], "aiohttp": []}
    with TargetProcess() as target:
        for round_ in range(rounds):
            for name in ("httpx", "aiohttp") if round_ % 2 == 0 else ("aiohttp", "httpx"):
                measure = on_httpx if name == "httpx" else on_aiohttp
                got = asyncio.run(measure(target.url, seconds, WARMUP[quick]))
                runs[name].append(got)
                print(f"{name}: CPU {got.percent:.1f}% of one core, {got.per_request_ms:.3f} ms a request, "
                      f"{got.requests} of {seconds / GAP:.0f} requests started", flush=True)  # fmt: skip
    percent = {name: statistics.median(r.percent for r in measured) for name, measured in runs.items()}
    per_request = {name: statistics.median(r.per_request_ms for r in measured) for name, measured in runs.items()}
    figures = [
        Figure("httpx_cpu_percent", "200 GETs/s on httpx: CPU, % of one core", percent["httpx"], "%"),
        Figure("aiohttp_cpu_percent", "the same through the probes' fetch (aiohttp)", percent["aiohttp"], "%"),
        Figure("httpx_cpu_per_request_ms", "httpx: CPU per request", per_request["httpx"], "ms"),
        Figure("aiohttp_cpu_per_request_ms", "aiohttp: CPU per request", per_request["aiohttp"], "ms"),
        Figure("aiohttp_over_httpx", "aiohttp over httpx, CPU per request", per_request["aiohttp"] / per_request["httpx"],
               "x", at_most=0.7),
    ]  # fmt: skip
    notes = [f"http_clients: {seconds:g} s measured per run, {rounds} run(s) each, alternating"]
    details = {name: [asdict(r) for r in measured] for name, measured in runs.items()}
    return Result(figures, notes, {"runs": details, "seconds": seconds})
