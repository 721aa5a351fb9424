"""A scripted service to point checks at: ``/health`` and ``/metrics`` on 127.0.0.1.

Tests and the demo use it in place of a real application. It runs in
background threads, so it works from synchronous tests and beside an asyncio
app alike::

    with Target() as target:                     # port 0: a free port is picked
        target.set(auth_error_ratio=0.04)        # change behaviour now
        target.play(Scenario([Phase(120, 120, auth_error_ratio=0.04)]))  # or over time
        httpx.get(f"{target.url}/health")

Routes:
- ``GET /health``: JSON ``{"status": "ok", "db": "ok", "ok": true, ...}`` with
  the scripted ``status`` code (``"status": "down"`` when it is 400 or more).
- ``GET /metrics``: text exposition from its own registry:
  ``http_requests_total{route, code}`` counters for ``/auth`` and ``/api`` with
  codes ``200`` and ``500`` (simulated traffic, so rates exist without load),
  gauges ``auth_error_ratio``, ``api_error_ratio``, ``error_ratio``,
  ``login_success_ratio`` and ``http_request_duration_p95_seconds``, and the
  histogram ``http_request_duration_seconds{route}`` (buckets up to ``le="1"``,
  then ``+Inf``) of the same simulated requests: half take ``latency_p95 × 0.5``,
  46% ``× 0.8``, 4% ``× 1.25``, so its 95th percentile lies in the bucket of
  ``0.8 × latency_p95``, and above the top bucket once that exceeds 1 s.

Faults, on every route: ``delay`` seconds before answering, and ``fault`` one
of ``"truncated"`` (the body cut in half), ``"html_502"`` (a proxy's HTML error
page) or ``"drop"`` (the connection closed without an answer).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from checks.clock import Clock, SystemClock

Fault = Literal["truncated", "html_502", "drop"]
FAULTS: frozenset[str] = frozenset({"truncated", "html_502", "drop"})

ROUTES = ("/auth", "/api")
#: The simulated traffic's clock tick, seconds.
TRAFFIC_TICK = 0.1
#: Idle keep-alive connections are closed after this many seconds.
IDLE_CONNECTION_TIMEOUT = 30.0
#: Finite buckets of ``http_request_duration_seconds`` (seconds); ``+Inf`` follows.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0)
#: Simulated request durations as multiples of ``latency_p95``, one per 50 requests in turn:
#: 25 at x0.5, 23 at x0.8, 2 at x1.25.
_LATENCY_CYCLE = (0.5,) * 25 + (0.8,) * 23 + (1.25,) * 2

_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How the target behaves at one moment.

    Attributes:
        status: the HTTP status of ``/health``.
        db: the ``db`` field of the ``/health`` body.
        auth_error_ratio: share of ``/auth`` requests answered 500 (0..1).
        api_error_ratio: share of ``/api`` requests answered 500 (0..1).
        latency_p95: the reported ``http_request_duration_p95_seconds``.
        delay: seconds every route waits before answering.
        fault: ``None`` or one of ``FAULTS``.
        requests_per_second: simulated requests per route per second.
    """

    status: int = 200
    db: str = "ok"
    auth_error_ratio: float = 0.002
    api_error_ratio: float = 0.0005
    latency_p95: float = 0.18
    delay: float = 0.0
    fault: Fault | None = None
    requests_per_second: float = 40.0

    def changed(self, changes: dict[str, Any]) -> Behaviour:
        """A copy with ``changes``; unknown names and bad values raise ``ValueError``."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown behaviour setting(s): {', '.join(sorted(unknown))}")
        updated = replace(self, **changes)
        for name in ("auth_error_ratio", "api_error_ratio"):
            if not 0.0 <= getattr(updated, name) <= 1.0:
                raise ValueError(f"{name} must be within 0..1")
        if updated.fault is not None and updated.fault not in FAULTS:
            raise ValueError(f"fault must be one of {sorted(FAULTS)}")
        if updated.delay < 0 or updated.requests_per_second < 0:
            raise ValueError("delay and requests_per_second must not be negative")
        return updated


class Phase:
    """Behaviour changes from ``start`` seconds into a scenario, for ``duration`` seconds (None: for good).

    Example: ``Phase(120, 120, auth_error_ratio=0.04, latency_p95=0.7)``.
    """

    def __init__(self, start: float, duration: float | None = None, **changes: Any) -> None:
        Behaviour().changed(changes)  # fail at definition, not mid-demo
        self.start = float(start)
        self.duration = duration
        self.changes = changes

    def active_at(self, elapsed: float) -> bool:
        return self.start <= elapsed and (self.duration is None or elapsed < self.start + self.duration)

    def __repr__(self) -> str:
        return f"Phase({self.start:g}, {self.duration!r}, **{self.changes!r})"


class Scenario:
    """Phases over time; where phases overlap, the later one in the list wins."""

    def __init__(self, phases: Iterable[Phase]) -> None:
        self.phases = tuple(phases)

    def behaviour_at(self, elapsed: float, base: Behaviour) -> Behaviour:
        """The behaviour ``elapsed`` seconds into the scenario, on top of ``base``."""
        behaviour = base
        for phase in self.phases:
            if phase.active_at(elapsed):
                behaviour = behaviour.changed(phase.changes)
        return behaviour


class Target:
    """The scripted service. ``start()``/``stop()`` or use it as a context manager.

    Args:
        port: 0 picks a free port.
        scenario: played from ``start()``; ``play()`` replaces it later.
        behaviour: the base behaviour (default ``Behaviour()``: healthy).
        clock: times the scenario (monotonic); default ``SystemClock()``.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        scenario: Scenario | None = None,
        behaviour: Behaviour | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._requested_port = port
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._base = behaviour or Behaviour()
        self._scenario = scenario
        self._scenario_origin = self._clock.monotonic()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self.requests_served = 0
        self._registry = CollectorRegistry()
        self._requests = Counter(
            "http_requests", "Requests served, by route and status code.", ["route", "code"], registry=self._registry
        )
        self._gauges = {
            name: Gauge(name, help_text, registry=self._registry)
            for name, help_text in (
                ("auth_error_ratio", "Share of /auth requests answered 5xx."),
                ("api_error_ratio", "Share of /api requests answered 5xx."),
                ("error_ratio", "Share of all requests answered 5xx."),
                ("login_success_ratio", "Share of logins that succeed."),
                ("http_request_duration_p95_seconds", "95th percentile request duration."),
            )
        }
        self._durations = Histogram(
            "http_request_duration_seconds",
            "Request duration, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self._registry,
        )
        for route in ROUTES:
            for code in ("200", "500"):
                self._requests.labels(route=route, code=code)  # present from the first scrape
            self._durations.labels(route=route)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Target:
        """Listen and start the traffic generator; returns ``self``."""
        if self._server is not None:
            raise RuntimeError("target already started")
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self._requested_port), self)
        self._scenario_origin = self._clock.monotonic()
        self._threads = [
            threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="target-http", daemon=True
            ),
            threading.Thread(target=self._generate_traffic, name="target-traffic", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and end the traffic generator."""
        server, self._server = self._server, None
        self._stopping.set()
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> Target:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("target not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    # -- behaviour -------------------------------------------------------------------------

    def set(self, **changes: Any) -> None:
        """Change the base behaviour now, e.g. ``set(status=503, delay=2)``.

        An active scenario phase still overrides what it names.
        """
        with self._lock:
            self._base = self._base.changed(changes)

    def play(self, scenario: Scenario | None, *, elapsed: float = 0.0) -> None:
        """Start ``scenario`` now, as if ``elapsed`` seconds of it had passed (None: stop it)."""
        with self._lock:
            self._scenario = scenario
            self._scenario_origin = self._clock.monotonic() - elapsed

    @property
    def scenario_elapsed(self) -> float:
        """Seconds since the scenario started."""
        return self._clock.monotonic() - self._scenario_origin

    @property
    def behaviour(self) -> Behaviour:
        """The behaviour in force now."""
        with self._lock:
            base, scenario = self._base, self._scenario
        if scenario is None:
            return base
        return scenario.behaviour_at(self.scenario_elapsed, base)

    # -- serving ---------------------------------------------------------------------------

    def _generate_traffic(self) -> None:
        """Count simulated requests per route, each tick, with the scripted error share."""
        carried = {route: [0.0, 0.0] for route in ROUTES}  # fractional requests and errors not yet counted
        served = {route: 0 for route in ROUTES}  # position in _LATENCY_CYCLE
        while not self._stopping.wait(TRAFFIC_TICK):
            behaviour = self.behaviour
            for route, ratio in zip(ROUTES, (behaviour.auth_error_ratio, behaviour.api_error_ratio), strict=True):
                totals = carried[route]
                totals[0] += behaviour.requests_per_second * TRAFFIC_TICK
                totals[1] += behaviour.requests_per_second * TRAFFIC_TICK * ratio
                requests, errors = int(totals[0]), min(int(totals[1]), int(totals[0]))
                totals[0] -= requests
                totals[1] -= errors
                self._requests.labels(route=route, code="500").inc(errors)
                self._requests.labels(route=route, code="200").inc(requests - errors)
                durations = self._durations.labels(route=route)
                for _ in range(requests):
                    durations.observe(behaviour.latency_p95 * _LATENCY_CYCLE[served[route] % len(_LATENCY_CYCLE)])
                    served[route] += 1

    def _metrics_page(self, behaviour: Behaviour) -> bytes:
        gauges = self._gauges
        gauges["auth_error_ratio"].set(behaviour.auth_error_ratio)
        gauges["api_error_ratio"].set(behaviour.api_error_ratio)
        gauges["error_ratio"].set((behaviour.auth_error_ratio + behaviour.api_error_ratio) / 2)
        gauges["login_success_ratio"].set(1.0 - behaviour.auth_error_ratio)
        gauges["http_request_duration_p95_seconds"].set(behaviour.latency_p95)
        return generate_latest(self._registry)

    def _health_body(self, behaviour: Behaviour) -> bytes:
        healthy = behaviour.status < 400
        return json.dumps(
            {
                "status": "ok" if healthy else "down",
                "db": behaviour.db,
                "ok": healthy,
                "auth_error_ratio": behaviour.auth_error_ratio,
                "api_error_ratio": behaviour.api_error_ratio,
                "latency_p95_seconds": behaviour.latency_p95,
            }
        ).encode()

    def _respond(self, path: str) -> tuple[int, str, bytes] | None:
        """(status, content type, body) for ``path``; None drops the connection."""
        behaviour = self.behaviour
        if behaviour.delay and self._stopping.wait(behaviour.delay):
            return None
        if behaviour.fault == "drop":
            return None
        if behaviour.fault == "html_502":
            return 502, "text/html", _HTML_502
        if path == "/health":
            status, content_type, body = behaviour.status, "application/json", self._health_body(behaviour)
        elif path == "/metrics":
            status, content_type, body = 200, CONTENT_TYPE_LATEST, self._metrics_page(behaviour)
        else:
            return 404, "text/plain", b"not found\n"
        if behaviour.fault == "truncated":
            body = body[: len(body) // 2]
        return status, content_type, body


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], target: Target) -> None:
        self.target = target
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            (self._connections.add if open_ else self._connections.discard)(connection)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-response (a probe's timeout) is routine here, not a traceback.

        The stdlib prints one to stderr, which would tear the demo's screen.
        """

    def close_connections(self) -> None:
        """End keep-alive connections so their threads finish."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real services and the probes' pool expect
    timeout = IDLE_CONNECTION_TIMEOUT
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body are written separately; without this, Nagle + delayed ACK add 40 ms per response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def do_GET(self) -> None:
        target = self.server.target
        answer = target._respond(self.path.split("?", 1)[0])
        with target._lock:
            target.requests_served += 1
        if answer is None:
            self.close_connection = True
            return
        status, content_type, body = answer
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a test's output is not the place for access logs."""
