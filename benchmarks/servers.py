"""Servers the benchmarks measure against, each in its own process and on 127.0.0.1.

- ``TargetProcess``: the scripted ``checks.target.Target`` in a child Python
  process, so the CPU the benchmark measures is its own, not the server's.
  ``set(...)`` changes its behaviour (``Target.set``) over the child's stdin.
- ``PrometheusProcess``: the real ``/usr/bin/prometheus`` scraping a target,
  optionally with a rule file.

The integration tests start Prometheus their own way (pytest fixtures in
``tests/integration/conftest.py``, with Alertmanager and skip-or-fail
handling); this is the part a benchmark needs, without pytest.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

PROMETHEUS = "/usr/bin/prometheus"
STARTUP_TIMEOUT = 40.0

_TARGET_CODE = """\
import json, sys
from checks.target import Target
target = Target().start()
print(target.url, flush=True)
for line in sys.stdin:
    target.set(**json.loads(line))
    print("ok", flush=True)
target.stop()
"""


def free_port() -> int:
    """A port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, wait up to 10 s, then SIGKILL."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def wait_ready(
    process: subprocess.Popen[Any],
    name: str,
    log: Path,
    ready: Callable[[], bool],
    *,
    timeout: float,
    pause: float,
    errors: tuple[type[Exception], ...],
    on_timeout: Callable[[], None],
    not_ready: str,
) -> None:
    """Ask ``ready()`` every ``pause`` s (its ``errors`` mean not yet) until it says yes.

    Raises:
        RuntimeError: ``name`` exited (with its status and the tail of ``log``), or after
            ``timeout`` s, when ``on_timeout()`` has run, ``not_ready``.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}: {log.read_text()[-1000:]}")
        try:
            if ready():
                return
        except errors:
            pass
        time.sleep(pause)
    on_timeout()
    raise RuntimeError(not_ready)


class TargetProcess:
    """The scripted target in a child process. Use as a context manager; ``url`` is where it listens."""

    def __init__(self) -> None:
        # Its stderr (the stdlib server's tracebacks for connections a client reset) goes to a file, not the table.
        self._errors = tempfile.TemporaryFile("w+")
        self._process = subprocess.Popen(
            [sys.executable, "-c", _TARGET_CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors,
            text=True,
        )
        assert self._process.stdout is not None and self._process.stdin is not None
        self._stdin, self._stdout = self._process.stdin, self._process.stdout
        self.url = self._stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self._errors.seek(0)
            said = self._errors.read()[-1000:]
            self.stop()
            raise RuntimeError(f"the target did not start: {said}")

    @property
    def pid(self) -> int:
        return self._process.pid

    def set(self, **changes: Any) -> None:
        """Change the target's behaviour now (``Target.set``); returns once it has."""
        self._stdin.write(json.dumps(changes) + "\n")
        self._stdin.flush()
        if self._stdout.readline().strip() != "ok":
            raise RuntimeError(f"the target refused {changes}")

    def stop(self) -> None:
        if not self._stdin.closed:
            self._stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop_process(self._process)
        self._stdout.close()
        self._errors.close()

    def __enter__(self) -> TargetProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class PrometheusProcess:
    """``/usr/bin/prometheus`` on a free port, scraping ``target_url`` every ``interval`` seconds.

    Ready (the constructor returns) once the target has been scraped; Prometheus
    2.42 applies new scrape targets on a 5 s tick, so that takes 5 s or more.

    Args:
        workdir: an empty folder for its config and data.
        target_url: ``http://127.0.0.1:PORT``.
        interval: scrape and rule evaluation interval, seconds.
        rules: a rule file's YAML, or None.
    """

    def __init__(self, workdir: Path, target_url: str, *, interval: float = 1.0, rules: str | None = None) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        rule_files = ""
        if rules is not None:
            (workdir / "rules.yml").write_text(rules)
            rule_files = "rule_files: [rules.yml]\n"
        (workdir / "prometheus.yml").write_text(
            f"global: {{scrape_interval: {interval:g}s, evaluation_interval: {interval:g}s}}\n{rule_files}"
            f"scrape_configs:\n  - job_name: target\n"
            f"    static_configs: [{{targets: ['{target_url.removeprefix('http://')}']}}]\n"
        )
        self.log = workdir / "prometheus.log"
        with self.log.open("wb") as output:
            self._process = subprocess.Popen(
                [PROMETHEUS, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        wait_ready(self._process, "Prometheus", self.log, lambda: bool(self.query('up{job="target"} == 1')),
                   timeout=STARTUP_TIMEOUT + interval, pause=0.25, errors=(httpx.HTTPError, ValueError, KeyError),
                   on_timeout=self.stop, not_ready=f"Prometheus did not scrape the target within {STARTUP_TIMEOUT:g} s")  # fmt: skip

    @staticmethod
    def installed() -> bool:
        return os.access(PROMETHEUS, os.X_OK)

    def query(self, query: str) -> list[dict[str, Any]]:
        """An instant query's result vector."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": query}, timeout=5)
        response.raise_for_status()
        return response.json()["data"]["result"]

    def stop(self) -> None:
        stop_process(self._process)

    def __enter__(self) -> PrometheusProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
