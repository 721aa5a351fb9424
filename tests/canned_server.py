"""A real HTTP server on 127.0.0.1 that answers with bytes a test sets."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Canned:
    """One answer of a ``CannedServer``."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"
    delay: float = 0.0  # seconds before answering
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SeenRequest:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    client_port: int  # the connection's port on the client side: the same port, the same connection


class CannedServer:
    """A real HTTP server on 127.0.0.1 answering every request with bytes set by the test.

    For wire-level cases real software will not produce on demand (a proxy's
    HTML 502, a truncated body). The newest ``respond`` whose ``where`` accepts
    the request answers it. With ``tls`` (a server-side context) it speaks HTTPS.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._answers: list[tuple[Callable[[SeenRequest], bool] | None, Canned]] = [(None, Canned(b"{}"))]
        self.requests: list[SeenRequest] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave at once, not 40 ms apart

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen = SeenRequest(parts.path, parse_qs(parts.query), headers, self.client_address[1])
                server.requests.append(seen)
                answer = next(canned for where, canned in reversed(server._answers) if where is None or where(seen))
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(answer.body)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (a delay)
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        if tls is not None:
            self._http.socket = tls.wrap_socket(self._http.socket, server_side=True)
        self._scheme = "http" if tls is None else "https"
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self._http.server_address[1]}"

    def start(self) -> CannedServer:
        """Serve in a thread of its own; returns the server."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    def respond(
        self,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str = "application/json",
        where: Callable[[SeenRequest], bool] | None = None,
        delay: float = 0.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the following requests (those ``where`` accepts, if given) with ``body``, after ``delay`` seconds.

        ``headers`` are sent besides ``Content-Type`` and ``Content-Length`` (a redirect's ``Location``).
        """
        body = body.encode() if isinstance(body, str) else body
        self._answers.append((where, Canned(body, status, content_type, delay, dict(headers or {}))))
