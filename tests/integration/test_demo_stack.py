"""`cutover-tui demo --with-prometheus`: the demo's runbook on a real Prometheus and Alertmanager.

The spike is seen twice: as our stop condition firing (PromQL checks) and as
Prometheus' AuthErrorsHigh reaching Alertmanager (the alerts check). The
servers stop when the demo ends: by --for, SIGTERM, or a hung-up terminal.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from conftest import ALERTMANAGER, PROMETHEUS, require_binary
from test_condition_lifecycle import History

from checks.probes import ProbeContext
from checks.scheduler import Poller
from checks.status import ConditionState
from checks.target import Target
from cutover_tui.commands import demo_stack
from cutover_tui.commands.demo_stack import PrometheusStack, environment, prometheus_runbook_text
from cutover_tui.sample_runbooks import DIRECTORY
from fault_kit import TmuxSession, wait_for
from runbooks.loader import parse_runbook


@pytest.fixture
def binaries() -> None:
    require_binary(PROMETHEUS, "prometheus")
    require_binary(ALERTMANAGER, "prometheus-alertmanager")


def stack_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob(f"{demo_stack.WORKDIR_PREFIX}*"))


def owned_by(pid: int, before: set[Path]) -> set[Path]:
    """The stack folders made since ``before`` by the demo process ``pid`` (other demos may run beside it)."""
    mine = set()
    for folder in stack_folders() - before:
        try:
            if (folder / demo_stack.OWNER_FILE).read_text().strip() == str(pid):
                mine.add(folder)
        except OSError:
            continue  # being made now, or removed
    return mine


def started(demo: TmuxSession, before: set[Path]) -> tuple[Path, list[int]]:
    """Wait until the dashboard is drawn over a new stack; its folder and its two servers' pids."""
    assert wait_for(lambda: "Stop conditions" in demo.screen() and owned_by(demo.pid, before), timeout=60), (
        demo.screen()
    )
    (folder,) = owned_by(demo.pid, before)
    pids = [int(p) for p in subprocess.run(["pgrep", "-f", str(folder)], capture_output=True, text=True).stdout.split()]
    assert len(pids) == 2, pids
    return folder, pids


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


async def test_the_spike_fires_our_condition_and_reaches_alertmanager_as_the_prometheus_alert(binaries, monkeypatch):
    """Auth errors at 4%: auth_errors fires after its 1m hold on PromQL, and AuthErrorsHigh is active in Alertmanager."""
    with Target() as target, PrometheusStack(target.url) as stack:
        monkeypatch.setenv("DEMO_URL", target.url)
        for key, value in environment(stack).items():
            monkeypatch.setenv(key, value)
        runbook = parse_runbook(prometheus_runbook_text((DIRECTORY / "demo.yaml").read_text(encoding="utf-8")))
        assert {c.kind for c in runbook.checks.values()} == {"http", "promql", "alerts"}
        ctx = ProbeContext(runbook)
        history = History()
        poller = Poller(runbook, ctx, history)
        await poller.start()
        try:
            target.set(auth_error_ratio=0.04)
            raised = time.monotonic()
            while not any(s.id == "auth_errors" and s.state is ConditionState.FIRING for s in history.statuses):
                assert time.monotonic() - raised < 100, history.states
                await asyncio.sleep(0.2)
            assert time.monotonic() - raised >= 60 - 1  # its `for: 1m`
            # Prometheus' rule has the same `for: 1m`: its alert reaches Alertmanager within seconds of ours.
            deadline = time.monotonic() + 20
            while (reading := poller.latest["auth_alerts"]).value != 1:
                assert time.monotonic() < deadline, reading
                await asyncio.sleep(0.2)
            alerts = httpx.get(f"{stack.alertmanager_url}/api/v2/alerts", timeout=5).json()
            assert any(
                a["labels"]["alertname"] == "AuthErrorsHigh" and a["status"]["state"] == "active" for a in alerts
            )
            assert "AuthErrorsHigh" in reading.detail, reading
        finally:
            await poller.stop()
            await ctx.aclose()


def test_stopped_and_removed_when_the_demo_ends_by_itself_or_by_sigterm(binaries, tmp_path):
    """--for ends the demo: Prometheus and Alertmanager are gone and their folder removed; SIGTERM likewise."""
    for ending in ("for", "SIGTERM"):
        before = stack_folders()
        args = ["demo", "--with-prometheus", "--db", tmp_path / f"{ending}.cutover.db"] + (
            ["--for", "25s"] if ending == "for" else []
        )
        with TmuxSession(args, size=(140, 40)) as demo:
            demo.tmux("set-option", "-t", demo.name, "remain-on-exit", "on")
            folder, pids = started(demo, before)
            if ending == "SIGTERM":
                os.kill(demo.pid, signal.SIGTERM)
            assert wait_for(lambda folder=folder: not folder.exists(), timeout=60), ending
            assert wait_for(lambda pids=pids: not any(alive(pid) for pid in pids), timeout=10), ending


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGKILL])
def test_servers_die_with_a_demo_that_exits_at_once(binaries, tmp_path, signum):
    """A hung-up terminal (SIGHUP: the session is logged, then the process exits at once) or a kill takes the servers too."""
    before = stack_folders()
    with TmuxSession(["demo", "--with-prometheus", "--db", tmp_path / "k.cutover.db"], size=(140, 40)) as demo:
        folder, pids = started(demo, before)
        os.kill(demo.pid, signum)
        assert wait_for(lambda: not any(alive(pid) for pid in pids), timeout=10)
    # The next demo with Prometheus removes the folder the dead one left.
    with Target() as target, PrometheusStack(target.url):
        pass
    assert wait_for(lambda: not folder.exists(), timeout=10)


def test_missing_binaries_are_one_line_naming_the_packages(tmp_path):
    """Without prometheus and prometheus-alertmanager on PATH: one line naming both packages, exit 2, no log made."""
    env = {**os.environ, "PATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "cutover_tui", "demo", "--with-prometheus", "--db", str(tmp_path / "x.cutover.db")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "apt-get install prometheus prometheus-alertmanager" in done.stderr
    assert not (tmp_path / "x.cutover.db").exists()
