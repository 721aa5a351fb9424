"""Loading runbooks: the model built from YAML, and errors located for a person to fix."""

from __future__ import annotations

import hashlib
import re
import secrets
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from runbooks import RunbookError, load_runbook, parse_runbook
from runbooks.model import (
    Action,
    AlertsSpec,
    Check,
    CommandSpec,
    HttpSpec,
    PromqlSpec,
    ScrapeSpec,
    StepKind,
    Threshold,
)

ROOT = Path(__file__).resolve().parents[2]

FULL_RUNBOOK = textwrap.dedent(
    """\
    name: Enterprise go-live — Acme
    description: A full runbook touching every key.
    t0: 2026-12-01T22:00:00+05:30
    timezone: Asia/Kolkata
    roles:
      commander: Incident commander
      cto: CTO
    sources:
      prom: {kind: prometheus, url: "${CUTOVER_TEST_PROM_URL:-http://127.0.0.1:9090}", token_env: PROM_TOKEN,
             headers: {X-Scope-OrgID: "${TENANT}"}, timeout: 10s, verify_tls: false}
      alertmanager: {url: "http://127.0.0.1:9093"}
    checks:
      api_health:
        http: "${CUTOVER_TEST_API_URL}/health"
        method: HEAD
        headers: {Authorization: "Bearer ${API_TOKEN}"}
        expect_status: [200, 204]
        max_latency: 500ms
        json_path: status.checks[0].ok
      auth_error_ratio:
        every: 30s
        timeout: 5s
        promql: sum(rate(errors[5m])) / sum(rate(total[5m]))
        reduce: max
        pass_when: "< 1%"
        unit: "%"
        title: Auth error ratio
      critical_alerts:
        alerts: ['severity="critical"', 'team=~"auth|api"']
        watchdog: Watchdog
        suppressed: ignore
        on_nodata: pass
      login_scrape:
        scrape: http://127.0.0.1:8080/metrics
        metric: login_success_ratio
        labels: {env: prod, code: 200}
        mode: rate
        every: 2s
      migrations_done:
        command: [./check_migrations.sh, --prod]
        env: {PGPASSWORD: "${PGPASSWORD}"}
        every: 1m
        timeout: 50s
    stop_conditions:
      - id: auth_errors
        check: auth_error_ratio
        when: "> 1%"
        for: 5m
        keep_firing_for: 2m
        min_consecutive: 3
        action: rollback
        decides: cto
        severity: P0
        active: T+0..T+72h
      - title: Critical alerts firing
        check: critical_alerts
        active: "..T+1h"
    steps:
      - title: Final go/no-go
        at: T-24h
        kind: go_no_go
        owner: commander
      - title: Approve production deploy
        at: T-00:15
        kind: approval
        phrase: APPROVE PROD DEPLOY
        depends_on: final_go_no_go
      - id: deploy
        title: Deploy backend
        at: T-0
        duration: 10m
        items: [helm upgrade --install, {id: migrate, text: run migrations}]
        evidence: [Release tag, Migration log]
        gate: [api_health, migrations_done]
        watch: [auth_errors, critical_alerts_firing]
        depends_on: [approve_production_deploy]
        expect_silenced: {alertname: BackendDown, env: prod}
        notes: Watch the auth dashboard.
    rollback:
      - title: helm rollback
        at: T+0
        duration: 5m
        evidence: required
    escalation:
      - {severity: P0, respond_within: 15m, escalate_to: cto, description: Complete outage}
      - {severity: L1, respond_within: 4h, escalate_to: Support team}
    scorecard:
      go: 90
      conditional: 80
      categories:
        - {id: security, title: Security, weight: 25}
        - {title: Performance, weight: 75}
    """
)


def load_error(text: str) -> RunbookError:
    """The RunbookError parsing ``text`` raises."""
    with pytest.raises(RunbookError) as raised:
        parse_runbook(text, file="runbook.yaml")
    return raised.value


def position(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the last ``needle`` in ``text``."""
    index = text.rindex(needle)
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def assert_error(text: str, message: str, at: str, key_path: str, hint: str = "") -> RunbookError:
    """Parsing ``text`` fails with ``message`` located at the last ``at`` and ``key_path``."""
    error = load_error(text)
    assert message in error.message
    assert (error.line, error.column) == position(text, at)
    assert error.key_path == key_path
    assert hint in error.hint
    assert error.file == "runbook.yaml"
    return error


def minimal(body: str = "") -> str:
    """A small valid runbook with ``body`` appended (``"  id: {...}"`` lines add checks)."""
    head = textwrap.dedent(
        """\
        name: Minimal
        roles: {commander: Incident commander, cto: CTO}
        sources:
          prometheus: {url: "http://127.0.0.1:9090"}
        checks:
          api_health: {http: "http://127.0.0.1:8080/health"}
          ratio: {promql: "errors / total", every: 15s}
        """
    )
    return head + body


# -- a valid runbook ------------------------------------------------------------------


@pytest.fixture
def full_runbook(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("CUTOVER_TEST_API_URL", "http://127.0.0.1:8080")
    monkeypatch.delenv("CUTOVER_TEST_PROM_URL", raising=False)
    path = tmp_path / "full.yaml"
    path.write_text(FULL_RUNBOOK, encoding="utf-8")
    return path


def test_full_runbook_loads_with_typed_values(full_runbook: Path) -> None:
    """Every key of a full runbook lands in the model with the right type and unit."""
    runbook = load_runbook(full_runbook)
    assert runbook.name == "Enterprise go-live — Acme"
    assert runbook.t0 == datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)
    assert runbook.t0 is not None and runbook.t0.utcoffset() == timedelta(hours=5, minutes=30)
    assert runbook.timezone == "Asia/Kolkata"
    assert runbook.roles == {"commander": "Incident commander", "cto": "CTO"}

    prom = runbook.sources["prom"]
    assert (prom.kind, prom.url, prom.token_env, prom.timeout, prom.verify_tls) == (
        "prometheus",
        "http://127.0.0.1:9090",
        "PROM_TOKEN",
        10.0,
        False,
    )
    assert prom.headers == {"X-Scope-OrgID": "${TENANT}"}
    assert runbook.sources["alertmanager"].kind == "alertmanager"

    health = runbook.checks["api_health"]
    assert health.kind == "http"
    assert health.spec == HttpSpec(
        url="http://127.0.0.1:8080/health",
        method="HEAD",
        headers={"Authorization": "Bearer ${API_TOKEN}"},
        expect_status=(200, 204),
        max_latency=0.5,
        json_path="status.checks[0].ok",
        verify_tls=True,
    )
    assert (health.every, health.timeout) == (15.0, 5.0)

    ratio = runbook.checks["auth_error_ratio"]
    assert ratio == Check(
        id="auth_error_ratio",
        kind="promql",
        spec=PromqlSpec(
            query="sum(rate(errors[5m])) / sum(rate(total[5m]))", source="prom", expect="one", reduce="max", headers={}
        ),
        every=30.0,
        timeout=5.0,
        pass_when=Threshold("<", 0.01, "%", "< 1%"),
        unit="%",
        title="Auth error ratio",
    )
    alerts = runbook.checks["critical_alerts"]
    assert alerts.spec == AlertsSpec(
        source="alertmanager",
        matchers=('severity="critical"', 'team=~"auth|api"'),
        watchdog="Watchdog",
        receiver=None,
        suppressed="ignore",
    )
    assert alerts.on_nodata == "pass"
    scrape = runbook.checks["login_scrape"]
    assert scrape.spec_as(ScrapeSpec).labels == {"env": "prod", "code": "200"}
    assert (scrape.spec_as(ScrapeSpec).mode, scrape.every, scrape.timeout) == ("rate", 2.0, 1.0)
    command = runbook.checks["migrations_done"]
    assert command.spec == CommandSpec(
        argv=("./check_migrations.sh", "--prod"), cwd=None, env={"PGPASSWORD": "${PGPASSWORD}"}, perfdata_label=None
    )

    auth, critical = runbook.stop_conditions
    assert auth.when == Threshold(">", 0.01, "%", "> 1%")
    assert (auth.for_, auth.keep_firing_for, auth.min_consecutive, auth.error_limit) == (300.0, 120.0, 3, 4)
    assert (auth.action, auth.decides, auth.severity) == (Action.ROLLBACK, "cto", "P0")
    assert (auth.active.start, auth.active.end) == (0.0, 259200.0)
    assert critical.id == "critical_alerts_firing"
    assert (critical.when, critical.action, critical.active.start, critical.active.end) == (
        None,
        Action.WARN,
        None,
        3600.0,
    )

    go_no_go, approve, deploy = runbook.steps
    assert (go_no_go.id, go_no_go.at, go_no_go.kind) == ("final_go_no_go", -86400.0, StepKind.GO_NO_GO)
    assert (approve.id, approve.at, approve.phrase, approve.depends_on) == (
        "approve_production_deploy",
        -900.0,
        "APPROVE PROD DEPLOY",
        ("final_go_no_go",),
    )
    assert [(i.id, i.text) for i in deploy.items] == [
        ("helm_upgrade_install", "helm upgrade --install"),
        ("migrate", "run migrations"),
    ]
    assert deploy.evidence_required and [e.text for e in deploy.evidence] == ["Release tag", "Migration log"]
    assert (deploy.at, deploy.duration, deploy.gate, deploy.watch) == (
        0.0,
        600.0,
        ("api_health", "migrations_done"),
        ("auth_errors", "critical_alerts_firing"),
    )
    assert deploy.expect_silenced == (('alertname="BackendDown"', 'env="prod"'),)
    assert go_no_go.expect_silenced == ()
    assert runbook.step("helm_rollback").evidence_required
    assert runbook.escalation[1].escalate_to == "Support team"
    assert runbook.scorecard is not None
    assert [c.id for c in runbook.scorecard.categories] == ["security", "performance"]
    assert runbook.scorecard.result({"security": 100, "performance": 100}) == (100.0, "GO")


def test_runbook_keeps_path_text_and_file_hash(full_runbook: Path) -> None:
    """The runbook records its path, its text and the sha256 of the file's bytes."""
    runbook = load_runbook(full_runbook)
    assert runbook.path == str(full_runbook)
    assert runbook.text == FULL_RUNBOOK
    assert runbook.sha256 == hashlib.sha256(full_runbook.read_bytes()).hexdigest()


def test_url_uses_environment_over_default(full_runbook: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """${VAR:-default} in a URL takes the variable when it is set."""
    monkeypatch.setenv("CUTOVER_TEST_PROM_URL", "http://127.0.0.2:9999")
    assert load_runbook(full_runbook).sources["prom"].url == "http://127.0.0.2:9999"


def test_format_reference_example_is_valid() -> None:
    """The example in docs/runbook-format.md is a runbook the loader accepts."""
    document = (ROOT / "docs" / "runbook-format.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", document, re.S)
    assert example is not None
    runbook = parse_runbook(example[1])
    assert {"api_health", "auth_error_ratio", "critical_alerts", "login_success_scrape", "migrations_done"} == set(
        runbook.checks
    )


# -- YAML and file errors --------------------------------------------------------------


def _nodes(node: object) -> object:
    """A composed YAML node as plain data: kind, tag, value, style, and where it starts and ends."""
    where = (node.start_mark.line, node.start_mark.column, node.end_mark.line, node.end_mark.column)  # type: ignore[attr-defined]
    value = node.value  # type: ignore[attr-defined]
    if isinstance(value, list):
        value = [tuple(_nodes(n) for n in item) if isinstance(item, tuple) else _nodes(item) for item in value]
    style = getattr(node, "style", None) or None  # a plain scalar's: None from PyYAML, "" from libyaml
    return (type(node).__name__, node.tag, value, style, where)  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "sample_runbooks").glob("*.yaml"))
                         + sorted((Path(__file__).parents[1] / "import_corpus").glob("*.yaml")), ids=lambda p: p.name)  # fmt: skip
def test_libyaml_composes_the_same_nodes_and_marks_as_pyyaml(path: Path) -> None:
    """The runbook is composed by libyaml: every node, tag, value, quoting style and line/column equals PyYAML's own composer's."""
    import yaml

    from runbooks.loader import _FAST_LOADER

    assert _FAST_LOADER is yaml.CSafeLoader
    text = path.read_text()
    assert _nodes(yaml.compose(text, Loader=_FAST_LOADER)) == _nodes(yaml.compose(text, Loader=yaml.SafeLoader))


def test_yaml_syntax_error_is_located() -> None:
    """A YAML syntax error is a RunbookError with its line and column."""
    text = "name: x\nsteps:\n  - title: [unclosed\n"
    error = load_error(text)
    assert error.message.startswith("invalid YAML")
    assert error.line == 4


def test_unquoted_threshold_gets_a_quoting_hint() -> None:
    """`when: > 1%` (a YAML folded block) says to quote the threshold."""
    text = minimal("stop_conditions:\n  - id: a\n    check: ratio\n    when: > 1%\n")
    error = load_error(text)
    assert "block scalar" in error.message and 'when: "> 1%"' in error.hint
    assert (error.line, error.column) == position(text, "1%")


def test_unquoted_not_equal_threshold_gets_a_quoting_hint() -> None:
    """`when: != 0` (a YAML tag) says to quote the whole value."""
    text = minimal("stop_conditions:\n  - id: a\n    check: ratio\n    when: != 0\n")
    assert_error(text, "unexpected YAML tag '!='", "!= 0", "stop_conditions[0].when", '"!= 0"')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("# only a comment\n", "empty"),
        ("- name: x\n", "expected a mapping, got a list"),
        ("just text\n", "expected a mapping, got text"),
        ("name: a\n---\nname: b\n", "single document"),
        ("name: a\nsteps: &s [*s]\n", "expected a mapping, got a list"),
        ("name: *missing\n", "undefined alias"),
        ("name: x\nroles: {? [a] : b}\n", "a key must be a plain name"),
        ("name: x\nsteps: [{title: a, notes: &m {[x]: 1}}]\nroles: {<<: *m}\n", "a key must be a plain name"),
        ("name: x\nroles: {<<: 5}\n", "invalid merge key"),
    ],
)
def test_not_a_runbook_at_all(text: str, message: str) -> None:
    """Empty text, non-mapping documents, several documents, bad aliases and keys are RunbookErrors."""
    assert message in load_error(text).message


def test_duplicate_key_is_an_error() -> None:
    """A key given twice in one mapping is an error naming the first line."""
    text = minimal("steps:\n  - title: A\n    at: T-0\n    at: T+5m\n")
    assert_error(text, "duplicate key 'at' (first on line 10)", "at: T+5m", "steps[0].at")


def test_missing_file_has_no_line(tmp_path: Path) -> None:
    """A file that does not exist is a RunbookError naming it, without a line."""
    missing = tmp_path / "missing.yaml"
    with pytest.raises(RunbookError) as raised:
        load_runbook(missing)
    assert raised.value.file == str(missing) and raised.value.line is None
    assert "cannot read" in raised.value.message


def test_non_utf8_file_is_located(tmp_path: Path) -> None:
    """A file that is not UTF-8 is a RunbookError at the offending byte."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: ok\ndescription: caf\xe9\n".encode("latin-1"))
    with pytest.raises(RunbookError) as raised:
        load_runbook(path)
    assert "not UTF-8" in raised.value.message
    assert (raised.value.line, raised.value.column) == (2, 17)


def test_directory_is_not_a_runbook(tmp_path: Path) -> None:
    """A directory given as the runbook is a RunbookError, not IsADirectoryError."""
    with pytest.raises(RunbookError, match="cannot read"):
        load_runbook(tmp_path)


# -- keys and types ---------------------------------------------------------------------


def test_unknown_key_suggests_the_nearest() -> None:
    """`fro: 5m` in a stop condition names the line, column, key path and suggests 'for'."""
    text = minimal("stop_conditions:\n  - id: auth_errors\n    check: ratio\n    fro: 5m\n")
    error = assert_error(text, "unknown key 'fro'", "fro", "stop_conditions[0].fro", "did you mean 'for'?")
    assert error.format().startswith(
        f"runbook.yaml:{error.line}:5: error: unknown key 'fro' (at stop_conditions[0].fro)"
    )


def test_unknown_top_level_key_lists_valid_keys_when_nothing_is_close() -> None:
    """An unknown key with no near match lists the valid keys."""
    text = minimal("zzzzzz: 1\n")
    assert_error(text, "unknown key 'zzzzzz'", "zzzzzz", "zzzzzz", "valid: checks")


def test_missing_name() -> None:
    """A runbook without a name is an error at the top mapping."""
    assert_error("description: x\n", "missing required key 'name'", "description", "")


@pytest.mark.parametrize(
    ("body", "message", "at", "key_path"),
    [
        ("escalation: {P0: cto}\n", "expected a list of escalation levels, got a mapping", "{P0", "escalation"),
        ("steps: {title: x}\n", "expected a list of steps, got a mapping", "{title: x}", "steps"),
        ("steps:\n  - Deploy\n", "expected a mapping, got text", "Deploy", "steps[0]"),
        ("steps:\n  - {title: [a]}\n", "expected text, got a list", "[a]", "steps[0].title"),
        ("steps:\n  - {title: A, duration: soon}\n", "invalid duration 'soon'", "soon", "steps[0].duration"),
        ("steps:\n  - {title: A, duration: 1:30}\n", "ambiguous duration '1:30'", "1:30", "steps[0].duration"),
        ("steps:\n  - {title: A, at: 24h}\n", "invalid T-offset '24h'", "24h", "steps[0].at"),
        (
            "steps:\n  - {title: A, kind: gonogo}\n",
            "expected one of task | go_no_go | approval",
            "gonogo",
            "steps[0].kind",
        ),
        (
            "steps:\n  - {title: A, evidence: maybe}\n",
            "expected one of required | optional",
            "maybe",
            "steps[0].evidence",
        ),
        (
            "stop_conditions:\n  - {id: a, check: ratio, min_consecutive: 0}\n",
            "must be at least 1",
            "0}",
            "stop_conditions[0].min_consecutive",
        ),
        (
            "stop_conditions:\n  - {id: a, check: ratio, error_limit: 2.5}\n",
            "expected a whole number",
            "2.5",
            "stop_conditions[0].error_limit",
        ),
        (
            "stop_conditions:\n  - {id: a, check: ratio, when: 5}\n",
            "needs a comparison",
            "5}",
            "stop_conditions[0].when",
        ),
        (
            "stop_conditions:\n  - {id: a, check: ratio, when: '> 1 apples'}\n",
            "unknown unit 'apples'",
            "'> 1",
            "stop_conditions[0].when",
        ),
        (
            "stop_conditions:\n  - {id: a, check: ratio, active: 'T+1h..T+0'}\n",
            "ends before it starts",
            "'T+1h",
            "stop_conditions[0].active",
        ),
        (
            "stop_conditions:\n  - {id: a, check: ratio, active: 'T+0'}\n",
            "invalid active window",
            "'T+0'",
            "stop_conditions[0].active",
        ),
        (
            "stop_conditions:\n  - {id: a, check: ratio, for: -5m}\n",
            "invalid duration '-5m'",
            "-5m",
            "stop_conditions[0].for",
        ),
        (
            "stop_conditions:\n  - {id: bad id, check: ratio}\n",
            "invalid id 'bad id'",
            "bad id",
            "stop_conditions[0].id",
        ),
        ("t0: 2026-12-01T22:00:00\n", "has no UTC offset", "2026-12-01T22", "t0"),
        ("t0: next tuesday\n", "invalid t0", "next tuesday", "t0"),
        ("timezone: Mars/Olympus\n", "unknown time zone", "Mars/Olympus", "timezone"),
        (
            "scorecard: {categories: [{title: A, weight: 60}, {title: B, weight: 30}]}\n",
            "weights sum to 90, not 100",
            "[{title",
            "scorecard.categories",
        ),
        (
            "scorecard: {go: 70, categories: [{title: A, weight: 100}]}\n",
            "conditional (80) must not be above go (70)",
            "{go",
            "scorecard.conditional",
        ),
        (
            "scorecard: {categories: [{title: A, weight: .inf}]}\n",
            "expected a finite number",
            ".inf",
            "scorecard.categories[0].weight",
        ),
    ],
)
def test_wrong_values_are_located(body: str, message: str, at: str, key_path: str) -> None:
    """A value of the wrong type or form is an error at the value, with its key path."""
    assert_error(minimal(body), message, at, key_path)


# -- checks -------------------------------------------------------------------------------


def test_check_needs_exactly_one_kind() -> None:
    """A check with two kind keys is an error at the second."""
    text = minimal("  both: {http: 'http://127.0.0.1/', scrape: 'http://127.0.0.1/m', metric: m}\n")
    assert_error(text, "exactly one kind, found http and scrape", "scrape: 'http", "checks.both.scrape")


def test_check_without_kind() -> None:
    """A check without any kind key says which keys are kinds."""
    text = minimal("  nothing: {every: 5s}\n")
    assert_error(text, "needs exactly one of http, promql, alerts, scrape, command", "{every", "checks.nothing")


def test_check_key_of_another_kind() -> None:
    """A key that belongs to another kind of check is an error naming both kinds."""
    text = minimal("  wrong: {promql: up, method: GET}\n")
    assert_error(text, "'method' applies to http checks, not to a promql check", "method", "checks.wrong.method")


def test_timeout_must_be_shorter_than_every() -> None:
    """A check's timeout must be shorter than its interval."""
    text = minimal("  slow: {http: 'http://127.0.0.1/', every: 5s, timeout: 5s}\n")
    assert_error(text, "timeout (5s) must be shorter than every (5s)", "5s}", "checks.slow.timeout")


def test_default_timeout_fits_a_short_interval() -> None:
    """Without a timeout, a 2s check gets 1s, shorter than its interval."""
    runbook = parse_runbook(minimal("  quick: {http: 'http://127.0.0.1/', every: 2s}\n"))
    assert runbook.checks["quick"].timeout == 1.0


def test_command_must_be_an_argv_list() -> None:
    """A command given as one string is refused: commands never run through a shell."""
    text = minimal("  migrations: {command: './check.sh --prod'}\n")
    assert_error(text, "argv list", "'./check.sh", "checks.migrations.command", "never run through a shell")


@pytest.mark.parametrize(
    ("body", "message", "at", "key_path"),
    [
        (
            "  bad_status: {http: 'http://127.0.0.1/', expect_status: 700}\n",
            "HTTP status code (100-599)",
            "700",
            "checks.bad_status.expect_status",
        ),
        (
            "  bad_path: {http: 'http://127.0.0.1/', json_path: 'a..b'}\n",
            "invalid json_path",
            "'a..b'",
            "checks.bad_path.json_path",
        ),
        ("  bad_url: {http: 'ftp://127.0.0.1/'}\n", "http:// or https:// URL", "'ftp", "checks.bad_url.http"),
        (
            "  bad_metric: {scrape: 'http://127.0.0.1/m', metric: 'a-b'}\n",
            "invalid metric name",
            "'a-b'",
            "checks.bad_metric.metric",
        ),
        ("  no_metric: {scrape: 'http://127.0.0.1/m'}\n", "needs 'metric'", "{scrape", "checks.no_metric"),
        ("  bad_matcher: {alerts: ['severity']}\n", "invalid matcher", "'severity'", "checks.bad_matcher.alerts[0]"),
        (
            "  bad_reduce: {promql: up, reduce: avg}\n",
            "expected one of max | min | sum",
            "avg",
            "checks.bad_reduce.reduce",
        ),
    ],
)
def test_check_settings_are_validated(body: str, message: str, at: str, key_path: str) -> None:
    """Kind-specific check settings are validated and located."""
    assert_error(minimal(body), message, at, key_path)


def test_alerts_suppressed_policy() -> None:
    """`suppressed` on an alerts check is unknown (default) or ignore; anything else is located."""
    text = minimal(
        "  am_ok: {alerts: {severity: critical}, source: am}\n  am_ignore: {alerts: {}, source: am, suppressed: ignore}\n"
    )
    text = text.replace("sources:\n", "sources:\n  am: {kind: alertmanager, url: 'http://127.0.0.1:9093'}\n")
    runbook = parse_runbook(text)
    assert runbook.checks["am_ok"].spec_as(AlertsSpec).suppressed == "unknown"
    assert runbook.checks["am_ignore"].spec_as(AlertsSpec).suppressed == "ignore"
    bad = text.replace("suppressed: ignore", "suppressed: hide")
    assert_error(bad, "expected one of unknown | ignore", "hide", "checks.am_ignore.suppressed")
    on_promql = minimal("  q: {promql: up, suppressed: ignore}\n")
    assert_error(
        on_promql, "'suppressed' applies to alerts checks, not to a promql check", "suppressed", "checks.q.suppressed"
    )


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("{alertname: BackendDown}", (('alertname="BackendDown"',),)),
        ("['alertname=~\"Backend.*\"', 'severity!=\"info\"']", (('alertname=~"Backend.*"', 'severity!="info"'),)),
        ("[{alertname: BackendDown}, ['job=~\"db.*\"']]", (('alertname="BackendDown"',), ('job=~"db.*"',))),
    ],
)
def test_expect_silenced_forms(written: str, expected: tuple[tuple[str, ...], ...]) -> None:
    """expect_silenced takes one matcher set (mapping or list of strings) or a list of sets."""
    runbook = parse_runbook(minimal(f"steps:\n  - title: Deploy\n    expect_silenced: {written}\n"))
    assert runbook.steps[0].expect_silenced == expected


@pytest.mark.parametrize(
    ("written", "message", "at", "key_path"),
    [
        ("BackendDown", "expected alert matchers, got text", "BackendDown", "steps[0].expect_silenced"),
        ("{}", "an empty matcher set would expect every alert to be silenced", "{}", "steps[0].expect_silenced"),
        ("[{alertname: A}, {}]", "an empty matcher set", "{}]", "steps[0].expect_silenced[1]"),
        ("['alertname']", "invalid matcher", "'alertname'", "steps[0].expect_silenced[0]"),
        ("['alertname=~\"(unclosed\"']", "invalid regex in matcher", "'alertname=~", "steps[0].expect_silenced[0]"),
        ("[['a=\"1\"', {b: 2}]]", "not both", "['a=", "steps[0].expect_silenced[0]"),
    ],
)
def test_expect_silenced_errors_are_located(written: str, message: str, at: str, key_path: str) -> None:
    """A bad expect_silenced names FILE:LINE:COL and the key path."""
    text = minimal(f"steps:\n  - title: Deploy\n    expect_silenced: {written}\n")
    assert_error(text, message, at, key_path)


def test_expect_silenced_on_a_rollback_step() -> None:
    """Rollback steps may expect silences too."""
    runbook = parse_runbook(minimal("rollback:\n  - title: Roll back\n    expect_silenced: {service: api}\n"))
    assert runbook.rollback[0].expect_silenced == (('service="api"',),)


# -- references -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message", "at", "key_path", "hint"),
    [
        (
            "stop_conditions:\n  - {id: a, check: ratoi}\n",
            "unknown check 'ratoi'",
            "ratoi",
            "stop_conditions[0].check",
            "did you mean 'ratio'?",
        ),
        (
            "stop_conditions:\n  - {id: a, check: ratio, decides: ctoo}\n",
            "unknown role 'ctoo'",
            "ctoo",
            "stop_conditions[0].decides",
            "did you mean 'cto'?",
        ),
        (
            "steps:\n  - {title: A, gate: [api_health, api_helth]}\n",
            "unknown check 'api_helth'",
            "api_helth",
            "steps[0].gate[1]",
            "did you mean 'api_health'?",
        ),
        ("steps:\n  - {title: A, watch: auth}\n", "unknown stop condition 'auth'", "auth}", "steps[0].watch", ""),
        (
            "steps:\n  - {title: A, owner: sre}\n",
            "unknown role 'sre'",
            "sre",
            "steps[0].owner",
            "valid: commander, cto",
        ),
        (
            "steps:\n  - {title: A, depends_on: [b]}\n",
            "unknown step 'b' in depends_on",
            "b]",
            "steps[0].depends_on[0]",
            "",
        ),
        (
            "steps:\n  - {title: A}\nrollback:\n  - {title: B, depends_on: [a]}\n",
            "unknown step 'a' in depends_on",
            "a]",
            "rollback[0].depends_on[0]",
            "same list (rollback)",
        ),
    ],
)
def test_references_are_checked(body: str, message: str, at: str, key_path: str, hint: str) -> None:
    """Every reference to a check, stop condition, role or step must exist; typos get a suggestion."""
    assert_error(minimal(body), message, at, key_path, hint)


def test_depends_on_cycle_is_reported() -> None:
    """A depends_on cycle is an error that spells the cycle out."""
    body = "steps:\n  - {id: a, title: A, depends_on: c}\n  - {id: b, title: B, depends_on: a}\n  - {id: c, title: C, depends_on: b}\n"
    assert_error(minimal(body), "depends_on forms a cycle: a -> c -> b -> a", "a}\n  - {id: c", "steps[1].depends_on")


def test_self_dependency_is_a_cycle() -> None:
    """A step depending on itself is a cycle."""
    assert_error(
        minimal("steps:\n  - {id: a, title: A, depends_on: [a]}\n"), "cycle: a -> a", "a]", "steps[0].depends_on[0]"
    )


def test_duplicate_derived_step_ids_name_both() -> None:
    """Two steps whose titles give the same id is an error naming both."""
    body = "steps:\n  - title: Deploy backend\n  - title: Deploy Backend!\n"
    error = assert_error(
        minimal(body),
        "duplicate step id 'deploy_backend': steps[0] (line 9) has it too",
        "title: Deploy Backend!",
        "steps[1]",
        "give one of them an explicit id",
    )
    assert error.line == 10


def test_step_ids_are_unique_across_steps_and_rollback() -> None:
    """A rollback step may not reuse a step id."""
    body = "steps:\n  - {title: Deploy}\nrollback:\n  - {id: deploy, title: Undo}\n"
    assert_error(minimal(body), "duplicate step id 'deploy'", "{id: deploy", "rollback[0]")


def test_duplicate_stop_condition_ids() -> None:
    """Two stop conditions with one id is an error naming the first."""
    body = "stop_conditions:\n  - {id: a, check: ratio}\n  - {title: A, check: ratio}\n"
    assert_error(
        minimal(body), "duplicate stop condition id 'a' (also stop_conditions[0])", "{title: A", "stop_conditions[1]"
    )


def test_duplicate_item_ids() -> None:
    """Two checklist items with the same derived id is an error."""
    assert_error(
        minimal("steps:\n  - {title: A, items: [Run tests, run tests]}\n"),
        "duplicate item id 'run_tests'",
        "run tests]",
        "steps[0].items[1]",
    )


def test_severity_must_be_an_escalation_level() -> None:
    """With an escalation list, a stop condition's severity must be one of its levels."""
    body = "escalation:\n  - {severity: P0}\nstop_conditions:\n  - {id: a, check: ratio, severity: PO}\n"
    assert_error(
        minimal(body), "severity 'PO' is not in the escalation list", "PO}", "stop_conditions[0].severity", "P0"
    )


def test_escalate_to_accepts_free_text() -> None:
    """escalate_to may be a role id or free text."""
    runbook = parse_runbook(
        minimal("escalation:\n  - {severity: L1, escalate_to: Support team}\n  - {severity: P0, escalate_to: cto}\n")
    )
    assert [level.escalate_to for level in runbook.escalation] == ["Support team", "cto"]


def test_approval_needs_phrase() -> None:
    """An approval step without a phrase is an error."""
    assert_error(
        minimal("steps:\n  - {title: Approve, kind: approval}\n"),
        "needs the 'phrase'",
        "{title: Approve",
        "steps[0]",
        "APPROVE PROD DEPLOY",
    )


def test_phrase_only_on_approval() -> None:
    """A phrase on a task step is an error suggesting kind: approval."""
    assert_error(
        minimal("steps:\n  - {title: Deploy, phrase: GO}\n"),
        "approval steps only",
        "GO}",
        "steps[0].phrase",
        "kind: approval",
    )


# -- sources ------------------------------------------------------------------------------


def test_promql_defaults_to_the_only_prometheus_source() -> None:
    """Without source:, a promql check uses the only prometheus source."""
    assert parse_runbook(minimal()).checks["ratio"].spec_as(PromqlSpec).source == "prometheus"


def test_promql_without_prometheus_source() -> None:
    """A promql check needs a prometheus source to exist."""
    text = "name: x\nchecks:\n  ratio: {promql: up}\n"
    assert_error(text, "a promql check needs a prometheus source", "{promql", "checks.ratio", "add one under sources:")


def test_promql_with_several_prometheus_sources() -> None:
    """With several prometheus sources, a promql check must say which."""
    text = textwrap.dedent("""\
        name: x
        sources:
          east: {kind: prometheus, url: 'http://127.0.0.1:9090'}
          west: {kind: prometheus, url: 'http://127.0.0.1:9091'}
        checks:
          ratio: {promql: up}
        """)
    assert_error(text, "several prometheus sources (east, west)", "{promql", "checks.ratio")


def test_alerts_check_needs_an_alertmanager_source() -> None:
    """An alerts check naming a prometheus source is an error."""
    text = minimal("  critical: {alerts: {severity: critical}, source: prometheus}\n")
    assert_error(
        text,
        "source 'prometheus' is a prometheus source; an alerts check needs an alertmanager source",
        "prometheus}",
        "checks.critical.source",
    )


def test_source_kind_is_required_unless_the_id_names_it() -> None:
    """A source called neither prometheus nor alertmanager needs a kind."""
    text = "name: x\nsources:\n  metrics: {url: 'http://127.0.0.1:9090'}\n"
    assert_error(text, "missing required key 'kind'", "{url", "sources.metrics", "kind: prometheus")


# -- environment and secrets ----------------------------------------------------------


def test_missing_url_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL variable without a default that is unset is an error naming it."""
    monkeypatch.delenv("CUTOVER_TEST_UNSET", raising=False)
    text = minimal("  env_url: {http: '${CUTOVER_TEST_UNSET}/health'}\n")
    assert_error(text, "environment variable CUTOVER_TEST_UNSET is not set", "'${CUTOVER", "checks.env_url.http")


def test_header_values_are_not_expanded_at_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """${VAR} in a header value stays as written: expanded at request time, never stored."""
    token = secrets.token_hex(8)
    monkeypatch.setenv("CUTOVER_TEST_TOKEN", token)
    runbook = parse_runbook(
        minimal("  auth: {http: 'http://127.0.0.1/', headers: {Authorization: 'Bearer ${CUTOVER_TEST_TOKEN}'}}\n")
    )
    assert runbook.checks["auth"].spec_as(HttpSpec).headers == {"Authorization": "Bearer ${CUTOVER_TEST_TOKEN}"}
    assert token not in repr(runbook)


def test_malformed_header_reference() -> None:
    """A malformed ${ in a header is an error at load, not at request time."""
    text = minimal("  auth: {http: 'http://127.0.0.1/', headers: {X-Tenant: '${TENANT'}}\n")
    assert_error(text, "malformed ${...}", "'${TENANT'", "checks.auth.headers.X-Tenant")


@pytest.mark.parametrize(
    ("template", "message", "key_path"),
    [
        (
            "  c: {{http: 'http://127.0.0.1/', headers: {{Authorization: 'Bearer {secret}'}}}}\n",
            "header 'Authorization' holds an inline credential",
            "checks.c.headers.Authorization",
        ),
        (
            "  c: {{http: 'http://127.0.0.1/', headers: {{X-Api-Key: '{secret}'}}}}\n",
            "header 'X-Api-Key' holds an inline credential",
            "checks.c.headers.X-Api-Key",
        ),
        (
            "  c: {{http: 'http://127.0.0.1/', headers: {{X-Anything: 'Basic {secret}'}}}}\n",
            "header 'X-Anything' holds an inline credential",
            "checks.c.headers.X-Anything",
        ),
        (
            "  c: {{http: 'http://127.0.0.1/', headers: {{Cookie: 'session={secret}'}}}}\n",
            "header 'Cookie' holds an inline credential",
            "checks.c.headers.Cookie",
        ),
        (
            "  c: {{http: 'http://127.0.0.1/', token: '{secret}'}}\n",
            "'token' looks like an inline credential",
            "checks.c.token",
        ),
        (
            "  c: {{http: 'http://127.0.0.1/', password: '{secret}'}}\n",
            "'password' looks like an inline credential",
            "checks.c.password",
        ),
        ("  c: {{http: 'http://admin:{secret}@127.0.0.1/'}}\n", "the URL carries a password", "checks.c.http"),
        (
            "  c: {{http: 'http://127.0.0.1/health?access_token={secret}'}}\n",
            "credential in its query parameter 'access_token'",
            "checks.c.http",
        ),
        (
            "  c: {{command: [./x.sh], env: {{DB_PASSWORD: '{secret}'}}}}\n",
            "environment variable 'DB_PASSWORD' holds an inline credential",
            "checks.c.env.DB_PASSWORD",
        ),
    ],
)
def test_inline_credentials_are_refused(template: str, message: str, key_path: str) -> None:
    """An inline credential is an error pointing to token_env / ${ENV}, never echoing the secret."""
    secret = "fake" + secrets.token_hex(12)
    error = load_error(minimal(template.format(secret=secret)))
    assert message in error.message
    assert error.key_path == key_path
    assert "token_env" in error.hint and "${API_TOKEN}" in error.hint
    assert secret not in error.format()


def test_secret_from_environment_in_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL whose expansion carries a password is refused too, without showing it."""
    secret = "fake" + secrets.token_hex(12)
    monkeypatch.setenv("CUTOVER_TEST_URL", f"http://user:{secret}@127.0.0.1:9090")
    error = load_error("name: x\nsources:\n  prometheus: {url: '${CUTOVER_TEST_URL}'}\n")
    assert "password" in error.message and secret not in error.format()


def test_near_typo_of_token_env_is_a_typo_not_a_secret() -> None:
    """`token_en` suggests token_env rather than calling it a credential."""
    text = "name: x\nsources:\n  prometheus: {url: 'http://127.0.0.1:9090', token_en: PROM_TOKEN}\n"
    assert_error(text, "unknown key 'token_en'", "token_en", "sources.prometheus.token_en", "did you mean 'token_env'?")


def test_secret_source_key_is_refused() -> None:
    """A `token:` on a source says to use token_env."""
    secret = "fake" + secrets.token_hex(12)
    text = f"name: x\nsources:\n  prometheus: {{url: 'http://127.0.0.1:9090', token: {secret}}}\n"
    assert_error(text, "'token' looks like an inline credential", "token:", "sources.prometheus.token", "token_env")


def test_merge_keys_do_not_hide_explicit_values() -> None:
    """A key next to `<<: *defaults` overrides the merged value, as YAML says."""
    text = minimal().replace("checks:\n", "checks:\n  base: &d {http: 'http://127.0.0.1/', every: 30s, timeout: 5s}\n")
    text += "  other: {<<: *d, every: 1m}\n"
    check = parse_runbook(text).checks["other"]
    assert (check.kind, check.every, check.timeout) == ("http", 60.0, 5.0)


# -- the command line -------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cutover_tui", *args], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False
    )


def test_validate_typo_exits_2_with_suggestion(tmp_path: Path) -> None:
    """`validate` on a `fro: 5m` typo prints file:line:col, the key path and 'did you mean', exits 2, no traceback."""
    path = tmp_path / "typo.yaml"
    text = minimal("stop_conditions:\n  - id: auth_errors\n    check: ratio\n    fro: 5m\n")
    path.write_text(text, encoding="utf-8")
    result = run_cli("validate", str(path))
    assert result.returncode == 2
    assert f"{path}:{position(text, 'fro')[0]}:5: error: unknown key 'fro' (at stop_conditions[0].fro)" in result.stderr
    assert "did you mean 'for'?" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_validate_reports_each_file(tmp_path: Path) -> None:
    """`validate` prints OK with counts for good files, errors for bad ones, and exits 2 if any failed."""
    good = tmp_path / "good.yaml"
    good.write_text(
        minimal("stop_conditions:\n  - {id: a, check: ratio}\nsteps:\n  - {title: A}\n  - {title: B}\n"),
        encoding="utf-8",
    )
    missing = tmp_path / "missing.yaml"
    result = run_cli("validate", str(good), str(missing))
    assert result.returncode == 2
    assert f"OK  {good}  (2 steps, 2 checks, 1 stop condition)" in result.stdout  # one: no plural
    assert f"{missing}: error: cannot read the runbook" in result.stderr
    assert run_cli("validate", str(good)).returncode == 0


def test_a_watchdog_without_max_age_is_a_warning() -> None:
    """A watchdog vouches until Alertmanager lets it lapse (4 min after Prometheus died) unless max_age says sooner."""
    text = (
        "name: t\nsources: {am: {kind: alertmanager, url: 'http://127.0.0.1:9'}}\n"
        "checks:\n  criticals: {alerts: {severity: critical}, watchdog: Watchdog%s}\n"
    )
    [warning] = parse_runbook(text % "", file="r.yaml").warnings
    assert "r.yaml:4:" in warning and ": warning: check 'criticals' names a watchdog but no max_age" in warning
    assert "max_age: 1m30s" in warning
    assert parse_runbook(text % ", max_age: 1m30s", file="r.yaml").warnings == ()


def test_an_alerts_check_without_a_watchdog_is_a_warning() -> None:
    """With no alert that must always fire, "no alerts" cannot tell a quiet system from a Prometheus that died or
    stopped sending to Alertmanager: it vouches for both. ``validate`` says so, with the keys that would tell."""
    text = "name: t\nsources: {am: {kind: alertmanager, url: 'http://127.0.0.1:9'}}\nchecks:\n  criticals: {%s}\n"
    [warning] = parse_runbook(text % "alerts: {severity: critical}", file="r.yaml").warnings
    assert "r.yaml:4:" in warning and ": warning: check 'criticals' names no watchdog" in warning, warning
    assert "watchdog: Watchdog" in warning and "max_age" in warning
    quiet = parse_runbook(text % "alerts: {severity: critical}, suppressed: ignore", file="r.yaml").warnings
    assert len(quiet) == 1  # what is suppressed changes nothing about a Prometheus that stopped sending
