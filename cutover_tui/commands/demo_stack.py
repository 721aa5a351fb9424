"""``cutover-tui demo --with-prometheus``: the demo on a real Prometheus and Alertmanager.

Both Debian binaries are started in a temporary folder on free loopback ports.
Prometheus scrapes the demo's simulated service every second and evaluates a
rule with the demo's rollback stop condition (``auth_error_ratio > 1% for 1m``),
sending its alert to Alertmanager. The demo's runbook is run with its scrape
checks replaced by PromQL queries against that Prometheus and an ``alerts``
check on that Alertmanager, so the auth-error spike is seen twice: as our stop
condition firing, and as ``AuthErrorsHigh`` reaching Alertmanager.

The servers stop when the demo ends, whatever ends it: a quit or SIGTERM stops
them here; should the demo die at once (SIGHUP, a kill), the kernel sends them
SIGTERM as their parent goes (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"
#: Debian package of each binary.
PACKAGES = {PROMETHEUS: "prometheus", ALERTMANAGER: "prometheus-alertmanager"}
STARTUP_TIMEOUT = 30.0
WORKDIR_PREFIX = "cutover-demo-stack-"
#: Holds the pid of the demo that made the folder: a folder whose demo is gone is removed by the next one.
OWNER_FILE = "owner.pid"
#: Prometheus applies new scrape targets on a 5 s tick: the first scrape can take that long.
FIRST_SCRAPE_TIMEOUT = 30.0

#: The demo's rollback condition as a Prometheus rule, and the Watchdog proving the alert path works.
RULES = """\
groups:
  - name: cutover-demo
    interval: 1s
    rules:
      - alert: Watchdog
        expr: vector(1)
        labels: {severity: none}
        annotations: {summary: The alerting pipeline works}
      - alert: AuthErrorsHigh
        expr: auth_error_ratio{job="demo"} > 0.01
        for: 1m
        keep_firing_for: 20s
        labels: {severity: critical, service: auth}
        annotations: {summary: "Auth errors above 1% for 1m: roll back (the CTO decides)"}
"""

ALERTMANAGER_CONFIG = """\
route:
  receiver: bridge
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: bridge
"""

#: The demo's checks on Prometheus and Alertmanager; they replace ``checks:`` in ``demo.yaml``.
CHECKS = """\
sources:
  prometheus: {kind: prometheus, url: "${DEMO_PROMETHEUS_URL}"}
  alertmanager: {kind: alertmanager, url: "${DEMO_ALERTMANAGER_URL}"}
checks:
  api_health:
    title: API /health
    http: "${DEMO_URL}/health"
    expect_status: 200
    max_latency: 500ms
    every: 2s
    timeout: 1500ms
  auth_traffic:
    title: Auth requests served (PromQL)
    promql: sum(rate(http_requests_total{job="demo",route="/auth",code="200"}[15s]))
    pass_when: "> 0"
    unit: req/s
    every: 3s
    timeout: 2s
  auth_error_ratio:
    title: Auth error ratio (PromQL)
    promql: auth_error_ratio{job="demo"}
    pass_when: "< 1%"
    unit: "%"
    every: 2s
    timeout: 1500ms
  api_error_ratio:
    title: API error ratio (PromQL)
    promql: api_error_ratio{job="demo"}
    pass_when: "< 0.1%"
    unit: "%"
    every: 3s
    timeout: 2s
  latency_p95:
    title: Response time p95 (PromQL histogram_quantile)
    promql: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="demo"}[15s])))
    pass_when: "< 500ms"
    unit: s
    every: 3s
    timeout: 2s
  auth_alerts:
    title: Prometheus alerts on auth (Alertmanager)
    alerts: {service: auth}
    watchdog: Watchdog
    max_age: 10s  # Prometheus resends the Watchdog every second: older, Prometheus is gone
    every: 2s
    timeout: 1500ms
"""

#: The stop condition on the Prometheus alert, added to the demo's own.
ALERT_CONDITION = """\
  - id: auth_alert
    title: Prometheus alert AuthErrorsHigh (Alertmanager)
    check: auth_alerts
    action: warn
    decides: cto
    severity: P0
"""


class StackMissing(Exception):
    """Prometheus or Alertmanager is not installed; the message says which packages to install."""


def missing_binaries() -> list[str]:
    """The Debian packages to install for ``--with-prometheus`` (empty when both binaries are on PATH)."""
    return [PACKAGES[name] for name in (PROMETHEUS, ALERTMANAGER) if shutil.which(name) is None]


def prometheus_runbook_text(demo_text: str) -> str:
    """``demo.yaml`` with its scrape checks replaced by PromQL and an ``alerts`` check, and a condition on the alert."""
    checks = re.search(r"^checks:\n.*?(?=^stop_conditions:\n)", demo_text, flags=re.M | re.S)
    conditions = re.search(r"^stop_conditions:\n.*?(?=^steps:\n)", demo_text, flags=re.M | re.S)
    if checks is None or conditions is None:
        raise ValueError("demo.yaml has no checks: or stop_conditions: section")
    text = demo_text[: checks.start()] + CHECKS + demo_text[checks.end() : conditions.end()] + ALERT_CONDITION
    text += demo_text[conditions.end() :]
    text = text.replace(
        "name: Demo go-live — simulated service", "name: Demo go-live — simulated service on Prometheus", 1
    )
    return text.replace(
        "    watch: [auth_errors, api_errors, slow_p95]\n",
        "    watch: [auth_errors, api_errors, slow_p95, auth_alert]\n",
        1,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """In the child: the kernel sends SIGTERM when the demo's process goes, however it goes (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class _Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


class PrometheusStack:
    """Prometheus scraping ``target_url`` and alerting to Alertmanager, in a temporary folder.

    Use as a context manager; ``start()`` raises ``StackMissing`` when a binary
    is not installed and ``RuntimeError`` (with the server's own last words)
    when one does not come up.
    """

    def __init__(self, target_url: str) -> None:
        self.target = target_url.removeprefix("http://").rstrip("/")
        self.workdir: Path | None = None
        self.prometheus: _Server | None = None
        self.alertmanager: _Server | None = None

    def __enter__(self) -> PrometheusStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def prometheus_url(self) -> str:
        assert self.prometheus is not None
        return self.prometheus.url

    @property
    def alertmanager_url(self) -> str:
        assert self.alertmanager is not None
        return self.alertmanager.url

    def start(self) -> None:
        missing = missing_binaries()
        if missing:
            raise StackMissing(
                "needs Prometheus and Alertmanager: install the Debian packages "
                + " and ".join(missing)
                + f" (apt-get install {' '.join(missing)}), or run the demo without --with-prometheus"
            )
        _remove_orphans()
        self.workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
        (self.workdir / OWNER_FILE).write_text(str(os.getpid()))
        am_port = _free_port()
        (self.workdir / "alertmanager.yml").write_text(ALERTMANAGER_CONFIG)
        self.alertmanager = self._spawn(
            "alertmanager",
            [
                shutil.which(ALERTMANAGER) or ALERTMANAGER,
                f"--config.file={self.workdir / 'alertmanager.yml'}",
                f"--storage.path={self.workdir / 'alertmanager-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            am_port,
        )
        prom_port = _free_port()
        (self.workdir / "rules.yml").write_text(RULES)
        (self.workdir / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: [rules.yml]\n"
            f"alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]\n"
            "scrape_configs:\n"
            f"  - job_name: demo\n    static_configs: [{{targets: ['{self.target}']}}]\n"
        )
        self.prometheus = self._spawn(
            "prometheus",
            [
                shutil.which(PROMETHEUS) or PROMETHEUS,
                f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--rules.alert.resend-delay=1s",
                "--log.level=warn",
            ],
            prom_port,
        )
        self._wait(self.prometheus, self._scraped, FIRST_SCRAPE_TIMEOUT, "its first scrape of the demo service")

    def stop(self) -> None:
        """Stop both servers and remove the temporary folder (safe to call twice)."""
        for server in (self.prometheus, self.alertmanager):
            if server is not None:
                server.stop()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def _spawn(self, name: str, argv: list[str], port: int) -> _Server:
        assert self.workdir is not None
        log = self.workdir / f"{name}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                argv, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=_die_with_parent,
            )  # fmt: skip
        server = _Server(name, f"http://127.0.0.1:{port}", process, log)
        self._wait(server, lambda: httpx.get(f"{server.url}/-/ready", timeout=1).status_code == 200,
                   STARTUP_TIMEOUT, "ready")  # fmt: skip
        return server

    def _scraped(self) -> bool:
        assert self.prometheus is not None
        response = httpx.get(f"{self.prometheus.url}/api/v1/query", params={"query": 'up{job="demo"} == 1'}, timeout=2)
        return bool(response.json()["data"]["result"])

    @staticmethod
    def _wait(server: _Server, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited with {server.process.returncode}: {_tail(server.log)}")
            try:
                if ready():
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.name} not {what} after {timeout:g}s: {_tail(server.log)}")
            time.sleep(0.2)


def _remove_orphans() -> None:
    """Remove the folders of demos that died without cleaning up (a hung-up terminal exits at once)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*"):
        try:
            pid = int((folder / OWNER_FILE).read_text())
            os.kill(pid, 0)
            if _zombie(pid):  # dead, its parent has not collected it yet
                raise ProcessLookupError
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):
            continue  # not ours to judge (another user's, or being made now)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].startswith("Z")


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace").strip()[-500:] or "(no output)"
    except OSError:
        return "(no output)"


def environment(stack: PrometheusStack) -> dict[str, str]:
    """The variables the Prometheus demo runbook reads."""
    return {"DEMO_PROMETHEUS_URL": stack.prometheus_url, "DEMO_ALERTMANAGER_URL": stack.alertmanager_url}


__all__ = ["PrometheusStack", "StackMissing", "environment", "missing_binaries", "prometheus_runbook_text"]
