"""A scripted session writer for the crash test, and the runbook the log tests share.

Run as ``python tests/crash_writer.py FILE``: it resumes FILE (or creates
it), then appends decisions and records readings as fast as it can, printing
``ack SEQ`` (flushed) after each decision the log has committed. The crash
test kills it with SIGKILL at random instants.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from checks.reading import Outcome, Reading
from checks.status import ConditionState, ConditionStatus
from runbooks.model import Action, Check, Item, Runbook, Source, Step, StopCondition, Threshold

T0 = datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)


def make_runbook(*, note: str = "", token_env: str = "API_TOKEN") -> Runbook:
    """A small go-live runbook: two checks, two stop conditions, three steps, a rollback plan.

    Args:
        note: appended to the runbook text, to make a runbook with another sha256.
        token_env: the environment variable the http check's bearer token comes from.
    """
    text = f"name: Crash-test go-live\n# the YAML this runbook stands for\n{note}"
    return Runbook(
        name="Crash-test go-live",
        t0=T0,
        timezone=None,
        roles={"commander": "Incident commander", "cto": "CTO"},
        sources={"prometheus": Source("prometheus", "prometheus", "http://127.0.0.1:9", token_env="PROM_TOKEN")},
        checks={
            "api_health": Check(
                "api_health",
                "http",
                {
                    "url": "http://127.0.0.1:9/health",
                    "method": "GET",
                    "headers": {"Authorization": "Bearer ${" + token_env + "}"},
                    "expect_status": (200,),
                    "max_latency": None,
                    "json_path": None,
                    "verify_tls": True,
                },
                every=5.0,
            ),
            "auth_error_ratio": Check(
                "auth_error_ratio", "promql", {"query": "auth_errors", "source": "prometheus"}, every=5.0, unit="%"
            ),
            "critical_alerts": Check("critical_alerts", "alerts", {"source": "alertmanager"}, every=15.0),
        },
        stop_conditions=(
            StopCondition(
                "auth_errors",
                "auth_error_ratio",
                Threshold(">", 0.01, "%", "> 1%"),
                for_=60.0,
                action=Action.ROLLBACK,
                decides="cto",
            ),
            StopCondition("api_down", "api_health", None, for_=30.0, action=Action.HALT, decides="commander"),
        ),
        steps=(
            Step("go_no_go", "Final go/no-go", at=-3600.0),
            Step(
                "deploy",
                "Deploy backend",
                at=0.0,
                duration=600.0,
                items=(Item("helm", "helm upgrade --install"), Item("migrate", "run migrations")),
                gate=("api_health",),
                watch=("auth_errors",),
            ),
            Step("smoke", "Smoke tests", at=900.0, duration=300.0, watch=("api_down",)),
        ),
        rollback=(
            Step("helm_rollback", "helm rollback to previous release", duration=300.0),
            Step("verify_rollback", "Verify old version serves", at=600.0, duration=120.0),
        ),
        text=text,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


def reading(check_id: str, value: float | None, at: datetime, outcome: Outcome = Outcome.PASS, **extra) -> Reading:
    """A reading of ``check_id`` observed at ``at``."""
    return Reading(check_id, outcome, value, "", 0.012, at, at.timestamp(), extra=extra)


def status(condition_id: str, state: ConditionState, at: datetime) -> ConditionStatus:
    """A condition status in ``state`` since ``at``."""
    return ConditionStatus(condition_id, state, None, "", at)


def run_and_kill(db: Path, delay: float) -> list[int]:
    """Start the writer, let it run ``delay`` s past its first ack, SIGKILL it; the seqs it acknowledged."""
    process = subprocess.Popen([sys.executable, __file__, str(db)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    lines: list[str] = []
    first_ack = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            first_ack.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    started = first_ack.wait(timeout=30)
    time.sleep(delay)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    reader.join(timeout=30)
    errors = process.stderr.read() if process.stderr else ""
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    if not started:
        raise RuntimeError(f"the writer never acknowledged a decision: {errors[-1000:]}")
    # A line cut by the kill was never fully acknowledged.
    return [int(line.split()[1]) for line in lines if line.startswith("ack ") and line.endswith("\n")]


def main(path: str) -> None:
    from cutover_tui.store import SessionLog

    runbook = make_runbook()
    if Path(path).exists():
        log = SessionLog.open(path, runbook, operator="crash-writer")
    else:
        log = SessionLog.create(path, runbook, operator="crash-writer")
    deadline = time.monotonic() + 60  # the test kills it long before; never outlive a lost test
    n = 0
    while time.monotonic() < deadline:
        n += 1
        now = datetime.now(timezone.utc)
        log.record_reading(reading("auth_error_ratio", 0.001 * (n % 50), now))
        record = log.append("decision", {"decision": "hold", "reason": f"crash test {n}", "conditions": {}})
        sys.stdout.write(f"ack {record.seq}\n")
        sys.stdout.flush()
    log.close()


if __name__ == "__main__":
    main(sys.argv[1])
