"""`cutover-tui check` end to end: a subprocess polling a real local target."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from checks.target import Target

pytestmark = pytest.mark.slow  # every test runs `cutover-tui check` in a process of its own, polling for real

RUNBOOK = """\
name: Gate test
checks:
  api_health:
    http: "{url}/health"
    expect_status: 200
    every: 3s
    timeout: 2s
  auth_error_ratio:
    scrape: "{url}/metrics"
    metric: auth_error_ratio
    unit: "%"
    every: 1s
    timeout: 900ms
stop_conditions:
  - id: auth_errors
    check: auth_error_ratio
    when: "> 1%"
    for: {hold}
    action: rollback
  - id: health_down
    check: api_health
    action: halt
steps:
  - title: Deploy
    at: T-0
"""


def write_runbook(tmp_path: Path, url: str, *, hold: str = "0s", extra: str = "") -> Path:
    path = tmp_path / "gate.yaml"
    path.write_text(RUNBOOK.format(url=url, hold=hold) + extra, encoding="utf-8")
    return path


def cutover_check(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cutover_tui", "check", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_healthy_target_exits_0_and_prints_a_table(target, tmp_path):
    """Everything passing: CONTINUE, exit 0, with each check and condition in the table."""
    result = cutover_check(write_runbook(tmp_path, target.url))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERDICT: CONTINUE" in result.stdout
    assert "auth_errors  ok" in result.stdout
    assert "api_health" in result.stdout


def test_json_output_has_the_documented_shape(target, tmp_path):
    """--json prints the verdict, each check's reading and each condition's state."""
    result = cutover_check(write_runbook(tmp_path, target.url), "--json")
    document = json.loads(result.stdout)
    assert document["verdict"] == "CONTINUE"
    checks = {row["id"]: row for row in document["checks"]}
    assert set(checks) == {"api_health", "auth_error_ratio"}
    assert {"id", "outcome", "value", "unit", "latency_ms", "detail"} <= set(checks["auth_error_ratio"])
    assert checks["auth_error_ratio"]["outcome"] == "pass"
    assert checks["auth_error_ratio"]["value"] == pytest.approx(0.002)
    conditions = {row["id"]: row for row in document["conditions"]}
    assert {"id", "state", "value", "threshold", "since"} <= set(conditions["auth_errors"])
    assert conditions["auth_errors"]["state"] == "ok"
    assert conditions["auth_errors"]["threshold"] == "> 1%"


def test_firing_rollback_condition_exits_1(target, tmp_path):
    """A rollback condition with no `for` breached on the one poll: ROLLBACK, exit 1."""
    target.set(auth_error_ratio=0.05)
    result = cutover_check(write_runbook(tmp_path, target.url), "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["verdict"] == "ROLLBACK"
    assert {row["id"]: row["state"] for row in document["conditions"]}["auth_errors"] == "firing"


def test_pending_in_one_shot_mode_is_at_risk_and_exits_4(target, tmp_path):
    """One poll cannot show a 5m breach lasting: the condition is pending, the verdict AT RISK, the exit 4."""
    target.set(auth_error_ratio=0.05)
    result = cutover_check(write_runbook(tmp_path, target.url, hold="5m"))
    assert result.returncode == 4, result.stdout + result.stderr
    assert "auth_errors  pending" in result.stdout
    assert "VERDICT: AT RISK" in result.stdout
    assert "auth_errors pending" in result.stdout  # the reason under the verdict
    document = json.loads(cutover_check(write_runbook(tmp_path, target.url, hold="5m"), "--json").stdout)
    assert document["verdict"] == "AT_RISK"


def test_unreachable_source_exits_3(tmp_path):
    """A target that does not answer is cannot-verify, never continue."""
    with Target() as gone:
        url = gone.url
    result = cutover_check(write_runbook(tmp_path, url), "--json")
    assert result.returncode == 3
    states = {row["id"]: row["state"] for row in json.loads(result.stdout)["conditions"]}
    assert states == {"auth_errors": "unknown", "health_down": "unknown"}


def test_failing_gate_check_exits_1(target, tmp_path):
    """A check whose own pass_when fails halts the gate even without a stop condition on it."""
    extra_check = (
        "  p95:\n"
        f'    scrape: "{target.url}/metrics"\n'
        "    metric: http_request_duration_p95_seconds\n"
        '    pass_when: "< 100ms"\n'
    )
    path = write_runbook(tmp_path, target.url)
    text = path.read_text().replace("stop_conditions:", extra_check + "stop_conditions:")
    path.write_text(text)
    result = cutover_check(path, "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["verdict"] == "HALT"
    assert {row["id"]: row["gate_blocking"] for row in document["checks"]}["p95"] is True


def test_for_evaluates_the_hold_over_time_and_stops_once_firing(target, tmp_path):
    """--for polls on the intervals: pending, then firing after `for`, then exit 1 without waiting it out."""
    target.set(auth_error_ratio=0.05)
    result = cutover_check(write_runbook(tmp_path, target.url, hold="1s"), "--for", "20s", "--only", "auth_errors")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "auth_errors: pending" in result.stdout
    assert "auth_errors: firing" in result.stdout
    assert "VERDICT: ROLLBACK" in result.stdout
    assert "api_health" not in result.stdout


def test_bad_runbook_exits_2_with_a_located_error(tmp_path):
    """An invalid runbook is exit 2 with file and line, not a traceback."""
    path = tmp_path / "bad.yaml"
    path.write_text("name: Bad\nchecks:\n  x:\n    http: http://127.0.0.1:9/health\n    evry: 5s\n")
    result = cutover_check(path)
    assert result.returncode == 2
    assert "bad.yaml:5" in result.stderr
    assert "Traceback" not in result.stderr


def test_only_with_an_unknown_id_exits_2(target, tmp_path):
    """--only naming nothing in the runbook is a usage error."""
    result = cutover_check(write_runbook(tmp_path, target.url), "--only", "nope")
    assert result.returncode == 2
    assert "'nope'" in result.stderr


GATED = """\
name: Gate on a lagging source
sources:
  prometheus: {{kind: prometheus, url: "{url}"}}
checks:
  error_ratio:
    promql: error_ratio
    pass_when: "< 1%"
    max_age: 1m
steps:
  - title: Deploy
    at: T-0
    gate: [error_ratio]
"""


def _prometheus_answer(canned_server, *, sample_age: float = 0.0, warnings: list[str] | None = None) -> None:
    import time

    document = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"__name__": "error_ratio"}, "value": [time.time() - sample_age, "0.002"]}]}}  # fmt: skip
    if warnings:
        document["warnings"] = warnings
    canned_server.respond(json.dumps(document))


def test_gate_check_with_a_sample_older_than_its_max_age_cannot_verify(canned_server, tmp_path):
    """A passing gate check whose sample is older than the check's max_age (a lagging API) exits 3, never 0."""
    _prometheus_answer(canned_server, sample_age=600)
    path = tmp_path / "gate.yaml"
    path.write_text(GATED.format(url=canned_server.url), encoding="utf-8")
    result = cutover_check(path, "--json")
    assert result.returncode == 3, result.stdout
    assert json.loads(result.stdout)["verdict"] == "CANNOT_VERIFY"


def test_gate_check_passing_on_partial_data_cannot_verify(canned_server, tmp_path):
    """A gate check that passes on partial data (Prometheus warnings) vouches for nothing: exit 3, never 0."""
    _prometheus_answer(canned_server, warnings=["remote store eu-1 unreachable: partial data"])
    path = tmp_path / "gate.yaml"
    path.write_text(GATED.format(url=canned_server.url), encoding="utf-8")
    result = cutover_check(path, "--json")
    assert result.returncode == 3, result.stdout
    assert json.loads(result.stdout)["verdict"] == "CANNOT_VERIFY"


def test_gate_check_with_a_fresh_full_sample_passes(canned_server, tmp_path):
    """The same gate with a fresh sample and no warnings passes: exit 0."""
    _prometheus_answer(canned_server, sample_age=1)
    path = tmp_path / "gate.yaml"
    path.write_text(GATED.format(url=canned_server.url), encoding="utf-8")
    result = cutover_check(path, "--json")
    assert result.returncode == 0, result.stdout
