"""A real HTTP server on 127.0.0.1 that answers with bytes a test sets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Canned:
    """One answer of a ``CannedServer``."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"
    delay: float = 0.0  # seconds before answering


@dataclass(frozen=True)
class SeenRequest:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class CannedServer:
    """A real HTTP server on 127.0.0.1 answering every request with bytes set by the test.

    For wire-level cases real software will not produce on demand (a proxy's
    HTML 502, a truncated body). The newest ``respond`` whose ``where`` accepts
    the request answers it.
    """

    def __init__(self) -> None:
        self._answers: list[tuple[Callable[[SeenRequest], bool] | None, Canned]] = [(None, Canned(b"{}"))]
        self.requests: list[SeenRequest] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave at once, not 40 ms apart

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                seen = SeenRequest(parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()})
                server.requests.append(seen)
                answer = next(canned for where, canned in reversed(server._answers) if where is None or where(seen))
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (a delay)
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

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
    ) -> None:
        """Answer the following requests (those ``where`` accepts, if given) with ``body``, after ``delay`` seconds."""
        body = body.encode() if isinstance(body, str) else body
        self._answers.append((where, Canned(body, status, content_type, delay)))
