"""Browser viewers: how many one core serves with ``cutover-tui serve``, and whether they slow the writer.

Method: a writer process appends a note (committed and fsynced, as a decision
is) every 0.5 s and stamps its heartbeat each second, to a real session log on
disk. ``cutover-tui serve`` serves it on loopback. N viewers connect as a
browser does (a WebSocket to ``/ws``, textual-serve's protocol: a resize,
then frames); each is a ``follow`` process of its own. Once every viewer has
drawn its first screen, for a window of 15 s (quick: 4 s, 2 viewers) the CPU time of the
server and all its viewer processes is read from ``/proc``, the frames each
viewer receives are counted, and the writer's append latency is recorded; the
same writer runs first with no viewer for the baseline.

``viewers per core`` is 100% / (CPU share of one viewer), the share being the
tree's CPU divided by the viewers (the relay's cost spread over them), the
median over the rounds in which every viewer was served: a viewer counts as
served when it received at least one frame a second (the T-clock moves every
second). The writer runs alone for a window right before each round, so the
two latencies are measured under the same background load. The client side (the
browsers' drawing) is not measured: it runs on the viewers' machines.
Viewers run at nice 10, as ``serve`` starts them; on this 2-core machine
shared with other work the writer still competes with them for the CPU.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Figure, Result, percentile

FIGURES = (
    "viewers_per_core",
    "cpu_per_viewer_pct",
    "max_served",
    "rss_per_viewer_mb",
    "first_frame_p50_s",
    "writer_append_p50_alone_ms",
    "writer_append_p50_viewers_ms",
    "writer_append_p99_alone_ms",
    "writer_append_p99_viewers_ms",
)
COUNTS = {True: (2,), False: (5, 10, 20)}
WINDOW = {True: 4.0, False: 15.0}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parent.parent

RUNBOOK = """\
name: Viewers benchmark
roles: {commander: Commander}
checks:
  api_health: {http: "http://127.0.0.1:9/health", every: 5s}
  auth_error_ratio: {http: "http://127.0.0.1:9/auth", every: 5s, unit: "%"}
stop_conditions:
  - {id: auth_errors, check: auth_error_ratio, when: "> 1%", for: 1m, action: rollback, decides: commander}
  - {id: health_down, check: api_health, for: 30s, action: halt, decides: commander}
steps:
  - {id: deploy, title: Production deploy, at: T-0, duration: 10m, owner: commander, watch: [auth_errors]}
  - {id: verify, title: Production verification, at: T+10m, owner: commander}
"""


# ---------------------------------------------------------------- the writer (a process of its own)


def writer(db: str, seconds: float, out: str) -> None:
    """Append a note every 0.5 s and stamp the heartbeat each second for ``seconds``; write latencies (ms) to ``out``."""
    from cutover_tui.store import SessionLog
    from runbooks.loader import parse_runbook

    import signal

    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    log = SessionLog.open(db, parse_runbook(RUNBOOK), operator="bench")
    latencies: list[float] = []
    end = time.monotonic() + seconds
    beat = 0.0
    n = 0
    while time.monotonic() < end and not stopping:
        started = time.perf_counter()
        log.append("note", {"text": f"note {n}"})
        latencies.append((time.perf_counter() - started) * 1000)
        n += 1
        if time.monotonic() - beat >= 1.0:
            log.flush_ticks(heartbeat=True)
            beat = time.monotonic()
        time.sleep(0.5)
    log.close()
    Path(out).write_text(json.dumps(latencies))


def start_writer(db: Path, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "benchmarks.serve_viewers", "--writer", str(db), str(seconds), str(out)],
                            cwd=ROOT)  # fmt: skip


# ---------------------------------------------------------------- /proc


def _tree(root: int) -> list[int]:
    """``root`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(_stat(int(entry.name))[3])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return [text[: text.index(" (")], "comm", *text[text.rindex(")") + 2 :].split()]


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = _stat(pid)
            total += (int(fields[13]) + int(fields[14])) / CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            continue
    return total


def rss_mb(pid: int) -> float:
    try:
        match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return 0.0
    return int(match.group(1)) / 1024 if match else 0.0


# ---------------------------------------------------------------- viewers


async def view(url: str, started: float, first: list[float], frames: list[float], stop: asyncio.Event) -> None:
    """One browser's WebSocket: ask for a 120×36 screen, count the frames received."""
    import aiohttp

    async with aiohttp.ClientSession() as client:
        async with client.ws_connect(f"{url}ws?width=120&height=36", max_msg_size=0) as socket:
            await socket.send_json(["resize", {"width": 120, "height": 36}])
            while not stop.is_set():
                try:
                    message = await asyncio.wait_for(socket.receive(), timeout=0.5)
                except asyncio.TimeoutError:
                    continue
                if message.type == aiohttp.WSMsgType.BINARY:
                    now = time.monotonic()
                    if not first:
                        first.append(now - started)
                    frames.append(now)
                elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                    return


async def measure(url: str, server_pid: int, viewers: int, window: float) -> dict[str, Any]:
    """Connect ``viewers`` viewers; once all drew, the tree's CPU, frames per viewer and RSS over ``window`` seconds."""
    stop = asyncio.Event()
    firsts: list[list[float]] = [[] for _ in range(viewers)]
    frames: list[list[float]] = [[] for _ in range(viewers)]
    started = time.monotonic()
    tasks = [asyncio.create_task(view(url, started, firsts[i], frames[i], stop)) for i in range(viewers)]
    deadline = started + 60 + 3 * viewers
    while not all(firsts) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(3)  # past the first screens' layout
    pids = _tree(server_pid)
    cpu_before, window_start = cpu_seconds(pids), time.monotonic()
    await asyncio.sleep(window)
    cpu_after, window_end = cpu_seconds(pids), time.monotonic()
    rss = [rss_mb(pid) for pid in pids if pid != server_pid]
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    per_viewer = [sum(1 for t in f if window_start <= t <= window_end) / (window_end - window_start) for f in frames]
    return {
        "viewers": viewers,
        "connected": sum(1 for f in firsts if f),
        "processes": len(pids),
        "cpu_pct": 100 * (cpu_after - cpu_before) / (window_end - window_start),
        "first_frame_s": [f[0] for f in firsts if f],
        "frames_per_s": per_viewer,
        "rss_mb": rss,
    }


def serve(db: Path, max_viewers: int) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "cutover_tui", "serve", str(db), "--port", "0", "--max-viewers", str(max_viewers)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"(http://\S+/)", line)
    if match is None:
        process.kill()
        raise RuntimeError(f"serve printed no URL: {line!r}")
    return process, match.group(1)


def run(quick: bool) -> Result:
    from cutover_tui.store import SessionLog
    from runbooks.loader import parse_runbook

    counts, window = COUNTS[quick], WINDOW[quick]
    folder = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    db = folder / "viewers.cutover.db"
    log = SessionLog.create(db, parse_runbook(RUNBOOK), operator="bench")
    log.append("t0_set", {"t0": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    log.close()

    server, url = serve(db, max(counts))
    rounds: list[dict[str, Any]] = []
    try:
        for n in counts:
            # The writer alone, then with n viewers, back to back: the machine's other load drifts less in between.
            alone = folder / f"alone-{n}.json"
            start_writer(db, window, alone).wait(timeout=window + 60)
            out = folder / f"writer-{n}.json"
            writer_process = start_writer(db, window + 90 + 3 * n, out)
            result = asyncio.run(measure(url, server.pid, n, window))
            writer_process.terminate()  # it writes its latencies when it ends: SIGTERM ends it cleanly
            writer_process.wait(timeout=30)
            result["writer_alone_ms"] = json.loads(alone.read_text())
            result["writer_viewers_ms"] = json.loads(out.read_text()) if out.exists() else []
            rounds.append(result)
            time.sleep(2)  # the viewers of this round exit
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    for r in rounds:
        r["served"] = sum(1 for f in r["frames_per_s"] if f >= 1.0)
    served_rounds = [r for r in rounds if r["served"] == r["viewers"]]
    # Each viewer's share, the relay's cost spread over them (no intercept: rounds past saturation would bend a fit).
    shares = [r["cpu_pct"] / r["viewers"] for r in served_rounds]
    per_viewer = statistics.median(shares) if shares else None
    rss = [m for r in rounds for m in r["rss_mb"]]
    firsts = [f for r in rounds for f in r["first_frame_s"]]
    alone_ms = [x for r in rounds for x in r["writer_alone_ms"]]
    busy_ms = [x for r in rounds for x in r["writer_viewers_ms"]]
    figures = [
        Figure("viewers_per_core", "viewers one core serves (100% / CPU of one viewer)",
               round(100 / per_viewer, 1) if per_viewer else None, "viewers"),
        Figure("cpu_per_viewer_pct", "CPU of one viewer with its share of the relay", round(per_viewer, 2) if per_viewer else None, "%"),
        Figure("max_served", "most viewers tried that all got a frame a second or more", max((r["viewers"] for r in served_rounds), default=0), "viewers"),
        Figure("rss_per_viewer_mb", "memory of one viewer process (median)", round(statistics.median(rss), 1) if rss else None, "MB"),
        Figure("first_frame_p50_s", "connect to first screen (median, while the others connect)", round(statistics.median(firsts), 2) if firsts else None, "s"),
        Figure("writer_append_p50_alone_ms", "writer: durable append p50, alone", round(statistics.median(alone_ms), 2) if alone_ms else None, "ms"),
        Figure("writer_append_p50_viewers_ms", "writer: durable append p50, with the viewers", round(statistics.median(busy_ms), 2) if busy_ms else None, "ms"),
        Figure("writer_append_p99_alone_ms", "writer: durable append p99, alone", round(percentile(alone_ms, 99) or 0, 2) if alone_ms else None, "ms"),
        Figure("writer_append_p99_viewers_ms", "writer: durable append p99, with the viewers", round(percentile(busy_ms, 99) or 0, 2) if busy_ms else None, "ms"),
    ]  # fmt: skip
    notes = [f"viewers tried: {', '.join(map(str, counts))}; window {window:g} s each; CPU % is of one core; "
             f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"]  # fmt: skip
    for r in rounds:
        notes.append(
            f"{r['viewers']} viewers: {r['connected']} connected, {r['served']} served, tree CPU {r['cpu_pct']:.1f}%, "
            f"frames/s per viewer min {min(r['frames_per_s'] or [0]):.2f}; writer p50 "
            f"{statistics.median(r['writer_alone_ms']):.1f} ms alone, "
            f"{statistics.median(r['writer_viewers_ms'] or [float('nan')]):.1f} ms with them"
        )
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    return Result(figures, notes, {"rounds": rounds})


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--writer":
        writer(sys.argv[2], float(sys.argv[3]), sys.argv[4])
    else:
        print(json.dumps(run(quick="--quick" in sys.argv).details, default=str)[:2000])
