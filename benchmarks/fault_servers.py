"""Servers the fault benchmark needs beside ``benchmarks/servers.py``, on 127.0.0.1.

- ``PrometheusFront``: an HTTP front for a real Prometheus that can be told
  to misbehave. By default it forwards every request unchanged. It can have
  the real Prometheus answer a different query (a syntax error gives its real
  400, a many-to-many match its real 422, a selector matching nothing its
  real empty vector, ``0/0`` its real NaN), ask at an earlier time (a lagging
  remote API: old samples), add ``warnings`` to the real answer, cut the real
  answer in half, or answer with a canned body where no real Prometheus
  produces the fault on demand (its 503 timeout, a proxy's plain-text 503 or
  HTML 502, a 200 with ``status: error``).
- ``AlertmanagerProcess``: ``/usr/bin/prometheus-alertmanager`` without
  clustering, with the inhibition rules of the integration tests; alerts are
  posted to it as Prometheus does, and silences created through its API.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from benchmarks.servers import STARTUP_TIMEOUT, free_port, stop_process, wait_ready

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"

ALERTMANAGER_CONFIG = """\
route:
  receiver: default
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: default
inhibit_rules:
  - source_matchers: ['alertname="ClusterMaintenance"']
    target_matchers: ['severity="critical"']
    equal: [cluster]
"""


class _QuietServer(ThreadingHTTPServer):
    """A probe that gives up and resets its connection is routine here, not a traceback on stderr."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@dataclass(frozen=True)
class Misbehaviour:
    """What a ``PrometheusFront`` does to the next requests.

    Attributes:
        query: ask the real Prometheus this query instead of the one sent.
        lag: ask it for the instant this many seconds ago (``time`` parameter).
        warnings: add these ``warnings`` to its answer (data may be partial).
        truncate: send only the first half of its answer.
        canned: answer ``(status, content type, body)`` without asking it.
    """

    query: str | None = None
    lag: float = 0.0
    warnings: tuple[str, ...] = ()
    truncate: bool = False
    canned: tuple[int, str, bytes] | None = None


class PrometheusFront:
    """A loopback front for the real Prometheus at ``upstream``; ``set(...)`` changes what it does.

    Use as a context manager; ``url`` is where it listens.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self._lock = threading.Lock()
        self._mode = Misbehaviour()
        self.requests = 0
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's naming)
                status, content_type, body = front._answer(self.path)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the probe gave up waiting
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._http = _QuietServer(("127.0.0.1", 0), Handler)
        self._client = httpx.Client(timeout=5)
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def set(self, **changes: Any) -> None:
        """Misbehave from now on (``Misbehaviour`` fields); ``set()`` alone forwards unchanged again."""
        with self._lock:
            self._mode = replace(Misbehaviour(), **changes)

    def _answer(self, path: str) -> tuple[int, str, bytes]:
        with self._lock:
            mode = self._mode
            self.requests += 1
        if mode.canned is not None:
            return mode.canned
        parts = urlsplit(path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if mode.query is not None and "query" in params:
            params["query"] = mode.query
        if mode.lag:
            params["time"] = repr(time.time() - mode.lag)
        try:
            response = self._client.get(f"{self.upstream}{parts.path}?{urlencode(params)}")
        except httpx.HTTPError as failure:
            return 502, "text/plain", f"front: {failure}".encode()
        body = response.content
        if mode.warnings:
            document = json.loads(body)
            document["warnings"] = list(mode.warnings)
            body = json.dumps(document).encode()
        if mode.truncate:
            body = body[: len(body) // 2]
        return response.status_code, response.headers.get("content-type", "application/json"), body

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)
        self._client.close()

    def __enter__(self) -> PrometheusFront:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclass
class AlertmanagerProcess:
    """A real Alertmanager on a free loopback port; ``workdir`` holds its config, data and log."""

    workdir: Path
    url: str = ""
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        (self.workdir / "alertmanager.yml").write_text(ALERTMANAGER_CONFIG)
        self.log = self.workdir / "alertmanager.log"
        with self.log.open("wb") as output:
            self._process = subprocess.Popen(
                [ALERTMANAGER, f"--config.file={self.workdir / 'alertmanager.yml'}",
                 f"--storage.path={self.workdir / 'am-data'}", f"--web.listen-address=127.0.0.1:{port}",
                 "--cluster.listen-address=", "--log.level=warn"],
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        wait_ready(self._process, "Alertmanager", self.log, lambda: httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200,
                   timeout=STARTUP_TIMEOUT, pause=0.1, errors=(httpx.HTTPError,), on_timeout=self.stop,
                   not_ready=f"Alertmanager was not ready within {STARTUP_TIMEOUT:g} s")  # fmt: skip

    @staticmethod
    def installed() -> bool:
        return os.access(ALERTMANAGER, os.X_OK)

    def post(self, *alerts: dict[str, Any]) -> None:
        """Send alerts as Prometheus does: ``{"labels": {...}, "annotations": {...}, "endsAt": ...}``."""
        httpx.post(f"{self.url}/api/v2/alerts", json=list(alerts), timeout=5).raise_for_status()

    def silence(self, matchers: dict[str, str], *, minutes: float = 30, created_by: str = "bench", comment: str = "maintenance") -> str:
        """A silence for equality ``matchers``; returns its id."""
        now = datetime.now(timezone.utc)
        response = httpx.post(
            f"{self.url}/api/v2/silences",
            json={
                "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()],
                "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=minutes)).isoformat(),
                "createdBy": created_by, "comment": comment,
            },
            timeout=5,
        )  # fmt: skip
        response.raise_for_status()
        return str(response.json()["silenceID"])

    def alerts(self, **labels: str) -> list[dict[str, Any]]:
        """The alerts it holds whose labels include ``labels``."""
        response = httpx.get(f"{self.url}/api/v2/alerts", timeout=5)
        response.raise_for_status()
        return [a for a in response.json() if all(a["labels"].get(k) == v for k, v in labels.items())]

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crashed server; returns once it has exited."""
        if self.running:
            assert self._process is not None
            self._process.kill()
            self._process.wait(timeout=10)

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)

    def __enter__(self) -> AlertmanagerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
