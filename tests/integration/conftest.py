"""Real Prometheus and Alertmanager on 127.0.0.1, scraping the scripted ``target``.

Fixtures (function-scoped, each test gets fresh processes):

- ``target``: the scripted service (from ``tests/conftest.py``).
- ``alertmanager``: ``.url``, ``.post_alerts(...)``, ``.silence(...)``, ``.stop()``.
  Its inhibition rules: ``UpstreamDown`` inhibits warnings of the same
  ``service``; a ``ClusterMaintenance`` alert inhibits criticals of the same
  ``cluster``.
- ``prometheus``: scrapes ``target`` every second, evaluates ``prometheus_rules``
  every second and, when the test also uses ``alertmanager``, sends alerts
  there. ``.url``, ``.target``, ``.query(q)``, ``.wait_for(q, predicate)``,
  ``.stop()``. Ready once the target has been scraped (Prometheus 2.42 applies
  new scrape targets on a 5 s tick, so that takes about 6 s). When the test
  also uses ``second_target``, it scrapes that one too, in the same job.
- ``shared_prometheus``: one Prometheus and target per test process (xdist
  worker), for tests that only read; they must not change its target or stop
  it. Its tests run on one worker (an ``xdist_group``), so it starts once.
- ``prometheus_rules``: the rule file's YAML; override it in a test module for
  other rules.

Missing binaries skip the tests, naming the Debian package (with ``CI=true``
they fail instead, so CI never passes by skipping). Every server listens on a
free loopback port and keeps its files under the test's ``tmp_path``, so tests
run in parallel (``pytest -n``); a port taken between choosing and binding it
is chosen again.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from checks.target import Target
from cutover_tui.commands.demo_stack import _free_port as free_port  # the demo's own, as it chooses its ports
from cutover_tui.commands.demo_stack import _Server as DemoServer

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
STARTUP_TIMEOUT = 30.0

DEFAULT_RULES = """\
groups:
  - name: cutover
    interval: 1s
    rules:
      - alert: Watchdog
        expr: vector(1)
        labels: {severity: none}
        annotations: {summary: The alerting pipeline works}
      - alert: AuthErrorsHigh
        expr: auth_error_ratio > 0.01
        labels: {severity: critical, service: auth}
        annotations: {summary: Auth errors above 1%}
"""

ALERTMANAGER_CONFIG = """\
route:
  receiver: default
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: default
inhibit_rules:
  - source_matchers: ['alertname="UpstreamDown"']
    target_matchers: ['severity="warning"']
    equal: [service]
  - source_matchers: ['alertname="ClusterMaintenance"']
    target_matchers: ['severity="critical"']
    equal: [cluster]
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything here runs real servers: mark it integration and slow.

    The tests on ``shared_prometheus`` (or ``shared_victoria_metrics``) go to one xdist worker, so that
    one server serves them all.
    """
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.slow)
            for shared in ("shared_prometheus", "shared_victoria_metrics"):
                if shared in getattr(item, "fixturenames", ()):
                    item.add_marker(pytest.mark.xdist_group(shared))


def require_binary(path: str, package: str) -> None:
    """Skip (or, under CI, fail) when ``path`` is not installed."""
    if os.access(path, os.X_OK):
        return
    reason = f"needs Debian package '{package}' ({path})"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll ``condition`` until it returns something truthy, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


class ServerProcess:
    """A real server binary on a free loopback port, its output in ``log``.

    ``argv`` names the port as ``127.0.0.1:PORT``. When another process took the port between
    ``free_port()`` and the server binding it (tests run in parallel), the server is started
    again on a new free port: every ``127.0.0.1:PORT`` in ``argv`` is rewritten.
    """

    ATTEMPTS = 3

    def __init__(self, argv: list[str], port: int, log: Path) -> None:
        self.log = log
        address = f"127.0.0.1:{port}"
        for attempt in range(1, self.ATTEMPTS + 1):
            self.url = f"http://127.0.0.1:{port}"
            command = [arg.replace(address, f"127.0.0.1:{port}") for arg in argv]
            with log.open("wb") as output:
                self._process = subprocess.Popen(
                    command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
                )
            try:
                wait_until(self._ready, timeout=STARTUP_TIMEOUT, what=f"{argv[0]} to be ready")
                return
            except AssertionError:
                self.stop()
                output_text = log.read_text(errors="replace")
                if "address already in use" in output_text and attempt < self.ATTEMPTS:
                    port = free_port()
                    continue
                raise AssertionError(f"{argv[0]} did not become ready:\n{output_text[-2000:]}") from None

    def _ready(self) -> bool:
        if self._process.poll() is not None:
            raise AssertionError(f"exited with {self._process.returncode}:\n{self.log.read_text()[-2000:]}")
        return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        """Terminate, wait, kill if it will not go: as the demo stops its own servers."""
        DemoServer(self.log.stem, self.url, self._process, self.log).stop()


class PrometheusServer(ServerProcess):
    """``/usr/bin/prometheus`` scraping one target every second (and ``also``, in the same job)."""

    def __init__(
        self, workdir: Path, *, target: Target, rules: str, alertmanager_url: str | None, also: tuple[Target, ...] = ()
    ) -> None:
        workdir.mkdir()
        self.target = target
        port = free_port()
        (workdir / "rules.yml").write_text(rules)
        targets = ", ".join(f"'127.0.0.1:{each.port}'" for each in (target, *also))
        alerting = ""
        if alertmanager_url:
            alerting = f"alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['{alertmanager_url.removeprefix('http://')}']}}]\n"
        (workdir / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: [rules.yml]\n"
            f"{alerting}"
            "scrape_configs:\n"
            f"  - job_name: target\n    static_configs: [{{targets: [{targets}]}}]\n"
        )
        super().__init__(
            [
                PROMETHEUS,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--rules.alert.resend-delay=1s",
                "--log.level=warn",
            ],
            port,
            workdir / "prometheus.log",
        )
        try:
            self.wait_for('count(up{job="target"} == 1)', lambda result: result[0]["value"][1] == str(1 + len(also)))
        except AssertionError:
            self.stop()
            raise

    def query(self, query: str) -> dict[str, Any]:
        """The ``data`` of an instant query (raises on an API error)."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": query}, timeout=5)
        response.raise_for_status()
        return response.json()["data"]

    def wait_for(
        self, query: str, predicate: Callable[[list[dict[str, Any]]], bool] = bool, *, timeout: float = 20
    ) -> list[dict[str, Any]]:
        """Wait until the query's result is not empty and ``predicate(result)`` holds; returns the result."""
        return wait_until(
            lambda: (lambda result: result if result and predicate(result) else None)(self.query(query)["result"]),
            timeout=timeout,
            what=f"Prometheus query {query!r}",
        )


class AlertmanagerServer(ServerProcess):
    """``/usr/bin/prometheus-alertmanager`` without clustering."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir()
        port = free_port()
        (workdir / "alertmanager.yml").write_text(ALERTMANAGER_CONFIG)
        super().__init__(
            [
                ALERTMANAGER,
                f"--config.file={workdir / 'alertmanager.yml'}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            port,
            workdir / "alertmanager.log",
        )

    def post_alerts(self, *alerts: dict[str, Any]) -> None:
        """Send alerts as Prometheus does: ``[{"labels": {...}, "annotations": {...}}]``."""
        httpx.post(f"{self.url}/api/v2/alerts", json=list(alerts), timeout=5).raise_for_status()

    def silence(
        self, matchers: dict[str, str], *, minutes: float = 30, created_by: str = "tests", comment: str = "maintenance"
    ) -> str:
        """Create a silence for equality ``matchers``; returns its id."""
        now = datetime.now(timezone.utc)
        response = httpx.post(
            f"{self.url}/api/v2/silences",
            json={
                "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()],
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(minutes=minutes)).isoformat(),
                "createdBy": created_by,
                "comment": comment,
            },
            timeout=5,
        )
        response.raise_for_status()
        return str(response.json()["silenceID"])

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert Alertmanager holds, as the API returns them."""
        response = httpx.get(f"{self.url}/api/v2/alerts", timeout=5)
        response.raise_for_status()
        return response.json()

    def wait_for_alert(self, name: str, state: str = "active", *, timeout: float = 20) -> None:
        """Wait until alert ``name`` is held in ``state`` (active, suppressed, unprocessed)."""
        wait_until(
            lambda: any(a["labels"].get("alertname") == name and a["status"]["state"] == state for a in self.alerts()),
            timeout=timeout,
            what=f"alert {name} {state} in Alertmanager",
        )


@pytest.fixture
def prometheus_rules() -> str:
    """The rule file Prometheus loads: a Watchdog and AuthErrorsHigh (auth_error_ratio > 1%)."""
    return DEFAULT_RULES


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[AlertmanagerServer]:
    """A real Alertmanager on a free loopback port."""
    require_binary(ALERTMANAGER, "prometheus-alertmanager")
    server = AlertmanagerServer(tmp_path / "alertmanager")
    yield server
    server.stop()


@pytest.fixture
def prometheus(
    request: pytest.FixtureRequest, tmp_path: Path, target: Target, prometheus_rules: str
) -> Iterator[PrometheusServer]:
    """A real Prometheus scraping ``target``; alerting to ``alertmanager`` when the test uses it."""
    require_binary(PROMETHEUS, "prometheus")
    alertmanager_url = None
    if "alertmanager" in request.fixturenames:
        alertmanager_url = request.getfixturevalue("alertmanager").url
    also = (request.getfixturevalue("second_target"),) if "second_target" in request.fixturenames else ()
    server = PrometheusServer(
        tmp_path / "prometheus", target=target, rules=prometheus_rules, alertmanager_url=alertmanager_url, also=also
    )
    yield server
    server.stop()


@pytest.fixture
def second_target() -> Iterator[Target]:
    """Another healthy ``Target`` on 127.0.0.1, which ``prometheus`` scrapes in the same job as ``target``."""
    with Target() as running:
        yield running


@pytest.fixture(scope="session")
def shared_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """A Prometheus and its own target shared by the read-only tests of one test process."""
    require_binary(PROMETHEUS, "prometheus")
    with Target() as target:
        server = PrometheusServer(
            tmp_path_factory.mktemp("shared") / "prometheus", target=target, rules=DEFAULT_RULES, alertmanager_url=None
        )
        yield server
        server.stop()


# -- VictoriaMetrics (single node), another engine behind the same query API ---------------------

VICTORIA_METRICS = "/usr/bin/victoria-metrics"


class VictoriaMetricsServer(ServerProcess):
    """``/usr/bin/victoria-metrics`` scraping one target every second (``-promscrape.config``).

    ``.url`` serves the Prometheus query API; ``.query(q)`` and ``.wait_for(q, predicate)``
    ask with ``nocache=1`` (evaluated now, as the probe asks). Ready once the target's
    first samples can be queried: a new series becomes searchable only when VictoriaMetrics
    flushes its in-memory parts (about 10 s after start here), so the wait asks it to flush
    (``/internal/force_flush``) before each look. After that the tests see its own timing.
    """

    def __init__(self, workdir: Path, *, target: Target) -> None:
        workdir.mkdir()
        self.target = target
        port = free_port()
        (workdir / "scrape.yml").write_text(
            "global: {scrape_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: target\n    static_configs: [{{targets: ['127.0.0.1:{target.port}']}}]\n"
        )
        super().__init__(
            [
                VICTORIA_METRICS,
                f"-httpListenAddr=127.0.0.1:{port}",
                f"-storageDataPath={workdir / 'data'}",
                f"-promscrape.config={workdir / 'scrape.yml'}",
                "-loggerLevel=WARN",
            ],
            port,
            workdir / "victoria-metrics.log",
        )
        try:
            wait_until(self._first_samples, timeout=20, what="VictoriaMetrics' first samples of the target")
        except AssertionError:
            self.stop()
            raise

    def _ready(self) -> bool:
        if self._process.poll() is not None:
            raise AssertionError(f"exited with {self._process.returncode}:\n{self.log.read_text()[-2000:]}")
        return httpx.get(f"{self.url}/health", timeout=1).status_code == 200

    def _first_samples(self) -> list[dict[str, Any]]:
        httpx.get(f"{self.url}/internal/force_flush", timeout=5).raise_for_status()
        return self.query('up{job="target"} == 1')["result"]

    def query(self, query: str) -> dict[str, Any]:
        """The ``data`` of an instant query evaluated now (raises on an API error)."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": query, "nocache": "1"}, timeout=5)
        response.raise_for_status()
        return response.json()["data"]

    wait_for = PrometheusServer.wait_for


@pytest.fixture
def victoria_metrics(tmp_path: Path, target: Target) -> Iterator[VictoriaMetricsServer]:
    """A real single-node VictoriaMetrics scraping ``target``."""
    require_binary(VICTORIA_METRICS, "victoria-metrics")
    server = VictoriaMetricsServer(tmp_path / "victoria-metrics", target=target)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shared_victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetricsServer]:
    """A VictoriaMetrics and its own target shared by one module's read-only tests."""
    require_binary(VICTORIA_METRICS, "victoria-metrics")
    with Target() as target:
        server = VictoriaMetricsServer(tmp_path_factory.mktemp("shared-vm") / "victoria-metrics", target=target)
        yield server
        server.stop()
