"""Every sample runbook, run for real: against nothing (blind, never ok) and against the test target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from checks.status import ConditionState
from checks.target import Target
from cutover_tui.app import make_app
from cutover_tui.live import LiveBackend
from cutover_tui.store import SessionLog
from runbooks import load_runbook

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "sample_runbooks").glob("*.yaml"))
URL_VARIABLES = ("API_URL", "APP_URL", "WEB_URL", "LAUNCH_BASE_URL", "DEMO_URL", "PROM_URL", "AM_URL")
NOTHING_LISTENS = "http://127.0.0.1:9"  # the discard port: connection refused


@pytest.mark.slow
@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.stem)
async def test_sample_opens_in_run_and_unreachable_targets_are_never_ok(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every base URL unreachable, the dashboard opens and no stop condition shows ok."""
    for name in URL_VARIABLES:
        monkeypatch.setenv(name, NOTHING_LISTENS)
    monkeypatch.chdir(tmp_path)  # command checks run where nothing of theirs exists
    runbook = load_runbook(path)
    backend = LiveBackend(runbook, SessionLog.create(tmp_path / "s.cutover.db", runbook, operator="t"), actor="t")
    app = make_app(backend)
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(60):
            if all(view.outcome is not None for view in app.session.checks.values()):
                break
            await pilot.pause(0.1)
        await pilot.pause(0.3)
        states = {cid: view.state for cid, view in app.session.conditions.items()}
    assert states and ConditionState.OK not in states.values(), states


@pytest.mark.slow
@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.stem)
def test_check_runs_every_sample_against_the_target(path: Path, tmp_path: Path) -> None:
    """`cutover-tui check --json` polls every check of every sample against the target and exits 0, 1 or 3."""
    with Target() as target:
        env = {**os.environ, **{name: target.url for name in URL_VARIABLES}}
        result = subprocess.run(
            [sys.executable, "-m", "cutover_tui", "check", str(path), "--json", "--trust"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
    assert result.returncode in (0, 1, 3), result.stderr
    report = json.loads(result.stdout)
    assert {c["id"] for c in report["checks"]} == set(load_runbook(path).checks)
    assert all(c["outcome"] in ("pass", "breach", "nodata", "invalid", "error") for c in report["checks"])
    assert report["verdict"] in ("CONTINUE", "CANNOT_VERIFY", "HALT", "ROLLBACK")
