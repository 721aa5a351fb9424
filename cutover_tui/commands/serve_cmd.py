"""``cutover-tui serve FILE [--host 127.0.0.1] [--port 8765]``: the follow view in a browser, read-only.

Each browser that opens the page gets its own ``cutover-tui follow`` view
(``textual-serve`` runs one process per viewer and relays its screen over a
WebSocket). A viewer reads the log as ``follow`` does, opened read-only
(SQLite ``mode=ro``): no key it sends can write, and the dashboard's write
keys only say the view is read-only.

Access:

- On loopback (the default) no token is asked; requests must name a loopback
  host in ``Host`` (a page elsewhere cannot reach the view by rebinding its
  name to 127.0.0.1).
- Any other ``--host`` needs a token: one is generated at start and printed
  in the URL (``/?token=...``). A request without it, or with a wrong one, is
  refused with 403. The page that opened with it keeps it in a cookie
  (HttpOnly, SameSite=Strict) for its WebSocket and assets. Serve it behind
  TLS (a reverse proxy) when the network is not trusted: the token travels
  with every request.
- A WebSocket from a page of another origin is refused.

A page whose connection stops carrying anything without closing (a network
path that hangs) covers the view's last frame after ``STALE_SECONDS``: what
it showed last is no verdict. It pings every second, so a screen that does
not change (a dialog open) is still heard. The server answers that ping
itself, so the view also sends a frame every second, drawn or not (an empty
one when nothing changed): a view that stops (its process frozen or starved
of the CPU) while the server answers is covered after ``VIEW_STALE_SECONDS``.

Viewers never slow the writer: they run at a lower CPU priority (nice), read
the log without locks (WAL readers never block the writer), and their number
is capped by ``--max-viewers`` (a viewer past the cap is told to come back).
``benchmarks/serve_viewers.py`` measures how many one core serves.
"""

from __future__ import annotations

import argparse
import hmac
import html
import ipaddress
import os
import secrets
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_MAX_VIEWERS = 40
#: How much lower than the writer a viewer runs (``nice``).
VIEWER_NICENESS = 10
TOKEN_PARAMETER = "token"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
REFUSED = "cutover-tui serve: this view needs its access token; open the URL that `cutover-tui serve` printed.\n"


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """Add ``serve``'s arguments to its sub-parser."""
    parser.add_argument("db", metavar="FILE", help="a session log (*.cutover.db), being written or archived")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST}); any other than loopback requires "
                             "the access token printed at start")  # fmt: skip
    parser.add_argument(
        "--require-token",
        action="store_true",
        help="ask for the token on loopback too (a shared host, where other users reach loopback)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)"
    )
    parser.add_argument("--max-viewers", type=int, default=DEFAULT_MAX_VIEWERS, metavar="N",
                        help=f"browsers viewing at once (default {DEFAULT_MAX_VIEWERS}; each is a process of about 60 MB)")  # fmt: skip


def run(command: str, args: argparse.Namespace) -> int:
    from cutover_tui.commands.app_cmds import runbook_from_log
    from cutover_tui.store import SessionLogError

    db = Path(args.db).absolute()
    try:
        runbook = runbook_from_log(db)  # a bad file is one line now, not in every viewer
    except SessionLogError as error:
        print(f"cutover-tui serve: {error}", file=sys.stderr)
        return 2
    if args.max_viewers < 1:
        print("cutover-tui serve: --max-viewers must be at least 1", file=sys.stderr)
        return 2
    token = None if is_loopback(args.host) and not args.require_token else secrets.token_urlsafe(24)
    server = ViewServer(viewer_command(db), host=args.host, port=args.port, token=token,
                        title=f"{runbook.name} — cutover-tui (read-only)", max_viewers=args.max_viewers)  # fmt: skip
    try:
        os.nice(VIEWER_NICENESS)  # the relay and every viewer it starts yield to the writer
    except OSError:
        pass
    server.run()
    return 0


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip("[]").lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def viewer_command(db: Path) -> str:
    """The shell command textual-serve runs per viewer: this module's ``view`` entry point, exec'd."""
    return f"exec {shlex.quote(sys.executable)} -m cutover_tui.commands.serve_cmd {shlex.quote(str(db))}"


def view(db: str) -> None:
    """One viewer: the follow dashboard over the log, read-only; it dies with the server."""
    from cutover_tui.app import make_app
    from cutover_tui.commands.app_cmds import runbook_from_log
    from cutover_tui.live import FollowBackend

    _die_with_parent()
    make_app(FollowBackend(db, runbook_from_log(Path(db)))).run()


def _die_with_parent() -> None:
    """A viewer only reads: when its server goes, however it goes, the kernel ends it (Linux)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the server went before the line above ran
        os._exit(0)


#: Seconds without a message (a frame, or the answer to the ping the page sends every second) before the page covers
#: the view's last frame.
STALE_SECONDS = 5
#: Seconds without a frame from the view, while the server answers, before the page covers it. Longer than
#: ``STALE_SECONDS``: a view runs at ``VIEWER_NICENESS`` and, on a machine busy with other work, draws late before
#: it stops; a frozen one is covered all the same.
VIEW_STALE_SECONDS = 15


def _index_html(title: str, websocket_url: str, static_url: str, font_size: int) -> str:
    """The page: textual-serve's terminal, without its web fonts (the view works on a closed network)."""
    return f"""<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>{html.escape(title)}</title>
    <link rel="stylesheet" href="{html.escape(static_url)}css/xterm.css">
    <script>
      // A connection that stops carrying anything without closing (a network path that hangs, a proxy holding it,
      // a server that froze) would leave the view's last frame, verdict and all, on screen. The page pings the
      // server every second (it answers "pong", whatever the screen shows), and the view sends a frame every
      // second, an empty one when nothing changed: after {STALE_SECONDS} s without a message, or {VIEW_STALE_SECONDS} s
      // without a frame while the server answers (the view's process frozen or starved), the page covers the view
      // and says for how long, and from whom, it has heard nothing.
      (function () {{
        const Native = window.WebSocket;
        let heard = 0, drawn = 0;
        window.WebSocket = class extends Native {{
          constructor(...args) {{
            super(...args);
            this.addEventListener("open", () => {{ heard = drawn = Date.now(); }});
            this.addEventListener("message", (event) => {{
              heard = Date.now();
              if (typeof event.data !== "string") drawn = heard;  // a frame; the server's answers are text
            }});
            const pinging = setInterval(() => {{
              if (this.readyState === Native.OPEN) this.send(JSON.stringify(["ping", String(Date.now())]));
            }}, 1000);
            this.addEventListener("close", () => clearInterval(pinging));
          }}
        }};
        setInterval(() => {{
          const since = (time) => time ? (Date.now() - time) / 1000 : 0;
          const quiet = since(heard), still = since(drawn);
          const stale = quiet > {STALE_SECONDS} || still > {VIEW_STALE_SECONDS};
          document.body.classList.toggle("-stale", stale);
          if (stale) {{
            document.querySelector(".stale b").textContent = Math.floor(Math.max(quiet, still)) + "s";
            // the server answers a ping each second: 2 s without an answer is the server (or the network), not the view
            document.querySelector(".stale i").textContent = quiet > 2
              ? "the server: the network or the server stopped answering"
              : "the view: its process stopped drawing (frozen, or starved of the CPU)";
          }}
        }}, 500);
      }})();
    </script>
    <script src="{html.escape(static_url)}js/textual.js"></script>
    <style>
      html, body {{ margin: 0; height: 100%; background: #0c181f; color: #e0e0e0; font-family: monospace; }}
      #terminal {{ position: absolute; inset: 0; }}
      .closed {{ display: none; position: absolute; inset: 0; align-items: center; justify-content: center; z-index: 10;
                 background: rgba(12, 24, 31, 0.9); font-size: 18px; }}
      body.-closed .closed {{ display: flex; }}
      .stale {{ display: none; position: absolute; inset: 0; align-items: center; justify-content: center; z-index: 9;
                background: rgba(12, 24, 31, 0.93); font-size: 18px; color: #fc6; text-align: center; }}
      body.-stale:not(.-closed) .stale {{ display: flex; }}
      .stale i {{ font-style: normal; }}
    </style>
  </head>
  <body>
    <div class="closed"><p>The view closed. <a href="" style="color:#8cf">Reload</a> to see the session again.</p></div>
    <div class="stale"><p>NO UPDATE for <b></b> from <i></i>.<br>What
      it showed last is not a verdict. It comes back by itself, or <a href="" style="color:#8cf">reload</a>.</p></div>
    <div id="terminal" class="textual-terminal" data-session-websocket-url="{html.escape(websocket_url)}"
         data-font-size="{font_size}"></div>
  </body>
</html>
"""


class ViewServer:
    """textual-serve's relay behind an access check, a viewer cap and our own page."""

    def __init__(self, command: str, *, host: str, port: int, token: str | None, title: str, max_viewers: int) -> None:
        from textual_serve.server import Server

        self.relay = Server(command, host=host, port=port, title=title)
        self.host, self.port, self.token, self.title = host, port, token, title
        self.max_viewers = max_viewers
        self.viewers = 0
        self.cookie = f"cutover_view_{secrets.token_hex(4)}"

    # ------------------------------------------------------------ access

    def allowed(self, request: Any) -> bool:
        """The token (query or cookie) when one is required; else a loopback Host header."""
        if self.token is None:
            return _host_name(request.host) in LOOPBACK_NAMES or is_loopback(_host_name(request.host))
        offered = request.query.get(TOKEN_PARAMETER) or request.cookies.get(self.cookie) or ""
        return hmac.compare_digest(offered.encode(), self.token.encode())

    def make_app(self) -> Any:
        from aiohttp import web

        @web.middleware
        async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
            if not self.allowed(request):
                return web.Response(status=403, text=REFUSED)
            response = await handler(request)
            if self.token is not None and request.query.get(TOKEN_PARAMETER) and not response.prepared:
                response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")
            return response

        app = web.Application(middlewares=[guard])
        app.add_routes([
            web.get("/", self.index),
            web.get("/ws", self.websocket),
            web.static("/static", self.relay.statics_path, name="static"),
        ])  # fmt: skip
        return app

    async def index(self, request: Any) -> Any:
        from aiohttp import web

        # Behind a TLS proxy the page is https: its WebSocket must be wss, or the browser blocks it.
        secure = request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
        scheme = "wss" if secure else "ws"
        font_size = _int(request.query.get("fontsize"), 16)
        page = _index_html(self.title, f"{scheme}://{request.host}/ws", "/static/", font_size)
        return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def websocket(self, request: Any) -> Any:
        from aiohttp import web

        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1].rstrip("/") != request.host:
            return web.Response(status=403, text="cutover-tui serve: a page of another origin cannot open this view.\n")
        if self.viewers >= self.max_viewers:
            return web.Response(
                status=503, text=f"cutover-tui serve: {self.max_viewers} viewers already; try again later.\n"
            )
        self.viewers += 1
        try:
            return await self.relay.handle_websocket(request)
        finally:
            self.viewers -= 1

    # ------------------------------------------------------------ running

    def url(self, port: int) -> str:
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        query = f"?{TOKEN_PARAMETER}={self.token}" if self.token else ""
        return f"http://{host}:{port}/{query}"

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM; print the URL once listening."""
        import asyncio

        from aiohttp import web

        async def main() -> None:
            runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=True)
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            port = runner.addresses[0][1] if runner.addresses else self.port
            print(f"Serving the read-only view of the session on {self.url(port)}", flush=True)
            if self.token:
                print("  The URL carries the access token: share it only with the bridge. Requests without it are refused.",
                      flush=True)  # fmt: skip
            print("  Ctrl+C stops it.", flush=True)
            try:
                await asyncio.Event().wait()
            finally:
                await runner.cleanup()

        try:
            asyncio.run(main())
        except (KeyboardInterrupt, web.GracefulExit):
            pass


def _host_name(host: str) -> str:
    """``Host`` header without its port: ``127.0.0.1:8765`` -> ``127.0.0.1``, ``[::1]:8765`` -> ``::1``."""
    if host.startswith("["):
        return host[1 : host.find("]")].lower()
    return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()


def _int(text: str | None, default: int) -> int:
    try:
        return max(8, min(48, int(text or default)))
    except ValueError:
        return default


if __name__ == "__main__":  # a viewer, started by the server for one browser
    view(sys.argv[1])
