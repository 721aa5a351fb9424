"""The sample runbooks load, and carry the seeds' numbers."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import pytest

from cutover_tui.cli import main
from runbooks.loader import load_runbook
from runbooks.model import (
    Action,
    AlertsSpec,
    Check,
    CommandSpec,
    HttpSpec,
    PromqlSpec,
    Runbook,
    ScrapeSpec,
    StepKind,
)

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "sample_runbooks"
SAMPLES = sorted(SAMPLES_DIR.glob("*.yaml"))
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
_ENV_NAME = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Unset every variable a sample refers to, so the defaults are what gets tested."""
    for path in SAMPLES:
        for name in _ENV_NAME.findall(path.read_text(encoding="utf-8")):
            monkeypatch.delenv(name, raising=False)
    return monkeypatch


def sample(name: str) -> Runbook:
    return load_runbook(SAMPLES_DIR / name)


def test_there_is_one_sample_per_seed_and_a_demo() -> None:
    """Five seed runbooks and the demo, nothing missing."""
    assert [path.name for path in SAMPLES] == [
        "demo.yaml",
        "enterprise_go_live.yaml",
        "enterprise_onboarding_go_live.yaml",
        "operator_launch_handoff.yaml",
        "saas_control_plane_release.yaml",
        "securenet_go_no_go.yaml",
    ]


def test_validate_command_accepts_every_sample(capsys: pytest.CaptureFixture[str]) -> None:
    """``cutover-tui validate sample_runbooks/*.yaml`` exits 0 with an OK line per file."""
    assert main(["validate", *map(str, SAMPLES)]) == 0
    assert capsys.readouterr().out.count("OK  ") == len(SAMPLES)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.stem)
def test_sample_targets_default_to_loopback(path: Path, clean_env: pytest.MonkeyPatch) -> None:
    """With no environment set, every URL a sample polls is on 127.0.0.1."""
    runbook = load_runbook(path)
    urls = [source.url for source in runbook.sources.values()]
    urls += [check.spec.url for check in runbook.checks.values() if isinstance(check.spec, (HttpSpec, ScrapeSpec))]
    assert urls or all(check.kind == "command" for check in runbook.checks.values())
    assert {urllib.parse.urlsplit(url).hostname for url in urls} <= {"127.0.0.1"}


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.stem)
def test_sample_rollback_conditions_name_who_decides(path: Path) -> None:
    """Every halt or rollback condition names the role that decides, and it exists."""
    runbook = load_runbook(path)
    deciding = [c for c in runbook.stop_conditions if c.action in (Action.HALT, Action.ROLLBACK)]
    assert deciding
    assert all(c.decides in runbook.roles for c in deciding)


def test_enterprise_go_live_follows_seed_000() -> None:
    """Cutover T-7d .. T+72h, gates A-E before the go/no-go, prod deploy only after APPROVE PROD DEPLOY."""
    runbook = sample("enterprise_go_live.yaml")
    scheduled = {step.id: step.at for step in runbook.steps if step.at is not None and step.kind is StepKind.TASK}
    assert [
        scheduled[i]
        for i in (
            "change_freeze",
            "staging_final_validation",
            "production_deploy",
            "production_verification",
            "stabilization",
        )
    ] == [
        -7 * DAY,
        -3 * DAY,
        0.0,
        30 * MINUTE,
        72 * HOUR,
    ]
    go_no_go = runbook.step("final_go_no_go")
    assert (go_no_go.kind, go_no_go.at) == (StepKind.GO_NO_GO, -24 * HOUR)
    assert {"gate_a", "gate_b", "gate_c", "gate_d", "gate_e"} <= set(go_no_go.depends_on)
    approval = runbook.step("approve_prod_deploy")
    assert (approval.kind, approval.phrase) == (StepKind.APPROVAL, "APPROVE PROD DEPLOY")
    assert runbook.step("production_deploy").depends_on == ("approve_prod_deploy",)
    assert [item.text for item in runbook.step("change_freeze").evidence] == [
        "Release tag planned",
        "Known risks logged",
    ]
    error_rate = runbook.condition("error_rate")
    assert (error_rate.when.op, error_rate.when.value, error_rate.action, error_rate.decides) == (
        ">=",
        0.01,
        Action.ROLLBACK,
        "launch_owner",
    )
    assert runbook.rollback


def test_saas_control_plane_release_stops_on_auth_errors_as_seed_001() -> None:
    """Auth errors > 1% for 5 minutes -> rollback; /health by http and /metrics by scrape."""
    runbook = sample("saas_control_plane_release.yaml")
    auth = runbook.condition("auth_errors")
    assert (auth.when.op, auth.when.value, auth.when.unit) == (">", 0.01, "%")
    assert (auth.for_, auth.action) == (5 * MINUTE, Action.ROLLBACK)
    assert 'route="/auth"' in runbook.checks[auth.check].spec_as(PromqlSpec).query
    health, metrics = runbook.checks["api_health"], runbook.checks["api_metrics"]
    assert (health.kind, metrics.kind) == ("http", "scrape")
    assert health.spec_as(HttpSpec).url.endswith("/health") and metrics.spec_as(ScrapeSpec).url.endswith("/metrics")
    monitor = runbook.step("monitor_error_rate_and_latency")
    assert monitor.duration == HOUR and "auth_errors" in monitor.watch
    assert runbook.step("verify_health_and_metrics").gate == ("api_health", "api_metrics")


def test_operator_launch_handoff_gates_on_commands_and_alerts_as_seed_002() -> None:
    """The launch gate scripts are argv command checks (never a shell); no CRITICAL alert gates GO."""
    runbook = sample("operator_launch_handoff.yaml")
    commands = {
        check.id: check.spec_as(CommandSpec).argv for check in runbook.checks.values() if check.kind == "command"
    }
    assert commands["launch_gate"] == ("npm", "run", "launch:gate")
    assert all(argv[0] == "npm" for argv in commands.values())
    assert all(check.timeout < check.every for check in runbook.checks.values())
    assert runbook.checks["post_deploy_smoke"].spec_as(CommandSpec).env == {"LAUNCH_POST_DEPLOY_SMOKE": "true"}
    alerts = runbook.checks["critical_alerts"]
    assert (alerts.kind, alerts.spec_as(AlertsSpec).matchers) == ("alerts", ('severity="critical"',))
    go_no_go = runbook.step("go_no_go")
    assert go_no_go.kind is StepKind.GO_NO_GO
    assert {"critical_alerts", "launch_checklist", "post_deploy_smoke", "admin_controls"} <= set(go_no_go.gate)
    assert len(go_no_go.items) == 7
    evidence = runbook.step("release_evidence").evidence
    assert evidence[0].text == "docs/release-evidence/release-evidence-<timestamp>.md"


def test_enterprise_onboarding_hypercare_thresholds_as_seed_003() -> None:
    """Targets are pass_when, alert levels are stop conditions: >99%/<95%, <0.1%/>1%, <500ms/>1s."""
    runbook = sample("enterprise_onboarding_go_live.yaml")
    targets = {
        check_id: (runbook.checks[check_id].pass_when.op, runbook.checks[check_id].pass_when.value)
        for check_id in ("login_success_ratio", "error_ratio", "latency_p95")
    }
    assert targets == {"login_success_ratio": (">", 0.99), "error_ratio": ("<", 0.001), "latency_p95": ("<", 0.5)}
    alerts = {c.check: (c.when.op, c.when.value) for c in runbook.stop_conditions if c.when is not None}
    assert alerts == {
        "login_success_ratio": ("<", 0.95),
        "error_ratio": (">", 0.01),
        "latency_p95": (">", 1.0),
    }
    assert runbook.condition("login_failing").active.end == 14 * DAY
    escalation = [(level.severity, level.respond_within, level.escalate_to) for level in runbook.escalation]
    assert escalation == [
        ("L1", 4 * HOUR, "support"),
        ("L2", 2 * HOUR, "engineering"),
        ("L3", HOUR, "engineering_lead"),
        ("P0", 30 * MINUTE, "cto"),
    ]
    assert (runbook.step("pre_go_live").at, runbook.step("post_go_live").at) == (-DAY, DAY)


def test_securenet_scorecard_weights_and_thresholds_as_seed_004() -> None:
    """Weights 25/20/20/15/10/5/5; GO >= 90, CONDITIONAL 80-89, NO-GO < 80."""
    runbook = sample("securenet_go_no_go.yaml")
    scorecard = runbook.scorecard
    assert scorecard is not None
    assert {c.id: c.weight for c in scorecard.categories} == {
        "security": 25,
        "performance": 20,
        "testing": 20,
        "infrastructure": 15,
        "user_experience": 10,
        "documentation": 5,
        "compliance": 5,
    }
    assert (scorecard.go, scorecard.conditional) == (90, 80)
    perfect = {c.id: 100.0 for c in scorecard.categories}
    assert scorecard.result(perfect) == (100.0, "GO")
    assert scorecard.result({**perfect, "user_experience": 0.0}) == (90.0, "GO")
    assert scorecard.result({**perfect, "infrastructure": 0.0}) == (85.0, "CONDITIONAL")
    assert scorecard.result({**perfect, "performance": 0.0}) == (80.0, "CONDITIONAL")
    assert scorecard.result({**perfect, "performance": 0.0, "compliance": 80.0}) == (79.0, "NO-GO")
    p0 = runbook.escalation[0]
    assert (p0.severity, p0.respond_within, p0.escalate_to) == ("P0", 30 * MINUTE, "ceo")
    assert runbook.step("final_go_no_go").kind is StepKind.GO_NO_GO


def test_demo_is_a_minute_scale_go_live_against_the_demo_service(clean_env: pytest.MonkeyPatch) -> None:
    """No t0; http and scrape checks every 2-5 s; auth errors > 1% for 1m roll back; T-5m .. T+10m."""
    runbook = sample("demo.yaml")
    assert runbook.t0 is None
    assert {check.kind for check in runbook.checks.values()} == {"http", "scrape"}
    assert all(2.0 <= check.every <= 5.0 and check.timeout < check.every for check in runbook.checks.values())
    assert all(_url(check).startswith("http://127.0.0.1:8765/") for check in runbook.checks.values())
    auth = runbook.condition("auth_errors")
    assert (auth.when.op, auth.when.value, auth.for_, auth.action) == (">", 0.01, MINUTE, Action.ROLLBACK)
    offsets = [step.at for step in runbook.steps]
    assert offsets[0] == -5 * MINUTE and offsets[-1] == 10 * MINUTE and offsets == sorted(offsets)
    kinds = [step.kind for step in runbook.steps]
    assert kinds.count(StepKind.GO_NO_GO) == 1 and kinds.count(StepKind.APPROVAL) == 1
    assert runbook.step("approve_prod_deploy").phrase == "APPROVE PROD DEPLOY"
    assert any(step.gate for step in runbook.steps) and any(step.watch for step in runbook.steps)
    assert runbook.rollback


def test_demo_url_follows_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    """DEMO_URL moves every demo check to the simulated service's actual address."""
    clean_env.setenv("DEMO_URL", "http://127.0.0.1:40123")
    runbook = sample("demo.yaml")
    assert all(_url(check).startswith("http://127.0.0.1:40123/") for check in runbook.checks.values())


def test_demo_documents_every_metric_it_reads() -> None:
    """The header comment lists each metric the demo scrapes, for the simulated service to serve."""
    text = (SAMPLES_DIR / "demo.yaml").read_text(encoding="utf-8")
    header = text.split("\nname:", 1)[0]
    for check in sample("demo.yaml").checks.values():
        if check.kind == "scrape":
            assert f"#     {check.spec_as(ScrapeSpec).metric}" in header


def _url(check: Check) -> str:
    """The URL an http or scrape check polls."""
    assert isinstance(check.spec, (HttpSpec, ScrapeSpec)), check.kind
    return check.spec.url
